"""Shared test helpers: the corpus location and small file builders."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


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
