#!/usr/bin/env python
"""Synthesise the Store2018 stacks into `terraform/` (see README.md).

`make synth` and `cdktf synth` run this file (cdktf.json's "app"). In order: take the output
folder's lock (a second synthesis is refused) and finish what a killed one left; load and check the
settings (the files users edit, `constructs/store2018/environments.py` and `catalog.py`), which
imports nothing of cdktf, so a mistake is reported at once; start the toolchain (jsii's Node, the
provider import mechanism); then synthesise and publish, all or nothing. Warnings go to standard
output (the cdktf CLI re-logs the app's standard error as errors), refusals to standard error.
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

# These need the path above and import nothing of cdktf.
from store2018.loading import load_and_report, shown  # noqa: E402
from store2018.publishing import SynthesisBusy, exclusive, override_files, recover  # noqa: E402


def output_folder() -> Path:
    """`cdktf synth` passes CDKTF_OUTDIR; otherwise `output` from cdktf.json (`terraform`)."""
    configured = json.loads((ROOT / "cdktf.json").read_text())["output"]
    # Resolved, so that the scratch folder sits on the same file system as the real output folder.
    return Path(os.environ.get("CDKTF_OUTDIR") or ROOT / configured).resolve()


def run() -> int:
    outdir = output_folder()
    if os.environ.get("SYNTH_HCL_OUTPUT", "false") != "false":  # `cdktf synth --hcl`
        print(f"Synthesis refused: SYNTH_HCL_OUTPUT={os.environ['SYNTH_HCL_OUTPUT']} (cdktf synth --hcl) asks "
              "for HCL, but the checks and escaping here read and write Terraform JSON. Fix: run `make synth` "
              f"or `cdktf synth` without --hcl.\nNothing was written to {shown(outdir)}.", file=sys.stderr)  # fmt: skip
        return 1
    try:
        with exclusive(outdir):
            for done in recover(outdir):
                print(f"note: {done}")
            settings = load_and_report(outdir)
            if settings is None:
                return 2
            import toolchain

            toolchain.start()  # before cdktf is first imported: it starts jsii's Node kernel
            from store2018.app import synthesise_and_report

            status = synthesise_and_report(settings, outdir)
    except SynthesisBusy as busy:
        print(f"Synthesis refused: {busy}.\nNothing was written to {shown(outdir)}.", file=sys.stderr)
        return 1
    for override in override_files(outdir):
        print(f"warning: {shown(override)} changes what Terraform applies there, unseen by review and by our "
              "rules: remove it unless you put it there on purpose")  # fmt: skip
    return status


if __name__ == "__main__":
    sys.exit(run())
