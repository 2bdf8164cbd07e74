from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from sanitizers.base import Limits, Options, OptionSpec, Registry, Report, Sanitizer
from sanitizers.registry import default_registry


class Dummy(Sanitizer):
    types: ClassVar[frozenset[str]] = frozenset({"txt", "csv"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        raise NotImplementedError


def test_duplicate_type_and_method_is_refused() -> None:
    class TextOnly(Dummy):
        types: ClassVar[frozenset[str]] = frozenset({"txt"})

    class TextAndHtml(Dummy):
        types: ClassVar[frozenset[str]] = frozenset({"html", "txt"})

    registry = Registry([TextOnly()])
    with pytest.raises(ValueError, match="txt/rebuild is already handled by TextOnly"):
        registry.add(TextAndHtml())
    assert registry.get("html", "rebuild") is None  # a refused sanitiser registers nothing


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [("method", "scrub", "unknown method"), ("method", "reject", "unknown method"),
     ("types", frozenset({"exel"}), "unknown type")],
)  # fmt: skip
def test_unknown_method_or_type_is_refused(attr: str, value: object, message: str) -> None:
    sanitizer = Dummy()
    object.__setattr__(sanitizer, attr, value)
    with pytest.raises(ValueError, match=message):
        Registry([sanitizer])


def test_option_spec_checks_type_choice_and_range() -> None:
    assert OptionSpec(150, "dpi", minimum=50, maximum=600).check(700) == "must be at most 600"
    assert OptionSpec(150, "dpi").check("150") == "expected int, got str"
    assert OptionSpec(True, "flag").check(1) == "expected bool, got int"
    assert OptionSpec("a", "x", choices=("a", "b")).check("c") == "must be one of 'a', 'b'"
    assert OptionSpec(1.5, "ratio").check(2) is None


def test_shipped_registry_builds_without_conflicts() -> None:
    registry = default_registry()
    for type_name in ("exe", "script", "jtd", "xdw"):
        assert registry.methods_for(type_name) == []
