"""A real SMTP server on loopback (aiosmtpd) that records or refuses messages."""

import asyncio
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.processes import free_port


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """An SMTP server's DATA handler that keeps what it accepts and can refuse on request."""

    messages: list[ReceivedEmail] = field(default_factory=list)
    refuse_next: int = 0
    refusal: str = "451 4.3.0 try again"
    release: threading.Event | None = None  # when set, DATA waits for it (slow server)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.release is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 5)
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return self.refusal
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append(ReceivedEmail(envelope.mail_from, envelope.rcpt_tos, parsed))
        return "250 2.0.0 accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def messages(self) -> list[ReceivedEmail]:
        return self.handler.messages

    def fail_next(self, count: int, reply: str = "451 4.3.0 try again") -> None:
        """Answer the next `count` messages with a (by default temporary) SMTP failure."""
        self.handler.refuse_next, self.handler.refusal = count, reply


@contextmanager
def running_smtp_server(settings):
    """Start a real SMTP server on loopback and point the outbox's transport at it."""
    host = "127.0.0.1"
    handler = RecordingHandler()
    controller = Controller(handler, hostname=host, port=free_port(host))
    controller.start()
    settings.MAILING_TRANSPORT_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = host
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield SmtpServer(host=host, port=controller.port, handler=handler)
    finally:
        controller.stop()
