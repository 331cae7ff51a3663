"""One JSON line per log record (structlog over the standard library's logging), for the served
process and the command line. Records of the standard library's loggers are rendered the same way."""
from __future__ import annotations

import logging
import sys

import structlog

_SHARED = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
           structlog.stdlib.add_logger_name, structlog.processors.TimeStamper(fmt="iso", utc=True)]


def json_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer(sort_keys=True)])


# structlog hands every event to the standard library's logging; the handler decides the output
# (configure below for a process; tests attach their own handler with json_formatter).
structlog.configure(
    # filter_by_level first: a line below the logger's level costs nothing more (a request line
    # per ingested batch is on the hot path).
    processors=[structlog.stdlib.filter_by_level, *_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(), wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True)


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr for every logger of the process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own request line replaces uvicorn's access line (it has the route, the key id, the id).
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str):
    return structlog.stdlib.get_logger(name)
