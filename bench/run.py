"""`make bench`: seed, serve with gunicorn, load with wrk, compare with the baseline.

Steps: a private Redis on 127.0.0.1:6391 (so nothing here touches other runs' Redis); the
full-size database (`lyo_bench`, scale 1) and a 10x smaller one (`lyo_bench_small`, scale 0.1),
created, migrated and seeded when needed (bench/seed.py); leaderboards rebuilt from each ledger
(`manage.py rebuild_leaderboards`); request lists written (bench/workload.py); two gunicorn
servers with production settings (bench/settings.py), 2 x cores + 1 sync workers each; then
wrk at a fixed concurrency, one endpoint at a time (warm-up, then the measured window):

1. the main table, on the full dataset: each endpoint, reads before writes, with the baseline
   (a bare Django view doing one primary-key query) measured before and after each one;
   requests/s, p50, p99, errors and throughput as a ratio to the adjacent baseline runs;
2. the scale run: each read endpoint on the small then the full dataset, back to back, and
   the p50 latency ratio full / small.

3. the in-process cost: median time per request of each endpoint served in one process with
   no concurrency (bench/profile.py), and SQL queries per request: a second, much less
   noise-sensitive view of the same ratios when other work shares the machine.

Results: a table on stdout, JSON in bench/results/ (gitignored). Exit status 0 unless
--strict (or BENCH_STRICT=1) and a target is missed.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6391"))
FULL = {"database": "lyo_bench", "scale": 1.0, "port": 8781, "redis_db": 0}
SMALL = {"database": "lyo_bench_small", "scale": 0.1, "port": 8782, "redis_db": 1}

# name -> (label, kind, target ratio of the baseline's requests/s)
ENDPOINTS = {
    "baseline": ("GET /bench/baseline/{id}/ (bare view)", "read", None),
    "courses_list": ("GET /api/v1/courses/", "read", 0.6),
    "course_detail": ("GET /api/v1/courses/{slug}/", "read", 0.6),
    "feed": ("GET /api/v1/feed/", "read", 0.5),
    "leaderboard_weekly": ("GET /api/v1/leaderboards/weekly/", "read", 0.7),
    "me_gamification": ("GET /api/v1/me/gamification/", "read", 0.7),
    "lesson_complete": ("POST /api/v1/lessons/{id}/complete/", "write", 0.35),
    "post_like": ("POST /api/v1/posts/{id}/like/", "write", 0.35),
}
P99_OVER_P50_MAX = 4.0
SCALE_RATIO_MAX = 1.3


@dataclass
class Measurement:
    endpoint: str
    dataset: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    statuses: dict = field(default_factory=dict)
    wrapped: int = 0


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def run(cmd: list[str], env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, **(env or {})}, **kwargs)  # noqa: S603


# --- Services ----------------------------------------------------------------------------------


def redis_ping() -> bool:
    probe = subprocess.run(  # noqa: S603
        ["redis-cli", "-p", str(REDIS_PORT), "ping"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() == "PONG"


def redis_start() -> bool:
    """Start the bench's own Redis unless it already runs; True when this call started it."""
    if redis_ping():
        return False
    run(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(RESULTS),
            "--logfile",
            str(RESULTS / "redis.log"),
        ]
    )
    for _ in range(50):
        if redis_ping():
            return True
        time.sleep(0.1)
    raise RuntimeError(f"Redis did not start on port {REDIS_PORT}")


def redis_stop() -> None:
    subprocess.run(  # noqa: S603
        ["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"],  # noqa: S607
        capture_output=True,
        check=False,
    )


def django_env(dataset: dict) -> dict:
    from bench.seed import database_url

    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DATABASE_URL": database_url(dataset["database"]),
        "BENCH_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/{dataset['redis_db']}",
    }


class Server:
    """gunicorn with the repository's production config, on loopback."""

    def __init__(self, dataset: dict, workers: int):
        self.dataset = dataset
        self.workers = workers
        self.port = dataset["port"]
        self.process: subprocess.Popen | None = None
        self.log_path = RESULTS / f"gunicorn-{dataset['database']}.log"

    def __enter__(self):
        prometheus_dir = RESULTS / f"prometheus-{self.port}"
        shutil.rmtree(prometheus_dir, ignore_errors=True)
        prometheus_dir.mkdir(parents=True)
        env = {
            **os.environ,
            **django_env(self.dataset),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            # Recycling a worker mid-window would show up as a p99 spike of the benchmark,
            # not of the endpoint.
            "GUNICORN_MAX_REQUESTS": "0",
            "GUNICORN_ACCESS_LOG": "0",  # Lyo's own access log (middleware) still runs
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus_dir),
        }
        handle = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "lyo.wsgi:application",
                "--config",
                "docker/gunicorn.conf.py",
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        url = f"http://127.0.0.1:{self.port}/health/live/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer on {url}; see {self.log_path}")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def error_lines(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if '"level": "ERROR"' in line or "Traceback" in line]


# --- Load --------------------------------------------------------------------------------------


def wrk(port: int, requests_file: Path, seconds: float, concurrency: int) -> dict:
    cmd = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "wrk" / "rotate.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        str(requests_file),
        "1",
    ]
    output = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"wrk printed no result:\n{output}")


def measure(name: str, dataset: dict, work: Path, args) -> Measurement:
    # Reads warm up on the very requests they are measured with (the same active users and
    # pages), so per-user caches are in the state they have for people using the app (their
    # entries live for minutes); the cold first request of each user is costed separately in
    # the README. Writes warm up on their own fresh work (a write is never repeated).
    read = ENDPOINTS.get(name, ("", "read"))[1] == "read"
    warmup = work / f"{name}.{'measure' if read else 'warmup'}.tsv"
    wrk(dataset["port"], warmup, args.warmup, args.concurrency)
    raw = wrk(dataset["port"], work / f"{name}.measure.tsv", args.duration, args.concurrency)
    seconds = raw["duration_us"] / 1e6
    socket_errors = sum(raw["socket_errors"].values())
    result = Measurement(
        endpoint=name,
        dataset=dataset["database"],
        requests=raw["requests"],
        seconds=round(seconds, 2),
        rps=round(raw["requests"] / seconds, 1),
        p50_ms=raw["latency_us"]["p50"] / 1000,
        p90_ms=raw["latency_us"]["p90"] / 1000,
        p99_ms=raw["latency_us"]["p99"] / 1000,
        max_ms=raw["latency_us"]["max"] / 1000,
        errors=raw["status_errors"] + socket_errors,
        statuses=raw["statuses"],
        wrapped=raw["wrapped"],
    )
    log(
        f"{name:<20} {dataset['database']:<16} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f}"
        f" ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}  statuses {result.statuses}"
    )
    return result


# --- Report ------------------------------------------------------------------------------------


def evaluate(main, adjacent: dict[str, float], scale: dict[str, tuple], costs: dict):
    rows, misses = [], []
    base_cost = costs.get("baseline", {}).get("median_ms")
    for name, (label, _kind, target) in ENDPOINTS.items():
        if name not in main:
            continue
        m = main[name]
        baseline_rps = adjacent.get(name) or m.rps
        ratio = m.rps / baseline_rps if baseline_rps else 0.0
        tail = m.p99_ms / m.p50_ms if m.p50_ms else 0.0
        cost = costs.get(name, {}).get("median_ms")
        checks = []
        if target is not None and ratio < target:
            checks.append(f"throughput {ratio:.2f}x < {target}x")
        if m.errors:
            checks.append(f"{m.errors} errors")
        if tail > P99_OVER_P50_MAX:
            checks.append(f"p99/p50 {tail:.1f} > {P99_OVER_P50_MAX}")
        if name in scale and name != "baseline":
            _, _, latency_ratio = scale[name]
            if latency_ratio > SCALE_RATIO_MAX:
                checks.append(f"scale {latency_ratio:.2f} > {SCALE_RATIO_MAX}")
        misses += [f"{name}: {c}" for c in checks]
        rows.append(
            {
                "endpoint": name,
                "label": label,
                "rps": m.rps,
                "baseline_rps": round(baseline_rps, 1),
                "ratio": round(ratio, 2),
                "target": target,
                "p50_ms": m.p50_ms,
                "p99_ms": m.p99_ms,
                "p99_over_p50": round(tail, 2),
                "errors": m.errors,
                "scale_ratio": round(scale[name][2], 2) if name in scale else None,
                "cost_ms": cost,
                "cost_ratio": round(base_cost / cost, 2) if cost and base_cost else None,
                "queries": costs.get(name, {}).get("queries"),
                "verdict": "ok" if not checks else "; ".join(checks),
            }
        )
    return rows, misses


def print_table(
    rows: list[dict], baseline_runs: list[Measurement], scale: dict, costs: dict, small: dict
) -> str:
    header = (
        f"{'endpoint':<38} {'req/s':>7} {'x base':>6} {'target':>6} {'p50 ms':>7}"
        f" {'p99 ms':>7} {'p99/p50':>7} {'errors':>6} {'scale':>5} {'cost ms':>7} {'cost x':>6}"
        f" {'SQL':>4}  verdict"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        target = f">={row['target']}" if row["target"] else ""
        scale_ratio = f"{row['scale_ratio']:.2f}" if row["scale_ratio"] is not None else ""
        cost = f"{row['cost_ms']:.2f}" if row["cost_ms"] is not None else ""
        cost_ratio = f"{row['cost_ratio']:.2f}" if row["cost_ratio"] is not None else ""
        queries = f"{row['queries']:g}" if row["queries"] is not None else ""
        lines.append(
            f"{row['label']:<38} {row['rps']:>7.1f} {row['ratio']:>6.2f} {target:>6}"
            f" {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['p99_over_p50']:>7.2f}"
            f" {row['errors']:>6} {scale_ratio:>5} {cost:>7} {cost_ratio:>6} {queries:>4}"
            f"  {row['verdict']}"
        )
    runs = ", ".join(f"{m.rps:.0f}" for m in baseline_runs)
    lines += [
        f"baseline req/s, measured before and after every endpoint: {runs}",
        "x base = req/s / mean of the baseline runs just before and after that endpoint.",
        "cost ms = median server time per request in one process without concurrency;"
        " cost x = baseline cost / endpoint cost (less disturbed by other load). SQL = queries"
        " per request, transaction BEGIN/COMMIT included.",
    ]
    if scale:
        lines.append("")
        lines.append(
            f"{'scale run':<38} {'p50 small':>9} {'p50 full':>9} {'full/small':>10}"
            f" {'cost small':>10} {'cost full':>9} {'full/small':>10}"
        )
        for name, (small_run, full_run, latency_ratio) in scale.items():
            cost_small = small.get(name, {}).get("median_ms")
            cost_full = costs.get(name, {}).get("median_ms")
            cost_ratio = f"{cost_full / cost_small:.2f}" if cost_small and cost_full else ""
            lines.append(
                f"{ENDPOINTS[name][0]:<38} {small_run.p50_ms:>9.2f} {full_run.p50_ms:>9.2f}"
                f" {latency_ratio:>10.2f} {cost_small or 0:>10.2f} {cost_full or 0:>9.2f}"
                f" {cost_ratio:>10}"
            )
        lines.append(
            f"(target: p50 full/small <= {SCALE_RATIO_MAX} for every API read; the in-process"
            " cost ratio is the same question with less noise)"
        )
    text = "\n".join(lines)
    print("\n" + text + "\n", flush=True)
    return text


def markdown(rows: list[dict], scale: dict, baseline_runs: list[Measurement]) -> str:
    """The README's table (README "Performance"), ready to paste."""
    lines = [
        "| endpoint | req/s | x base (target) | p50 ms | p99 ms | errors | full/small p50"
        " | cost ms | cost x | SQL |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        target = f" ({row['target']})" if row["target"] else ""
        scale_ratio = f"{row['scale_ratio']:.2f}" if row["scale_ratio"] is not None else ""
        cost = f"{row['cost_ms']:.1f}" if row["cost_ms"] is not None else ""
        cost_ratio = f"{row['cost_ratio']:.2f}" if row["cost_ratio"] is not None else ""
        queries = f"{row['queries']:g}" if row["queries"] is not None else ""
        lines.append(
            f"| {row['label']} | {row['rps']:.0f} | {row['ratio']:.2f}{target}"
            f" | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['errors']} | {scale_ratio}"
            f" | {cost} | {cost_ratio} | {queries} |"
        )
    low, high = min(m.rps for m in baseline_runs), max(m.rps for m in baseline_runs)
    lines.append("")
    lines.append(f"Baseline runs in this measurement: {low:.0f} to {high:.0f} req/s.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lyo load benchmark (see bench/run.py)")
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("BENCH_SECONDS", 10))
    )
    parser.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", 8)))
    parser.add_argument(
        "--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", 10))
    )
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--only", nargs="*", help="endpoints to run (default: all)")
    parser.add_argument("--skip-scale", action="store_true", help="no small-dataset comparison")
    parser.add_argument("--reseed", action="store_true", help="drop and refill both databases")
    parser.add_argument(
        "--strict", action="store_true", default=bool(os.environ.get("BENCH_STRICT"))
    )
    args = parser.parse_args(argv)

    if not shutil.which("wrk"):
        log("wrk is not installed (apt-get install wrk)")
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    names = [n for n in ENDPOINTS if not args.only or n in args.only or n == "baseline"]
    started_at = datetime.now(UTC)
    began = time.monotonic()
    load_before = os.getloadavg()

    started_redis = redis_start()
    try:
        datasets = [FULL] if args.skip_scale else [FULL, SMALL]
        for dataset in datasets:
            seed_cmd = [PYTHON, "-m", "bench.seed", "--database", dataset["database"]]
            seed_cmd += ["--scale", str(dataset["scale"])] + (["--force"] if args.reseed else [])
            run(seed_cmd)
            run(["redis-cli", "-p", str(REDIS_PORT), "-n", str(dataset["redis_db"]), "flushdb"])
            run([PYTHON, "manage.py", "rebuild_leaderboards"], env=django_env(dataset))
            work = RESULTS / "work" / dataset["database"]
            shutil.rmtree(work, ignore_errors=True)
            workload = [PYTHON, "-m", "bench.workload", "--database", dataset["database"]]
            workload += ["--out", str(work)] + (["--writes"] if dataset is FULL else [])
            run(workload)

        main_results: dict[str, Measurement] = {}
        baseline_runs: list[Measurement] = []
        adjacent: dict[str, float] = {}
        scale: dict[str, tuple] = {}
        errors_logged: list[str] = []
        full_work = RESULTS / "work" / FULL["database"]
        small_work = RESULTS / "work" / SMALL["database"]
        with Server(FULL, args.workers) as full_server:
            log(f"gunicorn ({args.workers} workers) on :{FULL['port']}; wrk -c{args.concurrency}")
            # The baseline before and after every endpoint: each ratio compares numbers taken
            # within a minute of each other, so slow drifts of the machine's load cancel out.
            baseline_runs.append(measure("baseline", FULL, full_work, args))
            for name in names:
                if name == "baseline":
                    continue
                main_results[name] = measure(name, FULL, full_work, args)
                baseline_runs.append(measure("baseline", FULL, full_work, args))
                adjacent[name] = (baseline_runs[-2].rps + baseline_runs[-1].rps) / 2
            if not args.skip_scale:
                with Server(SMALL, args.workers) as small_server:
                    for name in names:
                        if ENDPOINTS[name][1] != "read":
                            continue
                        small = measure(name, SMALL, small_work, args)
                        full = measure(name, FULL, full_work, args)
                        scale[name] = (small, full, full.p50_ms / max(small.p50_ms, 1e-6))
                    errors_logged += small_server.error_lines()
            errors_logged += full_server.error_lines()
        # In-process cost per request (no server, no concurrency): bench/profile.py.
        costs_path = RESULTS / "costs.json"
        costs_path.unlink(missing_ok=True)
        run(
            [
                *(PYTHON, "-m", "bench.profile", "--no-profile", "--requests", "200"),
                *("--json", str(costs_path), *names),
            ],
            env={**django_env(FULL), "DJANGO_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
        )
        costs = json.loads(costs_path.read_text()) if costs_path.exists() else {}
        small_costs: dict = {}
        if not args.skip_scale:
            small_path = RESULTS / "costs-small.json"
            small_path.unlink(missing_ok=True)
            reads = [n for n in names if ENDPOINTS[n][1] == "read"]
            run(
                [
                    *(PYTHON, "-m", "bench.profile", "--no-profile", "--requests", "200"),
                    *("--database", SMALL["database"], "--redis-db", str(SMALL["redis_db"])),
                    *("--json", str(small_path), *reads),
                ],
                env={**django_env(SMALL), "DJANGO_LOG_LEVEL": "WARNING"},
                stdout=subprocess.DEVNULL,
            )
            small_costs = json.loads(small_path.read_text()) if small_path.exists() else {}
    finally:
        if started_redis:
            redis_stop()

    baseline_rps = sum(m.rps for m in baseline_runs) / len(baseline_runs)
    typical = sorted(baseline_runs, key=lambda m: m.rps)[len(baseline_runs) // 2]
    main_results = {
        "baseline": Measurement(**{**asdict(typical), "rps": round(baseline_rps, 1)}),
        **main_results,
    }
    adjacent["baseline"] = baseline_rps
    rows, misses = evaluate(main_results, adjacent, scale, costs)
    table = print_table(rows, baseline_runs, scale, costs, small_costs)
    if errors_logged:
        log(f"{len(errors_logged)} server error log lines, first: {errors_logged[0][:300]}")
    report = {
        "started_at": started_at.isoformat(),
        "seconds_total": round(time.monotonic() - began, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "gunicorn_workers": args.workers,
        },
        "targets": {
            "ratio": {n: t for n, (_, _, t) in ENDPOINTS.items() if t},
            "p99_over_p50_max": P99_OVER_P50_MAX,
            "scale_ratio_max": SCALE_RATIO_MAX,
            "errors": 0,
        },
        "rows": rows,
        "baseline_runs": [asdict(m) for m in baseline_runs],
        "measurements": {n: asdict(m) for n, m in main_results.items()},
        "in_process_costs": costs,
        "in_process_costs_small": small_costs,
        "scale": {
            n: {"small": asdict(s), "full": asdict(f), "p50_ratio": round(r, 3)}
            for n, (s, f, r) in scale.items()
        },
        "server_error_lines": errors_logged[:50],
        "misses": misses,
        "table": table,
    }
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / "latest.md").write_text(markdown(rows, scale, baseline_runs))
    log(f"results: bench/results/bench-{stamp}.json (also latest.json, latest.md)")
    log(
        f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
        " (other work on the machine makes every number noisy)"
    )
    if misses:
        log("targets missed: " + "; ".join(misses))
    else:
        log("every target met")
    return 1 if (misses and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
