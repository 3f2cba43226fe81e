"""The service's container image on Google Cloud: an Artifact Registry repository and the image.

`Registry(name, RegistryArgs(project="my-project", location="europe-west1"))`

Args (`RegistryArgs`):
- `project: Input[str]`, `location: str` (a region, e.g. `europe-west1`; the image is pushed
  to `<location>-docker.pkg.dev`) - required.
- `repository_id: str | None = None` (default: `name`; 1-63 lowercase letters, digits, `-`).
- `image_name: str = "service"` the package inside the repository.
- `kms_key_name: Input[str] | None = None` a Cloud KMS key (CMEK) that encrypts the repository;
  the Artifact Registry service agent needs `roles/cloudkms.cryptoKeyEncrypterDecrypter` on it.
  Default: Google-managed encryption. (Changing it replaces the repository.)
- `immutable_tags: bool = True` a pushed tag can never be moved to other content.
- `keep_versions: int = 30` the newest versions kept whatever their age (the rollback window);
  `untagged_after_days: int = 1` untagged versions (failed or superseded pushes) are deleted
  after this many days. `cleanup_dry_run: bool = False` (True only logs what would go).
- `vulnerability_scanning: bool = True` (container scanning; billed per image scanned).
- `context`, `dockerfile`, `hashed_paths`, `platform`, `build_args`, `tag` as for the ECR image
  (components/aws/image.py; the tag is the same content hash, from components/image_build.py).
- `labels: Mapping[str, str] = {}`.

The image is built by pulumi-docker and pushed with the deploying identity's OAuth access token
(`gcp.organizations.get_client_config`, user `oauth2accesstoken`, marked secret); nothing
long-lived is created for the push. The service runs the image **by digest** (`image_ref`).

Outputs: `repository_id`, `repository_url` (`<location>-docker.pkg.dev/<project>/<repo>`),
`tag`, `image_ref` (`<repository_url>/<image>@sha256:...`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_gcp as gcp

from components.image_build import PLATFORMS, REPO_ROOT, build_and_push, image_tag, valid_tag

REPOSITORY_ID = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
IMAGE_NAME = re.compile(r"[a-z0-9]+([._/-][a-z0-9]+)*")
LOCATION = re.compile(r"[a-z]+(-[a-z]+)?[0-9]*(-[a-z]+[0-9]+)?")
DAY_SECONDS = 86_400
PUSH_USER = "oauth2accesstoken"


@dataclass(frozen=True)
class RegistryArgs:
    project: pulumi.Input[str]
    location: str
    repository_id: str | None = None
    image_name: str = "service"
    kms_key_name: pulumi.Input[str] | None = None
    immutable_tags: bool = True
    keep_versions: int = 30
    untagged_after_days: int = 1
    cleanup_dry_run: bool = False
    vulnerability_scanning: bool = True
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
    tag: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not LOCATION.fullmatch(self.location):
            raise ValueError(f"Registry: location must be a region, got {self.location!r}")
        if self.repository_id is not None and not REPOSITORY_ID.fullmatch(self.repository_id):
            raise ValueError(
                f"Registry: repository_id must be 1-63 lowercase letters, digits or '-', "
                f"starting with a letter, got {self.repository_id!r}"
            )
        if not IMAGE_NAME.fullmatch(self.image_name):
            raise ValueError(f"Registry: image_name is not a Docker name: {self.image_name!r}")
        if self.keep_versions < 1:
            raise ValueError(f"Registry: keep_versions must be >= 1, got {self.keep_versions}")
        if self.untagged_after_days < 1:
            raise ValueError(
                f"Registry: untagged_after_days must be >= 1, got {self.untagged_after_days}"
            )
        if self.platform not in PLATFORMS:
            raise ValueError(f"Registry: platform must be one of {PLATFORMS}")
        if self.tag is not None and not valid_tag(self.tag):
            raise ValueError(f"Registry: tag {self.tag!r} is not a Docker tag")


def cleanup_policies(
    keep_versions: int, untagged_after_days: int
) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    """Keep the newest `keep_versions`; delete untagged versions older than the given days.

    Artifact Registry applies KEEP before DELETE: a version among the newest N is never deleted.
    """
    return [
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="keep-recent",
            action="KEEP",
            most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                keep_count=keep_versions
            ),
        ),
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-untagged",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                tag_state="UNTAGGED", older_than=f"{untagged_after_days * DAY_SECONDS}s"
            ),
        ),
    ]


class Registry(pulumi.ComponentResource):
    """Artifact Registry docker repository (immutable tags, cleanup) and the image pushed there."""

    repository_id: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    tag: str
    image_ref: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:gcp:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repository_id = args.repository_id or name
        if not REPOSITORY_ID.fullmatch(repository_id):
            raise ValueError(f"Registry: {repository_id!r} is not a valid repository id")
        tag = args.tag or image_tag(REPO_ROOT, args.hashed_paths, args.platform, args.build_args)
        self.tag = tag

        repository = gcp.artifactregistry.Repository(
            f"{name}-repo",
            project=args.project,
            location=args.location,
            repository_id=repository_id,
            format="DOCKER",
            description=f"{name}: the service image, deployed by digest",
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(
                immutable_tags=args.immutable_tags
            ),
            cleanup_policies=cleanup_policies(args.keep_versions, args.untagged_after_days),
            cleanup_policy_dry_run=args.cleanup_dry_run,
            kms_key_name=args.kms_key_name,
            vulnerability_scanning_config=gcp.artifactregistry.RepositoryVulnerabilityScanningConfigArgs(
                enablement_config="INHERITED" if args.vulnerability_scanning else "DISABLED"
            ),
            labels=dict(args.labels) or None,
            opts=child,
        )
        repository_url = pulumi.Output.concat(
            f"{args.location}-docker.pkg.dev/", repository.project, "/", repository.repository_id
        )

        credentials = gcp.organizations.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image = build_and_push(
            f"{name}-build",
            image_name=repository_url.apply(lambda url: f"{url}/{args.image_name}:{tag}"),
            context=args.context,
            dockerfile=args.dockerfile,
            platform=args.platform,
            build_args=args.build_args,
            registry=docker.RegistryArgs(
                server=f"{args.location}-docker.pkg.dev",
                username=PUSH_USER,
                password=pulumi.Output.secret(credentials.access_token),
            ),
            opts=child,
        )

        self.repository_id = repository.repository_id
        self.repository_url = repository_url
        self.image_ref = image.repo_digest
        self.register_outputs(
            {
                "repository_id": self.repository_id,
                "repository_url": self.repository_url,
                "tag": self.tag,
                "image_ref": self.image_ref,
            }
        )
