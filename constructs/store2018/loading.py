"""Build the settings from the files users edit, and report any mistake in them one way.

`load_settings()` runs `catalog.py` and `environments.py` (from this package's folder, or from a
folder holding edited copies of them) and builds the validated `Settings`. Whatever goes wrong
there, a `ConfigError`, a misspelt field, a syntax, name or type error, becomes one
`SettingsError` whose message says what is wrong and the file and line it comes from.
`load_and_report()` prints that message, with no traceback (`STORE2018_DEBUG=1` adds one), and is
what `main.py` (and so `cdktf synth`) and the tests call.

Nothing here imports cdktf: a mistake is reported before jsii's Node kernel starts.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import difflib
import importlib.util
import os
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from store2018 import settings as settings_types
from store2018.checks import ConfigError, Origin
from store2018.releases import RELEASES_DIR, load_releases
from store2018.settings import Settings

SETTINGS_DIR = Path(__file__).resolve().parent
# The files users edit, and the functions that build their values.
CATALOG_FILE, ENVIRONMENTS_FILE = "catalog.py", "environments.py"
DEBUG_SWITCH = "STORE2018_DEBUG"


class SettingsError(Exception):
    """The settings could not be built. `str()` is the message to print: what is wrong, then where."""

    def __init__(self, problem: str, origin: Origin | None, source_line: str | None = None) -> None:
        self.problem = problem
        self.origin = origin
        self.source_line = source_line
        super().__init__(self.message())

    def message(self) -> str:
        if self.origin is None:
            return self.problem
        file, line = self.origin
        where = f"\n  in {shown(file)}, line {line}"
        return self.problem + where + (f":\n{self.source_line}" if self.source_line else "")


def load_settings(folder: Path = SETTINGS_DIR, releases: Path = RELEASES_DIR) -> Settings:
    """The validated settings from `folder`'s catalog.py and environments.py and the release manifests
    in `releases` (`releases.py`), or SettingsError."""
    files = [folder / CATALOG_FILE, folder / ENVIRONMENTS_FILE]
    try:
        catalog, environments = (_run(path) for path in files)
        table = environments.environments()
        return Settings(
            project=environments.project(),
            environments=table,
            services=catalog.services(),
            releases=load_releases(list(table), releases),
        )
    except Exception as error:
        raise _explain(error, files) from error


def load_and_report(outdir: Path, folder: Path = SETTINGS_DIR) -> Settings | None:
    """The settings, or None after printing what is wrong (to standard error: nothing was written)."""
    try:
        return load_settings(folder)
    except SettingsError as error:
        if os.environ.get(DEBUG_SWITCH):
            traceback.print_exception(error.__cause__ or error, file=sys.stderr)
        print(f"Configuration error: {error}\nNothing was written to {shown(outdir)}.", file=sys.stderr)
        return None


def _run(path: Path) -> ModuleType:
    """Execute one settings file as a module of its own (not registered: every load starts afresh)."""
    spec = importlib.util.spec_from_file_location(f"store2018.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path} cannot be loaded as Python source")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _explain(error: Exception, files: list[Path]) -> SettingsError:
    if isinstance(error, SyntaxError):  # IndentationError included
        origin = (error.filename, error.lineno) if error.filename and error.lineno else None
        return SettingsError(f"{type(error).__name__}: {error.msg}", origin, _caret(error))
    origin = error.origin if isinstance(error, ConfigError) else None
    if origin is None:
        origin = _innermost_frame_in(error, files)
    if isinstance(error, ConfigError):
        return SettingsError(str(error), _at_field(origin, str(error)))
    misspelt = _misspelt_field(error)
    if misspelt:
        return SettingsError(misspelt, _at_field(origin, misspelt))
    # NameError, AttributeError, TypeError, ...: Python's own words, and the closest name there is.
    problem = "".join(traceback.format_exception_only(error)).strip()
    known: list[str] = []
    if isinstance(error, AttributeError) and error.obj is not None and error.name:
        problem = f"AttributeError: {getattr(error.obj, '__name__', type(error.obj).__name__)} has no attribute " + \
            repr(error.name)  # fmt: skip
        known = [n for n in dir(error.obj) if not n.startswith("_")]
    elif isinstance(error, NameError) and error.name and error.__traceback__ is not None:
        tb = error.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        known = [*tb.tb_frame.f_locals, *tb.tb_frame.f_globals, *dir(builtins)]
    close = difflib.get_close_matches(getattr(error, "name", None) or "", known, n=1) if known else []
    fix = f"did you mean {close[0]!r}?" if close else "correct it in the file named below"
    return SettingsError(f"{problem}. Fix: {fix}", origin)


def _at_field(origin: Origin | None, message: str) -> Origin | None:
    """The line of the field a ConfigError names, inside the call at `origin` that built its entry
    (`ENVIRONMENTS['qa'].vpc_cidr = ...` -> the line of `vpc_cidr=` in that EnvironmentSettings(...))."""
    field = re.match(r"[^ ]*\.(\w+)(?:\[[^\]]*\])* = ", message) or re.match(r"\w+ field = '(\w+)'", message)
    if origin is None or field is None:
        return origin
    file, line = origin
    try:
        tree = ast.parse(Path(file).read_text())
    except (OSError, SyntaxError, ValueError):
        return origin
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == line:
            for keyword in node.keywords:
                if keyword.arg == field.group(1):
                    return file, keyword.value.lineno
    return origin


def _innermost_frame_in(error: BaseException, files: list[Path]) -> Origin | None:
    wanted = {str(f) for f in files}
    found = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename in wanted and frame.lineno is not None:
            found = (frame.filename, frame.lineno)
    return found


def _misspelt_field(error: Exception) -> str | None:
    """`EnvironmentSettings(log_retension_days=7)` worded like every other setting mistake."""
    match = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(error))
    owner = getattr(settings_types, match.group(1), None) if match and isinstance(error, TypeError) else None
    if match is None or not isinstance(owner, type) or not dataclasses.is_dataclass(owner):
        return None
    name = match.group(2)
    fields = [f.name for f in dataclasses.fields(owner)]
    close = difflib.get_close_matches(name, fields, n=1)
    fix = f"did you mean {close[0]!r}?" if close else "see the README's settings reference"
    return (
        f"{owner.__name__} field = {name!r} is invalid: {owner.__name__} has no such field; it has "
        f"{', '.join(fields)}. Fix: correct the spelling: {fix}"
    )


def _caret(error: SyntaxError) -> str | None:
    if not error.text:
        return None
    text = error.text.rstrip("\n")
    indent = len(text) - len(text.lstrip())
    start = max((error.offset or 1) - 1, indent)
    return f"    {text.strip()}\n    {' ' * (start - indent)}^"


def shown(file: str | Path) -> str:
    """A path relative to the working folder when it is inside it (as a user would type it)."""
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)
