"""Publishing a synthesis into the output folder: whole, exclusive, and never at a user's expense.

- Exclusive: one synthesis at a time per output folder, by an advisory lock on a file beside it
  (`.terraform.synth.lock`); a second one is refused at once with the first one's pid.
- Whole: a complete, checked synthesis is first renamed beside the output folder
  (`.terraform.publishing`), which marks it as being published, then its files are moved in, each by
  an atomic rename, the stacks first and `manifest.json` last. SIGINT, SIGTERM and SIGHUP arriving
  meanwhile are held by handlers of ours and delivered after the last one (jsii's threads make a
  signal mask useless: a signal goes to whichever thread does not block it). A synthesis killed even
  so (SIGKILL) is finished by the next one, before anything else, so the output folder never stays a
  mix of two syntheses; the next one also removes scratch folders a killed synthesis left.
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
    files = sorted(p.relative_to(journal) for p in journal.rglob("*") if p.is_file())
    files.sort(key=lambda f: f == Path("manifest.json"))  # the manifest last: it names what is complete
    with _signals_held():
        produced = _produced_stacks(journal, outdir)
        stacks = outdir / "stacks"
        if produced is not None and stacks.is_dir():
            for old in stacks.iterdir():
                if old.is_dir() and old.name not in produced:
                    (old / "cdk.tf.json").unlink(missing_ok=True)  # its run files stay
        for relative in files:
            target = outdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(journal / relative, target)


def _produced_stacks(journal: Path, outdir: Path) -> set[str] | None:
    """The stacks of the synthesis being published, from its manifest (moved last, so it is in the journal
    until every stack is out); None if no manifest says (then no stack is treated as removed)."""
    for manifest in (journal / "manifest.json", outdir / "manifest.json"):
        if manifest.exists():
            return set(json.loads(manifest.read_text())["stacks"])
    return None


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then deliver them (main thread only)."""
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, frame: held.append(number)) for sig in _HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for number in dict.fromkeys(held):
            os.kill(os.getpid(), number)


def override_files(outdir: Path) -> list[Path]:
    """Terraform override files beside the published stacks."""
    stacks = outdir / "stacks"
    if not stacks.is_dir():
        return []
    return sorted({p for pattern in OVERRIDE_PATTERNS for p in stacks.glob(f"*/{pattern}") if p.is_file()})
