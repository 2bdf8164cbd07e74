"""Type detection: content decides, the extension must agree.

Three witnesses are consulted: libmagic, a structural probe of our own (PDF header
offset, OLE stream names and root CLSID, OOXML main content type, ZIP central directory,
RTF header) and the file name's extension.  A contradiction between any two is a refusal
with its own code; detection never guesses.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import NoReturn

import magic
import olefile
from defusedxml import ElementTree as SafeET

from sanitizers.archives.signatures import archive_type
from sanitizers.errors import DetectionError, EncryptedError
from sanitizers.types import EXTENSION_DECIDES, TEXT_TYPES, TYPES

PDF_HEADER_WINDOW = 1024  # readers accept %PDF- anywhere in the first KiB
MAX_CONTENT_TYPES_SIZE = 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
#: Word for Windows 1.x and 2.0 (before OLE): the FIB's wIdent, then nFib (33 and 45 as
#: written; Word 6, nFib 101, is an OLE file and is refused by the OLE rebuild).
_OLD_WORD_IDENTS = (b"\x9b\xa5", b"\xdb\xa5")
_OLD_WORD_NFIB = range(1, 101)

#: Signatures that own offset 0; a PDF header behind one of them makes a polyglot.
STRONG_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows executable"),
    (b"\x7fELF", "ELF executable"),
    (OLE_MAGIC, "OLE compound file"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"\x89PNG", "PNG image"),
    (b"GIF8", "GIF image"),
)

_OOXML_MAIN_TYPES: dict[str, str] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "docx",
    "application/vnd.ms-word.document.macroenabled.main+xml": "docm",
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": "docm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroenabled.main+xml": "xlsm",
    "application/vnd.ms-excel.sheet.binary.macroenabled.main": "xlsb",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": "pptx",
    "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml": "pptm",
    "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml": "pptm",
    "application/vnd.ms-powerpoint.template.macroenabled.main+xml": "pptm",
    "application/vnd.ms-package.xps-fixeddocumentsequence+xml": "xps",
}
_WITH_MACROS = {"docx": "docm", "xlsx": "xlsm", "pptx": "pptm"}

# Root storage CLSIDs of the OLE applications we know (lower case, as olefile prints them).
_OLE_CLSIDS: dict[str, str] = {
    "00020906-0000-0000-c000-000000000046": "doc",
    "00020900-0000-0000-c000-000000000046": "doc",
    "00020820-0000-0000-c000-000000000046": "xls",
    "00020810-0000-0000-c000-000000000046": "xls",
    "64818d10-4f9b-11cf-86ea-00aa00b929e8": "ppt",
    "64818d11-4f9b-11cf-86ea-00aa00b929e8": "ppt",
    "000c1084-0000-0000-c000-000000000046": "exe",  # Windows Installer package
    "000c1086-0000-0000-c000-000000000046": "exe",  # Windows Installer patch
}

#: The ``mimetype`` member of an OpenDocument package, or the ``office:mimetype`` of a flat
#: one, for the kinds the gateway rebuilds (templates are rebuilt as what they are based on);
#: any other OpenDocument is ``odf``.
_ODF_MEDIA_TYPES: dict[bytes, str] = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.text-template": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.spreadsheet-template": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
    b"application/vnd.oasis.opendocument.presentation-template": "odp",
}
_ODF_MEDIA_PREFIX = b"application/vnd.oasis.opendocument."
_FLAT_ODF = {"odt": "fodt", "ods": "fods", "odp": "fodp"}
_NS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_XML_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")

#: A message (RFC 5322): header fields from the first line to a blank line, several of them,
#: one of those that make a message; read up to the largest header block the mail rebuild takes.
_MAIL_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
_MAIL_IDENTITY = frozenset({b"from", b"date", b"received", b"message-id"})
_MAIL_MIN_FIELDS = 3
MAIL_HEADER_WINDOW = 256 * 1024

#: Streams Ichitaro (一太郎) 8 and later write at the top of their compound files: the text,
#: JustSystems' segment header, and the compressed document of .jtdc and .jttc files.
_ICHITARO_STREAMS = frozenset({"documenttext", "jsrv_segmentheader", "jscompdocument"})

_MAGIC_TO_TYPE: dict[str, str] = {
    "application/pdf": "pdf",
    "text/rtf": "rtf",
    "application/rtf": "rtf",
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/x-ms-bmp": "bmp",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "text/html": "html",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/plain": "txt",
    "text/xml": "xml",
    "application/xml": "xml",
    # libmagic says this of any text whose first line looks like a mail header ("From: 総務課"):
    # the mail probe decides whether it is a message, and libmagic's guess alone leaves text
    "message/rfc822": "txt",
    "application/x-7z-compressed": "7z",
    "application/x-rar": "rar",
    "application/vnd.rar": "rar",
    "application/x-tar": "tar",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/x-lha": "lzh",
    "application/x-lharc": "lzh",
    "application/x-iso9660-image": "iso",
    "application/x-lzh-compressed": "lzh",
    "application/x-bzip2": "bzip2",
    "application/x-xz": "xz",
    "application/zstd": "zstd",
    "application/vnd.ms-cab-compressed": "cab",
    "application/java-archive": "jar",
    "application/x-dosexec": "exe",
    "application/vnd.microsoft.portable-executable": "exe",
    "application/x-msdownload": "exe",
    "application/x-executable": "elf",
    "application/x-sharedlib": "elf",
    "application/x-pie-executable": "elf",
    "text/x-shellscript": "script",
    "text/x-script.python": "script",
    "application/javascript": "script",
    "application/x-ichitaro4": "jtd",
    "application/x-ichitaro5": "jtd",
    "application/x-ichitaro6": "jtd",
}

# Loaded once per process (python-magic's own helpers keep per-thread instances, which a
# forked worker would have to load again); each instance serialises its calls with a lock.
_MAGIC_MIME = magic.Magic(mime=True)
_MAGIC_TEXT = magic.Magic()

_TEXT_BY_NAME = {ext: name for name in ("txt", "csv") for ext in TYPES[name].extensions}

#: MIME types libmagic answers when it does not really know; they contradict nothing.
_MAGIC_UNSURE = frozenset({"application/octet-stream", "text/plain"})


_WARM_UP_SAMPLES = (
    b"%PDF-1.7\n1 0 obj\n",
    "お知らせ\r\n市役所,2026年\r\n".encode("cp932"),
    b"<!DOCTYPE html><html><head><title>x</title></head><body></body></html>\n",
    b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>",
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40),
    OLE_MAGIC + bytes(504),
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40),
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40),
    b"{\\rtf1\\ansi hello}",
    b"MZ\x90\x00" + bytes(60),
)


def warm_up() -> None:
    """Classify a few typical heads so that libmagic compiles its patterns now, not per file."""
    for sample in _WARM_UP_SAMPLES:
        _MAGIC_MIME.from_buffer(sample)
        _MAGIC_TEXT.from_buffer(sample)


@dataclass(frozen=True)
class Detection:
    """The agreed canonical type of a file, with what each witness said."""

    type: str
    magic_mime: str
    magic_description: str
    extension: str
    pdf_header_offset: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "magic_mime": self.magic_mime,
            "magic_description": self.magic_description,
            "extension": self.extension,
        }


def extension_of(name: str) -> str:
    suffix = PurePath(name).suffix
    return suffix[1:].lower() if suffix else ""


def detect(untrusted_path: Path, name: str | None = None) -> Detection:
    """Return the canonical type of the file at ``untrusted_path``, named ``name``.

    Raises DetectionError (``type.*``) or EncryptedError (``office.encrypted``).
    """
    if untrusted_path.stat().st_size == 0:
        raise DetectionError("type.empty", "the file has no content")
    with untrusted_path.open("rb") as f:
        head = f.read(8192)
    magic_mime = _MAGIC_MIME.from_file(str(untrusted_path)).lower()
    magic_description = _MAGIC_TEXT.from_file(str(untrusted_path))
    name = name if name is not None else untrusted_path.name
    return _reconciled(untrusted_path, head, magic_mime, magic_description, name)


def detect_bytes(untrusted_data: bytes, name: str) -> Detection:
    """``detect`` for content held in memory: an archive member that the output verifier,
    which may write nowhere, judges without extracting it to a file."""
    if not untrusted_data:
        raise DetectionError("type.empty", "the file has no content")
    magic_mime = _MAGIC_MIME.from_buffer(untrusted_data).lower()
    magic_description = _MAGIC_TEXT.from_buffer(untrusted_data)
    return _reconciled(untrusted_data, untrusted_data[:8192], magic_mime, magic_description, name)


def _reconciled(
    untrusted: Path | bytes, head: bytes, magic_mime: str, magic_description: str, name: str
) -> Detection:
    """The three witnesses (libmagic's answer, our probe of the content, the name) agreed."""
    extension = extension_of(name)

    def found(type_name: str, pdf_offset: int = 0) -> Detection:
        return Detection(type_name, magic_mime, magic_description, extension, pdf_offset)

    if extension in EXTENSION_DECIDES:
        return found(EXTENSION_DECIDES[extension])

    if magic_mime == "application/x-dosexec" and "(COM" in magic_description:
        # A COM program has no header, so libmagic guesses it from a few leading bytes,
        # which Shift_JIS text ("件名" = 8C 8F) often matches. It proves nothing either way.
        magic_mime = "application/octet-stream"
    try:
        probed, pdf_offset = _probe_structure(untrusted, head)
    except DetectionError as exc:
        probed, pdf_offset = _ole_olefile_cannot_read(exc, head, magic_mime, extension), 0
    if probed is None and magic_mime == "application/octet-stream" and extension in _TEXT_BY_NAME:
        # libmagic gives up on some legacy encodings (EBCDIC, rare code pages); the text
        # sanitiser's strict decode ladder decides whether this really is text.
        probed = _TEXT_BY_NAME[extension]
    if probed is None:
        probed = _MAGIC_TO_TYPE.get(magic_mime)
        if probed is None and magic_mime.startswith("text/"):
            probed = "txt"  # source code, batch files, TeX...: plain text to any reader of a .txt
        if probed is None:
            _refuse_unrecognised(magic_mime, magic_description, extension)
        if head.startswith(b"#!"):
            probed = "script"
    elif magic_mime not in TYPES[probed].magic_mimes and magic_mime not in _MAGIC_UNSURE:
        raise DetectionError(
            "type.polyglot",
            f"structure says {TYPES[probed].description} but libmagic says {magic_description[:120]}",
        )
    return found(_reconcile_extension(probed, extension), pdf_offset)


def _ole_olefile_cannot_read(exc: DetectionError, head: bytes, magic_mime: str, extension: str) -> str:
    """A compound file olefile refuses (junk in an unused DIFAT slot, say) that libmagic and
    the name both call a Word, Excel or PowerPoint file: that type, so that its rule runs.
    The rebuild will refuse it (it re-reads the file strictly) and the rule's next method,
    LibreOffice for ``pdf``, whose reader is lenient, gets its chance; otherwise ``exc``."""
    if exc.code == "type.malformed" and head.startswith(OLE_MAGIC):
        for type_name in ("doc", "xls", "ppt"):
            if extension in TYPES[type_name].extensions and magic_mime in TYPES[type_name].magic_mimes:
                return type_name
    raise exc


def _refuse_unrecognised(magic_mime: str, magic_description: str, extension: str) -> NoReturn:
    """Content we do not accept: a disguise when it is named as something we do accept."""
    claimed = next((t for t in TYPES.values() if extension and extension in t.extensions), None)
    if claimed is not None and magic_mime != "application/octet-stream":
        raise DetectionError(
            "type.mismatch", f"content is {magic_description[:120]} but the name ends in .{extension}"
        )
    raise DetectionError("type.unknown", f"unrecognised content ({magic_description[:120]})")


def _reconcile_extension(content_type: str, extension: str) -> str:
    """The content's type if the name agrees with it; text may carry any text name, and a
    message named as plain text is plain text (what it reads as, and opens as)."""
    if not extension or extension in TYPES[content_type].extensions:
        return content_type
    if content_type == "eml" and extension in TYPES["txt"].extensions:
        return "txt"
    if content_type in TEXT_TYPES:
        for text_type in sorted(TEXT_TYPES):
            if extension in TYPES[text_type].extensions:
                return text_type
    raise DetectionError(
        "type.mismatch",
        f"content is {TYPES[content_type].description} but the name ends in .{extension}",
    )


def _probe_structure(untrusted: Path | bytes, head: bytes) -> tuple[str | None, int]:
    """Our own structural look at the bytes: (type or None, PDF header offset)."""
    if head.startswith(OLE_MAGIC):
        return _probe_ole(untrusted), 0
    if head.startswith(ZIP_MAGICS):
        return _probe_zip(untrusted), 0
    # Before the PDF header search: a tar or a stored 7z/LZH member may start with "%PDF-"
    # within the first KiB, and the archive is what its readers (and ours) see.
    archive = archive_type(untrusted)
    if archive is not None:
        return archive, 0
    pdf_offset = head.find(b"%PDF-", 0, PDF_HEADER_WINDOW)
    if pdf_offset >= 0:
        for signature, description in STRONG_SIGNATURES:
            if head.startswith(signature):
                raise DetectionError("type.polyglot", f"a PDF header follows a {description} signature")
        return "pdf", pdf_offset
    if head.startswith(b"{\\rt"):
        return "rtf", 0
    if (
        head[:2] in _OLD_WORD_IDENTS
        and len(head) >= 4
        and int.from_bytes(head[2:4], "little") in _OLD_WORD_NFIB
    ):
        raise DetectionError("type.old_word", "a Word for Windows 1.x/2.0 document (no OLE container)")
    if _probe_mail(untrusted, head):
        return "eml", 0
    return _probe_flat_odf(head), 0


def _probe_mail(untrusted: Path | bytes, head: bytes) -> bool:
    """A message by its header block, not its name: every line up to the first blank one
    a field or a continuation (after an mbox ``From `` line, if any), at least three
    different fields, among them From, Date, Received or Message-ID. A text that merely
    starts like a header ("From: 総務課" then prose) is left to be text."""
    if not (_MAIL_FIELD.match(head) or head.startswith(b"From ")):
        return False
    window = head
    if len(head) >= 8192:
        if isinstance(untrusted, Path):
            with untrusted.open("rb") as f:
                window = f.read(MAIL_HEADER_WINDOW)
        else:
            window = untrusted[:MAIL_HEADER_WINDOW]
    lines = window.split(b"\n")
    names: set[bytes] = set()
    for line in lines[1 if window.startswith(b"From ") else 0 : -1]:
        line = line.rstrip(b"\r")
        if not line:
            return len(names) >= _MAIL_MIN_FIELDS and not names.isdisjoint(_MAIL_IDENTITY)
        if line[:1] in (b" ", b"\t"):
            if not names:
                return False
            continue
        field = _MAIL_FIELD.match(line)
        if field is None:
            return False
        names.add(field.group(1).lower())
    return False


def _probe_flat_odf(head: bytes) -> str | None:
    """A single-file OpenDocument: XML whose root is ``office:document``, typed by its
    ``office:mimetype``.  Only the head is read, up to the root's start tag, and not at all
    when it declares anything (entities cannot be declared without a DOCTYPE)."""
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") or any(d in head for d in _XML_DECLARATIONS):
        return None
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start",))
    try:
        parser.feed(head)
        root = next((event[-1] for event in parser.read_events() if isinstance(event[-1], ET.Element)), None)
    except (ET.ParseError, LookupError, ValueError):  # junk, or an encoding Python does not know
        return None
    if root is None or root.tag != f"{{{_NS_OFFICE}}}document":
        return None
    declared = root.get(f"{{{_NS_OFFICE}}}mimetype", "").encode()
    if declared in _ODF_MEDIA_TYPES:
        return _FLAT_ODF[_ODF_MEDIA_TYPES[declared]]
    return "odf" if declared.startswith(_ODF_MEDIA_PREFIX) else None


def _opened(untrusted: Path | bytes) -> str | io.BytesIO:
    """What olefile and zipfile open: a file by its name, or bytes through a buffer."""
    return str(untrusted) if isinstance(untrusted, Path) else io.BytesIO(untrusted)


def _probe_ole(untrusted: Path | bytes) -> str:
    try:
        with olefile.OleFileIO(_opened(untrusted)) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
            clsid = (ole.root.clsid or "").lower() if ole.root is not None else ""
    except Exception as exc:  # olefile raises many kinds of errors on hostile input
        raise DetectionError("type.malformed", f"OLE compound file cannot be read: {exc}") from None
    if {"encryptioninfo", "encryptedpackage"} <= streams or "\x06dataspaces" in streams:
        raise EncryptedError("office.encrypted", "encrypted or rights-protected Office package")
    by_streams = None
    if "worddocument" in streams:
        by_streams = "doc"
    elif "workbook" in streams or "book" in streams:
        by_streams = "xls"
    elif "powerpoint document" in streams:
        by_streams = "ppt"
    elif any(s.startswith("__substg1.0_") for s in streams):
        by_streams = "msg"
    elif not _ICHITARO_STREAMS.isdisjoint(streams):
        by_streams = "jtd"
    by_clsid = _OLE_CLSIDS.get(clsid)
    if by_clsid is not None and by_streams is not None and by_clsid != by_streams:
        raise DetectionError(
            "type.polyglot", f"OLE root CLSID says {by_clsid} but the streams say {by_streams}"
        )
    result = by_streams or by_clsid
    if result is None:
        raise DetectionError("type.unknown", "OLE compound file of an unknown application")
    return result


def _probe_zip(untrusted: Path | bytes) -> str:
    try:
        with zipfile.ZipFile(_opened(untrusted)) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            if "[Content_Types].xml" in infos:
                return _ooxml_type(archive, infos)
            mimetype = infos.get("mimetype")
            if mimetype and mimetype.file_size < 100:
                declared = archive.read(mimetype)
                if declared.startswith(_ODF_MEDIA_PREFIX):
                    return _ODF_MEDIA_TYPES.get(declared, "odf")
            if "META-INF/MANIFEST.MF" in infos or any(n.endswith(".class") for n in infos):
                return "jar"
            return "zip"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DetectionError("type.malformed", f"ZIP structure cannot be read: {exc}") from None


def _ooxml_type(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> str:
    info = infos["[Content_Types].xml"]
    if info.file_size > MAX_CONTENT_TYPES_SIZE or info.compress_size > MAX_CONTENT_TYPES_SIZE:
        raise DetectionError("type.malformed", "[Content_Types].xml is implausibly large")
    try:
        root = SafeET.fromstring(archive.read(info))
    except Exception as exc:  # defusedxml raises on entities and DTDs; ParseError on junk
        raise DetectionError("type.malformed", f"[Content_Types].xml cannot be parsed: {exc}") from None
    declared = [
        el.attrib.get("ContentType", "").lower()
        for el in root
        if el.tag.endswith("}Override") or el.tag.endswith("}Default")
    ]
    mains = {_OOXML_MAIN_TYPES[ct] for ct in declared if ct in _OOXML_MAIN_TYPES}
    if len(mains) != 1:
        what = "no" if not mains else "several"
        raise DetectionError("type.malformed", f"OOXML package declares {what} main document part(s)")
    main = mains.pop()
    has_vba = "application/vnd.ms-office.vbaproject" in declared or any(
        name.lower().endswith("vbaproject.bin") for name in infos
    )
    return _WITH_MACROS.get(main, main) if has_vba else main
