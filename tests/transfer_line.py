"""The canonical transfer log line: what the README tables, and a transfer that fills every field."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.journal import Transfer

README = Path(__file__).parents[1] / "README.md"
TRANSFER_LINE_MARK = "<!-- the transfer line:"


def documented_fields() -> tuple[set[str], set[str]]:
    """The JSON keys and the journald fields of the canonical transfer line, as the README tables them."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TRANSFER_LINE_MARK))
    json_keys: set[str] = set()
    journald: set[str] = set()
    for line in lines[start + 3 :]:  # after the mark, the header and the separator
        if not line.startswith("|"):
            break
        json_cell, journald_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
        json_keys.update(re.findall(r"`(\w+)`", json_cell))
        journald.update(re.findall(r"`([A-Z0-9_]+)`", journald_cell))
    return json_keys, journald


def every_field_transfer() -> Transfer:
    """A transfer with a value in every column, its name changed by cleaning."""
    findings = [{"construct": "png.text", "action": "removed", "count": 1, "location": "tEXt"}]
    return Transfer(
        id="20260401T012345-1a2b3c4d", channel="internet-to-lgwan", rel_dir='["課"]', inbox_path="/in/課/a\u202ecod.png",
        name_in="a\u202ecod.png", name="acod.png", state="released", created=1.0, updated=1.5, finished=1.5,
        size_in=70, sha256_in="ab" * 32, file_type="png", method="rebuild", findings=json.dumps(findings),
        reason_code="policy.reject", reason_message="detail", name_out="acod.png", size_out=60,
        sha256_out="cd" * 32, path_out="/out/課/acod.png", attempts=1,
    )  # fmt: skip
