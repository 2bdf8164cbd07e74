"""The two entry points production workers run, already confined by the zygote.

``sanitise`` runs the channel's rule on the staged input and leaves ``result.json`` and the
output in its scratch directory. ``verify`` runs afterwards in a fresh worker that can read
only that output: it re-detects it and runs its type's independent verification, then leaves
its verdict and the sha256 of exactly the bytes it checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.isolation.job import RESULT_NAME, VERIFY_NAME, job_from_message
from sanitizers.base import Limits
from sanitizers.errors import SanitizeError
from sanitizers.pipeline import Outcome, Rule, process_file
from sanitizers.registry import default_registry
from sanitizers.verification import Expectation, verify_output


class _RulesPolicy:
    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self._rules = rules

    def rule_for(self, type_name: str) -> Rule | None:
        return self._rules.get(type_name)


def sanitise(message: dict[str, Any]) -> None:
    job = job_from_message(message)
    scratch = job.work_dir / "scratch"
    scratch.mkdir(exist_ok=True)
    outcome = process_file(
        job.staged_path, job.name, scratch, _RulesPolicy(job.rules), job.limits, default_registry(),
        input_sha256=job.sha256,
    )  # fmt: skip
    _write_json(job.work_dir / RESULT_NAME, _result_of(outcome))


def verify(message: dict[str, Any]) -> None:
    work_dir = Path(message["work_dir"])
    expected = Expectation(message["output_type"], message["method"], message["options"])
    member_options: dict[str, Any] = message["member_options"]
    try:
        sha256 = verify_output(
            Path(message["output"]), expected, Limits(**message["limits"]),
            lambda type_name: member_options.get(type_name, {}),
        )  # fmt: skip
        verdict = {"verdict": "verified", "sha256": sha256}
    except SanitizeError as exc:
        verdict = {"verdict": "failed", "detail": f"{exc.code}: {exc.detail}"[:2000]}
    _write_json(work_dir / VERIFY_NAME, verdict)


def _result_of(outcome: Outcome) -> dict[str, object]:
    return {
        "verdict": outcome.verdict,
        "reason": outcome.reason.as_dict() if outcome.reason else None,
        "type": outcome.input.type,
        "method": outcome.method,
        "findings": [f.as_dict() for f in outcome.findings],
        "output": outcome.output_path.name if outcome.output_path else None,
        "output_type": outcome.output.type if outcome.output else None,
    }


def _write_json(path: Path, value: Mapping[str, object]) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
