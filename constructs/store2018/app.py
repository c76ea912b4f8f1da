"""Synthesis: build the stacks from validated settings in a scratch folder, check, then publish.

All or nothing: the stacks are synthesised into a temporary folder beside the output folder.
Only when the synthesis raised nothing, no construct recorded an error annotation, our own rules
(`rules.py`) pass and Terraform parses every template in it (`parse_check.py`) is it published
(`publishing.py`: whole, under the lock `main.py` holds). A failure leaves the output folder as it
was. (`cdktf synth` sets CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS=true, so cdktf itself would write
first and report after.) The settings were checked before this module was imported
(`loading.load_and_report`, called by `main.py`).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from cdktf import App

from store2018.loading import shown
from store2018.parse_check import parse_problems
from store2018.publishing import publish, scratch_prefix
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


def check_scratch(scratch: Path) -> list[str]:
    """Refuse a synthesis with error annotations, rule violations or templates Terraform cannot parse;
    return warnings (a parse check that could not run)."""
    manifest = json.loads((scratch / "manifest.json").read_text())
    problems = error_annotations(manifest)
    documents = {}
    for name, entry in manifest["stacks"].items():
        documents[name] = json.loads((scratch / entry["synthesizedStackPath"]).read_text())
        problems += [str(v) for v in check_synthesis(documents[name])]
    parsed = parse_problems(documents)
    problems += parsed.problems
    if problems:
        raise SynthesisRefused("\n".join(f"  - {p}" for p in problems))
    return parsed.warnings


def synthesise(settings: Settings, outdir: Path) -> list[str]:
    """Synthesise, check and publish (the caller holds the output folder's lock); returns warnings."""
    outdir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix(outdir), dir=outdir.parent))
    try:
        try:
            build_app(outdir=str(scratch), settings=settings).synth()
        except Exception as error:  # jsii surfaces construct errors as RuntimeError
            raise SynthesisRefused(f"  - {error}") from error
        warnings = check_scratch(scratch)
        publish(scratch, outdir)
        return warnings
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def synthesise_and_report(settings: Settings, outdir: Path) -> int:
    """Exit status for `main.py`: 0 when published (warnings on standard output: the cdktf CLI re-logs
    the app's standard error as errors), 1 (and why, on standard error) when refused."""
    try:
        warnings = synthesise(settings, outdir)
    except SynthesisRefused as refused:
        print(f"Synthesis refused:\n{refused}\nNothing was written to {shown(outdir)}.", file=sys.stderr)
        return 1
    for warning in [*settings.warnings(), *warnings]:
        print(f"warning: {warning}")
    return 0
