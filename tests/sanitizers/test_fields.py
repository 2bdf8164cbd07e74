r"""The one Word field-instruction parser: tokens as Word reads them, and what may stay.

Instructions are written as Word stores them: backslashes in paths doubled
(``\\\\server\\share``), quotes escaped as ``\"``.  Nested fields are ``NESTED``.
"""

from __future__ import annotations

import pytest

from sanitizers.fields import NESTED, Danger, Field, Switch, judge_instruction, parse_field

EVIL_UNC = r"\\evil\share\x.docx"


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        (
            r'HYPERLINK \o "tip" "\\\\evil\\share\\x.docx"',
            Field("HYPERLINK", (EVIL_UNC,), (Switch("o", "tip"),)),
        ),
        (
            r' hyperlink  \t "_blank"   \\\\evil\\share\\x.docx ',
            Field("HYPERLINK", (EVIL_UNC,), (Switch("t", "_blank"),)),
        ),
        (
            r'HYPERLINK "https://example.jp/a" \l "bm" \m \n \h \* MERGEFORMAT',
            Field(
                "HYPERLINK",
                ("https://example.jp/a",),
                (
                    Switch("l", "bm"),
                    Switch("m", None),
                    Switch("n", None),
                    Switch("h", None),
                    Switch("*", "MERGEFORMAT"),
                ),
            ),
        ),
        (
            r'INCLUDEPICTURE \d "\\\\evil\\p.png" \* MERGEFORMATINET',
            Field(
                "INCLUDEPICTURE",
                (r"\\evil\p.png",),
                (Switch("d", None), Switch("*", "MERGEFORMATINET")),
            ),
        ),
        (r'QUOTE "say \"hi\""', Field("QUOTE", ('say "hi"',), ())),
        ("\u3000PAGE\u3000", Field("PAGE", (), ())),
        (r'HYPERLINK"file:///C:/x"', Field("HYPERLINK", ("file:///C:/x",), ())),
        (f"{NESTED}LINK x", Field(f"{NESTED}LINK", ("x",), (), computed_type=True)),
        ("", Field("", (), ())),
    ],
    ids=[
        "tooltip before target",
        "frame before unquoted UNC",
        "switches after target",
        "include picture with \\d",
        "escaped quotes",
        "ideographic spaces",
        "target glued to keyword",
        "computed type",
        "empty",
    ],
)
def test_instructions_are_tokenised_as_word_does(instruction: str, expected: Field) -> None:
    assert parse_field(instruction) == expected


@pytest.mark.parametrize(
    "instruction",
    [
        r'HYPERLINK \o "tip" "\\\\evil\\share\\x.docx"',
        r'HYPERLINK \t "_blank" "\\\\evil\\share\\x.docx"',
        r"HYPERLINK \\\\evil\\share\\x.docx",
        r"hyperlink   \\evil\share\x.docx",
        r'HyPeRlInK "file:///C:/Windows/System32/calc.exe"',
        r'HYPERLINK \l "bm" "file:///\\\\evil\\x"',
        r'HYPERLINK "https://example.jp/" "\\\\evil\\x"',
        r'HYPERLINK \o"tip""https://example.jp/"',
        r'HYPERLINK "javascript:alert(1)"',
        r"HYPERLINK \evil\x",
        r'HYPERLINK \x "\\\\evil\\x"',
        'HYPERLINK "http://a"x \\\\\\\\evil\\\\s"',
    ],
    ids=[
        "tooltip switch first",
        "frame switch first",
        "unquoted doubled UNC",
        "lower case, unquoted single UNC",
        "file URL",
        "bookmark then file URL",
        "second target",
        "switch glued to its argument",
        "javascript",
        "single backslash path",
        "unknown switch takes no argument",
        "quote inside an unquoted token",
    ],
)
def test_hyperlinks_the_policy_refuses_are_found_in_every_spelling(instruction: str) -> None:
    """Refused as a link, or as unreadable where readers disagree on the tokens."""
    assert judge_instruction(instruction, "keep-web") in (Danger.LINK, Danger.COMPUTED)


@pytest.mark.parametrize(
    "instruction",
    [
        r'HYPERLINK "https://www.city.example.lg.jp/" \o "市のサイト" \t "_blank"',
        r'HYPERLINK \l "_Toc1234" \h',
        r"HYPERLINK mailto:soumu@example.lg.jp",
        r"PAGE \* MERGEFORMAT",
        r"REF _Ref1 \h \* MERGEFORMAT",
        f'IF {NESTED} = 1 "a" "b"',
    ],
)
def test_harmless_fields_and_web_links_stay(instruction: str) -> None:
    assert judge_instruction(instruction, "keep-web") is None


def test_the_remove_option_refuses_web_hyperlinks_but_not_jumps_inside_the_document() -> None:
    assert judge_instruction(r'HYPERLINK "https://example.jp/"', "remove") is Danger.LINK
    assert judge_instruction(r'HYPERLINK \l "bm"', "remove") is None


@pytest.mark.parametrize(
    ("instruction", "danger"),
    [
        (r'DDEAUTO c:\\windows\\system32\\cmd.exe "/k calc"', Danger.DDE),
        (r'"dde" cmd "/c calc"', Danger.DDE),
        (r"\DDE x", Danger.DDE),
        (r'INCLUDEPICTURE \d "\\\\evil\\p.png"', Danger.FETCH),
        (r'includetext "http://example.jp/a.docx"', Danger.FETCH),
        (r'INCLUDE "c:\\a.doc"', Danger.FETCH),
        (r'IMPORT "c:\\a.wmf"', Danger.FETCH),
        (r'LINK Excel.Sheet.8 "\\\\evil\\a.xls" "" \a', Danger.FETCH),
        (r'DATABASE \d "\\\\evil\\a.mdb" \s "select 1"', Danger.FETCH),
        (r'RD "\\\\evil\\b.docx"', Danger.FETCH),
        (r"EMBED Package", Danger.FETCH),
        (r"MACROBUTTON FileOpen クリック", Danger.RUN),
        (r"CONTROL Forms.CommandButton.1", Danger.RUN),
        (f'HYPERLINK "{NESTED}"', Danger.COMPUTED),
        (f"HYPERLINK {NESTED}", Danger.COMPUTED),
        (f"{NESTED}AUTO x", Danger.COMPUTED),
    ],
)
def test_fields_that_fetch_or_run_or_are_computed_never_stay(instruction: str, danger: Danger) -> None:
    assert judge_instruction(instruction, "keep-web") is danger
