"""The [console] table, the channels' approval keys and the originals key in the config check."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, parse_config
from sanitizers.registry import default_registry
from tests.gateway.test_config import MINIMAL


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml", default_registry())
    return info.value.problems


def test_defaults_keep_the_console_off_and_approved_beside_the_outbox() -> None:
    config = parse_config(MINIMAL, "t.toml", default_registry())
    assert not config.console.enabled and config.console.request_expiry_hours == 72
    (channel,) = config.channels
    assert channel.approval == "none" and channel.approved_dir == Path("/srv/share/out-approved")
    assert config.gateway.originals_key_path() == Path("/srv/mukaika/spool/originals.key")


def test_console_settings_are_read() -> None:
    text = (
        MINIMAL
        + """
[console]
listen = "unix:/run/mukaika/console.sock"
users_file = "/etc/mukaika/users.toml"
session_idle_minutes = 10
request_expiry_hours = 24
login_max_failures = 3
login_window_minutes = 30
trust_forwarded_for = true
"""
    )
    console = parse_config(text, "t.toml", default_registry()).console
    assert console.listen == "unix:/run/mukaika/console.sock" and console.users_file == Path(
        "/etc/mukaika/users.toml"
    )
    assert (console.session_idle_minutes, console.request_expiry_hours, console.login_max_failures) == (
        10,
        24,
        3,
    )
    assert console.trust_forwarded_for is True


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[console]\nlisten = "0.0.0.0:8751"', "console.listen: must be"),
        ('[console]\nlisten = "192.168.1.10:8751"', "console.listen: must be"),
        ("[console]\nport = 1", "console.port: unknown key"),
        ("[console]\nlogin_max_failures = 0", "console.login_max_failures: must be at least 1"),
        ('[console]\nusers_file = ""', "console.users_file: must not be empty"),
        ('[console]\ntrust_forwarded_for = "yes"', "console.trust_forwarded_for: expected true or false"),
        ('[console]\nlisten = "127.0.0.1:1"\n[http]\nlisten = "127.0.0.1:1"', "console.listen: must differ"),
    ],
)
def test_bad_console_settings_are_named_by_key(extra: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(MINIMAL + extra)), problems(MINIMAL + extra)


def test_approval_keys_are_checked_and_approved_must_stand_apart() -> None:
    assert any(
        p.startswith("channels[0].approval: must be one of") for p in problems(MINIMAL + 'approval = "yes"')
    )
    assert any(p.startswith('channels[0].approval: "required" needs the console')
               for p in problems(MINIMAL + 'approval = "required"'))  # fmt: skip
    overlap = problems(MINIMAL + 'approved = "/srv/share/out/approved"')
    assert any(p.startswith("channels[0].approved: overlaps channels[0].outbox") for p in overlap)
    key_in_share = problems(MINIMAL.replace("[gateway]", '[gateway]\noriginals_key = "/srv/share/in/k"'))
    assert any(
        p.startswith("gateway.originals_key: must not be inside channels[0].inbox") for p in key_in_share
    )
    ok = (
        MINIMAL
        + 'approval = "required"\napproved = "/srv/share/approved"\n[console]\nlisten = "127.0.0.1:8751"\n'
    )
    (channel,) = parse_config(ok, "t.toml", default_registry()).channels
    assert channel.needs_approval and channel.approved_dir == Path("/srv/share/approved")
