"""The image smoke run (tests/deploy/image_smoke.py, `make image-smoke`) starts its containers
with flags read from docker/compose.production.yml, so the hardening it exercises is the one
production declares; these checks keep that reading honest without a container engine."""

from tests.deploy.image_smoke import compose_services, hardening, interpolate, literal_environment

CONTAINER_TMP = "/tmp"  # noqa: S108 - the containers' tmpfs, not a file of this test


def _pairs(flags: list[str]) -> set[tuple[str, str]]:
    return {(flags[i], flags[i + 1]) for i in range(len(flags) - 1)}


def test_web_runs_with_the_compose_files_hardening_and_limits():
    flags = hardening(compose_services()["web"])
    assert "--read-only" in flags and "--init" in flags
    assert {
        ("--network", "host"),
        ("--tmpfs", CONTAINER_TMP),
        ("--cap-drop", "ALL"),
        ("--security-opt", "no-new-privileges:true"),
        ("--cpus", "1.0"),
        ("--memory", "1g"),
        ("--stop-timeout", "45"),
    } <= _pairs(flags)


def test_every_app_service_is_hardened_alike():
    services = compose_services()
    for name in ("web", "worker", "beat", "release"):
        flags = hardening(services[name])
        assert {"--read-only", "--init"} <= set(flags), name
        assert {("--cap-drop", "ALL"), ("--tmpfs", CONTAINER_TMP)} <= _pairs(flags), name
    assert ("--stop-signal", "SIGTERM") in _pairs(hardening(services["worker"]))


def test_commands_and_environment_as_compose_would_pass_them():
    services = compose_services()
    worker = [
        interpolate(str(part), {"CELERY_CONCURRENCY": "1"})
        for part in services["worker"]["command"]
    ]
    assert "--concurrency=1" in worker and "--hostname=worker@%h" in worker
    assert "--concurrency=2" in [interpolate(str(p), {}) for p in services["worker"]["command"]]
    assert interpolate("ping worker@$$HOSTNAME", {}) == "ping worker@$HOSTNAME"
    web = literal_environment(services["web"])
    assert web["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert web["DJANGO_SETTINGS_MODULE"] == "lyo.settings.production"
    assert "DATABASE_URL" not in web  # ${...} values come from the run's own settings
