"""Entry point: validate the settings, then synthesise the stack into the output folder."""

from __future__ import annotations

import json
import os
import sys

from cdktf import App

from store2018.config import ConfigError, ProjectSettings
from store2018.jsii_node import PROJECT_ROOT
from store2018.stack import Store2018Stack

STACK_NAME = "store2018"


def default_outdir() -> str:
    """`cdktf synth` passes CDKTF_OUTDIR; otherwise `output` from cdktf.json (`terraform`)."""
    configured = json.loads((PROJECT_ROOT / "cdktf.json").read_text())["output"]
    return os.environ.get("CDKTF_OUTDIR") or str(PROJECT_ROOT / configured)


def build_app(*, outdir: str, settings: ProjectSettings) -> App:
    app = App(outdir=outdir)
    Store2018Stack(app, STACK_NAME, settings=settings)
    return app


def main() -> int:
    try:
        settings = ProjectSettings()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    build_app(outdir=default_outdir(), settings=settings).synth()
    return 0
