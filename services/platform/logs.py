"""Log lines that keep their context: the fields passed as `extra=` (run ids, counts, errors)
follow the message as key=value in text, and are keys of their own in JSON (LOG_FORMAT=json)."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# As logging.config.dictConfig takes them (serve's uvicorn loggers use them too).
TEXT_FORMATTER = {"()": "services.platform.logs.KeyValueFormatter"}
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}
# What every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def __init__(self, fmt: str = TEXT_FORMAT, **kwargs: Any) -> None:
        super().__init__(fmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{key}={value!r}" for key, value in _extra(record).items())
        return f"{line} [{context}]" if context else line


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")}


def configure_logging(log_format: str, level: str = "WARNING") -> None:
    """The command's own log lines (`serve` sets uvicorn's up with uvicorn's configuration)."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"app": JSON_FORMATTER if log_format == "json" else TEXT_FORMATTER},
            "handlers": {"app": {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr"}},
            "root": {"handlers": ["app"], "level": level},
        }
    )
