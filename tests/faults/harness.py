"""The stack a fault is injected into, and what the fault tests measure with it.

One stack per test module (tests/faults/conftest.py builds it): a database of its own cloned
from the suite's migrated template, two private redis-servers on free loopback ports (the cache
and the Celery broker, so either can fail alone), gunicorn (2 workers) and a Celery worker
(concurrency 1) started from the Procfile with production settings, and an SMTP server
(aiosmtpd) and S3 (moto) in this process. Requests go straight to gunicorn over HTTP on
loopback, as nginx would send them.

Measuring side effects: the ledger of what committed writes must have caused is worked out
from the responses the test got (a 2xx lesson completion is a `lesson.completed` award, ...),
then compared with the rows (`side_effect_problems`). Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

from tests.deploy.conftest import ROOT, PgServer, clean_env
from tests.deploy.stack import VENV_BIN, Processes, child_pids, procfile
from tests.processes import Process, RedisServer, free_port, wait_until
from tests.smtp import RecordingHandler

# Seconds within which /health/ready/ must name a failed dependency (issue 17).
HEALTH_REPORT_SECONDS = 2.0
# A request during a frozen dependency must answer within this, not hang for gunicorn's 30 s.
DEGRADED_LATENCY_SECONDS = 5.0
# The periodic task that relays domain events a broker outage kept from leaving: the entry of
# settings.PERIODIC_TASKS whose name contains this (beat runs it in production).
OUTBOX_SWEEPER_NAME = "outbox"


@dataclass
class Learner:
    id: int
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Answer:
    """One request's outcome: a status, or the error that left it without one."""

    what: str
    status: int | None
    seconds: float
    error: str = ""
    body: Any = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def __str__(self) -> str:
        outcome = self.status if self.status is not None else self.error
        return f"{self.what}: {outcome} in {self.seconds:.1f}s"


@dataclass
class Expected:
    """The side effects committed writes must have (filled in as the writes answer 2xx)."""

    xp_keys: set[str] = field(default_factory=set)
    # (recipient id, actor id or None, verb, target type, target id or achievement code):
    # exactly one notification each
    notifications: set[tuple[int, int | None, str, str, int | str]] = field(default_factory=set)
    # recipient email -> number of emails
    emails: dict[str, int] = field(default_factory=dict)
    users: set[int] = field(default_factory=set)


@dataclass(repr=False)
class FaultStack:
    base: str
    pg: PgServer
    database: str
    cache: RedisServer
    broker: RedisServer
    web: Process
    worker: Process
    processes: FaultProcesses
    smtp: RecordingHandler
    env: dict
    log_dir: Path
    seed: dict
    _free_learners: list[Learner] = field(default_factory=list)
    _workers_started: int = 0

    # --- Requests -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base + path

    def call(self, what: str, method: str, path: str, *, timeout: float = 10, **kwargs) -> Answer:
        started = time.monotonic()
        try:
            response = requests.request(
                method, self.url(path), timeout=timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            return Answer(what, None, time.monotonic() - started, error=type(exc).__name__)
        try:
            body = response.json()
        except ValueError:
            body = response.text[:300]
        return Answer(what, response.status_code, time.monotonic() - started, body=body)

    def health(self, timeout: float = 10) -> Answer:
        return self.call("GET /health/ready/", "GET", "/health/ready/", timeout=timeout)

    def learners(self, count: int) -> list[Learner]:
        """Enrolled learners no other test of the module has used."""
        assert len(self._free_learners) >= count, "the module's seed has too few learners"
        taken, self._free_learners[:count] = self._free_learners[:count], []
        return taken

    @property
    def course(self) -> dict:
        return self.seed["course"]

    # --- The database and the processes ---------------------------------------------------

    def sql(self, query: str, params: Iterable = ()) -> list[tuple]:
        with self.pg.connect(self.database) as conn:
            return conn.execute(query, list(params)).fetchall()

    def web_workers(self) -> list[int]:
        return child_pids(self.web.popen.pid)

    def start_worker(self) -> Process:
        """A Celery worker as the Procfile runs it (exec'd, so its pid is Celery's main
        process), with a node name of its own."""
        self._workers_started += 1
        name = f"worker{self._workers_started}"
        command = f"exec {procfile()['worker']} --hostname {name}@%h"
        worker = self.processes.add(
            Process.start(name, ["sh", "-c", command], log_dir=self.log_dir, env=self.env)
        )
        wait_until(
            lambda: worker.alive and " ready." in worker.log(200_000),
            timeout=60,
            what=f"{name} to be ready\n{worker.log()}",
            interval=0.2,
        )
        self.worker = worker
        return worker

    def broker_idle(self) -> bool:
        """Nothing queued and nothing delivered but unacknowledged (tasks ack late, so a task
        being run counts as not idle)."""
        return not self.broker.command("LLEN", "celery") and not self.broker.command(
            "HLEN", "unacked"
        )

    def wait_idle(self, timeout: float = 30, what: str = "the Celery queue to drain") -> None:
        """Until the worker has run everything sent to it (idle on two polls 0.3 s apart)."""

        def idle_twice() -> bool:
            if not self.broker_idle():
                return False
            time.sleep(0.3)
            return self.broker_idle()

        wait_until(idle_twice, timeout=timeout, what=what, interval=0.2)

    def diagnostics(self) -> str:
        return self.processes.report()

    def __repr__(self) -> str:
        return f"<FaultStack {self.base} database={self.database}>"


@dataclass
class FaultProcesses(Processes):
    """The stack's processes; teardown thaws a frozen redis-server first, then kills every
    process group (SIGKILL), latest first."""

    redis_servers: list[RedisServer] = field(default_factory=list)

    def redis(self, name: str, *, log_dir: Path, env: dict) -> RedisServer:
        server = RedisServer(name, log_dir=log_dir, env=env, on_start=self.add)
        self.redis_servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.redis_servers:
            server.thaw()
        # No graceful shutdown: what the processes hold is thrown away with the database.
        for process in reversed(self.items):
            process.kill(signal.SIGKILL)
        for process in self.items:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(5)


def start_stack(
    *,
    processes: FaultProcesses,
    pg: PgServer,
    database: str,
    log_dir: Path,
    smtp: RecordingHandler,
    smtp_port: int,
    s3_endpoint: str,
    bucket: str,
    learners: int,
    extra_env: dict[str, str] | None = None,
) -> FaultStack:
    """Seed the database and start every process; each is added to `processes` as it starts,
    so the caller's teardown (processes.stop_all()) stops them even when this raises."""
    env = clean_env(
        PATH=f"{VENV_BIN}:{clean_env()['PATH']}",
        DJANGO_SETTINGS_MODULE="lyo.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        LYO_JWT_SIGNING_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",  # nginx's job; requests come straight to gunicorn
        DATABASE_URL=pg.url(database),
        DJANGO_AWS_STORAGE_BUCKET_NAME=bucket,
        DJANGO_AWS_S3_ENDPOINT_URL=s3_endpoint,
        DJANGO_AWS_S3_REGION_NAME="us-east-1",
        DJANGO_AWS_ACCESS_KEY_ID="testing",
        DJANGO_AWS_SECRET_ACCESS_KEY="testing",
        DJANGO_EMAIL_HOST="127.0.0.1",
        DJANGO_EMAIL_PORT=str(smtp_port),
        DJANGO_EMAIL_USE_TLS="false",
        DJANGO_DEFAULT_FROM_EMAIL="Lyo Faults <no-reply@faults.example.com>",
        CELERY_CONCURRENCY="1",
        GUNICORN_WORKERS="2",
        GUNICORN_ACCESS_LOG="0",
        # The load loops write faster than a person; the limits are not what is tested here.
        LYO_THROTTLE_POSTS="1000/min",
        LYO_THROTTLE_USER="5000/min",
        LYO_THROTTLE_ANON="5000/min",
        LYO_THROTTLE_AUTH_IP="1000/min",
        LYO_THROTTLE_AUTH_EMAIL="1000/min",
        LYO_THROTTLE_WRITES="5000/min",
        **(extra_env or {}),
    )
    cache = processes.redis("redis-cache", log_dir=log_dir, env=env)
    broker = processes.redis("redis-broker", log_dir=log_dir, env=env)
    env["REDIS_URL"] = cache.url
    env["CELERY_BROKER_URL"] = broker.url

    seeding = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from tests.faults.seed import seed; seed(learners={learners})",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    port = free_port()
    web = processes.add(
        Process.start(
            "web",
            ["sh", "-c", f"exec {procfile()['web']}"],
            log_dir=log_dir,
            env=dict(env, GUNICORN_BIND=f"127.0.0.1:{port}"),
        )
    )
    stack = FaultStack(
        base=f"http://127.0.0.1:{port}",
        pg=pg,
        database=database,
        cache=cache,
        broker=broker,
        web=web,
        worker=web,  # replaced by start_worker below
        processes=processes,
        smtp=smtp,
        env=env,
        log_dir=log_dir,
        seed={},
    )
    try:
        output = seeding.communicate(timeout=180)[0]
    finally:
        if seeding.poll() is None:
            seeding.kill()
            seeding.wait()
    assert seeding.returncode == 0, f"seeding failed:\n{output[-4000:]}"
    stack.seed = json.loads(output.strip().splitlines()[-1])
    stack._free_learners = [Learner(**learner) for learner in stack.seed["learners"]]
    stack.start_worker()
    wait_until(
        lambda: web.alive and len(stack.web_workers()) == 2 and stack.health().status == 200,
        timeout=60,
        what=f"gunicorn to be ready\n{stack.diagnostics()}",
        interval=0.25,
    )
    stack.wait_idle()  # the seed's own tasks (the instructor's post XP)
    return stack


# --- Faults ---------------------------------------------------------------------------------


def kill_web_worker(stack: FaultStack) -> int:
    """SIGKILL one gunicorn worker (not the master), as the OOM killer would."""
    victim = stack.web_workers()[0]
    os.kill(victim, signal.SIGKILL)
    return victim


def terminate_app_connections(stack: FaultStack) -> int:
    """pg_terminate_backend for every session on the stack's database (from the maintenance
    database, which keeps accepting sessions when the app's does not)."""
    with stack.pg.connect() as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [stack.database],
            ).fetchall()
        )


def health_reports(stack: FaultStack, check: str, since: float) -> Answer:
    """Probe /health/ready/ until it answers 503 naming `check` as not ok, or until
    HEALTH_REPORT_SECONDS after `since` (time.monotonic() when the fault began) have passed.
    Returns the last answer; its `seconds` is measured from `since`."""
    answer = Answer("GET /health/ready/", None, 0.0, error="not probed")
    deadline = since + HEALTH_REPORT_SECONDS
    for _ in range(50):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        answer = stack.health(timeout=remaining + 0.05)
        answer.seconds = time.monotonic() - since
        checks = answer.body.get("checks", {}) if isinstance(answer.body, dict) else {}
        if answer.status == 503 and checks.get(check, {}).get("status") not in (None, "ok"):
            return answer
        time.sleep(0.05)
    return answer


def health_recovers(stack: FaultStack, timeout: float = 15) -> Answer:
    """/health/ready/ answers 200 again within `timeout` seconds (the answer it gave)."""
    started = time.monotonic()
    answer = stack.health()
    while answer.status != 200 and time.monotonic() - started < timeout:
        time.sleep(0.2)
        answer = stack.health()
    return answer


# --- Recovery -------------------------------------------------------------------------------


def outbox_sweeper_tasks() -> list[str]:
    """The dotted task names of the outbox sweepers declared in settings.PERIODIC_TASKS (the
    entries whose name contains OUTBOX_SWEEPER_NAME: domain events, emails)."""
    return [
        entry["task"]
        for name, entry in sorted(settings.PERIODIC_TASKS.items())
        if OUTBOX_SWEEPER_NAME in name
    ]


def run_outbox_sweeper(stack: FaultStack) -> bool:
    """What beat does after a broker outage, at once: send each outbox sweeper task (see
    outbox_sweeper_tasks) through the broker with `celery call`, then wait until the worker has
    run it and every task it relayed (the broker idle). Returns False, sending nothing, when
    no sweeper is declared.

    Expects each sweeper to be a periodic task in settings.PERIODIC_TASKS with "outbox" in its
    name that takes no arguments and re-sends through the broker what was committed while the
    broker was down and is due (the domain events that award XP and notify, the emails),
    marking it sent so that a second run sends nothing again. Rows become due after a relay
    delay; a module that sweeps at once sets that delay low in its STACK_ENV."""
    tasks = outbox_sweeper_tasks()
    for task in tasks:
        runs_before = stack.worker.log(5_000_000).count(task)
        sent = subprocess.run(
            ["celery", "--app", "lyo", "call", task],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr[-2000:]
        wait_until(
            lambda task=task, runs_before=runs_before: (
                stack.worker.log(5_000_000).count(task) > runs_before
            ),
            timeout=30,
            what=f"the worker to run {task}",
        )
        stack.wait_idle()
    return bool(tasks)


# --- Writes and the side effects they must have ---------------------------------------------


def complete_course(
    stack: FaultStack, learner: Learner, expected: Expected, *, timeout: float = 10
) -> list[Answer]:
    """Complete both lessons of the seeded course; record what each 2xx must cause."""
    answers = []
    course = stack.course
    lessons = course["lessons"]
    for lesson in lessons:
        answer = stack.call(
            "POST /lessons/{id}/complete/",
            "POST",
            f"/api/v1/lessons/{lesson}/complete/",
            headers=learner.auth,
            timeout=timeout,
        )
        answers.append(answer)
        if answer.ok:
            expected.users.add(learner.id)
            expected.xp_keys.add(f"lesson.completed:{learner.id}:{lesson}")
            expected.xp_keys.add(f"achievement:first-lesson:{learner.id}")
            expected.notifications.add(
                (learner.id, None, "achievement", "achievement", "first-lesson")
            )
            if isinstance(answer.body, dict) and answer.body.get("progress_percent") == 100:
                expected.xp_keys.add(f"course.completed:{learner.id}:{course['id']}")
                expected.xp_keys.add(f"achievement:first-course:{learner.id}")
                expected.notifications.add(
                    (learner.id, None, "achievement", "achievement", "first-course")
                )
    return answers


def create_post(
    stack: FaultStack, learner: Learner, body: str, expected: Expected, *, timeout: float = 10
) -> Answer:
    answer = stack.call(
        "POST /posts/",
        "POST",
        "/api/v1/posts/",
        json={"body": body},
        headers=learner.auth,
        timeout=timeout,
    )
    if answer.ok:
        expected.users.add(learner.id)
        expected.xp_keys.add(f"post.created:{learner.id}:{answer.body['id']}")
    return answer


def like_seed_post(stack: FaultStack, learner: Learner, expected: Expected) -> Answer:
    post = stack.seed["post"]
    answer = stack.call(
        "POST /posts/{id}/like/", "POST", f"/api/v1/posts/{post}/like/", headers=learner.auth
    )
    if answer.ok:
        expected.notifications.add(
            (stack.seed["instructor"]["id"], learner.id, "like", "post", post)
        )
    return answer


def register(stack: FaultStack, email: str, expected: Expected) -> Answer:
    answer = stack.call(
        "POST /auth/register/",
        "POST",
        "/api/v1/auth/register/",
        json={"email": email, "password": stack.seed["password"], "display_name": "New One"},
    )
    if answer.ok:
        expected.emails[email] = 1  # the verification email
    return answer


def api_round(
    stack: FaultStack, learner: Learner, expected: Expected, *, timeout: float
) -> list[Answer]:
    """What a client does in a session: browse the catalog, sign in, read its profile, complete
    the course, post, look at the leaderboard and its XP (writes recorded in `expected`)."""
    course = stack.course
    answers = [
        stack.call("GET /courses/", "GET", "/api/v1/courses/", timeout=timeout),
        stack.call(
            "GET /courses/{slug}/", "GET", f"/api/v1/courses/{course['slug']}/", timeout=timeout
        ),
        stack.call(
            "POST /auth/token/",
            "POST",
            "/api/v1/auth/token/",
            json={"email": learner.email, "password": stack.seed["password"]},
            timeout=timeout,
        ),
        stack.call("GET /me/", "GET", "/api/v1/me/", headers=learner.auth, timeout=timeout),
        *complete_course(stack, learner, expected, timeout=timeout),
        create_post(stack, learner, f"Still here {learner.id}", expected, timeout=timeout),
        stack.call(
            "GET /leaderboards/all-time/",
            "GET",
            "/api/v1/leaderboards/all-time/",
            headers=learner.auth,
            timeout=timeout,
        ),
        stack.call(
            "GET /me/gamification/",
            "GET",
            "/api/v1/me/gamification/",
            headers=learner.auth,
            timeout=timeout,
        ),
    ]
    return answers


def side_effect_problems(stack: FaultStack, expected: Expected) -> list[str]:
    """Every way the rows differ from what the committed writes must have caused, exactly
    once each: XP ledger rows, stats equal to the ledger, leaderboards (Redis) equal to the
    ledger, notifications, emails at the SMTP server, and the denormalised counters."""
    problems: list[str] = []
    users = sorted(expected.users)
    keys = dict(
        stack.sql(
            "SELECT source_key, count(*) FROM gamification_xptransaction"
            " WHERE user_id = ANY(%s) GROUP BY source_key",
            [users],
        )
    )
    missing = sorted(expected.xp_keys - set(keys))
    if missing:
        problems.append(f"XP ledger rows missing: {missing}")
    problems += [f"XP {key} awarded {n} times" for key, n in keys.items() if n != 1]

    totals = stack.sql(
        "SELECT s.user_id, s.xp_total, COALESCE(SUM(x.points), 0)"
        " FROM gamification_userstats s"
        " LEFT JOIN gamification_xptransaction x ON x.user_id = s.user_id"
        " WHERE s.user_id = ANY(%s) GROUP BY s.user_id, s.xp_total",
        [users],
    )
    problems += [f"user {u}: xp_total {t} != ledger {s}" for u, t, s in totals if t != s]
    problems += _leaderboard_problems(stack, users)

    achievement_ids = dict(stack.sql("SELECT code, id FROM gamification_achievement"))
    wanted = {
        (recipient, actor, verb, target_type, achievement_ids.get(target, target))
        for recipient, actor, verb, target_type, target in expected.notifications
    }
    recipients = sorted({w[0] for w in wanted})
    found = {
        row[:-1]: row[-1]
        for row in stack.sql(
            "SELECT recipient_id, actor_id, verb, target_type, target_id, count(*)"
            " FROM social_notification WHERE recipient_id = ANY(%s)"
            " GROUP BY recipient_id, actor_id, verb, target_type, target_id",
            [recipients],
        )
    }
    for notification in sorted(wanted):
        if found.get(notification, 0) != 1:
            problems.append(f"notification {notification}: {found.get(notification, 0)} rows")

    for email, count in sorted(expected.emails.items()):
        received = sum(email in message.rcpt_tos for message in stack.smtp.messages)
        if received != count:
            problems.append(f"{email}: {received} emails received, {count} expected")

    problems += [
        f"post {post}: like_count {likes} != {rows} likes"
        for post, likes, rows in stack.sql(
            "SELECT p.id, p.like_count, (SELECT count(*) FROM social_like l WHERE l.post_id = p.id)"
            " FROM social_post p"
        )
        if likes != rows
    ]
    problems += [
        f"course {course}: enrollment_count {count} != {rows} enrollments"
        for course, count, rows in stack.sql(
            "SELECT c.id, c.enrollment_count, (SELECT count(*) FROM courses_enrollment e"
            " WHERE e.course_id = c.id AND e.status <> 'cancelled') FROM courses_course c"
        )
        if count != rows
    ]
    return problems


def _leaderboard_problems(stack: FaultStack, users: list[int]) -> list[str]:
    """Each user's all-time score in the Redis sorted sets (global and the course's), as
    GET /leaderboards/ reads them, against the ledger."""
    course = stack.course["id"]
    ledger = {
        (user, scope): total
        for user, scope, total in stack.sql(
            "SELECT user_id, 'global', SUM(points) FROM gamification_xptransaction"
            " WHERE user_id = ANY(%s) GROUP BY user_id"
            " UNION ALL SELECT user_id, 'course', SUM(points) FROM gamification_xptransaction"
            " WHERE user_id = ANY(%s) AND course_id = %s GROUP BY user_id",
            [users, users, course],
        )
    }
    problems = []
    for (user, scope), total in sorted(ledger.items()):
        name = "lb:all-time:all:" + ("global" if scope == "global" else f"course:{course}")
        try:
            score = stack.cache.command("ZSCORE", name, str(user))
        except Exception as exc:  # reported as a problem like any other
            problems.append(f"leaderboard {name} unreadable: {exc!r}")
            break
        board = int(float(score)) if score is not None else 0
        if board != total:
            problems.append(f"leaderboard {name}: user {user} has {board}, ledger {total}")
    return problems


def settle(
    problems: Callable[[], list[str]], *, timeout: float = 30, interval: float = 0.5
) -> list[str]:
    """Poll `problems()` until it is empty or `timeout` passes; the last list it returned."""
    deadline = time.monotonic() + timeout
    found = problems()
    while found and time.monotonic() < deadline:
        time.sleep(interval)
        found = problems()
    return found


def server_errors(answers: Iterable[Answer]) -> list[str]:
    """The answers that were a 5xx or no answer at all (reset, timeout)."""
    return [str(a) for a in answers if a.status is None or a.status >= 500]
