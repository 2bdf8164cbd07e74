"""Messages the mail tests (and the fuzz seeds) use: built with the ``email`` package where it
writes what senders write, and by hand where Japanese mailers write what it would not
(ISO-2022-JP with Windows' extensions, raw Shift_JIS in quotes, encoded words in quotes, a
character split across two encoded words). Outlook items are written with aspose-email-foss.
"""

from __future__ import annotations

import base64
import io
import zipfile
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from tests.sanitizers import ooxml_builders

SENDER = "㈱山田商事 総務課①"
SUBJECT = "【至急】令和6年度 予算表（案）のご確認①②"
BODY = "各位\r\n\r\n予算表を送付します。①～③をご確認ください。\r\n詳細: https://example.jp/yosan?id=1\r\n"
#: (name, how the sender's mailer wrote it): every form the tests must read back exactly
NAMED_FORMS = {
    "予算表.xlsm": "rfc2231-shift_jis",
    "見積書（案）.xlsm": "raw-shift_jis",
    "申請書①.xlsm": "rfc2047-iso-2022-jp-quoted",
    "議事録_第2回.xlsm": "rfc2047-shift_jis-split",
}


def b_words(text: str, charset: str, codec: str, cut: int | None = None) -> str:
    """``text`` as B encoded words in ``charset``; ``cut`` splits its bytes there, even
    inside a character, as some Japanese mailers do."""
    raw = text.encode(codec)
    pieces = [raw] if cut is None else [raw[:cut], raw[cut:]]
    return " ".join(f"=?{charset}?B?{base64.b64encode(p).decode()}?=" for p in pieces)


def iso2022(text: str) -> bytes:
    """ISO-2022-JP as Windows writes it (CP50220: ① and ㈱ in row 13)."""
    from sanitizers.mail.charsets import encode_iso2022_jp

    encoded = encode_iso2022_jp(text)
    assert encoded is not None
    return encoded


def xlsm(tmp: Path) -> bytes:
    return ooxml_builders.build(tmp / "macro.xlsm", "xlsx", ooxml_builders.macros).read_bytes()


def docm(tmp: Path) -> bytes:
    return ooxml_builders.build(tmp / "macro.docm", "docx", ooxml_builders.macros).read_bytes()


def _disposition(name: str, form: str) -> bytes:
    if form == "rfc2231-shift_jis":
        quoted = "".join(f"%{b:02X}" for b in name.encode("cp932"))
        return f"attachment; filename*=Shift_JIS''{quoted}".encode()
    if form == "raw-shift_jis":
        return b'attachment; filename="' + name.encode("cp932") + b'"'
    if form == "rfc2047-iso-2022-jp-quoted":
        word = f"=?ISO-2022-JP?B?{base64.b64encode(iso2022(name)).decode()}?="
        return f'attachment; filename="{word}"'.encode()
    return f'attachment; filename="{b_words(name, "Shift_JIS", "cp932", cut=3)}"'.encode()


def _headers(fields: list[tuple[str, bytes]]) -> bytes:
    return b"".join(name.encode() + b": " + value + b"\r\n" for name, value in fields)


def japanese_mail(tmp: Path) -> bytes:
    """An ISO-2022-JP message as Outlook in Japan sends it, with an .xlsm (a VBA macro)
    attached four times under names in every encoding its mailers use."""
    boundary = b"----=_NextPart_000_0001_01DA0000.00000000"
    macro = base64.encodebytes(xlsm(tmp)).replace(b"\n", b"\r\n")
    parts = [
        b'Content-Type: text/plain; charset="iso-2022-jp"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
        + iso2022(BODY)
    ]
    for name, form in NAMED_FORMS.items():
        parts.append(
            b"Content-Type: application/vnd.ms-excel.sheet.macroEnabled.12\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: " + _disposition(name, form) + b"\r\n\r\n" + macro
        )
    head = _headers(
        [
            (
                "Received",
                b"from mx.example.jp (mx.example.jp [192.0.2.1]) by gw.city.lg.jp; Mon, 1 Apr 2024 09:00:00 +0900",
            ),
            ("Return-Path", b"<soumu@yamada.example.jp>"),
            ("From", f"{_iso_word(SENDER)} <soumu@yamada.example.jp>".encode()),
            ("To", b'"\x8eR\x93c \x89\xd4\x8eq" <hanako@city.lg.jp>'),  # raw Shift_JIS: 山田 花子
            ("Cc", f"{_iso_word('財政課')} <zaisei@city.lg.jp>, kacho@city.lg.jp".encode()),
            ("Subject", f"{_iso_word(SUBJECT[:9])}\r\n {_iso_word(SUBJECT[9:])}".encode()),
            ("Date", b"Mon, 1 Apr 2024 09:00:00 +0900"),
            ("Message-ID", b"<20240401090000.0001@yamada.example.jp>"),
            ("X-Mailer", b"Microsoft Outlook 16.0"),
            ("Disposition-Notification-To", b"soumu@yamada.example.jp"),
            ("MIME-Version", b"1.0"),
            ("Content-Type", b'multipart/mixed; boundary="' + boundary + b'"'),
        ]
    )
    body = b"This is a multi-part message in MIME format.\r\n\r\n"
    for part in parts:
        body += b"--" + boundary + b"\r\n" + part + b"\r\n"
    return head + b"\r\n" + body + b"--" + boundary + b"--\r\n"


def _iso_word(text: str) -> str:
    return f"=?ISO-2022-JP?B?{base64.b64encode(iso2022(text)).decode()}?="


def message(subject: str = "テスト", sender: str = "山田 太郎 <taro@example.jp>") -> EmailMessage:
    """A plain message as the ``email`` package writes it."""
    built = EmailMessage()
    built["From"] = sender
    built["To"] = "花子 <hanako@city.lg.jp>"
    built["Subject"] = subject
    built["Date"] = "Tue, 2 Apr 2024 10:00:00 +0900"
    built["Message-ID"] = "<m1@example.jp>"
    return built


TRACKING_HTML = (
    '<html><head><title>お知らせ</title><script>alert("x")</script></head><body>'
    "<h1>説明会のご案内</h1><p>いつもお世話になっております。<br>次の日程で開催します。</p>"
    "<ul><li>日時: 4月10日</li><li>場所: 本庁舎</li></ul>"
    "<table><tr><th>区分</th><th>定員</th></tr><tr><td>午前</td><td>30名</td></tr></table>"
    '<p><a href="https://city.example.jp/setsumei">詳細ページ</a> '
    '<a href="javascript:alert(document.cookie)">ここをクリック</a> '
    '<a href="file://server/share/x.exe">資料</a></p>'
    '<img src="cid:logo@example.jp" alt="ロゴ">'
    '<img src="https://track.example.com/open?u=123" width="1" height="1">'
    '<p onclick="steal()">以上</p></body></html>'
)


def html_mail(png: bytes) -> bytes:
    """HTML only (no plain version): tracking pixel, javascript: link, an inline logo."""
    built = message("説明会のご案内")
    built.set_content(TRACKING_HTML, subtype="html")
    built.add_related(png, "image", "png", cid="<logo@example.jp>")
    return bytes(built)


def nested_mail(tmp: Path) -> bytes:
    """A message forwarding a message that carries a .docm, inside a zip too."""
    inner = message("転送元のメール", "佐藤 次郎 <jiro@example.jp>")
    inner.set_content("内側の本文です。 http://inner.example.jp/\n")
    inner.add_attachment(
        docm(tmp), "application", "vnd.ms-word.document.macroEnabled.12", filename="報告書.docm"
    )
    outer = message("Fwd: 転送元のメール")
    outer.set_content("転送します。\n")
    outer.add_attachment(inner)
    outer.add_attachment(zip_with_docm(tmp), "application", "zip", filename="資料.zip")
    return bytes(outer)


def zip_with_docm(tmp: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("報告書.docm", docm(tmp))
        archive.writestr("メモ.txt", "メモです\n".encode("cp932"))
    return buffer.getvalue()


def signed_mail() -> bytes:
    """Clear-signed S/MIME: the content, and a signature part."""
    built = message("署名付き")
    built.set_content("署名された本文\n")
    signed = EmailMessage()
    signed["Content-Type"] = 'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256'
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        signed[name] = built[name]
    body = EmailMessage()
    body.set_content("署名された本文\n")
    signature = EmailMessage()
    signature.set_content(
        b"\x30\x82\x01\x00" + bytes(64), "application", "pkcs7-signature", filename="smime.p7s"
    )
    signed.set_payload([body, signature])
    return signed.as_bytes(policy=SMTP)


def encrypted_mail(kind: str) -> bytes:
    built = message("暗号化")
    if kind == "smime":
        built.set_content(bytes(64), "application", "pkcs7-mime", params={"smime-type": "enveloped-data"},
                          filename="smime.p7m")  # fmt: skip
    elif kind == "pgp":
        built.make_mixed()
        control = EmailMessage()
        control.set_content(b"Version: 1\n", "application", "pgp-encrypted")
        data = EmailMessage()
        data.set_content(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA\n-----END PGP MESSAGE-----\n", "application",
                         "octet-stream")  # fmt: skip
        built.set_payload([control, data])
        built.replace_header("Content-Type", 'multipart/encrypted; protocol="application/pgp-encrypted"')
    else:
        built.set_content("-----BEGIN PGP MESSAGE-----\n\nhQEMA8abc\n-----END PGP MESSAGE-----\n")
    return bytes(built)


def outlook_item(tmp: Path, html: str | None = None) -> bytes:
    """An Outlook .msg: Japanese subject and names, an .xlsm with a macro and an attached
    Outlook item, written by aspose-email-foss."""
    from aspose.email_foss import msg

    item = msg.MapiMessage.create(SUBJECT, "本文です。\r\nhttps://example.jp/x\r\n")
    item.set_property(msg.PropertyId.SENDER_NAME, "山田 太郎")
    item.set_property(msg.PropertyId.SENDER_EMAIL_ADDRESS, "taro@example.jp")
    item.add_recipient("hanako@city.lg.jp", display_name="佐藤 花子")
    item.add_recipient("kacho@city.lg.jp", display_name="課長", recipient_type=2)
    if html is not None:
        item.body_html = html
    item.add_attachment("予算表.xlsm", xlsm(tmp), mime_type="application/vnd.ms-excel.sheet.macroEnabled.12")
    inner = msg.MapiMessage.create("転送元", "内側の本文")
    inner.set_property(msg.PropertyId.SENDER_NAME, "佐藤 次郎")
    inner.set_property(msg.PropertyId.SENDER_EMAIL_ADDRESS, "jiro@example.jp")
    item.add_embedded_message_attachment(inner, filename="転送元.msg")
    return bytes(item.to_bytes())


def seed_messages(folder: Path) -> list[Path]:
    """One file of each kind above, for the fuzz harnesses of eml and msg."""
    from tests.sanitizers.pictures import encoded, two_colour_image

    made = {
        "japanese.eml": japanese_mail(folder),
        "html.eml": html_mail(encoded(two_colour_image(), "PNG")),
        "nested.eml": nested_mail(folder),
        "signed.eml": signed_mail(),
        "outlook.msg": outlook_item(folder, "<p>本文</p>"),
    }
    paths = []
    for name, data in made.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
