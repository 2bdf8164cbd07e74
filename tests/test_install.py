"""`make install-files` stages a unit, users, directories and a config that agree with each other;
`make install` puts them in place with the program, again and again, and `make uninstall` takes
them away but the state."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load_config
from sanitizers.registry import default_registry

ROOT = Path(__file__).parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_staged_installation_is_consistent(tmp_path: Path) -> None:
    subprocess.run(["make", "-s", "install-files", f"DESTDIR={tmp_path}"], cwd=ROOT, check=True, timeout=60)
    config = load_config(str(tmp_path / "etc/mukaika/mukaika.toml"), default_registry())
    unit = (tmp_path / "etc/systemd/system/mukaika.service").read_text(encoding="utf-8")
    writable = [Path(p) for p in re.search(r"^ReadWritePaths=(.*)$", unit, re.M).group(1).split()]  # type: ignore[union-attr]
    created = {Path(line.split()[1]) for line in (tmp_path / "etc/tmpfiles.d/mukaika.conf").read_text().splitlines()
               if line.startswith("d ")}  # fmt: skip
    directories = [config.gateway.spool_dir] + [
        d for c in config.channels for d in (c.inbox, c.outbox, c.rejected)
    ]
    for directory in directories:
        assert directory.is_absolute(), directory
        assert any(directory == w or w in directory.parents for w in writable), f"{directory} is read-only"
    for channel in config.channels:
        assert {channel.inbox, channel.outbox, channel.rejected} <= created
    assert "--config /etc/mukaika/mukaika.toml" in unit
    users = [line.split()[:2] for line in (tmp_path / "etc/sysusers.d/mukaika.conf").read_text().splitlines()
             if line and not line.startswith("#")]  # fmt: skip
    assert users == [["u", "mukaika"]]


def test_an_existing_config_is_never_overwritten(tmp_path: Path) -> None:
    config = tmp_path / "etc/mukaika/mukaika.toml"
    config.parent.mkdir(parents=True)
    config.write_text("# the admin's own\n")
    subprocess.run(["make", "-s", "install-files", f"DESTDIR={tmp_path}"], cwd=ROOT, check=True, timeout=60)
    assert config.read_text() == "# the admin's own\n"


def test_every_python_package_is_listed_for_installation() -> None:
    """A package missing from pyproject works from the checkout but not from `make install`."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("gateway", "sanitizers")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= listed, f"not installed: {sorted(on_disk - listed)}"


# `make install` itself, into a throw-away root: systemd is said to run there (run/systemd/system)
# and `systemctl` is a stub that records its arguments; `python3` on PATH is one that must not be
# used. It builds a real virtual environment, packages from PyPI: about a minute per run.
STUB_SYSTEMCTL = '#!/bin/sh\necho "$*" >> "$(dirname "$0")/systemctl.calls"\nexit "${SYSTEMCTL_EXIT:-0}"\n'
STUB_PYTHON3 = '#!/bin/sh\necho "python3 from PATH was used" >&2\nexit 1\n'


@dataclasses.dataclass(frozen=True)
class Installs:
    root: Path
    first: subprocess.CompletedProcess[str]  # systemctl daemon-reload failing
    first_interpreter: str  # pyvenv.cfg's executable after the first run
    second: subprocess.CompletedProcess[str]  # over the first, PYTHON= another interpreter
    key_before: bytes
    config_before: str
    systemctl_calls: list[str]
    other_python: Path


def make_install(*args: str, stubs: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`make install` as an admin runs it: not under the test's own make, whose flags would leak in."""
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    environ.update(env, PATH=f"{stubs}:{environ['PATH']}")
    return subprocess.run(["make", "-s", *args], cwd=ROOT, env=environ, capture_output=True, text=True,
                          check=False, timeout=900)  # fmt: skip


def stub_bin(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
        (directory / name).chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installs]:
    root = tmp_path_factory.mktemp("root")
    (root / "run/systemd/system").mkdir(parents=True)
    stubs = stub_bin(tmp_path_factory.mktemp("stubs"), {"systemctl": STUB_SYSTEMCTL, "python3": STUB_PYTHON3})
    # an interpreter of its own that the service user can run: outside pytest's private temp folder
    other = Path(tempfile.mkdtemp(prefix="mukaika-python-", dir="/tmp"))
    other.chmod(0o755)
    shutil.copy2(os.path.realpath("/usr/bin/python3"), other / "python3")
    try:
        first = make_install("install", f"DESTDIR={root}", stubs=stubs, SYSTEMCTL_EXIT="1")
        assert (root / "etc/mukaika/originals.key").exists(), first.stdout + first.stderr
        key, config = (
            (root / "etc/mukaika/originals.key").read_bytes(),
            (root / "etc/mukaika/mukaika.toml").read_text(),
        )
        cfg = (root / "opt/mukaika/.venv/pyvenv.cfg").read_text()
        interpreter = re.search(r"^executable = (.*)$", cfg, re.M).group(1)  # type: ignore[union-attr]
        second = make_install("install", f"DESTDIR={root}", f"PYTHON={other / 'python3'}", stubs=stubs)
        calls = (stubs / "systemctl.calls").read_text().splitlines()
        yield Installs(root, first, interpreter, second, key, config, calls, other / "python3")
    finally:
        shutil.rmtree(other)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_failing_daemon_reload_fails_the_installation(installs: Installs) -> None:
    assert installs.first.returncode != 0, installs.first.stdout
    assert installs.systemctl_calls == ["daemon-reload", "daemon-reload"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_by_default_the_service_runs_on_the_systems_python_not_the_one_on_roots_path(
    installs: Installs,
) -> None:
    assert "python3 from PATH was used" not in installs.first.stderr
    assert installs.first_interpreter == os.path.realpath("/usr/bin/python3")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_install_runs_again_over_itself(installs: Installs) -> None:
    root = installs.root
    assert installs.second.returncode == 0, installs.second.stdout + installs.second.stderr
    assert (root / "etc/mukaika/originals.key").read_bytes() == installs.key_before
    assert (root / "etc/mukaika/mukaika.toml").read_text() == installs.config_before
    assert sum(line.startswith("mukaika:") for line in (root / "etc/passwd").read_text().splitlines()) == 1
    assert sorted(p.name for p in (root / "opt/mukaika").iterdir()) == [".venv"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_python_names_another_interpreter_for_the_service(installs: Installs) -> None:
    venv = installs.root / "opt/mukaika/.venv"
    assert (venv / "bin/python").resolve() == installs.other_python.resolve()
    # every path the environment names is where the service finds it, not where it was built
    named = [(venv / "pyvenv.cfg").read_text()] + [
        p.read_text(errors="replace") for p in (venv / "bin").iterdir() if p.is_file() and not p.is_symlink()
    ]
    assert not [text for text in named if str(installs.root) in text]
    assert (venv / "bin/mukaika").read_text().startswith("#!/opt/mukaika/.venv/bin/python")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_installation_has_its_command_documentation_user_and_folders(installs: Installs) -> None:
    root = installs.root
    command = root / "usr/local/bin/mukaika"
    assert command.resolve() == (root / "opt/mukaika/.venv/bin/mukaika").resolve()
    python = root / "opt/mukaika/.venv/bin/python"
    version = subprocess.run(
        [python, command, "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert version.stdout.strip() == f"mukaika {VERSION}"
    for unit in (root / "etc/systemd/system").glob("mukaika*"):
        for uri in re.findall(r"^Documentation=(.*)$", unit.read_text(), re.M):
            for document in uri.split():
                if document.startswith("file://"):
                    assert (root / document.removeprefix("file:///")).is_file(), f"{unit.name}: {document}"
    unit = (root / "etc/systemd/system/mukaika.service").read_text()
    assert "ExecStart=/opt/mukaika/.venv/bin/mukaika run" in unit
    assert [p for p in re.findall(r"^Exec\w+=(/opt/\S+)", unit, re.M) if not (root / p[1:]).is_file()] == []
    uid = next(int(line.split(":")[2]) for line in (root / "etc/passwd").read_text().splitlines()
               if line.startswith("mukaika:"))  # fmt: skip
    for private in ("etc/mukaika/originals.key", "etc/mukaika/users.toml"):
        mode = (root / private).stat()
        assert (mode.st_uid, stat.S_IMODE(mode.st_mode)) == (uid, 0o600), private
    assert (root / "srv/mukaika/internet-to-lgwan/inbox").stat().st_uid == uid


def test_an_interpreter_the_service_user_cannot_run_is_refused_before_anything_is_installed(
    tmp_path: Path,
) -> None:
    """A pyenv interpreter under /root installs fine, then the service fails at every start."""
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    shutil.copy2(os.path.realpath("/usr/bin/python3"), private / "python3")
    root = tmp_path / "root"
    stubs = stub_bin(tmp_path / "stubs", {"systemctl": STUB_SYSTEMCTL})
    result = make_install("install", f"DESTDIR={root}", f"PYTHON={private / 'python3'}", stubs=stubs)
    assert result.returncode != 0
    assert "cannot be run by an unprivileged user" in result.stderr
    assert not root.exists() or not any(root.iterdir())


def test_uninstall_keeps_the_config_and_state_unless_asked_and_the_shares_always(tmp_path: Path) -> None:
    root = tmp_path / "root"
    subprocess.run(["make", "-s", "install-files", f"DESTDIR={root}"], cwd=ROOT, check=True, timeout=60)
    (root / "opt/mukaika/.venv/bin").mkdir(parents=True)
    for kept in ("var/lib/mukaika/spool/journal.sqlite", "srv/mukaika/internet-to-lgwan/outbox/report.pdf"):
        (root / kept).parent.mkdir(parents=True, exist_ok=True)
        (root / kept).write_text("kept")
    # the admin enabled it (offline, in that root, as systemctl --root does)
    subprocess.run(["systemctl", f"--root={root}", "enable", "mukaika.service"], check=True, capture_output=True,
                   timeout=60)  # fmt: skip
    assert (root / "etc/systemd/system/multi-user.target.wants/mukaika.service").is_symlink()

    for _ in range(2):  # a second run finds nothing left to remove
        subprocess.run(["make", "-s", "uninstall", f"DESTDIR={root}"], cwd=ROOT, check=True, timeout=60)
    left = {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}
    assert {"etc/mukaika/mukaika.toml", "etc/mukaika/originals.key", "etc/mukaika/users.toml",
            "var/lib/mukaika/spool/journal.sqlite", "srv/mukaika/internet-to-lgwan/outbox/report.pdf"} <= left  # fmt: skip
    assert not [name for name in left if "systemd" in name or "mukaika.conf" in name], left
    assert not (root / "etc/systemd/system/multi-user.target.wants/mukaika.service").is_symlink()
    assert not (root / "opt/mukaika").exists() and not (root / "usr/local/bin/mukaika").exists()
    assert not (root / "usr/share/doc/mukaika").exists()

    subprocess.run(
        ["make", "-s", "uninstall", f"DESTDIR={root}", "PURGE=yes"], cwd=ROOT, check=True, timeout=60
    )
    assert not (root / "etc/mukaika").exists() and not (root / "var/lib/mukaika").exists()
    assert (root / "srv/mukaika/internet-to-lgwan/outbox/report.pdf").read_text() == "kept"
