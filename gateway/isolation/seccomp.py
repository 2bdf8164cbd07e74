"""The system calls a worker may not make, through libseccomp (pyseccomp binds it by ctypes).

A deny list: the parsers (and LibreOffice) need most of the ordinary calls, and what a taken-over
parser could use to leave its walls is a short, known list. Every denial returns an error
(EPERM, or EACCES/ENOSYS where a program must take another path), never a kill: a worker
that needs a denied call fails like any other worker, and its file is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
from pathlib import Path

import pyseccomp as seccomp

#: Calls that reach other processes, the kernel's own state, or a way around Landlock.
DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    "setns", "unshare",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "syslog", "quotactl", "lookup_dcookie", "fanotify_init", "vhangup",
    "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "memfd_create", "memfd_secret",  # an anonymous file could be executed past Landlock
    "connect",  # nothing a worker does talks to anyone; LibreOffice copes without it
)  # fmt: skip

_CLONE_NEW_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
_PERSONALITY_QUERY = 0xFFFFFFFF
_SOCKET_TYPE_MASK = 0xF  # the type without SOCK_NONBLOCK / SOCK_CLOEXEC
_OTHER_SOCKET_TYPES = (2, 3, 4, 5, 6, 10)  # all but SOCK_STREAM: no datagrams to journald or anyone
_TERMINAL_INJECTION = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX
_W_OK = 2
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def available() -> str | None:
    """None when workers can be filtered here, else why not."""
    try:
        if "\nSeccomp:" not in Path("/proc/self/status").read_text(encoding="ascii"):
            return "the kernel has no seccomp"
        seccomp.SyscallFilter(seccomp.ALLOW)
    except (OSError, AttributeError) as exc:  # AttributeError: pyseccomp found no libseccomp
        return f"libseccomp is not usable: {exc}"
    return None


def worker_program() -> bytes:
    """The workers' filter, compiled once to BPF (by the zygote; each worker only loads it)."""
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        try:
            rules.add_rule(deny, name)
        except OSError:  # a call this libseccomp (or architecture) does not know cannot be made either
            continue
    # clone3 passes its flags in memory, where a filter cannot look: glibc then falls back to clone
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for flag in _CLONE_NEW_NAMESPACES:
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(deny, "personality", seccomp.Arg(0, seccomp.NE, _PERSONALITY_QUERY))
    for call in ("socket", "socketpair"):
        rules.add_rule(deny, call, seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        for kind in _OTHER_SOCKET_TYPES:
            rules.add_rule(deny, call, seccomp.Arg(1, seccomp.MASKED_EQ, _SOCKET_TYPE_MASK, kind))
    for request in _TERMINAL_INJECTION:
        rules.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    # Landlock does not answer access(2); "may I write here?" must say no where writing would
    # fail, so that LibreOffice puts its instance pipe in the scratch directory (OSL_SOCKET_PATH)
    not_writable = seccomp.ERRNO(errno.EACCES)
    rules.add_rule(not_writable, "access", seccomp.Arg(1, seccomp.EQ, _W_OK))
    for call in ("faccessat", "faccessat2"):
        rules.add_rule(not_writable, call, seccomp.Arg(2, seccomp.EQ, _W_OK))
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb") as pipe:
            rules.export_bpf(pipe)
        with os.fdopen(read_end, "rb") as pipe:
            return pipe.read()
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(read_end)
        raise


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def load(program: bytes) -> None:
    """Install a compiled filter on this process for good (no_new_privs must be set already)."""
    count = len(program) // ctypes.sizeof(_SockFilter)
    instructions = (_SockFilter * count).from_buffer_copy(program)
    fprog = _SockFprog(count, instructions)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
