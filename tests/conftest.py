"""Shared test helpers: the corpus location and small file builders."""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import structlog

from sanitizers.base import Limits, Registry
from sanitizers.pipeline import Outcome, Policy, process_file
from tests.postgres_harness import PostgresCluster, running_cluster

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_manifest() -> list[dict[str, str]]:
    """Rows of ../shared/corpus/MANIFEST.tsv as dicts (empty when the corpus is absent)."""
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    lines = manifest.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if line]


def corpus_names(folder: str) -> list[str]:
    """File names of the manifest's rows in ``folder`` (e.g. "pdf"), sorted."""
    return sorted(
        Path(row["relpath"]).name for row in corpus_manifest() if row["relpath"].startswith(f"{folder}/")
    )


def corpus_table(section: str) -> dict[str, dict[str, str]]:
    """The expected verdicts of fixtures/<section>_corpus.toml, by file name."""
    table = tomllib.loads((ROOT / "fixtures" / f"{section}_corpus.toml").read_text(encoding="utf-8"))
    return {entry["file"]: entry for entry in table[section]}


def process_timed(
    src: Path, name: str, scratch: Path, policy: Policy, limits: Limits, registry: Registry
) -> tuple[Outcome, float]:
    """The pipeline's outcome for one file, and the seconds it took."""
    started = time.monotonic()
    outcome = process_file(src, name, scratch, policy, limits, registry)
    return outcome, time.monotonic() - started


def released_as_the_table_says(outcome: Outcome, expected: Mapping[str, str]) -> Path | None:
    """Check ``outcome`` against a corpus table entry (expect = "rejected" with a ``code``,
    or the method that releases it); return the output path when released."""
    if expected["expect"] == "rejected":
        assert outcome.verdict == "rejected"
        assert outcome.reason is not None
        assert outcome.reason.code == expected["code"], outcome.reason.message
        return None
    assert outcome.verdict == "released", outcome.reason
    assert outcome.method == expected["expect"]
    assert outcome.output_path is not None and outcome.output is not None
    return outcome.output_path


def require_corpus() -> None:
    """Module-level skip for corpus tests when the shared corpus is not on this machine."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent", allow_module_level=True)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Tests that run the CLI in-process configure logging; give the next test a clean slate."""
    handlers, level = logging.getLogger().handlers[:], logging.getLogger().level
    yield
    logging.getLogger().handlers[:] = handlers
    logging.getLogger().setLevel(level)
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster for this test process (tests.postgres_harness)."""
    with running_cluster() as cluster:
        yield cluster
