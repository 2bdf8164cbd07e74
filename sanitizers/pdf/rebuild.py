"""PDF rebuild: the same document, written anew without active or hidden content.

The input is opened by qpdf (which repairs what it can), cleaned in place through
allow-lists (``clean.py``) and saved as a new file: only objects still reachable from
the catalog are written, so leading and trailing bytes, incremental-update history and
orphaned objects vanish.  Binary payloads that readers parse with their own decoders are
not copied as they came: font programs go through the OpenType Sanitizer (``fonts.py``),
images are decoded and written anew, JPEGs cut at their end (``images.py``, inline images
``inline.py``), ICC profiles are rewritten by LittleCMS (``icc.py``); what cannot be is
refused, so the rule's next method runs.  The output is then verified independently
(``verify.py``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pikepdf
from pikepdf.exceptions import PageCopyWarning

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import MalformedError
from sanitizers.output import write_atomically
from sanitizers.pdf.clean import CleanPolicy, clean_document
from sanitizers.pdf.fonts import rewrite_font_programs
from sanitizers.pdf.icc import rewrite_profiles
from sanitizers.pdf.images import rewrite_images
from sanitizers.pdf.inline import rewrite_inline_images
from sanitizers.pdf.limits import open_under_limits, read_envelope
from sanitizers.pdf.verify import Promise, verify_pdf


class PdfRebuild(Sanitizer):
    """CDR in PDF: keeps text, fonts, images, vector content, internal links, outlines, forms."""

    types: ClassVar[frozenset[str]] = frozenset({"pdf"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "links": OptionSpec(
            "keep-web",
            "keep-web keeps http, https and mailto links; remove drops every URI action",
            choices=("keep-web", "remove"),
        ),
        "metadata": OptionSpec(
            "remove",
            "remove or keep XMP and document-information metadata, and who wrote each annotation and when",
            choices=("remove", "keep"),
        ),
        "comments": OptionSpec(
            "keep",
            "keep leaves comment annotations (their authors follow metadata); remove drops notes, "
            "pop-ups, text boxes and marks on text, and the comment text of drawn marks",
            choices=("keep", "remove"),
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        chosen = self.resolved_options(options)
        policy = CleanPolicy(
            keep_web_links=chosen["links"] == "keep-web",
            keep_metadata=chosen["metadata"] == "keep",
            keep_comments=chosen["comments"] == "keep",
        )
        report = Report("pdf")
        envelope = read_envelope(untrusted_src, limits)
        report.add("pdf.leading_data", "removed", envelope.leading, f"{envelope.leading} bytes before %PDF")
        report.add(
            "pdf.trailing_data", "removed", envelope.trailing, f"{envelope.trailing} bytes after %%EOF"
        )
        with open_under_limits(untrusted_src, limits) as pdf:
            if pdf.is_encrypted:
                report.add("pdf.decrypted", "decrypted", location="owner password only")
            try:
                tally, payloads = clean_document(pdf, policy, limits)
                rewrite_font_programs(payloads.font_descriptors, limits)
                rewrite_images(pdf, payloads.images, limits, tally)
                rewrite_inline_images(pdf, limits, tally)
                rewrite_profiles(payloads.icc_profiles, limits, tally)
                rebuilt = _saved(pdf)
            except pikepdf.PikepdfError as exc:
                raise MalformedError("pdf.malformed", f"qpdf cannot rebuild it: {exc}") from None
            except UnicodeError as exc:  # text that pikepdf decodes for us, strictly
                raise MalformedError("pdf.malformed", f"undecodable text: {type(exc).__name__}") from None
            warnings = pdf.get_warnings()
        verify_pdf(rebuilt, rebuild_promise(options), limits, rerun_encoders=False)
        write_atomically(dst, rebuilt)
        report.add("pdf.repaired", "repaired", len(warnings), _first_warning(warnings, untrusted_src))
        tally.report_into(report)
        return report


def rebuild_promise(options: Options) -> Promise:
    """What a rebuild under the rule's ``options`` promises about its output: checked here
    after the rebuild, and again by the gateway's verifier, which sees only the output."""
    chosen = PdfRebuild().resolved_options(options)
    return Promise(
        web_links=chosen["links"] == "keep-web",
        metadata=chosen["metadata"] == "keep",
        comments=chosen["comments"] == "keep",
        image_only=False,
        copied_content=True,
    )


def _first_warning(warnings: list[str], untrusted_src: Path) -> str | None:
    """qpdf's first complaint, without the spool path it starts with."""
    if not warnings:
        return None
    return warnings[0].removeprefix(f"{untrusted_src}: ")[:200]


def _saved(pdf: pikepdf.Pdf) -> bytes:
    """A fresh, unencrypted file; streams not rewritten before are copied as they are."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # pikepdf notes form widgets missing from /AcroForm: a fact about the input that
        # the rebuild keeps as it is, not a problem of the rebuild.
        warnings.simplefilter("ignore", PageCopyWarning)
        pdf.save(
            buffer,
            encryption=False,
            linearize=False,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            compress_streams=True,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            fix_metadata_version=False,
            preserve_pdfa=False,
            deterministic_id=True,
        )
    return buffer.getvalue()
