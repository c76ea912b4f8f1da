#!/usr/bin/env python
"""Synthesise the Store2018 stacks into `terraform/` (see README.md).

`cdktf synth` runs this file (cdktf.json's "app"). In order: load and check the settings (the
files users edit, `constructs/store2018/environments.py` and `catalog.py`), which imports nothing
of cdktf, so a mistake is reported at once; start the toolchain (jsii's Node, the provider import
mechanism); then synthesise, all or nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Our construct package lives in constructs/ without an __init__.py, so that the folder
# never shadows the `constructs` library cdktf imports (see README, "Layout").
sys.path.insert(0, str(ROOT / "constructs"))

from store2018.loading import load_and_report  # noqa: E402  (needs the path above; imports no cdktf)


def output_folder() -> Path:
    """`cdktf synth` passes CDKTF_OUTDIR; otherwise `output` from cdktf.json (`terraform`)."""
    configured = json.loads((ROOT / "cdktf.json").read_text())["output"]
    return Path(os.environ.get("CDKTF_OUTDIR") or ROOT / configured)


def run() -> int:
    outdir = output_folder()
    settings = load_and_report(outdir)
    if settings is None:
        return 2

    import toolchain

    toolchain.start()  # before cdktf is first imported: it starts jsii's Node kernel
    from store2018.app import synthesise_and_report

    return synthesise_and_report(settings, outdir)


if __name__ == "__main__":
    sys.exit(run())
