"""Fault: one gunicorn worker (not the master) is SIGKILLed while two clients write as fast as
they can. The master starts a new worker; the request the dead one was serving gets no answer
(its transaction never committed, or committed unanswered), every other request is served by
the other worker, and no write that was answered 2xx is lost."""

import threading
import time

from tests.faults import harness
from tests.faults.harness import Answer, Expected, FaultStack
from tests.processes import wait_until

CLIENTS = 2
REQUESTS_PER_CLIENT = 30
LOAD_SECONDS = 40  # bound on the whole loop, whatever happens


def test_a_killed_web_worker_is_replaced_and_no_answered_write_is_lost(stack: FaultStack):
    learners = stack.learners(CLIENTS)
    master = stack.web.popen.pid
    before = stack.web_workers()
    assert len(before) == 2
    results: list[tuple[str, Answer, float]] = []  # (body, answer, when it was sent)
    lock = threading.Lock()
    deadline = time.monotonic() + LOAD_SECONDS

    def client(number: int) -> None:
        learner = learners[number]
        for index in range(REQUESTS_PER_CLIENT):
            if time.monotonic() > deadline:
                return
            body = f"load {number}-{index}"
            sent = time.monotonic()
            answer = harness.create_post(stack, learner, body, Expected())
            with lock:
                results.append((body, answer, sent))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(results) >= 10, timeout=30, what="the load to get going")
    victim = harness.kill_web_worker(stack)
    killed_at = time.monotonic()
    for thread in threads:
        thread.join(LOAD_SECONDS + 15)
    assert not any(thread.is_alive() for thread in threads)

    # The master lives and has two workers again, the dead one replaced.
    assert stack.web.alive and stack.web.popen.pid == master
    workers = wait_until(
        lambda: len(w := stack.web_workers()) == 2 and victim not in w and w,
        timeout=30,
        what="gunicorn to replace the killed worker",
    )
    assert victim not in workers

    failed = [(body, str(answer)) for body, answer, _ in results if not answer.ok]
    # Only what the dead worker was serving went unanswered: one request at most per client.
    assert len(failed) <= CLIENTS, failed
    assert all(answer.status is None for _, answer, _ in results if not answer.ok), failed
    # After the blip, every request succeeds (the last few of each client, and new ones).
    late = [str(a) for _, a, sent in results if sent > killed_at + 1 and not a.ok]
    assert late == []
    after = [harness.create_post(stack, learners[0], f"after {n}", Expected()) for n in range(6)]
    assert all(a.ok for a in after), "\n".join(map(str, after))

    # No write answered 2xx is lost, none is stored twice; an unanswered one may have committed.
    rows = dict(
        stack.sql(
            "SELECT body, count(*) FROM social_post WHERE author_id = ANY(%s) GROUP BY body",
            [[learner.id for learner in learners]],
        )
    )
    answered = {body for body, answer, _ in results if answer.ok}
    lost = sorted(body for body in answered if rows.get(body, 0) != 1)
    assert lost == []
    assert all(count == 1 for count in rows.values()), rows
    unanswered_committed = [body for body, _ in failed if body in rows]
    assert len(unanswered_committed) <= len(failed)

    # Their side effects: stats equal to the ledger, leaderboards to the ledger, counters.
    expected = Expected(users={learner.id for learner in learners})
    stack.wait_idle()
    problems = harness.settle(lambda: harness.side_effect_problems(stack, expected))
    assert problems == [], "\n".join(problems)
