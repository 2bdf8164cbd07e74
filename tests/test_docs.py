"""What the docs say is what the code does: rule options, the transfer log line, generated pages."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
import structlog

from gateway.cli import main
from gateway.logsetup import configure_logging
from gateway.transfers import log_transfer
from sanitizers.registry import default_registry
from tests.transfer_line import documented_fields, every_field_transfer

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


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
