"""Profile endpoints in-process against a seeded bench database (no server, no load).

    python -m bench.profile [--database lyo_bench] [--requests 200] [--html DIR] [name ...]

For each endpoint of bench/run.py (or the names given): SQL queries per request, server time
per request (median, in this process: CPU + database + Redis, no HTTP) and a pyinstrument
profile of the whole loop, printed as text (or written as HTML with --html). Uses the request
lists of the last `make bench` run (bench/results/work/, phase "profile": fresh write work
that the load test did not consume), so run that once first, and the bench's private Redis
(`redis-server --port 6391 --save ""` if it is not running). `make bench` itself runs this
with --no-profile for its "in-process cost" columns: time per request in one process with
no concurrency, which other load on the machine disturbs far less than throughput.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="lyo_bench")
    parser.add_argument("--redis-db", type=int, default=0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--html", help="write one HTML profile per endpoint into this folder")
    parser.add_argument("--no-profile", action="store_true", help="only queries and timings")
    parser.add_argument("--phase", default="profile", help="request list: profile or measure")
    parser.add_argument("--json", help="write {endpoint: {median_ms, queries, ...}} here")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)

    from bench.run import ENDPOINTS, REDIS_PORT
    from bench.seed import database_url

    os.environ["BENCH_DATABASE_URL"] = database_url(args.database)
    os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/{args.redis_db}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    work = ROOT / "bench" / "results" / "work" / args.database
    client = Client(HTTP_HOST="127.0.0.1")
    summary = {}
    for name in args.names or list(ENDPOINTS):
        path = work / f"{name}.{args.phase}.tsv"
        if not path.exists():
            print(f"{name}: no request list at {path} (run `make bench` first)")
            continue
        lines = path.read_text().splitlines()[: args.requests]
        requests = []
        for line in lines:
            method, url, token, *_ = line.split("\t")
            headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
            requests.append((method.lower(), url, headers))
        # Warm caches and connections, uncounted: reads replay the whole list once (as the
        # load test's warm-up does), writes a few requests already done (idempotent repeats).
        warm = requests if ENDPOINTS.get(name, ("", "read"))[1] == "read" else requests[:5]
        for method, url, headers in warm:
            getattr(client, method)(url, **headers)
        timings, queries, statuses = [], [], {}
        profiler = None if args.no_profile else Profiler(interval=0.0005)
        if profiler:
            profiler.start()
        for method, url, headers in requests[5:]:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = getattr(client, method)(url, **headers)
                timings.append(time.perf_counter() - started)
            queries.append(len(captured.captured_queries))
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if profiler:
            profiler.stop()
        print(
            f"\n=== {name}: {len(timings)} requests, median {statistics.median(timings) * 1000:.2f}"
            f" ms, queries/request median {statistics.median(queries)} max {max(queries)},"
            f" statuses {statuses}"
        )
        summary[name] = {
            "requests": len(timings),
            "median_ms": round(statistics.median(timings) * 1000, 3),
            "queries": statistics.median(queries),
            "statuses": statistics_statuses(statuses),
        }
        if profiler and args.html:
            Path(args.html).mkdir(parents=True, exist_ok=True)
            Path(args.html, f"{name}.html").write_text(profiler.output_html())
        elif profiler:
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


def statistics_statuses(statuses: dict) -> dict:
    return {str(code): count for code, count in sorted(statuses.items())}


if __name__ == "__main__":
    sys.exit(main())
