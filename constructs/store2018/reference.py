"""The README's settings reference, generated from the settings' own declarations: every field's
name, type, default and description (its docstring in `settings.py`), with the values that
`environments.py` and `catalog.py` give it.

    make docs        rewrites the reference in README.md, between its two markers

`tests/test_readme.py` fails when the README's copy is stale. A new field needs only its
declaration and docstring in `settings.py`: the reference follows.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from store2018 import settings as settings_module
from store2018.loading import load_settings
from store2018.settings import (
    CapacityMix,
    EnvironmentSettings,
    ProjectSettings,
    ServiceOverrides,
    ServiceSpec,
    Settings,
    StateBackendSettings,
    TaskCount,
)

BEGIN = "<!-- BEGIN settings reference: generated from constructs/store2018/settings.py by `make docs` -->"
END = "<!-- END settings reference -->"


def field_docs() -> dict[str, dict[str, str]]:
    """Each settings class's field docstrings (the string literal right after a field), by class and field."""
    tree = ast.parse(Path(inspect.getfile(settings_module)).read_text())
    docs: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = docs.setdefault(node.name, {})
        for statement, following in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                fields[statement.target.id] = " ".join(inspect.cleandoc(following.value.value).split())
    return docs


def python(value: Any) -> str:
    """A value as it would be written in the settings files."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{f.name}={python(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{python(k)}: {python(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(python(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def code(value: Any) -> str:
    return cell(f"`{python(value)}`")


def fields_table(cls: type, docs: Mapping[str, str], columns: Mapping[str, Any] | None = None) -> list[str]:
    """One row per field: name, type, default, one column per entry in `columns` (its value), description."""
    columns = columns or {}
    header = ["name", "type", "default", *columns, "description"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for f in dataclasses.fields(cls):
        default = _default(f)
        values = [code(getattr(entry, f.name)) for entry in columns.values()]
        rows.append(
            "| "
            + " | ".join(
                [
                    f"`{f.name}`",
                    cell(f"`{f.type}`"),
                    "(required)" if default is dataclasses.MISSING else code(default),
                    *values,
                    cell(docs.get(f.name, "")),
                ]
            )
            + " |"
        )
    return rows


def reference(settings: Settings) -> str:
    """The settings reference as Markdown, with the values of `settings`."""
    docs = field_docs()
    project = settings.project
    lines = [
        BEGIN,
        "",
        "Same in every workspace: `ProjectSettings`, built by `project()` in `constructs/store2018/environments.py`.",
        "",
        *fields_table(ProjectSettings, docs["ProjectSettings"], {"value": project}),
        "",
        "The state backend: `StateBackendSettings`, `project().state_backend`.",
        "",
        *fields_table(StateBackendSettings, docs["StateBackendSettings"], {"value": project.state_backend}),
        "",
        "Per workspace: `EnvironmentSettings`, one entry of `environments()` in the same file.",
        "",
        *fields_table(EnvironmentSettings, docs["EnvironmentSettings"], dict(settings.environments)),
        "",
    ]
    for cls in (TaskCount, CapacityMix, ServiceOverrides):
        lines += [f"`{cls.__name__}`: {inspect.getdoc(cls)}", "", *fields_table(cls, docs[cls.__name__]), ""]
    lines += [
        "The services: `ServiceSpec`, one entry of `services()` in `constructs/store2018/catalog.py`.",
        "",
        *fields_table(ServiceSpec, docs["ServiceSpec"], dict(settings.services)),
        "",
        END,
    ]
    return "\n".join(lines)


def replace_section(readme: str, generated: str) -> str:
    """`readme` with the text between (and including) the markers replaced by `generated`."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no section between {BEGIN!r} and {END!r}")
    return readme[:start] + generated + readme[end + len(END) :]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m store2018.reference README.md", file=sys.stderr)
        return 2
    readme = Path(argv[0])
    readme.write_text(replace_section(readme.read_text(), reference(load_settings())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
