import logging

from .context import current_request_id


class RequestIdFilter(logging.Filter):
    """Bind the current request id (or Celery task's inherited one) into every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True
