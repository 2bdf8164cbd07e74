"""Every file of the shared corpus through the shipped policy: what staff read of each refusal and
each finding carries no server path, and every construct and action reported has a label.

LibreOffice conversions (the `pdf` method) are left out of the rules: they take seconds a file,
and what they refuse with is a fixed text of our own (sanitizers/convert.py).
"""

from __future__ import annotations

import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import ChannelPolicy, embedded_config_text, parse_config
from gateway.console.present import location_text
from gateway.reasons import reason_text
from sanitizers.archives.members import REMOVED_LIST_NAME
from sanitizers.constructs import ACTIONS, construct_label
from sanitizers.pipeline import Outcome, Rule, process_file
from sanitizers.registry import default_registry
from tests.conftest import CORPUS, ROOT, corpus_manifest, require_corpus

require_corpus()
pytestmark = [pytest.mark.corpus, pytest.mark.slow]

REGISTRY = default_registry()
CONFIG = parse_config(embedded_config_text(), "embedded", REGISTRY)
POLICY = ChannelPolicy(
    {
        name: Rule(tuple(m for m in rule.methods if m != "pdf"), rule.options)
        for name, rule in CONFIG.policy().rules.items()
    }
)


@dataclass(frozen=True)
class Swept:
    relpath: str
    outcome: Outcome
    removed_list: str  # the list of members a rebuilt archive says it took out ("" when none)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> list[Swept]:
    results = []
    for row in corpus_manifest():
        scratch = tmp_path_factory.mktemp("sweep")
        relpath = row["relpath"]
        outcome = process_file(CORPUS / relpath, Path(relpath).name, scratch, POLICY, CONFIG.limits, REGISTRY)
        listing = ""
        if outcome.output is not None and outcome.output.type == "zip" and outcome.output_path is not None:
            with zipfile.ZipFile(outcome.output_path) as rebuilt:
                if REMOVED_LIST_NAME in rebuilt.namelist():
                    listing = rebuilt.read(REMOVED_LIST_NAME).decode("utf-8-sig")
        results.append(Swept(relpath, outcome, listing))
    return results


def server_paths(text: str, tmp: Path) -> list[str]:
    """What of this machine's folders, or of Python's insides, ``text`` shows.

    Not any "/tmp/": a member named "../../tmp/evil.txt" is the file's own content, and staff
    are told which member was refused.
    """
    marks = (str(CORPUS), str(tmp), str(ROOT), sys.prefix, sys.base_prefix, "site-packages", "dist-packages")
    return [mark for mark in marks if mark in text] + re.findall(r"<[^<>]* at 0x[0-9a-f]+>", text)


def test_the_sweep_meets_refusals_whose_detail_names_a_path(swept: list[Swept]) -> None:
    refused = [s for s in swept if s.outcome.reason is not None]
    assert len(swept) == len(corpus_manifest()) and len(refused) > 80
    assert any(str(CORPUS) in s.outcome.reason.message for s in refused if s.outcome.reason)


def test_every_refusal_reads_without_server_paths(
    swept: list[Swept], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.getbasetemp()
    for s in swept:
        if s.outcome.reason is None:
            continue
        reason = s.outcome.reason
        text = reason_text(
            name=Path(s.relpath).name, transfer_id="t-1", code=reason.code, detail=reason.message
        )
        assert server_paths(text, tmp) == [], (s.relpath, text)


def test_every_finding_location_and_removed_list_reads_without_server_paths(
    swept: list[Swept], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.getbasetemp()
    for s in swept:
        for finding in s.outcome.findings:
            assert server_paths(location_text(finding.location), tmp) == [], (s.relpath, finding)
        assert server_paths(s.removed_list, tmp) == [], (s.relpath, s.removed_list)


def test_every_construct_and_action_reported_has_a_label(swept: list[Swept]) -> None:
    reported = {(f.construct, f.action) for s in swept for f in s.outcome.findings}
    assert len(reported) > 100
    assert sorted(c for c, _ in reported if construct_label(c) is None) == []
    assert sorted(a for _, a in reported if a not in ACTIONS) == []
