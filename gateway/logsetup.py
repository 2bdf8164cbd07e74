"""structlog, set up once: journald's native protocol under systemd, JSON lines otherwise,
a pretty console on a TTY.

Under systemd every key of an event becomes an indexed journal field (TRANSFER_ID,
VERDICT, REASON, FILE_TYPE, ...), so operators filter with
``journalctl -u mukaika VERDICT=rejected``. Logs of libraries that use the standard
``logging`` module (aiohttp, watchdog) are routed through the same chain. Elsewhere logs go
to stderr so that command output (``--json``) on stdout stays machine-readable.
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

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "warn": 4, "error": 3, "critical": 2, "exception": 3}
_FIELD = re.compile(r"[^A-Z0-9_]")
#: Keys shown in the human-readable MESSAGE of a journal entry, besides the event.
_SUMMARY_KEYS = ("verdict", "name", "reason", "method", "error")


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog; ``stream`` defaults to whatever ``sys.stderr`` is when a line is written."""
    if fmt == "auto":
        tty = (stream or sys.stderr).isatty()
        fmt = "journald" if os.environ.get("JOURNAL_STREAM") else "console" if tty else "json"
    renderer: structlog.types.Processor
    logger_factory: Any
    if fmt == "journald":
        renderer, logger_factory = _journal_fields, JournaldLoggerFactory()
    else:
        renderer = (
            structlog.dev.ConsoleRenderer()
            if fmt == "console"
            else structlog.processors.JSONRenderer(ensure_ascii=False)
        )
        logger_factory = _PrintToStream(stream)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
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
    level = str(event_dict.get("level", "info"))
    summary = " ".join(f"{k}={event_dict[k]}" for k in _SUMMARY_KEYS if event_dict.get(k) is not None)
    fields = {"MESSAGE": f"{event} {summary}".strip(), "PRIORITY": str(_PRIORITIES.get(level, 6)),
              "SYSLOG_IDENTIFIER": "mukaika", "EVENT": event}  # fmt: skip
    for key, value in event_dict.items():
        name = _FIELD.sub("_", key.upper()).lstrip("_")
        if name and name not in fields and value is not None:
            fields[name] = (
                value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            )
    return fields


class JournaldLogger:
    """Sends each event to journald over its native protocol (cysystemd)."""

    def msg(self, **fields: str) -> None:
        from cysystemd import journal  # only needed, and only importable, where systemd is

        journal.send(**fields)

    log = debug = info = warning = warn = error = critical = exception = msg


class JournaldLoggerFactory:
    def __call__(self, *args: Mapping[str, Any]) -> JournaldLogger:
        return JournaldLogger()
