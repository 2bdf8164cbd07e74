"""Dictionaries whose keys are names the author chose, not structural keys.

A page lists its fonts, images and graphics states under names picked by whoever wrote
the file, and a Type 3 font its glyph procedures: a font may well be called /AA or /JS.
Such a key says nothing about what the dictionary is, so neither walk reads it as an
action slot.  Only keys whose whole danger lies in the actions they lead to are spared
(``ACTION_LEADING_KEYS``): those actions are found and judged by kind wherever they
hang, so sparing the key keeps the resource and loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeGuard

import pikepdf

from sanitizers.pdf.screen import name_screen, serialised
from sanitizers.pdf.values import entries_of
from sanitizers.pdf.vocabulary import RESOURCE_CATEGORIES, RESOURCE_KEYS

#: Keys whose value maps names the author chose: the glyph procedures of a Type 3 font.
NAME_MAP_KEYS = frozenset({"/CharProcs"})
#: An object whose serialisation has none of these holds no name map directly.
_HOLDS_NAME_MAPS = name_screen({"/Resources", *NAME_MAP_KEYS})
#: Deepest direct nesting searched for resource dictionaries in one object.
_MAX_SEARCH_DEPTH = 64


class Role(Enum):
    """What a dictionary is, as far as the key that leads to it tells."""

    PLAIN = "plain"
    RESOURCES = "resources"
    NAME_MAP = "name map"


def child_role(role: Role, entries: Mapping[str, object], key: str) -> Role:
    """The role of the value under ``key`` of a dictionary of ``role``."""
    if key == "/Resources":
        return Role.RESOURCES
    if key in NAME_MAP_KEYS:
        return Role.NAME_MAP
    if key in RESOURCE_CATEGORIES and (role is Role.RESOURCES or looks_like_resources(entries)):
        return Role.NAME_MAP
    return Role.PLAIN


def looks_like_resources(entries: Mapping[str, object]) -> bool:
    """A resource dictionary met without the /Resources key that leads to it."""
    return bool(entries) and entries.keys() <= RESOURCE_KEYS


class IndirectNameMaps:
    """The indirect dictionaries that some resource dictionary or Type 3 font uses as a
    name map, found once, on first use: most documents never need to ask."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self._pdf = pdf
        self._found: set[tuple[int, int]] | None = None

    def __contains__(self, objgen: tuple[int, int]) -> bool:
        if self._found is None:
            self._found = self._find()
        return objgen in self._found

    def _find(self) -> set[tuple[int, int]]:
        found: set[tuple[int, int]] = set()
        for obj in self._pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream) and _HOLDS_NAME_MAPS.search(
                serialised(obj)
            ):
                _collect(obj, found)
        return found


def _collect(holder: pikepdf.Object, found: set[tuple[int, int]]) -> None:
    pending: list[tuple[pikepdf.Object, int]] = [(holder, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > _MAX_SEARCH_DEPTH:
            continue
        if isinstance(item, pikepdf.Array):
            pending.extend((child, depth + 1) for child in item if _is_direct_container(child))
            continue
        entries = entries_of(item)
        for key in NAME_MAP_KEYS & entries.keys():
            _add_if_indirect(entries[key], found)
        resources = entries.get("/Resources")
        if isinstance(resources, pikepdf.Dictionary):
            for category in RESOURCE_CATEGORIES & entries_of(resources).keys():
                _add_if_indirect(resources.get(category), found)
        pending.extend((child, depth + 1) for child in entries.values() if _is_direct_container(child))


def _add_if_indirect(value: object, found: set[tuple[int, int]]) -> None:
    if isinstance(value, pikepdf.Dictionary) and value.is_indirect:
        found.add(value.objgen)


def _is_direct_container(value: object) -> TypeGuard[pikepdf.Object]:
    return isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect
