"""Header fields: read the way Japanese mailers wrote them, written back the way every reader reads.

Reading undoes, in order, what senders do: raw 8-bit Shift_JIS or EUC-JP and unannounced
ISO-2022-JP escapes (decoded before any structure is looked at, since their bytes may be
quotes, backslashes or commas), then RFC 2047 encoded words anywhere (inside quotes too, as
Japanese mailers put them there), adjacent words of one charset joined before decoding (a
character may be split across two), and RFC 2231 parameters with continuations. Every
charset is read through ``sanitizers.mail.charsets``.

Writing is ours, not the ``email`` package's folder, which splits display names into words
a decoder then joins with spaces: display names and subjects that are not plain ASCII become
UTF-8 encoded words cut between characters, parameters RFC 2231 (with an RFC 2047 ``name``
beside it for older Outlook), every line ASCII and at most 76 characters where it can be.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, unquote_to_bytes

from sanitizers.mail.charsets import decode_iso2022_jp, decode_labelled
from sanitizers.text import decode_ladder

#: Allow-listed fields, in the order they are written.
ADDRESS_FIELDS = ("From", "To", "Cc", "Reply-To")
KEPT_FIELDS = (*ADDRESS_FIELDS, "Date", "Subject", "Message-ID", "In-Reply-To", "References")
#: Fields that describe the MIME structure: rebuilt, so neither kept nor counted as removed.
STRUCTURE_FIELDS = frozenset(
    {"mime-version", "content-type", "content-transfer-encoding", "content-disposition"}
)
#: The field the rebuild writes about itself; an input's copy is replaced, not reported.
SANITIZED_FIELD = "X-Mukaika-Sanitized"

MAX_LINE = 76
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t]*")
#: Format characters that reorder what a reader sees (bidi overrides, embeddings, isolates,
#: marks): they make a subject or a name read as something else, so they go.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_ADDR_SPEC = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
_MSG_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII without < and >
_QUOTED_SAFE = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII without " and \
_ATTRIBUTE_CHAR = "!#$&+-.^_`|~"


# ── reading ──────────────────────────────────────────────────────────────────────────


def raw_bytes(untrusted_value: str) -> bytes:
    """A header value as the parser stored it (non-ASCII bytes as surrogates) back to bytes;
    text built in code (a converted .msg) comes back as UTF-8."""
    return untrusted_value.encode("utf-8", "surrogateescape")


def decode_raw(untrusted_raw: bytes) -> tuple[str, bool]:
    """(the value with its raw 8-bit bytes and bare ISO-2022-JP escapes decoded, whether
    there were any); encoded words and structure are left as they are."""
    if untrusted_raw.isascii():
        if b"\x1b" in untrusted_raw:
            text = decode_iso2022_jp(untrusted_raw)
            if text is not None:
                return text, True
        return untrusted_raw.decode("ascii"), False
    found = decode_ladder(untrusted_raw)
    if found is not None and not found[2]:
        return found[0], True
    return untrusted_raw.decode("utf-8", errors="replace"), True


def unfold(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


def clean_text(value: str) -> str:
    """Header text as people read it: no control characters (a tab reads as a space), no
    direction overrides."""
    value = value.replace("\t", " ")
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded wherever they are; white space between two of them
    goes, and adjacent words of one charset are decoded together (Japanese mailers split
    characters across them). A word that does not decode stays as written."""
    out: list[str] = []
    pos = 0
    while (match := _ENCODED_WORD.search(value, pos)) is not None:
        out.append(value[pos : match.start()])
        run = [match]
        end = match.end()
        while True:
            gap = _BETWEEN_WORDS.match(value, end)
            following = _ENCODED_WORD.match(value, gap.end() if gap else end)
            if following is None:
                break
            run.append(following)
            end = following.end()
        out.append(_decode_run(run))
        pos = end
    out.append(value[pos:])
    return "".join(out)


def _decode_run(run: list[re.Match[str]]) -> str:
    pieces: list[str] = []
    group: list[re.Match[str]] = []
    for word in [*run, None]:
        if group and (word is None or word.group(1).lower() != group[0].group(1).lower()):
            pieces.append(_decode_group(group))
            group = []
        if word is not None:
            group.append(word)
    return "".join(pieces)


def _decode_group(words: list[re.Match[str]]) -> str:
    raw = bytearray()
    for word in words:
        payload = _word_bytes(word.group(2), word.group(3))
        if payload is None:
            return " ".join(w.group(0) for w in words)
        raw += payload
    decoded = decode_labelled(bytes(raw), words[0].group(1))
    return decoded[0] if decoded is not None else " ".join(w.group(0) for w in words)


def _word_bytes(encoding: str, text: str) -> bytes | None:
    if encoding in "Bb":
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    return unquote_to_bytes(text.replace("_", " ").replace("%", "%25").replace("=", "%"))


def header_text(untrusted_value: str) -> tuple[str, bool]:
    """An unstructured field's text (Subject): (decoded and cleaned text, whether raw 8-bit
    bytes had to be decoded)."""
    text, repaired = decode_raw(raw_bytes(untrusted_value))
    return clean_text(decode_words(unfold(text))).strip(" "), repaired


Mailbox = tuple[str, str]  # (display name, addr-spec)


def mailboxes(untrusted_value: str) -> tuple[list[Mailbox], int, bool]:
    """(the addresses of an address field, how many entries were not addresses, whether raw
    bytes had to be decoded). Structure first, encoded words only inside each name, so that
    a decoded comma or angle bracket cannot make a second address."""
    text, repaired = decode_raw(raw_bytes(untrusted_value))
    found: list[Mailbox] = []
    dropped = 0
    for name, addr in email.utils.getaddresses([unfold(text)]):
        if not name and not addr:
            continue
        if not _ADDR_SPEC.fullmatch(addr) or len(addr) > 254:
            dropped += 1
            continue
        found.append((clean_text(decode_words(name)).strip(" "), addr))
    return found, dropped, repaired


def message_ids(untrusted_value: str) -> list[str]:
    """The ``<id@host>`` tokens of Message-ID, In-Reply-To or References."""
    return _MSG_ID.findall(unfold(raw_bytes(untrusted_value).decode("ascii", errors="replace")))


def parsed_date(untrusted_value: str) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(unfold(untrusted_value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def received_line(untrusted_value: str) -> str | None:
    """A trace field kept as it is when it is plain printable ASCII (it names hosts and
    addresses, nothing to decode)."""
    value = " ".join(unfold(untrusted_value).split())
    return value if value and value.isascii() and value.isprintable() and len(value) <= 900 else None


# ── parameters (Content-Type, Content-Disposition) ───────────────────────────────────


@dataclass(frozen=True)
class Structured:
    """A MIME field: its value (``attachment``, ``text/plain``) and its parameters in order."""

    value: str
    params: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        return next((v for n, v in self.params if n == name), None)

    def filename_param(self, name: str) -> str | None:
        """``name`` decoded: RFC 2231 (``name*``, ``name*0*`` ...) first, else the plain
        value with any encoded words in it."""
        extended = _rfc2231(self.params, name)
        if extended is not None:
            return extended
        plain = self.get(name)
        return None if plain is None else decode_words(plain)


def structured(untrusted_value: str) -> Structured:
    """Split a MIME field into its value and parameters, quotes and comments honoured."""
    text, _repaired = decode_raw(raw_bytes(untrusted_value))
    pieces = _split_outside_quotes(unfold(text))
    value = _without_comments(pieces[0]).strip().lower() if pieces else ""
    params: list[tuple[str, str]] = []
    for piece in pieces[1:]:
        name, sep, raw = piece.partition("=")
        name = _without_comments(name).strip().lower()
        if sep and name:
            params.append((name, _param_value(raw.strip())))
    return Structured(value, tuple(params))


def _split_outside_quotes(text: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    quoted, depth, escaped = False, 0, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif ch == '"' and not depth:
            quoted = not quoted
        elif ch == "(" and not quoted:
            depth += 1
        elif ch == ")" and not quoted and depth:
            depth -= 1
        elif ch == ";" and not quoted and not depth:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    pieces.append("".join(current))
    return pieces


def _without_comments(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def _param_value(raw: str) -> str:
    if not raw.startswith('"'):
        return _without_comments(raw).strip()
    out, escaped = [], False
    for ch in raw[1:]:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            break
        else:
            out.append(ch)
    return "".join(out)


def _rfc2231(params: Iterable[tuple[str, str]], name: str) -> str | None:
    segments: dict[int, tuple[bool, str]] = {}
    for key, value in params:
        if key == f"{name}*":
            segments.setdefault(0, (True, value))
            continue
        match = re.fullmatch(rf"{re.escape(name)}\*(\d{{1,3}})(\*?)", key)
        if match:
            segments.setdefault(int(match.group(1)), (bool(match.group(2)), value))
    if not segments or 0 not in segments:
        return None
    charset = None
    raw = bytearray()
    for index in range(len(segments)):
        if index not in segments:
            break  # a gap: the rest cannot be placed
        extended, value = segments[index]
        if index == 0 and extended:
            parts = value.split("'", 2)
            if len(parts) == 3:
                charset, value = parts[0], parts[2]
        raw += unquote_to_bytes(value) if extended else raw_bytes(value)
    decoded = decode_labelled(bytes(raw), charset)
    return decoded[0] if decoded is not None else None


# ── writing ──────────────────────────────────────────────────────────────────────────


@dataclass
class HeaderValues:
    """The allow-listed fields, decoded: what the rebuilt message says about itself."""

    addresses: dict[str, list[Mailbox]] = field(default_factory=dict)
    date: datetime | None = None
    subject: str | None = None
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    @property
    def identifies_a_message(self) -> bool:
        """What content detection recognises a message by (one of From, Date, Message-ID)."""
        return bool(self.addresses.get("From") or self.date or self.message_id)

    def lines(self) -> list[str]:
        """The fields as header lines (folded, CRLF inside a field, none at its end)."""
        lines = [fold("Received", value.split(" ")) for value in self.received]
        for name in ADDRESS_FIELDS:
            if self.addresses.get(name):
                lines.append(fold(name, address_tokens(self.addresses[name])))
        if self.date is not None:
            lines.append(fold("Date", [email.utils.format_datetime(self.date)]))
        if self.subject:
            lines.append(fold("Subject", text_tokens(self.subject, len("Subject: "))))
        if self.message_id:
            lines.append(fold("Message-ID", [self.message_id]))
        if self.in_reply_to:
            lines.append(fold("In-Reply-To", self.in_reply_to))
        if self.references:
            lines.append(fold("References", self.references))
        return lines


def fold(name: str, tokens: Iterable[str]) -> str:
    """``Name: token token ...``, a new line (CRLF and a space) before a token that would
    take the line past 76 characters."""
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > MAX_LINE and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + token
    return "\r\n".join(lines)


def encoded_words(text: str, first_room: int = MAX_LINE - 1) -> list[str]:
    """``text`` as UTF-8 B encoded words, cut between characters, each at most 75 long (the
    first at most ``first_room``)."""
    words: list[str] = []
    chunk = ""
    for ch in text:
        room = first_room if not words else MAX_LINE - 1
        candidate = chunk + ch
        if chunk and len(_b_word(candidate)) > min(room, 75):
            words.append(_b_word(chunk))
            chunk = ch
        else:
            chunk = candidate
    if chunk:
        words.append(_b_word(chunk))
    return words


def _b_word(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode('ascii')}?="


def _plain_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable() and "=?" not in text and text == text.strip(" ")


def text_tokens(text: str, used: int) -> list[str]:
    """An unstructured value: its words when plain ASCII that folds within the limits,
    else encoded words throughout (exact on decoding, spaces included)."""
    words = text.split(" ")
    if _plain_ascii(text) and "  " not in text and all(len(w) < MAX_LINE - 1 for w in words):
        return words
    return encoded_words(text, MAX_LINE - used)


def address_tokens(boxes: list[Mailbox]) -> list[str]:
    tokens: list[str] = []
    for index, (name, addr) in enumerate(boxes):
        end = "," if index < len(boxes) - 1 else ""
        if not name:
            tokens.append(addr + end)
        elif _plain_ascii(name) and _QUOTED_SAFE.fullmatch(name) and len(name) < MAX_LINE - 4:
            tokens += [f'"{name}"', f"<{addr}>{end}"]
        else:
            tokens += [*encoded_words(name, MAX_LINE - 12), f"<{addr}>{end}"]
    return tokens


def filename_params(name: str) -> tuple[list[str], list[str]]:
    """(Content-Type ``name`` parameter tokens, Content-Disposition ``filename`` ones) for
    an attachment's name: plain when plain ASCII, else RFC 2231 for ``filename`` (cut into
    continuations) and RFC 2047 inside ``name`` (what Outlook before 2007 reads)."""
    if _plain_ascii(name) and _QUOTED_SAFE.fullmatch(name) and len(name) < 60:
        return [f'name="{name}"'], [f'filename="{name}"']
    words = encoded_words(name, MAX_LINE - 8)
    name_tokens = [f'name="{words[0]}', *words[1:]]
    name_tokens[-1] += '"'
    encoded = quote(name.encode("utf-8"), safe=_ATTRIBUTE_CHAR)
    pieces: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + 54, len(encoded))
        while end < len(encoded) and "%" in encoded[end - 2 : end]:
            end -= 1  # never cut a %XX escape
        pieces.append(encoded[start:end])
        start = end
    if len(pieces) == 1:
        return name_tokens, [f"filename*=UTF-8''{pieces[0]}"]
    filename_tokens = [f"filename*0*=UTF-8''{pieces[0]};"]
    filename_tokens += [f"filename*{i}*={p};" for i, p in enumerate(pieces[1:], 1)]
    filename_tokens[-1] = filename_tokens[-1].rstrip(";")
    return name_tokens, filename_tokens


# ── the allow-list ───────────────────────────────────────────────────────────────────


@dataclass
class ReadHeaders:
    values: HeaderValues
    removed: list[str]  # names of fields dropped, in order
    repaired: int  # fields whose raw 8-bit bytes had to be decoded
    received: int  # Received fields found


def read_headers(untrusted_fields: Iterable[tuple[str, str]], keep_received: bool) -> ReadHeaders:
    """The allow-listed fields of a message's header block, decoded; the rest named as
    removed (our own field and the structure fields, which are rewritten, are not)."""
    values = HeaderValues()
    read = ReadHeaders(values, [], 0, 0)
    seen: set[str] = set()
    for raw_name, value in untrusted_fields:
        name = raw_name.strip().lower()
        if name in STRUCTURE_FIELDS or name == SANITIZED_FIELD.lower():
            continue
        if name == "received":
            read.received += 1
            line = received_line(value) if keep_received else None
            if line is not None:
                values.received.append(line)
            continue
        canonical = next((f for f in KEPT_FIELDS if f.lower() == name), None)
        if canonical is None or canonical in seen:
            read.removed.append(raw_name.strip()[:60])
            continue
        seen.add(canonical)
        if not _read_field(values, canonical, value, read):
            read.removed.append(canonical)
    return read


def _read_field(values: HeaderValues, name: str, untrusted_value: str, read: ReadHeaders) -> bool:
    """Put one allow-listed field into ``values``; False when nothing of it can be kept."""
    if name in ADDRESS_FIELDS:
        boxes, _dropped, repaired = mailboxes(untrusted_value)
        read.repaired += repaired
        if boxes:
            values.addresses[name] = boxes
        return bool(boxes)
    if name == "Subject":
        text, repaired = header_text(untrusted_value)
        read.repaired += repaired
        values.subject = text
        return True
    if name == "Date":
        values.date = parsed_date(untrusted_value)
        return values.date is not None
    ids = message_ids(untrusted_value)
    if name == "Message-ID":
        values.message_id = ids[0] if ids else None
    elif name == "In-Reply-To":
        values.in_reply_to = ids[:10]
    else:
        values.references = ids[:100]
    return bool(ids)
