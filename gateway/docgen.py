"""Documentation made from the code: the reason-code reference and the man page.

`make docs` writes them (docs/reasons.md from ``sanitizers.errors.REASONS``, docs/mukaika.1
from the command's argparse parser); tests/test_docs.py makes them again in memory and fails
when the files in the repository differ, so neither can fall behind the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from gateway import __version__
from sanitizers.errors import REASONS

REASONS_FILE = "reasons.md"
MAN_FILE = "mukaika.1"


# ── the reason codes ─────────────────────────────────────────────────────────────────
def reasons_markdown() -> str:
    """Every reason code, by family in the catalogue's order, with both languages and the advice."""
    families: dict[str, list[str]] = {}
    for code in REASONS:
        families.setdefault(code.split(".", 1)[0], []).append(code)
    lines = [
        "# Reason codes / 理由コード",
        "",
        "<!-- generated from sanitizers/errors.py by `make docs`: edit the catalogue, not this file -->",
        "",
        "Every refusal names one of these codes: in the reason file staff find beside the refused",
        "file in `rejected/` (with the text below in Japanese and English), in the log line",
        "(`REASON`), in the web console and in `mukaika status`. A code names what was found; the",
        "technical detail of each refusal is in the reason file and in `REASON_MESSAGE`.",
        "",
        "拒否したファイルには、必ず次のいずれかのコードが付きます（rejected/ の理由ファイル、ログの REASON、",
        "管理画面、`mukaika status`）。理由ファイルには下の説明と対処が日本語と英語で書かれます。",
        "",
        "Families: " + ", ".join(f"[`{family}`](#{family})" for family in families),
    ]
    for family, codes in families.items():
        lines += [
            "",
            f"## {family}",
            "",
            "| code | 説明 / what happened | 対処 / what to do |",
            "|---|---|---|",
        ]
        for code in codes:
            text = REASONS[code]
            lines.append(f"| `{code}` | {_cell(text.ja)}<br>{_cell(text.en)} "
                         f"| {_cell(text.advice_ja)}<br>{_cell(text.advice_en)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ── the man page ─────────────────────────────────────────────────────────────────────
_DESCRIPTION = (
    "mukaika is a file-sanitisation (CDR, 無害化) gateway for networks split into an "
    "LGWAN-connected and an internet-connected segment. Staff drop files into a channel's inbox "
    "share; the gateway disarms each one in a confined worker (PDFs rebuilt without JavaScript, "
    "macros stripped from Office files, images re-encoded from their pixels), has a second "
    "confined process verify the result, and releases the clean copy into the outbox, or "
    "refuses the file with a reason file in rejected/. It fails closed: an unknown type, a "
    "parse error, a timeout or a crash is a refusal."
)
_EXIT_STATUS = (
    ("0", "success: released (sanitize), the config is valid (check-config), the command did what it says"),
    (
        "1",
        "refused (sanitize), the config is invalid (check-config), the reload refused, the backup not written",
    ),
    ("2", "usage or configuration error, or nothing to work on (no journal yet)"),
)
_ENVIRONMENT = (("MUKAIKA_CONFIG", "the admin's config file when --config is not given"),
                ("RUNTIME_DIRECTORY", "where the daemon writes daemon.json for mukaika reload (set by systemd); "
                                      "without it, the spool"))  # fmt: skip
_FILES = (
    ("/etc/mukaika/mukaika.toml", "the admin's config, layered over the embedded default: it names only what it "
                                  "changes; without it the embedded default runs (everything under ./var/mukaika/)"),
    ("/etc/mukaika/mukaika.d/*.toml", "layered over mukaika.toml in the order of their names"),
    ("/run/mukaika/daemon.json", "the running daemon's pid and the result of its last reload (mukaika reload)"),
    ("/etc/mukaika/originals.key", "the key that encrypts retained originals (32 bytes, mode 0600)"),
    ("/etc/mukaika/users.toml", "the web console's users and roles (mukaika user)"),
    ("/var/lib/mukaika/spool/journal.sqlite", "the journal: one row per transfer (mukaika status, mukaika backup)"),
)  # fmt: skip
_SEE_ALSO = "journalctl(1), systemctl(1), smb.conf(5); README.md and docs/reasons.md in the source"


def man_page(parser: argparse.ArgumentParser | None = None) -> str:
    """The mukaika(1) page in roff, every command and option as the parser declares them."""
    if parser is None:
        from gateway.cli import build_parser  # the command line imports the whole gateway

        parser = build_parser()
    prog = parser.prog
    lines = [
        f'.TH {prog.upper()} 1 "" "{prog} {__version__}" "{prog} manual"',
        ".SH NAME",
        f"{prog} \\- {_roff(parser.description or '')}",
        ".SH SYNOPSIS",
        f".B {prog}",
        *(f".RB [ {_roff(a.option_strings[-1])} ]" for a in _options(parser)),
        ".I command",
        ".RI [ arguments ]",
        ".SH DESCRIPTION",
        _roff(_DESCRIPTION),
        ".SH OPTIONS",
        *_option_entries(parser),
        ".SH COMMANDS",
    ]
    for path, sub, help_text in _commands(parser, prog):
        lines += [f'.SS "{_roff(_synopsis(path, sub))}"', _roff(help_text), *_option_entries(sub)]
    lines += [".SH EXIT STATUS", *_entries(_EXIT_STATUS), ".SH ENVIRONMENT", *_entries(_ENVIRONMENT),
              ".SH FILES", *_entries(_FILES), ".SH SEE ALSO", _roff(_SEE_ALSO)]  # fmt: skip
    return "\n".join(lines) + "\n"


def _commands(
    parser: argparse.ArgumentParser, path: str
) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """(command line so far, its parser, its help) for every leaf command, depth first."""
    for action in parser._actions:  # argparse offers no public way to walk its subcommands
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _commands(sub, f"{path} {name}")
                else:
                    yield f"{path} {name}", sub, helps.get(name, "")


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Positional arguments first, then options, as a synopsis reads best."""
    positional = [a for a in parser._actions
                  if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]  # fmt: skip
    return [*positional, *_options(parser)]


def _value(action: argparse.Action) -> str:
    if action.metavar is not None:
        return str(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper()


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _synopsis(path: str, parser: argparse.ArgumentParser) -> str:
    words = [path]
    for action in _arguments(parser):
        if action.option_strings:
            word = action.option_strings[-1] + (f" {_value(action)}" if _takes_value(action) else "")
            words.append(word if action.required else f"[{word}]")
        else:
            words.append(f"[{_value(action)}]" if action.nargs == "?" else _value(action))
    return " ".join(words)


def _option_entries(parser: argparse.ArgumentParser) -> list[str]:
    lines = []
    for action in _arguments(parser):
        if action.option_strings:
            names = ", ".join(f"\\fB{_roff(name)}\\fR" for name in action.option_strings)
            term = names + (f" \\fI{_roff(_value(action))}\\fR" if _takes_value(action) else "")
        else:
            term = f"\\fI{_roff(_value(action))}\\fR"
        lines += [".TP", term, _roff((action.help or "").replace("%%", "%"))]
    return lines


def _entries(pairs: Sequence[tuple[str, str]]) -> list[str]:
    return [line for term, text in pairs for line in (".TP", f"\\fB{_roff(term)}\\fR", _roff(text))]


def _roff(text: str) -> str:
    """Text as roff reads it literally: backslashes and hyphens escaped, no line read as a request."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped


# ── make docs ────────────────────────────────────────────────────────────────────────
def write_docs(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((REASONS_FILE, reasons_markdown()), (MAN_FILE, man_page())):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    for path in write_docs(Path(args[0] if args else "docs")):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
