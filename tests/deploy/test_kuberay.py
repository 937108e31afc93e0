"""deploy/kuberay/: a RayService whose Serve config is configs/serve.yaml, the shards' driver on the
same cluster, and their settings; checked against the code and against the shape KubeRay and
Kubernetes require (as far as that can be done without a cluster)."""

from __future__ import annotations

import importlib
import re

import yaml

from tests.fixtures.artefacts import DEFAULTS, DEPLOY, IMAGE, NODE_ENV, RAY_VERSION, SERVE_CONFIG, settings_from, unknown_settings

DOCUMENTS = [doc for path in sorted((DEPLOY / "kuberay").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
             if doc]
BY_KIND = {doc["kind"]: doc for doc in DOCUMENTS}
SERVICE = BY_KIND["RayService"]
CLUSTER = SERVICE["spec"]["rayClusterConfig"]
CONFIG = BY_KIND["ConfigMap"]["data"]
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
API_VERSIONS = {"RayService": "ray.io/v1", "Deployment": "apps/v1", "ConfigMap": "v1", "PersistentVolumeClaim": "v1"}


def _pod_specs() -> list[dict]:
    return [CLUSTER["headGroupSpec"]["template"]["spec"],
            *(group["template"]["spec"] for group in CLUSTER["workerGroupSpecs"]),
            BY_KIND["Deployment"]["spec"]["template"]["spec"]]


def test_every_document_has_its_kind_api_version_and_a_valid_name():
    assert sorted(BY_KIND) == sorted(API_VERSIONS) and len(DOCUMENTS) == len(API_VERSIONS)
    for doc in DOCUMENTS:
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]]
        assert DNS_LABEL.fullmatch(doc["metadata"]["name"])


def test_the_rayservice_serves_the_serve_config_of_configs():
    served = yaml.safe_load(SERVICE["spec"]["serveConfigV2"])  # KubeRay takes it as a YAML string
    assert served["applications"] == SERVE_CONFIG["applications"]
    assert served["proxy_location"] == SERVE_CONFIG["proxy_location"]
    assert served["http_options"] == {**SERVE_CONFIG["http_options"], "host": "0.0.0.0"}  # in a pod: every interface
    for app in served["applications"]:
        module, _, name = app["import_path"].partition(":")
        assert callable(getattr(importlib.import_module(module), name))


def test_the_cluster_runs_the_pinned_ray_in_the_twins_image():
    assert CLUSTER["rayVersion"] == RAY_VERSION
    containers = [c for spec in _pod_specs() for c in spec["containers"]]
    assert {c["image"] for c in containers} == {IMAGE}
    for spec in _pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
        for container in spec["containers"]:
            assert DNS_LABEL.fullmatch(container["name"])
            assert {v["name"] for v in spec["volumes"]} >= {m["name"] for m in container["volumeMounts"]}


def test_head_ports_are_those_of_the_code():
    ports = {p["name"]: p["containerPort"] for p in CLUSTER["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports["serve"] == SERVE_CONFIG["http_options"]["port"] == DEFAULTS.port
    assert ports["dashboard"] == DEFAULTS.ray_dashboard_port
    gcs = ports["gcs-server"]
    address = next(e["value"] for e in BY_KIND["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
                   if e["name"] == "MEALTWIN_RAY_ADDRESS")
    assert address == f"{SERVICE['metadata']['name']}-head-svc:{gcs}"  # KubeRay's head Service for the RayService


def test_worker_groups_are_well_formed():
    for group in CLUSTER["workerGroupSpecs"]:
        assert DNS_LABEL.fullmatch(group["groupName"])
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())  # KubeRay wants strings
    assert all(isinstance(v, str) for v in CLUSTER["headGroupSpec"]["rayStartParams"].values())


def test_the_shards_driver_is_one_mealtwin_up_without_the_api():
    deployment = BY_KIND["Deployment"]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"  # never two sets of shards
    labels = deployment["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in deployment["selector"]["matchLabels"].items())
    assert deployment["template"]["spec"]["containers"][0]["args"] == ["up", "--no-api"]
    assert deployment["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


def test_settings_name_real_settings_and_every_node_gets_the_ray_environment():
    assert unknown_settings(CONFIG) == []
    settings = settings_from({k: v for k, v in CONFIG.items() if k.startswith("MEALTWIN_")} |
                             {"MEALTWIN_AUTH__JWT_PRIVATE_KEY": "stand-in"})  # from the Secret
    assert settings.environment == "production" and settings.port == DEFAULTS.port and settings.host == "0.0.0.0"
    assert {k: CONFIG.get(k) for k in NODE_ENV} == NODE_ENV and CONFIG["RAY_AUTH_MODE"] == "token"
    claims = {doc["metadata"]["name"] for doc in DOCUMENTS if doc["kind"] == "PersistentVolumeClaim"}
    for spec in _pod_specs():
        for container in spec["containers"]:
            assert {"mealtwin-config", "mealtwin-secrets"} <= {
                (ref.get("configMapRef") or ref.get("secretRef"))["name"] for ref in container["envFrom"]}
        assert {v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]} <= claims
