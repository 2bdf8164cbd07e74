"""The shared corpus' text, HTML/SVG, archive and other files, judged as the tables say.

Each file runs through ``process_file`` under a policy that rebuilds this family's types
and rejects every other type explicitly; outputs are re-checked with the independent
finders of the unit tests, and nothing may be left beside the output.  The bombs also run
in a child process whose peak memory is measured.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sanitizers.base import Limits
from sanitizers.pipeline import Outcome, process_file
from tests.conftest import CORPUS, corpus_manifest, require_corpus
from tests.sanitizers.contract import assert_judged_again_unchanged
from tests.sanitizers.test_archives import REGISTRY, OwnTypesPolicy
from tests.sanitizers.test_html import active_content as html_active_content
from tests.sanitizers.test_svg import active_content as svg_active_content

require_corpus()
pytestmark = pytest.mark.corpus

FOLDERS = ("text", "html_svg", "archive", "other")
FIXTURES = Path(__file__).parents[2] / "fixtures"
TABLES: dict[str, list[dict[str, Any]]] = {
    folder: tomllib.loads((FIXTURES / f"{folder}_corpus.toml").read_text(encoding="utf-8"))["file"]
    for folder in FOLDERS
}
EXPECTED = {entry["path"]: entry for table in TABLES.values() for entry in table}
#: The nested-archive bomb of the corpus is three levels deep, PyCIRCLean's threshold is two.
CORPUS_LIMITS = Limits(archive_depth=2)
_CODECS = {"UTF-8": "utf-8-sig", "Shift_JIS": "cp932", "EUC-JP": "euc_jp", "UTF-16LE": "utf-16",
           "windows-1252": "cp1252"}  # fmt: skip
BOMBS = (
    "archive/kd2fw__zbsm.zip",
    "archive/kd2fw__zipbomb_1G.zip",
    "archive/tika__droste.zip",
    "archive/pycirclean__archivebomb.zip",
)
PEAK_MEMORY = 500 * 1024 * 1024


@pytest.mark.parametrize("folder", FOLDERS)
def test_table_covers_the_folder(folder: str) -> None:
    in_manifest = sorted(
        row["relpath"] for row in corpus_manifest() if row["relpath"].startswith(f"{folder}/")
    )
    assert sorted(entry["path"] for entry in TABLES[folder]) == in_manifest


def judge(relpath: str, scratch: Path) -> Outcome:
    scratch.mkdir()
    outcome = process_file(
        CORPUS / relpath, Path(relpath).name, scratch, OwnTypesPolicy(), CORPUS_LIMITS, REGISTRY
    )
    left = sorted(p.name for p in scratch.iterdir())
    assert left == (["output-rebuild"] if outcome.verdict == "released" else []), "stray files"
    return outcome


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_corpus_file_verdict(relpath: str, tmp_path: Path) -> None:
    expected = EXPECTED[relpath]
    outcome = judge(relpath, tmp_path / "scratch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"]
    assert outcome.verdict == expected["verdict"], outcome.reason
    if outcome.verdict == "rejected":
        assert outcome.reason is not None and outcome.reason.code == expected["code"], outcome.reason
        return
    assert outcome.output_path is not None and outcome.input.type is not None
    assert sorted({f.construct for f in outcome.findings if f.action != "kept"}) == expected["removed"]
    data = outcome.output_path.read_bytes()
    if "encoding" in expected:
        kept = [
            f.location for f in outcome.findings if f.construct.endswith(".encoding") and f.action == "kept"
        ]
        assert kept == [expected["encoding"]]
    if expected.get("identical"):
        assert data == (CORPUS / relpath).read_bytes()
    if "contains" in expected:
        assert expected["contains"] in data.decode(_CODECS[expected["encoding"]])
    check_output_independently(outcome.input.type, data, expected)
    assert_judged_again_unchanged(outcome, OwnTypesPolicy(), CORPUS_LIMITS, REGISTRY, tmp_path / "again")


def check_output_independently(type_name: str, data: bytes, expected: dict[str, Any]) -> None:
    if type_name == "html":
        assert html_active_content(data.decode(_CODECS[expected["encoding"]])) == []
    elif type_name == "svg":
        assert svg_active_content(data) == []
    elif "members" in expected:  # a ZIP, or another archive rebuilt as one
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.namelist() == expected["members"]
            assert archive.testzip() is None
            for info in archive.infolist():
                assert not info.flag_bits & 0x1 and (info.filename.isascii() or info.flag_bits & 0x800)


_BOMB_RUNNER = """
import json, resource, sys, tempfile
from pathlib import Path
from sanitizers.base import Limits
from sanitizers.pipeline import process_file
from tests.sanitizers.test_archives import REGISTRY, OwnTypesPolicy

corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
runs = [(relpath, Limits(archive_depth=2)) for relpath in sys.argv[3:]]
runs.append(("archive/tika__droste.zip", Limits()))  # the quine under the shipped limits too
codes = []
for i, (relpath, limits) in enumerate(runs):
    scratch = out / f"scratch-{i}"
    scratch.mkdir()
    outcome = process_file(corpus / relpath, Path(relpath).name, scratch, OwnTypesPolicy(), limits, REGISTRY)
    codes.append([relpath, outcome.reason.code if outcome.reason else None, sorted(p.name for p in scratch.iterdir())])

# The header checks stop every bomb above before a byte is inflated; here the 1 GB member's
# real stream is fed to the live counter alone, into a sink, to see that it stops it too.
import io, zipfile
from sanitizers.archives.budget import TreeBudget, copy_bounded
from sanitizers.errors import LimitError

class Sink(io.RawIOBase):
    def writable(self): return True
    def write(self, b): return len(b)

streamed = None
with zipfile.ZipFile(corpus / "archive/kd2fw__zipbomb_1G.zip") as archive:
    info = archive.infolist()[0]
    try:
        with archive.open(info) as stream:
            copy_bounded(stream, Sink(), info.compress_size, Limits(), TreeBudget(1 << 40, 10), "-")
    except LimitError as exc:
        streamed = exc.code
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"codes": codes, "streamed": streamed, "peak": peak}))
"""


def test_bombs_hit_their_limits_in_little_memory_and_write_nothing_elsewhere(tmp_path: Path) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "TMPDIR": str(private_tmp), "PYTHONPATH": str(Path(__file__).parents[2])}
    completed = subprocess.run(
        [sys.executable, "-c", _BOMB_RUNNER, str(CORPUS), str(out), *BOMBS],
        capture_output=True, text=True, env=env, timeout=240, check=True,
    )  # fmt: skip
    result = json.loads(completed.stdout)
    assert [code for _, code, _ in result["codes"]] == ["archive.bomb"] * (len(BOMBS) + 1), result["codes"]
    assert all(left == [] for _, _, left in result["codes"])
    assert result["streamed"] == "archive.bomb"
    assert result["peak"] < PEAK_MEMORY, f"peak {result['peak'] / 2**20:.0f} MiB"
    assert list(private_tmp.iterdir()) == []
