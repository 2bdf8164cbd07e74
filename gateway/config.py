"""Configuration: find the TOML files, layer them, validate every key, build immutable settings.

Reading and checking live here, apart from the runtime objects that use the result; how the
layers merge is ``gateway.layers``. Every problem is collected (not just the first) and named
by its key path and the file it came from, so an admin fixes broken files in one pass.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.dburl import hide_password, is_postgres_url, redact_url
from gateway.layers import EMBEDDED_NAME, Layer, locate, merge_layers
from sanitizers.base import METHODS, Limits, MiB, OptionValue, Registry
from sanitizers.pipeline import Rule
from sanitizers.types import TYPES

SYSTEM_CONFIG = Path("/etc/mukaika/mukaika.toml")
#: The channel name of transfers that came through the SMTP relay (no [[channels]] may use it).
MAIL_CHANNEL = "smtp"
ENV_VAR = "MUKAIKA_CONFIG"
MIN_WORKER_MEMORY = 256 * MiB
#: The embedded journal, in the spool, unless [journal] url names a PostgreSQL database.
JOURNAL_FILE = "journal.sqlite"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip
_NODE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,63}$")
_LOOPBACK_LISTEN = re.compile(r"^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):\d{1,5}$")
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SIZE_LIMITS = {"max_file_size", "worker_memory", "max_stream_size", "archive_total_size",
                "archive_member_size"}  # fmt: skip


class ConfigError(Exception):
    """The config read from ``source`` has ``problems``, each "key.path: what is wrong";
    ``files`` names, problem by problem, the file that set the key (default: ``source``)."""

    def __init__(self, source: str, problems: list[str], files: Sequence[str] = ()) -> None:
        self.source = source
        self.problems = problems
        self.files = list(files) or [source] * len(problems)
        super().__init__("\n".join(self.located()))

    def located(self) -> list[str]:
        return [f"{file}: {problem}" for file, problem in zip(self.files, self.problems, strict=True)]


@dataclass(frozen=True)
class GatewaySettings:
    spool_dir: Path = Path("./var/mukaika/spool")
    workers: int = 0
    settle_seconds: float = 2.0
    rescan_seconds: float = 60.0
    retention_days: int = 30
    journal_retention_days: int = 0  # finished journal rows older than this go; 0: kept for ever
    shutdown_timeout_seconds: float = 30.0
    log_format: str = "auto"
    log_level: str = "info"
    originals_key: Path = Path()  # empty: originals.key in the spool directory
    confinement: str = "full"  # "none": workers without Landlock and seccomp (an explicit choice)
    embedded_rules: bool = True  # false: only the rules the admin's files write (see gateway.layers)

    def originals_key_path(self) -> Path:
        return self.originals_key if self.originals_key != Path() else self.spool_dir / "originals.key"

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


_GATEWAY_CHOICES = {"log_format": ("auto", "journald", "json", "console"),
                    "log_level": ("debug", "info", "warning", "error"),
                    "confinement": ("full", "none")}  # fmt: skip


@dataclass(frozen=True)
class Channel:
    name: str
    inbox: Path
    outbox: Path
    rejected: Path
    rules: Mapping[str, Rule] = field(default_factory=dict)
    return_rejected: bool = False
    approval: str = "none"  # "required": sanitised files wait for an approver in the console
    approved: Path | None = None  # released originals; default: "<outbox>-approved" beside the outbox

    @property
    def approved_dir(self) -> Path:
        return self.approved or self.outbox.with_name(f"{self.outbox.name}-approved")

    @property
    def needs_approval(self) -> bool:
        return self.approval == "required"


@dataclass(frozen=True)
class HttpSettings:
    """The status endpoint: off ("") by default; "127.0.0.1:PORT" or "unix:/path"."""

    listen: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.listen)


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console: off ("") by default; loopback or a unix socket, behind a TLS proxy."""

    listen: str = ""
    users_file: Path = Path("./var/mukaika/users.toml")
    session_idle_minutes: float = 30.0
    request_expiry_hours: float = 72.0
    login_max_failures: int = 5
    login_window_minutes: float = 15.0
    trust_forwarded_for: bool = False  # take the client address from X-Forwarded-For (set by the proxy)

    @property
    def enabled(self) -> bool:
        return bool(self.listen)


@dataclass(frozen=True)
class ClamavSettings:
    """clamd scanning: off ("") by default; the path of clamd's unix socket otherwise."""

    socket: str = ""
    on_unavailable: str = "hold"  # or "reject": never release unscanned
    timeout_seconds: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.socket)


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP relay: off ("") by default. Mail from the internet-side MTA is sanitised as one
    transfer and delivered to the LGWAN-side mail server (``smart_host``)."""

    listen: str = ""  # "ADDR:PORT" of one address (loopback or the interface facing the internet MTA)
    hostname: str = ""  # named in the greeting; "" = this machine's name
    max_message_size: int = 25 * MiB
    max_recipients: int = 100
    max_queue: int = 1000  # mails accepted and not yet delivered; past it, new mail is told 452
    allowed_clients: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    allowed_recipient_domains: tuple[str, ...] = ()
    allowed_recipients: tuple[str, ...] = ()
    tls_cert: Path = Path()  # STARTTLS is offered when both are set
    tls_key: Path = Path()
    require_starttls: bool = False
    smart_host: str = ""  # "HOST:PORT" of the LGWAN-side mail server
    smart_host_starttls: bool = False
    smart_host_ca_file: Path = Path()  # "" = the system's CAs
    delivery_concurrency: int = 4
    retry_min_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    give_up_hours: float = 120.0
    notice_from: str = "postmaster@localhost"
    approved: Path = Path("./var/mukaika/mail-approved")  # originals of refused mail, once approved

    @property
    def enabled(self) -> bool:
        return bool(self.listen)

    @property
    def starttls(self) -> bool:
        return self.tls_cert != Path() and self.tls_key != Path()


@dataclass(frozen=True)
class JournalSettings:
    """Where the journal lives: "" = the SQLite file in the spool; a ``postgresql://`` URL = a
    database that several gateway nodes share."""

    url: str = ""

    @property
    def redacted(self) -> str:
        """The URL as logs and ``check-config --effective`` show it: without its password."""
        return redact_url(self.url)


@dataclass(frozen=True)
class ClusterSettings:
    """Several nodes on one PostgreSQL journal (gateway.cluster): how they find each other out."""

    node: str = field(default_factory=socket.gethostname)  # this node's name in logs, locks and jobs
    heartbeat_seconds: float = 5.0  # a worker node says it is alive this often
    stalled_seconds: float = 30.0  # silent this long, a worker node's running jobs go back to the queue
    takeover_seconds: float = 2.0  # a gateway node tries to take the channels nobody holds this often


@dataclass(frozen=True)
class Config:
    source: str
    gateway: GatewaySettings
    limits: Limits
    rules: Mapping[str, Rule]
    channels: tuple[Channel, ...]
    http: HttpSettings = HttpSettings()
    clamav: ClamavSettings = ClamavSettings()
    console: ConsoleSettings = ConsoleSettings()
    smtp: SmtpSettings = SmtpSettings()
    journal: JournalSettings = JournalSettings()
    cluster: ClusterSettings = ClusterSettings()
    layers: tuple[str, ...] = ()  # the files read, lowest first
    #: the merged TOML and the layer each key path came from (``check-config --effective``, reloads)
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False)
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    def origin(self, key: str) -> str:
        """The file that set ``key`` (or the table holding it)."""
        return locate(key, self.origins, self.source)

    def named(self, key: str) -> bool:
        """Whether one of the admin's files (not the embedded default) set ``key``."""
        return key in self.origins and self.origins[key] != EMBEDDED_NAME

    def journal_target(self) -> Path | str:
        """What ``gateway.journal.open_journal`` opens: the SQLite file in the spool, or the URL."""
        return self.journal.url or self.gateway.spool_dir.absolute() / JOURNAL_FILE

    def journal_redacted(self) -> str:
        """The journal as logs name it: the file's path, or the URL without its password."""
        return self.journal.redacted if self.journal.url else str(self.journal_target())

    def channel_names(self) -> tuple[str, ...]:
        """The configured channels and the relay's: those a gateway serves (and shows gauges of)."""
        mail = (MAIL_CHANNEL,) if self.smtp.enabled else ()
        return (*(c.name for c in self.channels), *mail)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)

    def policy(self, channel: str | None = None) -> ChannelPolicy:
        if channel is None:
            return ChannelPolicy(self.rules)
        for ch in self.channels:
            if ch.name == channel:
                return ChannelPolicy(ch.rules)
        raise KeyError(f"no channel named {channel!r}")


@dataclass(frozen=True)
class ChannelPolicy:
    """The rules in force for one channel (global rules with its overrides applied)."""

    rules: Mapping[str, Rule]

    def rule_for(self, type_name: str) -> Rule | None:
        return self.rules.get(type_name)


def config_files(explicit: str | None) -> tuple[Path, list[Path]]:
    """The admin's file and the files to read over the embedded default, lowest first.

    The file is --config, else $MUKAIKA_CONFIG (both must exist), else /etc/mukaika/mukaika.toml
    if it exists; then every ``*.toml`` of its drop-in folder (the file's name with ``.d`` for
    its extension: /etc/mukaika/mukaika.d/) in the order of their names, hidden files skipped.
    """
    chosen = explicit or os.environ.get(ENV_VAR, "")
    main = Path(chosen) if chosen else SYSTEM_CONFIG
    files = [main] if chosen or main.exists() else []
    drop_ins = main.with_suffix(".d")
    if drop_ins.is_dir():
        files += sorted(p for p in drop_ins.glob("*.toml") if not p.name.startswith("."))
    return main, files


def embedded_config_text() -> str:
    return resources.files("mukaika_config").joinpath("mukaika.toml").read_text(encoding="utf-8")


def load_config(explicit: str | None, registry: Registry) -> Config:
    """The embedded default with the admin's file and its drop-ins layered over it."""
    main, files = config_files(explicit)
    source = str(main) if main in files else EMBEDDED_NAME
    layers = [Layer(EMBEDDED_NAME, tomllib.loads(embedded_config_text()), default=True)]
    unreadable: list[tuple[str, str]] = []
    for path in files:
        try:
            layers.append(Layer(str(path), tomllib.loads(path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError) as exc:
            unreadable.append((str(path), f"cannot read the file: {exc}"))
        except tomllib.TOMLDecodeError as exc:
            unreadable.append((str(path), f"not valid TOML: {exc}"))
    if unreadable:
        raise ConfigError(source, [p for _, p in unreadable], [f for f, _ in unreadable])
    return parse_layers(layers, source, registry)


def parse_config(text: str, source: str, registry: Registry) -> Config:
    """One file on its own, over nothing (the embedded default itself, and tests)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    return parse_layers([Layer(source, raw)], source, registry)


def parse_layers(layers: Sequence[Layer], source: str, registry: Registry) -> Config:
    merged = merge_layers(layers)
    checker = _Checker(registry)
    config = checker.config(merged.raw, source)
    located = merged.problems + [
        (locate(p.split(": ", 1)[0], merged.origins, source), p) for p in checker.problems
    ]
    if located:
        raise ConfigError(source, [p for _, p in located], [f for f, _ in located])
    return dataclasses.replace(config, layers=tuple(layer.name for layer in layers), settings=merged.raw,
                               origins=merged.origins)  # fmt: skip


class _Checker:
    """Walks the raw TOML, collecting problems instead of stopping at the first."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def table(self, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = raw.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, dict):
            self.problem(key, f"must be a table, got {type(value).__name__}")
            return {}
        return value

    def unknown_keys(self, table: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in sorted(set(table) - allowed):
            self.problem(f"{prefix}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def config(self, raw: Mapping[str, Any], source: str) -> Config:
        self.unknown_keys(
            raw,
            "(top level)",
            {
                "gateway",
                "limits",
                "rules",
                "channels",
                "http",
                "clamav",
                "console",
                "smtp",
                "journal",
                "cluster",
            },
        )
        gateway = self.gateway(self.table(raw, "gateway"))
        limits = self.limits(self.table(raw, "limits"))
        rules = self.rules(self.table(raw, "rules"), "rules", base={})
        channels = self.channels(raw.get("channels", []), rules)
        smtp = self.smtp(self.table(raw, "smtp"), limits)
        self.directories_apart(gateway, channels, smtp)
        http = self.http(self.table(raw, "http"))
        clamav = self.clamav(self.table(raw, "clamav"))
        console = self.console(self.table(raw, "console"))
        if console.enabled and http.enabled and console.listen == http.listen:
            self.problem("console.listen", "must differ from http.listen")
        for index, channel in enumerate(channels):
            if channel.needs_approval and not console.enabled:
                self.problem(f"channels[{index}].approval", '"required" needs the console ([console] listen)')
        journal = self.journal(self.table(raw, "journal"))
        cluster = self.cluster(self.table(raw, "cluster"))
        return Config(source, gateway, limits, rules, channels, http, clamav, console, smtp, journal, cluster)

    def cluster(self, table: Mapping[str, Any]) -> ClusterSettings:
        self.unknown_keys(table, "cluster", {f.name for f in fields(ClusterSettings)})
        values: dict[str, Any] = {}
        node = table.get("node", "")
        if self.string("cluster.node", node) and node:
            if _NODE_NAME.match(node):
                values["node"] = node
            else:
                self.problem(
                    "cluster.node",
                    "letters, digits, '.', '_' and '-' only, at most 63 (empty: the host name)",
                )
        for name in ("heartbeat_seconds", "stalled_seconds", "takeover_seconds"):
            if name in table and self.number(f"cluster.{name}", table[name], integer=False, minimum=0.1):
                values[name] = float(table[name])
        settings = ClusterSettings(**values)
        if settings.stalled_seconds < 3 * settings.heartbeat_seconds:
            self.problem("cluster.stalled_seconds", "must be at least three cluster.heartbeat_seconds: a node"
                         " late with one heartbeat must not lose its jobs")  # fmt: skip
        return settings

    def journal(self, table: Mapping[str, Any]) -> JournalSettings:
        """No silent fallback: a URL that is not PostgreSQL's is an error, never a file path."""
        self.unknown_keys(table, "journal", {"url"})
        url = table.get("url", "")
        if not self.string("journal.url", url) or not url:
            return JournalSettings()
        if not is_postgres_url(url):
            self.problem("journal.url", 'must be "" (the SQLite file journal.sqlite in gateway.spool_dir) or a'
                         ' PostgreSQL URL such as "postgresql://mukaika@db.example.lg.jp/mukaika"')  # fmt: skip
            return JournalSettings()
        from psycopg import ProgrammingError  # only a config that names PostgreSQL needs psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(url)
        except ProgrammingError as exc:
            self.problem("journal.url", f"not a PostgreSQL URL libpq accepts: {hide_password(str(exc), url)}")
            return JournalSettings()
        return JournalSettings(url)

    def http(self, table: Mapping[str, Any]) -> HttpSettings:
        self.unknown_keys(table, "http", {"listen"})
        return HttpSettings(self.listen("http.listen", table.get("listen", "")))

    def listen(self, key: str, listen: object) -> str:
        """Only loopback or a unix socket: whatever listens here must not face the network."""
        if not isinstance(listen, str):
            self.problem(key, "expected a string")
            return ""
        if listen and not (listen.startswith("unix:/") or _LOOPBACK_LISTEN.match(listen)):
            self.problem(key, 'must be "" (off), "127.0.0.1:PORT", "[::1]:PORT" or "unix:/absolute/path"')
            return ""
        return listen

    def console(self, table: Mapping[str, Any]) -> ConsoleSettings:
        self.unknown_keys(table, "console", {f.name for f in fields(ConsoleSettings)})
        values: dict[str, Any] = {"listen": self.listen("console.listen", table.get("listen", ""))}
        if "users_file" in table:
            if self.string("console.users_file", table["users_file"]) and table["users_file"]:
                values["users_file"] = Path(table["users_file"])
            elif table["users_file"] == "":
                self.problem("console.users_file", "must not be empty")
        for name, integer, minimum in (("session_idle_minutes", False, 1), ("request_expiry_hours", False, 1),
                                       ("login_max_failures", True, 1), ("login_window_minutes", False, 1)):  # fmt: skip
            if name in table and self.number(
                f"console.{name}", table[name], integer=integer, minimum=minimum
            ):
                values[name] = table[name]
        if "trust_forwarded_for" in table:
            if isinstance(table["trust_forwarded_for"], bool):
                values["trust_forwarded_for"] = table["trust_forwarded_for"]
            else:
                self.problem("console.trust_forwarded_for", "expected true or false")
        return ConsoleSettings(**values)

    def smtp(self, table: Mapping[str, Any], limits: Limits) -> SmtpSettings:
        """The relay fails closed: it needs a smart host and an allow-list of recipients."""
        self.unknown_keys(table, "smtp", {f.name for f in fields(SmtpSettings)})
        defaults = SmtpSettings()
        values: dict[str, Any] = {}
        listen = table.get("listen", "")
        if listen != "" and self.address("smtp.listen", listen, wildcard=False):
            values["listen"] = listen
        smart_host = table.get("smart_host", "")
        if smart_host != "" and self.address("smtp.smart_host", smart_host, wildcard=False, names=True):
            values["smart_host"] = smart_host
        for name in ("hostname", "notice_from"):
            if name in table and self.string(f"smtp.{name}", table[name]):
                values[name] = table[name]
        if "notice_from" in values and not _MAILBOX.match(values["notice_from"]):
            self.problem(
                "smtp.notice_from", "must be a mail address such as postmaster@gateway.example.lg.jp"
            )
        if "max_message_size" in table:
            size = self.size("smtp.max_message_size", table["max_message_size"])
            # only with the relay on: without mail, the embedded default's 25 MiB limits nothing
            if size is not None and size > limits.max_file_size and "listen" in values:
                self.problem(
                    "smtp.max_message_size", "cannot exceed limits.max_file_size (the mail is one file)"
                )
            elif size is not None:
                values["max_message_size"] = size
        for name, integer, minimum in (("max_recipients", True, 1), ("max_queue", True, 1),
                                       ("delivery_concurrency", True, 1), ("retry_min_seconds", False, 1),
                                       ("retry_max_seconds", False, 1), ("give_up_hours", False, 1)):  # fmt: skip
            if name in table and self.number(f"smtp.{name}", table[name], integer=integer, minimum=minimum):
                values[name] = table[name]
        if values.get("retry_max_seconds", defaults.retry_max_seconds) < values.get(
            "retry_min_seconds", defaults.retry_min_seconds
        ):
            self.problem("smtp.retry_max_seconds", "cannot be less than smtp.retry_min_seconds")
        for name in ("require_starttls", "smart_host_starttls"):
            if name in table:
                if isinstance(table[name], bool):
                    values[name] = table[name]
                else:
                    self.problem(f"smtp.{name}", "expected true or false")
        for name in ("tls_cert", "tls_key", "smart_host_ca_file", "approved"):
            if name in table and self.string(f"smtp.{name}", table[name]):
                if table[name]:
                    values[name] = Path(table[name])
                elif name == "approved":
                    self.problem("smtp.approved", "must be a directory path")
        values.update(self.mail_lists(table))
        settings = SmtpSettings(**values)
        if settings.enabled:
            if not settings.smart_host:
                self.problem(
                    "smtp.smart_host", 'required with smtp.listen: "HOST:PORT" of the LGWAN-side mail server'
                )
            if not (settings.allowed_recipient_domains or settings.allowed_recipients):
                self.problem("smtp.allowed_recipient_domains",
                             "name at least one domain (or smtp.allowed_recipients) the LGWAN-side server receives for")  # fmt: skip
            if (settings.tls_cert != Path()) != (settings.tls_key != Path()):
                self.problem("smtp.tls_key", "smtp.tls_cert and smtp.tls_key go together")
            if settings.require_starttls and not settings.starttls:
                self.problem("smtp.require_starttls", "needs smtp.tls_cert and smtp.tls_key")
        return settings

    def mail_lists(self, table: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        values: dict[str, tuple[str, ...]] = {}
        checks = {"allowed_clients": (_network, "an IP address or network such as 192.0.2.25 or 192.0.2.0/28"),
                  "allowed_recipient_domains": (_domain, "a domain such as city.example.lg.jp"),
                  "allowed_recipients": (_mailbox, "a mail address such as soumu@city.example.lg.jp")}  # fmt: skip
        for name, (valid, what) in checks.items():
            if name not in table:
                continue
            items = table[name]
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                self.problem(f"smtp.{name}", "must be a list of strings")
                continue
            bad = [i for i in items if not valid(i)]
            for item in bad:
                self.problem(f"smtp.{name}", f"{item!r} is not {what}")
            if not bad:
                values[name] = tuple(i.lower() for i in items)
        return values

    def address(self, key: str, value: object, *, wildcard: bool, names: bool = False) -> bool:
        """ "HOST:PORT" with an IP address (or, with ``names``, a host name); IPv6 in brackets."""
        if not self.string(key, value):
            return False
        assert isinstance(value, str)
        host, _, port = value.rpartition(":")
        host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        ok_host = ip is not None or (names and _domain(host))
        if not (ok_host and port.isdigit() and 0 < int(port) < 65536):
            self.problem(key, '"" (off) or "ADDRESS:PORT", e.g. "127.0.0.1:10025" or "[2001:db8::25]:25"')
            return False
        if ip is not None and ip.is_unspecified and not wildcard:
            self.problem(key, f"must name one address, not {host} (every interface)")
            return False
        return True

    def clamav(self, table: Mapping[str, Any]) -> ClamavSettings:
        self.unknown_keys(table, "clamav", {"socket", "on_unavailable", "timeout_seconds"})
        values: dict[str, Any] = {}
        socket_path = table.get("socket", "")
        if not isinstance(socket_path, str) or (socket_path and not socket_path.startswith("/")):
            self.problem("clamav.socket", 'must be an absolute path to clamd\'s unix socket, or "" (off)')
        else:
            values["socket"] = socket_path
        if "on_unavailable" in table:
            if table["on_unavailable"] in ("hold", "reject"):
                values["on_unavailable"] = table["on_unavailable"]
            else:
                self.problem("clamav.on_unavailable", "must be one of hold, reject")
        if "timeout_seconds" in table and self.number(
            "clamav.timeout_seconds", table["timeout_seconds"], integer=False, minimum=1
        ):
            values["timeout_seconds"] = table["timeout_seconds"]
        return ClamavSettings(**values)

    def gateway(self, table: Mapping[str, Any]) -> GatewaySettings:
        defaults = GatewaySettings()
        self.unknown_keys(table, "gateway", {f.name for f in fields(GatewaySettings)})
        values: dict[str, Any] = {}
        for f in fields(GatewaySettings):
            if f.name not in table:
                continue
            key, value, default = f"gateway.{f.name}", table[f.name], getattr(defaults, f.name)
            if isinstance(default, bool):
                if isinstance(value, bool):
                    values[f.name] = value
                else:
                    self.problem(key, "expected true or false")
            elif isinstance(default, Path):
                if self.string(key, value) and value:
                    values[f.name] = Path(value)
                elif not value and f.name != "originals_key":
                    self.problem(key, "must not be empty")
            elif isinstance(default, str):
                choices = _GATEWAY_CHOICES[f.name]
                if self.string(key, value) and value in choices:
                    values[f.name] = value
                elif isinstance(value, str):
                    self.problem(key, f"must be one of {', '.join(choices)}")
            elif self.number(key, value, integer=isinstance(default, int), minimum=0):
                values[f.name] = value
        if "rescan_seconds" in values and values["rescan_seconds"] < 1:
            self.problem("gateway.rescan_seconds", "must be at least 1")
        journal_days = values.get("journal_retention_days", 0)
        if 0 < journal_days < values.get("retention_days", defaults.retention_days):
            self.problem("gateway.journal_retention_days", "must be 0 (keep for ever) or at least"
                         " gateway.retention_days: a transfer's row outlives its original")  # fmt: skip
        return GatewaySettings(**values)

    def limits(self, table: Mapping[str, Any]) -> Limits:
        defaults = Limits()
        self.unknown_keys(table, "limits", {f.name for f in fields(Limits)})
        values: dict[str, Any] = {}
        for f in fields(Limits):
            if f.name not in table:
                continue
            key, value = f"limits.{f.name}", table[f.name]
            if f.name in _SIZE_LIMITS:
                size = self.size(key, value)
                if size is not None:
                    values[f.name] = size
            elif self.number(key, value, integer=isinstance(getattr(defaults, f.name), int), minimum=1):
                values[f.name] = value
        limits = Limits(**values)
        if limits.worker_memory < MIN_WORKER_MEMORY:
            self.problem(
                "limits.worker_memory", f"must be at least {MIN_WORKER_MEMORY // MiB} MiB to load parsers"
            )
        if limits.archive_member_size > limits.archive_total_size:
            self.problem("limits.archive_member_size", "cannot exceed limits.archive_total_size")
        return limits

    def rules(self, table: Mapping[str, Any], prefix: str, base: Mapping[str, Rule]) -> dict[str, Rule]:
        rules = dict(base)
        for type_name, raw_rule in table.items():
            key = f"{prefix}.{type_name}"
            if type_name not in TYPES:
                self.problem(key, f"unknown file type (known: {', '.join(sorted(TYPES))})")
                continue
            if not isinstance(raw_rule, dict):
                self.problem(key, "must be a table with at least `method`")
                continue
            rule = self.rule(key, type_name, raw_rule, base.get(type_name))
            if rule is not None:
                rules[type_name] = rule
        return rules

    def rule(self, key: str, type_name: str, raw: Mapping[str, Any], base: Rule | None) -> Rule | None:
        methods = base.methods if base is not None else ()
        if "method" in raw:
            methods = self.methods(f"{key}.method", raw["method"])
        elif base is None:
            self.problem(f"{key}.method", "missing (a method name or a list tried in order)")
            return None
        options: dict[str, OptionValue] = dict(base.options) if base is not None else {}
        specs = self.registry.option_specs(type_name)
        for name, value in raw.items():
            if name == "method":
                continue
            if name not in specs:
                known = ", ".join(sorted(specs)) or "none"
                self.problem(f"{key}.{name}", f"unknown option for {type_name} (known: {known})")
                continue
            why = specs[name].check(value)
            if why is not None:
                self.problem(f"{key}.{name}", why)
            else:
                options[name] = value
        return Rule(methods, options)

    def methods(self, key: str, value: object) -> tuple[str, ...]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.problem(key, "must be a method name or a non-empty list of them")
            return ()
        for name in names:
            if name not in METHODS:
                self.problem(key, f"unknown method {name!r} (allowed: {', '.join(METHODS)})")
        if len(set(names)) != len(names):
            self.problem(key, "names a method twice")
        if "reject" in names and names[-1] != "reject":
            self.problem(key, "`reject` can only be the last method of a chain")
        return tuple(names)

    def channels(self, raw: object, rules: Mapping[str, Rule]) -> tuple[Channel, ...]:
        if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
            self.problem("channels", "must be an array of tables ([[channels]])")
            return ()
        result: list[Channel] = []
        for index, table in enumerate(raw):
            prefix = f"channels[{index}]"
            self.unknown_keys(
                table,
                prefix,
                {"name", "inbox", "outbox", "rejected", "rules", "return_rejected", "approval", "approved"},
            )
            name = table.get("name")
            if not isinstance(name, str) or not _CHANNEL_NAME.match(name):
                self.problem(f"{prefix}.name", "must be lower-case letters, digits, - or _ (1-64)")
                continue
            if name == MAIL_CHANNEL:
                self.problem(f"{prefix}.name", f"{MAIL_CHANNEL!r} is the name of the mail relay's transfers")
            dirs = {}
            for key in ("inbox", "outbox", "rejected"):
                value = table.get(key)
                if not isinstance(value, str) or not value:
                    self.problem(f"{prefix}.{key}", "must be a directory path")
                else:
                    dirs[key] = Path(value)
            overrides = self.table(table, f"{prefix}.rules")
            channel_rules = self.rules(overrides, f"{prefix}.rules", base=rules)
            return_rejected = table.get("return_rejected", False)
            if not isinstance(return_rejected, bool):
                self.problem(f"{prefix}.return_rejected", "expected true or false")
            approval = table.get("approval", "none")
            if approval not in ("none", "required"):
                self.problem(f"{prefix}.approval", "must be one of none, required")
            approved = table.get("approved")
            if approved is not None and (not isinstance(approved, str) or not approved):
                self.problem(f"{prefix}.approved", "must be a directory path")
                approved = None
            if len(dirs) == 3:
                result.append(Channel(name, dirs["inbox"], dirs["outbox"], dirs["rejected"], channel_rules,
                                      return_rejected is True, "required" if approval == "required" else "none",
                                      Path(approved) if approved else None))  # fmt: skip
        return tuple(result)

    def directories_apart(
        self, gateway: GatewaySettings, channels: tuple[Channel, ...], smtp: SmtpSettings
    ) -> None:
        """No directory may equal or contain another: a release must never be re-ingested."""
        named = [("gateway.spool_dir", gateway.spool_dir.absolute())]
        for i, ch in enumerate(channels):
            named += [
                (f"channels[{i}].{k}", getattr(ch, k).absolute()) for k in ("inbox", "outbox", "rejected")
            ]
            named.append((f"channels[{i}].approved", ch.approved_dir.absolute()))
        if smtp.enabled:
            named.append(("smtp.approved", smtp.approved.absolute()))
        for a in range(len(named)):
            for b in range(a + 1, len(named)):
                (key_a, path_a), (key_b, path_b) = named[a], named[b]
                if path_a == path_b or path_a in path_b.parents or path_b in path_a.parents:
                    self.problem(key_b, f"overlaps {key_a} ({path_a}); every directory must stand apart")
        key = gateway.originals_key_path().absolute()
        for name, path in named[1:]:
            if path == key or path in key.parents:
                self.problem("gateway.originals_key", f"must not be inside {name} ({path})")

    def string(self, key: str, value: object) -> bool:
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {type(value).__name__}")
            return False
        return True

    def number(self, key: str, value: object, *, integer: bool, minimum: float) -> bool:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and isinstance(value, float))
        ):
            self.problem(
                key, f"expected {'an integer' if integer else 'a number'}, got {type(value).__name__}"
            )
            return False
        if value < minimum:
            self.problem(key, f"must be at least {minimum:g}, got {value}")
            return False
        return True

    def size(self, key: str, value: object) -> int | None:
        """Sizes are byte counts or strings like "100 MiB"."""
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and (match := _SIZE.match(value)):
            number = int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])
        else:
            self.problem(key, f'expected a size such as 104857600 or "100 MiB", got {value!r}')
            return None
        if number <= 0:
            self.problem(key, f"must be a positive size, got {value!r}")
            return None
        return number


_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.I
)
_MAILBOX = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,253}$")


def _domain(value: str) -> bool:
    return bool(_DOMAIN.match(value))


def _mailbox(value: str) -> bool:
    return bool(_MAILBOX.match(value)) and _domain(value.rpartition("@")[2])


def _network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True
