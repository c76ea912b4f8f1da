"""Toolchain set-up that must happen before cdktf is imported, since importing it starts jsii's
Node kernel: choose the Node.js the kernel runs on, and load only the provider bindings the stack
uses. Nothing happens on import; the entry points (`main.py`, the tests' `conftest.py`) call
`start()` explicitly, so that importing the settings or the catalog starts nothing.
"""

from __future__ import annotations

from toolchain import jsii_node, provider_import


def start() -> None:
    """Run once per process, before the first `import cdktf`."""
    jsii_node.select_node()
    provider_import.install()
