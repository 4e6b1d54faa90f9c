"""gunicorn settings shared by the Procfile, the Dockerfile and the compose file.

Every knob can be changed with an environment variable (GUNICORN_*); the defaults suit one
container behind nginx. Logs are JSON lines like Django's (apps.core.logging), so one log
pipeline reads both.
"""

import math
import os
from pathlib import Path

from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs a cgroup CPU quota allows (`docker run --cpus`, compose `cpus:`), None without one.

    cgroup v2 has `cpu.max` ("<quota> <period>" or "max <period>"); cgroup v1 (and the v1 half
    of a hybrid host) has `cpu.cfs_quota_us` (-1 for none) and `cpu.cfs_period_us` in the cpu
    controller's folder, which Docker and runc mount as cpu,cpuacct with a `cpu` link to it."""
    limits = []
    try:
        quota, period = (root / "cpu.max").read_text().split()
        if quota != "max":
            limits.append(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    for controller in ("cpu", "cpu,cpuacct"):
        try:
            quota = int((root / controller / "cpu.cfs_quota_us").read_text())
            period = int((root / controller / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        if quota > 0 and period > 0:
            limits.append(quota / period)
        break  # cpu is usually a link to cpu,cpuacct: one answer
    return min(limits) if limits else None


def _available_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup CPU quota,
    which multiprocessing.cpu_count() ignores."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(cpus, 1)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# (2 x CPUs) + 1 sync workers, the usual rule for I/O-bound Django; capped so a big host does
# not open more PostgreSQL connections than the server allows (each worker keeps one).
workers = _int("GUNICORN_WORKERS", min(2 * _available_cpus() + 1, _int("GUNICORN_MAX_WORKERS", 12)))
threads = _int("GUNICORN_THREADS", 1)  # >1 switches to the gthread worker
timeout = _int("GUNICORN_TIMEOUT", 30)  # a request running longer is killed (and logged)
# SIGTERM/HUP: workers finish their requests for up to this long before being killed. Keep it
# below the container's stop grace period (compose stop_grace_period: 45s).
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Only the gthread worker keeps connections alive; nginx's upstream keepalive_timeout (4s) is
# shorter, so nginx never reuses a connection gunicorn is about to close.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never takes a node down; jitter avoids a herd.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Requests nginx has not finished sending are its job; keep gunicorn's own limits strict.
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 8190)
limit_request_fields = _int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers under I/O pressure.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Whose X-Forwarded-* gunicorn believes for wsgi.url_scheme: the same proxies as Django's
# LYO_TRUSTED_PROXIES (apps.core.http drops those headers from anyone else). Never "*": a
# request reaching a replica directly would choose its own scheme.
forwarded_allow_ips = os.environ.get(
    "GUNICORN_FORWARDED_ALLOW_IPS", os.environ.get("LYO_TRUSTED_PROXIES", "127.0.0.1")
)
proc_name = os.environ.get("GUNICORN_PROC_NAME", "lyo-web")
# gunicorn's control socket (gunicornc) defaults to a file in $HOME, which is read-only in the
# container and shared by every gunicorn of a user: off unless a path is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "1") == "1" else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


class JsonLogger(glogging.Logger):
    """gunicorn's error and access logs as JSON lines (values escaped, unlike a format string)."""

    formatter = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(self.formatter)

    def access(self, resp, req, environ, request_time):
        if not getattr(self, "access_log_enabled", True):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in resp.headers}
        self.access_log.info(
            "access",
            extra={
                "remote": environ.get("REMOTE_ADDR"),
                "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING") or None,
                "status": int(status),
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "request_id": headers.get("x-request-id") or environ.get("HTTP_X_REQUEST_ID"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "pid": os.getpid(),
            },
        )


logger_class = JsonLogger


def on_starting(server):
    # Prometheus multiprocess mode keeps one file per worker; start from a clean directory so
    # a restarted container does not report the previous run's gauges and counters.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    # A dead worker's live gauges must stop counting (its counters stay, as they should).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
