import threading
from collections.abc import Callable

from django.db import connection


def run_concurrently(count: int, work: Callable[[int], object]) -> list:
    """Run work(0..count-1) in `count` real threads released together by a barrier; return
    the results in index order (re-raising the first failure). Each thread closes its own
    database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results
