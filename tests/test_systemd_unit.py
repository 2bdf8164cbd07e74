"""The shipped unit is hardened (systemd's own score) without breaking what workers need."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

UNIT = Path(__file__).parents[1] / "systemd" / "mukaika.service"


def directives(name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", UNIT.read_text(encoding="utf-8"), re.M)


def test_systemd_rates_the_unit_at_most_2_0() -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_workers_can_still_set_their_own_limits_and_keep_no_network() -> None:
    denied = " ".join(d for d in directives("SystemCallFilter") if d.startswith("~"))
    assert "@resources" not in denied  # setrlimit/prlimit for every worker
    assert directives("PrivateNetwork") == ["yes"] and directives("IPAddressDeny") == ["any"]
    assert directives("NoNewPrivileges") == ["yes"] and directives("UMask") == ["0077"]
    assert directives("User") == ["mukaika"]
