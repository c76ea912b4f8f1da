"""End to end: the local deploy (local/deploy.py) applies the bootstrap and both workspaces into one
emulator; the result is checked through the AWS APIs with boto3, re-planned, then torn down.

The tests run in file order and build on each other: apply, inspect, re-plan, destroy staging,
destroy everything. moto records API calls; it runs no containers (see README, "Local deploy").
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import SETTINGS, settings_with

from local.deploy import LocalDeployment, workspaces
from local.emulated import MotoServer, TerraformWorkdir
from store2018.app import STACK_NAME, build_app
from store2018.settings import Alerting, Secret
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
    per_workspace = {"load balancers": 1, "target groups": 4, "clusters": 1, "roles": 9, "log groups": 6}
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


def target_group_suffixes(deployed: Deployed, workspace: str) -> dict[str, str]:
    """Each exposed service's target group's ARN suffix (its CloudWatch dimension), as the emulator holds it."""
    groups = deployed.moto.client("elbv2").describe_target_groups()["TargetGroups"]
    prefix = f"{workspace}-store2018-"
    return {g["TargetGroupName"].removeprefix(prefix): g["TargetGroupArn"].split(":")[-1]
            for g in groups if g["TargetGroupName"].startswith(prefix)}  # fmt: skip


def topic_arn(deployed: Deployed, workspace: str) -> str:
    (arn,) = [str(t["TopicArn"]) for t in deployed.moto.client("sns").list_topics()["Topics"]
              if t["TopicArn"].endswith(f":{workspace}-store2018-alarms")]  # fmt: skip
    return arn


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_alarms_watch_the_right_target_group_and_service_and_tell_the_topic(deployed: Deployed, workspace: str) -> None:
    described = deployed.moto.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{workspace}-store2018-")
    found = {a["AlarmName"]: a for a in described["MetricAlarms"]}
    assert len(found) == 6 * len(SERVICES) + 2
    groups, topic = target_group_suffixes(deployed, workspace), topic_arn(deployed, workspace)
    (load_balancer,) = [lb["LoadBalancerArn"].split(":loadbalancer/")[1]
                        for lb in deployed.moto.client("elbv2").describe_load_balancers()["LoadBalancers"]
                        if lb["LoadBalancerName"] == f"{workspace}-store2018"]  # fmt: skip
    services = {s.rsplit("/", 1)[1] for s in active_services(deployed.moto, f"{workspace}-store2018-cluster")}
    for name, alarm in found.items():
        assert (alarm["AlarmActions"], alarm["OKActions"]) == ([topic], [topic]), name
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        service = name.removeprefix(f"{workspace}-store2018-").split("-")[0]
        if alarm["Namespace"] == "AWS/ApplicationELB":
            assert dimensions.pop("LoadBalancer") == load_balancer, name
            if "TargetGroup" in dimensions:
                expected = "store2018" if service == "site" else service  # site-down: the default route
                assert dimensions.pop("TargetGroup") == groups[expected], name
        else:
            assert dimensions.pop("ClusterName") == f"{workspace}-store2018-cluster", name
            assert dimensions.pop("ServiceName") in services, name
        assert dimensions == {}, name


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_the_dashboard_shows_every_service_and_the_load_balancer(deployed: Deployed, workspace: str) -> None:
    body = json.loads(deployed.moto.client("cloudwatch").get_dashboard(DashboardName=f"{workspace}-store2018")[
        "DashboardBody"])  # fmt: skip
    graphs = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
    groups = target_group_suffixes(deployed, workspace)
    for service in SERVICES:
        for title in ("requests and 5xx", "response time (s)", "running and desired tasks", "CPU and memory (%)"):
            assert f"{service}: {title}" in graphs
        (latency,) = graphs[f"{service}: response time (s)"]["metrics"]
        assert latency[:6] == ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", latency[3], "TargetGroup",
                               groups[service]]  # fmt: skip
        assert latency[6]["stat"] == f"p{SETTINGS.services[service].alarms.response_time_percentile}"
        running, desired = graphs[f"{service}: running and desired tasks"]["metrics"]
        ecs = ["ClusterName", f"{workspace}-store2018-cluster", "ServiceName", f"{workspace}-store2018-{service}"]
        assert running[:2] == ["ECS/ContainerInsights", "RunningTaskCount"] and running[2:6] == ecs
        assert desired[:2] == ["ECS/ContainerInsights", "DesiredTaskCount"] and desired[2:6] == ecs
    healthy = graphs["Load balancer: healthy hosts per service"]["metrics"]
    assert sorted(m[5] for m in healthy) == sorted(groups.values())
    assert all(w["properties"]["region"] == SETTINGS.project.region for w in body["widgets"])
    outputs = json.loads(deployed.workdir.run("output", "-json", workspace=workspace).output)
    assert outputs["dashboard_url"]["value"].endswith(f"#dashboards/dashboard/{workspace}-store2018")


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(deployed: Deployed, workspace: str) -> None:
    client = deployed.moto.client
    topic = topic_arn(deployed, workspace)
    attributes = client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    key = client("kms").describe_key(KeyId=f"alias/{workspace}-store2018-alarms")["KeyMetadata"]
    assert attributes["KmsMasterKeyId"] == key["Arn"]
    key_policy = json.loads(client("kms").get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    (cloudwatch,) = [s for s in key_policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    topic_policy = json.loads(attributes["Policy"])
    (publish,) = [s for s in topic_policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert (publish["Action"], publish["Resource"]) == ("sns:Publish", topic)


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_ecs_exec_and_the_rollback_alarms_as_the_emulator_holds_them(deployed: Deployed, workspace: str) -> None:
    client = deployed.moto.client
    cluster = f"{workspace}-store2018-cluster"
    on = SETTINGS.environments[workspace].ecs_exec
    services = client("ecs").describe_services(cluster=cluster, services=active_services(deployed.moto, cluster))
    for service in services["services"]:
        name = service["serviceName"]
        assert service.get("enableExecuteCommand", False) is on  # a false flag is left out of the answer
        alarms = service["deploymentConfiguration"]["alarms"]
        rollback = (sorted(alarms["alarmNames"]), alarms["enable"], alarms["rollback"])
        assert rollback == ([f"{name}-5xx", f"{name}-unhealthy-hosts"], True, True)
        policies = client("iam").list_role_policies(RoleName=f"{name}-task")["PolicyNames"]
        assert policies == (["exec"] if on else [])
        if on:
            document = client("iam").get_role_policy(RoleName=f"{name}-task", PolicyName="exec")["PolicyDocument"]
            granted = {s["Sid"]: s for s in document["Statement"]}
            exec_key = client("kms").describe_key(KeyId=f"alias/{workspace}-store2018-exec")["KeyMetadata"]["Arn"]
            assert sorted(granted) == [
                "ExecChannels", "ExecDecryptsSessions", "ExecFindsItsLogGroup", "ExecWritesSessionLogs"]  # fmt: skip
            assert granted["ExecDecryptsSessions"]["Resource"] == exec_key
            assert granted["ExecWritesSessionLogs"]["Resource"].endswith(
                f":log-group:/ecs/{workspace}-store2018/exec:*"
            )
    (described,) = client("ecs").describe_clusters(clusters=[cluster])["clusters"]
    execute = described["configuration"]["executeCommandConfiguration"]
    assert execute["logConfiguration"]["cloudWatchLogGroupName"] == f"/ecs/{workspace}-store2018/exec"
    exec_key = client("kms").describe_key(KeyId=f"alias/{workspace}-store2018-exec")["KeyMetadata"]
    assert execute["kmsKeyId"] == exec_key["Arn"]
    (log_group,) = client("logs").describe_log_groups(logGroupNamePrefix=f"/ecs/{workspace}-store2018/exec")[
        "logGroups"]  # fmt: skip
    assert log_group["kmsKeyId"] == exec_key["Arn"]


def test_a_secret_reaches_its_container_by_reference_only(
    deployed: Deployed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A catalog that gives the account service two secrets (an SSM parameter under a key of its own,
    a Secrets Manager secret), created in the emulator and applied to staging over the running
    deployment, with an alarm e-mail: the container gets `secrets`, the execution role may read exactly
    those and decrypt with that key, and neither value appears in the synthesis, the plan or the state."""
    client = deployed.moto.client
    values = {"DB_PASSWORD": f"pw-{secrets.token_hex(12)}", "API_TOKEN": f"tok-{secrets.token_hex(12)}"}
    key = client("kms").create_key(Description="the account service's parameters")["KeyMetadata"]
    client("ssm").put_parameter(Name="/store2018/staging/db-password", Value=values["DB_PASSWORD"],
                                Type="SecureString", KeyId=key["Arn"])  # fmt: skip
    parameter = client("ssm").get_parameter(Name="/store2018/staging/db-password")["Parameter"]["ARN"]
    secret = client("secretsmanager").create_secret(Name="store2018/staging/api", SecretString=values["API_TOKEN"])
    assert secret["ARN"].rsplit("-", 1)[1].isalnum()  # the random suffix, which the setting must include
    given = {"DB_PASSWORD": Secret(arn=parameter, kms_key_arn=key["Arn"]), "API_TOKEN": Secret(arn=secret["ARN"])}
    account = replace(SETTINGS.services["account"], secrets=given)
    staging = replace(SETTINGS.environments["staging"], alerting=Alerting(email="oncall@example.com"))
    settings = settings_with(services={**SETTINGS.services, "account": account},
                             environments={**SETTINGS.environments, "staging": staging})  # fmt: skip
    synthesis = tmp_path_factory.mktemp("secrets") / "synth"
    build_app(outdir=str(synthesis), settings=settings).synth()
    stack = synthesis / "stacks" / STACK_NAME
    try:
        with TerraformWorkdir(stack, synthesis.parent / "work", deployed.moto, create_state_bucket=False) as work:
            plan = work.plan_json("staging")
            work.run("apply", "-auto-approve", "-input=false", "staging.tfplan", timeout=900)
            state = work.run("state", "pull").output
            replan = work.run("plan", "-input=false", "-detailed-exitcode", check=False)
        assert replan.returncode == 0, replan.output  # the emulator keeps what was applied
        written = {"synthesis": (stack / "cdk.tf.json").read_text(), "plan": json.dumps(plan), "state": state}
        for where, text in written.items():
            assert not [name for name, value in values.items() if value in text], where
        ecs = client("ecs")
        service = ecs.describe_services(cluster="staging-store2018-cluster", services=["staging-store2018-account"])
        definition = ecs.describe_task_definition(taskDefinition=service["services"][0]["taskDefinition"])
        (container,) = definition["taskDefinition"]["containerDefinitions"]
        assert sorted((s["name"], s["valueFrom"]) for s in container["secrets"]) == [
            ("API_TOKEN", secret["ARN"]), ("DB_PASSWORD", parameter)]  # fmt: skip
        assert not {e["name"] for e in container.get("environment", [])} & set(values)
        role, iam = "staging-store2018-account-execution", client("iam")
        assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == [
            "decrypt-secrets", "pull-image-and-write-logs"]  # fmt: skip
        granted = {s["Sid"]: s for s in iam.get_role_policy(RoleName=role, PolicyName="pull-image-and-write-logs")[
            "PolicyDocument"]["Statement"]}  # fmt: skip
        assert (granted["ReadOwnParameters"]["Action"], granted["ReadOwnParameters"]["Resource"]) == (
            "ssm:GetParameters",
            parameter,
        )
        assert (granted["ReadOwnSecrets"]["Action"], granted["ReadOwnSecrets"]["Resource"]) == (
            "secretsmanager:GetSecretValue",
            secret["ARN"],
        )
        (decrypt,) = iam.get_role_policy(RoleName=role, PolicyName="decrypt-secrets")["PolicyDocument"]["Statement"]
        assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", key["Arn"])
        # The e-mail subscription this settings change also asked for (SNS then mails the address to confirm).
        (subscription,) = client("sns").list_subscriptions_by_topic(TopicArn=topic_arn(deployed, "staging"))[
            "Subscriptions"]  # fmt: skip
        assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")
        # The other services' roles gained nothing.
        assert iam.list_role_policies(RoleName="staging-store2018-inventory-execution")["PolicyNames"] == [
            "pull-image-and-write-logs"]  # fmt: skip
    finally:
        client("ssm").delete_parameter(Name="/store2018/staging/db-password")
        client("secretsmanager").delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
        client("kms").schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


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
        "alarms": client("cloudwatch").describe_alarms()["MetricAlarms"],
        "dashboards": client("cloudwatch").list_dashboards()["DashboardEntries"],
        "topics": client("sns").list_topics()["Topics"],
        "subscriptions": client("sns").list_subscriptions()["Subscriptions"],
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
