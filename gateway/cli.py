"""The `mukaika` command: run, worker, sanitize, check-config, reload, status, user, backup.

Exit codes: 0 success (released / config ok), 1 rejected (or config invalid for
check-config), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from gateway import __version__
from gateway.audit import log_audit
from gateway.backup import BackupError, backup_journal
from gateway.cluster.overview import cluster_overview
from gateway.config import Config, ConfigError, load_config
from gateway.console.users import ROLES, UsersFileError, add_user, change_user, read_users
from gateway.effective import effective_text
from gateway.folders import require_share_folders
from gateway.fsutil import place_file
from gateway.isolation.confinement import probe
from gateway.journal import AuditEntry, JournalError
from gateway.logsetup import configure_logging
from gateway.runstate import read_state, state_path
from gateway.status import journal_status
from sanitizers.base import Options, Registry
from sanitizers.errors import VerifyError
from sanitizers.pipeline import Outcome, Policy, Reason, output_name, process_file
from sanitizers.registry import default_registry
from sanitizers.types import TYPES
from sanitizers.verification import FAILED, expectation_for, verify_output

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
CONFIG_HELP = (
    "the admin's config file, read over the embedded default and followed by its drop-in folder"
    " (x.toml: x.d/*.toml); default: $MUKAIKA_CONFIG, else /etc/mukaika/mukaika.toml"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    registry = default_registry()
    if args.command == "check-config":
        return check_config(args.path, registry, effective=args.effective)
    if args.command == "reload":
        return reload_command(args.config, registry, args.timeout)
    try:
        config = load_config(args.config, registry)
    except ConfigError as exc:
        print(f"mukaika: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "user":  # its output is for people; log lines go to stderr
        configure_logging(config.gateway.log_format, config.gateway.log_level, stream=sys.stderr)
        return user_command(args, config)
    configure_logging(config.gateway.log_format, config.gateway.log_level)
    if args.command == "sanitize":
        return sanitize_command(args, config, registry)
    if args.command == "status":
        return status_command(args, config)
    if args.command == "backup":
        return backup_command(args, config)
    if args.command == "worker":
        from gateway.cluster.worker_node import run_worker_node

        return run_worker_node(config)
    from gateway.daemon import run_daemon  # the daemon pulls in asyncio, watchdog, sqlite

    return run_daemon(config, args.config, registry)


def build_parser() -> argparse.ArgumentParser:
    """The command line; docs/mukaika.1 is generated from it (gateway.docgen, `make docs`)."""
    parser = argparse.ArgumentParser(prog="mukaika", description="File-sanitisation (無害化) gateway")
    parser.add_argument("--version", action="version", version=f"mukaika {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the gateway in the foreground")
    run.add_argument("--config", metavar="PATH", help=CONFIG_HELP)

    worker = commands.add_parser(
        "worker",
        help="run a worker node: sanitise the jobs of the gateway nodes ([journal] url on PostgreSQL)",
    )
    worker.add_argument("--config", metavar="PATH", help=CONFIG_HELP)

    sanitize = commands.add_parser("sanitize", help="sanitise one file")
    sanitize.add_argument("input", type=Path, metavar="INPUT", help="the file to sanitise (left as it is)")
    sanitize.add_argument("-o", "--output", type=Path, required=True, metavar="OUTPUT",
                          help="the clean copy: a file (its extension follows the output's type) or a directory"
                               " to write it into under its output name; written only if released")  # fmt: skip
    sanitize.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    sanitize.add_argument(
        "--channel", metavar="NAME", help="use this channel's rules (default: global rules)"
    )
    sanitize.add_argument("--json", action="store_true",
                          help="print one JSON object (verdict, reason, hashes, method, findings) instead of text")  # fmt: skip

    check = commands.add_parser(
        "check-config", help="validate the config (layered files, share folders) and summarise it"
    )
    check.add_argument(
        "path", nargs="?", metavar="PATH", help="the admin's config file, as --config for the other commands"
    )
    check.add_argument("--effective", action="store_true",
                       help="print the merged config, each value with the file it came from")  # fmt: skip

    reload = commands.add_parser(
        "reload", help="check the config, have the running gateway reload it and wait for its answer"
    )
    reload.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    reload.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for the gateway's answer (default 30)")  # fmt: skip

    status = commands.add_parser("status", help="summarise the journal: unfinished work, verdicts, errors")
    status.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    status.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    backup = commands.add_parser("backup", help="copy the journal consistently, also while the gateway runs")
    backup.add_argument("path", type=Path, metavar="PATH",
                        help="the copy to write (replaced whole, mode 0600), or a directory to write a dated copy into")  # fmt: skip
    backup.add_argument("--config", metavar="PATH", help=CONFIG_HELP)

    user = commands.add_parser("user", help="manage web console users ([console] users_file)")
    actions = user.add_subparsers(dest="action", required=True)
    config_option = argparse.ArgumentParser(add_help=False)
    config_option.add_argument("--config", metavar="PATH", help=CONFIG_HELP + "; it names users_file")
    for action, text in (("add", "add a user (the password is asked for)"), ("passwd", "set a new password"),
                         ("disable", "lock a user out"), ("enable", "let a disabled user in again"),
                         ("role", "change a user's role"), ("list", "list users, roles and whether they are disabled")):  # fmt: skip
        sub = actions.add_parser(action, help=text, parents=[config_option])
        if action == "list":
            continue
        sub.add_argument("name", metavar="NAME", help="the user's login name in the console")
        if action == "add":
            sub.add_argument("--role", choices=ROLES, required=True, help="what the user may do (see README)")
        if action == "role":
            sub.add_argument("role", choices=ROLES, help="the user's new role")
        if action in ("add", "passwd"):
            sub.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    return parser


def user_command(args: argparse.Namespace, config: Config) -> int:
    path = config.console.users_file
    try:
        if args.action == "list":
            for user in sorted(read_users(path).values(), key=lambda u: u.name):
                print(f"{user.name}\t{user.role}\t{'disabled' if user.disabled else 'enabled'}")
            return EXIT_OK
        if args.action == "add":
            add_user(path, args.name, args.role, _new_password(args.password_stdin))
            detail = f"role={args.role}"
        elif args.action == "passwd":
            change_user(path, args.name, password=_new_password(args.password_stdin))
            detail = ""
        elif args.action == "role":
            change_user(path, args.name, role=args.role)
            detail = f"role={args.role}"
        else:
            change_user(path, args.name, disabled=args.action == "disable")
            detail = ""
    except UsersFileError as exc:
        print(f"mukaika: {exc}", file=sys.stderr)
        return EXIT_USAGE
    log_audit(AuditEntry(getpass.getuser(), f"user.{args.action}", f"user:{args.name}", "cli", detail))
    print(f"{args.action}: {args.name} ({path})")
    return EXIT_OK


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsersFileError("the passwords differ")
    return first


def check_config(path: str | None, registry: Registry, *, effective: bool = False) -> int:
    try:
        config = load_config(path, registry)
        require_share_folders(config)
    except ConfigError as exc:
        _print_problems(exc)
        return EXIT_REJECTED
    print("ok")
    print(effective_text(config) if effective else config_summary(config, registry))
    return EXIT_OK


def _print_problems(exc: ConfigError) -> None:
    print(f"{len(exc.problems)} error(s) in {exc.source}:", file=sys.stderr)
    for problem in exc.located():
        print(f"  {problem}", file=sys.stderr)


def reload_command(config_arg: str | None, registry: Registry, timeout: float) -> int:
    """Check the config first (a broken one never reaches the daemon), send SIGHUP, then wait
    until the daemon's state file reports this reload: 0 applied, 1 refused or no answer."""
    try:
        config = load_config(config_arg, registry)
        require_share_folders(config)
    except ConfigError as exc:
        _print_problems(exc)
        print("not reloaded: the running gateway keeps its configuration", file=sys.stderr)
        return EXIT_REJECTED
    path = state_path(config)
    before = read_state(path)
    if before is None:
        print(f"mukaika: no running gateway found (no live daemon in {path}; under systemd: "
              "systemctl reload mukaika)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        os.kill(before.pid, signal.SIGHUP)
    except OSError as exc:
        print(f"mukaika: cannot signal the gateway (pid {before.pid}): {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read_state(path)
        if now is None:
            print("mukaika: the gateway stopped during the reload", file=sys.stderr)
            return EXIT_REJECTED
        if now.reloads > before.reloads and now.last_reload is not None:
            result = now.last_reload
            if result.applied:
                print(f"reloaded: {len(result.changes)} change(s)")
                for change in result.changes:
                    print(f"  {change}")
                return EXIT_OK
            print(f"reload refused, {len(result.problems)} error(s); the gateway keeps its configuration:",
                  file=sys.stderr)  # fmt: skip
            for problem in result.problems:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_REJECTED
    print(f"mukaika: no answer from the gateway (pid {before.pid}) within {timeout:g} s", file=sys.stderr)
    return EXIT_REJECTED


def config_summary(config: Config, registry: Registry) -> str:
    lines = [f"config: {' + '.join(config.layers)}", f"spool: {config.gateway.spool_dir}",
             f"workers: {config.gateway.worker_count()}",
             f"confinement: {probe().describe(config.gateway.confinement)}", "channels:"]  # fmt: skip
    for ch in config.channels:
        lines.append(f"  {ch.name}: {ch.inbox} -> {ch.outbox} (rejected: {ch.rejected}, approved originals:"
                     f" {ch.approved_dir}{', release needs approval' if ch.needs_approval else ''})")  # fmt: skip
    lines.append("rules:")
    for type_name in sorted(config.rules):
        rule = config.rules[type_name]
        available = registry.methods_for(type_name)
        methods = [m if m == "reject" or m in available else f"{m} (not available yet)" for m in rule.methods]
        options = "".join(f" {k}={v!r}" for k, v in sorted(rule.options.items()))
        known = sorted(registry.option_specs(type_name))
        hint = f"  [options: {', '.join(known)}]" if known else ""
        lines.append(f"  {type_name}: {' -> '.join(methods)}{options}{hint}")
    unruled = sorted(set(TYPES) - set(config.rules))
    lines.append(f"rejected (no rule): {', '.join(unruled)}")
    return "\n".join(lines)


def backup_command(args: argparse.Namespace, config: Config) -> int:
    """Exit 0 with the copy written, 1 if it could not be, 2 if there is no journal to copy."""
    journal = config.journal_target()
    if isinstance(journal, Path) and not journal.is_file():
        print(f"mukaika: no journal at {journal} (the gateway has not run on this spool)", file=sys.stderr)
        return EXIT_USAGE
    try:
        written = backup_journal(journal, args.path)
    except (BackupError, OSError) as exc:
        print(f"mukaika: no backup written: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"backup: {written}")
    return EXIT_OK


def status_command(args: argparse.Namespace, config: Config) -> int:
    journal = config.journal_target()
    try:
        report = journal_status(journal)
        if isinstance(journal, str):
            channels = config.channel_names()
            report = dataclasses.replace(
                report, cluster=cluster_overview(journal, channels), channels=channels
            )
    except FileNotFoundError:
        print(f"mukaika: no journal at {config.journal_redacted()} yet (the gateway has not run on it)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    except JournalError as exc:
        print(f"mukaika: cannot read the journal at {config.journal_redacted()}: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    report = dataclasses.replace(report, confinement=probe().describe(config.gateway.confinement))
    print(report.as_json() if args.json else report.as_text())
    return EXIT_OK


def sanitize_command(args: argparse.Namespace, config: Config, registry: Registry) -> int:
    log = structlog.get_logger("mukaika.sanitize")
    src: Path = args.input
    if not src.is_file():
        print(f"mukaika: {src}: not a regular file", file=sys.stderr)
        return EXIT_USAGE
    try:
        policy = config.policy(args.channel)
    except KeyError as exc:
        print(f"mukaika: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="mukaika-") as scratch:
        outcome = verified(
            process_file(src, src.name, Path(scratch), policy, config.limits, registry), policy, config
        )
        final = _place_output(outcome, args.output) if outcome.output_path is not None else None
    log.info("transfer", **_outcome_fields(outcome, final))
    if args.json:
        print(json.dumps(_outcome_json(outcome, final), ensure_ascii=False))
    elif final is not None:
        print(f"released: {final} (method {outcome.method}, {len(outcome.findings)} finding(s))")
        for f in outcome.findings:
            print(f"  {f.construct}: {f.action} x{f.count}" + (f" ({f.location})" if f.location else ""))
    elif outcome.reason is not None:
        print(f"rejected: {outcome.reason.code}: {outcome.reason.message}")
    return EXIT_OK if final is not None else EXIT_REJECTED


def verified(outcome: Outcome, policy: Policy, config: Config) -> Outcome:
    """The outcome once the independent verifier has vouched for its output, as the daemon's
    verifying worker would: a release it refuses becomes a rejection."""
    if outcome.verdict != "released" or outcome.output is None or outcome.output_path is None:
        return outcome
    rules = {type_name: rule for type_name in TYPES if (rule := policy.rule_for(type_name)) is not None}

    def member_options(type_name: str) -> Options:
        return rules[type_name].options if type_name in rules else {}

    rule = rules.get(outcome.input.type or "")
    try:
        if rule is None or outcome.method is None or outcome.output.type is None:
            raise VerifyError(FAILED, f"no rule of {outcome.input.type} made this output")
        expected = expectation_for(
            outcome.input.type or "", outcome.output.type, outcome.method, rule.options, member_options
        )
        verify_output(outcome.output_path, expected, config.limits, member_options)
    except VerifyError as refusal:
        outcome.output_path.unlink(missing_ok=True)
        return dataclasses.replace(
            outcome,
            verdict="rejected",
            reason=Reason(refusal.code, refusal.detail),
            output_path=None,
            output=None,
        )
    return outcome


def _place_output(outcome: Outcome, requested: Path) -> Path:
    """Write into a directory under the output name, or to OUTPUT with the output type's extension."""
    assert outcome.output_path is not None and outcome.output is not None
    if requested.is_dir():
        return place_file(outcome.output_path, requested, outcome.output.name, overwrite=True)
    name = output_name(requested.name, outcome.output.type or "")
    return place_file(outcome.output_path, requested.parent, name, overwrite=True)


def _outcome_json(outcome: Outcome, final: Path | None) -> dict[str, object]:
    output = None
    if outcome.output is not None and final is not None:
        output = {"path": str(final), "size": outcome.output.size, "sha256": outcome.output.sha256,
                  "type": outcome.output.type}  # fmt: skip
    return {
        "verdict": outcome.verdict,
        "reason": outcome.reason.as_dict() if outcome.reason else None,
        "input": outcome.input.as_dict(),
        "output": output,
        "method": outcome.method,
        "findings": [f.as_dict() for f in outcome.findings],
        "duration_ms": outcome.duration_ms,
    }


def _outcome_fields(outcome: Outcome, final: Path | None) -> dict[str, object]:
    return {
        "verdict": outcome.verdict,
        "reason": outcome.reason.code if outcome.reason else None,
        "name": outcome.input.name,
        "size_in": outcome.input.size,
        "sha256_in": outcome.input.sha256,
        "file_type": outcome.input.type,
        "method": outcome.method,
        "path_out": str(final) if final else None,
        "sha256_out": outcome.output.sha256 if outcome.output else None,
        "findings": [f.as_dict() for f in outcome.findings],
        "duration_ms": outcome.duration_ms,
    }


if __name__ == "__main__":
    sys.exit(main())
