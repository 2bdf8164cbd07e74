"""The summary table of bench/REPORT.md, from made-up measures (the benchmarks themselves are not tests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SUMMARY = Path(__file__).resolve().parents[1] / "bench" / "summary.py"


@pytest.fixture(scope="module")
def summary() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_summary", SUMMARY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_ratio_is_ours_over_the_reference_and_decides_the_target(summary: ModuleType) -> None:
    at_most = summary.Target("at_most", 1.5)
    table = summary.summary_table(
        [
            summary.Measure("PDF rebuild", 30.0, "ms", "bare pikepdf", 20.0, at_most),
            summary.Measure("PDF rebuild vs qpdf", 40.0, "ms", "qpdf", 20.0, at_most),
            summary.Measure("throughput", 3.0, "files/s", "serial", 2.0, summary.Target("at_least", 1.6)),
        ]
    )
    header, rule, *body = rows(table)
    assert header == ["measure", "ours", "reference", "ratio", "target", "result"]
    assert all(set(c) == {"-"} for c in rule)
    assert body == [
        ["PDF rebuild", "30 ms", "20 ms (bare pikepdf)", "1.50", "≤ 1.5", "met"],
        ["PDF rebuild vs qpdf", "40 ms", "20 ms (qpdf)", "2.00", "≤ 1.5", "NOT met"],
        ["throughput", "3 files/s", "2 files/s (serial)", "1.50", "≥ 1.6", "NOT met"],
    ]


def test_a_measure_without_reference_or_number_is_not_judged(summary: ModuleType) -> None:
    table = summary.summary_table(
        [
            summary.Measure("latency p95", 0.25, "s"),
            summary.Measure(
                "vs mat2", None, "ms", "mat2", None, summary.Target("at_most", 1.0), "mat2 missing"
            ),
            summary.Measure("a | b", 150.0, "ms", "tool", 0.0, summary.Target("at_most", 1.0)),
        ]
    )
    _, _, latency, mat2, pipe = table.splitlines()
    assert rows(latency)[0] == ["latency p95", "0.25 s", "—", "—", "—", "no target"]
    assert rows(mat2)[0] == ["vs mat2", "n/a (mat2 missing)", "n/a (mat2)", "—", "≤ 1", "not measured"]
    assert pipe.startswith("| a \\| b | 150 ms |") and pipe.endswith("| — | ≤ 1 | not measured |")
