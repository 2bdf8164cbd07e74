from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from gateway.config import EMBEDDED_NAME, ConfigError, load_config, parse_config
from gateway.effective import effective_text
from gateway.layers import config_changes
from sanitizers.base import GiB, Limits, MiB, OptionSpec, Registry, Report, Sanitizer

MINIMAL = """
[gateway]
spool_dir = "/srv/mukaika/spool"
[rules.txt]
method = "rebuild"
[[channels]]
name = "in"
inbox = "/srv/share/in"
outbox = "/srv/share/out"
rejected = "/srv/share/rejected"
"""


class _Txt(Sanitizer):
    types = frozenset({"txt"})
    method = "rebuild"
    options: ClassVar[dict[str, OptionSpec]] = {
        "encoding": OptionSpec("keep", "output encoding", choices=("keep", "utf-8"))
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: object, limits: Limits) -> Report:
        raise NotImplementedError


@pytest.fixture
def registry() -> Registry:
    return Registry([_Txt()])


def test_embedded_default_config_loads_with_two_channels(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MUKAIKA_CONFIG", raising=False)
    monkeypatch.setattr("gateway.config.SYSTEM_CONFIG", Path("/nonexistent/mukaika.toml"))
    config = load_config(None, registry)
    assert config.source == EMBEDDED_NAME
    assert [c.name for c in config.channels] == ["internet-to-lgwan", "lgwan-to-internet"]
    assert config.rules["pdf"].methods == ("rebuild", "image")
    assert config.rules["exe"].methods == ("reject",)
    assert config.limits.max_file_size == 200 * MiB
    assert config.limits.worker_memory == 2 * GiB
    assert (config.limits.max_pixels, config.limits.archive_depth) == (250_000_000, 4)


def test_lookup_order_is_flag_then_environment_then_system(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, env, system = (tmp_path / n for n in ("flag.toml", "env.toml", "system.toml"))
    for path in (flag, env, system):
        path.write_text(MINIMAL)
    monkeypatch.setattr("gateway.config.SYSTEM_CONFIG", system)
    monkeypatch.setenv("MUKAIKA_CONFIG", str(env))
    assert load_config(str(flag), registry).source == str(flag)
    assert load_config(None, registry).source == str(env)
    monkeypatch.delenv("MUKAIKA_CONFIG")
    assert load_config(None, registry).source == str(system)


def test_sizes_accept_units_and_channel_rules_override_only_given_keys(registry: Registry) -> None:
    text = MINIMAL.replace(
        '[rules.txt]\nmethod = "rebuild"', '[rules.txt]\nmethod = ["rebuild", "reject"]\nencoding = "utf-8"'
    )
    text += '[limits]\nmax_file_size = "1.5 GiB"\n[channels.rules.txt]\nmethod = "reject"\n'
    config = parse_config(text, "test.toml", registry)
    assert config.limits.max_file_size == int(1.5 * GiB)
    assert config.rules["txt"].options == {"encoding": "utf-8"}
    channel_rule = config.policy("in").rule_for("txt")
    assert channel_rule is not None
    assert channel_rule.methods == ("reject",)
    assert channel_rule.options == {"encoding": "utf-8"}
    assert config.policy("in").rule_for("pdf") is None


BROKEN: list[tuple[str, str, str]] = [
    ("unknown top-level key", MINIMAL + "[extras]\nx = 1\n", "(top level).extras: unknown key"),
    (
        "unknown gateway key",
        MINIMAL.replace("[gateway]", "[gateway]\nworker = 2"),
        "gateway.worker: unknown key",
    ),
    (
        "wrong type",
        MINIMAL.replace("[gateway]", '[gateway]\nworkers = "two"'),
        "gateway.workers: expected an integer",
    ),
    (
        "negative number",
        MINIMAL.replace("[gateway]", "[gateway]\nworkers = -1"),
        "gateway.workers: must be at least 0",
    ),
    (
        "bad choice",
        MINIMAL.replace("[gateway]", '[gateway]\nlog_format = "xml"'),
        "gateway.log_format: must be one of",
    ),
    ("bad size", MINIMAL + '[limits]\nmax_file_size = "lots"\n', "limits.max_file_size: expected a size"),
    (
        "impossible memory",
        MINIMAL + '[limits]\nworker_memory = "10 MiB"\n',
        "limits.worker_memory: must be at least",
    ),
    (
        "member above total",
        MINIMAL + '[limits]\narchive_member_size = "2 GiB"\narchive_total_size = "1 GiB"\n',
        "limits.archive_member_size: cannot exceed",
    ),
    (
        "zero timeout",
        MINIMAL + "[limits]\ntimeout_seconds = 0\n",
        "limits.timeout_seconds: must be at least 1",
    ),
    ("unknown type", MINIMAL + '[rules.exel]\nmethod = "rebuild"\n', "rules.exel: unknown file type"),
    (
        "unknown method",
        MINIMAL.replace('method = "rebuild"', 'method = "scrub"'),
        "rules.txt.method: unknown method 'scrub'",
    ),
    (
        "reject not last",
        MINIMAL.replace('method = "rebuild"', 'method = ["reject", "rebuild"]'),
        "rules.txt.method: `reject` can only be the last",
    ),
    ("missing method", MINIMAL + "[rules.csv]\nencoding = 1\n", "rules.csv.method: missing"),
    (
        "unknown option",
        MINIMAL.replace('method = "rebuild"', 'method = "rebuild"\ncolour = "red"'),
        "rules.txt.colour: unknown option for txt (known: encoding)",
    ),
    (
        "bad option value",
        MINIMAL.replace('method = "rebuild"', 'method = "rebuild"\nencoding = "latin1"'),
        "rules.txt.encoding: must be one of 'keep', 'utf-8'",
    ),
    (
        "overlapping dirs",
        MINIMAL.replace('outbox = "/srv/share/out"', 'outbox = "/srv/share/in/clean"'),
        "channels[0].outbox: overlaps channels[0].inbox",
    ),
    (
        "spool inside a share",
        MINIMAL.replace('spool_dir = "/srv/mukaika/spool"', 'spool_dir = "/srv/share/in/.spool"'),
        "channels[0].inbox: overlaps gateway.spool_dir",
    ),
    (
        "bad channel name",
        MINIMAL.replace('name = "in"', 'name = "In Box"'),
        "channels[0].name: must be lower-case",
    ),
    (
        "channel missing outbox",
        MINIMAL.replace('outbox = "/srv/share/out"\n', ""),
        "channels[0].outbox: must be a directory path",
    ),
    (
        "channel override of unknown type",
        MINIMAL + '[channels.rules.foo]\nmethod = "reject"\n',
        "channels[0].rules.foo: unknown file type",
    ),
    ("not toml", "[gateway\n", "not valid TOML"),
    ("http on a public address", MINIMAL + '[http]\nlisten = "0.0.0.0:8080"\n', "http.listen: must be"),
    (
        "relative clamd socket",
        MINIMAL + '[clamav]\nsocket = "clamd.sock"\n',
        "clamav.socket: must be an absolute",
    ),
    (
        "bad clamd fallback",
        MINIMAL + '[clamav]\non_unavailable = "release"\n',
        "clamav.on_unavailable: must be",
    ),
    (
        "journal in another database",
        MINIMAL + '[journal]\nurl = "mysql://gateway@db/journal"\n',
        'journal.url: must be "" (the SQLite file journal.sqlite in gateway.spool_dir) or a PostgreSQL URL',
    ),
    (
        "journal as a path",
        MINIMAL + '[journal]\nurl = "/var/lib/mukaika/journal.sqlite"\n',
        'journal.url: must be "" (the SQLite file',
    ),
    ("journal url not a string", MINIMAL + "[journal]\nurl = 5432\n", "journal.url: expected a string"),
    (
        "unknown journal key",
        MINIMAL + '[journal]\npath = "/tmp/j"\n',
        "journal.path: unknown key (allowed: url)",
    ),
    ("node name with a space", MINIMAL + '[cluster]\nnode = "gw 1"\n', "cluster.node: letters, digits"),
    ("node name too long", MINIMAL + f'[cluster]\nnode = "{"n" * 64}"\n', "cluster.node: letters, digits"),
    (
        "heartbeat of zero",
        MINIMAL + "[cluster]\nheartbeat_seconds = 0\n",
        "cluster.heartbeat_seconds: must be at least 0.1",
    ),
    (
        "stalled before three heartbeats",
        MINIMAL + "[cluster]\nheartbeat_seconds = 5\nstalled_seconds = 10\n",
        "cluster.stalled_seconds: must be at least three cluster.heartbeat_seconds",
    ),
    (
        "takeover as text",
        MINIMAL + '[cluster]\ntakeover_seconds = "2s"\n',
        "cluster.takeover_seconds: expected a number",
    ),
    ("unknown cluster key", MINIMAL + "[cluster]\nnodes = 3\n", "cluster.nodes: unknown key"),
]


@pytest.mark.parametrize(("case", "text", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_names_file_key_path_and_what_is_allowed(
    registry: Registry, case: str, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/etc/mukaika/broken.toml", registry)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith("/etc/mukaika/broken.toml: ")


def test_the_journal_is_the_spool_file_unless_a_postgresql_url_is_given(registry: Registry) -> None:
    config = parse_config(MINIMAL, "test.toml", registry)
    assert config.journal_target() == Path("/srv/mukaika/spool/journal.sqlite")
    assert config.journal_redacted() == "/srv/mukaika/spool/journal.sqlite"
    url = "postgresql://mukaika:s3cr%40t@db.example.lg.jp:5433/journal?sslmode=verify-full"
    config = parse_config(MINIMAL + f'[journal]\nurl = "{url}"\n', "test.toml", registry)
    assert config.journal_target() == url  # what the journal connects with, password and all
    assert (
        config.journal_redacted()
        == "postgresql://mukaika:***@db.example.lg.jp:5433/journal?sslmode=verify-full"
    )
    also = "postgres://db/journal?user=mukaika&password=hunter2&application_name=gw"
    config = parse_config(MINIMAL + f'[journal]\nurl = "{also}"\n', "test.toml", registry)
    assert config.journal_target() == also
    assert config.journal.redacted == "postgres://db/journal?user=mukaika&password=***&application_name=gw"


def test_a_node_is_named_after_its_host_unless_the_config_names_it(registry: Registry) -> None:
    import socket

    config = parse_config(MINIMAL, "test.toml", registry)
    assert config.cluster.node == socket.gethostname()
    assert (config.cluster.heartbeat_seconds, config.cluster.stalled_seconds) == (5.0, 30.0)
    named = parse_config(
        MINIMAL + '[cluster]\nnode = "gw-east.1"\ntakeover_seconds = 0.5\n', "t.toml", registry
    )
    assert named.cluster.node == "gw-east.1" and named.cluster.takeover_seconds == 0.5


def test_a_journal_url_libpq_cannot_read_is_refused_without_showing_its_password(registry: Registry) -> None:
    text = MINIMAL + '[journal]\nurl = "postgresql://mukaika:s3cret@db/journal?colour=red"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.toml", registry)
    (problem,) = caught.value.problems
    assert problem.startswith("journal.url: not a PostgreSQL URL libpq accepts") and "colour" in problem
    assert "s3cret" not in str(caught.value)


def test_the_journal_password_is_never_printed_by_check_config_or_a_reload(registry: Registry) -> None:
    secret_url = "postgresql://mukaika:s3cret@db/journal"
    before = parse_config(MINIMAL, "test.toml", registry)
    after = parse_config(MINIMAL + f'[journal]\nurl = "{secret_url}"\n', "test.toml", registry)
    printed = effective_text(after)
    assert 'url = "postgresql://mukaika:***@db/journal"' in printed and "s3cret" not in printed
    changes = config_changes(before.settings, after.settings)
    assert changes == ['journal.url: (not set) -> "postgresql://mukaika:***@db/journal"']


def test_every_problem_is_reported_not_just_the_first(registry: Registry) -> None:
    text = (
        MINIMAL.replace("[gateway]", '[gateway]\nworkers = "x"\nlog_level = "loud"')
        + "[rules.nope]\nmethod = 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "t.toml", registry)
    keys = sorted(p.split(":")[0] for p in caught.value.problems)
    assert keys == ["gateway.log_level", "gateway.workers", "rules.nope"]


def test_unreadable_file_is_a_config_error(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(str(tmp_path / "missing.toml"), registry)
