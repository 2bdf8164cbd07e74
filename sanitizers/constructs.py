"""What staff read for a finding: every construct and action a sanitiser reports, in Japanese and English.

A finding's construct (``pdf.javascript``) and action (``removed``) are stable codes kept in
the journal and the log; the console shows these labels instead, with the code beside them
for support. A construct missing here is shown as its code; the tests keep the catalogue
complete (tests/sanitizers/test_constructs.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sanitizers.errors import REASONS

#: The construct of a finding that says the first method of a rule refused the file and the
#: next one was used: ``method.<reason code>`` (see ``sanitizers.pipeline``).
FALLBACK_PREFIX = "method."


@dataclass(frozen=True)
class Label:
    ja: str
    en: str

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.ja


def _metafile(ja: str, en: str) -> Label:
    return Label(f"図（WMF/EMF）内の{ja}", f"{en} in a WMF/EMF picture")


CONSTRUCTS: dict[str, Label] = {
    # archives
    "archive.compression": Label(
        "元の圧縮形式（ZIP で作り直し）", "Original archive format (rebuilt as ZIP)"
    ),
    "archive.member": Label("圧縮ファイル内のファイル", "File inside the archive"),
    "archive.name_undecodable": Label(
        "文字コードを判別できないファイル名", "File name in an unknown encoding"
    ),
    # text, CSV
    "text.control_characters": Label("制御文字", "Control characters"),
    "text.encoding": Label("文字コード", "Character encoding"),
    "csv.dde": Label(
        "DDE 式（他のプログラムを起動するセル）", "DDE formula (a cell that starts another program)"
    ),
    "csv.formula": Label("数式のセル", "Formula cell"),
    # HTML
    "html.active_url": Label("動作する URL（javascript: 等）", "Active URL (javascript:, ...)"),
    "html.base": Label("基準 URL（base 要素）", "Base URL (<base>)"),
    "html.comment": Label("HTML のコメント", "HTML comment"),
    "html.css": Label("スタイル指定（CSS）", "Style declaration (CSS)"),
    "html.embedded_content": Label(
        "埋め込みコンテンツ（iframe、object 等）", "Embedded content (iframe, object, ...)"
    ),
    "html.encoding": Label("文字コード", "Character encoding"),
    "html.event_handler": Label("イベント処理（onclick 等）", "Event handler (onclick, ...)"),
    "html.external_resource": Label("外部リソースの参照", "Reference to an external resource"),
    "html.form": Label("入力フォーム", "Form"),
    "html.link": Label("リンク", "Link"),
    "html.meta_refresh": Label("自動転送（meta refresh）", "Automatic redirect (meta refresh)"),
    "html.metadata": Label("メタデータ", "Metadata"),
    "html.other_element": Label("その他の要素", "Other element"),
    "html.script": Label("スクリプト", "Script"),
    "html.stylesheet": Label("スタイルシート", "Style sheet"),
    # images
    "image.comment": Label("画像のコメント", "Image comment"),
    "image.exif": Label("Exif 情報（撮影情報）", "Exif data (camera information)"),
    "image.frame": Label("アニメーションの 2 コマ目以降", "Animation frames after the first"),
    "image.gps": Label("位置情報（GPS）", "Location (GPS)"),
    "image.icc_profile": Label("カラープロファイル", "Colour profile"),
    "image.iptc": Label("IPTC 情報", "IPTC data"),
    "image.other_metadata": Label("その他のメタデータ", "Other metadata"),
    "image.text_chunk": Label("画像に埋め込まれた文字情報", "Text embedded in the image"),
    "image.trailing_data": Label("画像の後ろに付いたデータ", "Data after the end of the image"),
    "image.xmp": Label("XMP メタデータ", "XMP metadata"),
    "metafile.color_profile": _metafile("カラープロファイル", "Colour profile"),
    "metafile.comment": _metafile("コメント", "Comment"),
    "metafile.compressed_bitmap": _metafile("圧縮された画像", "Compressed bitmap"),
    "metafile.description": _metafile("説明文", "Description"),
    "metafile.escape": _metafile("プリンター向けの命令", "Printer escape"),
    "metafile.invalid_bitmap": _metafile("壊れた画像", "Damaged bitmap"),
    "metafile.opengl": _metafile("OpenGL の命令", "OpenGL record"),
    "metafile.trailing_data": _metafile("後ろに付いたデータ", "Trailing data"),
    "metafile.unknown_record": _metafile("不明な命令", "Unknown record"),
    # mail
    "mail.alternative": Label("本文の別形式", "Alternative body"),
    "mail.attachment": Label("添付ファイル", "Attachment"),
    "mail.header": Label("メールヘッダー", "Mail header"),
    "mail.header_encoding": Label("ヘッダーの文字コード", "Header encoding"),
    "mail.html": Label("HTML の本文", "HTML body"),
    "mail.inline_image": Label("本文中の画像", "Inline image"),
    "mail.link": Label("本文中のリンク", "Link in the body"),
    "mail.msg": Label("Outlook 形式（.msg）", "Outlook format (.msg)"),
    "mail.received": Label("配送経路（Received ヘッダー）", "Delivery route (Received headers)"),
    "mail.signature": Label("電子署名（S/MIME・PGP）", "Digital signature (S/MIME, PGP)"),
    # OpenDocument
    "odf.animation_command": Label("アニメーションのコマンド", "Animation command"),
    "odf.applet": Label("Java アプレット", "Java applet"),
    "odf.auto_reload": Label("自動再読み込み", "Automatic reload"),
    "odf.basic_macro": Label("Basic マクロ", "Basic macros"),
    "odf.comment_author": Label("コメントの作成者名", "Comment author's name"),
    "odf.comments": Label("コメント", "Comments"),
    "odf.database_connection": Label("データベース接続", "Database connection"),
    "odf.database_field": Label("データベースのフィールド", "Database field"),
    "odf.dde_connection": Label("DDE 接続", "DDE connection"),
    "odf.document_properties": Label("文書のプロパティ（作成者等）", "Document properties (author, ...)"),
    "odf.embedded_font": Label("埋め込みフォント", "Embedded font"),
    "odf.embedded_object": Label("埋め込みオブジェクト", "Embedded object"),
    "odf.event_listener": Label("イベントに結び付いた処理", "Event listener"),
    "odf.external_data": Label("外部データの取り込み", "External data source"),
    "odf.external_formula": Label("外部を参照する数式", "Formula referring outside the file"),
    "odf.external_reference": Label("外部への参照", "External reference"),
    "odf.field": Label("外部を参照するフィールド", "Field that reaches outside the file"),
    "odf.floating_frame": Label(
        "フローティングフレーム（外部文書の表示）", "Floating frame (shows another document)"
    ),
    "odf.form_submission": Label("フォームの送信先", "Form submission"),
    "odf.hyperlink": Label("ハイパーリンク", "Hyperlink"),
    "odf.linked_picture": Label("リンクされた画像", "Linked picture"),
    "odf.linked_section": Label("リンクされたセクション", "Linked section"),
    "odf.macro_binding": Label("マクロの割り当て", "Macro binding"),
    "odf.macro_field": Label("マクロを実行するフィールド", "Field that runs a macro"),
    "odf.media": Label("動画・音声", "Media (video, sound)"),
    "odf.not_an_image": Label("画像ではない図", "Picture that is not an image"),
    "odf.pivot_source": Label("ピボットテーブルの外部データ", "Pivot table's external source"),
    "odf.plugin": Label("プラグイン", "Plug-in"),
    "odf.printer_settings": Label("プリンター設定", "Printer settings"),
    "odf.rdf_metadata": Label("RDF メタデータ", "RDF metadata"),
    "odf.revision_author": Label("変更履歴の作成者名", "Revision author's name"),
    "odf.script": Label("スクリプト", "Script"),
    "odf.settings": Label("文書の設定", "Document settings"),
    "odf.signature": Label("電子署名", "Digital signature"),
    "odf.template": Label("テンプレートへの参照", "Template reference"),
    "odf.thumbnail": Label("サムネイル画像", "Thumbnail"),
    "odf.ui_configuration": Label("メニュー・ツールバーの設定", "Menu and toolbar configuration"),
    "odf.unreadable_picture": Label("読み取れない画像", "Unreadable picture"),
    "odf.unreferenced_part": Label("使われていない部品", "Unused part"),
    # conversion
    "office.converted": Label("PDF への変換", "Conversion to PDF"),
    # Office 97-2003
    "ole.color_mapping": Label("テーマの色の割り当て（OOXML）", "Theme colour mapping (OOXML)"),
    "ole.embed_field": Label("埋め込みオブジェクトのフィールド", "Embedded object field"),
    "ole.embedded_object": Label("埋め込みオブジェクト", "Embedded object"),
    "ole.external_formula": Label("別のブックを参照する数式", "Formula referring to another workbook"),
    "ole.external_workbook": Label("別のブックへのリンク", "Link to another workbook"),
    "ole.hyperlink": Label("ハイパーリンク", "Hyperlink"),
    "ole.mail_envelope": Label(
        "メールの送信情報（宛先、件名等）", "E-mail envelope (recipients, subject, ...)"
    ),
    "ole.embedded_font": Label("埋め込みフォント", "Embedded font"),
    "ole.media": Label("埋め込まれた音声", "Embedded sound"),
    "ole.metadata": Label("文書のプロパティ（作成者等）", "Document properties (author, ...)"),
    "ole.object_data": Label("オブジェクトのデータ", "Object data"),
    "ole.picture": Label("画像", "Picture"),
    "ole.root_clsid": Label("ファイルの種類を示す識別子", "File class identifier"),
    "ole.round_trip_package": Label(
        "Office 2007 以降のための複製データ（OOXML パッケージ）",
        "Copy kept for Office 2007 and later (OOXML package)",
    ),
    "ole.shape_package": Label(
        "図形の代替データ（OOXML パッケージ）", "Alternative shape data (OOXML package)"
    ),
    "ole.slide_library_link": Label("スライド ライブラリへのリンク", "Link to a slide library"),
    "ole.theme_package": Label("テーマ（OOXML パッケージ）", "Theme (OOXML package)"),
    "ole.unlisted_entry": Label("想定外の内部データ", "Unexpected internal entry"),
    "ole.vba_macros": Label("VBA マクロ", "VBA macros"),
    "ole.vba_project_record": Label("マクロのプロジェクト情報", "Macro project record"),
    # Office (OOXML)
    "ooxml.action": Label("クリック時などの動作", "Action (on click, ...)"),
    "ooxml.active_field": Label("動作を起こすフィールド", "Field that runs something"),
    "ooxml.activex": Label("ActiveX コントロール", "ActiveX control"),
    "ooxml.alt_chunk": Label("取り込まれた別の文書", "Imported document (altChunk)"),
    "ooxml.attached_template": Label("添付されたテンプレート", "Attached template"),
    "ooxml.calc_chain": Label("計算順序の情報", "Calculation chain"),
    "ooxml.comment_author": Label("コメントの作成者名", "Comment author's name"),
    "ooxml.comments": Label("コメント", "Comments"),
    "ooxml.computed_field": Label("自動計算のフィールド", "Computed field"),
    "ooxml.custom_ui": Label("リボンのカスタマイズ", "Custom ribbon"),
    "ooxml.custom_xml": Label("カスタム XML データ", "Custom XML data"),
    "ooxml.dangling_reference": Label("存在しない部品への参照", "Reference to a missing part"),
    "ooxml.data_connection": Label("データ接続", "Data connection"),
    "ooxml.dde_field": Label("DDE フィールド", "DDE field"),
    "ooxml.dde_link": Label("DDE リンク", "DDE link"),
    "ooxml.document_properties": Label("文書のプロパティ（作成者等）", "Document properties (author, ...)"),
    "ooxml.embedded_font": Label("埋め込みフォント", "Embedded font"),
    "ooxml.embedded_object": Label("埋め込みオブジェクト", "Embedded object"),
    "ooxml.external_field": Label("外部を参照するフィールド", "Field referring outside the file"),
    "ooxml.external_formula": Label("外部を参照する数式", "Formula referring outside the file"),
    "ooxml.external_link": Label("別のブックへのリンク", "Link to another workbook"),
    "ooxml.external_relationship": Label("外部への参照", "External reference"),
    "ooxml.file_path": Label("保存場所のパス", "Path the file was saved at"),
    "ooxml.form_control": Label("フォームコントロール", "Form control"),
    "ooxml.frame": Label("フレーム（外部文書の表示）", "Frame (shows another document)"),
    "ooxml.glossary": Label("定型句", "Building blocks (glossary)"),
    "ooxml.hyperlink": Label("ハイパーリンク", "Hyperlink"),
    "ooxml.hyperlink_base": Label("ハイパーリンクの基点", "Hyperlink base"),
    "ooxml.macro_binding": Label("マクロの割り当て", "Macro binding"),
    "ooxml.macro_enabled": Label("マクロ有効形式の指定", "Macro-enabled file format"),
    "ooxml.mail_merge": Label("差し込み印刷のデータ元", "Mail merge data source"),
    "ooxml.media": Label("動画・音声", "Media (video, sound)"),
    "ooxml.missing_part": Label("見つからない部品", "Missing part"),
    "ooxml.not_an_image": Label("画像ではない図", "Picture that is not an image"),
    "ooxml.pivot_cache": Label("ピボットテーブルのデータ", "Pivot table data"),
    "ooxml.printer_settings": Label("プリンター設定", "Printer settings"),
    "ooxml.revision_author": Label("変更履歴の作成者名", "Revision author's name"),
    "ooxml.revision_ids": Label("編集履歴の識別子", "Revision identifiers"),
    "ooxml.sheet_entry": Label("削除したシートへの参照", "Reference to a removed sheet"),
    "ooxml.signature": Label("電子署名", "Digital signature"),
    "ooxml.strict": Label("Strict 形式（通常の形式に変換）", "Strict format (converted to the usual one)"),
    "ooxml.sub_document": Label("サブ文書", "Subdocument"),
    "ooxml.tags": Label("タグ情報", "Tags"),
    "ooxml.thumbnail": Label("サムネイル画像", "Thumbnail"),
    "ooxml.unexpected_content_type": Label("想定外の種類の部品", "Part of an unexpected type"),
    "ooxml.unknown_part": Label("不明な部品", "Unknown part"),
    "ooxml.unparsable_vml": Label("読み取れない図形（VML）", "Unreadable shapes (VML)"),
    "ooxml.unreadable_picture": Label("読み取れない画像", "Unreadable picture"),
    "ooxml.unreferenced_part": Label("使われていない部品", "Unused part"),
    "ooxml.unresolvable_markup": Label("解釈できない拡張の記述", "Markup that cannot be resolved"),
    "ooxml.vba_project": Label("VBA マクロ", "VBA macros"),
    "ooxml.web_extension": Label("Web アドイン", "Web add-in"),
    "ooxml.web_publishing": Label("Web 発行の設定", "Web publishing settings"),
    "ooxml.xlm_macrosheet": Label("Excel 4.0 マクロシート", "Excel 4.0 macro sheet"),
    # PDF
    "pdf.3d": Label("3D コンテンツ", "3D content"),
    "pdf.action": Label("動作（アクション）", "Action"),
    "pdf.additional_actions": Label("自動で実行される動作", "Automatic actions"),
    "pdf.annotation": Label("注釈", "Annotation"),
    "pdf.comment": Label("コメント（注釈）", "Comment"),
    "pdf.decrypted": Label(
        "暗号化（所有者パスワードのみ）の解除", "Encryption removed (owner password only)"
    ),
    "pdf.embedded_file": Label("添付ファイル", "Embedded file"),
    "pdf.embedded_goto": Label("添付ファイルへの移動", "Go to an embedded file"),
    "pdf.external_stream": Label("外部ファイルのデータ", "Data kept in an external file"),
    "pdf.hide": Label("表示・非表示の切り替え", "Show or hide action"),
    "pdf.icc_profile": Label("カラープロファイル", "Colour profile"),
    "pdf.image_container": Label("画像の形式（作り直し）", "Image format (re-encoded)"),
    "pdf.import_data": Label("データの取り込み", "Data import"),
    "pdf.javascript": Label("JavaScript", "JavaScript"),
    "pdf.launch": Label("プログラムの起動", "Program launch"),
    "pdf.leading_data": Label("PDF の前に付いたデータ", "Data before the PDF"),
    "pdf.metadata": Label("メタデータ（作成者等）", "Metadata (author, ...)"),
    "pdf.movie": Label("動画", "Movie"),
    "pdf.named_action": Label("メニュー操作の動作", "Named action"),
    "pdf.open_action": Label("開いたときの動作", "Action on opening"),
    "pdf.other": Label("その他の要素", "Other entry"),
    "pdf.page": Label("ページ", "Pages"),
    "pdf.piece_info": Label("アプリケーション固有のデータ", "Application data (PieceInfo)"),
    "pdf.remote_goto": Label("別のファイルへの移動", "Go to another file"),
    "pdf.rendition": Label("マルチメディアの再生", "Media playback (rendition)"),
    "pdf.repaired": Label("壊れた構造の修復", "Damaged structure repaired"),
    "pdf.reset_form": Label("フォームのリセット", "Form reset"),
    "pdf.rich_media": Label("リッチメディア（Flash 等）", "Rich media (Flash, ...)"),
    "pdf.screen": Label("マルチメディアの注釈", "Media annotation (screen)"),
    "pdf.sound": Label("音声", "Sound"),
    "pdf.submit_form": Label("フォームの送信", "Form submission"),
    "pdf.thread": Label("記事スレッドへの移動", "Article thread action"),
    "pdf.trailing_data": Label("PDF の後ろに付いたデータ", "Data after the PDF"),
    "pdf.transition_action": Label("ページ切り替え効果の動作", "Transition action"),
    "pdf.uri": Label("Web へのリンク", "Web link"),
    "pdf.web_capture": Label("Web キャプチャの情報", "Web capture data"),
    "pdf.xfa": Label("XFA フォーム", "XFA form"),
    # RTF
    "rtf.bin": Label("バイナリデータ", "Binary data"),
    "rtf.comment": Label("コメント", "Comments"),
    "rtf.dde_field": Label("DDE フィールド", "DDE field"),
    "rtf.destination": Label("危険な記述のグループ", "Unsafe destination group"),
    "rtf.external_field": Label("外部を参照するフィールド", "Field referring outside the file"),
    "rtf.header": Label("RTF のヘッダー", "RTF header"),
    "rtf.hyperlink": Label("ハイパーリンク", "Hyperlink"),
    "rtf.linked_picture": Label("リンクされた画像", "Linked picture"),
    "rtf.objdata": Label("オブジェクトのデータ", "Object data"),
    "rtf.object": Label("埋め込みオブジェクト", "Embedded object"),
    "rtf.picture": Label("画像", "Picture"),
    "rtf.template": Label("テンプレートへの参照", "Template reference"),
    "rtf.trailing_data": Label("文書の後ろに付いたデータ", "Data after the document"),
    # SVG
    "svg.animation": Label("アニメーション", "Animation"),
    "svg.css": Label("スタイル指定（CSS）", "Style declaration (CSS)"),
    "svg.event_handler": Label("イベント処理（onclick 等）", "Event handler (onclick, ...)"),
    "svg.external_reference": Label("外部への参照", "External reference"),
    "svg.foreign_object": Label("埋め込まれた HTML 等", "Foreign object (embedded HTML, ...)"),
    "svg.image": Label("画像", "Image"),
    "svg.link": Label("リンク", "Link"),
    "svg.metadata": Label("メタデータ", "Metadata"),
    "svg.other_attribute": Label("その他の属性", "Other attribute"),
    "svg.other_element": Label("その他の要素", "Other element"),
    "svg.other_node": Label("その他の記述（処理命令等）", "Other node (processing instruction, ...)"),
    "svg.script": Label("スクリプト", "Script"),
    "svg.stylesheet": Label("スタイルシート", "Style sheet"),
}

ACTIONS: dict[str, Label] = {
    "removed": Label("削除", "removed"),
    "neutralised": Label("無効化", "neutralised"),
    "dropped": Label("除外", "dropped"),
    "converted": Label("変換", "converted"),
    "repaired": Label("修復", "repaired"),
    "decrypted": Label("復号", "decrypted"),
    "renamed": Label("名前を変更", "renamed"),
    "attached": Label("添付ファイルとして保持", "kept as an attachment"),
    "kept": Label("保持", "kept"),
    "fell_back": Label("別の方式に切り替え", "fell back"),
}


def construct_label(construct: str) -> Label | None:
    """The label of ``construct``, or None when the catalogue lacks it."""
    if construct in CONSTRUCTS:
        return CONSTRUCTS[construct]
    reason = (
        REASONS.get(construct.removeprefix(FALLBACK_PREFIX))
        if construct.startswith(FALLBACK_PREFIX)
        else None
    )
    if reason is None:
        return None
    return Label(
        f"最初の方式で無害化できなかった理由: {reason.ja}", f"Why the first method failed: {reason.en}"
    )
