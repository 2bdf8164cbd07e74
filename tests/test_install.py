"""`make install-files` stages a unit, users, directories and a config that agree with each other."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from gateway.config import load_config
from sanitizers.registry import default_registry

ROOT = Path(__file__).parents[1]


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
