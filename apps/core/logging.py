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
