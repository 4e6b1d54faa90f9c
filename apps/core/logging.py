import logging

from .context import current_request_id


class RequestIdFilter(logging.Filter):
    """Bind the current request id (or Celery task's inherited one) into every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs after the middleware has unbound the id; its record carries
            # the request itself.
            request = getattr(record, "request", None)
            record.request_id = current_request_id() or getattr(request, "request_id", None)
        return True


# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class TextFormatter(logging.Formatter):
    """One human-readable line per record for a terminal (`make run`): time, level, logger,
    message, then the record's `extra` fields as key=value, the request id last. Production
    keeps JSON lines (LYO_LOG_FORMAT=json) for the log pipeline."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and key not in ("request_id", "request")
        }
        if extras:
            line += " " + " ".join(f"{key}={value}" for key, value in extras.items())
        request_id = getattr(record, "request_id", None)
        return f"{line} [{request_id}]" if request_id else line
