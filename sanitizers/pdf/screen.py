"""A quick screen of one object through qpdf's own serialisation of it.

Walking a dictionary from Python costs far more than asking qpdf to write it out: most
objects of a document (pages without annotations, fonts, images, content streams) hold
nothing the sanitisers act on, and their text shows it.  qpdf writes every name in one
canonical form (``#xx`` escapes in the input are decoded, and only bytes that cannot
stand in a name are escaped again), so a key or value the walks look for appears in
that text literally, as a whole token.  A string that merely contains the same
characters costs a full look at the object, never a miss.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import pikepdf

_DELIMITERS = rb"\s/\[\]<>(){}%"
#: An indirect reference as qpdf writes it: "12 0 R".
_REFERENCE = re.compile(rb"(?<![^%s])(\d+) (\d+) R(?![^%s])" % (_DELIMITERS, _DELIMITERS))


def name_screen(names: Iterable[str]) -> re.Pattern[bytes]:
    """A pattern that finds any of ``names`` ("/JS") as a whole name token."""
    alternatives = b"|".join(re.escape(name.encode()) for name in sorted(names, key=len, reverse=True))
    return re.compile(rb"(?:%s)(?![^%s])" % (alternatives, _DELIMITERS))


def serialised(obj: pikepdf.Object) -> bytes:
    """The object's dictionary or array as qpdf writes it, direct children included."""
    if isinstance(obj, pikepdf.Stream):
        return obj.stream_dict.unparse(resolved=True)
    return obj.unparse(resolved=True)


def references(text: bytes) -> Iterator[tuple[int, int]]:
    """The (number, generation) of every object that ``text`` (from ``serialised``)
    refers to; a string that looks like a reference adds one more to look at."""
    for number, generation in _REFERENCE.findall(text):
        yield int(number), int(generation)


def referenced(pdf: pikepdf.Pdf, objgen: tuple[int, int]) -> object:
    """The object ``objgen`` names, of any type, or None when it is missing."""
    try:
        return pdf.get_object(objgen)
    except (ValueError, pikepdf.PdfError):
        return None
