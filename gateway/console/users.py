"""Console users: a small TOML file managed by `mukaika user add|passwd|disable|list`.

    [users.tanaka]
    role = "approver"             # viewer < operator < approver < admin
    password = "$argon2id$..."    # argon2id hash, never the password
    disabled = false
    changed = 1732780800.0        # when this entry last changed (audited by the daemon)

The daemon only reads the file (re-read whenever it changes, so a disabled user is locked
out at the next request); the command writes it with temp name, fsync and rename.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "operator", "approver", "admin")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
_HASHER = PasswordHasher()
MIN_PASSWORD = 10


class UsersFileError(Exception):
    """The users file cannot be read, or a change to it is not allowed."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password: str
    disabled: bool = False
    changed: float = 0.0

    def may(self, role: str) -> bool:
        """Whether this user holds ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsersFileError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that a miss costs as much as a wrong
    password; made at the first login, not at every import (each costs a full argon2 hash)."""
    return _HASHER.hash("mukaika-no-such-user")


def check_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists; a disabled user never passes."""
    try:
        ok = _HASHER.verify(user.password if user is not None else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and user is not None and not user.disabled


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def read_users(path: Path) -> dict[str, User]:
    """Parse the file; a missing file means no users. Raises UsersFileError naming the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"{path}: {exc}") from None
    table = raw.get("users", {})
    if not isinstance(table, dict) or set(raw) - {"users"}:
        raise UsersFileError(f"{path}: expected only [users.<name>] tables")
    users: dict[str, User] = {}
    for name, entry in table.items():
        if (
            not valid_name(name)
            or not isinstance(entry, dict)
            or entry.get("role") not in ROLES
            or not isinstance(entry.get("password"), str)
            or not isinstance(entry.get("disabled", False), bool)
            or not isinstance(entry.get("changed", 0.0), int | float)
        ):
            raise UsersFileError(f"{path}: users.{name} is not a valid entry")
        users[name] = User(name, entry["role"], entry["password"], entry.get("disabled", False),
                           float(entry.get("changed", 0.0)))  # fmt: skip
    return users


def write_users(path: Path, users: dict[str, User]) -> None:
    """Replace the file atomically, keeping the owner, group and mode of the one replaced."""
    lines = ["# mukaika console users: managed by `mukaika user add|passwd|disable|list`", ""]
    for user in sorted(users.values(), key=lambda u: u.name):
        lines += [f"[users.{user.name}]", f"role = {json.dumps(user.role)}",
                  f"password = {json.dumps(user.password)}", f"disabled = {str(user.disabled).lower()}",
                  f"changed = {user.changed!r}", ""]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)  # password hashes
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as writer:
            writer.write("\n".join(lines))
            writer.flush()
            os.fsync(writer.fileno())
        try:
            before = path.stat()
        except FileNotFoundError:
            pass
        else:
            tmp.chmod(before.st_mode & 0o777)
            if os.geteuid() == 0:
                os.chown(tmp, before.st_uid, before.st_gid)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def add_user(path: Path, name: str, role: str, password: str) -> User:
    if not valid_name(name):
        raise UsersFileError("a user name is 1-32 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UsersFileError(f"role must be one of {', '.join(ROLES)}")
    users = read_users(path)
    if name in users:
        raise UsersFileError(f"user {name!r} exists (use `mukaika user passwd`)")
    users[name] = User(name, role, hash_password(password), False, time.time())
    write_users(path, users)
    return users[name]


def change_user(path: Path, name: str, *, password: str | None = None, disabled: bool | None = None,
                role: str | None = None) -> User:  # fmt: skip
    users = read_users(path)
    if name not in users:
        raise UsersFileError(f"no user {name!r}")
    if role is not None and role not in ROLES:
        raise UsersFileError(f"role must be one of {', '.join(ROLES)}")
    user = users[name]
    users[name] = replace(
        user,
        password=hash_password(password) if password is not None else user.password,
        disabled=user.disabled if disabled is None else disabled,
        role=role or user.role,
        changed=time.time(),
    )
    write_users(path, users)
    return users[name]


class UserStore:
    """The users file as the console sees it: re-read whenever its size or mtime changes."""

    def __init__(self, path: Path, on_change: Callable[[dict[str, User]], None] | None = None) -> None:
        self.path = path
        self._on_change = on_change
        self._stamp: tuple[int, int] | None = None
        self._loaded = False
        self._users: dict[str, User] = {}

    def get(self, name: str) -> User | None:
        return self.users().get(name)

    def users(self) -> dict[str, User]:
        try:
            info = self.path.stat()
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp or not self._loaded:
            try:
                users = read_users(self.path)
            except UsersFileError:
                users = {}  # an unreadable file locks everyone out rather than keeping stale rights
            self._users, self._stamp, self._loaded = users, stamp, True
            if self._on_change is not None:
                self._on_change(users)
        return self._users
