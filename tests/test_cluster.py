"""The cluster construct: ECS cluster, its capacity providers and the Cloud Map namespace."""

from __future__ import annotations

import json
from typing import Any

from conftest import ref, resource_named, settings_with, synth


def test_cluster_has_container_insights_and_both_fargate_providers(template: dict[str, Any]) -> None:
    address, cluster = resource_named(template, "aws_ecs_cluster", "cluster")
    exec_logs, log_group = resource_named(template, "aws_cloudwatch_log_group", "cluster_exec_logs")
    key = ref("aws_kms_key", resource_named(template, "aws_kms_key", "cluster_exec_key")[0], "arn")
    assert cluster == {
        "name": "${local.workspace}-store2018-cluster",
        "setting": [{"name": "containerInsights", "value": "enabled"}],
        # Every ECS Exec session is encrypted with the exec key and logged, where a workspace turns exec on.
        "configuration": {
            "execute_command_configuration": {
                "kms_key_id": key,
                "logging": "OVERRIDE",
                "log_configuration": {
                    "cloud_watch_log_group_name": ref("aws_cloudwatch_log_group", exec_logs, "name"),
                    "cloud_watch_encryption_enabled": True,
                },
            }
        },
    }
    assert log_group == {
        "name": "/ecs/${local.workspace}-store2018/exec",
        "retention_in_days": "${local.environment.log_retention_days}",
        "kms_key_id": key,
    }
    _, providers = resource_named(template, "aws_ecs_cluster_capacity_providers", "cluster_capacity_providers")
    assert providers == {
        "cluster_name": ref("aws_ecs_cluster", address, "name"),
        "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
    }


def test_discovery_namespace_is_private_to_the_vpc(template: dict[str, Any]) -> None:
    vpc = resource_named(template, "aws_vpc", "network_vpc")[0]
    _, namespace = resource_named(template, "aws_service_discovery_private_dns_namespace", "cluster_namespace")
    assert namespace["name"] == "microservices.private"
    assert namespace["vpc"] == ref("aws_vpc", vpc, "id")


def test_namespace_is_a_setting() -> None:
    template = json.loads(synth(settings_with(discovery_namespace="store.internal")))
    _, namespace = resource_named(template, "aws_service_discovery_private_dns_namespace", "cluster_namespace")
    assert namespace["name"] == "store.internal"
