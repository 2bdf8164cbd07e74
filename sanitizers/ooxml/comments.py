"""Comments kept while metadata goes: what they say stays, who wrote them does not.

Comments are content staff exchange on purpose (``comments = "keep"``); their authors are
personal data and follow ``metadata``.  Word names the author on each comment
(``w:author``, ``w:initials``: ``markup.py`` blanks them with the revision authors) and
keeps the authors' accounts in ``people.xml``, which is not written at all (vocabulary).
This module handles the rest:

* Excel lists the authors of a sheet's notes once (``<authors>``), and Excel starts every
  new note with its author's name in bold: the names become empty, and a note's first run
  is dropped when it is exactly its author's name and a colon;
* PowerPoint lists them in ``commentAuthors.xml`` (``name``, ``initials``), where the
  comments find them by id: the list stays, the names become empty;
* Word 365 records who reacted to a comment ("like") in the extension list of
  ``commentsExtensible.xml``, with account ids: the extension list goes.

An empty name is what the schemas allow (``ST_Xstring``, ``xsd:string``) and shows the
comment unsigned.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.vocabulary import NS_P, NS_X

_CONSTRUCT = "ooxml.comment_author"
_NS_W16CEX = "http://schemas.microsoft.com/office/word/2018/wordml/cex"
_SHEET_COMMENTS = f"{{{NS_X}}}comments"
_PRESENTATION_AUTHORS = f"{{{NS_P}}}cmAuthorLst"
_WORD_EXTENSIBLE = f"{{{_NS_W16CEX}}}commentsExtensible"


def clean_comment_authors(root: ET.Element, context: PartContext) -> None:
    if context.policy.keep_metadata:
        return
    if root.tag == _SHEET_COMMENTS:
        _clean_sheet_comments(root, context)
    elif root.tag == _PRESENTATION_AUTHORS:
        for author in root.iter(f"{{{NS_P}}}cmAuthor"):
            _blank_attributes(author, ("name", "initials"), context)
    elif root.tag == _WORD_EXTENSIBLE:
        for comment in root:
            for extensions in comment.findall(f"{{{_NS_W16CEX}}}extLst"):
                comment.remove(extensions)
                context.tally.add(_CONSTRUCT, context.name)


def _clean_sheet_comments(root: ET.Element, context: PartContext) -> None:
    names: list[str] = []
    for author in root.iter(f"{{{NS_X}}}author"):
        names.append(author.text or "")
        if author.text:
            author.text = ""
            context.tally.add(_CONSTRUCT, context.name)
    for comment in root.iter(f"{{{NS_X}}}comment"):
        untrusted_id = comment.get("authorId", "")
        index = int(untrusted_id) if untrusted_id.isdigit() else -1
        if 0 <= index < len(names) and names[index]:
            _drop_signature(comment, names[index], context)


def _drop_signature(comment: ET.Element, name: str, context: PartContext) -> None:
    """Excel's "Yamada Taro:" run at the start of a note, and the line break after it."""
    text = comment.find(f"{{{NS_X}}}text")
    runs = text.findall(f"{{{NS_X}}}r") if text is not None else []
    if text is None or not runs or text.find(f"{{{NS_X}}}t") is not None:
        return
    signature = runs[0].find(f"{{{NS_X}}}t")
    if signature is None or (signature.text or "").strip() != f"{name}:":
        return
    text.remove(runs[0])
    following = runs[1].find(f"{{{NS_X}}}t") if len(runs) > 1 else None
    if following is not None and following.text:
        following.text = following.text.removeprefix("\r\n").removeprefix("\n")
    context.tally.add(_CONSTRUCT, context.name)


def _blank_attributes(element: ET.Element, keys: tuple[str, ...], context: PartContext) -> None:
    for key in keys:
        if element.get(key):
            element.set(key, "")
            context.tally.add(_CONSTRUCT, context.name)
