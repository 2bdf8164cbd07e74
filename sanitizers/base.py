"""The sanitiser contract.

A sanitiser turns one untrusted input of a known canonical type into a new file written
from an allow-list, with one method (``rebuild``, ``pdf``, ``image`` or ``text``).  It is
synchronous and stateless: ``sanitize(untrusted_src, dst, options, limits) -> Report``.
Any refusal is a :class:`~sanitizers.errors.SanitizeError`; callers treat every other
exception as a crash and reject the file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sanitizers.errors import LimitError, PolicyError
from sanitizers.types import TYPES

METHODS: tuple[str, ...] = ("rebuild", "pdf", "image", "text", "reject")

OptionValue = str | int | float | bool
Options = Mapping[str, OptionValue]

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Finding:
    """One kind of construct found in the input, and what was done with it."""

    construct: str  # dotted: "pdf.javascript"
    action: str  # "removed", "neutralised", "kept", "repaired", "decrypted", "dropped"
    count: int = 1
    location: str | None = None  # "page 2", "annotation /Link", "word/document.xml"

    def as_dict(self) -> dict[str, object]:
        return {
            "construct": self.construct,
            "action": self.action,
            "count": self.count,
            "location": self.location,
        }


@dataclass
class Report:
    """What a sanitiser did: the type it wrote and every finding."""

    output_type: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, construct: str, action: str, count: int = 1, location: str | None = None) -> None:
        if count > 0:
            self.findings.append(Finding(construct, action, count, location))

    @property
    def removed_anything(self) -> bool:
        return any(f.action != "kept" for f in self.findings)


@dataclass(frozen=True)
class Limits:
    """Resource limits every sanitiser honours; checked before memory is committed."""

    max_file_size: int = 200 * MiB
    timeout_seconds: float = 120.0
    worker_memory: int = 2 * GiB
    #: processes and threads a worker's user may have before a worker's fork fails (a fork bomb
    #: stops there); root is exempt, as the kernel exempts it from RLIMIT_NPROC
    worker_processes: int = 512
    max_pages: int = 2000
    #: pixels in one image, all its frames together; images are also held to what their decoded
    #: pixels take in ``worker_memory`` (sanitizers.images.rebuild), so 250 Mpx of RGB is refused
    #: while an A0 drawing scanned at 300 dpi (139 Mpx, bilevel, greyscale or colour) fits
    max_pixels: int = 250_000_000
    max_frames: int = 500
    max_objects: int = 500_000
    max_stream_size: int = 256 * MiB
    #: archives inside archives; the byte budgets below are what stops a bomb, so this only
    #: has to be above what people send (a zip of zips of zips)
    archive_depth: int = 4
    archive_members: int = 1000
    archive_total_size: int = 1 * GiB
    archive_member_size: int = 512 * MiB
    archive_ratio: int = 200

    def checked_size(self, untrusted_src: Path, code: str = "input.too_large") -> int:
        """The file's size, once it is known not to exceed ``max_file_size`` (LimitError ``code``)."""
        size = untrusted_src.stat().st_size
        if size > self.max_file_size:
            raise LimitError(code, f"{size} bytes exceeds max_file_size {self.max_file_size}")
        return size

    def read_file(self, untrusted_src: Path) -> bytes:
        """The whole input, read once its size is within ``max_file_size``."""
        self.checked_size(untrusted_src)
        return untrusted_src.read_bytes()


@dataclass(frozen=True)
class OptionSpec:
    """An option a sanitiser accepts in a rule, with its default and allowed values."""

    default: OptionValue
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: object) -> str | None:
        """Return why ``value`` is not acceptable, or None."""
        expected = type(self.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not expected:
            return f"expected {expected.__name__}, got {type(value).__name__}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(repr(c) for c in self.choices)}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:
                return f"must be at most {self.maximum:g}"
        return None


class Sanitizer(ABC):
    """One method for one family of canonical types."""

    #: canonical input types accepted (see sanitizers.types)
    types: ClassVar[frozenset[str]]
    #: the method this sanitiser implements: rebuild, pdf, image or text
    method: ClassVar[str]
    #: rule options understood, with defaults
    options: ClassVar[Mapping[str, OptionSpec]] = {}

    @abstractmethod
    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        """Write a safe rebuild of ``untrusted_src`` to ``dst`` or raise SanitizeError.

        ``dst`` must not exist afterwards when an error is raised.
        """

    def resolved_options(self, options: Options) -> dict[str, OptionValue]:
        """Defaults overlaid with the rule's values for the options this sanitiser knows.

        The one way options reach a sanitiser: each given value is checked against its spec,
        so a value the configuration check did not see (a rule built in code, a worker's
        message) is a refusal (``policy.bad_option``) rather than a policy silently changed.
        """
        merged: dict[str, OptionValue] = {name: spec.default for name, spec in self.options.items()}
        for name, value in options.items():
            spec = self.options.get(name)
            if spec is None:
                continue
            problem = spec.check(value)
            if problem is not None:
                raise PolicyError("policy.bad_option", f"{type(self).__name__} option {name}: {problem}")
            merged[name] = value
        return merged


@dataclass(frozen=True)
class MemberResult:
    """The pipeline's verdict on one member of a container (archive)."""

    name: str
    released: bool
    output_path: Path | None = None  # in the scratch dir the container passed in
    output_name: str | None = None  # the member's name with its output extension
    output_type: str | None = None  # the canonical type of the output
    reason_code: str | None = None
    reason_message: str | None = None
    findings: tuple[Finding, ...] = ()


#: Runs one extracted member through detect → policy → sanitise: (member file, its name
#: inside the container, a scratch dir for the member's output) → MemberResult.
MemberProcessor = Callable[[Path, str, Path], MemberResult]


class ContainerSanitizer(Sanitizer):
    """A sanitiser whose members go back through the whole pipeline (archives).

    The pipeline calls ``sanitize_container`` with a processor bound to the same policy,
    one level deeper; ``sanitize`` alone refuses, since members cannot be judged without it.
    """

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        raise PolicyError("type.unsupported", "containers are sanitised through the pipeline")

    @abstractmethod
    def sanitize_container(
        self,
        untrusted_src: Path,
        dst: Path,
        options: Options,
        limits: Limits,
        process_member: MemberProcessor,
        name: str | None = None,
    ) -> Report:
        """Like ``sanitize``; every member is judged by ``process_member``.  ``name`` is the
        container's own file name, which a compressed single file's content is known by once
        its compression suffix is gone (``report.pdf.gz`` holds ``report.pdf``)."""


class Registry:
    """Maps (canonical type, method) to the sanitiser that implements it."""

    def __init__(self, sanitizers: Iterable[Sanitizer] = ()) -> None:
        self._by_key: dict[tuple[str, str], Sanitizer] = {}
        for sanitizer in sanitizers:
            self.add(sanitizer)

    def add(self, sanitizer: Sanitizer) -> None:
        if sanitizer.method not in METHODS or sanitizer.method == "reject":
            raise ValueError(f"{type(sanitizer).__name__}: unknown method {sanitizer.method!r}")
        keys = [(type_name, sanitizer.method) for type_name in sorted(sanitizer.types)]
        for type_name, method in keys:
            if type_name not in TYPES:
                raise ValueError(f"{type(sanitizer).__name__}: unknown type {type_name!r}")
            if (type_name, method) in self._by_key:
                other = type(self._by_key[type_name, method]).__name__
                raise ValueError(f"{type_name}/{method} is already handled by {other}")
        self._by_key.update(dict.fromkeys(keys, sanitizer))

    def __iter__(self) -> Iterator[Sanitizer]:
        """Each registered sanitiser once."""
        return iter({id(s): s for s in self._by_key.values()}.values())

    def get(self, type_name: str, method: str) -> Sanitizer | None:
        return self._by_key.get((type_name, method))

    def methods_for(self, type_name: str) -> list[str]:
        return [m for m in METHODS if (type_name, m) in self._by_key]

    def option_specs(self, type_name: str) -> dict[str, OptionSpec]:
        """Every option any method for ``type_name`` understands."""
        specs: dict[str, OptionSpec] = {}
        for (name, _method), sanitizer in self._by_key.items():
            if name == type_name:
                specs.update(sanitizer.options)
        return specs
