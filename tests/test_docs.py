"""The README documents every option a rule can set: adding one without docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

from sanitizers.registry import default_registry

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
