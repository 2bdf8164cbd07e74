"""The catalogue of finding labels covers every construct and action a sanitiser can report.

Read from the code: the literal given where a finding is made (``Finding(...)``, ``report.add``,
a tally's ``add`` or ``note``, a variable named ``construct``), every dotted literal of a
construct family, and the f-strings that build a construct from a family or a kind. The corpus
sweep (tests/gateway/test_staff_texts_corpus.py) checks what the sanitisers report at run time.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from sanitizers.constructs import ACTIONS, CONSTRUCTS, FALLBACK_PREFIX, construct_label
from sanitizers.errors import REASONS

SANITIZERS = Path(__file__).parents[2] / "sanitizers"
DOTTED = re.compile(r"[a-z0-9]+\.[a-z0-9_]+")
FAMILIES = {construct.split(".")[0] for construct in CONSTRUCTS}
REPORTING_CALLS = ("Finding", "add", "note")


@cache
def _trees() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SANITIZERS.rglob("*.py"))]


def _strings(node: ast.AST) -> set[str]:
    """String literals a value can be: itself, either branch of an `if`, either side of an `or`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_strings(v) for v in node.values))
    return set()


def _template(node: ast.AST) -> str | None:
    """An f-string as a pattern ("{}.encoding"), or None for anything else."""
    if not isinstance(node, ast.JoinedStr):
        return None
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


@cache
def _reported() -> tuple[set[str], set[str], set[str]]:
    """Constructs given where findings are made, their f-string templates, and literal actions."""
    constructs: set[str] = set()
    templates: set[str] = set()
    actions: set[str] = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any("construct" in ast.unparse(t) for t in node.targets):
                constructs |= {s for s in _strings(node.value) if DOTTED.fullmatch(s)}
                templates |= {t for t in [_template(node.value)] if t}
            if not isinstance(node, ast.Call) or not node.args:
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called not in REPORTING_CALLS:
                continue
            first = {s for s in _strings(node.args[0]) if DOTTED.fullmatch(s)}
            template = _template(node.args[0])
            if not first and template is None:
                continue
            constructs |= first
            templates |= {template} if template else set()
            # Finding(construct, action, ...), report.add(construct, action, ...), tally.add(construct, where, action)
            for argument in [*node.args[1:3], *(k.value for k in node.keywords if k.arg == "action")]:
                actions |= {s for s in _strings(argument) if re.fullmatch(r"[a-z_]+ed", s)}
    return constructs, templates, actions


def test_every_construct_given_where_a_finding_is_made_has_a_label() -> None:
    constructs, _, _ = _reported()
    assert {"pdf.comment", "ole.picture", "text.encoding", "ooxml.embedded_font"} <= constructs
    assert sorted(constructs - set(CONSTRUCTS)) == []


def test_every_dotted_literal_of_a_construct_family_is_a_reason_code_or_has_a_label() -> None:
    """Constructs kept in tables (PDF names, OOXML relationship types → construct) are found here."""
    literals = {
        node.value
        for _, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.fullmatch(node.value)
    }
    of_families = {s for s in literals if s.split(".")[0] in FAMILIES}
    assert len(of_families) > 250
    assert sorted(of_families - set(REASONS) - set(CONSTRUCTS)) == []


def test_every_construct_built_in_an_f_string_has_labels_to_match() -> None:
    _, templates, _ = _reported()
    assert {"{}.encoding", "{}.unreadable_picture", "mail.{}", "method.{}"} <= templates
    for template in templates:
        if template == f"{FALLBACK_PREFIX}{{}}":
            continue  # labelled from the reason catalogue, checked below
        pattern = re.compile(re.escape(template).replace(r"\{\}", "[a-z0-9_]+"))
        assert any(pattern.fullmatch(c) for c in CONSTRUCTS), template


@pytest.mark.parametrize("family", ["ooxml", "odf"])
def test_pictures_of_either_office_family_have_labels(family: str) -> None:
    assert {f"{family}.unreadable_picture", f"{family}.not_an_image"} <= set(CONSTRUCTS)


def test_every_literal_action_has_a_label() -> None:
    _, _, actions = _reported()
    assert {"removed", "neutralised", "dropped", "repaired", "converted", "renamed", "attached"} <= actions
    assert sorted(actions - set(ACTIONS)) == []


def test_a_fallback_is_labelled_with_the_reason_of_the_method_that_failed() -> None:
    for code, text in REASONS.items():
        label = construct_label(f"{FALLBACK_PREFIX}{code}")
        assert label is not None and text.ja in label.ja and text.en in label.en
    assert construct_label("method.no.such_code") is None and construct_label("pdf.unheard_of") is None


def test_every_label_is_written_in_both_languages() -> None:
    for code, label in [*CONSTRUCTS.items(), *ACTIONS.items()]:
        assert label.ja.strip() and label.en.strip(), code
        assert label.text("ja") == label.ja and label.text("en") == label.en
