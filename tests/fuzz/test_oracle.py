"""The fuzz oracle tells every bad outcome from a release or a refusal.

A sanitiser that misbehaves on purpose stands in for the registry's (the child is forked,
so it sees the patched registry) and each kind of bug must come back as one.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import time
from pathlib import Path

import pytest

from sanitizers.base import GiB, Limits, Options, Registry, Report, Sanitizer
from sanitizers.errors import MalformedError, VerifyError
from sanitizers.text import TextRebuild
from tests.fuzz import oracle
from tests.fuzz.oracle import EntryPoint, judge

TEXT = EntryPoint("txt", "rebuild")
QUICK = Limits(timeout_seconds=2.0)


class Misbehaving(Sanitizer):
    types = frozenset({"txt"})
    method = "rebuild"

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        if self.behaviour == "raise":
            raise KeyError("a parser bug")
        if self.behaviour == "hang":
            time.sleep(60)
        if self.behaviour == "memory":
            bytearray(4 * GiB)
        if self.behaviour == "segfault":
            faulthandler.disable()  # its traceback of this deliberate crash would only be noise
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.behaviour == "verify":
            raise VerifyError("text.verify_failed", "a control character survived")
        if self.behaviour == "leave_output":
            dst.write_bytes(b"half")
            raise MalformedError("text.encoding", "refused after writing")
        if self.behaviour == "refuse":
            raise MalformedError("text.encoding", "not text")
        report = Report("txt")
        if self.behaviour == "wrong_type":
            dst.write_bytes(
                b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
            )
        else:  # "never_clean": finds something to remove in its own output, every time
            dst.write_bytes(untrusted_src.read_bytes())
            report.add("text.control_character", "removed")
        return report


@pytest.mark.parametrize(
    ("behaviour", "outcome", "detail"),
    [
        ("raise", "bug", "KeyError: 'a parser bug'"),
        ("hang", "bug", "hang"),
        ("memory", "bug", "memory"),
        ("segfault", "bug", "SIGSEGV"),
        ("verify", "bug", "its own verification"),
        ("leave_output", "bug", "left the output behind"),
        ("wrong_type", "bug", "does not re-detect"),
        ("never_clean", "bug", "still finds"),
        ("refuse", "refused", "not text"),
    ],
)
def test_each_outcome_is_told_apart(
    behaviour: str, outcome: str, detail: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oracle, "REGISTRY", Registry([Misbehaving(behaviour)]))
    verdict = judge(TEXT, "ただのテキスト\n".encode(), QUICK)
    assert verdict.outcome == outcome
    assert detail in verdict.detail


def test_a_clean_release_is_a_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oracle, "REGISTRY", Registry([TextRebuild()]))
    assert judge(TEXT, "ただのテキスト\n".encode(), QUICK) == oracle.Verdict("released", "txt")
