"""What Prometheus gets: example alert rules that load, fire when they should and name only series the
gateway exports; and every series the gateway exports is in the README."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from gateway.journal import Journal
from gateway.metrics import Metrics
from gateway.smtp.metrics import MailMetrics

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RULES = ROOT / "examples" / "prometheus" / "mukaika-alerts.yml"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("promtool"), "promtool is missing: `make bootstrap` installs Debian's prometheus"
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )


def test_the_example_config_and_its_rules_pass_promtool() -> None:
    result = promtool("check", "config", "prometheus.yml", cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_the_alerts_fire_on_the_series_the_gateway_exports_and_only_then() -> None:
    tests = ROOT / "tests" / "prometheus"
    result = promtool("test", "rules", "mukaika-alerts.test.yml", cwd=tests)
    assert result.returncode == 0, result.stdout + result.stderr


def exported_families(journal: Journal) -> dict[str, set[str]]:
    """Each family's name → the names of its series."""
    metrics = Metrics()
    MailMetrics(metrics.registry, metrics.journal_view)
    metrics.read_journal(lambda: journal.view, lambda: ("a",))  # the gauges read at scrape time
    return {family.name: {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
            for family in metrics.registry.collect()}  # fmt: skip


def exported_names(journal: Journal) -> set[str]:
    return set().union(*exported_families(journal).values())


def test_every_series_the_rules_name_is_exported(tmp_path: Path) -> None:
    named = set(re.findall(r"\b((?:mukaika|process)_[a-z_]+)", RULES.read_text(encoding="utf-8")))
    assert named, "no series found in the rules"
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        assert named - exported_names(journal) == set()
    finally:
        journal.close()


def test_every_series_of_the_gateway_is_in_the_readme(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        families = exported_families(journal)
    finally:
        journal.close()
    ours = {name: series for name, series in families.items() if name.startswith("mukaika_")}
    assert len(ours) > 20
    assert (
        sorted(name for name, series in ours.items() if not any(f"`{s}" in README for s in {name, *series}))
        == []
    )
