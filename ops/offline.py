"""Run the Pulumi program in-process under mocks: no CLI, no backend, no cloud credentials.

One engine for two users: the infrastructure tests (which assert on what was registered) and the
offline plan (which prints it). Every resource the program registers is recorded with the inputs
the provider would receive (camelCase, as the engine and CrossGuard policies see them), and every
provider function the program invokes must be answered here: an unanswered invoke fails loudly
instead of silently returning all-None fields.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import runpy
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from ops import offline_gcp_data
from ops.offline_datadog_gcp import COMPUTED_DATADOG_GCP
from ops.offline_firebase import COMPUTED_FIREBASE, invokes_firebase
from ops.offline_gcp_edge import COMPUTED_EDGE, invokes_edge
from ops.offline_prometheus import COMPUTED_PROMETHEUS

PROJECT = "awaterra"
REPO_ROOT = Path(__file__).resolve().parent.parent
# Where Pulumi.<stack>.yaml files are read from (tests point it at a directory of copies).
STACK_DIR = REPO_ROOT
ACCOUNT_ID = "123456789012"
SECRET_PLACEHOLDER = "offline-secret-placeholder"  # noqa: S105 (a stand-in, not a secret)


class UnansweredInvoke(RuntimeError):
    """The program called a provider function that the offline mocks do not answer."""


class StackFileError(ValueError):
    """A Pulumi.<stack>.yaml that is not valid YAML, or not a `config:` mapping; one line."""


@dataclass
class RecordedResource:
    """One resource registration as the engine received it."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    provider: str | None = None
    # Filled from the monitor's view of the registration (see _LinkRecordingMonitor).
    urn: str = ""
    parent: str | None = None  # the parent's URN; None for children of the stack
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    custom: bool = True  # False for component resources

    @property
    def urn_name(self) -> str:
        return f"{self.type}::{self.name}"


@dataclass
class Recording:
    """Everything one run of the program did."""

    stack: str
    resources: list[RecordedResource] = field(default_factory=list)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # The config the program ran with (secrets as placeholders) and what it logged as warnings.
    config: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The outputs the engine would store encrypted (exported as secret Outputs).
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name_contains: str = "") -> RecordedResource:
        found = [r for r in self.of_type(type_token) if name_contains in r.name]
        if len(found) != 1:
            names = [r.name for r in found]
            raise AssertionError(
                f"expected one {type_token} named *{name_contains}*, found {names}"
            )
        return found[0]

    def named(self, name: str) -> RecordedResource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise AssertionError(f"no resource named {name}")

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources)


def _fake_id(type_token: str, name: str) -> str:
    return f"{name}-{hashlib.sha1(f'{type_token}/{name}'.encode()).hexdigest()[:8]}"  # noqa: S324


# Computed outputs that real providers return and that the program reads back.
# Keyed by type token; each returns extra state given (name, inputs, region).
ComputedOutputs = Callable[[str, dict[str, Any], str], dict[str, Any]]


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


COMPUTED: dict[str, ComputedOutputs] = {
    "aws:s3/bucket:Bucket": lambda n, i, r: {
        "bucket": i.get("bucket") or n,
        "arn": f"arn:aws:s3:::{i.get('bucket') or n}",
        "bucketRegionalDomainName": f"{i.get('bucket') or n}.s3.{r}.amazonaws.com",
    },
    "aws:kms/key:Key": lambda n, i, r: {
        "arn": _arn("kms", r, f"key/{n}"),
        "keyId": n,
    },
    "aws:rds/instance:Instance": lambda n, i, r: {
        "address": f"{n}.abcdefgh.{r}.rds.amazonaws.com",
        "endpoint": f"{n}.abcdefgh.{r}.rds.amazonaws.com:5432",
        "port": i.get("port", 5432),
        "arn": _arn("rds", r, f"db:{n}"),
        "resourceId": "db-" + hashlib.sha256(n.encode()).hexdigest()[:26].upper(),
        "masterUserSecrets": [
            {
                "secretArn": _arn("secretsmanager", r, f"secret:rds!db-{n}-AbCdEf"),
                "kmsKeyId": i.get("masterUserSecretKmsKeyId") or _arn("kms", r, "key/default"),
                "secretStatus": "active",
            }
        ],
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda n, i, r: {
        "arn": _arn("elasticloadbalancing", r, f"loadbalancer/app/{n}/50dc6c495c0c9188"),
        "arnSuffix": f"app/{n}/50dc6c495c0c9188",
        "dnsName": f"{n}-1234567890.{r}.elb.amazonaws.com",
        "zoneId": "Z35SXDOTRQ7X7K",
    },
    "aws:lb/targetGroup:TargetGroup": lambda n, i, r: {
        "arn": _arn("elasticloadbalancing", r, f"targetgroup/{n}/6d0ecf831eec9f09"),
        "arnSuffix": f"targetgroup/{n}/6d0ecf831eec9f09",
    },
    "aws:acm/certificate:Certificate": lambda n, i, r: {
        "arn": _arn("acm", r, f"certificate/{n}"),
        "domainValidationOptions": [
            {
                "domainName": i.get("domainName"),
                "resourceRecordName": f"_x1.{i.get('domainName')}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_x2.acm-validations.aws.",
            }
        ],
    },
    "aws:cognito/userPool:UserPool": lambda n, i, r: {
        "arn": _arn("cognito-idp", r, f"userpool/{r}_{n}"),
        "endpoint": f"cognito-idp.{r}.amazonaws.com/{r}_{n}",
    },
    "aws:ecr/repository:Repository": lambda n, i, r: {
        "arn": _arn("ecr", r, f"repository/{n}"),
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{r}.amazonaws.com/{n}",
        "registryId": ACCOUNT_ID,
    },
    "docker:index/image:Image": lambda n, i, r: {
        "repoDigest": f"{i.get('imageName', n).split(':')[0]}@sha256:{'0' * 64}",
    },
    "aws:ec2/vpc:Vpc": lambda n, i, r: {"defaultSecurityGroupId": f"sg-default-{n}"},
    "aws:ecs/cluster:Cluster": lambda n, i, r: {"arn": _arn("ecs", r, f"cluster/{n}")},
    "aws:ecs/service:Service": lambda n, i, r: {"name": i.get("name") or n},
    "aws:backup/vault:Vault": lambda n, i, r: {"arn": _arn("backup", r, f"backup-vault:{n}")},
    # A stand-in of the asked length: offline there is no real randomness to keep secret.
    "random:index/randomPassword:RandomPassword": lambda n, i, r: {
        "result": "offline" * (int(i.get("length", 16)) // 7 + 1)
    },
}
COMPUTED.update(offline_gcp_data.COMPUTED_DATA)
COMPUTED.update(COMPUTED_EDGE)
COMPUTED.update(COMPUTED_FIREBASE)
COMPUTED.update(COMPUTED_DATADOG_GCP)
COMPUTED.update(COMPUTED_PROMETHEUS)


def _generic_arn(type_token: str, name: str, region: str) -> str:
    service = type_token.split(":")[1].split("/")[0]
    return _arn(service, region, name)


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record registrations and answer the provider functions the program uses."""

    def __init__(
        self,
        recording: Recording,
        region: str,
        invokes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]],
    ) -> None:
        self.recording = recording
        self.region = region
        self.invokes = invokes

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        resource_id = args.resource_id or _fake_id(args.typ, args.name)
        state = dict(args.inputs)
        computed = COMPUTED.get(args.typ)
        if computed:
            for key, value in computed(args.name, args.inputs, self.region).items():
                state.setdefault(key, value)
        # After COMPUTED, so a type's realistic ARN (S3's has no region/account) wins.
        if args.typ.startswith("aws:"):
            state.setdefault("arn", _generic_arn(args.typ, args.name, self.region))
        if args.typ.startswith("pulumi:providers:"):
            resource_id = resource_id or args.name
        self.recording.resources.append(
            RecordedResource(
                type=args.typ,
                name=args.name,
                inputs=dict(args.inputs),
                outputs=state,
                id=resource_id,
                provider=args.provider,
            )
        )
        return resource_id, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.recording.invokes.append((args.token, dict(args.args)))
        answer = self.invokes.get(args.token)
        if answer is None:
            raise UnansweredInvoke(
                f"the offline mocks do not answer {args.token}; add it to ops/offline.py"
            )
        return answer(dict(args.args)), []


# (urn, parent urn, property dependencies, custom)
_Link = tuple[str, str | None, dict[str, tuple[str, ...]], bool]


class _LinkRecordingMonitor(MockMonitor):
    """The mock monitor, also noting each registration's URN, parent and property dependencies.

    `MockResourceArgs` carries neither, and the plan (grouping by component) and the stack-level
    policies (which resource a `bucket` or `resourceArn` input points at) need both.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.links: dict[tuple[str, str], _Link] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        dependencies = {key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()}
        parent = request.parent or None
        if parent and parent.split("::")[2].endswith("pulumi:pulumi:Stack"):
            parent = None
        self.links[(request.type, request.name)] = (
            response.urn,
            parent,
            dependencies,
            bool(request.custom),
        )
        return response


def default_invokes(region: str) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    return {
        **invokes_firebase(),
        "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
            "userId": "OFFLINE",
            "id": ACCOUNT_ID,
        },
        "aws:index/getRegion:getRegion": lambda a: {"name": region, "region": region, "id": region},
        "aws:index/getPartition:getPartition": lambda a: {
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "id": "aws",
        },
        "aws:index/getAvailabilityZones:getAvailabilityZones": lambda a: {
            "names": [f"{region}{s}" for s in "abc"],
            "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)],
            "id": region,
        },
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda a: {
            "authorizationToken": "QVdTOm9mZmxpbmU=",
            "userName": "AWS",
            "password": SECRET_PLACEHOLDER,
            "proxyEndpoint": (
                f"https://{a.get('registryId') or ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com"
            ),
            "registryId": a.get("registryId") or ACCOUNT_ID,
            "expiresAt": "2099-01-01T00:00:00Z",
            "id": region,
        },
        **offline_gcp_data.invokes_data(region=region),
    }


def stack_config(
    stack: str, overrides: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The stack's config as the engine would pass it, with secrets replaced by placeholders."""
    path = STACK_DIR / f"Pulumi.{stack}.yaml"
    document = load_stack_file(path) if path.exists() else {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and "secure" in value:
            config[full_key] = SECRET_PLACEHOLDER
            secret_keys.append(full_key)
        elif isinstance(value, str):
            config[full_key] = value
        else:
            # Objects and lists reach the program as JSON, as the Pulumi engine passes them.
            config[full_key] = (
                json.dumps(value)
                if not isinstance(value, (bool, int, float))
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
    if overrides:
        config.update(overrides)
    return config, secret_keys


def load_stack_file(path: Path) -> dict[str, Any]:
    """The stack file as a mapping; a YAML error becomes one line: file:line:column: problem."""
    where = path.name
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = error.problem or error.context or "invalid YAML"
        raise StackFileError(f"{where}{position}: {problem}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{where}: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise StackFileError(f"{where}: must be a mapping with a `config:` mapping of keys")
    return document


class _WarningCapture(logging.Handler):
    """What the program logs with pulumi.log.warn under the mocks (the CLI would print it)."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.into.append(record.getMessage())


def _ensure_event_loop() -> None:
    """Pulumi's runtime uses the thread's current event loop; an `asyncio.run` elsewhere in the
    same process (a service test) leaves none behind, so install a fresh one when needed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def _reset_runtime() -> None:
    pulumi_settings.ROOT.set(None)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()


async def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    return await output.future(with_unknowns=True)


async def _is_secret(value: Any) -> bool:
    return bool(await pulumi.Output.from_input(value).is_secret())


def run_program(
    stack: str,
    config: Mapping[str, str] | None = None,
    *,
    use_stack_file: bool = True,
    program: Callable[[], None] | None = None,
    region: str | None = None,
    extra_invokes: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
) -> Recording:
    """Run `__main__.py` (or `program`) for `stack` under mocks and return what it registered.

    `config` entries override the stack file (`use_stack_file=False` starts from nothing), keys
    given as `project:key` or bare `key` (taken as this project's).
    """
    overrides = {(k if ":" in k else f"{PROJECT}:{k}"): v for k, v in (config or {}).items()}
    if use_stack_file:
        values, secret_keys = stack_config(stack, overrides)
    else:
        values, secret_keys = overrides, []
    region = region or values.get("aws:region", "us-east-1")
    recording = Recording(stack=stack, config=dict(values))
    invokes = {**default_invokes(region), **(extra_invokes or {})}
    invokes = {**invokes_edge(values.get("gcp:project"), values.get("gcp:region")), **invokes}

    _ensure_event_loop()
    _reset_runtime()
    set_all_config(values, secret_keys)
    mocks = RecordingMocks(recording, region, invokes)
    monitor = _LinkRecordingMonitor(mocks)
    # Warnings are kept on the recording, errors dropped: a SettingsError carries its problems.
    logger = logging.getLogger(f"awaterra.offline.{stack}")
    logger.propagate = False
    logger.handlers = [_WarningCapture(recording.warnings)]
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=monitor
    )
    root = pulumi_settings.get_root_resource()

    def body() -> None:
        if program is not None:
            program()
        else:
            runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")

    # The explicit switch the program's settings read: placeholders are warned about, not refused.
    from components.settings import offline_plan

    with offline_plan():
        _sync_await(run_pulumi_func(body))
    stack_resource = root
    exported = getattr(stack_resource, "outputs", {}) or {}
    recording.outputs = {k: _sync_await(_resolve(v)) for k, v in exported.items()}
    recording.secret_outputs = {k for k, v in exported.items() if _sync_await(_is_secret(v))}
    for resource in recording.resources:
        link = monitor.links.get((resource.type, resource.name))
        if link:
            resource.urn, resource.parent, resource.property_dependencies, resource.custom = link
    return recording
