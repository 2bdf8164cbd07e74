"""Landlock: a process gives up filesystem (and TCP, signal, abstract-socket) access for good.

A small ctypes binding of the three system calls (landlock_create_ruleset, landlock_add_rule,
landlock_restrict_self). Every access right the running kernel knows is *handled*, so whatever
is not granted by a rule is denied; rights a kernel does not know are left out, which is how
Landlock is meant to be used across ABI versions (a newer right on an older kernel simply
cannot be restricted there). The restriction holds for the process and everything it starts,
and cannot be lifted.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

_SYS_CREATE_RULESET = 444  # the same number on every architecture (generic syscall table)
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38


class LandlockUnavailableError(OSError):
    """The kernel has no Landlock, or it is disabled at boot."""


class Fs(enum.IntFlag):
    """Filesystem access rights (include/uapi/linux/landlock.h)."""

    EXECUTE = 1 << 0
    WRITE_FILE = 1 << 1
    READ_FILE = 1 << 2
    READ_DIR = 1 << 3
    REMOVE_DIR = 1 << 4
    REMOVE_FILE = 1 << 5
    MAKE_CHAR = 1 << 6
    MAKE_DIR = 1 << 7
    MAKE_REG = 1 << 8
    MAKE_SOCK = 1 << 9
    MAKE_FIFO = 1 << 10
    MAKE_BLOCK = 1 << 11
    MAKE_SYM = 1 << 12
    REFER = 1 << 13  # ABI 2
    TRUNCATE = 1 << 14  # ABI 3
    IOCTL_DEV = 1 << 15  # ABI 5


#: Rights that make sense on a file (the rest apply to directories only).
FILE_RIGHTS = Fs.EXECUTE | Fs.WRITE_FILE | Fs.READ_FILE | Fs.TRUNCATE | Fs.IOCTL_DEV
READ = Fs.READ_FILE | Fs.READ_DIR
READ_EXECUTE = READ | Fs.EXECUTE
#: A private scratch directory: make, write, rename and remove plain files and directories.
SCRATCH = (
    READ | Fs.WRITE_FILE | Fs.REMOVE_DIR | Fs.REMOVE_FILE | Fs.MAKE_DIR | Fs.MAKE_REG | Fs.REFER | Fs.TRUNCATE
)

_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1


def fs_rights_of(abi: int) -> Fs:
    """Every filesystem right a kernel of Landlock ABI ``abi`` handles."""
    rights = Fs(0)
    for right in Fs:
        if abi >= _FS_SINCE.get(right, 1):
            rights |= right
    return rights


_FS_SINCE = {Fs.REFER: 2, Fs.TRUNCATE: 3, Fs.IOCTL_DEV: 5}


class _RulesetAttr(ctypes.Structure):
    # a larger struct than an old kernel knows is accepted as long as the extra fields are 0
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the kernel's header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(*args: object) -> int:
    ctypes.set_errno(0)
    result = int(_libc.syscall(*args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI version (1 on Linux 5.13; 6 on 6.12); 0 when there is none."""
    try:
        return _syscall(ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                        ctypes.c_uint32(_CREATE_RULESET_VERSION))  # fmt: skip
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


@dataclass
class Ruleset:
    """Rights granted beneath paths; ``restrict_self`` then denies everything else."""

    abi: int
    grants: list[tuple[Path, Fs]] = field(default_factory=list)

    def allow(self, rights: Fs, *paths: Path | str) -> None:
        self.grants.extend((Path(p), rights) for p in paths)

    def restrict_self(self) -> None:
        """Apply the ruleset to this process (and everything it starts) for good.

        Paths that do not exist are skipped: a grant is a permission, never a need. Raises
        LandlockUnavailableError when the kernel cannot do it, OSError on any other failure.
        """
        if self.abi < 1:
            raise LandlockUnavailableError(errno.EOPNOTSUPP, "Landlock is not available")
        handled = fs_rights_of(self.abi)
        attr = _RulesetAttr(int(handled), 0, 0)
        if self.abi >= 4:
            attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP  # no TCP at all
        if self.abi >= 6:
            attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        ruleset = _syscall(ctypes.c_long(_SYS_CREATE_RULESET), ctypes.byref(attr),
                           ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))  # fmt: skip
        try:
            for path, rights in self.grants:
                self._add(ruleset, path, rights & handled)
            if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:  # required unless CAP_SYS_ADMIN
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
            _syscall(ctypes.c_long(_SYS_RESTRICT_SELF), ruleset, ctypes.c_uint32(0))
        finally:
            os.close(ruleset)

    @staticmethod
    def _add(ruleset: int, path: Path, rights: Fs) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= FILE_RIGHTS
            if rights:
                beneath = _PathBeneathAttr(int(rights), fd)
                _syscall(ctypes.c_long(_SYS_ADD_RULE), ruleset, ctypes.c_int(_RULE_PATH_BENEATH),
                         ctypes.byref(beneath), ctypes.c_uint32(0))  # fmt: skip
        finally:
            os.close(fd)
