"""`mukaika check-config --effective`: the merged config, each value with the file it came from.

Printed as TOML (values as the files wrote them, so "200 MiB" stays "200 MiB"), with the
file as a comment at the end of each line. A channel shows, after its own keys, every rule
it overrides as it applies there: the keys it sets, and those it keeps from [rules].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.config import Config
from gateway.layers import masked, toml_value

COLUMN = 48


def effective_text(config: Config) -> str:
    lines = ["# layers, lowest first: " + ", ".join(config.layers)]
    for section, table in config.settings.items():
        if section in ("rules", "channels") or not isinstance(table, dict):
            continue
        lines += ["", f"[{section}]", *_values(config, table, section)]
    rules: Mapping[str, Any] = config.settings.get("rules", {})
    for type_name, rule in rules.items():
        lines += ["", f"[rules.{type_name}]", *_values(config, rule, f"rules.{type_name}")]
    for index, channel in enumerate(config.settings.get("channels", [])):
        lines += _channel(config, index, channel)
    return "\n".join(lines)


def _line(key: str, value: object, source: str) -> str:
    return f"{f'{key} = {toml_value(value)}':<{COLUMN}}  # {source}"


def _values(config: Config, table: Mapping[str, Any], prefix: str) -> list[str]:
    return [
        _line(key, masked(f"{prefix}.{key}", value), config.origin(f"{prefix}.{key}"))
        for key, value in table.items()
    ]


def _channel(config: Config, index: int, raw: Mapping[str, Any]) -> list[str]:
    prefix = f"channels[{index}]"
    lines = ["", "[[channels]]", *_values(config, {k: v for k, v in raw.items() if k != "rules"}, prefix)]
    parsed = config.channels[index]
    built_in = {"return_rejected": parsed.return_rejected, "approval": parsed.approval,
                "approved": str(parsed.approved_dir)}  # fmt: skip
    lines += [_line(k, v, "built-in default") for k, v in built_in.items() if k not in raw]
    global_rules: Mapping[str, Any] = config.settings.get("rules", {})
    for type_name, override in raw.get("rules", {}).items():
        lines += ["", f"[channels.rules.{type_name}]"]
        inherited = global_rules.get(type_name, {})
        for key in [*override, *(k for k in inherited if k not in override)]:
            if key in override:
                lines.append(_line(key, override[key], config.origin(f"{prefix}.rules.{type_name}.{key}")))
            else:
                source = config.origin(f"rules.{type_name}.{key}")
                lines.append(_line(key, inherited[key], f"{source}, from [rules.{type_name}]"))
    return lines
