"""Carry the request id from the web request into the tasks it enqueues, and log as JSON."""

import logging.config

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from .context import current_request_id, new_request_id, request_id_var

_tokens: dict[str, object] = {}


@setup_logging.connect
def configure_worker_logging(**kwargs) -> None:
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def attach_request_id(headers: dict | None = None, **kwargs) -> None:
    if headers is not None and current_request_id():
        headers.setdefault("request_id", current_request_id())


@task_prerun.connect
def bind_request_id(task_id: str | None = None, task=None, **kwargs) -> None:
    inherited = getattr(task.request, "request_id", None) if task is not None else None
    _tokens[task_id] = request_id_var.set(inherited or current_request_id() or new_request_id())


@task_postrun.connect
def unbind_request_id(task_id: str | None = None, **kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
