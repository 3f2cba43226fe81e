"""The service's container image: a private ECR repository and the image built into it.

`ContainerImage(name, ContainerImageArgs(kms_key_arn=key.arn))`

Args (`ContainerImageArgs`):
- `kms_key_arn: Input[str]` the customer-managed key that encrypts the repository (required).
- `context: str = "."` build context (the repository root: the Dockerfile copies
  `requirements/service.txt` and `service/`); `dockerfile: str = "service/Dockerfile"`; both
  relative to the Pulumi project directory so that state does not depend on the checkout path.
- `hashed_paths: Sequence[str] = ("service", "requirements/service.txt",
  "requirements/datadog.txt", ".dockerignore")` what the tag is computed from (missing paths are
  skipped).
- `build_args: Mapping[str, str] = {}` Docker build arguments (e.g. `SERVICE_EXTRAS=datadog`,
  which adds ddtrace to the image); they are part of the tag, so a traced and an untraced build
  of the same code never share one.
- `platform: str = "linux/amd64"` (or `linux/arm64`; must match the task's `runtime_platform`).
- `keep_images: int = 30` images the lifecycle policy keeps (untagged ones go after a day).
- `tag: str | None = None` overrides the content tag (settings `imageTag`).
- `scan_on_push: bool = True`, `immutable_tags: bool = True`.

The tag is a SHA-256 over the relative path and bytes of every file under `hashed_paths`
(`__pycache__`, `*.pyc`, `.data`, `.env`, `*.pem` and tool caches ignored, as
`.dockerignore` keeps them out of the build) plus the platform: an unchanged service keeps its
tag, so the task definition does not change and nothing redeploys. Because tags are immutable, the
build context must contain nothing else: keep `.dockerignore` an allowlist (`*`, then
`!service/`, `!requirements/service.txt`, then `**/__pycache__`), otherwise an edit elsewhere makes
pulumi-docker rebuild and the push of an existing tag is refused.

The content tag and the pulumi-docker build are cloud-neutral and live in
components/image_build.py (the Artifact Registry image, components/gcp/registry.py, uses them too).

Outputs: `repository_url`, `repository_arn`, `repository_name`, `tag`, `image_ref` (the pushed
image by digest, `<repository_url>@sha256:...`, which is what the task definition runs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.image_build import (
    PLATFORMS,
    REPO_ROOT,
    build_and_push,
    content_hash,
    image_tag,
    valid_tag,
)

__all__ = [
    "PLATFORMS",
    "REPO_ROOT",
    "ContainerImage",
    "ContainerImageArgs",
    "content_hash",
    "image_tag",
    "lifecycle_policy",
]


def lifecycle_policy(keep_images: int) -> str:
    """Expire untagged images after a day; keep the newest `keep_images` images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "untagged images (failed or superseded pushes)",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {keep_images} images (rollback window)",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


@dataclass(frozen=True)
class ContainerImageArgs:
    kms_key_arn: pulumi.Input[str]
    context: str = "."
    dockerfile: str = "service/Dockerfile"
    hashed_paths: Sequence[str] = (
        "service",
        "requirements/service.txt",
        "requirements/datadog.txt",
        ".dockerignore",
    )
    platform: str = "linux/amd64"
    build_args: Mapping[str, str] = field(default_factory=dict)
    keep_images: int = 30
    tag: str | None = None
    scan_on_push: bool = True
    immutable_tags: bool = True

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(
                f"ContainerImage: platform must be one of {PLATFORMS}, got {self.platform!r}"
            )
        if self.keep_images < 1:
            raise ValueError(f"ContainerImage: keep_images must be >= 1, got {self.keep_images}")
        if self.tag is not None and not valid_tag(self.tag):
            raise ValueError(
                f"ContainerImage: tag {self.tag!r} is not a Docker tag "
                "(letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')"
            )


class ContainerImage(pulumi.ComponentResource):
    """ECR repository (scanned, immutable, KMS-encrypted, pruned) and the service image in it."""

    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    tag: str
    image_ref: pulumi.Output[str]

    def __init__(
        self, name: str, args: ContainerImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:image:ContainerImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tag = args.tag or image_tag(REPO_ROOT, args.hashed_paths, args.platform, args.build_args)
        self.tag = tag

        repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=args.scan_on_push
            ),
            image_tag_mutability="IMMUTABLE" if args.immutable_tags else "MUTABLE",
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=args.kms_key_arn
                )
            ],
            force_delete=False,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=lifecycle_policy(args.keep_images),
            opts=child,
        )

        credentials = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image = build_and_push(
            f"{name}-build",
            image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
            context=args.context,
            dockerfile=args.dockerfile,
            platform=args.platform,
            build_args=args.build_args,
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=credentials.user_name,
                password=pulumi.Output.secret(credentials.password),
            ),
            opts=child,
        )

        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.repository_name = repository.name
        self.image_ref = image.repo_digest
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
                "repository_name": self.repository_name,
                "tag": self.tag,
                "image_ref": self.image_ref,
            }
        )
