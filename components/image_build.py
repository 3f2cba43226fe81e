"""Cloud-neutral parts of the service image: the content tag and the pulumi-docker build.

Shared by the ECR image (components/aws/image.py) and the Artifact Registry one
(components/gcp/registry.py): the tag is a SHA-256 over the service's files (see
`content_hash`), and `build_and_push` builds `service/Dockerfile` and pushes it with the given
registry credentials; the caller deploys `repo_digest` (the image by digest), never the tag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pulumi
import pulumi_docker as docker

REPO_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("linux/amd64", "linux/arm64")
# What .dockerignore keeps out of the build context must not move the tag either.
IGNORED_DIRECTORIES = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv", ".data"}
)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".pyd", ".pem")
IGNORED_NAMES = frozenset({".env", ".DS_Store"})
TAG_LENGTH = 20


def _files(root: Path, relative: str) -> Iterator[Path]:
    path = root / relative
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        return
    for candidate in path.rglob("*"):
        parts = candidate.relative_to(root).parts
        if any(part in IGNORED_DIRECTORIES for part in parts):
            continue
        if candidate.name in IGNORED_NAMES or candidate.name.endswith(IGNORED_SUFFIXES):
            continue
        if candidate.is_file():
            yield candidate


def content_hash(root: Path, paths: Sequence[str], salt: str = "") -> str:
    """SHA-256 (hex) of every file under `paths`, by relative path and content, plus `salt`.

    Deterministic: independent of file order on disk, timestamps, permissions and the absolute
    location of `root`.
    """
    digest = hashlib.sha256(salt.encode())
    files = sorted({f for p in paths for f in _files(root, p)}, key=lambda f: f.relative_to(root))
    for file in files:
        relative = file.relative_to(root).as_posix().encode()
        content = file.read_bytes()
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def image_tag(
    root: Path, paths: Sequence[str], platform: str, build_args: Mapping[str, str] | None = None
) -> str:
    """The image tag for this service content, platform and build arguments."""
    salt = platform
    if build_args:
        salt += json.dumps(sorted(build_args.items()))
    return content_hash(root, paths, salt=salt)[:TAG_LENGTH]


def valid_tag(tag: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    return 0 < len(tag) <= 128 and tag[0] not in ".-" and set(tag) <= allowed


def build_and_push(
    name: str,
    *,
    image_name: pulumi.Input[str],
    context: str,
    dockerfile: str,
    platform: str,
    build_args: Mapping[str, str],
    registry: docker.RegistryArgs,
    opts: pulumi.ResourceOptions,
) -> docker.Image:
    """Build the image with pulumi-docker and push it to `registry` (credentials kept secret)."""
    return docker.Image(
        name,
        image_name=image_name,
        build=docker.DockerBuildArgs(
            context=context,
            dockerfile=dockerfile,
            platform=platform,
            args=dict(build_args) or None,
        ),
        registry=registry,
        opts=opts,
    )
