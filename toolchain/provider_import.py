"""Load only the AWS provider bindings a program uses (most of every synth's time otherwise).

The prebuilt bindings `cdktf_cdktf_provider_aws` import all ~2,200 resource submodules twice:
the Python package's `__init__` imports every Python submodule, and jsii's Node kernel
`require`s the JavaScript package's `lib/index.js`, which requires every JavaScript submodule.
A stack uses about 30. This module removes both costs, without changing what is synthesised:

- Python half: the package is registered in `sys.modules` without running its `__init__`, so
  `from cdktf_cdktf_provider_aws.vpc import Vpc` loads `vpc` and the jsii assembly only.
- Node half: `provider_import.js`, preloaded into the kernel through NODE_OPTIONS, turns each
  `exports.x = require("./x")` of that `index.js` into a getter that requires on first use.

Both halves are safe only while those files do nothing but import submodules; each checks the
file first and fails loudly (ProviderLayoutError, or an error from the kernel) otherwise.
`install()` must run before anything imports cdktf: `toolchain.start()` calls it.

Switch: STORE2018_PROVIDER_IMPORT=lazy (default), eager (both halves off, the packages' own
behaviour), or python-only (the Node half off; for the benchmark).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

from toolchain.jsii_node import add_node_option, remove_node_option

PACKAGE = "cdktf_cdktf_provider_aws"
SWITCH = "STORE2018_PROVIDER_IMPORT"
MODES = ("lazy", "eager", "python-only")
NODE_HOOK = Path(__file__).with_name("provider_import.js")

# What the root `__init__` may contain for skipping it to be safe: imports of its own
# submodules and of the runtime's helpers, its `__path__`/`__all__`/typeguard bookkeeping,
# a local `check_type` helper and `publication.publish()`. Anything else would be lost.
_ALLOWED_ABSOLUTE_IMPORTS = {"abc", "builtins", "datetime", "enum", "typing", "jsii", "publication",
                             "typing_extensions", "typeguard", "pkgutil", "importlib.metadata"}  # fmt: skip
_ALLOWED_ASSIGNMENTS = {"__path__", "__all__", "TYPEGUARD_MAJOR_VERSION"}
_ALLOWED_FUNCTIONS = {"check_type"}
_MIN_SUBMODULES = 1000


class ProviderLayoutError(RuntimeError):
    """The provider package no longer looks as this module expects; skipping its `__init__` is unsafe."""


def mode() -> str:
    value = os.environ.get(SWITCH, "lazy")
    if value not in MODES:
        raise ProviderLayoutError(f"{SWITCH}={value!r} is invalid: use one of {', '.join(MODES)}")
    return value


def layout_problems(init_source: str) -> list[str]:
    """What in the package's root `__init__` would be lost by not running it (empty: safe)."""
    problems: list[str] = []
    submodules = 0
    for node in ast.parse(init_source).body:
        where = f"line {node.lineno}: {ast.unparse(node).splitlines()[0][:80]}"
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                submodules += len(node.names)
            elif node.module != "_jsii":
                problems.append(where)
        elif isinstance(node, ast.ImportFrom):
            if node.module not in _ALLOWED_ABSOLUTE_IMPORTS:
                problems.append(where)
        elif isinstance(node, ast.Import):
            problems += [where for alias in node.names if alias.name not in _ALLOWED_ABSOLUTE_IMPORTS]
        elif isinstance(node, ast.Assign):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            if not names or not names <= _ALLOWED_ASSIGNMENTS:
                problems.append(where)
        elif isinstance(node, ast.FunctionDef):
            if node.name not in _ALLOWED_FUNCTIONS:
                problems.append(where)
        elif isinstance(node, ast.Expr):
            if not (isinstance(node.value, ast.Constant) or ast.unparse(node) == "publication.publish()"):
                problems.append(where)
        else:
            problems.append(where)
    if submodules < _MIN_SUBMODULES:
        problems.append(f"only {submodules} `from . import <submodule>` lines (expected at least {_MIN_SUBMODULES})")
    return problems


def install(package: str = PACKAGE) -> bool:
    """Register `package` without running its `__init__` and preload the Node half; True if active."""
    chosen = mode()
    hook = f'--require="{NODE_HOOK}"'
    if chosen != "lazy":  # it may be inherited from a parent process in lazy mode
        remove_node_option(hook)
    if chosen == "eager":
        return False
    existing = sys.modules.get(package)
    if existing is not None:
        if getattr(existing, "__lazy_provider__", False):
            return True
        raise ProviderLayoutError(f"{package} was imported before toolchain.start(); call it first")
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        raise ProviderLayoutError(f"{package} is not installed as a package (run `make setup`)")
    problems = layout_problems(Path(spec.origin).read_text())
    if problems:
        raise ProviderLayoutError(
            f"{spec.origin} changed, so its submodules cannot be loaded on demand safely: "
            + "; ".join(problems[:5])
            + f". Set {SWITCH}=eager to import it whole, and update toolchain/provider_import.py."
        )
    module = importlib.util.module_from_spec(spec)  # `__path__` set, `__init__` not run
    module.__lazy_provider__ = True  # type: ignore[attr-defined]
    sys.modules[package] = module
    if chosen == "lazy":
        add_node_option(hook)
    return True


def loaded_submodules(package: str = PACKAGE) -> int:
    """How many of the package's submodules this process has imported (its `_jsii` excluded)."""
    prefix = f"{package}."
    return sum(1 for name in sys.modules if name.startswith(prefix) and name.count(".") == 1
               and not name.endswith("._jsii"))  # fmt: skip
