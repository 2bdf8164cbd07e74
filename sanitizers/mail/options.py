"""The options of a mail rule (``[rules.eml]``, ``[rules.msg]``), shared by the rebuild and
the verifier that holds its output to them."""

from __future__ import annotations

from collections.abc import Mapping

from sanitizers.base import OptionSpec
from sanitizers.mail import urls
from sanitizers.text import ENCODING_OPTION

MAIL_OPTIONS: Mapping[str, OptionSpec] = {
    "html": OptionSpec(
        "text",
        "HTMLメール: text=テキスト化（改行・箇条書き・表を読める形に、リンク先は文字の後に書き出す）/ "
        "sanitise=許可したタグだけでHTMLを再構築. "
        "HTML bodies: reduce them to text (lines, lists and tables kept readable, link targets "
        "written after the link text), or rebuild the HTML from the allow-list.",
        choices=("text", "sanitise"),
    ),
    "links": OptionSpec(
        urls.INERT,
        "本文中のURL: inert=hxxps:// のように無効化して残す / keep-web=http・https・mailto は残す / "
        "remove=取り除く. Links in the text: made inert but readable (hxxps://...), kept "
        "where the link rule keeps them (http, https, mailto), or removed.",
        choices=urls.CHOICES,
    ),
    "attachments": OptionSpec(
        "sanitise",
        "添付ファイル: sanitise=共有フォルダのファイルと同じく無害化して添付 / remove=すべて取り除く. "
        "Attachments: sanitised like files in a share and attached again, or all removed.",
        choices=("sanitise", "remove"),
    ),
    "inline_images": OptionSpec(
        "attach",
        "本文中の画像: attach=無害化して添付ファイルにする / remove=取り除く. "
        "Images shown in the body: sanitised and attached, or removed.",
        choices=("attach", "remove"),
    ),
    "received": OptionSpec(
        "remove",
        "Received（配送経路）ヘッダー: remove=取り除く / keep=残す. "
        "Received trace fields (the servers a message passed): removed, or kept.",
        choices=("remove", "keep"),
    ),
    "encoding": ENCODING_OPTION,
}
