"""The service image's properties that matter, read from service/Dockerfile (no daemon needed)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "service" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int  # -1 before the first FROM


def parse(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, arguments.strip(), stage))
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def test_only_known_instructions(instructions: list[Instruction]) -> None:
    known = {
        "FROM",
        "ARG",
        "ENV",
        "WORKDIR",
        "COPY",
        "RUN",
        "USER",
        "VOLUME",
        "EXPOSE",
        "HEALTHCHECK",
        "CMD",
        "LABEL",
        "STOPSIGNAL",
        "ENTRYPOINT",
    }
    assert {i.keyword for i in instructions} <= known
    # Nothing that needs BuildKit (pulumi-docker may build with either builder).
    assert not any("--mount" in i.arguments for i in instructions)
    assert not DOCKERFILE.read_text().startswith("# syntax=")


def test_base_image_is_a_build_arg_used_by_every_stage(instructions: list[Instruction]) -> None:
    first = instructions[0]
    assert (first.keyword, first.arguments) == ("ARG", "BASE_IMAGE=python:3.12-slim")
    froms = [i.arguments for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage: a builder and a runtime"
    assert all(f.startswith("${BASE_IMAGE} AS ") for f in froms), froms
    assert froms[0].endswith("AS builder")


def test_runtime_takes_the_built_environment_from_the_builder(
    instructions: list[Instruction], final_stage: list[Instruction]
) -> None:
    copies = [i.arguments for i in final_stage if i.keyword == "COPY" and "--from" in i.arguments]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    assert env_values(final_stage)["PATH"].startswith("/opt/venv/bin:")
    assert not any(
        "pip install" in i.arguments or "pip wheel" in i.arguments for i in final_stage
    ), "nothing is downloaded in the runtime stage"
    builder = [i for i in instructions if i.stage == 0]
    builds = [i.arguments for i in builder if i.keyword == "RUN" and "pip wheel" in i.arguments]
    assert builds
    for build in builds:
        install = build[build.index("pip install") :]
        assert "--no-index" in install, "the environment is installed from the built wheels only"


def test_only_the_service_requirements_are_installed(instructions: list[Instruction]) -> None:
    pip_runs = [i.arguments for i in instructions if i.keyword == "RUN" and "pip" in i.arguments]
    assert pip_runs
    for command in pip_runs:
        for match in re.finditer(r"pip (install|wheel)\b(.*?)(?:&&|$)", command):
            words = [w.rstrip(";") for w in shlex.split(match.group(2)) if w not in (";", "fi")]
            requirement_files = [words[n + 1] for n, w in enumerate(words) if w == "-r"]
            constraint_files = [words[n + 1] for n, w in enumerate(words) if w == "-c"]
            packages = [
                w
                for n, w in enumerate(words)
                if not w.startswith("-")
                and (n == 0 or words[n - 1] not in ("-r", "-c", "--wheel-dir", "--find-links"))
            ]
            assert requirement_files and all(
                f in ("requirements/service.txt", "requirements/datadog.txt")
                for f in requirement_files
            ), command
            assert constraint_files == ["requirements/constraints.txt"], command
            if any(f.endswith("datadog.txt") for f in requirement_files):
                assert '"$SERVICE_EXTRAS" = "datadog"' in command, "tracing only when asked"
            assert packages == [], f"ad-hoc packages in {command!r}"
    copies = [
        i.arguments for i in instructions if i.keyword == "COPY" and "--from" not in i.arguments
    ]
    sources = {source for c in copies for source in shlex.split(c)[:-1]}
    assert sources == {
        "requirements/service.txt",
        "requirements/constraints.txt",
        "requirements/datadog.txt",
        "service/",
    }, sources


def test_runs_as_a_non_root_user(final_stage: list[Instruction]) -> None:
    users = [i.arguments for i in final_stage if i.keyword == "USER"]
    assert users, "the runtime stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric, non-zero uid (runAsNonRoot can verify it)"
    user_index = max(n for n, i in enumerate(final_stage) if i.keyword == "USER")
    later = [i.keyword for i in final_stage[user_index + 1 :]]
    assert "RUN" not in later and "COPY" not in later, "nothing runs as root after USER"


def test_read_only_root_file_system_writes_only_to_tmp(final_stage: list[Instruction]) -> None:
    env = env_values(final_stage)
    assert env["HOME"] == "/tmp"
    assert env["TMPDIR"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["DATA_DIR"].startswith("/tmp/")
    assert any(i.keyword == "RUN" and "compileall" in i.arguments for i in final_stage)


def test_healthcheck_probes_heartbeat_with_python(final_stage: list[Instruction]) -> None:
    checks = [i.arguments for i in final_stage if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python" and "/heartbeat" in argv[-1]
    assert not re.search(r"\b(curl|wget)\b", checks[0])  # slim images have neither
    compile(argv[-1], "healthcheck", "exec")  # the probe is valid Python


def test_serves_on_8000_and_migrates_separately(final_stage: list[Instruction]) -> None:
    assert [i.arguments for i in final_stage if i.keyword == "EXPOSE"] == ["8000"]
    (cmd,) = [i.arguments for i in final_stage if i.keyword == "CMD"]
    assert json.loads(cmd) == [
        "python",
        "-m",
        "service",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    assert not any(i.keyword == "ENTRYPOINT" for i in final_stage), (
        "no entrypoint, so `python -m service migrate` is a plain command override"
    )
    assert "migrate" not in cmd


def test_secure_environment_default_and_no_secrets(instructions: list[Instruction]) -> None:
    env = env_values(instructions)
    assert env.get("ENVIRONMENT") == "prod", "the image refuses development defaults unless told"
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE|DATABASE_URL")
    for instruction in instructions:
        if instruction.keyword in ("ENV", "ARG", "LABEL"):
            assert not secretish.search(instruction.arguments.upper()), instruction
        assert not re.search(r"\.pem\b|\.env\b|id_rsa", instruction.arguments), instruction
    assert not any(i.keyword == "ADD" for i in instructions), "COPY only: no remote ADD"


def test_dockerignore_admits_only_the_service_and_its_requirements() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "exclude everything, then admit what the image needs"
    assert {line for line in lines if line.startswith("!")} == {
        "!requirements/service.txt",
        "!requirements/datadog.txt",
        "!requirements/constraints.txt",
        "!service/",
    }
    for pattern in ("**/__pycache__", "**/.data", "**/*.pem"):
        assert pattern in lines
    # Docker reads the Dockerfile whatever .dockerignore says; this keeps it out of /app.
    assert lines.index("service/Dockerfile") > lines.index("!service/")


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax (Go filepath.Match plus `**`), matching a path or its parents."""
    text = pattern.rstrip("/")
    out = ""
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        elif text[i] == "[":
            end = text.index("]", i)
            out, i = out + text[i : end + 1], end + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(f"^{out}(?:/.*)?$")


def in_build_context(path: str) -> bool:
    included = True
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if _dockerignore_regex(line.lstrip("!")).match(path):
            included = negated
    return included


def test_the_vendored_docs_ui_ships_in_the_image(final_stage: list[Instruction]) -> None:
    assets = sorted((ROOT / "service" / "static" / "swagger-ui").iterdir())
    assert {a.name for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css", "manifest.json"}
    for asset in assets:
        assert in_build_context(str(asset.relative_to(ROOT))), asset
    copies = [i.arguments for i in final_stage if i.keyword == "COPY"]
    assert "service/ /app/service/" in copies
    # The matcher can say no: what .dockerignore keeps out stays out.
    assert not in_build_context("service/Dockerfile")
    assert not in_build_context("service/.data/media-signing-key")
    assert not in_build_context("service/static/__pycache__/x.pyc")
    assert not in_build_context("tests/service/test_openapi.py")


def test_the_virtualenv_leaves_the_builder_without_its_installers(
    instructions: list[Instruction],
) -> None:
    builder = [i for i in instructions if i.stage == 0]
    last_run = [i.arguments for i in builder if i.keyword == "RUN"][-1]
    steps = [step.strip() for step in last_run.split("&&")]
    assert "/opt/venv/bin/python -m pip check" in steps, "ddtrace's wheels agree with the service's"
    assert steps[-1] == "/opt/venv/bin/python -m pip uninstall --yes pip setuptools"
    assert steps.index("/opt/venv/bin/python -m pip check") < len(steps) - 1


def test_parser_handles_continuations_and_comments() -> None:
    parsed = parse("ARG A=1\n# c\nFROM x AS y\nRUN a \\\n  # inner comment\n  && b\n")
    assert [(i.keyword, i.arguments, i.stage) for i in parsed] == [
        ("ARG", "A=1", -1),
        ("FROM", "x AS y", 0),
        ("RUN", "a  && b", 0),
    ]
