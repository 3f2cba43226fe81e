"""Offline answers for the Google Cloud service and edge resources (ops/offline.py merges them).

`COMPUTED_EDGE` maps a type token to the computed outputs the real provider returns and the
program reads back (same signature as `ops.offline.COMPUTED`: name, inputs, region), and
`invokes_edge(project, region)` answers the provider functions these components call. The values
have the shape Google's APIs return (self links, `*.run.app` URIs, service-account emails), so a
component that formats one wrongly fails under test as it would for real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ops.offline_gcp_data import PROJECT_ID, PROJECT_NUMBER

EDGE_PROJECT = PROJECT_ID
EDGE_REGION = "europe-west1"
EDGE_PROJECT_NUMBER = PROJECT_NUMBER
EDGE_ADDRESS = "34.117.0.10"
ACCESS_TOKEN_PLACEHOLDER = "offline-gcp-access-token"  # noqa: S105 (a stand-in, not a secret)
COMPUTE = "https://www.googleapis.com/compute/v1"

ComputedOutputs = Callable[[str, dict[str, Any], str], dict[str, Any]]
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def _project(inputs: dict[str, Any]) -> str:
    return str(inputs.get("project") or EDGE_PROJECT)


def _location(inputs: dict[str, Any], key: str = "location") -> str:
    return str(inputs.get(key) or EDGE_REGION)


def _global_link(collection: str) -> ComputedOutputs:
    def outputs(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
        resource = inputs.get("name") or name
        return {
            "name": resource,
            "selfLink": f"{COMPUTE}/projects/{_project(inputs)}/global/{collection}/{resource}",
        }

    return outputs


def _run_hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:10]  # noqa: S324 (a fake, stable suffix)


def _service(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    service = inputs.get("name") or name
    location = _location(inputs)
    return {
        "name": service,
        "uri": f"https://{service}-{_run_hash(service)}-ew.a.run.app",
        "urls": [f"https://{service}-{EDGE_PROJECT_NUMBER}.{location}.run.app"],
        "latestReadyRevision": f"{service}-00001-abc",
        "uid": _run_hash(f"uid/{service}"),
    }


def _account(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    email = f"{inputs.get('accountId') or name}@{_project(inputs)}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{_project(inputs)}/serviceAccounts/{email}",
        "uniqueId": str(int(_run_hash(email), 16)),
    }


def _repository(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    project, location = _project(inputs), _location(inputs)
    repository = inputs.get("repositoryId") or name
    return {
        "name": repository,
        "project": project,
        "registryUri": f"{location}-docker.pkg.dev/{project}/{repository}",
    }


def _neg(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    resource = inputs.get("name") or name
    return {
        "name": resource,
        "selfLink": (
            f"{COMPUTE}/projects/{_project(inputs)}/regions/{_location(inputs, 'region')}"
            f"/networkEndpointGroups/{resource}"
        ),
    }


def _certificate(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        **_global_link("sslCertificates")(name, inputs, region),
        "certificateId": int(_run_hash(name), 16) % 10**12,
        "subjectAlternativeNames": list((inputs.get("managed") or {}).get("domains") or []),
    }


def _address(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    return {**_global_link("addresses")(name, inputs, region), "address": EDGE_ADDRESS}


COMPUTED_EDGE: dict[str, ComputedOutputs] = {
    "gcp:artifactregistry/repository:Repository": _repository,
    "gcp:serviceaccount/account:Account": _account,
    "gcp:cloudrunv2/service:Service": _service,
    "gcp:cloudrunv2/job:Job": lambda n, i, r: {"name": i.get("name") or n},
    "gcp:compute/globalAddress:GlobalAddress": _address,
    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup": _neg,
    "gcp:compute/backendService:BackendService": _global_link("backendServices"),
    "gcp:compute/uRLMap:URLMap": _global_link("urlMaps"),
    "gcp:compute/sSLPolicy:SSLPolicy": _global_link("sslPolicies"),
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": _certificate,
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": _global_link("targetHttpsProxies"),
    "gcp:compute/targetHttpProxy:TargetHttpProxy": _global_link("targetHttpProxies"),
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": _global_link("forwardingRules"),
    "gcp:compute/securityPolicy:SecurityPolicy": _global_link("securityPolicies"),
    "gcp:identityplatform/config:Config": lambda n, i, r: {
        "name": f"projects/{_project(i)}/config"
    },
}


def invokes_edge(project: str | None, region: str | None) -> dict[str, Invoke]:
    """Answers for the provider functions of these components, for `project` in `region`."""
    project = project or EDGE_PROJECT
    region = region or EDGE_REGION
    return {
        "gcp:organizations/getClientConfig:getClientConfig": lambda a: {
            "accessToken": ACCESS_TOKEN_PLACEHOLDER,
            "project": project,
            "region": region,
            "zone": f"{region}-b",
            "defaultLabels": {},
            "id": f"projects/{project}/regions/{region}/zones/{region}-b",
        },
    }
