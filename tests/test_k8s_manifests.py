"""deploy/k8s: valid Kubernetes objects (checked offline against the Kubernetes JSON schemas that
`kubernetes-validate` ships, strict) that agree with the code they deploy: the services, their ports and
health paths, their settings, their migration command and the contract topics. No cluster, no infrastructure.
"""

from __future__ import annotations

import copy
import functools
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import kubernetes_validate
import pytest
import typer
import yaml
from kubernetes_validate import utils as kv_utils

from leadflow_shared.contracts import TOPICS, all_topic_names
from leadflow_shared.health import HealthController
from leadflow_shared.service import Service, discover_services
from leadflow_shared.settings import LeadflowSettings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes the manifests are meant for, and the newest the installed schemas know.
KUBERNETES_VERSIONS = ["1.31", kv_utils.major_minor(kv_utils.latest_version())]
PREFIX = "LEADFLOW_"
CONFIG_MAP = "leadflow-config"
ENV_SECRET = "leadflow-secrets"
STAFF_KEY_SECRET = "leadflow-staff-key"
LIVE = HealthController.path + next(iter(HealthController.live.paths))    # /health/live
READY = HealthController.path + next(iter(HealthController.ready.paths))  # /health/ready

Doc = dict[str, Any]
Services = dict[str, Service[Any, Any]]


# --------------------------------------------------------------------------------------------- loading

def kustomization() -> Doc:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))


def documents() -> list[tuple[str, Doc]]:
    """(file name, object) of every object the kustomization applies; a fresh copy each call."""
    return copy.deepcopy(_documents(K8S))


@functools.cache
def _documents(folder: Path) -> list[tuple[str, Doc]]:
    out = []
    resources = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]
    for path in (folder / name for name in resources):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                out.append((path.name, doc))
    return out


def objects(kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def the(kind: str, name: str) -> Doc:
    found = objects(kind)
    assert name in found, f"no {kind} {name} in deploy/k8s (have: {sorted(found)})"
    return found[name]


def pod_spec(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]


def only_container(workload: Doc) -> Doc:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    return containers[0]


def env_of(container: Doc) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def config() -> dict[str, str]:
    return the("ConfigMap", CONFIG_MAP)["data"]


def config_settings() -> LeadflowSettings:
    """The ConfigMap's values as the services read them (a value that does not parse fails here)."""
    return LeadflowSettings(_env_file=None, **{k[len(PREFIX):].lower(): v for k, v in config().items()})


def secret_keys(name: str) -> set[str]:
    secret = the("Secret", name)
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))


def image_repository(image: str) -> str:
    return image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image


def is_setting(variable: str, settings_class: type[LeadflowSettings]) -> bool:
    """LEADFLOW_<FIELD> of a field of the settings class (pydantic-settings ignores case)."""
    return variable.startswith(PREFIX) and variable[len(PREFIX):].lower() in settings_class.model_fields


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def probe_port(container: Doc, probe: Doc) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"probe port {port!r} names no container port ({named})"
    return named[port]


@pytest.fixture(scope="module")
def services() -> Services:
    found = discover_services()
    on_disk = {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}
    assert found, "no leadflow service installed (entry points `leadflow.services`): run `uv sync`"
    assert set(found) == on_disk, f"installed services {sorted(found)} != services/ {sorted(on_disk)}"
    return found


def subscribed_topics(service: Service[Any, Any]) -> set[str]:
    """The topics a service consumes: its real `subscriptions(container)`, given a stand-in container with
    the service's default settings (building subscriptions does no I/O)."""
    container = MagicMock()
    container.settings = service.settings_class(_env_file=None)
    return {sub.topic.name for sub in service.subscriptions(container)}


# --------------------------------------------------------------------------------------------- schemas

def test_the_kustomization_applies_every_manifest_in_the_folder() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, f"kustomization.yaml resources {sorted(listed)} != files {sorted(on_disk)}"
    assert len(documents()) > 0


def test_the_installed_schemas_include_the_versions_checked() -> None:
    shipped = {kv_utils.major_minor(v) for v in kv_utils.all_versions()}
    assert set(KUBERNETES_VERSIONS) <= shipped, f"kubernetes-validate ships {sorted(shipped)}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_a_valid_kubernetes_object(version: str) -> None:
    problems = []
    for file, doc in documents():
        where = f"{file}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{where}: {exc.message}")
        if "namespace" in doc.get("metadata", {}):
            problems.append(f"{where}: sets a namespace (the set is namespace-agnostic)")
    assert not problems, "\n".join(problems)


def test_the_validator_refuses_what_kubernetes_would() -> None:
    """The check above would pass anything if strict validation did not run: a misspelt field fails."""
    bad = the("Deployment", "leadflow-intake")  # a copy
    only_container(bad)["readinesProbe"] = only_container(bad).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[0], strict=True)


# ------------------------------------------------------------------------------------- the services

def test_every_service_has_a_deployment_on_its_port_with_probes(services: Services) -> None:
    assert (LIVE, READY) == ("/health/live", "/health/ready")
    shutdown_grace = config_settings().shutdown_grace_s
    images = {i["name"] for i in kustomization().get("images", [])}
    for name, service in services.items():
        deployment = the("Deployment", f"leadflow-{name}")
        container = only_container(deployment)
        spec = pod_spec(deployment)
        assert image_repository(container["image"]) == f"leadflow-{name}", container["image"]
        assert f"leadflow-{name}" in images, f"kustomization.yaml sets no image for leadflow-{name}"
        ports = [p["containerPort"] for p in container["ports"]]
        assert ports == [service.http_port], f"{name}: container ports {ports}, not {service.http_port}"
        assert env_of(container).get("LEADFLOW_HTTP_PORT") == str(service.http_port), name
        probes = (("readinessProbe", {READY}), ("livenessProbe", {LIVE}), ("startupProbe", {LIVE, READY}))
        for probe, paths in probes:
            assert probe in container, f"{name}: no {probe}"
            assert container[probe]["httpGet"]["path"] in paths, f"{name}: {probe} on {container[probe]}"
            assert probe_port(container, container[probe]) == service.http_port, f"{name}: {probe} port"
        sources = {(k, v["name"]) for e in container["envFrom"] for k, v in e.items()}
        assert {("configMapRef", CONFIG_MAP), ("secretRef", ENV_SECRET)} <= sources, f"{name}: {sources}"
        # SIGTERM comes after the preStop hook; then uvicorn gives open requests the grace period, and the
        # service's stop takes at most as long again (Runtime.stop).
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pause = float(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0.0
        assert spec["terminationGracePeriodSeconds"] > pause + 2 * shutdown_grace, name
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"].get(part, {})), f"{name}: resources.{part}"


def test_every_service_runs_non_root_on_a_read_only_root(services: Services) -> None:
    for name in services:
        for workload in (the("Deployment", f"leadflow-{name}"), the("Job", f"leadflow-migrate-{name}")):
            spec, container = pod_spec(workload), only_container(workload)
            where = f"{workload['kind']} {workload['metadata']['name']}"
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["runAsUser"] == 10001, where  # deploy/Dockerfile's user
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            volumes = {v["name"]: v for v in spec["volumes"]}
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{where}: /tmp is no emptyDir"


def test_every_service_has_a_cluster_ip_service_and_a_disruption_budget(services: Services) -> None:
    jobs_pods = [j["spec"]["template"]["metadata"]["labels"] for j in objects("Job").values()]
    for name, service in services.items():
        deployment = the("Deployment", f"leadflow-{name}")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels), name
        svc = the("Service", f"leadflow-{name}")
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert selects(svc["spec"]["selector"], pod_labels), f"{name}: the Service selects no pod"
        assert not any(selects(svc["spec"]["selector"], labels) for labels in jobs_pods), \
            f"{name}: the Service would send requests to a Job's pod"
        (port,) = svc["spec"]["ports"]
        assert port["port"] == service.http_port, name
        assert port["targetPort"] in ("http", service.http_port), name
        pdb = the("PodDisruptionBudget", f"leadflow-{name}")
        assert selects(pdb["spec"]["selector"]["matchLabels"], pod_labels), name


def test_every_kafka_consumer_autoscales_on_cpu_with_two_replicas_or_more(services: Services) -> None:
    hpas = objects("HorizontalPodAutoscaler")
    consumers = {name for name, service in services.items() if subscribed_topics(service)}
    assert consumers, "no service consumes Kafka? subscriptions() returned nothing for all"
    for name in consumers:
        hpa = hpas.get(f"leadflow-{name}")
        assert hpa is not None, f"{name} consumes Kafka but has no HorizontalPodAutoscaler"
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", f"leadflow-{name}"), name
        assert hpa["spec"]["minReplicas"] >= 2, name
        assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"], name
        metrics = [(m["type"], m["resource"]["name"], m["resource"]["target"]["type"])
                   for m in hpa["spec"]["metrics"]]
        assert ("Resource", "cpu", "Utilization") in metrics, f"{name}: {metrics}"
        deployment = the("Deployment", f"leadflow-{name}")
        assert deployment["spec"].get("replicas", 2) >= 2, f"{name}: fewer than 2 replicas"
        assert "cpu" in only_container(deployment)["resources"]["requests"], f"{name}: no CPU request"
    for name in hpas:
        assert name.removeprefix("leadflow-") in services, f"HorizontalPodAutoscaler {name} scales no service"


# ------------------------------------------------------------------------------------------ settings

def test_the_config_map_names_only_real_settings_with_valid_values() -> None:
    data = config()
    unknown = [k for k in data if not is_setting(k, LeadflowSettings)]
    assert not unknown, f"not LeadflowSettings fields: {unknown}"
    settings = config_settings()
    assert settings.migrate_on_start is False, "migrations are Jobs: LEADFLOW_MIGRATE_ON_START must be false"
    assert settings.http_host == "0.0.0.0"
    assert settings.kafka_bootstrap and settings.temporal_address


def test_the_secrets_hold_the_dsn_and_the_staff_key_the_pods_mount(services: Services) -> None:
    env_keys = secret_keys(ENV_SECRET)
    assert "LEADFLOW_PG_DSN" in env_keys
    assert all(is_setting(k, LeadflowSettings) for k in env_keys), env_keys
    assert not set(env_keys) & set(config()), "a setting both in the ConfigMap and the Secret"
    key_file = Path(config()["LEADFLOW_STAFF_PUBLIC_KEY_FILE"])
    assert key_file.name in secret_keys(STAFF_KEY_SECRET)
    for name in services:
        deployment = the("Deployment", f"leadflow-{name}")
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in only_container(deployment)["volumeMounts"]}
        assert str(key_file.parent) in mounts, f"{name}: nothing mounted at {key_file.parent}"
        assert volumes[mounts[str(key_file.parent)]]["secret"]["secretName"] == STAFF_KEY_SECRET, name


def test_every_variable_a_workload_sets_is_a_real_setting(services: Services) -> None:
    for name, service in services.items():
        for workload in (the("Deployment", f"leadflow-{name}"), the("Job", f"leadflow-migrate-{name}")):
            for var, value in env_of(only_container(workload)).items():
                if var.startswith(PREFIX):
                    assert is_setting(var, service.settings_class), f"{name}: {var}"
                    assert not (var == "LEADFLOW_MIGRATE_ON_START" and value.lower() in ("1", "true", "yes"))


# ---------------------------------------------------------------------------------- migrations, topics

def test_a_migration_job_runs_each_services_real_migrate_command(services: Services) -> None:
    assert any(ep.name == "leadflow" and ep.value == "leadflow_shared.cli:main"
               for ep in entry_points(group="console_scripts")), "no `leadflow` console script"
    commands = {ep.name: ep for ep in entry_points(group="leadflow.commands")}
    jobs = {name: job for name, job in objects("Job").items()
            if job["metadata"]["labels"].get("app.kubernetes.io/component") == "migrations"}
    assert set(jobs) == {f"leadflow-migrate-{name}" for name in services}, sorted(jobs)
    for name in services:
        container = only_container(jobs[f"leadflow-migrate-{name}"])
        command = container.get("command", []) + container.get("args", [])
        assert command == ["leadflow", name, "migrate"], f"{name}: {command}"
        # `leadflow <name> migrate` exists: the service's CLI (Service.cli) has a `migrate` command
        assert name in commands, f"no `leadflow {name}` command"
        cli = commands[name].load()
        assert isinstance(cli, typer.Typer) and "migrate" in typer.main.get_command(cli).commands, name
        assert image_repository(container["image"]) == f"leadflow-{name}", f"{name}: not the service's image"
        sources = {(k, v["name"]) for e in container["envFrom"] for k, v in e.items()}
        assert ("secretRef", ENV_SECRET) in sources, f"{name}: the Job has no LEADFLOW_PG_DSN"


def test_the_topics_job_creates_every_contract_topic_and_its_dead_letters(services: Services) -> None:
    job = the("Job", "leadflow-kafka-topics")
    container = only_container(job)
    listed = env_of(container)["TOPICS"].split()
    assert sorted(listed) == sorted(t.name for t in TOPICS), "TOPICS is not leadflow_shared.contracts.TOPICS"
    assert all(t.dlq == f"{t.name}.dlq" for t in TOPICS)  # the script makes "${topic}.dlq"
    assert sorted(n for t in listed for n in (t, f"{t}.dlq")) == sorted(all_topic_names())
    script = " ".join(container.get("command", []) + container.get("args", []))
    for setting in ("LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_KAFKA_TOPIC_PARTITIONS",
                    "LEADFLOW_KAFKA_TOPIC_REPLICATION", "LEADFLOW_KAFKA_TOPIC_PREFIX"):
        assert "${" + setting + "}" in script and setting in config(), setting
    assert '"${topic}.dlq"' in script and "--if-not-exists" in script
    for name, service in services.items():
        missing = subscribed_topics(service) - set(listed)
        assert not missing, f"{name} consumes topics the Job does not create: {missing}"


def test_setup_objects_can_be_applied_before_the_services() -> None:
    """README: `kubectl apply -k deploy/k8s -l 'app.kubernetes.io/component!=service'` applies the config
    and the Jobs, and nothing that runs a service."""
    for file, doc in documents():
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        where = f"{file}: {doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "leadflow", where
        if doc["kind"] in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            assert component == "service", where
        else:
            assert doc["kind"] in ("ConfigMap", "Secret", "Job") and component not in (None, "service"), where
