"""Our Landlock binding: the rights each ABI version handles, and rules that hold in a real process."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.isolation import landlock
from gateway.isolation.landlock import READ, Fs, LandlockUnavailableError, Ruleset, fs_rights_of

V1_RIGHTS = (
    Fs.EXECUTE | Fs.WRITE_FILE | Fs.READ_FILE | Fs.READ_DIR | Fs.REMOVE_DIR | Fs.REMOVE_FILE | Fs.MAKE_CHAR
    | Fs.MAKE_DIR | Fs.MAKE_REG | Fs.MAKE_SOCK | Fs.MAKE_FIFO | Fs.MAKE_BLOCK | Fs.MAKE_SYM
)  # fmt: skip


@pytest.mark.parametrize(
    ("abi", "expected"),
    [
        (1, V1_RIGHTS),
        (2, V1_RIGHTS | Fs.REFER),
        (3, V1_RIGHTS | Fs.REFER | Fs.TRUNCATE),
        (4, V1_RIGHTS | Fs.REFER | Fs.TRUNCATE),  # ABI 4 added TCP rules, no filesystem right
        (5, V1_RIGHTS | Fs.REFER | Fs.TRUNCATE | Fs.IOCTL_DEV),
        (7, V1_RIGHTS | Fs.REFER | Fs.TRUNCATE | Fs.IOCTL_DEV),
    ],
)
def test_each_abi_handles_the_rights_its_kernel_knows(abi: int, expected: Fs) -> None:
    assert fs_rights_of(abi) == expected


def test_this_kernel_has_landlock() -> None:
    assert landlock.abi_version() >= 1  # confinement = "full" (the default) needs it


def test_without_landlock_restricting_is_refused_not_skipped() -> None:
    with pytest.raises(LandlockUnavailableError):
        Ruleset(0).restrict_self()


def in_restricted_child(ruleset: Ruleset, probe: Callable[[], list[str]]) -> list[str]:
    """Restrict a forked child with ``ruleset``, run ``probe`` there, and return what it found."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            ruleset.restrict_self()
            report = "\n".join(probe())
        except BaseException as exc:  # the parent sees it as a failed probe
            report = f"crashed: {exc!r}"
        os.write(write_end, report.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(pid, 0)
    return report.split("\n")


def attempt(action: Callable[[], object]) -> str:
    try:
        action()
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]
    return "ok"


@pytest.mark.parametrize("abi", sorted({1, 2, 3, landlock.abi_version()}))
def test_rules_grant_exactly_what_they_say(tmp_path: Path, abi: int) -> None:
    """Applied as an older kernel would (its ABI), the rules still hold: an old kernel is safe too."""
    readable, writable, elsewhere = (tmp_path / n for n in ("readable", "writable", "elsewhere"))
    for directory in (readable, writable, elsewhere):
        directory.mkdir()
        (directory / "file").write_text("x")
    lone_file = tmp_path / "lone"
    lone_file.write_text("y")
    ruleset = Ruleset(abi)
    ruleset.allow(READ, readable)
    ruleset.allow(READ | Fs.WRITE_FILE | Fs.MAKE_REG, writable)
    ruleset.allow(READ | Fs.MAKE_REG, lone_file)  # directory rights on a file are dropped, not an error

    def probe() -> list[str]:
        return [
            attempt(lambda: (readable / "file").read_text()),
            attempt(lambda: (readable / "new").write_text("z")),
            attempt(lambda: (writable / "new").write_text("z")),
            attempt(lambda: (elsewhere / "file").read_text()),
            attempt(lambda: os.listdir(elsewhere)),
            attempt(lambda: lone_file.read_text()),
        ]

    assert in_restricted_child(ruleset, probe) == ["ok", "EACCES", "ok", "EACCES", "EACCES", "ok"]
