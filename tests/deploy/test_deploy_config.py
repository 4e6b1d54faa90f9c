"""The deployment files agree with each other and with the settings (no Docker engine needed;
.ci/run also validates them with `docker compose config`, the compose-spec schema, promtool and
actionlint)."""

import re
import subprocess

import pytest
import yaml

from tests.deploy.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.production.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat", "release")
EXAMPLE = ROOT / ".env.production.example"


def example_env() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def required_production_variables() -> set[str]:
    """env("NAME") / env.list("NAME") calls without a default in the production settings."""
    source = (ROOT / "lyo" / "settings" / "production.py").read_text()
    required = set()
    for match in re.finditer(r"env(?:\.\w+)?\(\s*\"([A-Z0-9_]+)\"\s*(,[^)]*)?\)", source):
        if not match.group(2) or "default" not in match.group(2):
            required.add(match.group(1))
    return required


def test_the_env_example_holds_placeholders_only():
    secret_like = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY|DSN|ACCESS_KEY")
    for name, value in example_env().items():
        if secret_like.search(name):
            assert value == "" or "CHANGE_ME" in value, f"{name} must be a placeholder"


def test_the_real_env_file_is_never_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env.production"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
    assert ".env" in (ROOT / "docker" / "Dockerfile.dockerignore").read_text()


def test_every_required_production_variable_is_provided():
    provided = set(example_env()) | set(SERVICES["web"]["environment"])
    missing = required_production_variables() - provided
    assert required_production_variables() >= {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    assert not missing, f"set these in .env.production.example or the compose file: {missing}"


def test_every_example_variable_is_documented():
    docs = (ROOT / "README.md").read_text() + (ROOT / "docs" / "operations.md").read_text()
    undocumented = [name for name in example_env() if f"`{name}`" not in docs]
    assert not undocumented, undocumented


def test_compose_runs_two_web_replicas_one_beat_and_everything_is_health_checked():
    assert SERVICES["web"]["deploy"]["replicas"] == 2
    assert SERVICES["beat"]["deploy"]["replicas"] == 1
    for name in ("nginx", "web", "worker", "postgres", "redis"):
        assert "test" in SERVICES[name]["healthcheck"], name
    for name in APP_SERVICES:
        assert SERVICES[name]["env_file"][0]["path"] == "../.env.production"
        assert SERVICES[name]["read_only"] is True
    for volume in ("postgres-data", "redis-data"):
        assert volume in COMPOSE["volumes"]
    assert "ports" not in SERVICES["web"]  # only nginx is published


def test_one_gunicorn_config_for_the_dockerfile_the_procfile_and_compose():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    procfile = (ROOT / "Procfile").read_text()
    assert "docker/gunicorn.conf.py" in procfile
    assert '"--config", "/app/docker/gunicorn.conf.py"' in dockerfile
    assert "/app/docker/gunicorn.conf.py" in SERVICES["web"]["command"]


def test_the_image_is_multi_stage_unprivileged_and_health_checked():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2
    runtime = stages[-1]
    assert "build-essential" not in runtime and "gcc" not in runtime
    assert re.search(r"--uid 10001 --gid lyo", runtime)
    assert re.search(r"^USER 10001:10001$", runtime, flags=re.M)  # lyo, numeric (DL3066)
    assert "HEALTHCHECK" in runtime and "/health/live/" in runtime
    assert "PROMETHEUS_MULTIPROC_DIR=" in runtime
    assert "collectstatic" in runtime
    # the builder's virtualenv, whole: no package index and no pip install in the runtime
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "pip install" not in runtime


def test_nginx_limits_match_the_app():
    http = (ROOT / "docker" / "nginx" / "lyo" / "http.conf").read_text()
    tls = (ROOT / "docker" / "nginx" / "lyo" / "tls.conf").read_text()
    from django.conf import settings

    limit = int(re.search(r"client_max_body_size (\d+)m;", http).group(1)) * 1024 * 1024
    # Bodies Django must see (to answer its own 413) get through; bigger ones stop at nginx.
    assert settings.MAX_REQUEST_BODY_BYTES < limit <= settings.MAX_REQUEST_BODY_BYTES + 2**20
    assert re.search(r"^ssl_protocols TLSv1\.2 TLSv1\.3;$", tls, flags=re.M)


@pytest.mark.parametrize("workflow", ["ci.yml", "deploy.yml"])
def test_workflows_take_secrets_only_from_the_secrets_context(workflow):
    text = (ROOT / ".github" / "workflows" / workflow).read_text()
    assert not re.search(r"(?i)(password|token|key)\s*:\s*['\"]?[A-Za-z0-9+/]{24,}", text)
    assert not re.search(r"-----BEGIN", text)


def test_deploy_workflow_builds_on_version_tags_and_migrates_before_rolling_out():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads on: True
    assert triggers["push"]["tags"] == ["v*"]
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("docker/build-push-action@") for u in uses)
    runs = "\n".join(step.get("run", "") for step in steps)
    assert runs.index("deploy.sh migrate") < runs.index("deploy.sh rollout")


def test_deploy_script_is_valid_shell():
    scripts = sorted((ROOT / "docker").glob("*.sh"))
    assert len(scripts) >= 4
    for script in scripts:
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0, script
