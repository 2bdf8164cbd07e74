"""What the docs say is what the code does: rule options, the transfer log line, generated pages."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import structlog

from gateway import docgen
from gateway.cli import build_parser, main
from gateway.config import load_config
from gateway.fsutil import TEMP_PREFIX
from gateway.logsetup import configure_logging
from gateway.transfers import log_transfer
from sanitizers.errors import REASONS
from sanitizers.registry import default_registry
from tests.transfer_line import documented_fields, every_field_transfer

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SMB_CONF = ROOT / "examples" / "samba" / "smb.conf"


def test_every_rule_option_is_in_the_readme_with_its_default() -> None:
    rows = re.findall(r"^\| ([^|]+) \| `(\w+)` \| ([^|]+) \|", README, re.M)
    for sanitizer in default_registry():
        for name, spec in sanitizer.options.items():
            values = [row[2] for row in rows if row[1] == name]
            assert values, f"{type(sanitizer).__name__}.{name} is not documented in README.md"
            default = str(spec.default).lower() if isinstance(spec.default, bool) else str(spec.default)
            assert any(v.startswith(default) or f"`{default}`" in v.split(",")[0] for v in values), (
                f"{name}: README does not show the default {default!r}"
            )


def test_the_tuning_example_in_the_readme_is_a_config_that_does_what_it_says(tmp_path: Path) -> None:
    example = README.split("<!-- tests/test_docs.py loads this example as a config -->", 1)[1]
    path = tmp_path / "mukaika.toml"
    path.write_text(example.split("```toml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    config = load_config(str(path), default_registry())
    pdf = config.rules["pdf"]
    assert (
        pdf.methods == ("rebuild", "image") and pdf.options["links"] == "remove" and pdf.options["dpi"] == 200
    )
    channel = config.channel("lgwan-to-internet")
    assert channel is not None
    assert channel.rules["docx"].methods == ("pdf",) and channel.rules["docx"].options["comments"] == "remove"


def test_the_cluster_example_layers_over_the_installed_config_and_every_key_is_documented(
    tmp_path: Path,
) -> None:
    """examples/cluster/cluster.toml as a drop-in over what `make install` writes: a config of
    several nodes on the shared spool; every [cluster] key is in the README's table."""
    installed = (
        (ROOT / "config" / "mukaika.toml")
        .read_text(encoding="utf-8")
        .replace("./var/mukaika/", "/srv/mukaika/")
    )
    (tmp_path / "mukaika.toml").write_text(installed, encoding="utf-8")
    (tmp_path / "mukaika.d").mkdir()
    shutil.copy(ROOT / "examples" / "cluster" / "cluster.toml", tmp_path / "mukaika.d" / "cluster.toml")
    config = load_config(str(tmp_path / "mukaika.toml"), default_registry())
    assert config.gateway.spool_dir == Path("/srv/mukaika/spool")
    assert str(config.journal_target()).startswith("postgresql://mukaika@db.example.lg.jp/mukaika?")
    assert config.origin("journal.url") == str(tmp_path / "mukaika.d" / "cluster.toml")
    section = README.split("## Several nodes", 1)[1].split("\n## ", 1)[0]
    for key in ("node", "heartbeat_seconds", "stalled_seconds", "takeover_seconds"):
        assert f"| `{key}` |" in section, key


# ── the canonical transfer line ───────────────────────────────────────────────────────
def test_the_readme_tables_exactly_the_fields_of_the_transfer_line() -> None:
    buffer = io.StringIO()
    configure_logging("json", "info", stream=buffer)
    try:
        log_transfer(every_field_transfer())
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers = []
    logged = json.loads(buffer.getvalue().splitlines()[-1])
    documented, _ = documented_fields()
    assert sorted(set(logged) - documented) == [], "logged but not in the README's table"
    assert sorted(documented - set(logged)) == [], "in the README's table but not logged"


def test_the_sanitize_command_logs_a_subset_of_the_transfer_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "note.txt"
    source.write_text("hello\n")
    assert main(["sanitize", str(source), "-o", str(tmp_path / "out.txt")]) == 0
    logged = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    documented, _ = documented_fields()
    assert logged["event"] == "transfer" and set(logged) <= documented


# ── generated pages (`make docs`) ─────────────────────────────────────────────────────
def test_the_reason_reference_is_made_from_the_catalogue() -> None:
    assert (ROOT / "docs" / docgen.REASONS_FILE).read_text(encoding="utf-8") == docgen.reasons_markdown(), (
        "docs/reasons.md is stale: run `make docs`"
    )
    for code in REASONS:
        assert f"| `{code}` |" in docgen.reasons_markdown()


def test_the_man_page_is_made_from_the_command_line() -> None:
    assert (ROOT / "docs" / docgen.MAN_FILE).read_text(encoding="utf-8") == docgen.man_page(), (
        "docs/mukaika.1 is stale: run `make docs`"
    )


def test_the_man_page_renders_without_warnings() -> None:
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    result = subprocess.run(["man", "--warnings", "-l", str(ROOT / "docs" / docgen.MAN_FILE)], capture_output=True,
                            text=True, env={**os.environ, "MANWIDTH": "80"}, timeout=30, check=False)  # fmt: skip
    assert result.returncode == 0 and result.stderr == ""
    assert "mukaika backup PATH [--config PATH]" in result.stdout


def commands(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path} {name}")
    return found


def test_every_command_and_option_says_what_it_does() -> None:
    for path, parser in commands(build_parser(), "mukaika"):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), (
                    f"{path}: a command without help"
                )
            else:
                assert action.help, f"{path} {'/'.join(action.option_strings) or action.dest}: no help text"


# ── the Samba example ─────────────────────────────────────────────────────────────────
def samba_shares() -> dict[str, dict[str, str]]:
    """The example as Samba reads it (testparm -s), share by share."""
    testparm = shutil.which("testparm") or "/usr/bin/testparm"
    assert Path(testparm).exists(), "testparm is missing: run `make test` (as root it installs samba)"
    result = subprocess.run([testparm, "-s", str(SMB_CONF)], capture_output=True, text=True, timeout=30,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not re.search(r"unknown parameter|ignoring|error", result.stderr, re.I), result.stderr
    shares: dict[str, dict[str, str]] = {}
    for line in result.stdout.splitlines():
        if match := re.fullmatch(r"\[(.+)\]", line.strip()):
            current = shares.setdefault(match[1], {})
        elif "=" in line:
            key, _, value = line.strip().partition(" = ")
            current[key] = value
    return shares


def test_the_samba_example_shares_every_folder_of_the_shipped_channels_as_the_gateway_needs() -> None:
    shares = {share["path"]: share for name, share in samba_shares().items() if name != "global"}
    shipped = tomllib.loads((ROOT / "config" / "mukaika.toml").read_text(encoding="utf-8"))["channels"]
    for channel in shipped:
        folders = {role: channel[role].replace("./var/mukaika/", "/srv/mukaika/")
                   for role in ("inbox", "outbox", "rejected", "approved")}  # fmt: skip
        assert set(folders.values()) <= set(shares), f"{channel['name']}: a folder without a share"
        for role, path in folders.items():
            share = shares[path]
            # files arrive owned by the gateway (its read lease sees a copy still open), and it
            # can place and remove files in what it writes
            assert share["force user"] == "mukaika", path
            assert share["hosts allow"], path  # each share is reachable from one segment only
            vetoed = share.get("veto files", "")
            if role == "inbox":  # Office saves through temp names: they must stay allowed
                assert "Thumbs.db" in vetoed and "~$" not in vetoed and ".tmp" not in vetoed
            else:  # what the gateway is still writing is never seen from a client
                assert f"/{TEMP_PREFIX}*/" in vetoed and share.get("delete veto files", "No") == "No", path
