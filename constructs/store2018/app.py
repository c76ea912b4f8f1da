"""Synthesis: build the stacks from validated settings in a scratch folder, check, then publish.

All or nothing: the stacks are synthesised into a temporary folder beside the output folder.
Only when the synthesis raised nothing, no construct recorded an error annotation and our own
rules (`rules.py`) pass are the generated files moved into the output folder, each by an atomic
rename. A failure leaves the output folder as it was. (`cdktf synth` sets
CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS=true, so cdktf itself would write first and report
after.) Terraform's run files beside the synthesis (`.terraform/`, lock and override files, local
state) are left in place. The settings were checked before this module was imported
(`loading.load_and_report`, called by `main.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from cdktf import App

from store2018.loading import shown
from store2018.rules import check_synthesis
from store2018.settings import Settings
from store2018.stack import Store2018Stack
from store2018.state_bucket import StateBootstrapStack

STACK_NAME = "store2018"
BOOTSTRAP_STACK_NAME = "bootstrap"


class SynthesisRefused(Exception):
    """The synthesis ran but must not be published; the message says why."""


def build_app(*, outdir: str, settings: Settings) -> App:
    app = App(outdir=outdir)
    StateBootstrapStack(app, BOOTSTRAP_STACK_NAME, settings=settings)
    Store2018Stack(app, STACK_NAME, settings=settings)
    return app


def error_annotations(manifest: dict[str, Any]) -> list[str]:
    return [
        f"{note.get('constructPath', stack)}: {note.get('message')}"
        for stack, entry in manifest.get("stacks", {}).items()
        for note in entry.get("annotations", [])
        if str(note.get("level", "")).lower() == "error"
    ]


def check_scratch(scratch: Path) -> list[Path]:
    """Refuse a synthesis with error annotations or rule violations; return the generated files."""
    manifest = json.loads((scratch / "manifest.json").read_text())
    problems = error_annotations(manifest)
    for entry in manifest["stacks"].values():
        document = json.loads((scratch / entry["synthesizedStackPath"]).read_text())
        problems += [str(v) for v in check_synthesis(document)]
    if problems:
        raise SynthesisRefused("\n".join(f"  - {p}" for p in problems))
    return sorted(p.relative_to(scratch) for p in scratch.rglob("*") if p.is_file())


def publish(scratch: Path, files: list[Path], outdir: Path) -> None:
    """Move the generated files into `outdir`, each by an atomic rename; drop stacks no longer synthesised."""
    stacks = outdir / "stacks"
    kept = {f.parts[1] for f in files if f.parts[0] == "stacks"}
    if stacks.is_dir():
        for old in stacks.iterdir():
            if old.is_dir() and old.name not in kept:
                (old / "cdk.tf.json").unlink(missing_ok=True)
    for relative in files:
        target = outdir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(scratch / relative, target)


def synthesise(settings: Settings, outdir: Path) -> None:
    outdir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.synth-", dir=outdir.parent))
    try:
        try:
            build_app(outdir=str(scratch), settings=settings).synth()
        except Exception as error:  # jsii surfaces construct errors as RuntimeError
            raise SynthesisRefused(f"  - {error}") from error
        files = check_scratch(scratch)
        publish(scratch, files, outdir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def synthesise_and_report(settings: Settings, outdir: Path) -> int:
    """Exit status for `main.py`: 0 when published, 1 (and why, on standard error) when refused."""
    try:
        synthesise(settings, outdir)
    except SynthesisRefused as refused:
        print(f"Synthesis refused:\n{refused}\nNothing was written to {shown(outdir)}.", file=sys.stderr)
        return 1
    return 0
