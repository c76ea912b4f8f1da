"""Images by digest: pin one, promote staging's digests to prod, roll a workspace back.

Each step rewrites a release manifest (`releases/<workspace>.json`, constructs/store2018/releases.py)
and re-synthesises terraform/, so that the change is one reviewable commit: the manifest and the
container definitions it changes. If the synthesis refuses (a tag where the environment requires a
digest, say), the manifest is put back: nothing is changed half-way.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from delivery.plans import DriverError
from local.emulated import ROOT
from store2018.checks import ConfigError
from store2018.releases import RELEASES_DIR, Release, check_image, is_digest, manifest_path, read_release, write_release


@dataclass(frozen=True)
class Changed:
    workspace: str
    images: dict[str, tuple[str, str]]  # service -> (before, after)
    skipped: dict[str, str]  # service -> why it was left as it is


def synthesise(root: Path) -> None:
    """`python main.py` in the project at `root` (it refuses and writes nothing on any problem)."""
    done = subprocess.run([sys.executable, str(root / "main.py")], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise DriverError(f"the synthesis refused the new manifest:\n{done.stderr or done.stdout}")


def _rewrite(path: Path, release: Release, root: Path, synth: Callable[[Path], None]) -> None:
    before = path.read_text()
    write_release(path, release)
    try:
        synth(root)
    except BaseException:
        path.write_text(before)
        raise


def pin(workspace: str, service: str, image: str, *, root: Path = ROOT, folder: Path = RELEASES_DIR,
        synth: Callable[[Path], None] = synthesise) -> Changed:  # fmt: skip
    """Set one service's image (a digest from the registry, or a tag) in one workspace."""
    path = manifest_path(workspace, folder)
    current = read_release(path)
    if service not in current.images:
        raise DriverError(f"{current.source} names no service {service!r} ({', '.join(current.images)})")
    try:
        check_image(f"{current.source}: images.{service}", image)
    except ConfigError as error:
        raise DriverError(str(error)) from None
    old = current.images[service]
    if old == image:
        return Changed(workspace, {}, {service: f"already {image}"})
    release = Release({**current.images, service: image}, {**current.previous, service: old}, current.source)
    _rewrite(path, release, root, synth)
    return Changed(workspace, {service: (old, image)}, {})


def promote(source: str, target: str, *, root: Path = ROOT, folder: Path = RELEASES_DIR,
            synth: Callable[[Path], None] = synthesise) -> Changed:  # fmt: skip
    """Copy `source`'s digests to `target`. A service `source` runs by tag is not promoted: a tag names
    no particular image, so what was tested cannot be told from it."""
    src, dst = read_release(manifest_path(source, folder)), read_release(manifest_path(target, folder))
    images, skipped, previous = dict(dst.images), {}, {}
    for service, image in src.images.items():
        if service not in dst.images:
            skipped[service] = f"not in {dst.source}"
        elif not is_digest(image):
            skipped[service] = f"{source} runs it by the tag {image!r}: pin a digest there first (`make pin`)"
        elif dst.images[service] != image:
            previous[service] = dst.images[service]
            images[service] = image
    changed = {service: (previous[service], images[service]) for service in previous}
    if changed:
        _rewrite(manifest_path(target, folder), Release(images, previous, dst.source), root, synth)
    return Changed(target, changed, skipped)


def rollback(workspace: str, *, root: Path = ROOT, folder: Path = RELEASES_DIR,
             synth: Callable[[Path], None] = synthesise) -> Changed:  # fmt: skip
    """Put back the images the last promote or pin replaced (and record these as `previous`, so that a
    rollback can itself be undone the same way)."""
    path = manifest_path(workspace, folder)
    current = read_release(path)
    if not current.previous:
        raise DriverError(f"{current.source} records no previous images: nothing to roll back to")
    back = {service: image for service, image in current.previous.items() if current.images.get(service) != image}
    release = Release({**current.images, **back}, {s: current.images[s] for s in back}, current.source)
    _rewrite(path, release, root, synth)
    return Changed(workspace, {s: (current.images[s], image) for s, image in back.items()}, {})
