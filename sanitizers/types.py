"""Canonical file types: the names rules are written against.

Each type lists the extensions a correctly named file of that type may carry (the first
is the one given to outputs of that type) and the libmagic MIME types that agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    name: str
    extensions: tuple[str, ...]
    magic_mimes: frozenset[str]
    description: str
    #: the reason a rule of ``reject`` gives: a format staff can export to another has its own,
    #: which names the format and says what to send instead
    refusal: str = "policy.reject"
    #: what an original of this type may carry that makes handing it back a decision the
    #: console asks an approver to confirm: "executable", "macro" (a document that can hold
    #: macros) or "archive" (other files inside, a mail's attachments too); "" for none
    risk: str = ""

    @property
    def output_extension(self) -> str:
        return self.extensions[0] if self.extensions else ""


_OOXML_WORD = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-word.document.macroenabled.12",
        "application/zip",
        "application/octet-stream",
    }
)
_OOXML_EXCEL = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12",
        "application/zip",
        "application/octet-stream",
    }
)
_OOXML_POWERPOINT = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.ms-powerpoint.presentation.macroenabled.12",
        "application/zip",
        "application/octet-stream",
    }
)
_OLE = frozenset({"application/x-ole-storage", "application/cdfv2", "application/octet-stream"})
#: Ichitaro 4 to 6 wrote their own format, which libmagic knows (later versions are OLE files).
_ICHITARO_BEFORE_OLE = frozenset(
    {"application/x-ichitaro4", "application/x-ichitaro5", "application/x-ichitaro6"}
)
_TEXT = frozenset({"text/plain", "text/csv", "text/html", "text/xml", "application/csv"})
_EXECUTABLE = frozenset(
    {
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-msdownload",
        "application/x-ms-ne-executable",
    }
)
_ELF = frozenset(
    {
        "application/x-executable",
        "application/x-sharedlib",
        "application/x-pie-executable",
        "application/x-object",
        "application/x-coredump",
    }
)


def _odf_package(kind: str) -> frozenset[str]:
    """What libmagic calls an OpenDocument package of ``kind`` or its template (a plain ZIP
    when the ``mimetype`` member is not the first)."""
    media_type = f"application/vnd.oasis.opendocument.{kind}"
    return frozenset({media_type, f"{media_type}-template", "application/zip", "application/octet-stream"})


def _odf_flat(kind: str) -> frozenset[str]:
    """What libmagic calls a single-file (flat XML) OpenDocument of ``kind``: XML, or SVG when
    an ``svg:`` element (a shape's title, an embedded font) comes early in the file."""
    return frozenset(
        {
            "text/xml",
            "application/xml",
            "text/plain",
            "image/svg+xml",
            f"application/vnd.oasis.opendocument.{kind}-flat-xml",
        }
    )


def _t(
    name: str,
    extensions: str,
    mimes: frozenset[str] | set[str],
    description: str,
    refusal: str = "policy.reject",
    risk: str = "",
) -> FileType:
    return FileType(name, tuple(extensions.split()), frozenset(mimes), description, refusal, risk)


TYPES: dict[str, FileType] = {
    t.name: t
    for t in (
        _t("pdf", "pdf", {"application/pdf", "application/octet-stream", "text/plain"}, "PDF document"),
        _t("docx", "docx dotx", _OOXML_WORD, "Word document"),
        _t("docm", "docm dotm docx dotx", _OOXML_WORD, "Word document with macros", risk="macro"),
        _t("xlsx", "xlsx xltx", _OOXML_EXCEL, "Excel workbook"),
        _t("xlsm", "xlsm xltm xlsx xltx", _OOXML_EXCEL, "Excel workbook with macros", risk="macro"),
        _t("xlsb", "xlsb", _OOXML_EXCEL, "Excel binary workbook", risk="macro"),
        _t("pptx", "pptx potx ppsx", _OOXML_POWERPOINT, "PowerPoint presentation"),
        _t(
            "pptm",
            "pptm potm ppsm pptx potx ppsx",
            _OOXML_POWERPOINT,
            "PowerPoint presentation with macros",
            risk="macro",
        ),
        _t("doc", "doc dot", _OLE | {"application/msword"}, "Word 97-2003 document", risk="macro"),
        _t("xls", "xls xlt", _OLE | {"application/vnd.ms-excel"}, "Excel 97-2003 workbook", risk="macro"),
        _t(
            "ppt",
            "ppt pot pps",
            _OLE | {"application/vnd.ms-powerpoint"},
            "PowerPoint 97-2003 presentation",
            risk="macro",
        ),
        _t("msg", "msg", _OLE | {"application/vnd.ms-outlook"}, "Outlook message", risk="archive"),
        _t("rtf", "rtf", {"text/rtf", "text/plain", "application/rtf"}, "Rich Text Format"),
        _t("odt", "odt ott", _odf_package("text"), "OpenDocument text", risk="macro"),
        _t("ods", "ods ots", _odf_package("spreadsheet"), "OpenDocument spreadsheet", risk="macro"),
        _t("odp", "odp otp", _odf_package("presentation"), "OpenDocument presentation", risk="macro"),
        _t("fodt", "fodt", _odf_flat("text"), "OpenDocument text (flat XML)", risk="macro"),
        _t("fods", "fods", _odf_flat("spreadsheet"), "OpenDocument spreadsheet (flat XML)", risk="macro"),
        _t("fodp", "fodp", _odf_flat("presentation"), "OpenDocument presentation (flat XML)", risk="macro"),
        _t(
            "odf",
            "odg otg odf odc odb odi odm oth fodg",
            {
                "application/vnd.oasis.opendocument.graphics",
                "application/vnd.oasis.opendocument.graphics-template",
                "application/vnd.oasis.opendocument.formula",
                "application/vnd.oasis.opendocument.chart",
                "application/vnd.oasis.opendocument.database",
                "application/vnd.oasis.opendocument.image",
                "application/vnd.oasis.opendocument.text-master",
                "application/vnd.oasis.opendocument.text-web",
                "application/zip",
                "application/octet-stream",
                "text/xml",
                "application/xml",
            },
            "OpenDocument drawing, formula, chart, database or master document",
            risk="macro",
        ),
        _t(
            "xps",
            "xps oxps",
            {
                "application/octet-stream",
                "application/zip",
                "application/vnd.ms-xpsdocument",
                "application/oxps",
            },
            "XPS document",
        ),
        _t("jpeg", "jpg jpeg jpe jfif", {"image/jpeg"}, "JPEG image"),
        _t("png", "png", {"image/png"}, "PNG image"),
        _t("gif", "gif", {"image/gif"}, "GIF image"),
        _t("tiff", "tif tiff", {"image/tiff"}, "TIFF image"),
        _t("bmp", "bmp dib", {"image/bmp", "image/x-ms-bmp"}, "BMP image"),
        _t("webp", "webp", {"image/webp"}, "WebP image"),
        _t("svg", "svg", {"image/svg+xml"}, "SVG image"),
        _t("html", "html htm", _TEXT, "HTML document"),
        _t("csv", "csv tsv", _TEXT, "CSV text"),
        _t("txt", "txt text log md json", _TEXT, "plain text"),
        _t("xml", "xml", {"text/xml", "application/xml", "text/plain"}, "XML document"),
        # a message whose first field libmagic does not know and whose body is HTML is text/html to it
        _t(
            "eml",
            "eml",
            {"message/rfc822", "message/news", "text/plain", "text/html"},
            "e-mail message",
            risk="archive",
        ),
        _t(
            "zip",
            "zip",
            {"application/zip", "application/octet-stream"} | _OOXML_WORD | _OOXML_EXCEL | _OOXML_POWERPOINT,
            "ZIP archive",
            risk="archive",
        ),
        _t("7z", "7z", {"application/x-7z-compressed"}, "7-Zip archive", risk="archive"),
        _t(
            "rar",
            "rar",
            {"application/x-rar", "application/vnd.rar", "application/x-rar-compressed"},
            "RAR archive",
            risk="archive",
        ),
        _t("tar", "tar", {"application/x-tar", "application/x-gtar"}, "tar archive", risk="archive"),
        _t("gzip", "gz tgz", {"application/gzip", "application/x-gzip"}, "gzip data", risk="archive"),
        _t("bzip2", "bz2 tbz2 tbz", {"application/x-bzip2"}, "bzip2 data", risk="archive"),
        _t("xz", "xz txz", {"application/x-xz"}, "xz data", risk="archive"),
        _t("zstd", "zst tzst", {"application/zstd"}, "Zstandard data", risk="archive"),
        _t("cab", "cab", {"application/vnd.ms-cab-compressed"}, "Windows cabinet", risk="archive"),
        _t(
            "lzh",
            "lzh lha",
            {"application/x-lha", "application/x-lharc", "application/x-lzh-compressed"},
            "LHA archive",
            risk="archive",
        ),
        _t("iso", "iso img", {"application/x-iso9660-image"}, "disk image", risk="archive"),
        _t(
            "jar",
            "jar",
            {"application/java-archive", "application/zip", "application/x-java-archive"},
            "Java archive",
            risk="executable",
        ),
        _t(
            "exe",
            "exe dll scr com cpl msi sys ocx pif lnk",
            _EXECUTABLE | {"application/octet-stream"},
            "Windows executable",
            risk="executable",
        ),
        _t("elf", "elf so", _ELF, "Unix executable", risk="executable"),
        _t(
            "script",
            "js jse vbs vbe wsf wsh hta bat cmd ps1 psm1 sh py pl rb reg scf inf url iqy slk",
            _TEXT | {"application/javascript", "text/x-shellscript", "text/x-script.python"},
            "script or shortcut",
            risk="executable",
        ),
        _t(
            "jtd",
            "jtd jtdc jtt jttc jaw jbw jfw jvw",
            _OLE | _ICHITARO_BEFORE_OLE,
            "Ichitaro (一太郎) document",
            refusal="policy.ichitaro",
        ),
        _t("xdw", "xdw xbd", {"application/octet-stream"}, "DocuWorks document", refusal="policy.docuworks"),
    )
}

#: Types decided by their extension alone, whatever the content: none of them is ever
#: sanitised, so naming is enough to refuse them and no parser needs to touch the bytes.
REFUSED_BY_EXTENSION: frozenset[str] = frozenset({"exe", "script", "jtd", "xdw"})

#: Extension (without dot, lower case) → type, for the extension-decided types above.
EXTENSION_DECIDES: dict[str, str] = {
    ext: name for name in sorted(REFUSED_BY_EXTENSION) for ext in TYPES[name].extensions
}

#: Types whose content is plain text; a text file may carry any of these names.
TEXT_TYPES: frozenset[str] = frozenset({"txt", "csv", "html", "xml"})


def type_named(name: str) -> FileType:
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown file type {name!r}") from None
