"""Fault: the Celery worker is SIGKILLed in the middle of a task (an XP award blocked on its
learner's row, which the test holds locked). Tasks are acknowledged late, so the killed run's
message is not lost: when only the pool process dies, the worker itself requeues it
(task_reject_on_worker_lost); when the whole worker dies, a new worker gets it once the
broker's visibility timeout (LYO_CELERY_VISIBILITY_TIMEOUT, shortened here) has passed. Either
way every award exists exactly once: the ledger's unique source keys absorb the rerun."""

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.deploy.stack import child_pids
from tests.faults import harness
from tests.faults.harness import Expected, FaultStack
from tests.processes import wait_until

VISIBILITY_TIMEOUT = 5
STACK_ENV = {"LYO_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}


@contextmanager
def learner_row_locked(stack: FaultStack, learner_id: int) -> Iterator[None]:
    """Hold the learner's user row (FOR NO KEY UPDATE: inserts referencing it still pass, an
    XP award's SELECT ... FOR UPDATE of it waits) until the block ends."""
    with stack.pg.connect(stack.database) as conn:
        conn.execute(
            "SELECT 1 FROM accounts_user WHERE id = %s FOR NO KEY UPDATE", [learner_id]
        ).fetchall()
        yield
        conn.rollback()


def award_waiting_on_the_lock(stack: FaultStack) -> bool:
    return bool(
        stack.sql(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [stack.database],
        )
    )


def _members(stack: FaultStack) -> list:
    return stack.broker.command("ZRANGE", "unacked_index", "0", "-1")


def test_a_killed_pool_process_has_its_task_run_again_exactly_once(stack: FaultStack):
    (learner,) = stack.learners(1)
    expected = Expected()
    main = stack.worker.popen.pid
    with learner_row_locked(stack, learner.id):
        writes = harness.complete_course(stack, learner, expected)
        assert all(w.ok for w in writes), "\n".join(map(str, writes))
        wait_until(lambda: award_waiting_on_the_lock(stack), timeout=20, what="an award to run")
        (pool_process,) = child_pids(main)
        os.kill(pool_process, signal.SIGKILL)
        wait_until(
            lambda: child_pids(main) and pool_process not in child_pids(main),
            timeout=20,
            what="the worker to replace its pool process",
        )
    assert stack.worker.alive
    stack.wait_idle()
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems) + "\n" + stack.worker.log()


def test_a_killed_worker_has_its_tasks_redelivered_to_a_new_worker_exactly_once(
    stack: FaultStack,
):
    (learner,) = stack.learners(1)
    expected = Expected()
    with learner_row_locked(stack, learner.id):
        writes = harness.complete_course(stack, learner, expected)
        writes.append(harness.register(stack, "after-the-crash@faults.example.com", expected))
        assert all(w.ok for w in writes), "\n".join(map(str, writes))
        wait_until(lambda: award_waiting_on_the_lock(stack), timeout=20, what="an award to run")
        stack.worker.kill(signal.SIGKILL)  # the whole worker: main process and pool
        stack.worker.popen.wait(10)
    # The killed run's message stays delivered-but-unacknowledged; the others wait queued.
    # (kombu's Redis transport: delivery tags scored by delivery time in "unacked_index")
    delivered = stack.broker.command("ZCOUNT", "unacked_index", "-inf", "+inf")
    assert delivered == 1, "the task being run when the worker died was acknowledged (lost)"
    newest = float(stack.broker.command("ZSCORE", "unacked_index", *_members(stack)))
    time.sleep(max(newest + VISIBILITY_TIMEOUT + 0.5 - time.time(), 0))
    stack.start_worker()
    stack.wait_idle(what="the killed worker's task to be redelivered to the new one and run")
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems) + "\n" + stack.worker.log()
