"""Run jsii's kernel on the project's Node.js, if one is installed.

jsii starts a Node.js child process when cdktf is first imported and uses `JSII_NODE` or
the first `node` on PATH. The machine's Node 20 is end-of-life for jsii (it prints a
warning banner on every start), so `npm ci` installs Node 22 into `node_modules/`.
`select_node()` must run before cdktf is imported; `toolchain.start()` calls it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_NODE = PROJECT_ROOT / "node_modules" / ".bin" / "node"
QUIET_DEPRECATION = "--disable-warning=DEP0044"


def select_node() -> None:
    """Point jsii at the project's Node unless the user chose one (JSII_NODE)."""
    if "JSII_NODE" not in os.environ and PROJECT_NODE.exists():
        os.environ["JSII_NODE"] = str(PROJECT_NODE)
        # jsii's kernel still calls util.isArray, which Node 22 reports as deprecated on every start.
        add_node_option(QUIET_DEPRECATION)


def add_node_option(option: str) -> None:
    """Append an option to NODE_OPTIONS (which the kernel inherits) unless it is there."""
    options = os.environ.get("NODE_OPTIONS", "")
    if option not in options:
        os.environ["NODE_OPTIONS"] = f"{options} {option}".strip()


def remove_node_option(option: str) -> None:
    options = os.environ.get("NODE_OPTIONS", "")
    if option in options:
        os.environ["NODE_OPTIONS"] = " ".join(options.replace(option, "").split())
