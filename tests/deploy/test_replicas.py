"""PostgreSQL read replicas (apps.core.db_router) on real processes: a private primary and its
streaming replica (tests/deploy/pgcluster.py), two gunicorn workers with production settings
and DATABASE_REPLICA_URLS, a private redis-server for the cache and another for the
read-your-writes pins (DATABASE_REPLICA_PIN_REDIS_URL), so the pin store can fail alone.

How a test sees which server answered: replay on the replica is paused
(pg_wal_replay_pause()), then rows change on the primary. A read served by the replica shows
the old value, a read served by the primary the new one.
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import ROOT, PgServer, clean_env, must
from tests.deploy.pgcluster import ReplicatedCluster, postgres_bin, start_replicated_cluster
from tests.deploy.stack import Processes
from tests.processes import Process, RedisServer, free_port, wait_until

PASSWORD = "a long and unguessable replica passphrase 7"
WRITER = "writer@replica.example.com"
READER = "reader@replica.example.com"
PIN_SECONDS = 3
VENV_BIN = Path(sys.executable).parent

SETUP_SCRIPT = f"""
from allauth.account.models import EmailAddress
from apps.accounts.models import User
for email in ({WRITER!r}, {READER!r}):
    user = User.objects.create_user(email=email, password={PASSWORD!r}, display_name=email[:6])
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
print("SETUP-OK")
"""


@dataclass
class ReplicaStack:
    cluster: ReplicatedCluster
    base: str
    env: dict
    pin_redis: RedisServer
    processes: Processes
    log_dir: Path

    def sql(self, statement: str):
        return self.cluster.primary.query(statement, dbname="lyo")

    def set_bio(self, email: str, bio: str) -> None:
        with self.cluster.primary.server.connect("lyo", autocommit=True) as conn:
            conn.execute("UPDATE accounts_user SET bio = %s WHERE email = %s", (bio, email))

    def me(self, headers: dict) -> dict:
        response = requests.get(f"{self.base}/api/v1/me/", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def _load_schema(source: PgServer, database: str, target: PgServer) -> None:
    """The suite's migrated template, copied into the private primary (pg_dump | psql)."""
    target.create_database("lyo")
    dump = subprocess.run(
        [str(postgres_bin() / "pg_dump"), "--no-owner", "--no-privileges", source.url(database)],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    must(
        subprocess.run(
            [str(postgres_bin() / "psql"), "-q", "-v", "ON_ERROR_STOP=1", target.url("lyo")],
            input=dump,
            capture_output=True,
            timeout=120,
            check=False,
        )
    )


@pytest.fixture(scope="module")
def replica_stack(pg_server, migrated_template, tmp_path_factory) -> Iterator[ReplicaStack]:
    log_dir = tmp_path_factory.mktemp("replica-logs")
    cluster = start_replicated_cluster()
    processes = Processes()
    try:
        _load_schema(pg_server, migrated_template.name, cluster.primary.server)
        env = clean_env(
            PATH=f"{VENV_BIN}:{clean_env()['PATH']}",
            DJANGO_SETTINGS_MODULE="lyo.settings.production",
            DJANGO_SECRET_KEY="replica-test-secret-" + "x" * 40,
            LYO_JWT_SIGNING_KEY="replica-test-jwt-" + "y" * 40,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="false",
            DATABASE_URL=cluster.primary.server.url("lyo"),
            DJANGO_AWS_STORAGE_BUCKET_NAME="lyo-replica-test",
            GUNICORN_WORKERS="2",
            GUNICORN_ACCESS_LOG="0",
        )
        must(
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", SETUP_SCRIPT],
                cwd=ROOT,
                env=dict(env, REDIS_URL="redis://127.0.0.1:1/0"),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        )
        redis_port, web_port = free_port(), free_port()
        RedisServer("redis", log_dir=log_dir, on_start=processes.add, port=redis_port)
        pin_redis = RedisServer("pin-redis", log_dir=log_dir, on_start=processes.add)
        env.update(
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            DATABASE_REPLICA_PIN_REDIS_URL=pin_redis.url,
            DATABASE_REPLICA_URLS=cluster.replica.server.url("lyo"),
            DATABASE_REPLICA_PIN_SECONDS=str(PIN_SECONDS),
            DATABASE_REPLICA_RETRY_SECONDS="1",
        )
        stack = ReplicaStack(
            cluster=cluster,
            base=f"http://127.0.0.1:{web_port}",
            env=env,
            pin_redis=pin_redis,
            processes=processes,
            log_dir=log_dir,
        )
        web = processes.add(
            Process.start(
                "web",
                [
                    str(VENV_BIN / "gunicorn"),
                    "lyo.wsgi:application",
                    "--config",
                    "docker/gunicorn.conf.py",
                ],
                log_dir=log_dir,
                env=dict(
                    env,
                    GUNICORN_BIND=f"127.0.0.1:{web_port}",
                    PROMETHEUS_MULTIPROC_DIR=str(log_dir / "prometheus"),
                ),
            )
        )
        wait_until(
            lambda: requests.get(f"{stack.base}/health/live/", timeout=2).status_code == 200,
            timeout=60,
            what=f"gunicorn\n{web.log()}",
        )
        yield stack
    finally:
        processes.stop_all()
        cluster.stop()


def _token(stack: ReplicaStack, email: str) -> dict:
    response = requests.post(
        f"{stack.base}/api/v1/auth/token/",
        json={"email": email, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def _replica_paused(stack: ReplicaStack):
    stack.cluster.wait_for_replica()
    stack.cluster.replica.query("SELECT pg_wal_replay_pause()")


def _replica_resumed(stack: ReplicaStack):
    stack.cluster.replica.query("SELECT pg_wal_replay_resume()")
    stack.cluster.wait_for_replica()


def test_reads_go_to_the_replica_and_a_writer_reads_its_own_writes(replica_stack):
    stack = replica_stack
    writer, reader = _token(stack, WRITER), _token(stack, READER)
    time.sleep(PIN_SECONDS + 0.5)  # signing in wrote last_login: let those pins lapse
    _replica_paused(stack)
    try:
        stack.set_bio(READER, "changed on the primary")
        stack.set_bio(WRITER, "changed on the primary")
        # A GET by someone who has not written lately is served by the replica: replay is
        # paused, so it still has the old row. Several requests, to meet both workers.
        for _ in range(4):
            assert stack.me(reader)["bio"] == ""
            assert stack.me(writer)["bio"] == ""

        # A write request reads from the primary throughout (its response is read after the
        # write, inside the request's transaction), and its author is pinned to the primary.
        response = requests.patch(
            f"{stack.base}/api/v1/me/",
            json={"display_name": "Writer Wrote"},
            headers=writer,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.json()["display_name"] == "Writer Wrote"
        assert response.json()["bio"] == "changed on the primary"
        for _ in range(4):  # on either gunicorn worker: the pin is in Redis
            me = stack.me(writer)
            assert (me["display_name"], me["bio"]) == ("Writer Wrote", "changed on the primary")
            assert stack.me(reader)["bio"] == ""  # others keep reading the replica

        # The pin lapses: the writer reads from the (still paused) replica again.
        time.sleep(PIN_SECONDS + 0.5)
        assert stack.me(writer)["display_name"] == "writer"
    finally:
        _replica_resumed(stack)
    assert stack.me(writer)["display_name"] == "Writer Wrote"
    assert stack.me(reader)["bio"] == "changed on the primary"


def test_without_the_pin_store_an_authenticated_user_reads_from_the_primary(replica_stack):
    stack = replica_stack
    reader = _token(stack, READER)
    time.sleep(PIN_SECONDS + 0.5)
    _replica_paused(stack)
    try:
        stack.set_bio(READER, "while the pin store was down")
        assert stack.me(reader)["bio"] != "while the pin store was down"  # replica, as before
        stack.pin_redis.stop()
        # No pin can be read, so none can be trusted to be absent: primary.
        for _ in range(4):
            assert stack.me(reader)["bio"] == "while the pin store was down"
    finally:
        if not stack.pin_redis.alive:
            stack.pin_redis.start()
        _replica_resumed(stack)


def test_a_stopped_replica_falls_back_to_the_primary(replica_stack):
    stack = replica_stack
    reader = _token(stack, READER)
    time.sleep(PIN_SECONDS + 0.5)
    stack.cluster.wait_for_replica()
    assert stack.cluster.replica.query("SELECT pg_is_in_recovery()") == [(True,)]
    stack.cluster.replica.stop("fast")
    try:
        stack.set_bio(READER, "after the replica stopped")
        for _ in range(6):  # each worker notices once, then skips the replica for a while
            assert stack.me(reader)["bio"] == "after the replica stopped"
        time.sleep(1.5)  # DATABASE_REPLICA_RETRY_SECONDS: tried again, still down
        assert stack.me(reader)["bio"] == "after the replica stopped"
        (web,) = (p for p in stack.processes.items if p.name == "web")
        log = web.log(20000)
        assert "database replica replica_0 does not answer" in log
    finally:
        stack.cluster.replica.start()


ROUTING_SCRIPT = """
import json
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from apps.accounts.models import User
from apps.core.db_router import ReplicaRoutingMiddleware

seen = {}

def view(request):
    seen["read"] = User.objects.all().db
    with transaction.atomic():
        seen["read_in_a_transaction_the_code_opened"] = User.objects.all().db
    seen["read_after_that_transaction"] = User.objects.all().db
    with connection.cursor() as cursor:  # a write the ORM's router does not see
        cursor.execute("UPDATE accounts_user SET bio = bio WHERE id = -1")
    seen["read_after_a_raw_write"] = User.objects.all().db
    return HttpResponse()

def post_view(request):
    seen["read_in_a_post"] = User.objects.all().db
    return HttpResponse()

ReplicaRoutingMiddleware(view)(RequestFactory().get("/"))
ReplicaRoutingMiddleware(post_view)(RequestFactory().post("/"))
seen["read_outside_a_request"] = User.objects.all().db
print("ROUTES=" + json.dumps(seen))
"""


def test_reads_inside_write_transactions_stay_on_the_primary(replica_stack):
    stack = replica_stack
    result = must(
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", ROUTING_SCRIPT],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    )
    routes = json.loads(result.stdout.split("ROUTES=", 1)[1])
    assert routes == {
        "read": "replica_0",
        "read_in_a_transaction_the_code_opened": "default",
        "read_after_that_transaction": "replica_0",
        "read_after_a_raw_write": "default",
        "read_in_a_post": "default",
        "read_outside_a_request": "default",
    }
