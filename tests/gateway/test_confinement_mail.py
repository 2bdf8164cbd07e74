"""Mail inside the walls: messages and Outlook items sanitised and verified by real confined
workers (extract-msg reads the time zone, the HTML rebuild and the attachments' own
sanitisers run in the same worker), so each kind runs here once end to end."""

from __future__ import annotations

import asyncio
import email
import sys
from email import policy
from pathlib import Path

import pytest

from gateway.isolation.job import Job
from gateway.isolation.provider import ZygoteProvider
from sanitizers.base import Limits
from sanitizers.pipeline import Rule
from tests.sanitizers import mail_builders as mb

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="confinement is Linux's")

_REBUILD = Rule(("rebuild",))
RULES = {t: _REBUILD for t in ("eml", "msg", "xlsx", "xlsm", "docx", "docm", "zip", "txt", "png")}


def run(tmp_path: Path, data: bytes, name: str) -> email.message.Message:
    staged = tmp_path / "staged"
    staged.write_bytes(data)
    result = asyncio.run(ZygoteProvider(1).run(Job("t1", staged, name, tmp_path / "work", RULES, Limits())))
    assert (result.verdict, result.reason_code) == ("released", None), result.reason_message
    assert result.output_path is not None
    return email.message_from_bytes(result.output_path.read_bytes(), policy=policy.default)


def test_messages_and_outlook_items_are_rebuilt_and_verified_inside_the_walls(tmp_path: Path) -> None:
    for index, (name, data) in enumerate(
        {
            "japanese.eml": mb.japanese_mail(tmp_path),
            "nested.eml": mb.nested_mail(tmp_path),
            "outlook.msg": mb.outlook_item(tmp_path, "<p>本文</p>"),
        }.items()
    ):
        folder = tmp_path / f"{index}"
        folder.mkdir()
        message = run(folder, data, name)
        assert message["X-Mukaika-Sanitized"] is not None, name
        assert any(part.get_filename() for part in message.iter_parts()), name
