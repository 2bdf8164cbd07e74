"""structlog, set up once: journald's native protocol under systemd, JSON lines otherwise,
a pretty console on a TTY.

Under systemd every key of an event becomes an indexed journal field (TRANSFER_ID,
VERDICT, REASON, FILE_TYPE, ...), so operators filter with
``journalctl -u mukaika VERDICT=rejected``; CODE_FILE, CODE_LINE and CODE_FUNC name the
line that logged the event. Logs of libraries that use the standard ``logging`` module
(aiohttp, watchdog) are routed through the same chain. Elsewhere logs go to stderr so that
command output (``--json``) on stdout stays machine-readable.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.processors import CallsiteParameter, CallsiteParameterAdder

from gateway.journald import JournalSocket

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "warn": 4, "error": 3, "critical": 2, "exception": 3}
_FIELD = re.compile(r"[^A-Z0-9_]")
#: Keys shown in the human-readable MESSAGE of a journal entry, besides the event.
_SUMMARY_KEYS = ("verdict", "name", "reason", "method", "mail_state", "sent", "error")
#: Where an event was logged, as journald names it.
_CODE_FIELDS = {CallsiteParameter.PATHNAME: "CODE_FILE", CallsiteParameter.LINENO: "CODE_LINE",
                CallsiteParameter.FUNC_NAME: "CODE_FUNC"}  # fmt: skip


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog; ``stream`` defaults to whatever ``sys.stderr`` is when a line is written."""
    if fmt == "auto":
        tty = (stream or sys.stderr).isatty()
        fmt = "journald" if os.environ.get("JOURNAL_STREAM") else "console" if tty else "json"
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    logger_factory: Any
    if fmt == "journald":  # journald stamps each entry itself, and PRIORITY carries the level
        # the first frame outside structlog, the logging module and this bridge: the caller
        callsite = CallsiteParameterAdder(_CODE_FIELDS, additional_ignores=["logging", __name__])
        processors += [callsite, structlog.processors.format_exc_info, _journal_fields]
        logger_factory = JournaldLoggerFactory()
    else:
        renderer = (
            structlog.dev.ConsoleRenderer()
            if fmt == "console"
            else structlog.processors.JSONRenderer(ensure_ascii=False)
        )
        processors += [structlog.processors.TimeStamper(fmt="iso", utc=True),
                       structlog.processors.format_exc_info, renderer]  # fmt: skip
        logger_factory = _PrintToStream(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers = [_ToStructlog()]
    root.setLevel(max(_LEVELS[level], logging.INFO))  # libraries' debug chatter stays out


class _PrintToStream:
    """Like structlog's PrintLoggerFactory, but without pinning sys.stderr at configure time."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def __call__(self, *args: object) -> structlog.PrintLogger:
        return structlog.PrintLogger(self._stream or sys.stderr)


class _ToStructlog(logging.Handler):
    """Standard-library records (aiohttp, watchdog) become structlog events."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = structlog.get_logger(record.name)
        logger.log(record.levelno, record.getMessage(), logger_name=record.name)


def _journal_fields(_logger: object, _method: str, event_dict: structlog.types.EventDict) -> dict[str, str]:
    """An event as journal fields: upper-case names, text values (structures as JSON)."""
    event = str(event_dict.pop("event", ""))
    level = str(event_dict.pop("level", "info"))
    summary = " ".join(f"{k}={event_dict[k]}" for k in _SUMMARY_KEYS if event_dict.get(k) is not None)
    fields = {"MESSAGE": f"{event} {summary}".strip(), "PRIORITY": str(_PRIORITIES.get(level, 6)),
              "SYSLOG_IDENTIFIER": "mukaika", "EVENT": event}  # fmt: skip
    for parameter, name in _CODE_FIELDS.items():
        if parameter.value in event_dict:
            fields[name] = str(event_dict.pop(parameter.value))
    for key, value in event_dict.items():
        name = _FIELD.sub("_", key.upper()).lstrip("_")
        if name and name not in fields and value is not None:
            fields[name] = (
                value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            )
    return fields


class JournaldLogger:
    """Sends each event to journald over its native protocol."""

    def __init__(self, journal: JournalSocket) -> None:
        self._journal = journal

    def msg(self, **fields: str) -> None:
        try:
            self._journal.send(fields)
        except OSError as exc:  # journald away (restarting): the line still reaches systemd's stderr capture
            print(json.dumps({**fields, "JOURNALD_ERROR": str(exc)}, ensure_ascii=False), file=sys.stderr)

    log = debug = info = warning = warn = error = critical = exception = msg


class JournaldLoggerFactory:
    def __init__(self) -> None:
        self._journal = JournalSocket()

    def __call__(self, *args: Mapping[str, Any]) -> JournaldLogger:
        return JournaldLogger(self._journal)
