"""Celery on RabbitMQ (the machine's broker on 127.0.0.1:5672, in a private vhost made for this
test and deleted after): production settings with CELERY_BROKER_URL=amqp://... declare a quorum
queue, publish with publisher confirms, and with acks_late a worker killed in the middle of a
task gives the message back to the broker for the next worker. Email delivery is the task, to a
real SMTP server on loopback that holds the first attempt until the test lets it go.
"""

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import kombu
import pytest
from aiosmtpd.controller import Controller

from tests.deploy.conftest import ROOT, clean_env, must, unique_name
from tests.deploy.stack import Processes
from tests.processes import Process, RedisServer, free_port, wait_until

BROKER = "amqp://guest:guest@127.0.0.1:5672"
VENV_BIN = Path(sys.executable).parent


def rabbitmqctl(*args: str) -> str:
    return must(
        subprocess.run(
            ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
        )
    ).stdout


@pytest.fixture
def vhost() -> Iterator[str]:
    name = unique_name("lyo_test")
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        rabbitmqctl("delete_vhost", name)


@dataclass
class HoldingHandler:
    """Holds the first message's DATA until `release` is set, then refuses it (its client is
    gone by then); accepts and records every later one."""

    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    refuse_next: int = 0
    subjects: list[str] = field(default_factory=list)
    _first: bool = True

    async def handle_DATA(self, server, session, envelope) -> str:
        if self._first:
            self._first = False
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
            return "451 4.3.0 held by the test"
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 try again"
        self.subjects.append(message_from_bytes(envelope.content, policy=policy.default)["Subject"])
        return "250 2.0.0 accepted"


SEND_SCRIPT = """
import json, os
from django.core.mail import send_mail
from django.db import transaction
from lyo.celery import app
from apps.core.outbox import _request_producer
from apps.mailing.models import OutboundEmail

with transaction.atomic():
    send_mail(os.environ["TEST_SUBJECT"], "body", None, ["learner@rabbit.example.com"])
email = OutboundEmail.objects.get(subject=os.environ["TEST_SUBJECT"])
# The request's hand-off publishes on the outbox's bounded producer pool (apps.core.outbox).
with _request_producer(app) as producer:
    confirmed = producer.channel._confirm_selected
print("SENT=" + json.dumps({"id": str(email.pk), "confirm_select": confirmed,
      "queue_type": app.conf.task_default_queue_type,
      "acks_late": app.conf.task_acks_late}))
"""

STATUS_SCRIPT = """
import json
from apps.mailing.models import OutboundEmail
rows = {e.subject: [e.status, e.attempts] for e in OutboundEmail.objects.all()}
print("ROWS=" + json.dumps(rows))
"""


def test_tasks_run_on_rabbitmq_quorum_queues_with_acks_late(
    pg_server, fresh_database, vhost, tmp_path
):
    processes = Processes()
    handler = HoldingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        redis_port = free_port()
        RedisServer("redis", log_dir=tmp_path, on_start=processes.add, port=redis_port)
        env = clean_env(
            PATH=f"{VENV_BIN}:{os.environ['PATH']}",
            DJANGO_SETTINGS_MODULE="lyo.settings.production",
            DJANGO_SECRET_KEY="rabbitmq-test-secret-" + "x" * 40,
            LYO_JWT_SIGNING_KEY="rabbitmq-test-jwt-" + "y" * 40,
            DJANGO_ALLOWED_HOSTS="localhost",
            DATABASE_URL=pg_server.url(fresh_database()),
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            CELERY_BROKER_URL=f"{BROKER}/{vhost}",
            DJANGO_AWS_STORAGE_BUCKET_NAME="lyo-rabbitmq-test",
            DJANGO_EMAIL_HOST="127.0.0.1",
            DJANGO_EMAIL_PORT=str(smtp.port),
            DJANGO_EMAIL_USE_TLS="false",
            CELERY_CONCURRENCY="1",
        )

        def manage_shell(script: str, subject: str = "") -> str:
            return must(
                subprocess.run(
                    [sys.executable, "manage.py", "shell", "-c", script],
                    cwd=ROOT,
                    env=dict(env, TEST_SUBJECT=subject),
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
            ).stdout

        def start_worker(name: str) -> Process:
            worker = processes.add(
                Process.start(
                    name,
                    ["celery", "--app", "lyo", "worker", "--loglevel", "INFO", "--concurrency=1"],
                    log_dir=tmp_path,
                    env=env,
                )
            )
            wait_until(lambda: "ready." in worker.log(), timeout=90, what=f"{name}\n{worker.log()}")
            return worker

        def queue_depth() -> tuple[int, int]:
            """(messages ready, consumers) of the default queue, as the broker counts them."""
            with kombu.Connection(f"{BROKER}/{vhost}") as conn:
                declared = conn.default_channel.queue_declare("celery", passive=True)
                return declared.message_count, declared.consumer_count

        def rows() -> dict:
            return json.loads(manage_shell(STATUS_SCRIPT).split("ROWS=", 1)[1])

        first = start_worker("worker1")
        sent = json.loads(manage_shell(SEND_SCRIPT, "held then redelivered").split("SENT=")[1])
        assert sent["confirm_select"] is True  # the publish waited for the broker's confirm
        assert sent["queue_type"] == "quorum" and sent["acks_late"] is True

        queues = rabbitmqctl("list_queues", "-p", vhost, "name", "type", "--no-table-headers")
        assert any(line.split() == ["celery", "quorum"] for line in queues.splitlines()), queues

        # worker1 took the task and is inside the SMTP exchange: the message is unacknowledged,
        # so none is ready. Killed like an OOM-killed container, it never acknowledges.
        assert handler.held.wait(60), first.log()
        assert queue_depth()[0] == 0
        first.kill()
        first.popen.wait(10)
        wait_until(lambda: queue_depth() == (1, 0), timeout=30, what="the message to return")
        handler.release.set()

        start_worker("worker2")
        wait_until(lambda: handler.subjects, timeout=60, what="the redelivered email")
        assert handler.subjects == ["held then redelivered"]

        # A temporary SMTP failure is retried with a countdown: RabbitMQ's native delayed
        # delivery (topic exchanges) brings it back to the quorum queue.
        handler.refuse_next = 1
        manage_shell(SEND_SCRIPT, "retried after a 451")
        wait_until(lambda: "retried after a 451" in handler.subjects, timeout=60, what="the retry")
        wait_until(
            lambda: (
                rows() == {"held then redelivered": ["sent", 1], "retried after a 451": ["sent", 2]}
            ),
            timeout=30,
            what="both outbox rows to be sent",
        )
        assert queue_depth()[0] == 0
    finally:
        processes.stop_all()
        smtp.stop()
