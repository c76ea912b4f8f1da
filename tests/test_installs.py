"""Every Python environment built outside Pipfile.lock installs from a hash-locked file.

Checked on the Makefile (its recipes, continuation lines joined) and the workflows' `run:` steps as
committed, with no network:
- every `pip install` is `pip install --require-hashes --only-binary :all: -r FILE` (no named package, no
  build step), and FILE pins every requirement with `==` and `--hash=sha256:` lines;
- each locked FILE holds its `.in` file's pins (`make lock-tools` ran after the last edit);
- each environment's stamp depends on its FILE and rebuilds the environment from scratch;
- `make setup` builds every environment (.tools, .venv, node_modules, .checkov, .zizmor), and each job
  runs it first, before any step that takes credentials: no target run after it installs anything;
- each check fails on a small bad Makefile or requirements text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

from local.emulated import ROOT

MAKEFILE = ROOT / "Makefile"
WORKFLOWS = ROOT / ".github" / "workflows"

#: The hash-locked files the Makefile installs, each generated from the `.in` file beside it.
LOCKS = {
    "toolchain/pipenv-requirements.txt",
    "toolchain/uv-requirements.txt",
    "security/checkov-requirements.txt",
    ".github/lint/zizmor-requirements.txt",
}
#: What `make setup` must build: every environment the other targets use.
ENVIRONMENTS = {".tools", ".venv", "node_modules", ".checkov", ".zizmor"}
#: Rules that install something but are not part of `make setup`, each with its reason.
NOT_IN_SETUP = {
    "lock-tools": "re-locks the files (needs PyPI); installs uv into a throwaway environment",
    "bench/js-floor/node_modules/.installed": "the benchmark's plain-JavaScript floor, `make bench` only",
}

# pip's flags a hash-checked install may carry: without a value, and with one.
QUIET_FLAGS = {"-q", "--quiet", "--no-cache-dir", "--no-deps", "--no-input", "--disable-pip-version-check"}
VALUE_FLAGS = {"-r", "--requirement", "--only-binary"}
SHELL_OPERATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "!"}
ASSIGNMENT = re.compile(r"^(?:export\s+|override\s+)?[A-Za-z_][A-Za-z0-9_]*\s*(?:::=|:=|\?=|\+=|!=|=)")
DIRECTIVE = re.compile(r"^(?:ifeq|ifneq|ifdef|ifndef|else|endif|include|-include|unexport|export|define|endef)\b")
PINNED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[A-Za-z0-9.+!_-]+)\s*(?:;.*)?$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Rule:
    targets: tuple[str, ...]
    prerequisites: tuple[str, ...]  # normal and order-only
    recipe: tuple[str, ...]  # one command per entry, continuation lines joined


def logical_lines(text: str) -> Iterator[str]:
    """The lines of a Makefile or requirements text, each backslash-newline and the indentation after it
    joined into one space (as the shell reads a recipe's continued line)."""
    buffer = ""
    for line in text.splitlines():
        line = line.lstrip() if buffer else line
        if line.endswith("\\"):
            buffer += line[:-1].rstrip() + " "
            continue
        yield buffer + line
        buffer = ""
    if buffer:
        yield buffer.rstrip()


def rules(text: str) -> list[Rule]:
    """The Makefile's explicit rules, with their recipes (lines that start with a tab)."""
    found: list[Rule] = []
    for line in logical_lines(text):
        if line.startswith("\t"):
            if found:
                recipe = (*found[-1].recipe, line.strip())
                found[-1] = Rule(found[-1].targets, found[-1].prerequisites, recipe)
            continue
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped or ASSIGNMENT.match(stripped) or DIRECTIVE.match(stripped):
            continue
        head, colon, tail = stripped.partition(":")
        assert colon and not tail.startswith(("=", ":")), f"not a rule: {line!r}"
        prerequisites, semicolon, command = tail.partition(";")  # `target: prerequisites ; command`
        recipe = (command.strip(),) if semicolon else ()
        found.append(Rule(tuple(head.split()), tuple(w for w in prerequisites.split() if w != "|"), recipe))
    return found


def closure(all_rules: list[Rule], target: str) -> set[str]:
    """`target` and every prerequisite make may build for it, however deep."""
    seen: set[str] = set()
    pending = [target]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += [p for rule in all_rules if name in rule.targets for p in rule.prerequisites]
    return seen


def simple_commands(command: str) -> Iterator[list[str]]:
    """The words of each simple command of a shell line (split at `;`, `&&`, `|`, braces, ...)."""
    lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    words: list[str] = []
    for token in lexer:
        if token in SHELL_OPERATORS:
            if words:
                yield words
            words = []
        else:
            words.append(token)
    if words:
        yield words


def pip_installs(command: str) -> list[list[str]]:
    """The arguments of each `pip install` (`.../pip`, `pip3`, `python -m pip`, `uv pip`) in a shell line."""
    found = []
    for words in simple_commands(command):
        for position, word in enumerate(words[:-1]):
            is_pip = re.fullmatch(r"pip[0-9.]*", Path(word).name) is not None
            if is_pip and words[position + 1] == "install":
                found.append(words[position + 2 :])
                break
    return found


def install_problems(arguments: list[str], read: Callable[[str], str | None]) -> list[str]:
    """What makes one `pip install` (its arguments) anything but a hash-checked, wheel-only install from
    locked files; `read` gives a requirements file's text by its path, None for a missing one."""
    problems = []
    flags: list[str] = []
    files: list[str] = []
    words = iter(arguments)
    for word in words:
        name, equals, value = word.partition("=")
        if word in QUIET_FLAGS or word == "--require-hashes":
            flags.append(word)
        elif re.fullmatch(r"-r\S+", word):  # -rFILE
            files.append(word[2:])
        elif name in VALUE_FLAGS:
            value = value if equals else next(words, "")
            if name == "--only-binary":
                flags.append(f"--only-binary {value}")
            else:
                files.append(value)
        elif word.startswith("-"):
            problems.append(f"{word}: not a flag of a hash-checked install")
        else:
            problems.append(f"{word}: installs a named package, not a locked file (-r FILE)")
    if "--require-hashes" not in flags:
        problems.append("no --require-hashes")
    if "--only-binary :all:" not in flags:
        problems.append("no --only-binary :all: (a source distribution would run its build unhashed)")
    if not files:
        problems.append("no -r FILE")
    for path in files:
        text = read(path)
        if text is None:
            problems.append(f"{path}: not a file of the repository")
        else:
            problems += [f"{path}: {problem}" for problem in requirements_problems(text)]
    return problems


def requirements(text: str) -> Iterator[tuple[str, list[str]]]:
    """(requirement, options) of each requirement line of a requirements text (comments dropped)."""
    for line in logical_lines(text):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            requirement, *options = re.split(r"\s+(?=--?[a-z])", line)
            yield requirement.strip(), options


def requirements_problems(text: str) -> list[str]:
    """What makes a requirements text anything but a lock: each requirement pinned with `==` to one
    version and carrying sha256 hashes, and no other option (`-r`, `--index-url`, ...)."""
    problems = []
    found = False
    for requirement, options in requirements(text):
        found = True
        if requirement.startswith("-"):
            problems.append(f"{requirement!r}: an option line, not a locked requirement")
            continue
        pinned = PINNED.match(requirement)
        if not pinned:
            problems.append(f"{requirement!r}: not pinned to one version with ==")
        if not options:
            problems.append(f"{requirement!r}: no --hash=sha256:")
        problems += [f"{requirement!r}: {option!r} is not a --hash=sha256:<64 hex>" for option in options
                     if not HASH.match(option)]  # fmt: skip
    if not found:
        problems.append("no requirement at all")
    return problems


def read_in_repository(path: str) -> str | None:
    file = ROOT / path
    inside = "$" not in path and file.resolve().is_relative_to(ROOT) and file.is_file()
    return file.read_text() if inside else None


def makefile_problems(text: str, read: Callable[[str], str | None] = read_in_repository) -> list[str]:
    """Every unhashed install of a Makefile's recipes, named by its rule."""
    return [
        f"{' '.join(rule.targets)}: `{command}`: {problem}"
        for rule in rules(text)
        for command in rule.recipe
        for arguments in pip_installs(command)
        for problem in install_problems(arguments, read)
    ]


def installs(rule: Rule) -> bool:
    return any(pip_installs(c) or re.search(r"\b(npm ci|pipenv sync)\b|\$\(PIPENV\) sync", c) for c in rule.recipe)


def setup_problems(text: str) -> list[str]:
    """An environment `make setup` does not build, or a rule that installs outside it."""
    all_rules = rules(text)
    built = closure(all_rules, "setup")
    problems = [f"make setup builds nothing in {env}/" for env in sorted(ENVIRONMENTS)
                if not any(target.startswith(f"{env}/") for target in built)]  # fmt: skip
    for rule in all_rules:
        if installs(rule) and not set(rule.targets) & (built | set(NOT_IN_SETUP)):
            problems.append(f"{' '.join(rule.targets)} installs something outside make setup")
    return problems


CREDENTIALS = ("aws-actions/configure-aws-credentials@", "actions/create-github-app-token@")


def job_problems(job: dict[str, Any], all_rules: list[Rule]) -> list[str]:
    """A job that runs make: `make setup` must come first, before any step that takes credentials, and no
    later target may reach an install outside it."""
    steps = job.get("steps", [])
    targets = [shlex.split(step["run"])[1] for step in steps if "run" in step]
    if not targets:
        return []
    problems = []
    if targets[0] != "setup":
        problems.append(f"`make {targets[0]}` runs before `make setup`")
    setup = next((i for i, step in enumerate(steps) if step.get("run") == "make setup"), len(steps))
    problems += [f"{step['uses']} takes credentials before `make setup`" for step in steps[:setup]
                 if step.get("uses", "").startswith(CREDENTIALS)]  # fmt: skip
    in_setup = closure(all_rules, "setup")
    for target in targets[1:]:
        outside = {name for name in closure(all_rules, target) - in_setup
                   if any(installs(rule) for rule in all_rules if name in rule.targets)}  # fmt: skip
        problems += [f"make {target} installs {name}" for name in sorted(outside)]
    return problems


# --- the project's files -----------------------------------------------------------------------------


def workflow_runs() -> Iterator[tuple[str, str, str]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow: dict[str, Any] = yaml.safe_load(path.read_text())
        for job_id, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if "run" in step:
                    yield path.name, job_id, step["run"]


def test_every_pip_install_of_the_makefile_is_hash_checked_from_a_lock() -> None:
    text = MAKEFILE.read_text()
    assert makefile_problems(text) == []
    installed = {
        arguments[arguments.index("-r") + 1]
        for rule in rules(text)
        for command in rule.recipe
        for arguments in pip_installs(command)
    }
    assert installed == LOCKS, "the parser sees every install of the Makefile"


def test_no_workflow_step_runs_pip_install_unhashed() -> None:
    for name, job_id, command in workflow_runs():
        problems = [p for arguments in pip_installs(command) for p in install_problems(arguments, read_in_repository)]
        assert problems == [], f"{name} job {job_id}: {command!r}"


def test_every_lock_holds_its_in_files_pins() -> None:
    """A pin edited in the `.in` file and not re-locked (`make lock-tools`) fails here."""
    for lock in sorted(LOCKS):
        source = ROOT / lock.replace(".txt", ".in")
        locked = {requirement for requirement, _ in requirements((ROOT / lock).read_text())}
        wanted = [requirement for requirement, _ in requirements(source.read_text())]
        assert wanted and all(PINNED.match(w) for w in wanted), f"{source}: pin the top-level version with =="
        assert set(wanted) <= locked, f"{lock} does not hold {sorted(set(wanted) - locked)}: run `make lock-tools`"


def test_each_environment_depends_on_its_lock_and_is_rebuilt_from_scratch() -> None:
    for rule in rules(MAKEFILE.read_text()):
        if rule.targets == ("lock-tools",):
            continue
        for command in rule.recipe:
            for arguments in pip_installs(command):
                lock = arguments[arguments.index("-r") + 1]
                folder = Path(command.split()[0]).parts[0]
                assert lock in rule.prerequisites, f"{rule.targets}: a new {lock} would not rebuild {folder}/"
                assert rule.recipe[:2] == (f"rm -rf {folder}", f"$(PYTHON) -m venv {folder}"), rule
                assert rule.targets == (f"{folder}/.installed",) and rule.recipe[-1] == "touch $@", rule


def test_make_setup_builds_every_environment() -> None:
    assert setup_problems(MAKEFILE.read_text()) == []


def test_the_workflows_install_nothing_after_make_setup() -> None:
    all_rules = rules(MAKEFILE.read_text())
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in yaml.safe_load(path.read_text())["jobs"].items():
            assert job_problems(job, all_rules) == [], f"{path.name} job {job_id}"


# --- each check fails on a bad text ------------------------------------------------------------------

#: A lock as `make lock-tools` writes one: a pin, its hashes on continuation lines, then where it comes from.
GOOD_LOCK = f"tool==1.0 \\\n    --hash=sha256:{'a' * 64} \\\n    --hash=sha256:{'b' * 64}\n    # via -r x.in\n"


def fake_read(path: str) -> str | None:
    return {"good.txt": GOOD_LOCK, "loose.txt": "tool==1.0\n"}.get(path)


@pytest.mark.parametrize(
    ("recipe", "problem"),
    [
        (".tools/bin/pip install --quiet pipenv==2026.10.3", "installs a named package"),
        (".checkov/bin/pip install --quiet -r good.txt", "no --require-hashes"),
        (".zizmor/bin/pip install --require-hashes -r good.txt", "no --only-binary :all:"),
        ("pip install --require-hashes --only-binary :none: -r good.txt", "no --only-binary :all:"),
        ("pip install --require-hashes --only-binary :all:", "no -r FILE"),
        ("pip install --require-hashes --only-binary :all: -r loose.txt", "loose.txt: 'tool==1.0': no --hash"),
        ("pip install --require-hashes --only-binary :all: -r missing.txt", "not a file of the repository"),
        ("pip install --require-hashes --only-binary :all: -r good.txt --index-url x", "--index-url"),
        ("pip install --require-hashes --only-binary :all: -r good.txt -e .", "-e: not a flag"),
        ("python -m venv v && v/bin/python -m pip install -r good.txt", "no --require-hashes"),
        ("set -e; uv pip install --require-hashes -r good.txt", "no --only-binary :all:"),
        ('"$$venv/bin/pip3" install --only-binary=:all: -r good.txt', "no --require-hashes"),
        ("pip install --require-hashes \\\n\t\t--only-binary :all: -r good.txt \\\n\t\tpipenv", "named package"),
    ],
)
def test_an_unhashed_install_in_a_recipe_fails(recipe: str, problem: str) -> None:
    makefile = f"all: x\n\nx: good.txt\n\t{recipe}\n\ttouch $@\n"
    found = makefile_problems(makefile, fake_read)
    assert any(problem in p for p in found), found
    # The same command as a rule's inline recipe (`x: good.txt ; command`).
    inline = makefile_problems(f"x: good.txt ; {recipe}\n", fake_read)
    assert any(problem in p for p in inline), inline


def test_a_hash_checked_install_passes_even_across_continuation_lines() -> None:
    makefile = "x: good.txt\n\tpip install --quiet --require-hashes \\\n\t\t--only-binary :all: \\\n\t\t-r good.txt\n"
    assert makefile_problems(makefile, fake_read) == []
    (rule,) = rules(makefile)
    assert rule.recipe == ("pip install --quiet --require-hashes --only-binary :all: -r good.txt",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("checkov==3.3.30\n", "no --hash=sha256:"),
        ("checkov>=3.3 --hash=sha256:" + "a" * 64 + "\n", "not pinned to one version"),
        ("checkov==3.* --hash=sha256:" + "a" * 64 + "\n", "not pinned to one version"),
        ("checkov --hash=sha256:" + "a" * 64 + "\n", "not pinned to one version"),
        ("checkov==3.3.30 --hash=md5:" + "a" * 32 + "\n", "is not a --hash=sha256"),
        (GOOD_LOCK + "-r other.txt\n", "an option line"),
        (GOOD_LOCK + "--index-url https://example.invalid/simple\n", "an option line"),
        (GOOD_LOCK + "boto3==1.35.49\n", "'boto3==1.35.49': no --hash"),
        ("# only a comment\n", "no requirement at all"),
    ],
)
def test_a_requirements_line_without_a_pin_or_a_hash_fails(text: str, problem: str) -> None:
    found = requirements_problems(text)
    assert any(problem in p for p in found), found


def test_a_lock_with_markers_and_extras_passes() -> None:
    text = GOOD_LOCK + "numpy==2.4.6 ; python_full_version < '3.12' \\\n    --hash=sha256:" + "c" * 64 + "\n"
    assert requirements_problems(text + "moto[server]==5.2.5 --hash=sha256:" + "d" * 64 + "\n") == []


SETUP_MAKEFILE = """\
PIPENV := .tools/bin/pipenv
setup: .venv/.synced node_modules/.installed .checkov/.installed .zizmor/.installed
.tools/.installed: toolchain/pipenv-requirements.txt
\t.tools/bin/pip install --require-hashes --only-binary :all: -r toolchain/pipenv-requirements.txt
.venv/.synced: Pipfile.lock | .tools/.installed
\t$(PIPENV) sync --dev
node_modules/.installed: package-lock.json
\tnpm ci
.checkov/.installed: security/checkov-requirements.txt
\t.checkov/bin/pip install --require-hashes --only-binary :all: -r security/checkov-requirements.txt
.zizmor/.installed: .github/lint/zizmor-requirements.txt
\t.zizmor/bin/pip install --require-hashes --only-binary :all: -r .github/lint/zizmor-requirements.txt
"""


def test_setup_reaches_every_environment_through_its_prerequisites() -> None:
    """.tools/ only through .venv's order-only prerequisite: still built by `make setup`."""
    assert setup_problems(SETUP_MAKEFILE) == []


@pytest.mark.parametrize(
    ("makefile", "problem"),
    [
        (SETUP_MAKEFILE.replace(" .zizmor/.installed\n", "\n", 1), "make setup builds nothing in .zizmor/"),
        (SETUP_MAKEFILE.replace(" .checkov/.installed", "", 1), "make setup builds nothing in .checkov/"),
        (SETUP_MAKEFILE.replace(" | .tools/.installed", ""), "make setup builds nothing in .tools/"),
        (SETUP_MAKEFILE.replace(" node_modules/.installed", "", 1), "make setup builds nothing in node_modules/"),
        (SETUP_MAKEFILE + "gate: setup .scanner/.installed\n.scanner/.installed:\n\tpip install x\n",
         ".scanner/.installed installs something outside make setup"),
    ],
)  # fmt: skip
def test_setup_missing_an_environment_fails(makefile: str, problem: str) -> None:
    found = setup_problems(makefile)
    assert problem in found, found


AWS_STEP = {"uses": "aws-actions/configure-aws-credentials@e7f100cf4c008499ea8adda475de1042d6975c7b"}


@pytest.mark.parametrize(
    ("job_steps", "makefile", "problem"),
    [
        ([{"run": "make setup"}, AWS_STEP, {"run": "make gate"}], SETUP_MAKEFILE + "gate: setup\n", None),
        ([{"run": "make gate"}, {"run": "make setup"}], SETUP_MAKEFILE + "gate: setup\n", "`make gate` runs before"),
        ([AWS_STEP, {"run": "make setup"}], SETUP_MAKEFILE, "takes credentials before `make setup`"),
        ([{"run": "make setup"}, {"run": "make gate"}],
         SETUP_MAKEFILE + "gate: setup .scanner/.installed\n.scanner/.installed:\n\tpip install x\n",
         "make gate installs .scanner/.installed"),
    ],
)  # fmt: skip
def test_a_job_that_installs_after_setup_or_takes_credentials_first_fails(
    job_steps: list[dict[str, str]], makefile: str, problem: str | None
) -> None:
    found = job_problems({"steps": job_steps}, rules(makefile))
    assert found == [] if problem is None else any(problem in p for p in found), found
