"""The deployment files, checked without Docker or a cluster.

- docker-compose.yml against the compose-spec JSON schema (check-jsonschema's vendored copy);
- every Kubernetes manifest against the Kubernetes OpenAPI schemas, strictly (kubernetes-validate);
- the Dockerfile with hadolint, the TGI start script with shellcheck;
- and the promises the files make: non-root image, one image for every process, beat a
  singleton, workers autoscaled, training on a GPU node, secrets only as placeholders.

The checkers are dev dependencies that install from PyPI and carry their schemas (or binary),
so this runs offline. Each checker is also shown a broken file, to prove it can fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; install the dev extra: pip install -e '.[dev]'", pytrace=False)
    return str(found)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)


def docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources(kind: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in MANIFESTS:
        for doc in docs(path):
            if doc["kind"] == kind:
                found[doc["metadata"]["name"]] = doc
    return found


# ── schema validation ───────────────────────────────────────────────────────────────
def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_compose(DEPLOY / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_checker_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        (DEPLOY / "docker-compose.yml").read_text().replace("  init: true", "  init: true\n  restarts: 3")
    )
    result = check_compose(broken)
    assert result.returncode != 0 and "restarts" in result.stdout


def check_k8s(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("kubernetes-validate"), "--strict", "--quiet", *map(str, paths))


def test_kubernetes_manifests_match_their_schemas() -> None:
    assert len(MANIFESTS) >= 8
    result = check_k8s(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_checker_rejects_a_broken_manifest(tmp_path: Path) -> None:
    broken = tmp_path / "worker.yaml"
    broken.write_text((K8S / "worker.yaml").read_text().replace("minReplicas: 2", "minReplica: 2"))
    result = check_k8s(broken)
    assert result.returncode != 0 and "minReplica" in result.stdout + result.stderr


def test_dockerfile_passes_hadolint() -> None:
    result = run(tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install flask\n"
    )
    result = run(tool("hadolint"), "--no-color", str(careless))
    assert result.returncode != 0 and "DL3007" in result.stdout  # the :latest tag


def test_tgi_start_script_passes_shellcheck() -> None:
    result = run(tool("shellcheck"), str(DEPLOY / "tgi" / "start.sh"))
    assert result.returncode == 0, result.stdout + result.stderr


# ── what the files promise ──────────────────────────────────────────────────────────
def _final_stage(dockerfile: str) -> list[str]:
    stages = re.split(r"(?m)^FROM ", dockerfile)
    return stages[-1].splitlines()


def test_image_is_slim_and_runs_as_a_non_root_user() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:3\.11-slim", text)
    final = _final_stage(text)
    assert final[0].endswith("AS app"), "the default (last) stage is the application image"
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_every_part_from_one_image() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "slack", "discord", "worker", "beat", "flower", "tgi", "migrate"):
        assert name in services, f"docker-compose.yml has no {name} service"
    ours = {name: s for name, s in services.items() if "build" in s and "train" not in s.get("profiles", [])}
    assert set(ours) == {"migrate", "slack", "discord", "worker", "beat", "flower"}
    assert len({s["image"] for s in ours.values()}) == 1
    assert len({yaml.safe_dump(s["build"]) for s in ours.values()}) == 1
    trainer = services["trainer"]["build"]  # the training variant: same Dockerfile, its `train` target
    assert trainer["dockerfile"] == ours["slack"]["build"]["dockerfile"] and trainer["target"] == "train"


def test_compose_tgi_serves_lora_adapters_from_a_volume() -> None:
    tgi = compose()["services"]["tgi"]
    assert tgi["image"].startswith("ghcr.io/huggingface/text-generation-inference:")
    assert any(v.startswith("adapters:/adapters") for v in tgi["volumes"])
    assert "adapters" in compose()["volumes"]
    script = (DEPLOY / "tgi" / "start.sh").read_text()
    assert "--lora-adapters" in script and tgi["entrypoint"][-1].endswith("tgi-start.sh")


def _launch(tmp_path: Path, adapters: list[str]) -> list[str]:
    """Run start.sh with a stand-in launcher that prints the arguments it was given."""
    launcher = tmp_path / "launcher"
    launcher.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    launcher.chmod(0o755)
    root = tmp_path / "adapters"
    root.mkdir()
    for name in adapters:
        (root / name).mkdir()
        (root / name / "adapter_config.json").write_text("{}")
    (root / "not-an-adapter").mkdir()  # no adapter_config.json: ignored
    result = subprocess.run(
        ["/bin/sh", str(DEPLOY / "tgi" / "start.sh"), "--model-id", "/data/base"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "ADAPTERS_DIR": str(root), "TGI_LAUNCHER": str(launcher)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_tgi_start_script_passes_every_adapter_directory(tmp_path: Path) -> None:
    argv = _launch(tmp_path, ["mb-dpo-v1", "mb-dpo-v2"])
    assert argv[:2] == ["--model-id", "/data/base"]
    listed = argv[argv.index("--lora-adapters") + 1].split(",")
    root = tmp_path / "adapters"
    assert sorted(listed) == [f"mb-dpo-v1={root}/mb-dpo-v1", f"mb-dpo-v2={root}/mb-dpo-v2"]


def test_tgi_start_script_without_adapters_serves_the_base_model(tmp_path: Path) -> None:
    assert _launch(tmp_path, []) == ["--model-id", "/data/base"]


def test_beat_is_a_singleton_replaced_with_recreate() -> None:
    beat = resources("Deployment")["mockingbird-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert "beat" in beat["spec"]["template"]["spec"]["containers"][0]["command"]


def test_workers_are_autoscaled() -> None:
    hpas = resources("HorizontalPodAutoscaler")
    target = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert "mockingbird-worker" in target
    worker = next(h for h in hpas.values() if h["spec"]["scaleTargetRef"]["name"] == "mockingbird-worker")
    assert worker["spec"]["maxReplicas"] > worker["spec"]["minReplicas"] >= 1


def test_training_job_runs_on_a_gpu_node() -> None:
    job = resources("Job")["mockingbird-train"]
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert container["image"].endswith("-train")


def test_deployments_run_as_non_root_with_probes_on_the_ops_port() -> None:
    deployments = resources("Deployment")
    for name in ("mockingbird-slack", "mockingbird-discord", "mockingbird-worker", "mockingbird-beat"):
        pod = deployments[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {"mockingbird-config", "mockingbird-secrets"}
        if name != "mockingbird-beat":
            assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_services_expose_the_slack_http_endpoint_and_metrics() -> None:
    services = resources("Service")
    slack = services["mockingbird-slack"]["spec"]
    assert slack["selector"]["app.kubernetes.io/component"] == "slack"
    metrics = services["mockingbird-metrics"]["spec"]
    assert [p["port"] for p in metrics["ports"]] == [9100]
    assert resources("ConfigMap")["mockingbird-config"]["data"]["METRICS_PORT"] == "9100"


def test_secret_templates_hold_placeholders_only() -> None:
    secrets = resources("Secret")
    assert secrets, "a Secret template exists"
    for secret in secrets.values():
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert values
        for key, value in values.items():
            if key in ("RECRUITERS", "TEAM_LEADS"):
                continue
            assert "CHANGE_ME" in value, f"{key} in the Secret template must be a placeholder"
    config = resources("ConfigMap")["mockingbird-config"]["data"]
    assert not any(re.search(r"TOKEN|SECRET|API_KEY|PASSWORD|DATABASE_URL|REDIS_URL", k) for k in config)


def test_compose_keeps_secrets_out_of_the_file() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert not re.search(r"xox[abp]-|sk-[A-Za-z0-9]{8}|AIza", text)
    for service in compose()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"TOKEN|SECRET|API_KEY|PASSWORD", key):
                assert str(value).startswith("${"), f"{key} must come from the environment"


def test_build_context_holds_only_what_the_image_copies() -> None:
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "everything is excluded first (.venv, data, .env, tests)"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {source.rstrip("/") for line in (DEPLOY / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ") and "--from" not in line for source in line.split()[1:-1]}
    assert copied and copied <= allowed, f"COPY needs {copied - allowed} in Dockerfile.dockerignore"
    assert not {".env", ".venv", "data", "tests"} & allowed
