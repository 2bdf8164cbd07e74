"""A refusal's detail reaches staff without server paths, spool names or library internals:
in the reason file, the console, the relay's notice and the list of members taken out of an
archive; the journal keeps it whole for operators."""

from __future__ import annotations

import email
import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import pytest

from gateway.config import ChannelPolicy
from gateway.isolation.job import WorkerResult
from gateway.reasons import reason_text, staff_reason
from gateway.smtp.notices import refusal_notice
from gateway.smtp.queue import QueuedMail, Recipient
from sanitizers.archives import ZipRebuild
from sanitizers.archives.members import REMOVED_LIST_NAME
from sanitizers.base import Limits, Options, Registry, Report, Sanitizer
from sanitizers.details import staff_detail
from sanitizers.errors import MalformedError
from sanitizers.pipeline import Rule, process_file
from tests.gateway.console_env import Browser, ConsoleEnv, run_console

SPOOL_DETAIL = (
    "qpdf cannot open it: /var/lib/mukaika/spool/incoming/20250401T091500-0a1b2c3d/keikaku.pdf:"
    " root of pages tree has no /Kids array"
)
STAFF_DETAIL = "qpdf cannot open it: …: root of pages tree has no /Kids array"


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        (SPOOL_DETAIL, STAFF_DETAIL),
        ("/tmp/w/attempt-1/output-rebuild (object 3 0): loop in /Pages", "… (object 3 0): loop in /Pages"),
        ("clamd at /run/clamav/clamd.ctl: [Errno 2] No such file", "clamd at …: [Errno 2] No such file"),
        ("No such file or directory: '/usr/bin/soffice'", "No such file or directory: '…'"),
        ("cannot open:/srv/mukaika/in/a.pdf", "cannot open:…"),
        (
            "see file:///etc/passwd and https://example.jp/a/b",
            "see file:///etc/passwd and https://example.jp/a/b",
        ),
        ("var/mukaika/spool/work/x/member-3: bad", "…: bad"),  # a spool configured as a relative path
        ("staged as 20250401T091500-0a1b2c3d/keikaku.pdf", "staged as …"),
        ("KeyError: <pikepdf.Object at 0x7f3a2b1c0d90>", "KeyError: …"),
        ('File "/opt/mukaika/.venv/lib/python3.11/site-packages/x.py", line 3, in f', "…"),
        ("two\nlines\x00 and\u202econtrols", "two lines and controls"),
        # what the file itself says stays: PDF names, member names, relative and parent paths
        ("/Type/Catalog has no /Pages", "/Type/Catalog has no /Pages"),
        ("word/document.xml: not well-formed", "word/document.xml: not well-formed"),
        ("'../../tmp/evil.txt': parent path component", "'../../tmp/evil.txt': parent path component"),
        ("", ""),
        (None, ""),
    ],
)
def test_staff_detail_takes_out_server_paths_and_internals(detail: str | None, shown: str) -> None:
    assert staff_detail(detail) == shown


def test_a_long_detail_is_cut_with_a_mark() -> None:
    shown = staff_detail("x" * 2000)
    assert len(shown) == 500 and shown.endswith("…")


def test_the_reason_text_names_the_code_the_catalogue_and_the_scrubbed_detail() -> None:
    text = reason_text(name="keikaku.pdf", transfer_id="t-1", code="pdf.malformed", detail=SPOOL_DETAIL)
    assert STAFF_DETAIL in text and "/var/lib" not in text and "spool" not in text
    assert "PDFの構造が壊れていて修復できません。" in text
    unknown = staff_reason("no.such_code", "x")
    assert unknown.code == "no.such_code" and unknown.text == staff_reason("sanitizer.crash", "").text


def test_a_crafted_refusal_reaches_staff_scrubbed_and_operators_whole(tmp_path: Path) -> None:
    env = ConsoleEnv(tmp_path)
    env.add_users(op="operator")
    transfer_id = env.finished_transfer(b"%PDF-1.4 damaged", name="keikaku.pdf")
    env.journal.update(transfer_id, state="sanitising", finished=None)
    env.processor._plan_outcome(transfer_id, WorkerResult.refused("pdf.malformed", SPOOL_DETAIL))
    env.processor._finish(transfer_id)

    reason_file = (env.rejected / "keikaku.pdf.reason.txt").read_text(encoding="utf-8-sig")
    assert STAFF_DETAIL in reason_file and "/var/lib" not in reason_file
    transfer = env.journal.get(transfer_id)
    assert transfer.state == "rejected" and transfer.reason_message == SPOOL_DETAIL  # for operators

    pages: list[str] = []

    async def scenario(browser: Callable[[], Awaitable[Browser]]) -> None:
        op = await browser()
        await op.login("op")
        for path in (f"/transfers/{transfer_id}", f"/transfers/{transfer_id}?lang=en", "/", "/transfers"):
            pages.append((await op.get(path))[1])

    run_console(env, scenario)
    assert STAFF_DETAIL in pages[0] and all("/var/lib" not in page for page in pages)

    mail = QueuedMail(transfer_id, "sender@example.jp", (Recipient("tanaka@city.example.lg.jp"),), "見積書",
                      "<m@example.jp>", "192.0.2.1", 0.0, "queued", 0, 0.0)  # fmt: skip
    notice = email.message_from_bytes(refusal_notice(mail, transfer, sender="postmaster@gw", hostname="gw"))
    body = notice.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert STAFF_DETAIL in body and "/var/lib" not in body


class ReportsItsPath(Sanitizer):
    """A text sanitiser whose library names the file it could not read, as qpdf does."""

    types: ClassVar[frozenset[str]] = frozenset({"txt"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        raise MalformedError("type.malformed", f"cannot read {untrusted_src.absolute()}: damaged")


def test_a_members_refusal_is_listed_in_the_rebuilt_archive_without_its_path(tmp_path: Path) -> None:
    source = tmp_path / "docs.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("memo.txt", "hello\n")
    policy = ChannelPolicy({"zip": Rule(("rebuild",)), "txt": Rule(("rebuild",))})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome = process_file(
        source, "docs.zip", scratch, policy, Limits(), Registry([ZipRebuild(), ReportsItsPath()])
    )
    assert outcome.verdict == "released" and outcome.output_path is not None
    with zipfile.ZipFile(io.BytesIO(outcome.output_path.read_bytes())) as rebuilt:
        listing = rebuilt.read(REMOVED_LIST_NAME).decode("utf-8-sig")
    assert "memo.txt" in listing and "cannot read …: damaged" in listing
    assert str(tmp_path) not in listing and str(tmp_path) not in json.dumps(
        [f.as_dict() for f in outcome.findings]
    )
