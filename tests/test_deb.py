"""`make deb`: a package that installs the gateway on Debian 12 as `make install` does.

Built once for the module (a virtual environment with packages from PyPI: half a minute or
more), then inspected, checked by lintian, unpacked into throw-away roots and its maintainer
scripts run there (DPKG_ROOT, as dpkg --root runs them), never installed on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
VENV = "usr/lib/mukaika/.venv"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def run(*argv: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    result = subprocess.run(["make", "-s", "deb", f"DEBDIR={out}"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, check=False, timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    arch = run("dpkg", "--print-architecture").stdout.strip()
    package = out / f"mukaika_{VERSION}_{arch}.deb"
    assert result.stdout.strip().splitlines()[-1] == str(package)
    return package


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unpacked")
    run("dpkg-deb", "-x", deb, root)
    return root


def test_the_package_holds_the_installation_in_debians_places(deb: Path) -> None:
    listing = run("dpkg-deb", "-c", deb).stdout.splitlines()
    entries = {line.split(None, 5)[5].removeprefix("./").split(" -> ")[0]: line for line in listing}
    for path in ("usr/lib/mukaika/.venv/bin/mukaika", "usr/bin/mukaika", "lib/systemd/system/mukaika.service",
                 "lib/systemd/system/mukaika-http.socket", "usr/lib/sysusers.d/mukaika.conf",
                 "usr/lib/tmpfiles.d/mukaika.conf", "etc/mukaika/mukaika.toml", "usr/share/doc/mukaika/README.md",
                 "usr/share/doc/mukaika/copyright", "usr/share/doc/mukaika/changelog.gz"):  # fmt: skip
        assert path in entries, path
    assert entries["usr/bin/mukaika"].endswith("-> ../lib/mukaika/.venv/bin/mukaika")
    assert all(line.split()[1] == "root/root" for line in listing)
    # each machine makes its own key and users file; Debian ships no byte code, nothing in /opt
    # and no unit where the admin's overrides go
    forbidden = re.compile(r"^(etc/mukaika/(originals\.key|users\.toml)|opt/|etc/systemd/|etc/(sysusers|tmpfiles)\.d/)"
                           r"|__pycache__|\.pyc$")  # fmt: skip
    assert not [path for path in entries if forbidden.search(path)]


def test_the_control_data_names_the_dependencies_conffiles_and_scripts(deb: Path, tmp_path: Path) -> None:
    fields = dict(re.findall(r"^(\S+): (.*)$", run("dpkg-deb", "-f", deb).stdout, re.M))
    assert (fields["Package"], fields["Version"]) == ("mukaika", VERSION)
    depends = {d.split()[0] for d in fields["Depends"].split(", ")}
    interpreter = Path(os.path.realpath("/usr/bin/python3")).name  # the venv links to python3.X itself
    assert {interpreter, "libc6", "libmagic1", "libarchive13", "libseccomp2", "systemd"} <= depends
    assert "libreoffice-writer-nogui" in fields["Recommends"] and "fonts-noto-cjk" in fields["Recommends"]
    run("dpkg-deb", "-e", deb, tmp_path / "DEBIAN")
    assert (tmp_path / "DEBIAN/conffiles").read_text().split() == ["/etc/mukaika/mukaika.toml"]
    for script in ("postinst", "prerm", "postrm"):
        path = tmp_path / "DEBIAN" / script
        assert path.stat().st_mode & stat.S_IXUSR, script
        assert "@UNITS@" not in path.read_text()
        run("sh", "-n", path)


def test_lintian_finds_no_errors(deb: Path) -> None:
    if shutil.which("lintian") is None:
        pytest.fail("lintian is missing: `make test` installs it", pytrace=False)
    result = subprocess.run(["lintian", "--tag-display-limit", "0", str(deb)], capture_output=True, text=True,
                            check=False, timeout=900)  # fmt: skip
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_apt_can_install_it_on_a_bare_debian(deb: Path, tmp_path: Path) -> None:
    """Simulated against an empty package database: every dependency, recommended ones too, exists."""
    status = tmp_path / "status"
    status.write_text("")
    result = subprocess.run(
        ["apt-get", "install", "--simulate", "-o", f"Dir::State::status={status}",
         "-o", "APT::Install-Recommends=true", str(deb)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    installs = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("Inst ")}
    assert {"mukaika", "libmagic1", "libreoffice-writer-nogui", "fonts-noto-cjk"} <= installs


def test_the_unpacked_package_runs(unpacked: Path, tmp_path: Path) -> None:
    venv = unpacked / VENV
    assert (venv / "bin/python").resolve() == Path(os.path.realpath("/usr/bin/python3"))
    assert (venv / "bin/mukaika").read_text().startswith(f"#!/{VENV}/bin/python")
    assert "/usr/lib/mukaika/.venv" in (venv / "pyvenv.cfg").read_text()
    version = run(venv / "bin/python", unpacked / "usr/bin/mukaika", "--version")
    assert version.stdout.strip() == f"mukaika {VERSION}"
    # the bundled compiled modules load: a picture made and rebuilt by the package's own Pillow
    picture = tmp_path / "red.png"
    run(
        venv / "bin/python",
        "-c",
        f"from PIL import Image; Image.new('RGB', (8, 8), 'red').save({str(picture)!r})",
    )
    released = run(venv / "bin/python", venv / "bin/mukaika", "sanitize", picture, "-o", tmp_path / "out.png")
    assert released.stdout.startswith("released")
    unit = (unpacked / "lib/systemd/system/mukaika.service").read_text()
    assert "ExecStart=/usr/lib/mukaika/.venv/bin/mukaika run --config /etc/mukaika/mukaika.toml" in unit
    assert "/opt/" not in unit
    for uri in re.findall(r"^Documentation=file:///(\S+)", unit, re.M):
        assert (unpacked / uri).is_file(), uri


STUB = '#!/bin/sh\necho "$(basename "$0") $*" >> "$(dirname "$0")/calls"\n'


class Scripts(NamedTuple):
    root: Path  # unpacked from the package
    control: Path  # postinst, prerm, postrm
    environ: dict[str, str]  # DPKG_ROOT=root, and systemd tools that only record what they are asked
    calls: Path

    def run(self, script: str, *args: str) -> None:
        run("sh", self.control / script, *args, env=self.environ)


@pytest.fixture
def scripts(deb: Path, unpacked: Path, tmp_path: Path) -> Scripts:
    """The maintainer scripts must not reach this machine's systemd: its tools are stubs here."""
    root = tmp_path / "root"
    shutil.copytree(unpacked, root, symlinks=True)
    run("dpkg-deb", "-e", deb, tmp_path / "DEBIAN")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for tool in ("deb-systemd-helper", "deb-systemd-invoke", "systemctl"):
        (stubs / tool).write_text(STUB)
        (stubs / tool).chmod(0o755)
    environ = {**os.environ, "DPKG_ROOT": str(root), "PATH": f"{stubs}:{os.environ['PATH']}"}
    return Scripts(root, tmp_path / "DEBIAN", environ, stubs / "calls")


def test_postinst_makes_the_user_the_key_and_the_folders_and_enables_the_service(scripts: Scripts) -> None:
    root = scripts.root
    scripts.run("postinst", "configure", "")
    uid = next(int(line.split(":")[2]) for line in (root / "etc/passwd").read_text().splitlines()
               if line.startswith("mukaika:"))  # fmt: skip
    key = root / "etc/mukaika/originals.key"
    for private in (key, root / "etc/mukaika/users.toml"):
        info = private.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (uid, 0o600), private
    assert len(key.read_bytes()) == 32
    assert (root / "srv/mukaika/lgwan-to-internet/inbox").stat().st_uid == uid
    # the shipped config and the folders postinst made agree (its paths moved into the root)
    config = root / "etc/mukaika/mukaika.toml"
    moved = config.with_name("in-root.toml")
    moved.write_text(re.sub(r'"/(srv|var|etc)/', f'"{root}/\\1/', config.read_text()))
    venv = root / VENV
    checked = run(venv / "bin/python", venv / "bin/mukaika", "check-config", moved)
    assert checked.stdout.startswith("ok"), checked.stdout
    assert list((root / VENV).rglob("__pycache__/*.pyc"))
    calls = scripts.calls.read_text().splitlines()
    assert "deb-systemd-helper enable mukaika.service" in calls
    assert not [c for c in calls if c.startswith(("systemctl", "deb-systemd-invoke"))]  # not this machine's

    # an upgrade: the key stays, the account is not made twice
    before = key.read_bytes()
    scripts.run("postinst", "configure", VERSION)
    assert key.read_bytes() == before
    assert sum(line.startswith("mukaika:") for line in (root / "etc/passwd").read_text().splitlines()) == 1


def test_purge_removes_the_state_and_keeps_the_shares_and_the_account(scripts: Scripts) -> None:
    root = scripts.root
    scripts.run("postinst", "configure", "")
    (root / "var/lib/mukaika/spool").mkdir(parents=True)
    (root / "var/lib/mukaika/spool/journal.sqlite").write_text("state")
    (root / "srv/mukaika/internet-to-lgwan/outbox/report.pdf").write_text("staff's")
    scripts.run("prerm", "remove")
    assert not list((root / VENV).rglob("__pycache__"))  # dpkg can remove every folder it made
    scripts.run("postrm", "remove")
    assert (root / "etc/mukaika/originals.key").exists() and (root / "var/lib/mukaika/spool").exists()
    scripts.run("postrm", "purge")
    assert not (root / "var/lib/mukaika").exists()
    assert (
        not (root / "etc/mukaika/originals.key").exists() and not (root / "etc/mukaika/users.toml").exists()
    )
    assert (root / "srv/mukaika/internet-to-lgwan/outbox/report.pdf").read_text() == "staff's"
    assert any(line.startswith("mukaika:") for line in (root / "etc/passwd").read_text().splitlines())
