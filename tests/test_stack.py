"""The stack's backend, provider, and the per-workspace table emitted into Terraform."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cdktf import TerraformOutput, TerraformStack
from cdktf import Testing as CdktfTesting
from conftest import SETTINGS, settings_with, synth

from store2018.releases import Release
from store2018.settings import (
    CapacityMix,
    EnvironmentSettings,
    NatGatewayMode,
    ServiceOverrides,
    StateBackendSettings,
    TaskCount,
)
from store2018.workspace import WorkspaceSelection


def test_s3_backend_encrypts_and_locks_with_s3(template: dict[str, Any]) -> None:
    assert template["terraform"]["backend"] == {
        "s3": {
            "bucket": "store2018-terraform-state",
            "key": "store2018/terraform.tfstate",
            "region": "us-west-2",
            "encrypt": True,
            # The bootstrap's key (state_bucket.state_key_alias): without it `encrypt` means SSE-S3 (AES256).
            "kms_key_id": "alias/store2018-terraform-state",
            "use_lockfile": True,
            "workspace_key_prefix": "env:",
        }
    }
    assert template["terraform"]["required_version"] == ">= 1.10"  # use_lockfile needs it


def test_backend_settings_come_from_the_one_settings_object() -> None:
    backend = StateBackendSettings(bucket="my-team-state", key="shop/state.tfstate", region="eu-central-1")
    template = json.loads(synth(settings_with(state_backend=backend, region="eu-central-1")))
    s3 = template["terraform"]["backend"]["s3"]
    assert (s3["bucket"], s3["key"], s3["region"]) == ("my-team-state", "shop/state.tfstate", "eu-central-1")
    assert template["provider"]["aws"][0]["region"] == "eu-central-1"


def test_provider_pins_the_bindings_version_and_tags_everything(template: dict[str, Any]) -> None:
    assert template["terraform"]["required_providers"]["aws"]["version"] == "6.25.0"
    (provider,) = template["provider"]["aws"]
    assert provider["region"] == "us-west-2"
    assert provider["default_tags"] == [
        {"tags": {"ManagedBy": "cdktf", "Project": "store2018", "Workspace": "${local.workspace}"}}
    ]
    assert provider["allowed_account_ids"] == "${local.environment.allowed_account_ids}"


# A service's entry in every environment of the shipped settings: default thresholds, no secret.
DEFAULT_SERVICE_ALARMS = {"target_5xx_per_minute": 5, "response_time_percentile": 95, "response_time_ms": 1000,
                          "cpu_alarm_percent": 85, "memory_alarm_percent": 85}  # fmt: skip
NO_SECRETS = {"secrets": {}, "secret_parameter_arns": [], "secret_manager_arns": [], "secret_key_arns": [],
              "secret_keys_enabled": False}  # fmt: skip


def test_environments_table_is_emitted_whole_and_selected_by_workspace(template: dict[str, Any]) -> None:
    assert template["locals"]["workspace"] == "${terraform.workspace}"
    course_services = {
        service: {"min_tasks": 2, "image": f"{SETTINGS.services[service].image}:latest", **DEFAULT_SERVICE_ALARMS,
                  **NO_SECRETS}
        for service in ("account", "inventory", "shopping", "store2018")
    }  # fmt: skip
    shared = {"allowed_account_ids": [], "certificate_arn": "", "https_enabled": False,
              "alb_access_logs_bucket": "", "alb_access_logs_enabled": False, "zone_ids": [], "zones_pinned": False,
              "alarm_minutes": 3, "load_balancer_5xx_per_minute": 10, "alarm_email": "", "alarm_email_enabled": False,
              "wait_for_steady_state": True,
              "capacity": {"fargate_base": 1, "fargate_weight": 1, "fargate_spot_weight": 0}}  # fmt: skip
    table = template["locals"]["environments"]
    assert sorted(table) == sorted(SETTINGS.environments)
    assert {name: table[name] for name in ("prod", "staging")} == {  # the shipped entries
        "prod": {
            "vpc_cidr": "192.168.0.0/16",
            "nat_gateway_count": 2,
            "alb_deletion_protection": True,
            "log_retention_days": 30,
            "flow_log_retention_days": 90,
            "dns_record_name": "store2018",
            "ecs_exec": False,
            "services": {s: {**v, "max_tasks": 6} for s, v in course_services.items()},
            **shared,
        },
        "staging": {
            "vpc_cidr": "172.17.0.0/16",
            "nat_gateway_count": 1,
            "alb_deletion_protection": False,
            "log_retention_days": 7,
            "flow_log_retention_days": 7,
            "dns_record_name": "store2018test",
            "ecs_exec": True,
            "services": {s: {**v, "max_tasks": 3} for s, v in course_services.items()},
            **shared,
        },
    }
    # Falls back to a known entry so that `terraform validate` passes in any workspace.
    assert template["locals"]["environment"] == (
        "${lookup(local.environments, local.workspace, local.environments.prod)}"
    )


def test_unknown_workspaces_are_refused_by_a_precondition(template: dict[str, Any]) -> None:
    guard = template["resource"]["terraform_data"]["workspace_guard"]
    (condition,) = guard["lifecycle"]["precondition"]
    assert condition["condition"] == "${contains(keys(local.environments), local.workspace)}"
    assert 'Workspace "${local.workspace}"' in condition["error_message"]
    assert f"Allowed workspaces: {', '.join(SETTINGS.environments)}." in condition["error_message"]


def test_a_new_environment_is_one_table_entry() -> None:
    environments = {
        "prod": EnvironmentSettings(vpc_cidr="192.168.0.0/16"),
        "staging": EnvironmentSettings(vpc_cidr="172.17.0.0/16", nat_gateway_mode=NatGatewayMode.SINGLE),
        "dev": EnvironmentSettings(
            vpc_cidr="10.20.0.0/16", nat_gateway_mode=NatGatewayMode.SINGLE, allowed_account_ids=("111122223333",)
        ),
    }
    template = json.loads(synth(settings_with(environments=environments)))
    dev = template["locals"]["environments"]["dev"]
    assert (dev["vpc_cidr"], dev["nat_gateway_count"], dev["allowed_account_ids"]) == (
        "10.20.0.0/16",
        1,
        ["111122223333"],
    )
    assert dev["dns_record_name"] == "store2018-dev"  # the default for a new environment
    assert dev["services"]["account"] == {
        "min_tasks": 2,
        "max_tasks": 4,
        "image": "jeremycookdev/accountservice:latest",
        **DEFAULT_SERVICE_ALARMS,
        **NO_SECRETS,
    }
    assert (dev["ecs_exec"], dev["wait_for_steady_state"], dev["alarm_email_enabled"]) == (False, True, False)
    message = template["resource"]["terraform_data"]["workspace_guard"]["lifecycle"]["precondition"][0]
    assert "Allowed workspaces: prod, staging, dev." in message["error_message"]


def leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every leaf of an EnvironmentValues (or of its JSON form), by its path of attribute names."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {p: v for key, item in value.items() for p, v in leaves(item, (*path, key)).items()}
    return {path: value}


def test_constructs_read_the_selected_workspace_through_the_typed_contract(template: dict[str, Any]) -> None:
    """Each attribute of `WorkspaceSelection.current` is the selected entry's value of the same path, and
    every environment emits exactly the attributes `EnvironmentValues` declares."""
    stack = TerraformStack(CdktfTesting.app(), "s")
    selection = WorkspaceSelection(stack, "w", settings=SETTINGS)
    current = leaves(selection.current)
    for i, token in enumerate(current.values()):  # outputs show what each token resolves to
        TerraformOutput(stack, f"leaf_{i}", value=token)
    outputs = json.loads(CdktfTesting.synth(stack))["output"]
    resolved = {path: outputs[f"leaf_{i}"]["value"] for i, path in enumerate(current)}
    assert resolved == {path: "${local.environment." + ".".join(path) + "}" for path in current}
    assert ("services", "account", "min_tasks") in resolved and ("capacity", "fargate_base") in resolved
    for entry in template["locals"]["environments"].values():
        assert set(leaves(entry)) == set(current)
    assert selection.resource_name("alb") == f"{selection.name}-store2018-alb"


def test_per_service_overrides_releases_and_capacity_mix_reach_the_table() -> None:
    prod = EnvironmentSettings(
        vpc_cidr="192.168.0.0/16",
        capacity=CapacityMix(fargate_base=2, fargate_weight=1, fargate_spot_weight=3),
        services={"account": ServiceOverrides(tasks=TaskCount(minimum=3, maximum=8))},
    )
    digest = "sha256:" + "ab" * 32
    release = Release(images={**SETTINGS.releases["prod"].images, "account": digest, "inventory": "1.4.2"})
    template = json.loads(synth(settings_with(environments={"prod": prod}, releases={"prod": release})))
    entry = template["locals"]["environments"]["prod"]
    tasks_and_image = ("min_tasks", "max_tasks", "image")
    assert [entry["services"]["account"][k] for k in tasks_and_image] == [
        3,
        8,
        f"jeremycookdev/accountservice@{digest}",
    ]
    assert [entry["services"]["inventory"][k] for k in tasks_and_image] == [
        2,
        4,
        "jeremycookdev/inventoryservice:1.4.2",
    ]
    assert entry["capacity"] == {"fargate_base": 2, "fargate_weight": 1, "fargate_spot_weight": 3}
