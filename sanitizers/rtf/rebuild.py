"""The RTF rebuild sanitiser: tokenise, judge every group, cut, verify, write."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.links import CHOICES as LINK_CHOICES
from sanitizers.links import KEEP_WEB
from sanitizers.output import write_atomically
from sanitizers.rtf.destinations import COMMENT_OPTIONS, KEEP_COMMENTS, PICTURE_OPTIONS
from sanitizers.rtf.pictures import RebuildPicture
from sanitizers.rtf.tree import parse_document
from sanitizers.rtf.verify import verify_rebuilt
from sanitizers.rtf.writer import apply_edits, plan_rebuild


class RtfRebuild(Sanitizer):
    r"""RTF without objects, \bin data, templates, DDE/external fields or metafile pictures;
    the PNG and JPEG pictures kept are rebuilt from their pixels."""

    types: ClassVar[frozenset[str]] = frozenset({"rtf"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "pictures": OptionSpec(
            "png-jpeg",
            "残す画像: png-jpeg=PNGとJPEGのみ残す（画素から作り直す。WMF・EMF等は削除） / none=画像をすべて削除. "
            "Pictures kept: PNG and JPEG only, rebuilt from their pixels (WMF, EMF and other metafiles "
            "are removed), or none.",
            choices=PICTURE_OPTIONS,
        ),
        "links": OptionSpec(
            KEEP_WEB,
            "keep-web keeps http, https and mailto hyperlink fields; remove drops every hyperlink "
            "(the link's text stays)",
            choices=LINK_CHOICES,
        ),
        "comments": OptionSpec(
            KEEP_COMMENTS,
            "keep leaves comments; remove drops them with the marks that anchor them in the text",
            choices=COMMENT_OPTIONS,
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        chosen = self.resolved_options(options)
        pictures, links, comments = str(chosen["pictures"]), str(chosen["links"]), str(chosen["comments"])
        untrusted_data = limits.read_file(untrusted_src)
        document = parse_document(untrusted_data, limits)
        plan = plan_rebuild(
            document, untrusted_data, pictures, links, comments, picture_step=RebuildPicture(limits)
        )
        rebuilt = apply_edits(untrusted_data, plan.edits)
        verify_rebuilt(rebuilt, limits, pictures, links, comments)
        write_atomically(dst, rebuilt)
        return Report("rtf", plan.findings)
