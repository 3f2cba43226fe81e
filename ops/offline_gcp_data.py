"""Offline answers for the Google Cloud data components (APIs, network, Cloud SQL, storage).

`ops.offline` merges these in: `COMPUTED_DATA` adds the computed outputs a real provider returns
(keyed by type token, each a function of the resource name, its inputs and the region), and
`invokes_data(project, region)` answers the provider functions those components call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PROJECT_ID = "awaterra-offline"
PROJECT_NUMBER = "123456789012"
DEFAULT_REGION = "us-central1"

ComputedOutputs = Callable[[str, dict[str, Any], str], dict[str, Any]]
Invoke = Callable[[dict[str, Any]], dict[str, Any]]

_API = "https://www.googleapis.com/compute/v1"


def _project(inputs: dict[str, Any]) -> str:
    return str(inputs.get("project") or PROJECT_ID)


def _gcp_region(inputs: dict[str, Any], region: str) -> str:
    # The harness's region is the AWS one unless the caller passes a GCP region.
    if inputs.get("region"):
        return str(inputs["region"])
    return region if region.count("-") == 1 and region[-1].isdigit() else DEFAULT_REGION


def _network(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    network = inputs.get("name") or name
    path = f"projects/{_project(inputs)}/global/networks/{network}"
    return {"name": network, "selfLink": f"{_API}/{path}", "networkId": "4242424242"}


def _subnetwork(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    subnet = inputs.get("name") or name
    path = f"projects/{_project(inputs)}/regions/{_gcp_region(inputs, region)}/subnetworks/{subnet}"
    return {
        "name": subnet,
        "selfLink": f"{_API}/{path}",
        "gatewayAddress": "10.0.0.1",
        "region": _gcp_region(inputs, region),
    }


def _global_address(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    address = inputs.get("name") or name
    return {
        "name": address,
        "address": inputs.get("address") or "10.100.0.0",
        "selfLink": f"{_API}/projects/{_project(inputs)}/global/addresses/{address}",
    }


def _sql_instance(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    instance = inputs.get("name") or name
    gcp_region = _gcp_region(inputs, region)
    project = _project(inputs)
    ip_configuration = (inputs.get("settings") or {}).get("ipConfiguration") or {}
    public = ip_configuration.get("ipv4Enabled", True)
    addresses = [{"type": "PRIVATE", "ipAddress": "10.100.0.3"}]
    if public:
        addresses.append({"type": "PRIMARY", "ipAddress": "203.0.113.10"})
    return {
        "name": instance,
        "connectionName": f"{project}:{gcp_region}:{instance}",
        "privateIpAddress": "10.100.0.3",
        "publicIpAddress": "203.0.113.10" if public else "",
        "ipAddresses": addresses,
        "selfLink": (
            f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{instance}"
        ),
        "serviceAccountEmailAddress": (
            f"p{PROJECT_NUMBER}-abcdef@gcp-sa-cloud-sql.iam.gserviceaccount.com"
        ),
        "dnsName": f"abcdef.{gcp_region}.sql.goog.",
    }


def _bucket(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    bucket = inputs.get("name") or name
    return {
        "name": bucket,
        "url": f"gs://{bucket}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
        "project": _project(inputs),
    }


def _service(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    return {"project": _project(inputs)}


def _service_identity(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    # A service's agent: service-<number>@gcp-sa-<api>.iam.gserviceaccount.com.
    api = str(inputs.get("service", "")).removesuffix(".googleapis.com")
    email = f"service-{PROJECT_NUMBER}@gcp-sa-{api}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


COMPUTED_DATA: dict[str, ComputedOutputs] = {
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:projects/service:Service": _service,
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/globalAddress:GlobalAddress": _global_address,
    "gcp:servicenetworking/connection:Connection": lambda n, i, r: {
        "peering": "servicenetworking-googleapis-com",
    },
    "gcp:compute/firewall:Firewall": lambda n, i, r: {
        "name": i.get("name") or n,
        "selfLink": f"{_API}/projects/{_project(i)}/global/firewalls/{i.get('name') or n}",
    },
    "gcp:sql/databaseInstance:DatabaseInstance": _sql_instance,
    "gcp:sql/database:Database": lambda n, i, r: {"name": i.get("name") or n},
    "gcp:sql/user:User": lambda n, i, r: {"name": i.get("name") or n},
    "gcp:storage/bucket:Bucket": _bucket,
}


def invokes_data(project: str = PROJECT_ID, region: str = DEFAULT_REGION) -> dict[str, Invoke]:
    """Answers for the provider functions the data components call."""

    def get_project(args: dict[str, Any]) -> dict[str, Any]:
        project_id = args.get("projectId") or project
        return {
            "projectId": project_id,
            "number": PROJECT_NUMBER,
            "name": project_id,
            "id": f"projects/{project_id}",
        }

    def storage_service_account(args: dict[str, Any]) -> dict[str, Any]:
        email = f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
        return {
            "emailAddress": email,
            "member": f"serviceAccount:{email}",
            "project": args.get("project") or project,
            "id": email,
        }

    return {
        "gcp:organizations/getProject:getProject": get_project,
        "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": storage_service_account,
    }
