"""Release manifests: which image each service runs in each workspace, one JSON file per workspace.

    releases/<workspace>.json   {"images": {"account": "sha256:<64 hex>" | "<tag>", ...},
                                 "previous": {...}}

The manifest is the one source of truth for images: the catalog (`catalog.py`) names each service's
repository only, and the image a task runs is `<repository>@sha256:<digest>` or `<repository>:<tag>`.
A digest names one image for good; a tag can be moved to another image by whoever can push to the
repository, so a tag is reported at every synthesis and refused in an environment with
`EnvironmentSettings.require_image_digests`. `previous` is what `promote` (and `pin`) replaced: what
`rollback` puts back (the delivery driver writes both; people review the change in a pull request).

Nothing here imports cdktf.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store2018.checks import ConfigError, fail

ROOT = Path(__file__).resolve().parents[2]
RELEASES_DIR = ROOT / "releases"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ALLOWED = "a digest 'sha256:<64 lower-case hex digits>' or a Docker tag (1 to 128 letters, digits, '_', '.', '-')"


def is_digest(image: str) -> bool:
    return DIGEST.fullmatch(image) is not None


def image_reference(repository: str, image: str) -> str:
    """What the container definition names: `repo@sha256:...` for a digest, `repo:tag` for a tag."""
    return f"{repository}@{image}" if is_digest(image) else f"{repository}:{image}"


def manifest_path(workspace: str, folder: Path = RELEASES_DIR) -> Path:
    return folder / f"{workspace}.json"


def check_image(setting: str, image: object) -> None:
    if not isinstance(image, str) or not (DIGEST.fullmatch(image) or TAG.fullmatch(image)):
        fail(setting, image, ALLOWED, "write the digest the registry printed when the image was pushed "
             "(`docker buildx imagetools inspect <repo>:<tag>`), or a tag")  # fmt: skip


@dataclass(frozen=True)
class Release:
    """One workspace's manifest: service -> digest or tag, and what the last promotion replaced."""

    images: Mapping[str, str]
    previous: Mapping[str, str] = field(default_factory=dict)
    source: str = "releases/<workspace>.json"  # where it was read from, for messages

    def validate(self, workspace: str, services: Mapping[str, Any], *, require_digests: bool) -> None:
        where = self.source
        for part, images in (("images", self.images), ("previous", self.previous)):
            if not isinstance(images, Mapping):
                fail(f"{where}: {part}", images, "an object of service name -> image", '{"account": "sha256:..."}')
            for service, image in images.items():
                if service not in services:
                    fail(f"{where}: {part}", service, f"a service of the catalog ({', '.join(services)})",
                         "fix the name, or add the service to catalog.py first")  # fmt: skip
                check_image(f"{where}: {part}.{service}", image)
        missing = [s for s in services if s not in self.images]
        if missing:
            fail(f"{where}: images", sorted(self.images), f"every service of the catalog, missing {', '.join(missing)}",
                 f'add "{missing[0]}": "<digest or tag>"')  # fmt: skip
        if require_digests:
            for service in services:
                if not is_digest(self.images[service]):
                    fail(f"{where}: images.{service}", self.images[service],
                         f"a digest: ENVIRONMENTS[{workspace!r}].require_image_digests is on, and a tag can be moved "
                         "to another image after review", f"promote a digest (`make promote FROM=... TO={workspace}`)"
                         " or pin one (`make pin`)")  # fmt: skip

    def mutable_tags(self) -> list[str]:
        return [service for service, image in self.images.items() if not is_digest(image)]

    def document(self) -> dict[str, Any]:
        """The manifest as written: keys sorted, so that a change is a small diff."""
        return {"images": dict(sorted(self.images.items())), "previous": dict(sorted(self.previous.items()))}


def read_release(path: Path) -> Release:
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{_shown(path)}: not JSON ({error}). Fix: correct the file (it is written by "
                          "`make promote` / `make pin`)") from None  # fmt: skip
    if not isinstance(document, dict) or set(document) - {"images", "previous"} or "images" not in document:
        shape = document if not isinstance(document, dict) else sorted(document)
        fail(_shown(path), shape, 'an object with "images" (and optionally "previous")', 'write {"images": {...}}')
    return Release(images=document["images"], previous=document.get("previous", {}), source=_shown(path))


def _shown(path: Path) -> str:
    """`releases/prod.json` inside the project, the full path elsewhere."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def write_release(path: Path, release: Release) -> None:
    """Replace the manifest whole (a temporary file renamed over it): never half-written."""
    text = json.dumps(release.document(), indent=2) + "\n"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def load_releases(workspaces: list[str], folder: Path = RELEASES_DIR) -> dict[str, Release]:
    """The manifests there are of these workspaces (`Settings` validates them, and reports a missing one
    after the environments table itself is checked)."""
    paths = {workspace: manifest_path(workspace, folder) for workspace in workspaces}
    return {workspace: read_release(path) for workspace, path in paths.items() if path.exists()}
