"""The independent check of a sanitised output, from its bytes alone.

The gateway runs this in a second confined process after every sanitising worker. It sees
the output and never the input, and the worker that wrote the output may have been taken
over, so nothing the worker said counts: the file is re-detected, then re-read by the
input-independent parts of its sanitiser's own verification, held to what the method
promises under the rule's options (the daemon's config).  Where a sanitiser's check
compares the output with what it meant to write, the equivalent here asks what any honest
rebuild would have written: an OLE file holds allow-listed streams that cleaning again
leaves alone, a ZIP's members each pass their own type's check.

Everything wrong, including any exception a parser raises, is ``verify.failed``.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from sanitizers.archives.budget import TreeBudget, tree_budget
from sanitizers.archives.libarchive_read import STREAM_TYPES
from sanitizers.archives.tarwrite import tar_members
from sanitizers.archives.zipbuild import verify_archive
from sanitizers.archives.zipcheck import Entry, check_entries, extract_entry, open_zip
from sanitizers.base import Limits, Options
from sanitizers.detect import Detection, detect_bytes
from sanitizers.errors import SanitizeError, VerifyError
from sanitizers.html import decode_html, verify_rebuilt_page
from sanitizers.images.rebuild import IMAGE_TYPES, ImageRebuild, verify_image
from sanitizers.mail import MailRebuild
from sanitizers.mail.verify import verify_message
from sanitizers.odf.rebuild import OdfRebuild
from sanitizers.odf.verify import verify_flat
from sanitizers.odf.verify import verify_package as verify_odf_package
from sanitizers.ole.inspect import SUMMARY_STREAMS
from sanitizers.ole.rebuild import FORMATS as OLE_FORMATS
from sanitizers.ole.rebuild import OleRebuild, verify_compound
from sanitizers.ooxml.rebuild import OoxmlRebuild
from sanitizers.ooxml.verify import verify_package
from sanitizers.pdf.limits import EOF_PADDING
from sanitizers.pdf.raster import IMAGE_ONLY
from sanitizers.pdf.rebuild import rebuild_promise
from sanitizers.pdf.text import verify_text
from sanitizers.pdf.verify import verify_pdf
from sanitizers.rtf.rebuild import RtfRebuild
from sanitizers.rtf.verify import verify_rebuilt as verify_rtf
from sanitizers.svg import verify_svg
from sanitizers.text import CsvRebuild, is_removed_control, strict_decodings, verify_no_formulas
from sanitizers.types import TYPES

FAILED = "verify.failed"


@dataclass(frozen=True)
class Expectation:
    """What the daemon was promised about an output: its type, the method that made it, and the
    options of the rule that applied (the daemon's own config, never the worker's word)."""

    output_type: str  # canonical type from sanitizers.types.TYPES, e.g. "pdf", "docx", "txt", "zip"
    method: str  # "rebuild" | "pdf" | "image" | "text"
    options: Options = field(default_factory=dict)


#: The options of the rule for a member's type (for archive members).
MemberOptions = Callable[[str], Options]


def verify_output(
    untrusted_output: Path,
    expected: Expectation,
    limits: Limits,
    member_options: MemberOptions = lambda type_name: {},
) -> str:
    """Re-detect the file and run its type's independent verification; return the sha256
    (hex) of exactly the bytes verified.  Anything wrong raises VerifyError ``verify.failed``:
    a type other than ``expected.output_type``, a forbidden construct, malformed output,
    a limit exceeded, or any exception at all from a parser (fail closed)."""
    try:
        untrusted_data = _read_once(untrusted_output, limits)
        if expected.output_type not in TYPES:
            raise VerifyError(FAILED, f"{expected.output_type!r} is not a known type")
        name = f"output.{TYPES[expected.output_type].output_extension}"
        detection = detect_bytes(untrusted_data, name)
        if detection.type != expected.output_type:
            raise VerifyError(FAILED, f"the output is {detection.type}, {expected.output_type} was promised")
        subject = _Subject(untrusted_data, detection, expected.options, limits, member_options)
        _verify_as(subject, expected.method)
    except Exception as exc:  # fail closed: a parser blow-up on hostile output is a refusal
        raise _failed(exc) from None
    return hashlib.sha256(untrusted_data).hexdigest()


def expectation_for(
    file_type: str, output_type: str, method: str, options: Options, member_options: MemberOptions
) -> Expectation:
    """What an output is held to: the rule of its file's type, except that a compressed
    single file comes out as its content, held to that content's rule as an archive member is."""
    if file_type in STREAM_TYPES and output_type not in _ARCHIVE_OUTPUTS:
        member_method = _MEMBER_METHODS.get(output_type, "rebuild")
        return Expectation(output_type, member_method, member_options(output_type))
    return Expectation(output_type, method, options)


def has_verifier(output_type: str, method: str) -> bool:
    """Whether an output of ``output_type`` made by ``method`` can be released at all."""
    return (output_type, method) in _VERIFIERS


def _read_once(untrusted_output: Path, limits: Limits) -> bytes:
    """The whole file, read through one descriptor: a regular file, not followed through a
    link, within the size any sanitiser may write (``gateway.isolation``'s bound)."""
    bound = max(limits.max_file_size * 8, limits.archive_total_size)
    try:
        fd = os.open(untrusted_output, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise VerifyError(FAILED, f"the output cannot be opened: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VerifyError(FAILED, "the output is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            untrusted_data = f.read(bound + 1)
    finally:
        os.close(fd)
    if len(untrusted_data) > bound:
        raise VerifyError(FAILED, f"the output is larger than {bound} bytes")
    return untrusted_data


def _failed(exc: Exception) -> VerifyError:
    if isinstance(exc, VerifyError) and exc.code == FAILED:
        return exc
    return VerifyError(FAILED, _described(exc))


def _described(exc: Exception) -> str:
    if isinstance(exc, SanitizeError):
        return exc.detail if exc.code == FAILED else f"{exc.code}: {exc.detail}"
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class _Subject:
    """One output, or one member of an archive output, and what it is held to."""

    data: bytes
    detection: Detection
    options: Options
    limits: Limits
    member_options: MemberOptions


Verifier = Callable[[_Subject], None]


def _verify_as(subject: _Subject, method: str) -> None:
    verifier = _VERIFIERS.get((subject.detection.type, method))
    if verifier is None:
        raise VerifyError(FAILED, f"no sanitiser writes {subject.detection.type} by the method {method!r}")
    verifier(subject)


# ── PDF ──────────────────────────────────────────────────────────────────────────────


def _pdf_rebuilt(subject: _Subject) -> None:
    """``rebuild`` and ``pdf`` (PDF化, which ends in the rebuild) keep its promise."""
    _check_pdf_envelope(subject)
    verify_pdf(subject.data, rebuild_promise(subject.options), subject.limits)


def _pdf_image_only(subject: _Subject) -> None:
    _check_pdf_envelope(subject)
    verify_pdf(subject.data, IMAGE_ONLY, subject.limits)


def _check_pdf_envelope(subject: _Subject) -> None:
    """Both methods write a new file: nothing hides before its header or after its end,
    where a PDF reader would not look but another reader (of a polyglot) would."""
    if subject.detection.pdf_header_offset != 0:
        raise VerifyError(FAILED, f"{subject.detection.pdf_header_offset} bytes before the PDF header")
    if not subject.data.rstrip(EOF_PADDING).endswith(b"%%EOF"):
        raise VerifyError(FAILED, "the PDF does not end with %%EOF")


# ── text ─────────────────────────────────────────────────────────────────────────────


def _plain_text(subject: _Subject) -> None:
    """A text rebuild keeps the input's encoding, which the verifier does not know: the
    bytes must read as text without control characters in some encoding of the ladder."""
    _check_text(subject.data)


def _extracted_text(subject: _Subject) -> None:
    """テキスト化 writes UTF-8 (from a PDF) or the page's own charset (from HTML, which may
    declare windows-1252); which one made this file is not known here."""
    try:
        verify_text(subject.data)
    except VerifyError:
        _check_text(subject.data, declared="cp1252")


def _csv(subject: _Subject) -> None:
    """As text, and no reading of it a spreadsheet might choose shows a live formula."""
    _check_text(subject.data)
    neutralise_all = bool(CsvRebuild().resolved_options(subject.options)["neutralise_formulas"])
    for text in dict.fromkeys(text for text, _codec in strict_decodings(subject.data)):
        verify_no_formulas(text, neutralise_all)


def _check_text(data: bytes, declared: str | None = None) -> None:
    readings = strict_decodings(data, declared)
    if not any(not any(map(is_removed_control, text)) for text, _codec in readings):
        raise VerifyError(FAILED, "not text without control characters in any encoding of the ladder")


def _html(subject: _Subject) -> None:
    """Read as a browser would (BOM, <meta charset>, the ladder), then the rebuild's own
    re-parse under the rule's link and image options."""
    page = decode_html(subject.data).text
    if any(map(is_removed_control, page)):
        raise VerifyError(FAILED, "control characters in the page")
    verify_rebuilt_page(page, subject.options)


# ── images, SVG, RTF ─────────────────────────────────────────────────────────────────


def _image(subject: _Subject) -> None:
    keep_icc = bool(ImageRebuild().resolved_options(subject.options)["keep_icc"])
    verify_image(subject.data, subject.detection.type, keep_icc, subject.limits)


def _svg(subject: _Subject) -> None:
    verify_svg(subject.data)


def _rtf(subject: _Subject) -> None:
    chosen = RtfRebuild().resolved_options(subject.options)
    verify_rtf(
        subject.data, subject.limits, str(chosen["pictures"]), str(chosen["links"]), str(chosen["comments"])
    )


# ── Office ───────────────────────────────────────────────────────────────────────────


def _ooxml(subject: _Subject) -> None:
    """The archive's table of contents judged first, so that the package check, which
    decompresses every part, does so within the declared (and limited) sizes."""
    with open_zip(subject.data) as archive:
        check_entries(archive, subject.data, subject.limits, "reject")
    chosen = OoxmlRebuild().resolved_options(subject.options)
    verify_package(subject.data, chosen["links"] == "keep-web", chosen["comments"] == "keep")


def _ole(subject: _Subject) -> None:
    """No storage, only the application's allow-listed top-level streams (summary streams
    when the rule keeps metadata), cleaning them again would change nothing, and no
    comment is left where the rule removes them."""
    ole_format = next(f for f in OLE_FORMATS if f.type_name == subject.detection.type)
    chosen = OleRebuild().resolved_options(subject.options)
    allowed = ole_format.kept_streams | (SUMMARY_STREAMS if chosen["metadata"] == "keep" else frozenset())
    streams = verify_compound(subject.data, ole_format, allowed, subject.limits, str(chosen["links"]))
    if chosen["comments"] == "remove" and ole_format.count_comments(streams):
        raise VerifyError(FAILED, "comments in a file whose rule removes them")


def _odf(subject: _Subject) -> None:
    """As for OOXML, the archive's table of contents is judged before the package check
    decompresses its members; a flat document is one XML file."""
    chosen = OdfRebuild().resolved_options(subject.options)
    promise = (str(chosen["links"]), chosen["comments"] == "keep", chosen["metadata"] == "keep")
    if subject.detection.type in _FLAT_ODF:
        verify_flat(subject.data, *promise)
        return
    with open_zip(subject.data) as archive:
        check_entries(archive, subject.data, subject.limits, "reject")
    verify_odf_package(subject.data, *promise)


_FLAT_ODF = frozenset({"fodt", "fods", "fodp"})


# ── ZIP ──────────────────────────────────────────────────────────────────────────────

#: A member's type is known, not the method that made it: each type is held to the
#: promise that every method writing it keeps (an image-only PDF keeps the rebuild's too;
#: テキスト化 output is text, and the text rebuild's output reads as such).
_MEMBER_METHODS = {"pdf": "rebuild", "txt": "text"}
#: what an archive rebuild writes when the output is the archive itself
_ARCHIVE_OUTPUTS = frozenset({"zip", "tar", "gzip"})


def _zip(subject: _Subject) -> None:
    """Sound structure (no encryption, links, unsafe or colliding names, no overlapping
    entries, sizes within the limits), then every member by its own detected type, one
    archive level deeper, its bytes counted as they are decompressed."""
    limits = subject.limits
    with tree_budget(limits) as budget, open_zip(subject.data) as archive:
        entries = check_entries(archive, subject.data, limits, "reject")
        budget.take_members(len(entries), "archive")
        verify_archive(subject.data, None)
        files = [entry for entry in entries if not entry.is_dir]
        if files and limits.archive_depth <= 0:
            raise VerifyError(FAILED, "archives nested deeper than archive_depth")
        inner = replace(subject, limits=replace(limits, archive_depth=limits.archive_depth - 1))
        for entry in files:
            try:
                _verify_member(_extracted(archive, entry, limits, budget), entry.name, inner)
            except Exception as exc:  # say which member, whatever went wrong with it
                raise VerifyError(FAILED, f"{entry.name}: {_described(exc)}") from None


def _tar(subject: _Subject) -> None:
    """A tar or tar.gz rebuild (``output_format = "same"``), read back by Python's tarfile:
    only plain files and folders with safe, unique names, then every member as in a ZIP."""
    limits = subject.limits
    with tree_budget(limits) as budget:
        inner = replace(subject, limits=replace(limits, archive_depth=limits.archive_depth - 1))
        for name, untrusted_data in tar_members(subject.data, limits, budget):
            if untrusted_data is None:
                continue
            if limits.archive_depth <= 0:
                raise VerifyError(FAILED, "archives nested deeper than archive_depth")
            try:
                _verify_member(untrusted_data, name, inner)
            except Exception as exc:  # say which member, whatever went wrong with it
                raise VerifyError(FAILED, f"{name}: {_described(exc)}") from None


def _eml(subject: _Subject) -> None:
    """A rebuilt message: its shape, fields, text and links as the rule promises, then each
    attachment and nested message by its own detected type, one archive level deeper."""
    limits = subject.limits
    inner = replace(subject, limits=replace(limits, archive_depth=limits.archive_depth - 1))

    def verify_attachment(untrusted_data: bytes, name: str) -> None:
        if limits.archive_depth <= 0:
            raise VerifyError(FAILED, "attachments nested deeper than archive_depth")
        try:
            _verify_member(untrusted_data, name, inner)
        except Exception as exc:  # say which attachment, whatever went wrong with it
            raise VerifyError(FAILED, f"{name}: {_described(exc)}") from None

    with tree_budget(limits):
        verify_message(
            subject.data, MailRebuild().resolved_options(subject.options), limits, verify_attachment
        )


def _extracted(archive: zipfile.ZipFile, entry: Entry, limits: Limits, budget: TreeBudget) -> bytes:
    buffer = io.BytesIO()
    extract_entry(archive, entry, buffer, limits, budget)
    return buffer.getvalue()


def _verify_member(untrusted_data: bytes, name: str, inner: _Subject) -> None:
    detection = detect_bytes(untrusted_data, PurePosixPath(name).name)
    member = replace(
        inner, data=untrusted_data, detection=detection, options=inner.member_options(detection.type)
    )
    _verify_as(member, _MEMBER_METHODS.get(detection.type, "rebuild"))


_VERIFIERS: dict[tuple[str, str], Verifier] = {
    ("pdf", "rebuild"): _pdf_rebuilt,
    ("pdf", "pdf"): _pdf_rebuilt,
    ("pdf", "image"): _pdf_image_only,
    ("txt", "rebuild"): _plain_text,
    ("txt", "text"): _extracted_text,
    ("csv", "rebuild"): _csv,
    ("html", "rebuild"): _html,
    ("svg", "rebuild"): _svg,
    ("rtf", "rebuild"): _rtf,
    ("zip", "rebuild"): _zip,
    ("tar", "rebuild"): _tar,
    ("gzip", "rebuild"): _tar,  # a compressed tar rebuilt as tar.gz
    ("eml", "rebuild"): _eml,
    **{(image_type, "rebuild"): _image for image_type in IMAGE_TYPES},
    **{(type_name, "rebuild"): _ooxml for type_name in ("docx", "xlsx", "pptx")},
    **{(type_name, "rebuild"): _odf for type_name in OdfRebuild.types},
    **{(ole_format.type_name, "rebuild"): _ole for ole_format in OLE_FORMATS},
}
