"""Publishing a synthesis into the output folder: whole, exclusive, and never at a user's expense.

- Exclusive: one synthesis at a time per output folder, by an advisory lock on a file beside it
  (`.terraform.synth.lock`); a second one is refused at once with the first one's pid.
- Whole: a complete, checked synthesis is first renamed beside the output folder
  (`.terraform.publishing`), which marks it as being published, then its files are moved in, each by
  an atomic rename, the stacks first and `manifest.json` last, with SIGINT, SIGTERM and SIGHUP held
  until the last one. A synthesis killed even so (SIGKILL) is finished by the next one, before
  anything else, so the output folder never stays a mix of two syntheses; the next one also removes
  scratch folders a killed synthesis left (`.terraform.synth-*`).
- Never at a user's expense: only the files a synthesis writes are replaced or removed. Terraform's
  run files beside a stack (`.terraform/`, local state, lock and override files) stay, also for a
  stack the app no longer produces (its `cdk.tf.json` goes, the rest stays). An override file beside
  a stack changes what Terraform applies, unseen by review and by our rules: it is named in a warning.

Pure Python (no cdktf): `main.py` takes the lock before jsii starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store2018.loading import shown

# Terraform reads these beside the configuration and merges them over it.
OVERRIDE_PATTERNS = ("override.tf", "override.tf.json", "*_override.tf", "*_override.tf.json")
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class SynthesisBusy(Exception):
    """Another synthesis holds the output folder."""


def lock_path(outdir: Path) -> Path:
    return outdir.parent / f".{outdir.name}.synth.lock"


def scratch_prefix(outdir: Path) -> str:
    return f".{outdir.name}.synth-"


def journal_path(outdir: Path) -> Path:
    return outdir.parent / f".{outdir.name}.publishing"


@contextmanager
def exclusive(outdir: Path) -> Iterator[None]:
    """Hold the output folder's lock (released when the process ends, however it ends), or SynthesisBusy."""
    outdir.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(outdir)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise SynthesisBusy(
                f"another synthesis (pid {holder}) is writing {shown(outdir)}: wait for it to finish, then run "
                f"again (its lock: {shown(path)})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover(outdir: Path) -> list[str]:
    """Under the lock: finish a publish a killed synthesis left, remove its scratch folders; say what was done."""
    done = []
    journal = journal_path(outdir)
    if journal.is_dir():
        _move_in(journal, outdir)
        shutil.rmtree(journal)
        done.append(f"finished publishing an interrupted synthesis into {shown(outdir)}")
    for stale in sorted(outdir.parent.glob(f"{scratch_prefix(outdir)}*")):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
            done.append(f"removed {shown(stale)}, left by a synthesis that was stopped")
    return done


def publish(scratch: Path, outdir: Path) -> None:
    """Under the lock: move a complete, checked synthesis from `scratch` into `outdir`."""
    journal = journal_path(outdir)
    os.replace(scratch, journal)  # from here on, the next synthesis would finish this one
    _move_in(journal, outdir)
    shutil.rmtree(journal)


def _move_in(journal: Path, outdir: Path) -> None:
    manifest = journal / "manifest.json"
    produced = set(json.loads((manifest if manifest.exists() else outdir / "manifest.json").read_text())["stacks"])
    files = sorted(p.relative_to(journal) for p in journal.rglob("*") if p.is_file())
    files.sort(key=lambda f: f == Path("manifest.json"))  # the manifest last: it names what is complete
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        stacks = outdir / "stacks"
        if stacks.is_dir():
            for old in stacks.iterdir():
                if old.is_dir() and old.name not in produced:
                    (old / "cdk.tf.json").unlink(missing_ok=True)  # its run files stay
        for relative in files:
            target = outdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(journal / relative, target)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def override_files(outdir: Path) -> list[Path]:
    """Terraform override files beside the published stacks."""
    stacks = outdir / "stacks"
    if not stacks.is_dir():
        return []
    return sorted({p for pattern in OVERRIDE_PATTERNS for p in stacks.glob(f"*/{pattern}") if p.is_file()})
