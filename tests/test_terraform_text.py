"""No setting can inject Terraform: each text setting arrives exactly as written, or is refused.

The in-process half checks the declarations: every text field has a treatment, and a field whose
treatment is "refused if special" refuses each special sequence. The Terraform half (marked
`terraform`) draws arbitrary text with Hypothesis for the escaped settings (container environment
values, health-check and API paths), batches each draw into one synthesis of the real stack and one
plan against the emulator, and checks that the plan holds every value exactly and that the container
definitions decode to exactly the keys the stack writes; then shows that the same check fails once
the escaping is removed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import SETTINGS, settings_with
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from local.emulated import MotoServer, TerraformWorkdir, planned_resources
from store2018 import load_balancer, service
from store2018.app import STACK_NAME, build_app
from store2018.reference import SECTIONS
from store2018.settings import (
    URL_HOST,
    Alerting,
    ConfigError,
    ContainerHealthCheck,
    Secret,
    ServiceOverrides,
    Settings,
)
from store2018.terraform_text import TREATMENTS, expression_string, template

# Sequences that would change what Terraform reads if they reached it unescaped.
SPECIAL = ["${x}", "%{x}", '"', "\\", "\n", "\t", "${TfToken[TOKEN.1]}", "-1.8881545897087626e+289"]


def text_fields() -> list[str]:
    """`Class.field` for every settings field that holds text (str, or str inside a tuple or mapping)."""
    found = []
    for cls, _ in SECTIONS:
        for f in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[f.name]
            if "str" in {getattr(a, "__name__", "") for a in _flatten(hint)}:
                found.append(f"{cls.__name__}.{f.name}")
    return found


def _flatten(hint: Any) -> Iterator[Any]:
    yield hint
    for arg in typing.get_args(hint):
        yield from _flatten(arg)


def test_every_text_field_declares_how_it_reaches_terraform() -> None:
    assert sorted(text_fields()) == sorted(TREATMENTS)


# One way to put a value into each field whose check refuses special text.
PROD, ACCOUNT = SETTINGS.environments["prod"], SETTINGS.services["account"]


def backend(**changes: Any) -> object:
    return replace(SETTINGS.project.state_backend, **changes)


def prod(**changes: Any) -> object:
    return settings_with(environments={"prod": replace(PROD, **changes)})


def account(**changes: Any) -> object:
    return settings_with(services={**SETTINGS.services, "account": replace(ACCOUNT, **changes)})


PARAMETER = "arn:aws:ssm:us-west-2:123456789012:parameter/store2018/db-password"
SECRET = Secret(arn="arn:aws:secretsmanager:us-west-2:123456789012:secret:store2018/db-AbCdEf")
KEY = "arn:aws:kms:us-west-2:123456789012:key/0f3c1e2a-1b2c-4d5e-8f90-123456789abc"

SETTERS: dict[str, Callable[[str], object]] = {
    "ProjectSettings.name": lambda v: settings_with(name=v),
    "ProjectSettings.region": lambda v: settings_with(region=v),
    "ProjectSettings.discovery_namespace": lambda v: settings_with(discovery_namespace=v),
    "ProjectSettings.hosted_zone_id": lambda v: settings_with(hosted_zone_id=v),
    "ProjectSettings.github_repository": lambda v: settings_with(github_repository="octo-org/store" + v),
    "ProjectSettings.github_oidc_provider_arn": lambda v: settings_with(
        github_repository="octo-org/store",
        github_oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" + v,
    ),
    "StateBackendSettings.bucket": lambda v: backend(bucket=v),
    "StateBackendSettings.key": lambda v: backend(key=v),
    "StateBackendSettings.region": lambda v: backend(region=v),
    "StateBackendSettings.workspace_key_prefix": lambda v: backend(workspace_key_prefix=v),
    "EnvironmentSettings.vpc_cidr": lambda v: prod(vpc_cidr=v),
    "EnvironmentSettings.allowed_account_ids": lambda v: prod(allowed_account_ids=(v,)),
    "EnvironmentSettings.alb_access_logs_bucket": lambda v: prod(alb_access_logs_bucket=v),
    "EnvironmentSettings.certificate_arn": lambda v: prod(certificate_arn=v),
    "EnvironmentSettings.dns_record_name": lambda v: prod(dns_record_name=v),
    "EnvironmentSettings.zone_ids": lambda v: prod(zone_ids=(v, "usw2-az2")),
    "EnvironmentSettings.services": lambda v: prod(services={"account" + v: ServiceOverrides()}),
    "ServiceSpec.image": lambda v: account(image=v),
    "ServiceSpec.discovery_name": lambda v: account(discovery_name=v),
    "ServiceSpec.public_paths": lambda v: account(public_paths=("/api" + v,)),
    "ServiceSpec.api_base_variables": lambda v: account(api_base_variables={"A" + v: "inventory"}),
    "ServiceSpec.writable_paths": lambda v: account(read_only_root_filesystem=True, writable_paths=("/" + v,)),
    "ServiceSpec.environment": lambda v: account(environment={"A" + v: "x"}),  # the names; the values are escaped
    "ServiceSpec.secrets": lambda v: account(secrets={"A" + v: Secret(arn=PARAMETER)}),
    "ServiceOverrides.secrets": lambda v: prod(services={"account": ServiceOverrides(secrets={"A" + v: SECRET})}),
    "Secret.arn": lambda v: account(secrets={"A": Secret(arn=PARAMETER + v)}),
    "Secret.kms_key_arn": lambda v: account(secrets={"A": Secret(arn=PARAMETER, kms_key_arn=KEY + v)}),
    "Alerting.email": lambda v: prod(alerting=Alerting(email="oncall" + v + "@example.com")),
}


def test_every_refusing_field_has_a_setter() -> None:
    refusing = {name for name, t in TREATMENTS.items() if not t.escaped}
    assert refusing | {"ServiceSpec.environment"} == set(SETTERS)


@pytest.mark.parametrize("special", SPECIAL, ids=repr)
@pytest.mark.parametrize("field", sorted(SETTERS))
def test_a_refusing_field_refuses_special_text(field: str, special: str) -> None:
    with pytest.raises(ConfigError, match=r" is invalid: .*\. Fix: "):
        SETTERS[field]("ab" + special + "cd")


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("${TfToken[TOKEN.1]}", "token marker"),
        ("x #{TfToken[TOKEN.7]}", "token marker"),
        ("x-1.8881545897087626e+289y", "numeric tokens"),  # the number cdktf gives its first numeric token
        ("-8.109562212591379e+298", "numeric tokens"),
        ("nul\x00", "NUL"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_free_text_refuses_what_no_context_can_carry(value: str, allowed: str) -> None:
    spec = replace(ACCOUNT, environment={"VALUE": value})
    with pytest.raises(
        ConfigError, match=rf"SERVICES\['account'\]\.environment\['VALUE'\] = .* is invalid: .*{allowed}"
    ):
        settings_with(services={**SETTINGS.services, "account": spec})


def test_escaping_by_context() -> None:
    assert template('${a} %{b} $${c} " \\') == '$${a} %%{b} $$${c} " \\'
    assert expression_string('${a} %{b} " \\ \n \x7f') == '${a} %%{b} \\" \\\\ \\u000a \\u007f'


# The Terraform half: values drawn, synthesised into the real stack, planned against the emulator.

FREE_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30).filter(
    lambda v: "TfToken[" not in v
)
URL_PATH = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(lambda p: "/" + p)
# Refused if special, yet drawn too: what its check lets through must also arrive as written.
PATH_PATTERNS = st.lists(
    st.text(st.sampled_from("abcXYZ019_-.$/~'@:+&*?"), max_size=30).map(lambda p: "/" + p),
    min_size=1,
    max_size=5,
    unique=True,
).filter(lambda ps: not set(ps) & {p for s in SETTINGS.services.values() for p in s.public_paths if s is not ACCOUNT})
# The cases the review found, each once, as one batch.
REVIEWED = (
    [
        'a"b',
        'x"}], "privileged" = true, "z" = [{"a" = "y',
        "%{ if true }yes%{ endif }",
        "C:\\temp",
        "${aws_vpc.x.id}",
        "$${already}",
        "line\nnext\ttab\r\u2028",
        "ü€😀",
        "1e5 2.5e+10 -1e+289",  # number-shaped, but no token's bits: cdktf leaves them alone
    ],
    "/healthcheck${aws_vpc.x.id}%{if}$${y}",
    '/api"${local.x}\\%{if}',
    ("/api/consumers*", "/a$b~'@:+&*?_-.", "/$x"),
)


@dataclass(frozen=True)
class Batch:
    values: list[str]  # the account service's environment values
    health_check_path: str  # the account service's
    api_base_path: str  # the inventory service's: it reaches the front end's URL variable
    public_paths: tuple[str, ...]  # the account service's path patterns on the load balancer


def health_command(batch: Batch) -> tuple[str, ...]:
    """The account container's health check: the batch's values as its arguments (a URL to another host
    would be refused, rightly: a check calls only its own container)."""
    return ("CMD", "/check", *[v for v in batch.values if v and not URL_HOST.search(v)])


def batch_settings(batch: Batch) -> Settings:
    check = ContainerHealthCheck(command=health_command(batch))
    account = replace(ACCOUNT, environment={f"V{i}": v for i, v in enumerate(batch.values)},
                      health_check_path=batch.health_check_path, public_paths=batch.public_paths,
                      container_health_check=check)  # fmt: skip
    inventory = replace(SETTINGS.services["inventory"], api_base_path=batch.api_base_path)
    return settings_with(services={**SETTINGS.services, "account": account, "inventory": inventory})


@pytest.fixture(scope="module")
def planner(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Settings], Any]]:
    """Plans `prod` of a synthesis of the given settings, in one working folder initialised once."""
    folder = tmp_path_factory.mktemp("text")

    def synthesise(settings: Settings) -> Path:
        out = folder / "synth"
        shutil.rmtree(out, ignore_errors=True)
        build_app(outdir=str(out), settings=settings).synth()
        return out / "stacks" / STACK_NAME

    state: dict[str, TerraformWorkdir] = {}

    def plan(settings: Settings) -> Any:
        stack = synthesise(settings)
        if "workdir" not in state:
            state["workdir"] = TerraformWorkdir(stack, folder / "work", moto)
        workdir = state["workdir"]
        shutil.copy2(stack / "cdk.tf.json", workdir.path / "cdk.tf.json")
        result = workdir.plan("prod")
        if result.returncode != 0:
            return result.output
        return json.loads(workdir.run("show", "-json", "prod.tfplan").output)

    yield plan
    if "workdir" in state:
        state["workdir"].close()


def arrival_problems(plan: Any, batch: Batch) -> list[str]:
    """What did not arrive exactly as written (empty: everything did)."""
    if isinstance(plan, str):
        return [f"the plan failed: {' '.join(plan.split())[-600:]}"]
    problems = []
    definitions = {
        r["values"]["family"]: json.loads(r["values"]["container_definitions"])
        for r in planned_resources(plan, "aws_ecs_task_definition")
    }
    (account,) = definitions["prod-store2018-account"]
    keys = {"name", "image", "essential", "portMappings", "logConfiguration", "environment", "healthCheck"}
    if set(account) != keys:
        problems.append(f"container keys {sorted(account)}, expected {sorted(keys)}")
    command = account.get("healthCheck", {}).get("command")
    if command != list(health_command(batch)):
        problems.append(f"health check command: wrote {list(health_command(batch))!r}, arrived {command!r}")
    arrived = {e.get("name"): e.get("value") for e in account.get("environment", [])}
    expected = {f"V{i}": v for i, v in enumerate(batch.values)}
    problems += [
        f"{k}: wrote {expected[k]!r}, arrived {arrived.get(k)!r}" for k in expected if arrived.get(k) != expected[k]
    ]
    if set(arrived) != set(expected):
        problems.append(f"environment names {sorted(arrived)}, expected {sorted(expected)}")
    paths = {
        r["values"]["name"]: r["values"]["health_check"][0]["path"]
        for r in planned_resources(plan, "aws_lb_target_group")
    }
    if paths["prod-store2018-account"] != batch.health_check_path:
        problems.append(f"health check: wrote {batch.health_check_path!r}, arrived {paths['prod-store2018-account']!r}")
    (front_end,) = definitions["prod-store2018-store2018"]
    url = {e["name"]: e["value"] for e in front_end["environment"]}["INVENTORY_SERVICE_API_BASE"]
    if url != f"http://api-inventory.microservices.private{batch.api_base_path}":
        problems.append(f"API base: wrote {batch.api_base_path!r}, arrived in {url!r}")
    patterns = sorted(
        tuple(r["values"]["condition"][0]["path_pattern"][0]["values"])
        for r in planned_resources(plan, "aws_lb_listener_rule")
    )
    if tuple(sorted(batch.public_paths)) not in {tuple(sorted(p)) for p in patterns}:
        problems.append(f"path patterns: wrote {list(batch.public_paths)}, the rules hold {patterns}")
    return problems


@pytest.mark.terraform
@pytest.mark.xdist_group("text")  # one worker: the planner fixture inits once
@hypothesis_settings(
    max_examples=int(os.environ.get("STORE2018_TEXT_EXAMPLES", "6")),
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(FREE_TEXT, min_size=1, max_size=40), health=URL_PATH, api=URL_PATH, paths=PATH_PATTERNS)
@example(values=REVIEWED[0], health=REVIEWED[1], api=REVIEWED[2], paths=list(REVIEWED[3]))
def test_text_arrives_in_terraform_exactly_as_written(
    planner: Callable[[Settings], Any], values: list[str], health: str, api: str, paths: list[str]
) -> None:
    batch = Batch(values, health, api, tuple(paths))
    assert arrival_problems(planner(batch_settings(batch)), batch) == []


@pytest.mark.terraform
@pytest.mark.xdist_group("text")  # one worker: the planner fixture inits once
def test_the_check_fails_once_the_escaping_is_removed(
    planner: Callable[[Settings], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "expression_string", lambda v: v)
    monkeypatch.setattr(load_balancer, "template", lambda v: v)
    batch = Batch(REVIEWED[0], REVIEWED[1], REVIEWED[2], REVIEWED[3])
    problems = arrival_problems(planner(batch_settings(batch)), batch)
    assert problems and problems[0].startswith("the plan failed")  # an unescaped quote breaks the expression
    # Without the quotes, the injection is silent: a template directive is evaluated, a path interpolated.
    quiet = Batch(["%{ if true }yes%{ endif }", "C:\\temp"], '/h${upper("x")}', "/api", ("/api/consumers*",))
    problems = arrival_problems(planner(batch_settings(quiet)), quiet)
    assert any("V0: wrote '%{ if true }yes%{ endif }', arrived 'yes'" in p for p in problems), problems
    assert any(p.startswith("V1:") for p in problems) and any(p.startswith("health check:") for p in problems)
