"""Kill -9 at random moments while 200 files are processed: nothing is lost or doubled."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.gateway.daemon_harness import RunningGateway, png_bytes
from tests.gateway.invariants import GatewayDirs, no_loss_violations, outcomes

pytestmark = pytest.mark.slow

FILES = 200
KILLS = 20
SECRET = "do-not-leak-this-metadata"


def drop_inputs(inbox: Path) -> dict[str, str]:
    """200 mixed inputs; returns name → "released" or the expected reason code."""
    inbox.mkdir(parents=True, exist_ok=True)
    expected = {}
    for i in range(FILES):
        if i % 5 == 4:
            name = f"tool-{i:03}.exe"
            (inbox / name).write_bytes(b"MZ" + i.to_bytes(2, "big") * 40)
            expected[name] = "policy.reject"
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
    # the journal agrees with the directories, nothing unsanitised is out, nothing left in flight;
    # a file may be refused for being in flight at too many kills, but only a few
    dirs = GatewayDirs(gateway.spool, gateway.inbox, gateway.outbox, gateway.rejected)
    assert no_loss_violations(dirs, expected, tolerated={"worker.crash"}, canary=SECRET.encode()) == []
    interrupted = [
        name for name, found in outcomes(gateway.spool).items() if found[0].reason_code == "worker.crash"
    ]
    assert len(interrupted) <= FILES // 10, interrupted
    assert len(list((gateway.spool / "originals").iterdir())) == FILES
