"""`mukaika` command behaviour: exit codes, one JSON object, readable errors."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from gateway.cli import main, verified
from gateway.config import load_config
from sanitizers.base import Limits, Options, Registry, Report, Sanitizer
from sanitizers.pipeline import process_file
from sanitizers.registry import default_registry
from tests.sanitizers import pdf_builders

BROKEN_CONFIG = """
[gateway]
workers = "many"
[rules.pdf]
method = "shred"
"""


def test_check_config_on_the_embedded_default_prints_ok_and_a_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MUKAIKA_CONFIG", raising=False)
    monkeypatch.setattr("gateway.config.SYSTEM_CONFIG", Path("/nonexistent.toml"))
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok\n")
    assert "internet-to-lgwan" in out and "pdf: rebuild" in out and "exe: reject" in out


def test_check_config_lists_every_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN_CONFIG)
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"2 error(s) in {path}" in err
    assert "gateway.workers: expected an integer" in err and "rules.pdf.method: unknown method 'shred'" in err


def test_sanitize_with_invalid_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN_CONFIG)
    src = tmp_path / "a.txt"
    src.write_text("x")
    assert main(["sanitize", str(src), "-o", str(tmp_path / "o"), "--config", str(path)]) == 2
    assert "invalid configuration" in capsys.readouterr().err


def test_sanitize_refused_type_prints_one_json_object_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "invoice.pdf.exe"
    src.write_bytes(b"MZ" + b"\0" * 200)
    out = tmp_path / "out"
    assert main(["sanitize", str(src), "-o", str(out), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "rejected"
    assert result["reason"]["code"] == "policy.reject"
    assert result["input"]["type"] == "exe" and len(result["input"]["sha256"]) == 64
    assert result["output"] is None and not out.exists()


def test_sanitize_mismatch_gets_a_reason_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"%!PS-Adobe-3.0\nshowpage\n")
    assert main(["sanitize", str(src), "-o", str(tmp_path / "o.jpg")]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("rejected: type.mismatch:")
    assert "Traceback" not in captured.err


def test_sanitize_of_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["sanitize", str(tmp_path / "nope.pdf"), "-o", str(tmp_path / "o")]) == 2


def test_console_script_runs_and_logs_json_to_stderr(tmp_path: Path) -> None:
    src = tmp_path / "a.bat"
    src.write_text("echo hi\n")
    mukaika = Path(sys.executable).parent / "mukaika"
    proc = subprocess.run(
        [str(mukaika), "sanitize", str(src), "-o", str(tmp_path / "o"), "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["reason"]["code"] == "policy.reject"
    log = json.loads(proc.stderr.strip().splitlines()[-1])
    assert log["event"] == "transfer" and log["verdict"] == "rejected" and log["file_type"] == "script"


def test_sanitize_releases_atomically_and_reports_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "お知らせ.csv"
    src.write_bytes("件名,金額\r\n=cmd|' /C calc'!A0,100\r\n".encode("cp932"))
    out = tmp_path / "clean.csv"
    assert main(["sanitize", str(src), "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "released" and result["method"] == "rebuild"
    assert result["output"]["path"] == str(out)
    assert result["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.read_bytes().decode("cp932").splitlines()[1].startswith("'=cmd")
    assert [f["construct"] for f in result["findings"] if f["action"] != "kept"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.csv", "お知らせ.csv"]  # no temp left


def test_sanitize_into_a_directory_takes_the_extension_of_the_output_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "text-only.toml"
    config.write_text('[rules.html]\nmethod = "text"\n')
    src = tmp_path / "page.html"
    src.write_text("<html><body><p>市役所</p><script>alert(1)</script></body></html>")
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert main(["sanitize", str(src), "-o", str(outdir), "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"released: {outdir / 'page.txt'}")
    text = (outdir / "page.txt").read_text(encoding="utf-8")
    assert "市役所" in text and "alert" not in text


class CopyingPdfRebuild(Sanitizer):
    """A sanitiser with the worst bug there is: it releases its input as it came."""

    types: ClassVar[frozenset[str]] = frozenset({"pdf"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        shutil.copyfile(untrusted_src, dst)
        return Report("pdf")


def test_sanitize_holds_a_release_to_the_independent_verifier(tmp_path: Path) -> None:
    src = pdf_builders.build(tmp_path / "invoice.pdf", pdf_builders.open_action_js)
    config = load_config(None, default_registry())
    policy = config.policy()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    trusted = process_file(src, src.name, scratch, policy, config.limits, Registry([CopyingPdfRebuild()]))
    assert trusted.verdict == "released" and trusted.output_path is not None  # the pipeline alone believes it
    checked = verified(trusted, policy, config)
    assert checked.verdict == "rejected" and checked.reason is not None
    assert checked.reason.code == "verify.failed" and "JavaScript" in checked.reason.message
    assert checked.output_path is None and not trusted.output_path.exists()
