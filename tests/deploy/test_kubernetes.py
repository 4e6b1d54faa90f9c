"""The Kubernetes manifests (deploy/kubernetes), rendered as an operator renders them (the
production overlay through kustomize), hold the promises docs/operations.md makes. Schema
validation is deploy/kubernetes/check.sh's job (.ci/run); these are the rules a schema cannot
see."""

import shutil
import subprocess

import pytest
import yaml

from tests.deploy.conftest import ROOT

OVERLAY = ROOT / "deploy" / "kubernetes" / "overlays" / "production"


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict]:
    if shutil.which("kustomize"):
        args = ["kustomize", "build", str(OVERLAY)]
    else:
        assert shutil.which("kubectl"), "kubectl (or kustomize) renders the manifests"
        args = ["kubectl", "kustomize", str(OVERLAY)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    assert result.stderr == "", result.stderr  # kustomize warnings fail the render
    return {
        (doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(result.stdout)
    }


def _pod_spec(resource: dict) -> dict:
    return resource["spec"]["template"]["spec"]


def _workloads(rendered) -> dict[str, dict]:
    return {name: r for (kind, name), r in rendered.items() if kind in {"Deployment", "Job"}}


def test_every_pod_runs_the_one_image_unprivileged_with_bounded_resources(rendered):
    images = set()
    for name, workload in _workloads(rendered).items():
        spec = _pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["serviceAccountName"] == "lyo", name
        for container in spec.get("initContainers", []) + spec["containers"]:
            images.add(container["image"])
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, name
            assert container["resources"]["limits"].keys() >= {"cpu", "memory"}, name
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            # Secrets come from the Secret made from the environment, never from the manifests.
            refs = {ref.get("secretRef", {}).get("name") for ref in container["envFrom"]}
            assert "lyo-secrets" in refs, name
    assert images == {"ghcr.io/lyo/lyo:latest"}
    assert not [key for key in rendered if key[0] == "Secret"]
    assert rendered[("ServiceAccount", "lyo")]["automountServiceAccountToken"] is False


def test_migrations_run_in_the_release_job_before_app_pods_start(rendered):
    job = rendered[("Job", "lyo-release")]
    (container,) = _pod_spec(job)["containers"]
    assert "migrate --noinput" in " ".join(container["args"])
    assert _pod_spec(job)["restartPolicy"] == "Never"
    for name in ("lyo-web", "lyo-worker", "lyo-beat"):
        (init,) = _pod_spec(rendered[("Deployment", name)])["initContainers"]
        assert "migrate --check" in " ".join(init["args"]), name
    for name in ("lyo-web", "lyo-worker"):
        strategy = rendered[("Deployment", name)]["spec"]["strategy"]
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0, name


def test_web_probes_use_the_health_endpoints(rendered):
    (web,) = _pod_spec(rendered[("Deployment", "lyo-web")])["containers"]
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live/"
    assert web["startupProbe"]["httpGet"]["path"] == "/health/live/"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready/"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        host = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}["Host"]
        allowed = rendered[("ConfigMap", "lyo-config")]["data"]["DJANGO_ALLOWED_HOSTS"]
        assert host in allowed.split(","), probe


def test_exactly_one_beat_and_autoscaled_web_and_worker(rendered):
    beat = rendered[("Deployment", "lyo-beat")]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    hpas = {
        r["spec"]["scaleTargetRef"]["name"]
        for (k, _), r in rendered.items()
        if k == "HorizontalPodAutoscaler"
    }
    assert hpas == {"lyo-web", "lyo-worker"}
    for name in hpas:  # the autoscaler owns the count: a fixed one would fight it on apply
        assert "replicas" not in rendered[("Deployment", name)]["spec"], name
    assert ("PodDisruptionBudget", "lyo-beat") not in rendered


def test_disruption_budgets_and_policies_select_real_pods(rendered):
    def pods_of(selector: dict) -> set[str]:
        return {
            name
            for (kind, name), r in rendered.items()
            if kind == "Deployment"
            and selector.items() <= r["spec"]["template"]["metadata"]["labels"].items()
        }

    for name in ("lyo-web", "lyo-worker"):
        budget = rendered[("PodDisruptionBudget", name)]
        assert pods_of(budget["spec"]["selector"]["matchLabels"]) == {name}
    deny = rendered[("NetworkPolicy", "lyo-default-deny")]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    web_ingress = rendered[("NetworkPolicy", "lyo-web-ingress")]["spec"]
    assert pods_of(web_ingress["podSelector"]["matchLabels"]) == {"lyo-web"}
    assert {p["port"] for rule in web_ingress["ingress"] for p in rule["ports"]} == {8000}


def test_ingress_serves_tls_with_a_cert_manager_certificate(rendered):
    ingress = rendered[("Ingress", "lyo")]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"]
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "lyo-web"
    assert ("Service", "lyo-web") in rendered


def test_the_ingress_names_the_cluster_issuer_the_repository_ships(rendered):
    issuer = yaml.safe_load(
        (ROOT / "deploy" / "kubernetes" / "cert-manager" / "cluster-issuer.yaml").read_text()
    )
    annotations = rendered[("Ingress", "lyo")]["metadata"]["annotations"]
    assert issuer["kind"] == "ClusterIssuer"
    assert annotations["cert-manager.io/cluster-issuer"] == issuer["metadata"]["name"]
    (solver,) = issuer["spec"]["acme"]["solvers"]
    assert (
        solver["http01"]["ingress"]["ingressClassName"]
        == (rendered[("Ingress", "lyo")]["spec"]["ingressClassName"])
    )
