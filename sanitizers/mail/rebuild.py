"""Mail rebuilt from an allow-list: a new message written from what the old one says.

An Outlook ``.msg`` is first converted to such a message (``sanitizers.mail.msg``); from
there both go one way. The message is parsed by the ``email`` package (policy ``default``);
its allow-listed header fields are decoded and written anew; its body becomes plain text
(HTML reduced to text, or rebuilt by the HTML allow-list); every attachment, nested message
and inline image goes through the pipeline one level deeper, like an archive member, and
comes back sanitised under its new name or is replaced by a short note saying what was
removed and why. ``X-Mukaika-Sanitized`` says what was done; a notice at the top of the body
lists what was removed. The result is checked by ``sanitizers.mail.verify`` before it is
written.
"""

from __future__ import annotations

import email
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from pathlib import Path
from typing import ClassVar

from sanitizers.archives.budget import tree_budget
from sanitizers.base import (
    ContainerSanitizer,
    Limits,
    MemberProcessor,
    Options,
    OptionSpec,
    OptionValue,
    Report,
)
from sanitizers.detect import OLE_MAGIC
from sanitizers.errors import LimitError, MalformedError
from sanitizers.html import page_text
from sanitizers.mail import body, notices, urls
from sanitizers.mail.attachments import Attachments, clean_name
from sanitizers.mail.headers import ReadHeaders, read_headers
from sanitizers.mail.msg import message_from_msg
from sanitizers.mail.notices import Removal
from sanitizers.mail.options import MAIL_OPTIONS
from sanitizers.mail.structure import Entry, Walk, Walker, payload_bytes
from sanitizers.mail.verify import verify_message
from sanitizers.mail.writer import Part, attachment_part, message_part, multipart, text_part, write_message
from sanitizers.output import write_atomically


class MailRebuild(ContainerSanitizer):
    """E-mail (.eml) and Outlook messages (.msg), written anew as a .eml."""

    types: ClassVar[frozenset[str]] = frozenset({"eml", "msg"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = MAIL_OPTIONS

    def sanitize_container(
        self,
        untrusted_src: Path,
        dst: Path,
        options: Options,
        limits: Limits,
        process_member: MemberProcessor,
        name: str | None = None,
    ) -> Report:
        resolved = self.resolved_options(options)
        untrusted_data = limits.read_file(untrusted_src)
        report = Report("eml")
        if untrusted_data.startswith(OLE_MAGIC):
            untrusted_data = message_from_msg(untrusted_data, limits)
            report.add("mail.msg", "converted", 1, "Outlook .msg → .eml")
        message = parsed(untrusted_data)
        work = Path(tempfile.mkdtemp(prefix=".mukaika-mail-", dir=dst.parent))
        try:
            with tree_budget(limits) as budget:
                attachments = Attachments(work, process_member, budget)
                rebuilt = _Rebuild(resolved, limits, attachments, report).run(message)
            verify_message(rebuilt, resolved, limits)
            write_atomically(dst, rebuilt)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return report


def parsed(untrusted_data: bytes) -> Message:
    """The message as the ``email`` package reads it; one without a header block is not one."""
    try:
        message = email.message_from_bytes(untrusted_data, policy=policy.default)
    except RecursionError:
        raise LimitError("mail.limit", "structure nested too deeply to parse") from None
    if not message.keys():
        raise MalformedError("mail.malformed", "no header fields")
    return message


@dataclass
class _Rebuild:
    options: Mapping[str, OptionValue]
    limits: Limits
    attachments: Attachments
    report: Report
    removed: list[Removal] = field(default_factory=list)
    links: Counter[str] = field(default_factory=Counter)
    controls: int = 0
    released: int = 0
    inline_attached: int = 0

    @property
    def link_option(self) -> str:
        return str(self.options["links"])

    def run(self, message: Message) -> bytes:
        headers = read_headers(message.raw_items(), self.options["received"] == "keep")
        if not headers.values.identifies_a_message:
            raise MalformedError("mail.malformed", "no usable From, Date or Message-ID")
        walk = Walker(self.limits, prefer_plain=self.options["html"] == "text").run(message)
        self._report_headers(headers)
        self._report_walk(walk)
        after = [part for entry in walk.entries if (part := self._entry(entry)) is not None]
        parts = [self._body(walk), *after]
        self._report_links()
        sanitized = self._sanitized_field(walk)
        return write_message(headers.values.lines(), sanitized, multipart("mixed", parts))

    # ── body ──

    def _body(self, walk: Walk) -> Part:
        codec = "utf-8" if self.options["encoding"] == "utf-8" else None
        texts: list[str] = []
        for part in walk.plain:
            decoded = body.decoded_text(part)
            codec = codec or decoded.codec
            texts.append(self._plain(decoded))
        pages = [body.decoded_html(part) for part in walk.html]
        if pages:
            codec = codec or pages[0].codec
        sanitise = self.options["html"] == "sanitise"
        if pages and not walk.plain:
            converted = [self._converted(page) for page in pages]
            texts += converted
            if not sanitise:
                self.report.add("mail.html", "converted", len(pages), "HTML body → text")
        notice = notices.top_notice(self.removed)
        plain, used = text_part(
            self._treated(notice + "\n\n".join(t.strip("\n") for t in texts) + "\n"), codec or "utf-8"
        )
        self.report.add("text.encoding", "kept" if used == (codec or "utf-8") else "converted", 1, "body")
        if not (pages and sanitise):
            return plain
        rebuilt = self._rebuilt_html(notice, pages)
        return multipart("alternative", [plain, text_part(rebuilt, "utf-8", "html")[0]])

    def _plain(self, decoded: body.DecodedPart) -> str:
        text, controls = body.clean_text(decoded.text)
        self.controls += controls
        if decoded.repaired:
            self.report.add("text.encoding", "repaired", 1, "undecodable bytes replaced")
        return text

    def _converted(self, page: body.DecodedPart) -> str:
        text, found = page_text(page.text)
        if self.options["html"] == "text":
            for construct, count in sorted(found.items()):
                self.report.add(construct, "removed", count, "HTML body")
        return self._plain(body.DecodedPart(text, page.codec, page.repaired))

    def _rebuilt_html(self, notice: str, pages: list[body.DecodedPart]) -> str:
        preface = "".join(f"<p>{_escaped(line)}</p>" for line in notice.splitlines() if line)
        rebuilt, found = body.html_rebuilt(preface + "".join(page.text for page in pages), self.link_option)
        for construct, count in sorted(found.items()):
            self.report.add(construct, "removed", count, "HTML body")
        self.report.add("mail.html", "kept", 1, "rebuilt from the allow-list")
        return rebuilt

    def _treated(self, text: str) -> str:
        treated, counts = urls.treat_links(text, self.link_option)
        self.links += counts
        return treated

    # ── attachments, nested messages, inline images, further text ──

    def _entry(self, entry: Entry) -> Part | None:
        if entry.kind == "text":
            decoded = body.decoded_text(entry.part)
            return text_part(self._treated(self._plain(decoded)), self._codec_for(decoded))[0]
        kind = "inline_image" if entry.kind == "inline_image" else "attachment"
        name = clean_name(entry.name)
        if name is None:
            return self._refused(Removal(kind, entry.name, "mail.unsafe_name", "the name hides characters"))
        if kind == "inline_image" and self.options["inline_images"] == "remove":
            self.removed.append(Removal(kind, name))
            self.report.add("mail.inline_image", "removed", 1, name)
            return None
        if kind == "attachment" and self.options["attachments"] == "remove":
            return self._refused(Removal(kind, name, "mail.attachment_removed", "attachments = remove"))
        result = self.attachments.judge(payload_bytes(entry.part), name)
        if not result.released or result.output_path is None or not result.output_name:
            code = result.reason_code or "sanitizer.crash"
            return self._refused(Removal(kind, name, code, result.reason_message or ""))
        for finding in result.findings:
            where = f"{name}: {finding.location}" if finding.location else name
            self.report.add(finding.construct, finding.action, finding.count, where)
        data = result.output_path.read_bytes()
        result.output_path.unlink()
        if kind == "inline_image":
            self.inline_attached += 1
            self.report.add("mail.inline_image", "attached", 1, name)
        else:
            self.released += 1
        if result.output_type == "eml":
            return message_part(data, result.output_name)
        return attachment_part(data, result.output_name, result.output_type or "")

    def _refused(self, removal: Removal) -> Part:
        self.removed.append(removal)
        self.report.add(f"mail.{removal.kind}", "dropped", 1, f"{removal.name} ({removal.code})")
        return text_part(self._treated(notices.removal_note(removal)), "utf-8")[0]

    def _codec_for(self, decoded: body.DecodedPart) -> str:
        return "utf-8" if self.options["encoding"] == "utf-8" else decoded.codec

    # ── what was done ──

    def _report_headers(self, headers: ReadHeaders) -> None:
        if headers.removed:
            self.report.add("mail.header", "removed", len(headers.removed), ", ".join(headers.removed)[:300])
        kept = len(headers.values.received)
        self.report.add("mail.received", "kept", kept)
        self.report.add("mail.received", "removed", headers.received - kept)
        self.report.add("mail.header_encoding", "repaired", headers.repaired)

    def _report_walk(self, walk: Walk) -> None:
        if walk.signatures:
            self.removed.append(Removal("signature"))
            self.report.add("mail.signature", "removed", walk.signatures)
        if walk.html_dropped:
            self.report.add("mail.html", "removed", walk.html_dropped, "a plain version of the body was kept")
        for ctype in walk.alternatives_dropped:
            self.removed.append(Removal("part", ctype))
            self.report.add("mail.alternative", "removed", 1, ctype)

    def _report_links(self) -> None:
        actions = {"neutralised": "neutralised", "removed": "removed", "kept": "kept"}
        for key, action in actions.items():
            self.report.add("mail.link", action, self.links[key])
        self.report.add("text.control_characters", "removed", self.controls)

    def _sanitized_field(self, walk: Walk) -> str:
        if walk.html and self.options["html"] == "sanitise":
            state = "sanitised-html"
        elif walk.html and not walk.plain:
            state = "converted-html"
        elif walk.html_dropped:
            state = "html-removed"
        else:
            state = "text"
        refused = sum(1 for r in self.removed if r.kind == "attachment")
        tokens = [
            f"{state};",
            f"links-{self.link_option};",
            f"attachments={self.released} sanitised,",
            f"{refused} removed",
        ]
        if walk.signatures:
            tokens[-1] += ";"
            tokens.append("signature-removed")
        images_removed = sum(1 for r in self.removed if r.kind == "inline_image")
        if self.inline_attached or images_removed:
            tokens[-1] += ";"
            tokens += [f"inline-images={self.inline_attached} attached,", f"{images_removed} removed"]
        return " ".join(tokens)


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
