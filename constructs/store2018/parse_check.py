"""Nothing Terraform cannot parse is published: every template in a synthesis, parsed by Terraform.

In Terraform's JSON syntax every string outside the top-level `terraform` block is a template, and
`${ ... }` holds an expression. A template that does not parse (an unbalanced quote inside an
expression, say) fails only at `terraform plan`. When Terraform is on PATH, every string of the
synthesis that holds `${` or `%{` is written as a local of a throw-away configuration and
`terraform validate -json` reads it: no provider, no backend, no network, under a second. Its
diagnostics about references (the resources and locals the templates name are not in that
configuration) are expected; any other error refuses the synthesis. The stacks' own locals are
declared there as written, so references to them resolve (and cost Terraform no diagnostic).
Without Terraform nothing is parsed, and the synthesis says so in a warning: what reaches Terraform
then rests on the settings' escaping and refusals alone (`terraform_text.py`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Expected in the throw-away configuration: it declares none of the objects the templates refer to.
EXPECTED_DIAGNOSTICS = (
    "Reference to undeclared resource",
    "Reference to undeclared local value",
    "Reference to undeclared input variable",
    "Reference to undeclared module",
    'Reference to "count" in non-counted context',
    'Reference to "each" in context without for_each',
    'Invalid "self" reference',
)
TIMEOUT_SECONDS = 60
# The throw-away configuration's name for the i-th template.
TEMPLATE_LOCAL = "parsed_template_{}"


@dataclass
class ParseResult:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def templates(document: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every string of a stack that Terraform reads as a template with a sequence in it."""
    if isinstance(document, str):
        if "${" in document or "%{" in document:
            yield path, document
    elif isinstance(document, Mapping):
        for key, value in document.items():
            if not (path == "" and key == "terraform"):  # the top-level terraform block is read literally
                where = f"{path}.{key}" if path else str(key)
                if "${" in key or "%{" in key:  # an object's keys can be templates too
                    yield f"{where} (key)", key
                yield from templates(value, where)
    elif isinstance(document, list):
        for i, value in enumerate(document):
            yield from templates(value, f"{path}[{i}]")


def shared_locals(documents: Mapping[str, Any]) -> dict[str, Any]:
    """The stacks' locals, by name, that no two stacks define differently."""
    found: dict[str, Any] = {}
    clashing: set[str] = set()
    for document in documents.values():
        for name, value in (document.get("locals") or {}).items():
            if name in found and found[name] != value:
                clashing.add(name)
            found[name] = value
    ours = re.compile(TEMPLATE_LOCAL.format(r"[0-9]+"))
    return {name: value for name, value in found.items() if name not in clashing and not ours.fullmatch(name)}


def parse_problems(documents: Mapping[str, Any]) -> ParseResult:
    """Terraform's parse errors for every template of the stacks (by stack name), or a warning without it."""
    terraform = shutil.which("terraform")
    if terraform is None:
        return ParseResult(warnings=["terraform is not on PATH: the synthesis's templates were not parsed "
                                     "(install Terraform >= 1.10 to have every synthesis checked)"])  # fmt: skip
    found: dict[str, list[str]] = {}
    for stack, document in documents.items():
        for where, text in templates(document):
            found.setdefault(text, []).append(f"{stack}: {where}")
    texts = sorted(found)
    with tempfile.TemporaryDirectory(prefix="store2018-parse-") as folder:
        # One local per line, so that a diagnostic's line names its template.
        lines = [f"{json.dumps(TEMPLATE_LOCAL.format(i))}: {json.dumps(text)}" for i, text in enumerate(texts)]
        # The stacks' own locals, declared as written: the templates' references to them resolve, so that
        # Terraform reports (and spends time on) only the references to resources it cannot know here.
        lines += [f"{json.dumps(name)}: {json.dumps(value)}" for name, value in shared_locals(documents).items()]
        (Path(folder) / "templates.tf.json").write_text('{"locals": {\n' + ",\n".join(lines) + "\n}}\n")
        (Path(folder) / "terraformrc").write_text("")
        env = {**os.environ, "TF_CLI_CONFIG_FILE": str(Path(folder) / "terraformrc"), "CHECKPOINT_DISABLE": "1",
               "TF_IN_AUTOMATION": "1"}  # fmt: skip
        try:
            done = subprocess.run(
                [terraform, "validate", "-json", "-no-color"],
                cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
            )  # fmt: skip
            report = json.loads(done.stdout)
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
            return ParseResult(problems=[f"terraform validate could not check the templates: {error}"])
    result = ParseResult()
    for diagnostic in report.get("diagnostics", []):
        if diagnostic.get("severity") != "error" or diagnostic.get("summary") in EXPECTED_DIAGNOSTICS:
            continue
        line = diagnostic.get("range", {}).get("start", {}).get("line", 0)
        where = ", ".join(found[texts[line - 2]]) if 2 <= line < len(texts) + 2 else "a template"
        detail = " ".join(f"{diagnostic.get('summary', '')}: {diagnostic.get('detail', '')}".split())
        result.problems.append(f"[terraform-parse] {where}: {detail}")
    return result
