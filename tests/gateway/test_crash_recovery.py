"""Kill -9 at random moments while 200 files are processed: nothing is lost or doubled."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from tests.gateway.daemon_harness import RunningGateway, png_bytes

pytestmark = pytest.mark.slow

FILES = 200
KILLS = 20
SECRET = "do-not-leak-this-metadata"


def drop_inputs(inbox: Path) -> dict[str, str]:
    """200 mixed inputs; returns name → expected verdict."""
    inbox.mkdir(parents=True, exist_ok=True)
    expected = {}
    for i in range(FILES):
        if i % 5 == 4:
            name = f"tool-{i:03}.exe"
            (inbox / name).write_bytes(b"MZ" + i.to_bytes(2, "big") * 40)
            expected[name] = "rejected"
        else:
            name = f"photo-{i:03}.png"
            (inbox / name).write_bytes(png_bytes((i % 256, 7, 9), text=SECRET))
            expected[name] = "released"
    return expected


def test_random_sigkills_keep_the_no_loss_invariant(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    gateway = RunningGateway(tmp_path, settle=0.1, rescan=1.0)
    expected = drop_inputs(gateway.inbox)
    for _ in range(KILLS):
        gateway.start()
        time.sleep(rng.uniform(0.05, 0.8))
        gateway.kill()
    with gateway:
        gateway.wait_for(lambda: len(gateway.files(gateway.outbox) + gateway.files(gateway.rejected)) >= FILES,
                         240, f"{FILES} outcomes")  # fmt: skip
        gateway.wait_for(lambda: not gateway.files(gateway.inbox), 30, "an empty inbox")
    released = gateway.files(gateway.outbox)
    reasons = [name.removesuffix(".reason.txt") for name in gateway.files(gateway.rejected)]

    # every input ends in exactly one final place, under its own name: nothing lost, nothing doubled
    assert sorted(released + reasons) == sorted(expected)
    assert all(expected[name] == "released" for name in released)
    interrupted = []
    for name in reasons:  # refused by policy, or for being in flight at too many kills
        reason = (gateway.rejected / f"{name}.reason.txt").read_text(encoding="utf-8-sig")
        if "interrupted" in reason and "worker.crash" in reason:
            interrupted.append(name)
        else:
            assert expected[name] == "rejected" and "policy.reject" in reason, name
    assert len(interrupted) <= FILES // 10, interrupted
    # nothing reached the outbox unsanitised
    for name in released:
        assert SECRET.encode() not in (gateway.outbox / name).read_bytes()
    # the journal agrees: one final row per input, nothing left in flight, no stray files
    db = sqlite3.connect(gateway.spool / "journal.sqlite")
    rows = db.execute("SELECT name, state FROM transfers").fetchall()
    assert sorted(name for name, _ in rows) == sorted(expected)
    assert {state for _, state in rows} <= {"released", "rejected"}
    assert list((gateway.spool / "incoming").iterdir()) == []
    assert list((gateway.spool / "work").iterdir()) == []
    assert len(list((gateway.spool / "originals").iterdir())) == FILES
    hidden = [
        p.name for d in (gateway.outbox, gateway.rejected) for p in d.iterdir() if p.name.startswith(".")
    ]
    assert hidden == []
