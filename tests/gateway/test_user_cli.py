"""`mukaika user add|passwd|disable|enable|role|list`: the console's users file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gateway.console.users import check_password, read_users
from tests.gateway.daemon_harness import MUKAIKA


def mukaika_user(config: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    stdin = ["--password-stdin"] if password is not None else []
    return subprocess.run([str(MUKAIKA), "user", *args, *stdin, "--config", str(config)], input=f"{password}\n",
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_users_are_added_with_argon2_hashes_changed_and_disabled(tmp_path: Path) -> None:
    users = tmp_path / "etc" / "users.toml"
    config = tmp_path / "mukaika.toml"
    config.write_text(f'[console]\nusers_file = "{users}"\n[gateway]\nspool_dir = "{tmp_path / "spool"}"\n')

    assert (
        mukaika_user(config, "add", "tanaka", "--role", "approver", password="first password").returncode == 0
    )
    assert (users.stat().st_mode & 0o777) == 0o600  # password hashes: not even the group
    text = users.read_text()
    assert "first password" not in text and "$argon2id$" in text
    assert check_password(read_users(users)["tanaka"], "first password")

    duplicate = mukaika_user(config, "add", "tanaka", "--role", "viewer", password="another password")
    assert duplicate.returncode == 2 and "exists" in duplicate.stderr
    short = mukaika_user(config, "add", "sato", "--role", "viewer", password="short")
    assert short.returncode == 2 and "at least" in short.stderr
    assert (
        mukaika_user(config, "add", "Bad Name", "--role", "viewer", password="long enough pw").returncode == 2
    )

    assert mukaika_user(config, "passwd", "tanaka", password="second password").returncode == 0
    tanaka = read_users(users)["tanaka"]
    assert check_password(tanaka, "second password") and not check_password(tanaka, "first password")

    assert mukaika_user(config, "role", "tanaka", "admin").returncode == 0
    assert mukaika_user(config, "disable", "tanaka").returncode == 0
    tanaka = read_users(users)["tanaka"]
    assert tanaka.disabled and tanaka.role == "admin" and not check_password(tanaka, "second password")
    listing = mukaika_user(config, "list")
    assert listing.returncode == 0 and listing.stdout.splitlines() == ["tanaka\tadmin\tdisabled"]
    enable = mukaika_user(config, "enable", "tanaka")
    assert enable.returncode == 0 and '"action": "user.enable"' in enable.stderr  # the audit line
    assert not read_users(users)["tanaka"].disabled
    assert mukaika_user(config, "disable", "nobody").returncode == 2
