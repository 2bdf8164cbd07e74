"""The mail rebuild, proved by reading its output independently.

Every released message is parsed again with the ``email`` package (policy ``default``) and
its Japanese compared exactly (subject, display names, attachment names); attachments are
opened with zipfile to show the macros gone, as the OOXML tests do; the body is decoded with
an ISO-2022-JP reader written here (Windows' CP50220, which no stdlib codec reads).
"""

from __future__ import annotations

import base64
import email
import io
import zipfile
from email import policy
from email.message import Message
from pathlib import Path
from typing import ClassVar

import pytest

from sanitizers.base import Limits, Options, OptionValue, Report, Sanitizer
from sanitizers.errors import REASONS, SanitizeError
from sanitizers.mail import MailRebuild
from sanitizers.pipeline import Outcome, Rule, _member_processor, process_file
from sanitizers.registry import default_registry
from sanitizers.verification import Expectation, verify_output
from tests.sanitizers import mail_builders as mb
from tests.sanitizers import ooxml_builders
from tests.sanitizers.contract import RebuildContract, assert_judged_again_unchanged
from tests.sanitizers.pictures import encoded, two_colour_image

REGISTRY = default_registry()
LIMITS = Limits()
ALLOWED_FIELDS = {"from", "to", "cc", "reply-to", "date", "subject", "message-id", "in-reply-to",
                  "references", "mime-version", "content-type", "x-mukaika-sanitized"}  # fmt: skip


class Rules:
    """Everything the registry can rebuild is rebuilt, with ``overrides`` for some types."""

    def __init__(self, **mail_options: OptionValue) -> None:
        self.mail_options: Options = mail_options

    def rule_for(self, type_name: str) -> Rule | None:
        if type_name in ("eml", "msg"):
            return Rule(("rebuild",), self.mail_options)
        if type_name in ("exe", "script"):
            return Rule(("reject",))
        return Rule(("rebuild",)) if REGISTRY.get(type_name, "rebuild") else None


def run(tmp_path: Path, data: bytes, name: str = "in.eml", **options: OptionValue) -> Outcome:
    folder = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    src = folder / name
    src.write_bytes(data)
    scratch = folder / "scratch"
    scratch.mkdir()
    return process_file(src, name, scratch, Rules(**options), LIMITS, REGISTRY)


def released(outcome: Outcome) -> Message:
    assert outcome.verdict == "released", outcome.reason
    assert outcome.output is not None and outcome.output_path is not None
    assert outcome.output.type == "eml"
    return email.message_from_bytes(outcome.output_path.read_bytes(), policy=policy.default)


def refused(outcome: Outcome) -> str:
    assert outcome.verdict == "rejected" and outcome.reason is not None
    return outcome.reason.code


def leaves(message: Message) -> list[Message]:
    return [part for part in message.walk() if not part.is_multipart()]


def attachments(message: Message) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_filename()
        if name and part.get_content_type() != "message/rfc822":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[name] = payload
    return found


def cp50220(data: bytes) -> str:
    """ISO-2022-JP as Windows reads it: each JIS pair mapped to its Shift_JIS code, read as CP932."""
    out, kanji, pos = bytearray(), False, 0
    while pos < len(data):
        if data.startswith(b"\x1b$B", pos):
            kanji, pos = True, pos + 3
        elif data.startswith(b"\x1b(B", pos):
            kanji, pos = False, pos + 3
        elif kanji and data[pos] not in b"\r\n":
            j1, j2 = data[pos], data[pos + 1]
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F + (j2 >= 0x60) if j1 % 2 else 0x7E)
            out += bytes((s1, s2))
            pos += 2
        else:
            out.append(data[pos])
            pos += 1
    return out.decode("cp932")


def body_text(message: Message) -> str:
    first = next(iter(message.iter_parts()))
    plain = first if first.get_content_type() == "text/plain" else next(iter(first.iter_parts()))
    data = plain.get_payload(decode=True)
    assert isinstance(data, bytes)
    charset = plain.get_content_charset()
    text = cp50220(data) if charset == "iso-2022-jp" else data.decode(charset or "ascii")
    return text.replace("\r\n", "\n")


def assert_no_macros(package: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = archive.namelist()
        types = archive.read("[Content_Types].xml").decode()
    assert not [n for n in names if "vba" in n.lower()]
    assert "macroEnabled" not in types and "vbaProject" not in types


def png() -> bytes:
    return encoded(two_colour_image(), "PNG")


# ── the contract ─────────────────────────────────────────────────────────────────────


class _MailThroughPipeline(Sanitizer):
    types: ClassVar[frozenset[str]] = MailRebuild.types
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        members = _member_processor(Rules(), limits, REGISTRY)
        return MailRebuild().sanitize_container(untrusted_src, dst, options, limits, members)


class TestMailContract(RebuildContract):
    def make_sanitizer(self) -> Sanitizer:
        return _MailThroughPipeline()

    def make_good_input(self, tmp_path: Path) -> Path:
        path = tmp_path / "in.eml"
        path.write_bytes(mb.html_mail(png()))
        return path


def test_sanitize_alone_refuses_since_attachments_need_the_pipeline(tmp_path: Path) -> None:
    src = tmp_path / "in.eml"
    src.write_bytes(mb.html_mail(png()))
    with pytest.raises(SanitizeError) as caught:
        MailRebuild().sanitize(src, tmp_path / "out", {}, LIMITS)
    assert caught.value.code == "type.unsupported"


# ── Japanese as Japanese mailers write it ────────────────────────────────────────────


def test_iso_2022_jp_mail_keeps_its_japanese_and_loses_the_macros(tmp_path: Path) -> None:
    outcome = run(tmp_path, mb.japanese_mail(tmp_path))
    message = released(outcome)
    assert str(message["Subject"]) == mb.SUBJECT
    assert message["From"].addresses[0].display_name == mb.SENDER
    assert message["From"].addresses[0].addr_spec == "soumu@yamada.example.jp"
    assert [a.display_name for a in message["To"].addresses] == ["山田 花子"]
    assert [(a.display_name, a.addr_spec) for a in message["Cc"].addresses] == [
        ("財政課", "zaisei@city.lg.jp"),
        ("", "kacho@city.lg.jp"),
    ]
    expected = [name.replace(".xlsm", ".xlsx") for name in mb.NAMED_FORMS]
    found = attachments(message)
    assert list(found) == expected
    for package in found.values():
        assert_no_macros(package)
    text = body_text(message)
    assert "予算表を送付します。①～③をご確認ください。" in text
    assert "hxxps://example.jp/yosan?id=1" in text and "https://" not in text
    assert {name.lower() for name in message} <= ALLOWED_FIELDS
    assert message["X-Mukaika-Sanitized"] == "text; links-inert; attachments=4 sanitised, 0 removed"
    constructs = {(f.construct, f.action) for f in outcome.findings}
    assert ("ooxml.vba_project", "removed") in constructs
    assert ("mail.received", "removed") in constructs
    assert ("mail.header", "removed") in constructs


def test_the_body_keeps_its_charset_or_becomes_utf_8(tmp_path: Path) -> None:
    kept = released(run(tmp_path, mb.japanese_mail(tmp_path)))
    assert next(iter(kept.iter_parts())).get_content_charset() == "iso-2022-jp"
    converted = released(run(tmp_path, mb.japanese_mail(tmp_path), encoding="utf-8"))
    assert next(iter(converted.iter_parts())).get_content_charset() == "utf-8"
    assert "①～③" in body_text(converted)


@pytest.mark.parametrize(
    ("charset", "codec"), [("Shift_JIS", "cp932"), ("EUC-JP", "euc_jp"), ("UTF-8", "utf-8")]
)
def test_subjects_and_names_in_every_japanese_charset_come_out_the_same(
    tmp_path: Path, charset: str, codec: str
) -> None:
    subject, name = "会議資料の送付（第３回）", "鈴木 一郎"
    data = (
        f"From: {mb.b_words(name, charset, codec)} <ichiro@example.jp>\r\n"
        f"To: hanako@city.lg.jp\r\nSubject: {mb.b_words(subject, charset, codec, cut=4)}\r\n"
        "Date: Tue, 2 Apr 2024 10:00:00 +0900\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "本文です。\r\n".encode(codec)
    message = released(run(tmp_path, data))
    assert str(message["Subject"]) == subject
    assert message["From"].addresses[0].display_name == name
    assert body_text(message).startswith("本文です。")


def test_raw_8bit_headers_and_a_long_name_are_read_and_written_back_exactly(tmp_path: Path) -> None:
    long_name = "総務部総務課 情報政策係 山田 太郎（やまだ たろう）"
    data = (
        b"From: " + "表示 能力".encode("cp932") + b" <a@example.jp>\r\n"
        b"To: " + mb.b_words(long_name, "UTF-8", "utf-8").encode() + b" <b@example.jp>\r\n"
        b"Subject: " + "ソフト表示".encode("cp932") + b"\r\nDate: Tue, 2 Apr 2024 10:00:00 +0900\r\n\r\nx\r\n"
    )
    message = released(run(tmp_path, data))
    assert str(message["Subject"]) == "ソフト表示"  # 0x5C as a second byte, not a backslash
    assert message["From"].addresses[0].display_name == "表示 能力"
    # RFC 2047 joins adjacent encoded words without the space policy.default puts between them
    raw_to = next(value for name, value in message.raw_items() if name == "To")
    decoded = str(email.header.make_header(email.header.decode_header(raw_to.split("<")[0].strip())))
    assert decoded == long_name


# ── HTML ─────────────────────────────────────────────────────────────────────────────


def test_html_mail_becomes_readable_text_without_its_tracking_and_scripts(tmp_path: Path) -> None:
    outcome = run(tmp_path, mb.html_mail(png()))
    message = released(outcome)
    assert "text/html" not in {p.get_content_type() for p in message.walk()}
    text = body_text(message)
    assert "説明会のご案内\n" in text and "・日時: 4月10日\n・場所: 本庁舎" in text
    assert "区分\t定員" in text and "午前\t30名" in text
    assert "詳細ページ <hxxps://city.example.jp/setsumei>" in text
    assert "track.example.com" not in text and "javascript" not in text.lower() and "alert" not in text
    assert "ここをクリック" in text  # the text of a refused link stays, its target does not
    assert message["X-Mukaika-Sanitized"].startswith("converted-html; links-inert;")
    assert [p.get_content_type() for p in leaves(message)] == ["text/plain", "image/png"]
    removed = {f.construct for f in outcome.findings if f.action == "removed"}
    assert {"html.script", "html.external_resource", "html.event_handler"} <= removed


def test_html_can_be_kept_rebuilt_from_the_allow_list(tmp_path: Path) -> None:
    message = released(run(tmp_path, mb.html_mail(png()), html="sanitise"))
    body = next(iter(message.iter_parts()))
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    page = list(body.iter_parts())[1].get_content()
    for gone in ("<script", "javascript:", "onclick", "track.example.com", "file://", "href"):
        assert gone not in page
    assert "説明会のご案内" in page
    kept_links = released(run(tmp_path, mb.html_mail(png()), html="sanitise", links="keep-web"))
    page = list(next(iter(kept_links.iter_parts())).iter_parts())[1].get_content()
    assert 'href="https://city.example.jp/setsumei"' in page and "javascript:" not in page


def test_a_plain_version_is_preferred_and_the_html_version_goes(tmp_path: Path) -> None:
    built = mb.message()
    built.set_content("プレーンテキスト版\n")
    built.add_alternative("<p>HTML版</p><script>x()</script>", subtype="html")
    outcome = run(tmp_path, bytes(built))
    message = released(outcome)
    assert body_text(message).strip() == "プレーンテキスト版"
    assert message["X-Mukaika-Sanitized"].startswith("html-removed;")


# ── links ────────────────────────────────────────────────────────────────────────────

_LINKS = (
    "https://city.example.jp/a javascript:alert(1) \\\\fileserver\\share\\x.exe www.example.jp mailto:a@b.jp"
)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("inert", "hxxps://city.example.jp/a javascript[:]alert(1) [\\\\]fileserver\\share\\x.exe "
                  "www[.]example.jp mailto[:]a@b.jp"),
        ("keep-web", "https://city.example.jp/a javascript[:]alert(1) [\\\\]fileserver\\share\\x.exe "
                     "www.example.jp mailto:a@b.jp"),
        ("remove", " ".join(["[URL削除 / URL removed]"] * 5)),
    ],
)  # fmt: skip
def test_links_in_the_text_follow_the_option(tmp_path: Path, option: str, expected: str) -> None:
    built = mb.message()
    built.set_content(_LINKS + "\n")
    message = released(run(tmp_path, bytes(built), links=option))
    assert body_text(message).strip() == expected
    assert f"links-{option};" in message["X-Mukaika-Sanitized"]


# ── attachments, nested messages, signatures ─────────────────────────────────────────


def test_a_nested_message_and_a_zip_lose_their_macros_one_level_deeper(tmp_path: Path) -> None:
    outcome = run(tmp_path, mb.nested_mail(tmp_path))
    message = released(outcome)
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/rfc822", "application/zip"]
    assert parts[1].get_filename() == "転送元のメール.eml"
    inner = parts[1].get_payload()[0]
    assert str(inner["Subject"]) == "転送元のメール" and inner["X-Mukaika-Sanitized"] is not None
    inner_files = attachments(inner)
    assert list(inner_files) == ["報告書.docx"]
    assert_no_macros(inner_files["報告書.docx"])
    assert "hxxp://inner.example.jp/" in body_text(inner)
    with zipfile.ZipFile(io.BytesIO(attachments(message)["資料.zip"])) as archive:
        assert sorted(archive.namelist()) == ["メモ.txt", "報告書.docx"]
        assert_no_macros(archive.read("報告書.docx"))
    locations = {f.location or "" for f in outcome.findings if f.construct == "ooxml.vba_project"}
    assert any(loc.startswith("転送元のメール.eml: 報告書.docm") for loc in locations)
    assert any(loc.startswith("資料.zip: 報告書.docm") for loc in locations)


def test_a_refused_attachment_is_replaced_by_a_note_saying_why(tmp_path: Path) -> None:
    built = mb.message()
    built.set_content("添付を確認してください。\n")
    built.add_attachment(b"MZ\x90\x00" + bytes(200), "application", "octet-stream", filename="請求書.exe")
    built.add_attachment(b"%PDF-1.7 broken", "application", "pdf", filename="資料.pdf")
    outcome = run(tmp_path, bytes(built))
    message = released(outcome)
    notes = [p.get_content() for p in list(message.iter_parts())[1:]]
    assert len(notes) == 2
    assert "添付ファイル「請求書.exe」は無害化できなかったため" in notes[0]
    assert REASONS["policy.reject"].ja in notes[0] and REASONS["policy.reject"].en in notes[0]
    assert "資料.pdf" in notes[1]
    text = body_text(message)
    assert text.startswith("-" * 60 + "\nこのメールは無害化されました。")
    assert "・添付ファイル「請求書.exe」" in text and text.rstrip().endswith("添付を確認してください。")
    assert message["X-Mukaika-Sanitized"] == "text; links-inert; attachments=0 sanitised, 2 removed"
    dropped = [
        f.location for f in outcome.findings if (f.construct, f.action) == ("mail.attachment", "dropped")
    ]
    assert dropped == ["請求書.exe (policy.reject)", "資料.pdf (pdf.malformed)"]


def test_attachments_can_be_removed_by_the_rule(tmp_path: Path) -> None:
    message = released(run(tmp_path, mb.japanese_mail(tmp_path), attachments="remove"))
    assert attachments(message) == {}
    notes = [p.get_content() for p in list(message.iter_parts())[1:]]
    assert len(notes) == 4 and all("設定により取り除きました" in note for note in notes)
    assert message["X-Mukaika-Sanitized"] == "text; links-inert; attachments=0 sanitised, 4 removed"


def test_inline_images_are_attached_or_removed(tmp_path: Path) -> None:
    attached = released(run(tmp_path, mb.html_mail(png())))
    assert [p.get_content_type() for p in leaves(attached)][-1] == "image/png"
    assert "inline-images=1 attached, 0 removed" in attached["X-Mukaika-Sanitized"]
    removed = released(run(tmp_path, mb.html_mail(png()), inline_images="remove"))
    assert [p.get_content_type() for p in leaves(removed)] == ["text/plain"]
    assert "・本文中の画像「image-1」" in body_text(removed)


def test_a_name_that_hides_its_extension_is_refused_before_any_parser_sees_it(tmp_path: Path) -> None:
    built = mb.message()
    built.set_content("x\n")
    built.add_attachment(b"MZ" + bytes(100), "application", "octet-stream", filename="請求書\u202efdp.exe")
    outcome = run(tmp_path, bytes(built))
    message = released(outcome)
    note = list(message.iter_parts())[1].get_content()
    assert "mail.unsafe_name" in note and "\u202e" not in note


def test_a_signature_is_removed_and_said_so(tmp_path: Path) -> None:
    outcome = run(tmp_path, mb.signed_mail())
    message = released(outcome)
    assert "pkcs7" not in str(message.as_bytes())
    assert "・電子署名（S/MIME・PGP） / Digital signature (S/MIME, PGP)" in body_text(message)
    assert "signature-removed" in message["X-Mukaika-Sanitized"]
    assert ("mail.signature", "removed") in {(f.construct, f.action) for f in outcome.findings}


@pytest.mark.parametrize("kind", ["smime", "pgp", "inline"])
def test_encrypted_mail_is_refused(tmp_path: Path, kind: str) -> None:
    assert refused(run(tmp_path, mb.encrypted_mail(kind))) == "mail.encrypted"


def test_received_fields_are_kept_only_when_the_rule_says_so(tmp_path: Path) -> None:
    assert released(run(tmp_path, mb.japanese_mail(tmp_path)))["Received"] is None
    kept = released(run(tmp_path, mb.japanese_mail(tmp_path), received="keep"))
    assert "gw.city.lg.jp" in str(kept["Received"])


# ── refusals: structure and limits ───────────────────────────────────────────────────

_HEAD = b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: x\r\nDate: Tue, 2 Apr 2024 10:00:00 +0900\r\n"


@pytest.mark.parametrize(
    "data",
    [
        _HEAD + b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n",
        _HEAD + b'Content-Type: multipart/mixed; boundary="x"\r\n\r\nno boundary line at all\r\n',
        _HEAD + b"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n<script>x</script>\r\n",
        _HEAD + b"this line has no colon\r\nX-Hidden: y\r\n\r\nbody\r\n",
    ],
    ids=["no-boundary", "no-first-boundary", "two-content-types", "no-colon"],
)
def test_structures_readers_could_disagree_about_are_malformed(tmp_path: Path, data: bytes) -> None:
    assert rebuilt_directly(tmp_path, data) == "mail.malformed"


def rebuilt_directly(tmp_path: Path, data: bytes, limits: Limits = LIMITS) -> str:
    """The refusal code of the rebuild itself, for input detection would already refuse."""
    src = tmp_path / "direct.eml"
    src.write_bytes(data)
    with pytest.raises(SanitizeError) as caught:
        _MailThroughPipeline().sanitize(src, tmp_path / "out", {}, limits)
    assert not (tmp_path / "out").exists()
    return caught.value.code


def test_parts_nesting_and_header_size_are_limited(tmp_path: Path) -> None:
    many = mb.message()
    many.set_content("x\n")
    for index in range(20):
        many.add_attachment(b"x", "text", "plain", filename=f"{index}.txt")
    assert rebuilt_directly(tmp_path, bytes(many), Limits(archive_members=10)) == "mail.limit"
    deep = _HEAD + b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode() for i in range(40)
    )
    assert refused(run(tmp_path, deep + b"Content-Type: text/plain\r\n\r\nx\r\n")) == "mail.limit"
    huge = _HEAD + b"X-Filler: " + b"a" * (300 * 1024) + b"\r\n\r\nx\r\n"
    assert rebuilt_directly(tmp_path, huge) == "mail.limit"


# ── Outlook .msg ─────────────────────────────────────────────────────────────────────


def test_an_outlook_item_comes_out_as_a_message(tmp_path: Path) -> None:
    outcome = run(tmp_path, mb.outlook_item(tmp_path, "<p>本文</p>"), "予算.msg")
    assert outcome.output is not None and outcome.output.name == "予算.eml"
    message = released(outcome)
    assert str(message["Subject"]) == mb.SUBJECT
    assert (message["From"].addresses[0].display_name, message["From"].addresses[0].addr_spec) == (
        "山田 太郎",
        "taro@example.jp",
    )
    assert [a.display_name for a in message["To"].addresses] == ["佐藤 花子"]
    assert [a.display_name for a in message["Cc"].addresses] == ["課長"]
    found = attachments(message)
    assert list(found) == ["予算表.xlsx"]
    assert_no_macros(found["予算表.xlsx"])
    nested = [p for p in message.iter_parts() if p.get_content_type() == "message/rfc822"]
    assert [p.get_filename() for p in nested] == ["転送元.eml"]
    assert "hxxps://example.jp/x" in body_text(message)
    assert ("mail.msg", "converted") in {(f.construct, f.action) for f in outcome.findings}


def test_a_damaged_or_empty_outlook_item_is_malformed(tmp_path: Path) -> None:
    data = bytearray(mb.outlook_item(tmp_path))
    data[600:4000] = bytes(3400)  # the property streams of the item itself
    assert refused(run(tmp_path, bytes(data), "x.msg")) == "mail.malformed"
    nothing = ooxml_builders.compound_file({"__substg1.0_0037001F": "件名".encode("utf-16-le")})
    assert rebuilt_directly(tmp_path, nothing) == "mail.malformed"


# ── idempotence and the independent verifier ─────────────────────────────────────────


@pytest.mark.parametrize("sample", ["japanese", "html", "nested", "signed", "msg"])
def test_a_released_message_judged_again_is_unchanged(tmp_path: Path, sample: str) -> None:
    data = {
        "japanese": lambda: mb.japanese_mail(tmp_path),
        "html": lambda: mb.html_mail(png()),
        "nested": lambda: mb.nested_mail(tmp_path),
        "signed": mb.signed_mail,
        "msg": lambda: mb.outlook_item(tmp_path, "<p>x</p>"),
    }[sample]()
    outcome = run(tmp_path, data, "in.msg" if sample == "msg" else "in.eml")
    assert_judged_again_unchanged(outcome, Rules(), LIMITS, REGISTRY, tmp_path / "again")


def verifies(path: Path, **options: OptionValue) -> str:
    """The gateway's verifier, with ``options`` the rule of messages, nested ones included."""
    rules = Rules(**options)

    def member_options(type_name: str) -> Options:
        rule = rules.rule_for(type_name)
        return rule.options if rule is not None else {}

    return verify_output(path, Expectation("eml", "rebuild", options), LIMITS, member_options)


@pytest.mark.parametrize("options", [{}, {"html": "sanitise"}, {"links": "keep-web", "html": "sanitise"}])
def test_released_messages_pass_the_gateways_verifier(
    tmp_path: Path, options: dict[str, OptionValue]
) -> None:
    for data in (mb.japanese_mail(tmp_path), mb.html_mail(png()), mb.nested_mail(tmp_path)):
        outcome = run(tmp_path, data, **options)
        assert outcome.output_path is not None, outcome.reason
        assert len(verifies(outcome.output_path, **options)) == 64


def _rewritten(path: Path, old: bytes, new: bytes) -> Path:
    data = path.read_bytes()
    assert old in data
    out = path.with_name(f"tampered-{len(list(path.parent.iterdir()))}.eml")
    out.write_bytes(data.replace(old, new, 1))
    return out


def stored_body(part: Message) -> bytes:
    """A part's body exactly as the file holds it (base64 lines)."""
    payload = part.get_payload()
    assert isinstance(payload, str)
    return payload.encode("ascii")


def _encoded(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _b64(text: str) -> bytes:
    return _encoded(text.encode())


def test_the_verifier_refuses_what_the_rule_does_not_allow(tmp_path: Path) -> None:
    built = mb.message()
    built.set_content("本文 hxxps://example.jp/\n")
    outcome = run(tmp_path, bytes(built))
    assert outcome.output_path is not None
    path = outcome.output_path
    body = stored_body(next(iter(released(outcome).iter_parts())))
    hostile = {
        "extra field": _rewritten(path, b"MIME-Version: 1.0", b"X-Evil: 1\r\nMIME-Version: 1.0"),
        "live link": _rewritten(path, body, _b64("本文 https://example.jp/\r\n")),
        "unc path": _rewritten(path, body, _b64("\\\\evil\\share\\x.exe\r\n")),
        "html body": _rewritten(path, b"Content-Type: text/plain", b"Content-Type: text/html"),
        "8-bit": _rewritten(path, b"MIME-Version: 1.0", "Subject2: é\r\nMIME-Version: 1.0".encode()),
    }
    for label, tampered in hostile.items():
        with pytest.raises(SanitizeError, match="verify") as caught:
            verifies(tampered)
        assert caught.value.code == "verify.failed", label
    with pytest.raises(SanitizeError):
        verifies(hostile["live link"], links="inert")
    assert verifies(hostile["live link"], links="keep-web")


def test_the_verifier_re_checks_each_attachment_by_its_type(tmp_path: Path) -> None:
    built = mb.message()
    built.set_content("x\n")
    built.add_attachment(b"a,b\r\n1,2\r\n", "text", "csv", filename="data.csv")
    outcome = run(tmp_path, bytes(built))
    assert outcome.output_path is not None
    clean = _encoded(b"a,b\r\n1,2\r\n")
    formula = _encoded(b"a,b\r\n=cmd|' /C calc'!A0,2\r\n")
    tampered = _rewritten(outcome.output_path, clean, formula)
    with pytest.raises(SanitizeError) as caught:
        verifies(tampered)
    assert "data.csv" in caught.value.detail
    macro = _encoded(mb.docm(tmp_path))
    docm = _rewritten(outcome.output_path, clean, macro)
    with pytest.raises(SanitizeError):
        verifies(docm)


def test_the_verifier_refuses_html_under_html_text_and_scripts_under_sanitise(tmp_path: Path) -> None:
    outcome = run(tmp_path, mb.html_mail(png()), html="sanitise")
    assert outcome.output_path is not None
    with pytest.raises(SanitizeError):
        verifies(outcome.output_path)  # html = "text": no HTML may be there
    html_part = list(next(iter(released(outcome).iter_parts())).iter_parts())[1]
    page = html_part.get_payload(decode=True)
    assert isinstance(page, bytes)
    scripted = page.replace(b"</body>", b"<script>alert(1)</script></body>")
    tampered = _rewritten(outcome.output_path, stored_body(html_part), _encoded(scripted))
    with pytest.raises(SanitizeError):
        verifies(tampered, html="sanitise")


# ── detection ────────────────────────────────────────────────────────────────────────


def _detected(tmp_path: Path, data: bytes, name: str) -> str:
    from sanitizers.detect import detect

    path = tmp_path / name
    path.write_bytes(data)
    return detect(path, name).type


def test_a_message_is_recognised_by_its_header_block_not_its_name(tmp_path: Path) -> None:
    data = mb.japanese_mail(tmp_path)
    assert _detected(tmp_path, data, "message") == "eml"
    assert _detected(tmp_path, data, "message.eml") == "eml"
    assert _detected(tmp_path, b"To: a@b.jp\r\n" + _html_first(), "x.eml") == "eml"  # libmagic: text/html
    assert _detected(tmp_path, mb.outlook_item(tmp_path), "x.msg") == "msg"


def _html_first() -> bytes:
    return (
        b"Subject: x\r\nMessage-ID: <a@b>\r\nContent-Type: text/html\r\n\r\n"
        b"<!DOCTYPE html><html><body><p>x</p></body></html>\r\n"
    )


def test_plain_text_that_only_looks_like_a_header_stays_text(tmp_path: Path) -> None:
    memo = "From: 総務課\r\n会議は10時からです。\r\n".encode("cp932")
    assert _detected(tmp_path, memo, "memo.txt") == "txt"
    assert _detected(tmp_path, memo, "memo") == "txt"
    few = b"From: a@b.jp\r\nSubject: x\r\n\r\nbody\r\n"  # two fields only
    assert _detected(tmp_path, few, "note.txt") == "txt"
    # a whole message saved under a text name is text, as it opens as text
    assert _detected(tmp_path, bytes(mb.message()) + b"\r\nbody\r\n", "saved.txt") == "txt"


def test_a_message_body_alone_is_not_released_as_a_message(tmp_path: Path) -> None:
    with pytest.raises(SanitizeError) as caught:
        _detected(tmp_path, "ただのテキストです。\r\n".encode(), "fake.eml")
    assert caught.value.code == "type.mismatch"


def test_a_message_without_from_date_or_message_id_is_refused(tmp_path: Path) -> None:
    data = (
        b"Received: from x by y; Tue, 2 Apr 2024 10:00:00 +0900\r\nTo: a@b.jp\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert refused(run(tmp_path, data)) == "mail.malformed"
