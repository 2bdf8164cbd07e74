"""The walls a worker lives in, and putting it behind them.

A worker is a process that parses hostile bytes, so it is assumed taken over. Right after the
fork, before it reads a byte, it gets:

- resource limits (memory, CPU seconds, file size, open files, processes, no core dumps);
- /dev/null for its standard streams (nothing to write into the daemon's log or terminal);
- Landlock: read-only access to its one input, the Python installation, the modules the
  zygote loaded, the system libraries, fonts and LibreOffice; read-write access to its own
  scratch directory only; execution only of the sanitisers' helper program (LibreOffice)
  and the dynamic loader it needs;
  no TCP; no signals to, or abstract sockets of, processes outside its walls (ABI ≥ 6);
- seccomp: the calls in gateway.isolation.seccomp are refused.

All of it holds for everything the worker starts. With ``confinement = "none"`` (an explicit
choice in the config) only the limits and a private network namespace remain.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.isolation import landlock
from sanitizers.base import Limits

FULL = "full"
NONE = "none"
MODES = (FULL, NONE)
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000

#: Read-only everywhere: libraries, shared data (fonts, LibreOffice, the magic database),
#: and the few files of /etc that the C library and LibreOffice read.
SYSTEM_READ = (
    "/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/share", "/usr/local/share",
    "/etc/ld.so.cache", "/etc/fonts", "/etc/libreoffice", "/etc/passwd", "/etc/group",
    "/etc/nsswitch.conf", "/etc/locale.alias", "/etc/localtime", "/etc/magic",
    "/var/cache/fontconfig", "/var/lib/libreoffice", "/var/spool/libreoffice",
    "/sys/devices/system/cpu", "/dev/urandom", "/dev/random", "/dev/zero",
)  # fmt: skip
_LOADERS = ("/lib64/ld-linux-*.so.*", "/lib/ld-linux*.so.*", "/lib/*-linux-gnu*/ld-linux*.so.*")


@dataclass(frozen=True)
class HostSupport:
    """What this kernel and system offer for confinement."""

    landlock_abi: int
    seccomp_problem: str | None

    @property
    def problem(self) -> str | None:
        """Why full confinement cannot be had here, or None."""
        if self.landlock_abi < 1:
            return "the kernel has no Landlock (Linux ≥ 5.13 with CONFIG_SECURITY_LANDLOCK and lsm=landlock)"
        return self.seccomp_problem

    def describe(self, mode: str) -> str:
        if mode == NONE:
            return 'none (workers are NOT confined: [gateway] confinement = "none")'
        if self.problem:
            return f"full, but NOT AVAILABLE here: {self.problem}"
        return f"full (Landlock ABI {self.landlock_abi}, seccomp)"


def probe() -> HostSupport:
    from gateway.isolation import seccomp  # loads libseccomp: only where it is asked for

    return HostSupport(landlock.abi_version(), seccomp.available())


@dataclass(frozen=True)
class Walls:
    """What one worker may touch besides the runtime: its inputs, and its scratch directory."""

    read: tuple[Path, ...]
    scratch: Path

    def as_message(self) -> dict[str, object]:
        return {"read": [str(p) for p in self.read], "scratch": str(self.scratch)}

    @classmethod
    def from_message(cls, message: dict[str, object]) -> Walls:
        read = message["read"]
        if not isinstance(read, list):
            raise TypeError("walls.read must be a list")
        return cls(tuple(Path(str(p)) for p in read), Path(str(message["scratch"])))


@dataclass(frozen=True)
class Runtime:
    """What every worker may use, worked out once by the zygote: each fork only applies it."""

    read: tuple[Path, ...]
    execute: tuple[Path, ...]
    seccomp_program: bytes  # empty with confinement = "none"


def prepare_runtime(mode: str) -> Runtime:
    from gateway.isolation import seccomp
    from sanitizers.registry import helper_programs

    read = _outermost({*_python_paths(), *map(Path, SYSTEM_READ)})
    execute = (*helper_programs(), *_loaders())  # the only programs a worker may start
    return Runtime(read, execute, seccomp.worker_program() if mode == FULL else b"")


def _python_paths() -> set[Path]:
    """Everything Python needs to keep importing: the standard library, the installed
    packages, and the directory of every module loaded so far (our own packages, whatever
    the install), but never a whole source checkout that may hold a spool."""
    paths = {Path(sysconfig.get_path(name)) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.add(Path(sys.base_prefix) / "lib")
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if not origin or "." in name:
            continue
        package_path = getattr(module, "__path__", None)
        paths.update(map(Path, package_path) if package_path else [Path(origin)])  # its whole folder
    return paths


def _outermost(paths: set[Path]) -> tuple[Path, ...]:
    """The paths not beneath another one: a rule holds for everything below its path."""
    return tuple(sorted(p for p in paths if not any(other in p.parents for other in paths)))


def enter(walls: Walls, limits: Limits, mode: str, runtime: Runtime) -> None:
    """Confine the calling process (a freshly forked worker) for good. Raises on any failure:
    a worker that cannot be confined as asked must not go on."""
    _apply_rlimits(limits)
    _silence_stdio()
    os.chdir(walls.scratch)
    os.environ["TMPDIR"] = str(walls.scratch)
    tempfile.tempdir = None  # tempfile picks the scratch up again
    if mode == NONE:
        _enter_private_network()
        return
    from gateway.isolation import seccomp

    ruleset = landlock.Ruleset(landlock.abi_version())
    ruleset.allow(landlock.READ, *runtime.read, *walls.read)
    ruleset.allow(landlock.READ_EXECUTE, *runtime.execute)
    ruleset.allow(landlock.Fs.READ_FILE | landlock.Fs.WRITE_FILE, "/dev/null")
    # sockets: LibreOffice's single-instance pipe, made in its working directory (convert.PIPE_DIRECTORY)
    ruleset.allow(landlock.SCRATCH | landlock.Fs.MAKE_SOCK, walls.scratch)
    ruleset.restrict_self()  # sets no_new_privs, which the filter needs
    seccomp.load(runtime.seccomp_program)


def _loaders() -> list[Path]:
    return [path for pattern in _LOADERS for path in Path("/").glob(pattern.lstrip("/"))]


def _apply_rlimits(limits: Limits) -> None:
    cpu = math.ceil(limits.timeout_seconds) + 5
    output_bound = max(limits.max_file_size * 8, limits.archive_total_size + limits.max_file_size)
    for which, value in (
        (resource.RLIMIT_AS, limits.worker_memory),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, output_bound),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_NPROC, limits.worker_processes),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


def _silence_stdio() -> None:
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _enter_private_network() -> None:
    """Without Landlock and seccomp: a network namespace with no interfaces, where the kernel
    allows one (as non-root, inside a user namespace); under the unit, PrivateNetwork= holds."""
    libc = ctypes.CDLL(None, use_errno=True)
    for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return
