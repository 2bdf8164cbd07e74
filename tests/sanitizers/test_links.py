"""The one link policy (sanitizers.links): attack spellings first, then proof in each format.

Each row is a target as an attacker spells it, the ``links`` option, and whether it may
survive. The HTML, PDF and OOXML tests put the same targets in real documents, sanitise them
and look at the output with an independent parser (html.parser, pikepdf, ElementTree).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pikepdf
import pytest

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import PolicyError
from sanitizers.html import HtmlRebuild
from sanitizers.links import KEEP_WEB, REMOVE, is_web_link, keep_link, url_scheme
from sanitizers.ooxml import OoxmlRebuild
from sanitizers.pdf.rebuild import PdfRebuild
from tests.sanitizers import ooxml_builders as ob
from tests.sanitizers import pdf_builders as pb

KEEP, DROP = True, False

#: (target, expected under keep-web). Under ``remove`` every row is dropped.
ATTACKS: list[tuple[str, bool]] = [
    # plain web links
    ("https://www.city.example.lg.jp/", KEEP),
    ("http://example.org/a b", KEEP),  # a space inside the path is percent-encoded by readers
    ("HtTpS://www.city.example.lg.jp/kurashi/?q=ごみ#収集日", KEEP),
    ("https://www.city.example.lg.jp:8443/path", KEEP),
    ("https://example.com.", KEEP),
    ("http://192.0.2.10/intranet", KEEP),
    ("http://[2001:db8::1]:8080/", KEEP),
    ("mailto:soumu@city.example.lg.jp", KEEP),
    ("MAILTO:soumu@city.example.lg.jp?subject=%E4%BC%9A%E8%AD%B0&body=a%0D%0Ab&cc=x@example.jp", KEEP),
    ("mailto:?subject=hello", KEEP),
    # controls, separators and format characters anywhere
    ("java\tscript:alert(1)", DROP),
    ("ht\ttps://example.com/", DROP),
    ("https://exa\nmple.com/", DROP),
    ("https://example.com/\r", DROP),
    ("\x00https://example.com/", DROP),
    (" https://example.com/", DROP),
    ("https://example.com/\x7f", DROP),
    ("https://example.com/\x85", DROP),  # C1 NEL, as a PDF string's Latin-1 byte 0x85
    ("https://exa\u200bmple.com/", DROP),  # zero-width space: IDNA would delete it
    ("https://example.com/\u202egpj.exe", DROP),  # right-to-left override
    ("https://exam\u00adple.com/", DROP),  # soft hyphen
    ("https://example.com/\u2028", DROP),  # line separator
    # backslashes
    ("http:\\\\attacker\\share", DROP),
    ("https:/\\attacker.example/", DROP),
    ("https://good.example\\@attacker.example/", DROP),
    # file: in every spelling
    ("file:///C:/Windows/System32/calc.exe", DROP),
    ("FILE:///etc/passwd", DROP),
    ("FiLe://attacker/share/x.exe", DROP),
    ("file:\\\\attacker\\share\\x.exe", DROP),
    ("file:attacker/share", DROP),
    # UNC and relative targets (resolved against the share the document is opened from)
    ("\\\\attacker\\share\\payload.exe", DROP),
    ("//attacker/share/payload.exe", DROP),
    ("\\\\?\\UNC\\attacker\\share\\x", DROP),
    ("\\\\.\\pipe\\x", DROP),
    ("../secret.html", DROP),
    ("payload.exe", DROP),
    ("/etc/passwd", DROP),
    ("C:\\Windows\\System32\\calc.exe", DROP),
    ("C:/Windows/System32/calc.exe", DROP),  # "c:" reads as a scheme: not on the list
    # every scheme not on the allow-list, however spelled
    ("javascript:alert(1)", DROP),
    ("JaVaScRiPt:alert(1)", DROP),
    ("vbscript:msgbox(1)", DROP),
    ("data:text/html,<script>alert(1)</script>", DROP),
    ("ms-msdt:/id PCWDiagnostic", DROP),
    ("ms-word:ofe|u|https://attacker.example/x.docx", DROP),
    ("search-ms:query=x&crumb=location:\\\\attacker\\share", DROP),
    ("ldap://attacker.example/", DROP),
    ("smb://attacker/share", DROP),
    ("ftp://example.com/x", DROP),
    ("webdav://attacker/share", DROP),
    ("%68ttp://example.com/", DROP),  # a percent-encoded scheme is no scheme: relative
    ("http%3A//example.com/", DROP),
    ("https\u200b://example.com/", DROP),
    # the authority: empty, user information, ports
    ("http:///attacker.example/x", DROP),
    ("https:////attacker.example/", DROP),
    ("http:attacker.example", DROP),
    ("http:/attacker.example/", DROP),
    ("https://", DROP),
    ("https://www.city.example.lg.jp@attacker.example/", DROP),
    ("https://user:pass@example.com/", DROP),
    ("https://example.com:99999/", DROP),
    ("https://example.com:8o/", DROP),
    # hosts a URL parser rejects or rewrites
    ("http://%65xample.com/", DROP),
    ("http://exa mple.com/", DROP),
    ("http://example.com^/", DROP),
    ("http://exa|mple.com/", DROP),
    ("http://a..b/", DROP),
    ("http://0x7f.1/", DROP),  # IPv4 in hex: 127.0.0.1
    ("http://2130706433/", DROP),  # IPv4 as one number
    ("http://0177.0.0.1/", DROP),  # IPv4 in octal
    ("http://127.1/", DROP),
    ("http://[::1/", DROP),
    ("http://[fe80::1%25eth0]/", DROP),
    ("http://good.example／attacker.example/", DROP),  # a full-width solidus maps to "/"
    ("http://good.example＠attacker.example/", DROP),
    ("http://" + "a" * 64 + ".example/", DROP),
    # internationalised names: valid IDNA kept, invalid or spoofing mixed scripts dropped
    ("https://東京都.jp/", KEEP),
    ("https://さいたま市.jp/", KEEP),
    ("https://ｗｗｗ．ｃｉｔｙ．ｅｘａｍｐｌｅ．ｊｐ/", KEEP),  # browsers map full-width to ASCII
    ("https://www。city。example。jp/", KEEP),
    ("https://xn--bcher-kva.example/", KEEP),
    ("https://bücher.example/", KEEP),
    ("https://пример.рф/", KEEP),
    ("https://xn--zz.example/", DROP),  # an invalid A-label
    ("https://p\u0430ypal.com/", DROP),  # Cyrillic а among Latin letters
    ("https://xn--pypal-4ve.com/", DROP),  # the same, already in punycode
    ("https://\u0430\u0440\u0440\u04cf\u0435.com/", DROP),  # all-Cyrillic "apple" under .com
    ("https://xn--80ak6aa92e.com/", DROP),  # the same in punycode
    ("https://g\u03bfogle.com/", DROP),  # Greek omicron among Latin letters
    ("https://exa\u0301mple.com/", KEEP),  # a combining accent: NFC makes it é, valid IDNA
    ("https://\u0301example.com/", DROP),  # a label may not start with a combining mark
    # mailto parameters
    ("mailto:a@example.org?attach=/etc/passwd", DROP),
    ("mailto:a@example.org?attachment=C:\\secret.xlsx", DROP),
    ("mailto:a@example.org?ATTACH=x", DROP),
    ("mailto:a@example.org?%61ttach=/etc/passwd", DROP),
    ("mailto:a@example.org?%2561ttach=/etc/passwd", DROP),
    ("mailto:a@example.org?subject=x&attach=/etc/passwd", DROP),
    ("mailto:a@example.org?subject=x&%20attach=/etc/passwd", DROP),
    ("mailto:a@example.org?subject=x;attach=/etc/passwd", DROP),
    ("mailto:a@example.org;attach=/etc/passwd", DROP),
    ("mailto:a@example.org?subject=x?attach=/etc/passwd", DROP),
    ("mailto:a@example.org%3Fattach=/etc/passwd", DROP),
    ("mailto:a@example.org?subject=x%26attach=/etc/passwd", DROP),
    ("mailto:a@example.org?subject=x%0D%0ABcc:all@example.org", DROP),  # header injection
    ("mailto:a@example.org%0D%0ABcc:all@example.org", DROP),
    ("mailto:a@example.org?x-mailer=1", DROP),
    ("mailto:a@example.org?subject=%252525252561", DROP),  # decodes without settling
    # fragments are not links unless the format says so
    ("#top", DROP),
    ("", DROP),
]


@pytest.mark.parametrize(("target", "kept"), ATTACKS)
def test_each_spelling_is_judged_as_a_reader_sees_it(target: str, kept: bool) -> None:
    assert keep_link(target, KEEP_WEB) is kept
    assert is_web_link(target) is kept
    assert keep_link(target, REMOVE) is False
    assert keep_link(target, "keep-all") is False  # an unknown option value keeps nothing


@pytest.mark.parametrize(
    ("target", "kept"),
    [("#top", KEEP), ("#会議-2024", KEEP), ("#a\tb", DROP), ("#a b", DROP), ("#x\\y", DROP),
     ("#\u202e", DROP), ("https://example.com/#top", KEEP)],
)  # fmt: skip
def test_fragments_are_kept_only_where_the_caller_says_they_mean_this_document(
    target: str, kept: bool
) -> None:
    assert keep_link(target, KEEP_WEB, fragments=True) is kept
    assert keep_link(target, REMOVE, fragments=True) is False


@pytest.mark.parametrize(
    ("value", "scheme"),
    [("JaVa\tScRiPt:alert(1)", "javascript"), (" \x01vbscript:x", "vbscript"), ("DATA:image/png,", "data"),
     ("https://x", "https"), ("../x", None), ("%6aavascript:x", None), ("", None)],
)  # fmt: skip
def test_the_scheme_reader_sees_through_what_browsers_drop(value: str, scheme: str | None) -> None:
    assert url_scheme(value) == scheme


# ── HTML ─────────────────────────────────────────────────────────────────────────────


class _Hrefs(HTMLParser):
    """Every href and src of a page, as a browser's tokenizer decodes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href":
                self.hrefs.append(value or "")
            elif name == "src":
                self.srcs.append(value or "")


def _urls(page: str) -> _Hrefs:
    parser = _Hrefs()
    parser.feed(page)
    parser.close()
    return parser


def _attribute(value: str) -> str:
    """``value`` as an HTML attribute value; controls as character references, which the
    tokenizer decodes back (tab, newline) or keeps (the rest) like a browser does."""
    escaped = value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return "".join(ch if ch.isprintable() or ch == " " else f"&#{ord(ch)};" for ch in escaped)


def _rebuild_html(tmp_path: Path, body: str, **options: str | bool) -> str:
    src = tmp_path / "in.html"
    src.write_text(f"<html><body><p>前</p>{body}<p>後</p></body></html>", encoding="utf-8")
    dst = tmp_path / "out.html"
    HtmlRebuild().sanitize(src, dst, options, Limits())
    return dst.read_text(encoding="utf-8")


#: Rows of ATTACKS that HTML reads without their surrounding white space.
_HTML_PADDED = (" https://example.com/", "https://example.com/\r")


def test_html_keeps_exactly_the_links_the_policy_keeps(tmp_path: Path) -> None:
    targets = [target for target, _ in ATTACKS if "\x00" not in target]  # NUL: see below
    body = "".join(f'<a href="{_attribute(target)}">リンク{i}</a>' for i, target in enumerate(targets))
    page = _rebuild_html(tmp_path, body + '<a href="#top">上へ</a>')
    survivors = _urls(page).hrefs
    for href in survivors:
        assert keep_link(href, KEEP_WEB, fragments=True), href
    # browsers strip white space around an attribute's URL, and so does the rebuild
    expected = [t for t, kept in ATTACKS if kept] + ["https://example.com/"] * len(_HTML_PADDED)
    expected += ["#top", "#top"]  # the table's row and the one added: HTML gives them meaning
    expected += ["https://example.com/\u2026"]  # &#133; is "…" to the tokenizer (Windows-1252)
    # nh3 re-serialises what it keeps; the tokenizer reads back the very same targets
    assert sorted(survivors) == sorted(expected)
    for i in range(len(targets)):
        assert f"リンク{i}" in page  # the text of a dropped link stays


def test_html_a_nul_in_a_target_is_what_the_tokenizer_makes_of_it(tmp_path: Path) -> None:
    """A browser's tokenizer turns NUL into U+FFFD: before the scheme that leaves a relative
    target (dropped); in the path, a harmless character of a web link."""
    page = _rebuild_html(
        tmp_path, '<a href="&#0;https://example.com/">x</a><a href="https://example.com/\x00">y</a>'
    )
    assert "\x00" not in page
    assert _urls(page).hrefs == ["https://example.com/\ufffd"]


@pytest.mark.parametrize(
    "target",
    [
        "mailto:a@example.org?attach=/etc/passwd",
        "mailto:a@example.org?attachment=C:\\secret.xlsx",
        "mailto:a@example.org?%61ttach=/etc/passwd",
        "mailto:a@example.org?subject=x&attach=/etc/passwd",
        "mailto:a@example.org?subject=x;attach=/etc/passwd",
        "mailto:a@example.org?subject=x&amp;attach=/etc/passwd",  # &amp; is & to the tokenizer
    ],
)
def test_html_mailto_with_an_attachment_is_removed(tmp_path: Path, target: str) -> None:
    page = _rebuild_html(tmp_path, f'<a href="{target}">送る</a>')
    assert _urls(page).hrefs == []
    assert "attach" not in page.lower()
    assert "送る" in page


def test_html_leading_and_trailing_spaces_are_what_browsers_strip(tmp_path: Path) -> None:
    page = _rebuild_html(tmp_path, '<a href="  https://www.city.example.lg.jp/ ">市</a>')
    assert _urls(page).hrefs == ["https://www.city.example.lg.jp/"]


def test_html_links_remove_drops_fragments_too(tmp_path: Path) -> None:
    page = _rebuild_html(
        tmp_path, '<a href="#top">上へ</a><a href="https://example.com/">x</a>', links="remove"
    )
    assert _urls(page).hrefs == []


@pytest.mark.parametrize(
    "src",
    ["http:\\\\attacker\\share\\x.png", "https://exa\u200bmple.com/x.png", "//attacker/share/x.png",
     "file:///C:/x.png", "https://user@attacker.example/x.png", "mailto:a@example.org"],
)  # fmt: skip
def test_html_external_images_follow_the_same_reading(tmp_path: Path, src: str) -> None:
    page = _rebuild_html(
        tmp_path,
        f'<img src="{_attribute(src)}"><img src="https://example.com/ok.png">',
        external_resources="keep",
    )
    assert _urls(page).srcs == ["https://example.com/ok.png"]


# ── PDF and OOXML: the same policy, through their own rebuilds ─────────────────────────

_FILE_AND_UNC = (
    "FILE:///C:/Windows/System32/calc.exe",
    "file:\\\\attacker\\share\\x.exe",
    "\\\\?\\UNC\\attacker\\share\\x.exe",
    "//attacker/share/x.exe",
    "http:\\\\attacker\\share\\x.exe",
    "java\tscript:app.alert(1)",
    "https://exa\nmple.com/",
    "http:///attacker.example/x",
    "mailto:a@example.org?%61ttach=/etc/passwd",
)


def test_pdf_uri_actions_in_file_unc_and_control_spellings_are_removed(tmp_path: Path) -> None:
    pdf = pb.new_document()
    for uri in (*_FILE_AND_UNC, "https://www.city.example.lg.jp/"):
        pb.add_link(pdf, pb.uri_action(uri))
    src = pb.save(pdf, tmp_path / "in.pdf")
    dst = tmp_path / "out.pdf"
    PdfRebuild().sanitize(src, dst, {}, Limits())
    with pikepdf.open(dst) as rebuilt:
        uris = {
            bytes(value).decode("latin-1")
            for key, value in pb.all_values(rebuilt)
            if key == "/URI" and isinstance(value, pikepdf.String)
        }
    assert uris == {"https://www.city.example.lg.jp/"}


def test_docx_hyperlink_relationships_in_file_unc_and_control_spellings_are_removed(tmp_path: Path) -> None:
    package = ob.word()
    ids = [
        package.relate("word/document.xml", ob.REL + "hyperlink", target, external=True)
        for target in (*_FILE_AND_UNC, "https://www.city.example.lg.jp/")
    ]
    ob.append_to_body(
        package,
        "".join(
            f'<w:p><w:hyperlink r:id="{rid}"><w:r><w:t>リンク</w:t></w:r></w:hyperlink></w:p>' for rid in ids
        ),
    )
    src = package.write(tmp_path / "in.docx")
    dst = tmp_path / "out.docx"
    OoxmlRebuild().sanitize(src, dst, {}, Limits())
    external = []
    with zipfile.ZipFile(dst) as archive:
        for name in archive.namelist():
            if name.endswith(".rels"):
                for element in ET.fromstring(archive.read(name)):
                    if element.get("TargetMode") == "External":
                        external.append(element.get("Target"))
    assert external == ["https://www.city.example.lg.jp/"]


# ── options reach a sanitiser checked ──────────────────────────────────────────────


class _OneOption(Sanitizer):
    types: ClassVar[frozenset[str]] = frozenset({"txt"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "links": OptionSpec("keep-web", "links", choices=("keep-web", "remove"))
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        raise NotImplementedError


@pytest.mark.parametrize("value", ["keep-all", 42, True, ""])
def test_a_bad_option_value_is_refused_where_options_are_resolved(value: object) -> None:
    with pytest.raises(PolicyError) as caught:
        _OneOption().resolved_options({"links": value})  # type: ignore[dict-item]
    assert caught.value.code == "policy.bad_option"
    assert "links" in caught.value.detail


def test_good_option_values_and_defaults_resolve() -> None:
    assert _OneOption().resolved_options({}) == {"links": "keep-web"}
    assert _OneOption().resolved_options({"links": "remove", "other": 1}) == {"links": "remove"}


@pytest.mark.parametrize("sanitizer", [HtmlRebuild(), PdfRebuild(), OoxmlRebuild()])
def test_the_rebuilds_refuse_a_bad_links_value(sanitizer: Sanitizer, tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="links"):
        sanitizer.sanitize(tmp_path / "absent", tmp_path / "out", {"links": "keep-all"}, Limits())
