"""[smtp]: off by default, fail closed when on, every problem named by its key."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from gateway.config import EMBEDDED_NAME, ConfigError, SmtpSettings, embedded_config_text, parse_config
from sanitizers.base import MiB
from sanitizers.registry import default_registry

REPOSITORY = Path(__file__).parents[2]
BASE = """
[gateway]
spool_dir = "/srv/mukaika/spool"
[limits]
max_file_size = "50 MiB"
[[channels]]
name = "in"
inbox = "/srv/share/in"
outbox = "/srv/share/out"
rejected = "/srv/share/rejected"
"""
RELAY = """
[smtp]
listen = "192.0.2.10:25"
smart_host = "mail.lgwan.example.lg.jp:25"
allowed_recipient_domains = ["City.Example.LG.JP"]
allowed_recipients = ["soumu@town.example.lg.jp"]
allowed_clients = ["192.0.2.25", "2001:db8::/64"]
tls_cert = "/etc/mukaika/smtp.crt"
tls_key = "/etc/mukaika/smtp.key"
require_starttls = true
max_message_size = "30 MiB"
max_queue = 50
retry_min_seconds = 30
notice_from = "mukaika@gw.city.example.lg.jp"
approved = "/srv/share/mail-approved"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + text, "test", default_registry())
    return caught.value.problems


def test_the_relay_is_off_by_default() -> None:
    config = parse_config(embedded_config_text(), EMBEDDED_NAME, default_registry())
    assert not config.smtp.enabled and config.smtp == SmtpSettings()


def test_a_full_relay_table_is_read() -> None:
    smtp = parse_config(BASE + RELAY, "test", default_registry()).smtp
    assert smtp.enabled and smtp.starttls and smtp.require_starttls
    assert smtp.allowed_recipient_domains == ("city.example.lg.jp",)  # compared in lower case
    assert smtp.max_message_size == 30 * MiB and smtp.max_queue == 50 and smtp.retry_min_seconds == 30
    assert smtp.approved == Path("/srv/share/mail-approved")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('listen = "0.0.0.0:25"\nsmart_host = "[::1]:25"\nallowed_recipients = ["a@b.example"]',
         "smtp.listen: must name one address, not 0.0.0.0"),
        ('listen = "mail:25"', 'smtp.listen: "" (off) or "ADDRESS:PORT"'),
        ('listen = "127.0.0.1:10025"\nallowed_recipient_domains = ["lg.jp"]', "smtp.smart_host: required"),
        ('listen = "127.0.0.1:10025"\nsmart_host = "127.0.0.1:25"', "smtp.allowed_recipient_domains: name at least one"),
        ('allowed_recipient_domains = ["bad domain"]', "smtp.allowed_recipient_domains: 'bad domain' is not a domain"),
        ('allowed_recipients = ["nobody"]', "smtp.allowed_recipients: 'nobody' is not a mail address"),
        ('allowed_clients = ["192.0.2.300"]', "smtp.allowed_clients: '192.0.2.300' is not an IP address"),
        ('listen = "127.0.0.1:10025"\nsmart_host = "127.0.0.1:25"\nallowed_recipient_domains = ["lg.jp"]\n'
         'max_message_size = "60 MiB"', "smtp.max_message_size: cannot exceed limits.max_file_size"),
        ("retry_min_seconds = 600\nretry_max_seconds = 60", "smtp.retry_max_seconds: cannot be less"),
        ("max_queue = 0", "smtp.max_queue: must be at least 1"),
        ("require_starttls = 1", "smtp.require_starttls: expected true or false"),
        ('notice_from = "postmaster"', "smtp.notice_from: must be a mail address"),
        ('smart_hots = "x:25"', "smtp.smart_hots: unknown key"),
        ('listen = "127.0.0.1:10025"\nsmart_host = "127.0.0.1:25"\nallowed_recipients = ["a@b.example"]\n'
         'tls_cert = "/etc/c.pem"', "smtp.tls_key: smtp.tls_cert and smtp.tls_key go together"),
        ('listen = "127.0.0.1:10025"\nsmart_host = "127.0.0.1:25"\nallowed_recipients = ["a@b.example"]\n'
         "require_starttls = true", "smtp.require_starttls: needs smtp.tls_cert"),
        ('listen = "127.0.0.1:10025"\nsmart_host = "127.0.0.1:25"\nallowed_recipients = ["a@b.example"]\n'
         'approved = "/srv/share/out/mail"', "smtp.approved: overlaps channels[0].outbox"),
    ],
)  # fmt: skip
def test_problems_are_named_by_key(table: str, expected: str) -> None:
    found = problems("[smtp]\n" + table)
    assert any(p.startswith(expected) for p in found), found


def test_no_channel_may_take_the_relays_name() -> None:
    found = problems('[[channels]]\nname = "smtp"\ninbox = "/a/in"\noutbox = "/a/out"\nrejected = "/a/rej"\n')
    assert "channels[1].name: 'smtp' is the name of the mail relay's transfers" in found


def test_every_relay_option_is_documented_in_the_default_config_and_the_readme() -> None:
    shipped = embedded_config_text()
    table = shipped[shipped.index("\n[smtp]") : shipped.index("\n[", shipped.index("\n[smtp]") + 1)]
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    for option in fields(SmtpSettings):
        assert re.search(rf"^#? ?{option.name} = ", table, re.M), (
            f"{option.name} missing from config/mukaika.toml"
        )
        assert f"`{option.name}`" in readme, f"{option.name} missing from README.md"
