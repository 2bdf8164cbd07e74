"""Config layers: the embedded default, then the admin's file, then its drop-in folder.

Like fail2ban's ``jail.conf`` / ``jail.d/*.local`` and systemd's drop-ins, a shipped default
nobody edits sits beneath the admin's own files, and each file names only what it changes:

- tables merge key by key; a later file's value wins, and a value that is not a table (a
  string, a number, a list such as a method chain) is replaced as a whole;
- ``[rules.<type>]`` is a table like any other: a file that sets only ``method`` keeps the
  options an earlier file set for that type (so a drop-in cannot quietly undo a stricter
  option written elsewhere); a rule is never deleted, ``method = "reject"`` refuses the type;
- ``[[channels]]`` are identified by ``name``: a later file's channel of the same name merges
  into the earlier one key by key (its ``rules`` too), a new name adds a channel; the embedded
  default's channels are a starting point for trying the gateway and give way as a whole to
  the first file that declares channels of its own (``channels = []`` declares none);
- ``[gateway] embedded_rules = false`` leaves the embedded default's rules out: only the rules
  the admin's files write apply, and an upgrade that ships a new rule cannot widen what passes.

Every value keeps the name of the layer it came from, so that a problem, ``check-config
--effective`` and a reload's report can say which file to look at.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.dburl import redact_url

EMBEDDED_NAME = "<embedded default config>"
_LAST_SEGMENT = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")
_UNSET = object()


@dataclass(frozen=True)
class Layer:
    name: str  # the file's path, or EMBEDDED_NAME
    raw: Mapping[str, Any]  # the file's TOML, as read
    default: bool = False  # the embedded default: its channels and (optionally) rules give way


@dataclass
class Merged:
    raw: dict[str, Any] = field(default_factory=dict)
    #: key path ("gateway.workers", "rules.pdf.method", "channels[0].inbox") → the layer that set it
    origins: dict[str, str] = field(default_factory=dict)
    #: (layer, "key: what is wrong") found while merging, before the values are checked
    problems: list[tuple[str, str]] = field(default_factory=list)


def merge_layers(layers: Sequence[Layer]) -> Merged:
    merged = Merged()
    keep_embedded_rules = _embedded_rules_wanted(layers)
    channels_from_default = False
    for layer in layers:
        tables = {k: v for k, v in layer.raw.items() if k != "channels"}
        if layer.default and not keep_embedded_rules:
            tables.pop("rules", None)
        _merge_tables(merged.raw, tables, layer.name, "", merged.origins)
        if "channels" not in layer.raw:
            continue
        if channels_from_default and not layer.default:
            merged.raw["channels"] = []
            _forget(merged.origins, "channels")
        _merge_channels(merged, layer.raw["channels"], layer.name)
        channels_from_default = layer.default
    return merged


def _embedded_rules_wanted(layers: Sequence[Layer]) -> bool:
    """``[gateway] embedded_rules`` as the last of the admin's files that sets it says (default true)."""
    wanted = True
    for layer in layers:
        gateway = layer.raw.get("gateway")
        if (
            not layer.default
            and isinstance(gateway, dict)
            and isinstance(gateway.get("embedded_rules"), bool)
        ):
            wanted = gateway["embedded_rules"]
    return wanted


def _merge_tables(
    target: dict[str, Any], source: Mapping[str, Any], layer: str, prefix: str, origins: dict[str, str]
) -> None:
    for key, value in source.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_tables(target[key], value, layer, path, origins)
        else:
            _forget(origins, path)
            target[key] = copy.deepcopy(value)
            _record(origins, path, value, layer)


def _merge_channels(merged: Merged, channels: object, layer: str) -> None:
    if not isinstance(channels, list) or not all(isinstance(c, dict) for c in channels):
        _forget(merged.origins, "channels")
        merged.raw["channels"] = copy.deepcopy(channels)  # the check names what is wrong with it
        merged.origins["channels"] = layer
        return
    if not isinstance(merged.raw.get("channels"), list):
        merged.raw["channels"] = []
    current: list[dict[str, Any]] = merged.raw["channels"]
    merged.origins.setdefault("channels", layer)
    seen: set[str] = set()
    for position, table in enumerate(channels):
        name = table.get("name")
        if isinstance(name, str) and name in seen:
            merged.problems.append(
                (layer, f"channels[{position}].name: channel {name!r} is defined twice in this file")
            )
            continue
        index = next(
            (i for i, c in enumerate(current) if isinstance(name, str) and c.get("name") == name), None
        )
        if isinstance(name, str):
            seen.add(name)
        if index is None:
            index = len(current)
            current.append({})
            merged.origins[f"channels[{index}]"] = layer
        else:  # the name only says which channel: it stays with the file that declared it
            table = {k: v for k, v in table.items() if k != "name"}
        _merge_tables(current[index], table, layer, f"channels[{index}]", merged.origins)


def _record(origins: dict[str, str], path: str, value: object, layer: str) -> None:
    origins[path] = layer
    if isinstance(value, dict):
        for key, inner in value.items():
            _record(origins, f"{path}.{key}", inner, layer)


def _forget(origins: dict[str, str], path: str) -> None:
    for key in [k for k in origins if k == path or k.startswith((f"{path}.", f"{path}["))]:
        del origins[key]


def locate(key: str, origins: Mapping[str, str], fallback: str) -> str:
    """The layer of ``key`` or of the nearest table holding it (a missing key: where its table is)."""
    key = key.removeprefix("(top level).")
    while key:
        if key in origins:
            return origins[key]
        shorter = _LAST_SEGMENT.sub("", key)
        if shorter == key:
            break
        key = shorter
    return fallback


def flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, object]]:
    """(key path, value) of every value that is not a table, in the order written."""
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from flatten(value, path)
        else:
            yield path, value


#: Settings that may hold a secret, and how they are shown (check-config --effective, reload logs).
_SECRETS: dict[str, Callable[[str], str]] = {"journal.url": redact_url}


def masked(key: str, value: object) -> object:
    """``value`` of the setting ``key`` as it may be printed or logged (a password as ``***``)."""
    hide = _SECRETS.get(key)
    return hide(value) if hide is not None and isinstance(value, str) else value


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What a reload changes, one "key: old -> new" per value; channels named by their name."""

    def settings(raw: Mapping[str, Any]) -> dict[str, object]:
        return dict(flatten({k: v for k, v in raw.items() if k != "channels"}))

    def channels(raw: Mapping[str, Any]) -> dict[str, dict[str, object]]:
        listed = raw.get("channels", [])
        tables = listed if isinstance(listed, list) else []
        return {str(c.get("name")): dict(flatten(c)) for c in tables if isinstance(c, dict)}

    changes = _differences(settings(before), settings(after), "")
    old, new = channels(before), channels(after)
    for name in [*old, *(n for n in new if n not in old)]:
        if name not in new:
            changes.append(f"channels[{name}]: removed")
        elif name not in old:
            changes.append(f"channels[{name}]: added")
        else:
            changes += _differences(old[name], new[name], f"channels[{name}].")
    return changes


def _differences(old: Mapping[str, object], new: Mapping[str, object], prefix: str) -> list[str]:
    def shown(key: str, value: object) -> str:
        return "(not set)" if value is _UNSET else toml_value(masked(f"{prefix}{key}", value))

    keys = [*old, *(k for k in new if k not in old)]
    return [
        f"{prefix}{key}: {shown(key, old.get(key, _UNSET))} -> {shown(key, new.get(key, _UNSET))}"
        for key in keys
        if old.get(key, _UNSET) != new.get(key, _UNSET)
    ]
