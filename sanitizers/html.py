"""HTML: rebuilt from an allow-list with nh3 (ammonia), or reduced to its text.

The page is decoded in its own charset (BOM, then <meta charset>, then the strict ladder of
``sanitizers.text``), cleaned as text, and written back in the same charset with a fresh
<meta charset>, so Shift_JIS and EUC-JP pages keep their Japanese.  A stdlib
``html.parser`` pass counts what the input carries (for the report) and re-checks the
output independently (for the verification).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import nh3

from sanitizers.base import Limits, Options, OptionSpec, OptionValue, Report, Sanitizer
from sanitizers.errors import MalformedError, VerifyError
from sanitizers.links import CHOICES as LINK_CHOICES
from sanitizers.links import WEB_SCHEMES, is_web_link, keep_link, url_scheme
from sanitizers.output import write_atomically
from sanitizers.text import (
    ENCODING_LABELS,
    ENCODING_OPTION,
    DecodedText,
    decode_text,
    encoding_finding,
    is_removed_control,
)

# ── CSS (shared with SVG) ──────────────────────────────────────────────────────────

#: Functions a kept CSS value may call; url() only as url(#id), and only where allowed.
_CSS_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "calc", "url"})
_CSS_VALUE_CHARS = re.compile(r"[\w\s#%.,()+\-/!'\"]*")
_CSS_CALL = re.compile(r"([\w-]*)\s*\(")
_FRAGMENT_URL = re.compile(r"url\(\s*(['\"]?)#[A-Za-z_][\w.:-]*\1\s*\)", re.IGNORECASE)

HTML_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
        "font-variant", "text-align", "text-decoration", "text-indent", "text-transform", "line-height",
        "letter-spacing", "word-spacing", "white-space", "vertical-align", "direction", "unicode-bidi",
        "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "padding", "padding-top",
        "padding-right", "padding-bottom", "padding-left", "border", "border-top", "border-right",
        "border-bottom", "border-left", "border-color", "border-style", "border-width", "border-collapse",
        "border-spacing", "width", "height", "min-width", "max-width", "min-height", "max-height",
        "list-style-type", "caption-side", "empty-cells", "table-layout", "writing-mode", "display",
        "float", "clear",
    }
)  # fmt: skip


def clean_style(value: str, allowed: frozenset[str], fragment_urls: bool) -> tuple[str | None, int]:
    """(declarations kept from an inline style, or None; how many were dropped).

    A declaration survives when its property is allowed and its value is made of plain
    tokens: no escapes, no comments, no at-rules, no expression()/behavior/url() loads.
    """
    kept: list[str] = []
    dropped = 0
    for declaration in value.split(";"):
        if not declaration.strip():
            continue
        name, sep, raw_value = declaration.partition(":")
        prop, css_value = name.strip().lower(), raw_value.strip()
        if sep and prop in allowed and css_value and _plain_css_value(css_value, fragment_urls):
            kept.append(f"{prop}: {css_value}")
        else:
            dropped += 1
    return ("; ".join(kept) if kept else None), dropped


def _plain_css_value(value: str, fragment_urls: bool) -> bool:
    if not _CSS_VALUE_CHARS.fullmatch(value):
        return False  # escapes, comments, at-rules, "javascript:" all need a character outside
    if not all(name.lower() in _CSS_FUNCTIONS for name in _CSS_CALL.findall(value)):
        return False
    if re.search(r"url\s*\(", _FRAGMENT_URL.sub("", value), re.IGNORECASE):
        return False  # a load from anywhere but this document
    return fragment_urls or not _FRAGMENT_URL.search(value)


def css_is_inert(value: str, fragment_urls: bool) -> bool:
    """Verification of a style value we wrote: nothing that loads or runs."""
    lowered = re.sub(r"\s", "", value).lower()
    if any(token in lowered for token in ("expression", "javascript:", "behavior", "binding", "@", "\\")):
        return False
    remaining = _FRAGMENT_URL.sub("", value) if fragment_urls else value
    return "url(" not in remaining.lower()


# ── URLs ─────────────────────────────────────────────────────────────────────────────
# Links (<a href>) are judged by sanitizers.links, the policy every format shares; images
# (<img src>) are not links, and their rule is here, but read with the same scheme reader.

_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE)
_REMOTE_IMAGE_SCHEMES = frozenset({"http", "https"})
#: What browsers strip around a URL attribute's value (HTML's ASCII white space); the value
#: is kept stripped, and anything left inside is for the link policy to judge.
_URL_PADDING = " \t\n\f\r"


# ── charset ──────────────────────────────────────────────────────────────────────────

#: Labels a page may declare (WHATWG names) → the codec we decode with.
_DECLARED_CHARSETS: dict[str, str] = {
    "utf-8": "utf-8", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "csshiftjis": "cp932", "windows-31j": "cp932", "ms932": "cp932", "cp932": "cp932",
    "euc-jp": "euc_jp", "x-euc-jp": "euc_jp", "cseucpkdfmtjapanese": "euc_jp",
    "iso-2022-jp": "iso2022_jp", "csiso2022jp": "iso2022_jp",
    "windows-1252": "cp1252", "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
}  # fmt: skip
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
#: Browsers look for the declaration in the first 1024 bytes only.
_PRESCAN_BYTES = 1024


def decode_html(raw: bytes) -> DecodedText:
    match = _META_CHARSET.search(raw[:_PRESCAN_BYTES])
    declared = _DECLARED_CHARSETS.get(match.group(1).decode("ascii").lower()) if match else None
    return decode_text(raw, declared)


def encode_html(page: str, decoded: DecodedText, target: str) -> bytes:
    """The page in the source's charset (or UTF-8); what it lacks becomes &#NNNN;."""
    if target == "utf-8":
        return page.encode("utf-8")
    return decoded.bom + page.encode(decoded.codec, errors="xmlcharrefreplace")


def charset_label(decoded: DecodedText, target: str) -> str | None:
    """The <meta charset> to write; none for UTF-16, whose BOM is what browsers obey."""
    if target == "utf-8":
        return "UTF-8"
    if decoded.codec.startswith("utf-16"):
        return None
    return ENCODING_LABELS[decoded.codec]


# ── the allow-list ───────────────────────────────────────────────────────────────────

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt",
        "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hgroup", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q",
        "rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strike", "strong", "sub",
        "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u",
        "ul", "var", "wbr",
    }
)  # fmt: skip
#: Removed together with their content: code, styles, and what only scripts or plug-ins show.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "title", "template", "iframe", "frameset", "noembed", "noframes", "object",
        "applet", "svg", "math", "select", "datalist", "textarea", "button",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir", "style", "class", "id", "align"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": {"border", "cellpadding", "cellspacing", "width", "summary", "bgcolor"},
    "td": {"colspan", "rowspan", "valign", "width", "height", "nowrap", "bgcolor"},
    "th": {"colspan", "rowspan", "valign", "width", "height", "nowrap", "bgcolor", "scope"},
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "font": {"color", "size", "face"},
    "time": {"datetime"},
    "details": {"open"},
    "hr": {"size", "width", "noshade"},
}
_LINK_REL = "noopener noreferrer"
#: Structure the rebuild writes around the cleaned body.
_FRAME_TAGS = frozenset({"html", "head", "body", "meta", "title"})

_EMBEDDING = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet", "portal"})
_FORMS = frozenset({"form", "input", "button", "select", "textarea", "isindex", "keygen"})
_STYLES = frozenset({"style", "link"})


#: Attributes a browser follows as URLs.
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "data", "background", "poster", "srcset", "cite", "longdesc",
     "ping", "codebase", "archive", "lowsrc", "dynsrc", "xlink:href"}
)  # fmt: skip


class _InputSurvey(HTMLParser):
    """What the input carries, for the report; plus its title and language.

    ``data_images``: whether data: images in <img src> are kept (then they are not counted).
    """

    def __init__(self, data_images: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.data_images = data_images
        self.found: Counter[str] = Counter()
        self.title: str | None = None
        self.lang: str | None = None
        self._in_title = False
        self._title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        values = {name: value or "" for name, value in attrs}
        self.found["html.event_handler"] += sum(1 for name in names if name.startswith("on"))
        for name, value in values.items():
            scheme = url_scheme(value) if name in _URL_ATTRIBUTES else None
            kept_image = (tag, name) == ("img", "src") and self.data_images
            if scheme in {"javascript", "vbscript"} or (scheme == "data" and not kept_image):
                self.found["html.active_url"] += 1
        if tag == "script":
            self.found["html.script"] += 1
        elif tag in _EMBEDDING:
            self.found["html.embedded_content"] += 1
        elif tag in _FORMS:
            self.found["html.form"] += 1
        elif tag in _STYLES:
            self.found["html.stylesheet"] += 1
        elif tag == "base":
            self.found["html.base"] += 1
        elif tag == "meta":
            http_equiv = values.get("http-equiv", "").lower()
            if http_equiv == "refresh":
                self.found["html.meta_refresh"] += 1
            elif "charset" not in names and http_equiv != "content-type":
                self.found["html.metadata"] += 1
        elif (
            tag == "html"
            and self.lang is None
            and re.fullmatch(r"[A-Za-z0-9\-]{1,35}", values.get("lang", ""))
        ):
            self.lang = values["lang"]
        elif tag == "title" and self.title is None:
            self._in_title = True
        elif tag not in ALLOWED_TAGS and tag not in _FRAME_TAGS:
            self.found["html.other_element"] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = " ".join("".join(self._title_parts).split())

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.found["html.comment"] += 1


def run_parser(parser: HTMLParser, text: str) -> None:
    """Feed ``text``; html.parser's few hard failures (a bogus ``<![x[`` section raises
    AssertionError) mean the page cannot be read the way a browser would."""
    try:
        parser.feed(text)
        parser.close()
    except AssertionError as exc:
        raise MalformedError("html.malformed", f"unparsable markup: {exc}") from None


def survey(text: str, data_images: bool) -> _InputSurvey:
    parser = _InputSurvey(data_images)
    run_parser(parser, text)
    return parser


LINKS_OPTION = OptionSpec(
    "keep-web",
    "リンク: keep-web=http/https/mailto のリンクを残す / remove=すべて外す. "
    "Links: keep absolute http, https and mailto links (and #fragments), or remove all.",
    choices=LINK_CHOICES,
)


class _UrlPolicy:
    """Decides each allowed URL attribute; counts what it removes (nh3 calls it back).

    ``options``: HtmlRebuild's, as ``resolved_options`` returned them (checked, complete).
    """

    def __init__(self, options: Mapping[str, OptionValue]) -> None:
        self.links = str(options["links"])
        self.data_images = bool(options["allow_data_images"])
        self.external = options["external_resources"] == "keep"
        self.removed: Counter[str] = Counter()

    def filter(self, tag: str, attr: str, value: str) -> str | None:
        """nh3's attribute_filter: must not raise (nh3 would only log it and drop the value)."""
        if attr == "style":
            cleaned, dropped = clean_style(value, HTML_STYLE_PROPERTIES, fragment_urls=False)
            self.removed["html.css"] += dropped
            return cleaned
        if (tag, attr) == ("a", "href"):
            return self._link(value)
        if (tag, attr) == ("img", "src"):
            return self._image(value)
        return value

    def _link(self, value: str) -> str | None:
        target = value.strip(_URL_PADDING)
        if self._keeps_link(target):
            return target
        # javascript: and the like rarely get here (nh3 drops them first, the survey counts them)
        self.removed["html.link"] += 1
        return None

    def _image(self, value: str) -> str | None:
        source = value.strip(_URL_PADDING)
        if self._keeps_image(source):
            return source
        scheme = url_scheme(value)
        self.removed[
            "html.active_url" if scheme in {"javascript", "vbscript", "data"} else "html.external_resource"
        ] += 1
        return None

    def _keeps_link(self, target: str) -> bool:
        return keep_link(target, self.links, fragments=True)

    def _keeps_image(self, source: str) -> bool:
        scheme = url_scheme(source)
        if scheme == "data":
            return self.data_images and bool(_DATA_IMAGE.fullmatch(source))
        return self.external and scheme in _REMOTE_IMAGE_SCHEMES and is_web_link(source)

    def allows(self, tag: str, attr: str, value: str) -> bool:
        """Verification: would this URL attribute of the output be kept, as it is, by this policy?"""
        if (tag, attr) == ("a", "href"):
            return self._keeps_link(value)
        if (tag, attr) == ("img", "src"):
            return self._keeps_image(value)
        return False


def clean_body(text: str, policy: _UrlPolicy) -> str:
    schemes = set(WEB_SCHEMES) | ({"data"} if policy.data_images else set())
    cleaner = nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=policy.filter,
        strip_comments=True,
        link_rel=_LINK_REL,
        url_schemes=schemes,
    )
    return cleaner.clean(text)


def build_page(body: str, found: _InputSurvey, charset: str | None) -> str:
    head = [f'<meta charset="{charset}">'] if charset else []
    if found.title:
        head.append(f"<title>{html.escape(found.title[:1024])}</title>")
    lang = f' lang="{found.lang}"' if found.lang else ""
    return "<!DOCTYPE html>\n<html{}>\n<head>\n{}\n</head>\n<body>\n{}\n</body>\n</html>\n".format(
        lang, "\n".join(head), body
    )


class _OutputCheck(HTMLParser):
    """Independent re-parse of what we wrote: only allow-listed tags, attributes and URLs."""

    def __init__(self, policy: _UrlPolicy) -> None:
        super().__init__(convert_charrefs=True)
        self.policy = policy
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS and tag not in _FRAME_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "meta" and [name for name, _ in attrs] != ["charset"]:
            self.problems.append("<meta> other than charset")
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set()) | {"lang", "rel", "charset"}
        for name, value in attrs:
            value = value or ""
            if name not in allowed or name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            elif name in {"href", "src"} and not self.policy.allows(tag, name, value):
                self.problems.append(f"<{tag} {name}={value[:40]!r}>")
            elif name == "style" and not css_is_inert(value, fragment_urls=False):
                self.problems.append(f"<{tag} style={value[:40]!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")


def verify_page(page: str, policy: _UrlPolicy) -> None:
    checker = _OutputCheck(policy)
    try:
        run_parser(checker, page)
    except MalformedError as exc:
        raise VerifyError("html.verify_failed", exc.detail) from None
    if checker.problems:
        raise VerifyError("html.verify_failed", "output still has " + ", ".join(checker.problems[:5]))


class HtmlRebuild(Sanitizer):
    """HTML rebuilt from an allow-list: no scripts, handlers, frames, forms or remote loads."""

    types: ClassVar[frozenset[str]] = frozenset({"html"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "encoding": ENCODING_OPTION,
        "links": LINKS_OPTION,
        "allow_data_images": OptionSpec(
            False,
            "ページに埋め込まれた画像（data:image/png 等）を残す. "
            "Keep images embedded in the page as data:image/png, jpeg, gif or webp URLs.",
        ),
        "external_resources": OptionSpec(
            "remove",
            "外部の画像読み込み: remove=外す / keep=http(s) の画像を残す. "
            "Images loaded from elsewhere: remove them, or keep http(s) ones (the page then "
            "contacts those servers when opened).",
            choices=("remove", "keep"),
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        resolved = self.resolved_options(options)
        target = str(resolved["encoding"])
        decoded = decode_html(limits.read_file(untrusted_src))
        policy = _UrlPolicy(resolved)
        found = survey(decoded.text, policy.data_images)
        page = build_page(clean_body(decoded.text, policy), found, charset_label(decoded, target))
        verify_page(page, policy)
        write_atomically(dst, encode_html(page, decoded, target))
        report = Report("html")
        report.findings.append(encoding_finding(decoded, target, "html"))
        for construct, count in sorted((found.found + policy.removed).items()):
            report.add(construct, "removed", count)
        return report


def verify_rebuilt_page(page: str, options: Options) -> None:
    """``verify_page`` under the URL policy of the rule's ``options`` (defaults filled in),
    for the gateway's verifier, which has the page and the rule but not the input."""
    verify_page(page, _UrlPolicy(HtmlRebuild().resolved_options(options)))


# ── text method ──────────────────────────────────────────────────────────────────────

_SKIPPED_TEXT = frozenset(
    {"script", "style", "template", "head", "iframe", "noembed", "noframes", "svg", "math"}
)
_BLOCKS = frozenset(
    {
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl",
        "dt", "dd", "blockquote", "pre", "section", "article", "header", "footer", "hr", "address",
        "figure", "figcaption", "caption", "details", "summary", "main", "nav", "aside", "form",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})


class _TextExtractor(HTMLParser):
    """Visible text: blocks become lines, table cells are separated by tabs.

    ``readable``: list items get a bullet or their number, and a link's target is written
    after its text (the text of a mail, where the reader has nothing else to go by).
    """

    def __init__(self, readable: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []
        self._pre = 0
        self._readable = readable
        self._lists: list[int] = []  # per open list: the next number, or -1 for bullets
        self._links: list[tuple[str | None, int]] = []  # per open <a>: its target, where its text starts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TEXT:
            self._skipping.append(tag)
        elif self._readable and tag in ("ul", "ol", "li", "a"):
            self._readable_start(tag, dict(attrs))
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append("\t")
        if tag == "pre":
            self._pre += 1

    def _readable_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "a":
            self._links.append((attrs.get("href"), len(self.parts)))
            return
        self._new_line()
        if tag != "li":
            self._lists.append(1 if tag == "ol" else -1)
        elif self._lists:
            indent = "\u3000" * (len(self._lists) - 1)  # an ideographic space: lines lose ASCII ones
            number = self._lists[-1]
            self.parts.append(f"{indent}・" if number < 0 else f"{indent}{number}. ")
            if number > 0:
                self._lists[-1] += 1

    def _readable_end(self, tag: str) -> None:
        if tag == "a":
            if self._links:
                target, start = self._links.pop()
                text = "".join(self.parts[start:]).strip()
                if target and target != text and not self._skipping:
                    self.parts.append(f" <{target}>")
            return
        if tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._new_line()

    def _new_line(self) -> None:
        """A line break, unless the text already ends one (items of a list are not apart)."""
        if "".join(self.parts[-3:]).rstrip(" \t").endswith("\n") or not self.parts:
            return
        self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()
        elif self._readable and tag in ("ul", "ol", "li", "a"):
            self._readable_end(tag)
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data if self._pre else re.sub(r"[ \t\r\n\f]+", " ", data))

    def text(self) -> str:
        lines = (line.strip(" ") for line in "".join(self.parts).split("\n"))
        joined = "\n".join(line for line in lines)
        return re.sub(r"\n{3,}", "\n\n", joined).strip("\n") + "\n"


def extract_text(page: str, title: str | None, readable: bool = False) -> str:
    extractor = _TextExtractor(readable)
    run_parser(extractor, page)
    body = extractor.text()
    text = f"{title}\n\n{body}" if title else body
    return "".join(ch for ch in text if not is_removed_control(ch))


def page_text(page: str) -> tuple[str, Counter[str]]:
    """テキスト化 of a page already decoded (a mail's HTML part, whose charset the message
    declares): its visible text with lists marked and the target of each web link written
    after the link's text, and what the page carried (for the report)."""
    found = survey(page, data_images=False)
    policy = _UrlPolicy(HtmlRebuild().resolved_options({"links": "keep-web"}))
    text = extract_text(clean_body(page, policy), None, readable=True)
    return text, found.found + policy.removed


def rebuild_page(page: str, options: Options) -> tuple[str, Counter[str]]:
    """The rebuild of a page already decoded, as UTF-8 text (a mail's HTML part, re-encoded
    by the mail), checked by the rebuild's own re-parse; and what was removed."""
    policy = _UrlPolicy(HtmlRebuild().resolved_options(options))
    found = survey(page, policy.data_images)
    rebuilt = build_page(clean_body(page, policy), found, "UTF-8")
    verify_page(rebuilt, policy)
    return rebuilt, found.found + policy.removed


class HtmlText(Sanitizer):
    """HTML reduced to its visible text (テキスト化), in the page's charset when it can."""

    types: ClassVar[frozenset[str]] = frozenset({"html"})
    method: ClassVar[str] = "text"
    options: ClassVar[Mapping[str, OptionSpec]] = {"encoding": ENCODING_OPTION}
    #: URLs do not reach plain text; the cleaning before extraction may drop them all.
    link_free_options: ClassVar[Options] = {
        "links": "remove",
        "allow_data_images": False,
        "external_resources": "remove",
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        target = str(self.resolved_options(options)["encoding"])
        decoded = decode_html(limits.read_file(untrusted_src))
        found = survey(decoded.text, data_images=False)
        # html.parser ends a script only at a bare </script>; browsers (and html5ever in
        # nh3) also at </script foo>.  Extracting from nh3's output reads the page as they do.
        cleaned = clean_body(decoded.text, _UrlPolicy(HtmlRebuild().resolved_options(self.link_free_options)))
        text = extract_text(cleaned, found.title)
        if not text.strip():
            raise MalformedError("html.malformed", "the page has no text to extract")
        report = Report("txt")
        codec, bom = ("utf-8", b"") if target == "utf-8" else (decoded.codec, decoded.bom)
        try:
            data = bom + text.encode(codec)
        except UnicodeEncodeError:
            # a character reference for something the page's charset lacks (an emoji in a
            # Shift_JIS page): plain text has no &#...; escape, so the whole text goes UTF-8
            codec, data = "utf-8", text.encode("utf-8")
        label = ENCODING_LABELS.get(codec, codec)
        if codec == decoded.codec:
            report.add("text.encoding", "kept", 1, label)
        else:
            report.add("text.encoding", "converted", 1, f"{decoded.label} → {label}")
        write_atomically(dst, data)
        for construct, count in sorted(found.found.items()):
            report.add(construct, "removed", count)
        return report
