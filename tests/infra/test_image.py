"""ContainerImage: content tag, hardened repository, image pushed with ECR credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.aws.image import (
    ContainerImage,
    ContainerImageArgs,
    content_hash,
    image_tag,
    lifecycle_policy,
)
from ops.offline import SECRET_PLACEHOLDER, run_program

PATHS = ("service", "requirements/service.txt", ".dockerignore")


def _tree(root: Path) -> Path:
    (root / "service" / "migrations").mkdir(parents=True)
    (root / "service" / "__init__.py").write_text("")
    (root / "service" / "app.py").write_text("print('hello')\n")
    (root / "service" / "migrations" / "0001.py").write_text("up = 1\n")
    (root / "service" / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (root / "requirements").mkdir()
    (root / "requirements" / "service.txt").write_text("starlette==1.10.0\n")
    (root / "requirements" / "dev.txt").write_text("pytest==9.2.0\n")
    (root / "README.md").write_text("docs\n")
    return root


def test_tag_is_stable_for_unchanged_content(tmp_path: Path) -> None:
    first = _tree(tmp_path / "a")
    second = _tree(tmp_path / "b")  # same content, other location and mtimes
    assert image_tag(first, PATHS, "linux/amd64") == image_tag(second, PATHS, "linux/amd64")
    assert image_tag(first, PATHS, "linux/amd64") == image_tag(first, PATHS, "linux/amd64")


def test_caches_local_secrets_and_unrelated_files_do_not_change_the_tag(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = image_tag(root, PATHS, "linux/amd64")
    (root / "service" / "__pycache__").mkdir()
    (root / "service" / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\x00\x01")
    (root / "service" / "stale.pyc").write_bytes(b"\x02")
    (root / "service" / ".mypy_cache").mkdir()
    (root / "service" / ".mypy_cache" / "x.json").write_text("{}")
    (root / "service" / ".data").mkdir()
    (root / "service" / ".data" / "dev-key.pem").write_text("-----BEGIN PRIVATE KEY-----")
    (root / "service" / ".env").write_text("ENVIRONMENT=local\n")
    (root / "README.md").write_text("changed docs\n")
    (root / "requirements" / "dev.txt").write_text("pytest==9.9.9\n")
    assert image_tag(root, PATHS, "linux/amd64") == before


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "service" / "app.py").write_text("print('bye')\n"),
        lambda r: (r / "service" / "migrations" / "0002.py").write_text("up = 2\n"),
        lambda r: (r / "service" / "Dockerfile").write_text("FROM python:3.13-slim\n"),
        lambda r: (r / "requirements" / "service.txt").write_text("starlette==1.11.0\n"),
        lambda r: (r / ".dockerignore").write_text("*\n!service/\n"),
        lambda r: (r / "service" / "app.py").rename(r / "service" / "main.py"),
    ],
    ids=["edit", "new-file", "dockerfile", "requirements", "dockerignore", "rename"],
)
def test_a_service_change_changes_the_tag(tmp_path: Path, change: object) -> None:
    root = _tree(tmp_path)
    before = image_tag(root, PATHS, "linux/amd64")
    change(root)  # type: ignore[operator]
    assert image_tag(root, PATHS, "linux/amd64") != before


def test_platform_is_part_of_the_tag(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert image_tag(root, PATHS, "linux/amd64") != image_tag(root, PATHS, "linux/arm64")


def test_build_args_are_part_of_the_tag_and_reach_the_build(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    plain = image_tag(root, PATHS, "linux/amd64")
    assert image_tag(root, PATHS, "linux/amd64", {}) == plain
    traced = image_tag(root, PATHS, "linux/amd64", {"SERVICE_EXTRAS": "datadog"})
    assert traced != plain

    recording = run_program(
        "prod",
        program=lambda: ContainerImage(
            "svc",
            ContainerImageArgs(kms_key_arn="k", build_args={"SERVICE_EXTRAS": "datadog"}),
        ),
        use_stack_file=False,
    )
    image = recording.one("docker:index/image:Image")
    assert image.inputs["build"]["args"] == {"SERVICE_EXTRAS": "datadog"}


def test_content_hash_cannot_be_fooled_by_moving_bytes_between_files(tmp_path: Path) -> None:
    one = tmp_path / "one"
    two = tmp_path / "two"
    for root, (a, b) in ((one, ("ab", "c")), (two, ("a", "bc"))):
        (root / "service").mkdir(parents=True)
        (root / "service" / "a").write_text(a)
        (root / "service" / "b").write_text(b)
    assert content_hash(one, ["service"]) != content_hash(two, ["service"])


def test_lifecycle_keeps_the_newest_images() -> None:
    rules = json.loads(lifecycle_policy(12))["rules"]
    keep = [r for r in rules if r["selection"]["tagStatus"] == "any"]
    assert keep[0]["selection"] == {
        "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 12
    }
    # ECR requires the `any` rule to have the lowest priority (highest number).
    assert keep[0]["rulePriority"] == max(r["rulePriority"] for r in rules)


def test_repository_is_hardened_and_the_image_pushed_with_ecr_credentials() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/service"
    recording = run_program(
        "dev",
        program=lambda: ContainerImage("svc", ContainerImageArgs(kms_key_arn=key)),
        use_stack_file=False,
    )
    repo = recording.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]
    assert repo.inputs.get("forceDelete") is not True
    lifecycle = recording.one("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert json.loads(lifecycle.inputs["policy"])["rules"][-1]["selection"]["countNumber"] == 30

    image = recording.one("docker:index/image:Image")
    expected_tag = image_tag(
        Path(__file__).resolve().parents[2], ContainerImageArgs(kms_key_arn="").hashed_paths,
        "linux/amd64",
    )
    assert image.inputs["imageName"] == f"{repo.outputs['repositoryUrl']}:{expected_tag}"
    assert image.inputs["build"] == {
        "context": ".", "dockerfile": "service/Dockerfile", "platform": "linux/amd64"
    }
    registry = image.inputs["registry"]
    assert registry["value"]["server"] == repo.outputs["repositoryUrl"]
    assert registry["value"]["username"] == "AWS"
    assert registry["value"]["password"] == SECRET_PLACEHOLDER
    assert "4dabf18193072939515e22adb298388d" in registry  # marked secret: never in plain state
    tokens = [t for t, _ in recording.invokes]
    assert "aws:ecr/getAuthorizationToken:getAuthorizationToken" in tokens


def test_tag_override_is_used_verbatim() -> None:
    recording = run_program(
        "dev",
        program=lambda: ContainerImage(
            "svc", ContainerImageArgs(kms_key_arn="arn:aws:kms:us-east-1:1:key/k", tag="v1.2.3")
        ),
        use_stack_file=False,
    )
    assert recording.one("docker:index/image:Image").inputs["imageName"].endswith(":v1.2.3")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"platform": "windows/amd64"}, "platform must be one of"),
        ({"keep_images": 0}, "keep_images must be >= 1"),
        ({"tag": "-bad"}, "is not a Docker tag"),
        ({"tag": "has space"}, "is not a Docker tag"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ContainerImageArgs(kms_key_arn="k", **kwargs)  # type: ignore[arg-type]
