"""Read replicas: reads go to a PostgreSQL streaming replica when that cannot show a user their
own past, everything else to the primary ("default").

Installed by lyo.settings.production when DATABASE_REPLICA_URLS names replicas (DATABASES
"replica_0", "replica_1", ...): ReplicaRouter in DATABASE_ROUTERS and ReplicaRoutingMiddleware
after AuthenticationMiddleware. The rules, in the order they are checked:

- Only HTTP requests with a safe method (GET, HEAD, OPTIONS) may read from a replica. POST,
  PUT, PATCH, DELETE, Celery tasks and management commands read from the primary: their reads
  decide what they write.
- A user who wrote in the last DATABASE_REPLICA_PIN_SECONDS reads from the primary
  (read-your-writes across requests, whichever gunicorn worker or pod serves them). The pin is a
  key in the shared cache keyed by user id, set when a request of theirs wrote. If the cache
  cannot answer, the user reads from the primary: an outage never shows stale data.
- Once a request has written (the ORM asked for the write database, or any statement other than
  a plain SELECT ran on the primary), the rest of it reads from the primary.
- Inside a transaction the code opened itself (transaction.atomic beyond the one
  ATOMIC_REQUESTS wraps every view in), every read stays on the primary, with its writes.
  ATOMIC_REQUESTS' own transaction stays empty on a GET that only reads: psycopg sends BEGIN
  with the first statement, and there is none on the primary.
- A replica that does not answer is left alone for DATABASE_REPLICA_RETRY_SECONDS (per
  process) and its reads go to the primary.

Reads on a replica run in autocommit, one snapshot per statement, and may lag the primary by
the replication delay (other users' writes appear a moment later; see docs/operations.md).
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils.functional import empty

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PIN_KEY = "db-pin:{}"


@dataclass
class _Routing:
    replica: str | None  # the replica this request may read from; None: primary only
    atomic_depth: int = 0  # transactions ATOMIC_REQUESTS opened around the view
    wrote: bool = False
    replica_checked: bool = False


_routing: contextvars.ContextVar[_Routing | None] = contextvars.ContextVar(
    "lyo_db_routing", default=None
)
# Replica alias -> monotonic time before which it is not tried again (per process).
_down_until: dict[str, float] = {}


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


def _replica_answers(alias: str) -> bool:
    if _down_until.get(alias, 0.0) > time.monotonic():
        return False
    connection = connections[alias]
    try:
        # What CONN_HEALTH_CHECKS does before the first query, done here so a dead replica
        # becomes a primary read instead of a failed request.
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError:  # refused, timed out, shutting down: "not now"
        connection.close()
        _down_until[alias] = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
        logger.warning("database replica %s does not answer; reading from the primary", alias)
        return False
    return True


def _marks_write(sql: str) -> bool:
    statement = sql.lstrip().upper()
    return not statement.startswith("SELECT") or " FOR UPDATE" in statement


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        routing = _routing.get()
        if routing is None or routing.replica is None or routing.wrote:
            return DEFAULT_DB_ALIAS
        if len(connections[DEFAULT_DB_ALIAS].atomic_blocks) > routing.atomic_depth:
            return DEFAULT_DB_ALIAS
        if not routing.replica_checked:
            routing.replica_checked = True
            if not _replica_answers(routing.replica):
                routing.replica = None
                return DEFAULT_DB_ALIAS
        return routing.replica

    def db_for_write(self, model, **hints):
        routing = _routing.get()
        if routing is not None:
            routing.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # every alias holds the same data

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def _pin_cache():
    return caches[settings.DATABASE_REPLICA_PIN_CACHE]


def _user_id_before_view(request) -> str | None:
    """Who is asking, without a database read: the (verified) access token's user id, or the
    session's. Routing only: authentication proper happens in the view as always."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        from rest_framework_simplejwt.exceptions import TokenError
        from rest_framework_simplejwt.settings import api_settings
        from rest_framework_simplejwt.tokens import AccessToken

        try:
            return str(
                AccessToken(header.removeprefix("Bearer ").strip())[api_settings.USER_ID_CLAIM]
            )
        except (TokenError, KeyError):
            return None
    if settings.SESSION_COOKIE_NAME in request.COOKIES and hasattr(request, "session"):
        user_id = request.session.get(SESSION_KEY)
        return str(user_id) if user_id is not None else None
    return None


def _user_id_after_view(request) -> str | None:
    """The user the view authenticated (DRF sets request.user), if it was looked at at all."""
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return str(user.pk) if user.is_authenticated else None


def _is_pinned(user_id: str) -> bool:
    try:
        return _pin_cache().get(PIN_KEY.format(user_id)) is not None
    except Exception:  # the cache cannot vouch for a replica read: primary
        logger.warning("replica pin lookup failed; reading from the primary", exc_info=True)
        return True


def _pin(user_id: str) -> None:
    try:
        _pin_cache().set(PIN_KEY.format(user_id), 1, timeout=settings.DATABASE_REPLICA_PIN_SECONDS)
    except Exception:  # unpinnable while the cache is down; reads are primary then
        logger.warning("replica pin could not be set", exc_info=True)


class ReplicaRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user_id = _user_id_before_view(request)
        replica = None
        replicas = replica_aliases()
        if request.method in SAFE_METHODS and replicas and not (user_id and _is_pinned(user_id)):
            replica = random.choice(replicas)  # load spreading, not security
        routing = _Routing(replica=replica)
        token = _routing.set(routing)
        try:
            with connections[DEFAULT_DB_ALIAS].execute_wrapper(self._watch_primary(routing)):
                response = self.get_response(request)
        finally:
            _routing.reset(token)
        if routing.wrote:
            writer = user_id or _user_id_after_view(request)
            if writer:
                _pin(writer)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        routing = _routing.get()
        if routing is not None:
            atomic = settings.DATABASES[DEFAULT_DB_ALIAS].get("ATOMIC_REQUESTS", False)
            opted_out = DEFAULT_DB_ALIAS in getattr(view_func, "_non_atomic_requests", set())
            routing.atomic_depth = 1 if atomic and not opted_out else 0

    @staticmethod
    def _watch_primary(routing: _Routing):
        def watch(execute, sql, params, many, context):
            if not routing.wrote and _marks_write(sql):
                routing.wrote = True
            return execute(sql, params, many, context)

        return watch
