"""README.md and docs/*.md: every relative link resolves, every `make` target they name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+((?:[A-Z_]+=\S+\s+)*)([a-z][\w-]*)")
TARGET = re.compile(r"^([a-zA-Z][\w-]*)\s*:(?!=)", re.M)


def prose(text: str) -> str:
    """The page without fenced code blocks (`#` lines there are no headings, `[x](y)` no links)."""
    return FENCE.sub("", text)


def code(text: str) -> list[str]:
    """Fenced blocks and inline code spans: where the pages write commands."""
    blocks = [match.group(0) for match in FENCE.finditer(text)]
    return blocks + [match.group(2) for match in CODE_SPAN.finditer(prose(text))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation gone, spaces to `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[`*_~]|<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    return [target for target in LINK.findall(CODE_SPAN.sub("", prose(page.read_text())))]


def broken_links(page: Path, root: Path = REPO_ROOT) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(root) or not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_points_at_an_existing_file_and_anchor(page: Path) -> None:
    broken = broken_links(page)
    assert not broken, f"{page.relative_to(REPO_ROOT)}: " + "; ".join(broken)


def test_the_checker_finds_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(
        "# Other page\n\n## Set up (`make x`)\n\n## Set up (`make x`)\n"
    )
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n```sh\n# not a heading\n```\n"
        "[ok](other.md#set-up-make-x) [dup](other.md#set-up-make-x-1) [self](#title) "
        "[web](https://example.com/x) `[code](nowhere.md)`\n"
        "[gone](missing.md) [bad anchor](other.md#nope) [fenced](#not-a-heading)\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "missing.md: no such file",
        "other.md#nope: no heading with anchor #nope in other.md",
        "#not-a-heading: no heading with anchor #not-a-heading in page.md",
    ]


def test_the_pages_have_links_to_check() -> None:
    """The link pattern still matches the pages' links (a test that cannot fail is no test)."""
    readme = links(REPO_ROOT / "README.md")
    assert "docs/service.md" in readme and "docs/ops.md" in readme


def make_targets() -> set[str]:
    return set(TARGET.findall((REPO_ROOT / "Makefile").read_text())) - {"PHONY"}


def named_targets(page: Path) -> set[str]:
    return {target for snippet in code(page.read_text()) for _, target in MAKE.findall(snippet)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_make_target_the_docs_name_exists(page: Path) -> None:
    missing = named_targets(page) - make_targets()
    assert not missing, (
        f"{page.relative_to(REPO_ROOT)} names make targets the Makefile lacks: {missing}"
    )


def test_targets_are_read_from_code_not_prose(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Make sure you make friends. Run `make plan STACK=prod ARGS=--json`.\n\n"
        "```sh\nPORT=9000 make serve   # comment\nmake nosuch\n```\n"
    )
    assert named_targets(page) == {"plan", "serve", "nosuch"}
    assert named_targets(page) - make_targets() == {"nosuch"}


def test_the_front_door_targets_are_found() -> None:
    found = named_targets(REPO_ROOT / "README.md")
    assert {"test", "serve", "smoke", "load", "plan", "bench"} <= found <= make_targets()


def test_the_slugs_follow_github() -> None:
    assert slug("Backups (`ops.backups`)") == "backups-opsbackups"
    assert slug("Policy, offline plan, cost and CI/CD") == "policy-offline-plan-cost-and-cicd"
    assert slug("Quick start") == "quick-start"


# The contracts this project follows were handed over from outside; the repository says what they
# say in its own words and never sends a reader to a file it does not hold.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared\b|\bshared/[A-Z]+\.md|\b(CONTRACT|ADMIN)\.md\b")


def tracked_text_files() -> list[Path]:
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    suffixes = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ""}
    return [
        REPO_ROOT / name
        for name in listed.split("\0")
        if name and Path(name).suffix in suffixes and (REPO_ROOT / name).is_file()
    ]


def test_no_file_points_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in tracked_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE_REFERENCE.search(line)
    ]
    assert offenders == []


def test_the_outside_reference_check_catches_one() -> None:
    # Assembled from parts, so this file holds no such reference itself and is scanned too.
    folder, spec = "shared", "CONTRACT" + ".md"
    assert OUTSIDE_REFERENCE.search(f"the spec is {folder}/{spec}")
    assert OUTSIDE_REFERENCE.search(f"see ../{folder} for the panel")
    assert not OUTSIDE_REFERENCE.search("CONTRACT_VARIABLES = frozenset()")
