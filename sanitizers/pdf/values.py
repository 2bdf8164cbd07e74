"""Reading typed values out of untrusted PDF objects.

pikepdf hands back Python ints for PDF integers and pikepdf objects for the rest; any
value may have the wrong type in a hostile file, so every read is checked.
"""

from __future__ import annotations

import pikepdf


def name_of(value: object) -> str | None:
    """The name ``value`` holds ("/GoTo"), or None when it is not a PDF name.

    Names are bytes; those that are not UTF-8 keep their odd bytes as surrogates, as
    pikepdf does for dictionary keys, so they never equal a name we know.
    """
    if isinstance(value, pikepdf.Name):
        return bytes(value).decode("utf-8", "surrogateescape")
    return None


def entries_of(obj: pikepdf.Object) -> dict[str, object]:
    """A dictionary's (or stream's) entries, as one snapshot.

    One call instead of a lookup per key: pikepdf lookups of absent keys are slow.
    Entries whose value is null (or a reference to a missing object) count as absent,
    as the PDF specification says.
    """
    try:
        return {key: value for key, value in obj.items() if value is not None}
    except UnicodeDecodeError:  # pikepdf cannot list a value that is a non-UTF-8 name
        keys: set[str] = set(obj.keys())
        return {key: value for key in keys if (value := obj.get(key)) is not None}


def int_of(value: object) -> int | None:
    """The integer ``value`` holds, or None (booleans are not integers here)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


#: Arrays shorter than this are cheaper to iterate than to serialise.
SHORT_ARRAY = 16


def may_hold_containers(array: pikepdf.Object) -> bool:
    """False when an array (nested arrays included) surely holds no dictionary and no
    reference: nothing in it can carry active content or lead to more objects.

    Long arrays of numbers (font widths, CID metrics) are common and slow to iterate
    from Python; their serialisation shows in C whether "<<" or " R" appears (a string
    that merely contains them only costs a walk).
    """
    if len(array) < SHORT_ARRAY:
        return True
    text = array.unparse()
    return b"<<" in text or b" R" in text


def text_of(value: pikepdf.String) -> str:
    """A text string's characters; undecodable bytes (a bad UTF-8 or UTF-16 string) as Latin-1."""
    try:
        return str(value)
    except UnicodeDecodeError:
        return bytes(value).decode("latin-1")


def printable(untrusted_text: str, limit: int = 60) -> str:
    """Text from the file (a name, a field name), safe in a log line or a reason file:
    no control characters, no surrogates, bounded length."""
    cleaned = "".join(
        c if c.isprintable() and not "\ud800" <= c <= "\udfff" else "?" for c in untrusted_text[:limit]
    )
    return cleaned + ("…" if len(untrusted_text) > limit else "")
