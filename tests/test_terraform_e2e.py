"""End to end: the local deploy (local/deploy.py) applies the bootstrap and both workspaces into one
emulator; the result is checked through the AWS APIs with boto3, re-planned, then torn down.

The tests run in file order and build on each other: apply, inspect, re-plan, destroy staging,
destroy everything. moto records API calls; it runs no containers (see README, "Local deploy").
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SETTINGS

from local.deploy import LocalDeployment, workspaces
from local.emulated import MotoServer, TerraformWorkdir
from store2018.state_bucket import state_key_alias

# One worker per group (`--dist loadgroup`): its tests share the session and module fixtures.
pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("e2e")]

BUCKET = SETTINGS.project.state_backend.bucket
STATE_KEY_ALIAS = state_key_alias(SETTINGS)
SERVICES = sorted(SETTINGS.services)


def quiet(prefix: str) -> Any:
    return lambda line: None


@dataclass
class Deployed:
    moto: MotoServer
    deployment: LocalDeployment
    workdir: TerraformWorkdir
    seconds: dict[str, float]


@contextlib.contextmanager
def users_shell(home: Path) -> Iterator[None]:
    """The environment of a user with credentials, a profile and a proxy of their own exported. The
    profile is missing from the config file, so anything that reads it fails at once (botocore in the
    emulator, the provider's SDK); the proxy refuses every connection."""
    config = home / "aws-config"
    config.write_text("[profile someone-else]\naws_access_key_id = AKIAREALKEY\naws_secret_access_key = real\n")
    proxy = "http://127.0.0.1:9"
    exported = {"AWS_PROFILE": "production-admin", "AWS_CONFIG_FILE": str(config), "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
                "AWS_SECRET_ACCESS_KEY": "real", "HTTPS_PROXY": proxy, "no_proxy": ""}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for key, value in exported.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def deployed(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A fresh emulator of its own (the session's `moto` is only used for its readiness checks)."""
    seconds = {}
    # Started and deployed from a shell with a production profile and a proxy exported: neither is used.
    with users_shell(tmp_path_factory.mktemp("home")):
        server = MotoServer(tmp_path_factory.mktemp("e2e-moto") / "emulator.log")
        deployment = LocalDeployment(tmp_path_factory.mktemp("e2e") / "work", server, echo=quiet)
        started = time.monotonic()
        deployment.bootstrap()
        seconds["bootstrap"] = time.monotonic() - started
        workdir = deployment.main_workdir()
        started = time.monotonic()
        seconds.update(deployment.apply_all(workspaces(), workdir))  # side by side, as `make local-up` does
        seconds["all workspaces"] = time.monotonic() - started
    print(f"\nlocal deploy into the emulator: {', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())}")
    yield Deployed(server, deployment, workdir, seconds)
    workdir.close()
    server.stop()


def tagged(resources: list[dict[str, Any]], workspace: str) -> list[dict[str, Any]]:
    return [r for r in resources if {"Key": "Workspace", "Value": workspace} in r.get("Tags", [])]


def test_the_state_bucket_is_versioned_encrypted_private_and_tls_only(deployed: Deployed) -> None:
    s3 = deployed.moto.client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    key = deployed.moto.client("kms").describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    assert deployed.moto.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}  # fmt: skip
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert (statement["Effect"], statement["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_each_workspace_has_its_own_network(deployed: Deployed, workspace: str) -> None:
    ec2 = deployed.moto.client("ec2")
    env = SETTINGS.environments[workspace]
    (vpc,) = tagged(ec2.describe_vpcs()["Vpcs"], workspace)
    assert vpc["CidrBlock"] == env.vpc_cidr
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    prefix = env.vpc_cidr.rsplit(".", 2)[0]
    assert sorted(s["CidrBlock"] for s in subnets) == [f"{prefix}.{i}.0/24" for i in range(4)]
    public = {s["SubnetId"] for s in subnets if {"Key": "Tier", "Value": "public"} in s["Tags"]}
    gateways = [g for g in ec2.describe_nat_gateways()["NatGateways"]
                if g["VpcId"] == vpc["VpcId"] and g["State"] == "available"]  # fmt: skip
    assert len(gateways) == env.nat_gateway_mode.gateway_count(SETTINGS.project.az_count)
    assert {g["SubnetId"] for g in gateways} <= public
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    (flow_log,) = flow_logs
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestination"].endswith(f":log-group:/vpc/{workspace}-store2018/flow-logs")


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_four_services_with_their_counts_and_registries(deployed: Deployed, workspace: str) -> None:
    ecs, discovery = deployed.moto.client("ecs"), deployed.moto.client("servicediscovery")
    cluster = f"{workspace}-store2018-cluster"
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    services = ecs.describe_services(cluster=cluster, services=arns)["services"]
    assert sorted(s["serviceName"] for s in services) == [f"{workspace}-store2018-{n}" for n in SERVICES]
    registries = {r["Arn"]: r["Name"] for r in discovery.list_services()["Services"]}
    for service in services:
        assert service["desiredCount"] == SETTINGS.environments[workspace].tasks.minimum
        strategy = {
            s["capacityProvider"]: (s.get("base", 0), s.get("weight", 0)) for s in service["capacityProviderStrategy"]
        }
        assert strategy == {"FARGATE": (1, 1), "FARGATE_SPOT": (0, 0)}
        assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
        (registry,) = service["serviceRegistries"]
        name = service["serviceName"].removeprefix(f"{workspace}-store2018-")
        assert registries[registry["registryArn"]] == SETTINGS.services[name].discovery_name


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_listener_rules_and_target_groups(deployed: Deployed, workspace: str) -> None:
    elbv2 = deployed.moto.client("elbv2")
    (lb,) = elbv2.describe_load_balancers(Names=[f"{workspace}-store2018"])["LoadBalancers"]
    (vpc,) = tagged(deployed.moto.client("ec2").describe_vpcs()["Vpcs"], workspace)
    assert (lb["Type"], lb["VpcId"]) == ("application", vpc["VpcId"])
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    groups = {g["TargetGroupArn"]: g for g in elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])[
        "TargetGroups"]}  # fmt: skip
    assert {g["TargetGroupName"]: g["HealthCheckPath"] for g in groups.values()} == {
        f"{workspace}-store2018-{n}": SETTINGS.services[n].health_check_path for n in SERVICES
    }
    rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    routed = {
        tuple(r["Conditions"][0]["PathPatternConfig"]["Values"]): groups[r["Actions"][0]["TargetGroupArn"]][
            "TargetGroupName"
        ]
        for r in rules
        if not r["IsDefault"]
    }
    assert routed == {
        ("/api/consumers*",): f"{workspace}-store2018-account",
        ("/api/products*",): f"{workspace}-store2018-inventory",
        ("/api/cart*",): f"{workspace}-store2018-shopping",
    }
    (default,) = [r for r in rules if r["IsDefault"]]
    assert groups[default["Actions"][0]["TargetGroupArn"]]["TargetGroupName"] == f"{workspace}-store2018-store2018"


def test_unique_names_never_collide_across_workspaces(deployed: Deployed) -> None:
    client = deployed.moto.client
    names = {
        "load balancers": [lb["LoadBalancerName"] for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]],
        "target groups": [g["TargetGroupName"] for g in client("elbv2").describe_target_groups()["TargetGroups"]],
        "clusters": [a.rsplit("/", 1)[1] for a in client("ecs").list_clusters()["clusterArns"]],
        "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"]],
        "log groups": [g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]],
    }
    per_workspace = {"load balancers": 1, "target groups": 4, "clusters": 1, "roles": 9, "log groups": 5}
    for kind, found in names.items():
        assert len(found) == len(set(found)) == len(SETTINGS.environments) * per_workspace[kind], (kind, found)
        for workspace in SETTINGS.environments:
            mine = [n for n in found if n.startswith((f"{workspace}-", f"/ecs/{workspace}-", f"/vpc/{workspace}-"))]
            assert len(mine) == per_workspace[kind], (kind, workspace, found)


def test_state_objects_live_under_the_workspace_prefix(deployed: Deployed) -> None:
    keys = [o["Key"] for o in deployed.moto.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    state = SETTINGS.project.state_backend
    expected = {f"{state.workspace_key_prefix}/{ws}/{state.key}" for ws in SETTINGS.environments}
    assert expected <= set(keys)
    assert state.key not in keys  # nothing in the default workspace
    assert all(k in expected or k.endswith(".tflock") for k in keys), keys


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_state_objects_are_encrypted_with_the_state_key(deployed: Deployed, workspace: str) -> None:
    """What S3 says about the stored object (with `encrypt = true` alone it would be AES256, SSE-S3)."""
    state = SETTINGS.project.state_backend
    head = deployed.moto.client("s3").head_object(
        Bucket=BUCKET, Key=f"{state.workspace_key_prefix}/{workspace}/{state.key}"
    )
    key_arn = deployed.moto.client("kms").describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]["Arn"]
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] in (key_arn, STATE_KEY_ALIAS), head  # AWS answers with the ARN


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_a_plan_right_after_apply_shows_no_changes(deployed: Deployed, workspace: str) -> None:
    deployed.workdir.select_workspace(workspace)
    result = deployed.workdir.run("plan", "-input=false", "-refresh=true", "-detailed-exitcode", check=False)
    assert result.returncode == 0, result.output  # 2 would mean changes


def active_clusters(moto: MotoServer) -> list[str]:
    """ECS lists deleted clusters and services for a while, as INACTIVE: only ACTIVE ones count."""
    ecs = moto.client("ecs")
    arns = ecs.list_clusters()["clusterArns"]
    return [c["clusterName"] for c in ecs.describe_clusters(clusters=arns)["clusters"] if c["status"] == "ACTIVE"]


def active_services(moto: MotoServer, cluster: str) -> list[str]:
    if cluster not in active_clusters(moto):
        return []
    ecs = moto.client("ecs")
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    described = ecs.describe_services(cluster=cluster, services=arns)["services"] if arns else []
    return [s["serviceArn"] for s in described if s["status"] == "ACTIVE"]


def resources_of(deployed: Deployed, workspace: str) -> dict[str, Any]:
    """What the emulator holds for a workspace, by API, and its state's addresses."""
    client = deployed.moto.client
    deployed.workdir.select_workspace(workspace)
    return {
        "state": deployed.workdir.run("state", "list").output.split(),
        "vpcs": [v["VpcId"] for v in tagged(client("ec2").describe_vpcs()["Vpcs"], workspace)],
        "load balancer": [
            lb["LoadBalancerArn"]
            for lb in client("elbv2").describe_load_balancers()["LoadBalancers"]
            if lb["LoadBalancerName"] == f"{workspace}-store2018"
        ],
        "services": active_services(deployed.moto, f"{workspace}-store2018-cluster"),
    }


def test_destroying_staging_leaves_prod_untouched(deployed: Deployed) -> None:
    prod_before = resources_of(deployed, "prod")
    assert len(prod_before["state"]) > 80
    deployed.deployment.destroy("staging", deployed.workdir)
    assert resources_of(deployed, "prod") == prod_before
    gone = resources_of(deployed, "staging")
    assert (gone["vpcs"], gone["load balancer"], gone["services"]) == ([], [], [])


def test_the_final_teardown_leaves_nothing_behind(deployed: Deployed) -> None:
    for workspace in workspaces():
        if workspace != "staging":  # destroyed by the test above
            deployed.deployment.destroy(workspace, deployed.workdir)
    deployed.deployment.destroy_bootstrap()
    client = deployed.moto.client
    ec2 = client("ec2")
    left = {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "nat gateways": [
            g["NatGatewayId"]
            for g in ec2.describe_nat_gateways()["NatGateways"]
            if g["State"] not in ("deleted", "deleting")
        ],
        "elastic ips": [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]],
        "flow logs": [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]],
        "load balancers": client("elbv2").describe_load_balancers()["LoadBalancers"],
        "target groups": client("elbv2").describe_target_groups()["TargetGroups"],
        "clusters": active_clusters(deployed.moto),
        "task definitions": client("ecs").list_task_definitions(status="ACTIVE")["taskDefinitionArns"],
        "roles": client("iam").list_roles()["Roles"],
        "log groups": client("logs").describe_log_groups()["logGroups"],
        "namespaces": client("servicediscovery").list_namespaces()["Namespaces"],
        "discovery services": client("servicediscovery").list_services()["Services"],
        "scalable targets": client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")[
            "ScalableTargets"
        ],
        "buckets": client("s3").list_buckets()["Buckets"],
        "key aliases": [
            a for a in client("kms").list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")
        ],
        "keys not pending deletion": [
            k["KeyId"]
            for k in client("kms").list_keys()["Keys"]
            if client("kms").describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
        ],
    }
    assert {kind: found for kind, found in left.items() if found} == {}
