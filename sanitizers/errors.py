"""Failure taxonomy: every refusal carries a stable dotted code.

Codes are looked up in ``REASONS`` so that a reason file can explain them to staff in
Japanese and English.  Raising an unknown code is a programming error (``ValueError``),
which keeps the catalogue and the code in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReasonText:
    """What staff read: the problem and what to do next, in Japanese and English."""

    ja: str
    en: str
    advice_ja: str
    advice_en: str


_ASK_SENDER_JA = "送信者に、問題のない形式で送り直すよう依頼してください。"
_ASK_SENDER_EN = "Ask the sender to send the file again in a plain format."
_ASK_ADMIN_JA = "解決しない場合は、システム管理者に転送IDを伝えて連絡してください。"
_ASK_ADMIN_EN = "If this persists, contact the administrator with the transfer id."
_UNLOCKED_COPY_JA = "パスワードを外したファイルを送ってもらってください。"
_UNLOCKED_COPY_EN = "Ask the sender for a copy without a password."

REASONS: dict[str, ReasonText] = {
    # detection
    "type.empty": ReasonText("ファイルが空です。", "The file is empty.", _ASK_SENDER_JA, _ASK_SENDER_EN),
    "type.unknown": ReasonText(
        "ファイルの形式を判別できません。",
        "The file type could not be recognised.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "type.mismatch": ReasonText(
        "ファイルの中身と拡張子が一致しません（偽装の可能性があります）。",
        "The file's content does not match its extension (possible disguise).",
        "正しい拡張子のファイルを送ってもらってください。",
        "Ask the sender for the file with its correct extension.",
    ),
    "type.polyglot": ReasonText(
        "ファイルが複数の形式として解釈できます（ポリグロット）。",
        "The file can be read as more than one format (polyglot).",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "type.malformed": ReasonText(
        "ファイルの構造が壊れているため読み取れません。",
        "The file's structure is damaged and cannot be read.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "type.old_word": ReasonText(
        "Word 2.0 以前の古い Word 形式の文書です。この形式は無害化できません。",
        "This is a Word 2.0 (or older) document; this format cannot be sanitised.",
        "Word で開いて .docx か PDF で保存し直し、送ってもらってください。",
        "Ask the sender to open it in Word and save it as .docx or PDF.",
    ),
    "type.no_rule": ReasonText(
        "この形式のファイルは通過させない設定です。",
        "Files of this type are not allowed through by the configuration.",
        "必要な場合はシステム管理者に相談してください。",
        "If you need this type, ask the administrator.",
    ),
    "type.unsupported": ReasonText(
        "この形式の無害化にはまだ対応していません。",
        "Sanitising this file type is not supported yet.",
        "PDFなど対応している形式で送ってもらってください。",
        "Ask the sender for a supported format such as PDF.",
    ),
    "policy.reject": ReasonText(
        "この形式のファイル（実行ファイル、スクリプト等）は受け付けない設定です。",
        "This file type (executables, scripts, ...) is never released.",
        "PDFなど別の形式で送ってもらってください。",
        "Ask the sender for another format such as PDF.",
    ),
    "policy.ichitaro": ReasonText(
        "一太郎の文書（.jtd、.jtt 等）は中身を検査・無害化できないため、受け付けない設定です。",
        "Ichitaro (一太郎) documents (.jtd, .jtt, ...) cannot be inspected or sanitised, so they are not accepted.",
        "一太郎で開き、「名前を付けて保存」で PDF または Word 文書（.docx）として保存したファイルを送ってもらってください。",
        "Ask the sender to open it in Ichitaro and save it as PDF or as a Word document (.docx), then send that.",
    ),
    "policy.docuworks": ReasonText(
        "DocuWorks の文書（.xdw）・バインダー（.xbd）は中身を検査・無害化できないため、受け付けない設定です。",
        "DocuWorks documents (.xdw) and binders (.xbd) cannot be inspected or sanitised, so they are not accepted.",
        "DocuWorks Desk で PDF に変換（または PDF へ印刷）したファイルを送ってもらってください。",
        "Ask the sender to convert it to PDF in DocuWorks Desk (or print it to PDF), then send that.",
    ),
    "policy.bad_option": ReasonText(
        "設定の値が正しくないため、このファイルを処理できません（設定の誤りです）。",
        "A rule option in the configuration has an invalid value, so the file was not processed.",
        "システム管理者に転送IDを伝えて、設定の確認を依頼してください。",
        "Ask the administrator to check the configuration, giving the transfer id.",
    ),
    "input.too_large": ReasonText(
        "ファイルが大きすぎます。",
        "The file is larger than the configured limit.",
        "分割するか、小さくして送ってもらってください。",
        "Ask the sender to split or shrink the file.",
    ),
    "input.not_regular": ReasonText(
        "通常のファイルではありません（ショートカット、シンボリックリンク、名前付きパイプ等）。",
        "This is not a regular file (shortcut, symbolic link, named pipe, device, ...).",
        "ファイルそのものを置いてください。",
        "Drop the file itself, not a link to it.",
    ),
    "input.hard_link": ReasonText(
        "別の場所と共有されたファイル（ハードリンク）は受け付けません。",
        "Files that are hard-linked from elsewhere are not accepted.",
        "ファイルをコピーしてから置いてください。",
        "Drop a copy of the file instead.",
    ),
    # office / shared
    "office.encrypted": ReasonText(
        "パスワードで保護（暗号化）されたOfficeファイルは中身を検査できません。",
        "Password-protected (encrypted) Office files cannot be inspected.",
        _UNLOCKED_COPY_JA,
        _UNLOCKED_COPY_EN,
    ),
    # pdf
    "pdf.encrypted": ReasonText(
        "パスワードで保護されたPDFは中身を検査できません。",
        "Password-protected PDFs cannot be inspected.",
        _UNLOCKED_COPY_JA,
        _UNLOCKED_COPY_EN,
    ),
    "pdf.encryption_unsupported": ReasonText(
        "PDFが対応していない暗号化方式（短すぎる鍵のRC4、証明書による保護等）で保護されているため、中身を検査できません。",
        "The PDF is protected by an encryption scheme that cannot be read (RC4 with a key that is too "
        "short, certificate security, ...), so its content cannot be inspected.",
        "暗号化を外したファイルを送ってもらってください。",
        "Ask the sender for a copy without encryption.",
    ),
    "pdf.malformed": ReasonText(
        "PDFの構造が壊れていて修復できません。",
        "The PDF is damaged beyond repair.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "pdf.limit": ReasonText(
        "PDFが処理の上限（ページ数、オブジェクト数、サイズ等）を超えています。",
        "The PDF exceeds a processing limit (pages, objects, size, ...).",
        "分割して送ってもらってください。",
        "Ask the sender to split the document.",
    ),
    "pdf.verify_failed": ReasonText(
        "無害化後の検証で危険な要素が残っていたため、送信を止めました。",
        "Verification after sanitising found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "pdf.active_content": ReasonText(
        "PDFのページ内容に、取り除けない動的要素（JavaScript等）の名前が埋め込まれています。",
        "The PDF's page content embeds names of active constructs (JavaScript, ...) that cannot be removed.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "pdf.no_text": ReasonText(
        "PDFに文字情報がありません（スキャンした画像のみのPDF等）。テキスト化できません。",
        "The PDF contains no text (for example, a scan without OCR); nothing can be extracted.",
        "画像化など別の方法での受け取りを、システム管理者に相談してください。",
        "Ask the administrator about receiving it another way, such as image conversion.",
    ),
    # images
    "image.malformed": ReasonText(
        "画像が壊れているか、途中で切れています。",
        "The image is damaged or truncated.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "image.limit": ReasonText(
        "画像の大きさ（画素数・フレーム数）が上限を超えています（画像爆弾の可能性）。",
        "The image exceeds the pixel or frame limit (possible decompression bomb).",
        "縮小して送ってもらってください。",
        "Ask the sender for a smaller image.",
    ),
    "image.verify_failed": ReasonText(
        "無害化後の画像の検証で、メタデータ等が残っていたため送信を止めました。",
        "Verification after re-encoding found metadata or extra data left in the image; it was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    # text
    "text.encoding": ReasonText(
        "文字コードを判別できないテキストです。",
        "The text's character encoding could not be determined.",
        "UTF-8 または Shift_JIS で保存し直して送ってもらってください。",
        "Ask the sender to save it as UTF-8 or Shift_JIS.",
    ),
    "text.verify_failed": ReasonText(
        "無害化後のテキストの検証で問題（制御文字・数式セルの残存等）が見つかったため、送信を止めました。",
        "Verification of the sanitised text found a problem (control characters, formula cells); "
        "the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    # html / svg
    "html.malformed": ReasonText(
        "HTMLを解析できません。", "The HTML could not be parsed.", _ASK_SENDER_JA, _ASK_SENDER_EN
    ),
    "svg.malformed": ReasonText(
        "SVGを解析できません。", "The SVG could not be parsed.", _ASK_SENDER_JA, _ASK_SENDER_EN
    ),
    "html.verify_failed": ReasonText(
        "無害化後のHTMLの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the sanitised HTML found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "svg.verify_failed": ReasonText(
        "無害化後のSVGの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the sanitised SVG found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "xml.attack": ReasonText(
        "XMLに外部実体参照や実体展開（XXE・XML爆弾）が含まれています。",
        "The XML contains external or expanding entities (XXE, XML bomb).",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    # archives
    "archive.encrypted": ReasonText(
        "パスワード付きの圧縮ファイルは中身を検査できないため、通過させられません。",
        "Password-protected archives cannot be inspected, so they cannot pass.",
        "パスワードを外した圧縮ファイル、または中のファイルを個別に送ってもらってください。",
        "Ask the sender for an archive without a password, or for the files one by one.",
    ),
    "archive.bomb": ReasonText(
        "圧縮ファイルの展開サイズ・個数・圧縮率・階層が上限を超えています（圧縮爆弾の可能性）。",
        "The archive exceeds the size, member, ratio or depth limit (possible zip bomb).",
        "分割して送ってもらってください。",
        "Ask the sender to split the archive.",
    ),
    "archive.unsafe_path": ReasonText(
        "圧縮ファイルに危険なパス（../ や絶対パス、シンボリックリンク）が含まれています。",
        "The archive contains unsafe paths (../, absolute paths or symbolic links).",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "archive.malformed": ReasonText(
        "圧縮ファイルの構造が壊れているか、曖昧です（重複名・重なり合うエントリ・分割書庫）。",
        "The archive is damaged or ambiguous (duplicate names, overlapping entries, split archive).",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "archive.member_rejected": ReasonText(
        "圧縮ファイル内のファイルが無害化できなかったため、圧縮ファイル全体を止めました。",
        "A file inside the archive could not be sanitised, so the whole archive was stopped.",
        "問題のファイルを除いて送ってもらってください。",
        "Ask the sender to leave the offending file out.",
    ),
    "archive.not_a_file": ReasonText(
        "リンクやデバイスなど、通常のファイルではない項目は取り出さずに取り除きました。",
        "Links, devices and other entries that are not plain files are not extracted; they were removed.",
        "リンクではなくファイルそのものを入れて圧縮し直してもらってください。",
        "Ask the sender to put the files themselves in the archive, not links to them.",
    ),
    "archive.compression_unsupported": ReasonText(
        "ZIP内のファイルが、読み取れない古い圧縮方式（Implode、Deflate64等）で圧縮されています。",
        "A file in the ZIP uses a compression method that cannot be read (Implode, Deflate64, ...).",
        "標準の圧縮方式（Deflate）で圧縮し直して送ってもらってください。",
        "Ask the sender to re-create the ZIP with standard (Deflate) compression.",
    ),
    "archive.name_encoding": ReasonText(
        "圧縮ファイル内のファイル名の文字コードを判別できません（UTF-8でもShift_JISでもありません）。",
        "A file name inside the archive is in an unknown character encoding (neither UTF-8 nor Shift_JIS).",
        "ファイル名を変えるか、UTF-8 のファイル名で圧縮し直して送ってもらってください。",
        "Ask the sender to rename the files or re-create the archive with UTF-8 names.",
    ),
    "archive.verify_failed": ReasonText(
        "無害化後の圧縮ファイルの検証で問題が見つかったため、送信を止めました。",
        "Verification of the rebuilt archive found a problem; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    # office
    "ooxml.malformed": ReasonText(
        "Officeファイル（OOXML）の構造が壊れています。",
        "The Office (OOXML) file is damaged.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "ooxml.xlsb": ReasonText(
        "バイナリ形式のExcelブック（.xlsb）は無害化できません。",
        "Binary Excel workbooks (.xlsb) cannot be sanitised.",
        ".xlsx 形式で保存し直して送ってもらってください。",
        "Ask the sender to save it as .xlsx.",
    ),
    "ooxml.xml_attack": ReasonText(
        "Officeファイル内のXMLに外部実体参照や実体展開（XXE・XML爆弾）が含まれています。",
        "An XML part of the Office file contains external or expanding entities (XXE, XML bomb).",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "ooxml.nothing_left": ReasonText(
        "マクロ等の動的な要素を取り除くと、中身が何も残りません（マクロシートだけのブック等）。",
        "Nothing would remain once the active content is removed (for example, a workbook of macro sheets only).",
        "マクロを使わない形式で作り直したファイルを送ってもらってください。",
        "Ask the sender for a version made without macros.",
    ),
    "ooxml.embedded_font": ReasonText(
        "埋め込みフォントを安全な形に書き直せませんでした。",
        "An embedded font could not be rewritten in a safe form.",
        "フォントを埋め込まずに保存したファイルを送ってもらってください。",
        "Ask the sender to save the document without embedded fonts.",
    ),
    "ooxml.verify_failed": ReasonText(
        "無害化後のOfficeファイルの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the sanitised Office file found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "odf.malformed": ReasonText(
        "OpenDocument形式のファイル（.odt、.ods、.odp 等）の構造が壊れているか、文書・表計算・プレゼンテーション以外の種類です。",
        "The OpenDocument file (.odt, .ods, .odp, ...) is damaged, or is not a text, spreadsheet or presentation.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "odf.xml_attack": ReasonText(
        "OpenDocument形式のファイル内のXMLに外部実体参照や実体展開（XXE・XML爆弾）が含まれています。",
        "An XML part of the OpenDocument file contains external or expanding entities (XXE, XML bomb).",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "odf.verify_failed": ReasonText(
        "無害化後のOpenDocument形式のファイルの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the sanitised OpenDocument file found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "ole.malformed": ReasonText(
        "Office 97-2003形式のファイルの構造が壊れています。",
        "The Office 97-2003 file is damaged.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "ole.xlm_macro": ReasonText(
        "Excel 4.0マクロ（XLM）を含むブックは無害化できません。",
        "Workbooks with Excel 4.0 (XLM) macros cannot be sanitised.",
        "マクロを削除して .xlsx 形式で送ってもらってください。",
        "Ask the sender to remove the macros and send an .xlsx.",
    ),
    "ole.active_content": ReasonText(
        "取り除けない動的な要素（マクロ・埋め込みオブジェクト）を含んでいます。",
        "The file contains active content (macros, embedded objects) that cannot be removed.",
        "マクロ等を削除して保存し直したファイルを送ってもらってください。",
        "Ask the sender to remove macros and objects and save again.",
    ),
    "ole.ppt_vba": ReasonText(
        "マクロ（VBA）を含むPowerPoint 97-2003形式のファイルは無害化できません。",
        "PowerPoint 97-2003 presentations with VBA macros cannot be sanitised.",
        "マクロを削除して .pptx 形式で保存し直したファイルを送ってもらってください。",
        "Ask the sender to remove the macros and send a .pptx.",
    ),
    "ole.dde_field": ReasonText(
        "文書に、開いたときに他のプログラムを起動できるDDEフィールドが含まれています。",
        "The document contains a DDE field, which can start another program when it opens.",
        "フィールドを削除するか、PDFで送ってもらってください。",
        "Ask the sender to remove the field or send a PDF.",
    ),
    "ole.external_field": ReasonText(
        "文書に、外部のファイルやURLを読み込むフィールド（INCLUDEPICTURE、LINK等）が含まれています。",
        "The document contains a field that loads an external file or URL (INCLUDEPICTURE, LINK, ...).",
        "フィールドを削除（文字列に変換）するか、PDFで送ってもらってください。",
        "Ask the sender to unlink the fields (convert them to text) or send a PDF.",
    ),
    "ole.external_template": ReasonText(
        "文書が、ネットワーク上やインターネット上のテンプレートを読み込むよう設定されています。",
        "The document attaches a template on a network share or the internet.",
        "テンプレートの添付を外して保存し直したファイルを送ってもらってください。",
        "Ask the sender to detach the template and save again.",
    ),
    "ole.dde_link": ReasonText(
        "ブックに、他のプログラムと連動するDDE/OLEリンクが含まれています。",
        "The workbook contains a DDE or OLE link to another program.",
        "リンクを解除して保存し直したファイルを送ってもらってください。",
        "Ask the sender to break the links and save again.",
    ),
    "ole.external_link": ReasonText(
        "ファイルに、他のファイルや外部データ（別のブック、データ接続、リンクされた動画等）への参照が含まれています。",
        "The file refers to other files or external data (another workbook, a data connection, a linked movie, ...).",
        "リンクを解除して保存し直したファイルを送ってもらってください。",
        "Ask the sender to break the links and save again.",
    ),
    "ole.comments": ReasonText(
        "コメントを削除する設定ですが、Office 97-2003形式のファイルからはコメントだけを取り除けません。",
        "The rule removes comments, and they cannot be cut out of an Office 97-2003 file on their own.",
        "コメントを削除して保存し直したファイルか、.docx・.xlsx・.pptx 形式のファイルを送ってもらってください。",
        "Ask the sender to delete the comments and save again, or to send a .docx, .xlsx or .pptx.",
    ),
    "ole.old_format": ReasonText(
        "Word 6.0/95、Excel 5.0/95 形式の古いファイルは無害化できません。",
        "Word 6.0/95 and Excel 5.0/95 files are too old to be sanitised.",
        "新しい形式（.docx、.xlsx）で保存し直して送ってもらってください。",
        "Ask the sender to save it in a current format (.docx, .xlsx).",
    ),
    "ole.picture": ReasonText(
        "文書内の画像を、元の場所に収まる安全な画像に作り直せませんでした（壊れている、作り直すと大きくなる、対応していない形式等）。",
        "A picture in the document could not be rebuilt in its place (it is damaged, larger once rebuilt, "
        "or of a kind that cannot be rebuilt).",
        "画像を PNG か JPEG で貼り直して保存したファイルか、PDF を送ってもらってください。",
        "Ask the sender to insert the picture again as PNG or JPEG and save, or to send a PDF.",
    ),
    "ole.shape_package": ReasonText(
        "図形に付いた代替データ（Office 2007 以降が保存する OOXML のパッケージ）の位置を図形のプロパティの表から読み取れず、"
        "取り除けませんでした（表が壊れています）。",
        "A shape carries an alternative copy of itself (an OOXML package saved by Office 2007 or later) that "
        "could not be located to be removed: the shape's property table is damaged.",
        "図形を描き直して保存したファイルか、PDF を送ってもらってください。",
        "Ask the sender to draw the shape again and save, or to send a PDF.",
    ),
    "ole.limit": ReasonText(
        "Office 97-2003形式のファイルの内部要素が多すぎます。",
        "The Office 97-2003 file has more internal entries than allowed.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "ole.verify_failed": ReasonText(
        "無害化後のOffice 97-2003形式のファイルの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the rebuilt Office 97-2003 file found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "rtf.malformed": ReasonText(
        "RTFの構造（括弧の対応や入れ子）が壊れています。",
        "The RTF structure (brace balance or nesting) is damaged.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "rtf.limit": ReasonText(
        "RTFが処理の上限（グループ数・トークン数）を超えています。",
        "The RTF exceeds a processing limit (number of groups or tokens).",
        "分割して送ってもらってください。",
        "Ask the sender to split the document.",
    ),
    "rtf.verify_failed": ReasonText(
        "無害化後のRTFの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the sanitised RTF found a dangerous construct; the file was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    # mail (.eml, .msg)
    "mail.malformed": ReasonText(
        "メールの構造（MIME）が壊れているか、読み手によって解釈が分かれる形になっています。",
        "The message's MIME structure is damaged, or built so that readers would disagree about it.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    "mail.encrypted": ReasonText(
        "暗号化されたメール（S/MIME・PGP）、または署名で中身が包まれたメールは、中身を検査できません。",
        "Encrypted messages (S/MIME, PGP), or messages wrapped inside their signature, cannot be inspected.",
        "暗号化せずに送り直してもらってください。",
        "Ask the sender to send the message again without encryption.",
    ),
    "mail.limit": ReasonText(
        "メールの部品の数・入れ子の深さ・ヘッダーの大きさが上限を超えています。",
        "The message has more parts, deeper nesting or larger headers than allowed.",
        "添付ファイルを分けて、何通かに分けて送ってもらってください。",
        "Ask the sender to split the attachments over several messages.",
    ),
    "mail.unsafe_name": ReasonText(
        "添付ファイルの名前に、表示をごまかす文字（文字の向きを変える制御文字や見えない文字）が含まれていました。",
        "The attachment's name contains characters that disguise it (text-direction controls, invisible characters).",
        "ファイル名を変えて送り直してもらってください。",
        "Ask the sender to rename the file and send it again.",
    ),
    "mail.attachment_removed": ReasonText(
        "設定により、メールの添付ファイルは取り除いています。",
        "Attachments are removed from messages by the configuration.",
        "ファイルが必要な場合は、共有フォルダ経由で受け渡してください。",
        "If you need the file, transfer it through a shared folder instead.",
    ),
    "mail.verify_failed": ReasonText(
        "無害化後のメールの検証で危険な要素が残っていたため、送信を止めました。",
        "Verification of the sanitised message found a dangerous construct; it was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "convert.failed": ReasonText(
        "PDFへの変換に失敗しました。",
        "Conversion to PDF failed.",
        _ASK_SENDER_JA,
        _ASK_SENDER_EN,
    ),
    # antivirus
    "av.infected": ReasonText(
        "ウイルス対策ソフトがマルウェアを検出しました。",
        "The antivirus scanner detected malware.",
        "送信者に連絡し、ファイルを開かないでください。",
        "Contact the sender and do not open the file.",
    ),
    "av.unavailable": ReasonText(
        "ウイルス対策ソフトでスキャンできなかったため、送信を止めました（スキャンなしでは送信しません）。",
        "The antivirus scanner could not scan the file, so it was stopped (nothing is released unscanned).",
        "しばらくしてからもう一度送ってください。解決しない場合は、システム管理者に転送IDを伝えて連絡してください。",
        "Send the file again later. If this persists, contact the administrator with the transfer id.",
    ),
    # approval (channels with approval = "required")
    "approval.denied": ReasonText(
        "承認者がこのファイルの送信を承認しませんでした。",
        "An approver did not approve the release of this file.",
        "詳細欄の理由を確認し、必要であれば上長に相談してください。",
        "Read the reason in the detail line and ask your superior if needed.",
    ),
    # pipeline
    "sanitizer.crash": ReasonText(
        "無害化処理中に予期しないエラーが発生しました。",
        "An unexpected error occurred while sanitising.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "verify.type_changed": ReasonText(
        "無害化後のファイル形式が想定と異なるため、送信を止めました。",
        "The sanitised file is not of the promised type; it was stopped.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "verify.failed": ReasonText(
        "無害化後の確認で問題が見つかったため、ファイルを受け渡しませんでした。",
        "The independent check of the sanitised file failed, so it was not released.",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "worker.timeout": ReasonText(
        "処理が制限時間内に終わりませんでした。",
        "Processing did not finish within the time limit.",
        "ファイルを小さくするか分割して送ってもらってください。",
        "Ask the sender to shrink or split the file.",
    ),
    "worker.crash": ReasonText(
        "無害化処理が異常終了しました（ファイルが攻撃的な構造を持つ可能性があります）。",
        "The sanitiser process died (the file may be crafted to attack parsers).",
        _ASK_ADMIN_JA,
        _ASK_ADMIN_EN,
    ),
    "spool.changed": ReasonText(
        "受け付けたファイルが無害化の前に書き換えられていたため、処理を止めました。",
        "The received file was altered before it could be sanitised, so it was stopped.",
        "もう一度送ってください。解決しない場合は、システム管理者に転送IDを伝えて連絡してください。",
        "Send the file again. If this persists, contact the administrator with the transfer id.",
    ),
    "worker.memory": ReasonText(
        "処理に必要なメモリが上限を超えました。",
        "Processing needed more memory than allowed.",
        "ファイルを小さくするか分割して送ってもらってください。",
        "Ask the sender to shrink or split the file.",
    ),
}


class SanitizeError(Exception):
    """A refusal with a stable code (``pdf.encrypted``) and a technical detail."""

    def __init__(self, code: str, detail: str) -> None:
        if code not in REASONS:
            raise ValueError(f"unknown reason code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class DetectionError(SanitizeError):
    """The content's type is unknown, disguised or contradictory."""


class MalformedError(SanitizeError):
    """The structure cannot be parsed safely."""


class AmbiguousStructureError(MalformedError):
    """A structure that lets two readers see different content (duplicate or case-variant
    member names, overlapping entries): an attack, so no other method may be tried on it."""


class EncryptedError(SanitizeError):
    """The content is encrypted and cannot be inspected."""


class LimitError(SanitizeError):
    """A configured limit (size, pages, pixels, members, ratio, depth) was hit."""


class PolicyError(SanitizeError):
    """The configuration does not allow this file through."""


class VerifyError(SanitizeError):
    """Independent verification found a construct the method promised to remove: a bug."""
