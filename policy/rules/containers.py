"""Container registry and ECS: image scanning, immutable tags, hardened task definitions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.model import Context, Resource, Severity
from policy.rules._common import require_true, resource_rule
from policy.rules.types import ECR_REPOSITORY, ECS_CLUSTER, ECS_SERVICE, ECS_TASK_DEFINITION
from policy.values import UNKNOWN, InvalidDocument, as_list, get, json_document, known_list

ROOT_USERS = ("root", "0", "0:0")
# Variable names that look like credentials; their values belong in `secrets` (valueFrom).
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|APP_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I
)


@resource_rule(
    "ecr-scan-on-push",
    "ECR repositories scan images on push",
    "AWS FSBP ECR.1 / checkov CKV_AWS_163",
    Severity.MEDIUM,
    ECR_REPOSITORY,
    'Set image_scanning_configuration={"scan_on_push": True}.',
)
def scan_on_push(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(
        resource,
        "imageScanningConfiguration.scanOnPush",
        "imageScanningConfiguration.scanOnPush is not enabled",
    )


@resource_rule(
    "ecr-immutable-tags",
    "ECR image tags are immutable",
    "AWS FSBP ECR.2 / checkov CKV_AWS_51",
    Severity.MEDIUM,
    ECR_REPOSITORY,
    'Set image_tag_mutability="IMMUTABLE" (images are tagged by content hash).',
)
def immutable_tags(resource: Resource, context: Context) -> Iterator[str]:
    mutability = get(resource.props, "imageTagMutability")
    if mutability is not UNKNOWN and mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield f"imageTagMutability is {mutability or 'MUTABLE (default)'}"


def containers(resource: Resource) -> list[Mapping[str, Any]] | None:
    """The task definition's containers; None when unknown (e.g. an image digest not built yet)."""
    document = json_document(get(resource.props, "containerDefinitions"))
    if document is UNKNOWN or document is None:
        return None
    listed = as_list(document)
    if listed is UNKNOWN:
        return None
    return [container for container in listed if isinstance(container, Mapping)]


def _each_container(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]] | str]:
    try:
        found = containers(resource)
    except InvalidDocument as error:
        yield f"containerDefinitions is {error}"
        return
    for container in found or []:
        yield str(container.get("name", "?")), container


def _container_check(resource: Resource, judge: Any) -> Iterator[str]:
    for item in _each_container(resource):
        if isinstance(item, str):
            yield item
            continue
        name, container = item
        message = judge(container)
        if message:
            yield f"container {name}: {message}"


@resource_rule(
    "ecs-readonly-rootfs",
    "ECS containers have read-only root filesystems",
    "AWS FSBP ECS.5 / checkov CKV_AWS_336",
    Severity.HIGH,
    ECS_TASK_DEFINITION,
    "Set readonlyRootFilesystem=true; mount a volume for paths that must be writable (/tmp).",
)
def readonly_rootfs(resource: Resource, context: Context) -> Iterator[str]:
    yield from _container_check(
        resource,
        lambda c: (
            None
            if c.get("readonlyRootFilesystem") in (True, UNKNOWN)
            else "readonlyRootFilesystem is not true"
        ),
    )


@resource_rule(
    "ecs-non-privileged",
    "ECS containers are not privileged",
    "AWS FSBP ECS.4",
    Severity.HIGH,
    ECS_TASK_DEFINITION,
    "Remove privileged=true.",
)
def non_privileged(resource: Resource, context: Context) -> Iterator[str]:
    yield from _container_check(
        resource, lambda c: "privileged is true" if c.get("privileged") is True else None
    )


def _root_user(container: Mapping[str, Any]) -> str | None:
    user = container.get("user")
    if user is UNKNOWN:
        return None
    if user is None:
        return "user is not set (the image's default may be root)"
    if str(user).split(":")[0] in ("root", "0"):
        return f"runs as {user}"
    return None


@resource_rule(
    "ecs-non-root-user",
    "ECS containers run as a non-root user",
    "CIS Docker Benchmark 4.1 / AWS FSBP ECS.1 (user definitions)",
    Severity.MEDIUM,
    ECS_TASK_DEFINITION,
    'Set "user" to a non-root uid (e.g. "10001:10001") for every container.',
)
def non_root_user(resource: Resource, context: Context) -> Iterator[str]:
    yield from _container_check(resource, _root_user)


def _secret_in_environment(container: Mapping[str, Any]) -> str | None:
    names = [
        str(get(variable, "name"))
        for variable in known_list(container.get("environment"))
        if SECRET_NAME.search(str(get(variable, "name")))
        and get(variable, "value") not in (None, "")
    ]
    return (
        f"credential-like variables passed in plain environment: {', '.join(names)}"
        if names
        else None
    )


@resource_rule(
    "ecs-no-secrets-in-environment",
    "Credentials reach containers through `secrets`, not `environment`",
    "AWS FSBP ECS.8",
    Severity.HIGH,
    ECS_TASK_DEFINITION,
    "Move the value to Secrets Manager/SSM and reference it under secrets (valueFrom).",
)
def no_secrets_in_environment(resource: Resource, context: Context) -> Iterator[str]:
    yield from _container_check(resource, _secret_in_environment)


@resource_rule(
    "ecs-logging",
    "Every ECS container has a logging configuration",
    "AWS FSBP ECS.9",
    Severity.MEDIUM,
    ECS_TASK_DEFINITION,
    "Set logConfiguration (awslogs or awsfirelens) on every container.",
)
def logging(resource: Resource, context: Context) -> Iterator[str]:
    yield from _container_check(
        resource, lambda c: None if c.get("logConfiguration") else "logConfiguration is not set"
    )


@resource_rule(
    "ecs-container-insights",
    "ECS clusters have Container Insights on",
    "AWS FSBP ECS.12 / checkov CKV_AWS_65",
    Severity.LOW,
    ECS_CLUSTER,
    'Set settings=[{"name": "containerInsights", "value": "enabled"}].',
)
def container_insights(resource: Resource, context: Context) -> Iterator[str]:
    settings = as_list(get(resource.props, "settings"))
    if settings is UNKNOWN or any(get(s, "name") is UNKNOWN for s in settings):
        return
    values = [get(s, "value") for s in settings if get(s, "name") == "containerInsights"]
    if not any(value in ("enabled", "enhanced", UNKNOWN) for value in values):
        yield "containerInsights is not enabled"


@resource_rule(
    "ecs-circuit-breaker",
    "ECS deployments roll back automatically when they fail",
    "AWS Well-Architected REL08-BP05 (automate rollback); ECS deployment circuit breaker",
    Severity.MEDIUM,
    ECS_SERVICE,
    'Set deployment_circuit_breaker={"enable": True, "rollback": True}.',
)
def circuit_breaker(resource: Resource, context: Context) -> Iterator[str]:
    breaker = get(resource.props, "deploymentCircuitBreaker")
    if breaker is UNKNOWN:
        return
    if get(breaker, "enable") is not True and get(breaker, "enable") is not UNKNOWN:
        yield "deploymentCircuitBreaker is not enabled"
    elif get(breaker, "rollback") is not True and get(breaker, "rollback") is not UNKNOWN:
        yield "deploymentCircuitBreaker.rollback is not enabled"


RULES = [
    scan_on_push,
    immutable_tags,
    readonly_rootfs,
    non_privileged,
    non_root_user,
    no_secrets_in_environment,
    logging,
    container_insights,
    circuit_breaker,
]
