"""One structured JSON log line per request: ids, route, status, latency, cold start, model. No bodies."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import orjson

from .middleware import RequestDone
from .state import ModelState

logger = logging.getLogger("predict.access")

# Record attributes a format may use and still give the same text for every line of this logger.
_PER_LOGGER_FIELDS = {"name", "levelname", "levelno", "message"}
_SENTINEL = "\x00"  # never in a line: orjson writes a NUL inside a string as \u0000


def lean_log_records() -> None:
    """Skip what every log record gathers and no line of ours prints: the calling source line,
    thread, process and task (the logging HOWTO's 'Optimization' switches). On a request of a
    few hundred microseconds they cost about a tenth of the server's throughput. Entry points
    call this; they own the process."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12+; harmless before
    logging._srcfile = None


class DirectLine:
    """Writes an INFO line of `logger` straight to the stream logging would write it to, formatted
    as logging would format it, when that is simple: one plain StreamHandler on the root logger
    (what `logging.basicConfig` sets up, as `python -m predict serve` does), a format of per-logger
    fields only (no time), no filters, no handlers in between. Making a LogRecord, filtering,
    formatting and handling it cost more per request than the rest of the line. Anything else
    (Lambda's handler, pytest's capture, a time in the format, a filter) goes through logging."""

    def __init__(self, target: logging.Logger) -> None:
        self.logger = target
        self.parents = []
        parent = target.parent
        while parent is not None and parent is not logging.root:
            self.parents.append(parent)
            parent = parent.parent
        self.handler: logging.Handler | None = None
        self.formatter: logging.Formatter | None = None
        self.level = -1
        self.affixes: tuple[str, str] | None = None

    def write(self, message: str) -> bool:
        """Write `message` as its log line; False when logging must do it."""
        handler = self._plain_handler()
        if handler is None:
            return False
        if handler is not self.handler or handler.formatter is not self.formatter or handler.level != self.level:
            self.handler, self.formatter, self.level = handler, handler.formatter, handler.level
            self.affixes = self._affixes(handler)
        if self.affixes is None or not isinstance(handler, logging.StreamHandler):
            return False
        line = self.affixes[0] + message + self.affixes[1]
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.stream.flush()
        except Exception:  # a closed or failing stream: reported as StreamHandler.emit reports it
            handler.handleError(logging.LogRecord(self.logger.name, logging.INFO, "", 0, message, None, None))
        finally:
            handler.release()
        return True

    def _plain_handler(self) -> logging.Handler | None:
        target = self.logger
        if target.handlers or target.filters or not target.propagate or target.disabled:
            return None
        for parent in self.parents:
            if parent.handlers or parent.filters or not parent.propagate or parent.disabled:
                return None
        root = logging.root
        if len(root.handlers) != 1 or root.filters:
            return None
        handler = root.handlers[0]
        if type(handler) is not logging.StreamHandler or handler.filters or handler.level > logging.INFO:
            return None
        return handler

    def _affixes(self, handler: logging.Handler) -> tuple[str, str] | None:
        """What the handler writes before and after the message, if that is the same for every line."""
        formatter = handler.formatter or logging.Formatter()  # logging's default when none is set
        if type(formatter) is not logging.Formatter or type(formatter._style) is not logging.PercentStyle:
            return None
        if not set(re.findall(r"%\((\w+)\)", formatter._fmt or "")) <= _PER_LOGGER_FIELDS:
            return None
        record = logging.LogRecord(self.logger.name, logging.INFO, "", 0, _SENTINEL, None, None)
        before, found, after = formatter.format(record).partition(_SENTINEL)
        if not found or _SENTINEL in after:
            return None
        return before, after + getattr(handler, "terminator", "\n")


def access_logger(state: ModelState, cold_start: Callable[[], bool] | None = None) -> Callable[[RequestDone], None]:
    direct = DirectLine(logger)

    def log(done: RequestDone) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        model = state.model.metadata if state.model is not None else None
        record = {
            "request_id": done.request_id,
            "method": done.method,
            "route": done.route,
            "status": done.status,
            "latency_ms": round(done.latency_s * 1000, 3),
            "cold_start": cold_start() if cold_start is not None else None,
            "model": model.name if model else None,
            "model_version": model.version if model else None,
        }
        line = orjson.dumps(record).decode()
        if not direct.write(line):
            logger.info(line)

    return log
