"""Vendor Swagger UI for `/docs` from the npm package `swagger-ui-dist` (`make vendor-docs-ui`).

`npm pack` fetches the published tarball; only the files the docs page needs are kept, with a
manifest of the npm version and each file's sha256 (tests check the files against it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "swagger-ui-dist"
DEFAULT_VERSION = "5.35.0"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE")
TARGET = Path(__file__).resolve().parent.parent / "service" / "static" / "swagger-ui"
MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(version: str, target: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(  # noqa: S603 (fixed argv; npm from PATH is the point)
            ["npm", "pack", "--silent", f"{PACKAGE}@{version}"],  # noqa: S607
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(work).glob(f"{PACKAGE}-*.tgz")
        with tarfile.open(tarball) as archive:
            package = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
            target.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                member = archive.extractfile(f"package/{name}")
                if member is None:
                    raise SystemExit(f"{PACKAGE}@{version} has no {name}")
                (target / name).write_bytes(member.read())
    manifest = {
        "package": PACKAGE,
        "version": package["version"],
        "source": f"npm pack {PACKAGE}@{package['version']}",
        "files": {name: sha256(target / name) for name in FILES},
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="swagger-ui-dist version")
    args = parser.parse_args()
    manifest = vendor(args.version, TARGET)
    print(f"vendored {PACKAGE}@{manifest['version']} into {TARGET}")


if __name__ == "__main__":
    main()
