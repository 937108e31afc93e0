"""deploy/kuberay/ against Kubernetes' own schemas (shipped by kubernetes-validate, so offline), in
strict mode: an unknown or misspelt field fails. The RayService is a custom resource whose schema
comes with the KubeRay operator; its pod templates are Kubernetes' and are checked as such."""

from __future__ import annotations

import kubernetes_validate

from tests.deploy.test_kuberay import CLUSTER, DOCUMENTS

KUBERNETES = kubernetes_validate.latest_version()


def test_the_core_manifests_match_kubernetes_schemas():
    core = [doc for doc in DOCUMENTS if doc["kind"] != "RayService"]
    assert {doc["kind"] for doc in core} == {"ConfigMap", "PersistentVolumeClaim", "Deployment"}
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_rayservice_pod_templates_match_kubernetes_schemas():
    templates = [CLUSTER["headGroupSpec"]["template"], *(g["template"] for g in CLUSTER["workerGroupSpecs"])]
    for k, template in enumerate(templates):
        pod_template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": f"group-{k}"},
                        "template": template}
        kubernetes_validate.validate(pod_template, KUBERNETES, strict=True)
