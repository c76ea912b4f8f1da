"""What each pipeline role may do, per workspace: the statements of the plan and apply roles and of the
workload boundaries (github_oidc.py makes the IAM resources of them). Pure: no cdktf, so that the tests
and the gate read the same statements.

Least privilege from a record, not a guess: the actions are those the AWS provider called in a recorded
plan, refresh-only plan, apply and destroy of both workspaces against the emulator
(tests/test_terraform_iam.py compares them with the record), plus the actions in `UNRECORDED`, each
with the reason no request log shows it. Where the service puts names in its ARNs, a statement names
the workspace's resources (`<workspace>-<project>-*`); where it supports tags, the workspace's tag
(`Workspace`, which the main stack's provider puts on everything); elsewhere the project's region.
README, "Pipeline credentials", lists what could not be narrowed and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from store2018.naming import resource_name
from store2018.settings import GitHubSubject

# The tags the main stack's provider puts on every resource (stack.py, `default_tags`).
DEFAULT_TAG_KEYS = ("ManagedBy", "Project", "Workspace")
# A deleted key can be restored for this long: a request for less is denied (AWS's maximum).
KEY_DELETION_WINDOW_DAYS = 30
# The services whose roles the main stack creates: its roles may trust these, and nothing else.
TRUSTED_SERVICES = ("ecs-tasks.amazonaws.com", "vpc-flow-logs.amazonaws.com")
# The service-linked roles the first apply in an account may create (ECS, the load balancer, ECS autoscaling).
SERVICE_LINKED_ROLES = ("ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com",
                        "ecs.application-autoscaling.amazonaws.com")  # fmt: skip

# Granted although no recorded run calls them, each with the reason (tests/test_terraform_iam.py fails on an
# action a role allows that is neither recorded nor listed here, and on an entry here that a run now records).
UNRECORDED: dict[str, str] = {
    # Checked by AWS at request time, never sent as a request of their own.
    "iam:PassRole": "AWS checks it when a task definition names its roles and when flow logs get their role",
    "iam:CreateServiceLinkedRole": "the first ECS service, load balancer or ECS scaling target in an account makes "
    "AWS create the service's linked role with the caller's permissions",
    "iam:TagRole": "tag-on-create: IAM checks it when CreateRole carries the provider's default tags",
    "elasticloadbalancing:AddTags": "tag-on-create: checked when a load balancer, target group, listener or rule "
    "is created with tags",
    "ecs:TagResource": "tag-on-create: ECS checks it when a cluster, service or task definition is created with tags",
    "logs:TagResource": "tag-on-create: checked when CreateLogGroup carries tags",
    "cloudwatch:TagResource": "tag-on-create: checked when PutMetricAlarm carries tags",
    "sns:TagResource": "tag-on-create: checked when CreateTopic carries tags",
    "servicediscovery:TagResource": "tag-on-create: checked when a namespace or service is created with tags",
    "application-autoscaling:TagResource": "tag-on-create: checked when RegisterScalableTarget carries tags",
    "kms:TagResource": "tag-on-create: KMS checks it when CreateKey carries tags",
    "kms:Decrypt": "the state object is read through S3, which decrypts it with the state key for the caller",
    "kms:GenerateDataKey": "the state object is written through S3, which encrypts it with the state key for the "
    "caller",
    "route53:CreateHostedZone": "Cloud Map creates a namespace's private zone with the caller's permissions",
    "route53:ListHostedZonesByName": "Cloud Map looks the namespace's zone up with the caller's permissions",
    "ec2:DescribeRegions": "Cloud Map checks the namespace's region with the caller's permissions",
    # Changes a recorded run did not make: a later settings change makes them.
    "ec2:DeleteTags": "a change of the provider's default tags",
    "ec2:ModifySecurityGroupRules": "a security group rule changed in place (a port or description)",
    "ec2:ReplaceRoute": "a route's target changed (NatGatewayMode, az_count)",
    "elasticloadbalancing:RemoveTags": "a change of the provider's default tags",
    "elasticloadbalancing:ModifyListener": "a listener's certificate or default action changed (certificate_arn)",
    "elasticloadbalancing:ModifyRule": "a path rule's conditions changed (public_paths)",
    "elasticloadbalancing:ModifyTargetGroup": "a target group's health check changed (health_check_path)",
    "elasticloadbalancing:SetRulePriorities": "a rule's priority changed (a service inserted into the catalog)",
    "elasticloadbalancing:SetSubnets": "the load balancer's subnets changed (az_count, zone_ids)",
    "ecs:UntagResource": "a change of the provider's default tags",
    "ecs:UpdateCluster": "the cluster's settings changed (Container Insights, ECS Exec's configuration)",
    "logs:UntagResource": "a change of the provider's default tags",
    "logs:AssociateKmsKey": "a log group's key changed",
    "logs:DisassociateKmsKey": "a log group's key removed",
    "cloudwatch:UntagResource": "a change of the provider's default tags",
    "sns:UntagResource": "a change of the provider's default tags",
    "servicediscovery:UntagResource": "a change of the provider's default tags",
    "servicediscovery:UpdateService": "a Cloud Map service's DNS settings changed",
    "application-autoscaling:UntagResource": "a change of the provider's default tags",
    "kms:PutKeyPolicy": "a key's policy changed (keys.py)",
    "kms:UpdateKeyDescription": "a key's description changed",
    "kms:UpdateAlias": "an alias moved to another key",
    "kms:UntagResource": "a change of the provider's default tags (never of Project or Workspace)",
    "iam:UntagRole": "a change of the provider's default tags",
    "iam:UpdateAssumeRolePolicy": "a role's trust policy changed (the gate checks whom it trusts)",
    "iam:UpdateRole": "a role's description or session duration changed",
    "iam:UpdateRoleDescription": "a role's description changed",
}
# Recorded, and deliberately not granted.
UNGRANTED: dict[str, str] = {
    "iam:GetUser": "the provider asks who the caller is at start-up; an assumed role is no user, the call fails "
    "and the provider goes on with sts:GetCallerIdentity",
}


@dataclass(frozen=True)
class Condition:
    test: str  # the operator: StringEquals, ForAllValues:StringEquals, Null, ...
    variable: str  # the condition key
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    effect: str = "Allow"


# The claim keys of the repository's customised OIDC subject (`make oidc-subject`), in GitHub's order.
WORKFLOW_CLAIM_KEYS = ("repo", "context", "job_workflow_ref")
MAIN = "refs/heads/main"
# The workspaces the workflows name: pull requests plan staging; the deploy run reviews prod before approval.
PULL_REQUEST_WORKSPACE, APPROVED_WORKSPACE = "staging", "prod"


def _subjects(repository: str, subject: GitHubSubject, runs: list[tuple[str, str, str]]) -> list[str]:
    """The `sub` values of `runs`, each (context, workflow file, ref): GitHub's default format names the
    context only; the customised one the workflow file and the ref it ran from too."""
    found = []
    for context, workflow, ref in runs:
        if subject in (GitHubSubject.DEFAULT, GitHubSubject.BOTH):
            found.append(f"repo:{repository}:{context}")
        if subject in (GitHubSubject.WORKFLOW, GitHubSubject.BOTH):
            found.append(
                f"repo:{repository}:{context}:job_workflow_ref:{repository}/.github/workflows/{workflow}@{ref}"
            )
    return list(dict.fromkeys(found))


def plan_subjects(repository: str, workspace: str, subject: GitHubSubject = GitHubSubject.WORKFLOW) -> list[str]:
    """Who may plan: the daily drift check on main (both workspaces); staging's also pull requests (their code,
    so staging's plan role reads staging only, takes no lock); prod's also the deploy run's review of prod on
    main, before approval."""
    runs = [("ref:" + MAIN, "drift.yml", MAIN)]
    if workspace == PULL_REQUEST_WORKSPACE:
        runs.append(("pull_request", "pull-request.yml", "refs/pull/*/merge"))
    if workspace == APPROVED_WORKSPACE:
        runs.append(("ref:" + MAIN, "deploy.yml", MAIN))
    return _subjects(repository, subject, runs)


def apply_subjects(repository: str, workspace: str, subject: GitHubSubject = GitHubSubject.WORKFLOW) -> list[str]:
    """Only the deploy workflow on main, in the workspace's GitHub environment (its protection rules)."""
    return _subjects(repository, subject, [(f"environment:{workspace}", "deploy.yml", MAIN)])


def statement(sid: str, actions: Sequence[str], resources: Sequence[str], *conditions: tuple[str, str, Sequence[str]],
              effect: str = "Allow") -> Statement:  # fmt: skip
    return Statement(sid, tuple(actions), tuple(resources),
                     tuple(Condition(test, variable, tuple(values)) for test, variable, values in conditions),
                     effect)  # fmt: skip


@dataclass(frozen=True)
class HostedZone:
    """The public zone and the workspace's alias record in it (its name without the zone)."""

    zone_id: str
    zone_name: str  # lower case, no trailing dot (a Terraform expression in the bootstrap)
    record_name: str

    @property
    def record_fqdn(self) -> str:
        """As Route 53's `ChangeResourceRecordSetsNormalizedRecordNames` has it: lower case, no trailing dot."""
        return f"{self.record_name}.{self.zone_name}"


@dataclass(frozen=True)
class RoleScope:
    """What one workspace's pipeline roles are held to."""

    project: str
    workspace: str
    region: str
    account: str
    state_bucket_arn: str
    state_object_key: str  # `<workspace_key_prefix>/<workspace>/<key>`
    state_key_arn: str
    backend_region: str  # the state bucket's region, where S3 uses the state key
    boundary_arn: str  # the workspace's workload boundary
    zone: HostedZone | None = None
    # The KMS keys the settings name for secrets, of every workspace: the users', never managed by the stack.
    secret_key_arns: tuple[str, ...] = ()

    def name(self, *parts: str) -> str:
        return resource_name(self.workspace, self.project, *parts)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    @property
    def cluster(self) -> str:
        return self.name("cluster")

    @property
    def in_region(self) -> tuple[str, str, Sequence[str]]:
        return ("StringEquals", "aws:RequestedRegion", [self.region])

    @property
    def tagged(self) -> list[tuple[str, str, Sequence[str]]]:
        """The resource carries the workspace's tags."""
        return [("StringEquals", "aws:ResourceTag/Project", [self.project]),
                ("StringEquals", "aws:ResourceTag/Workspace", [self.workspace])]  # fmt: skip

    @property
    def tagging(self) -> list[tuple[str, str, Sequence[str]]]:
        """A create or tag request carries the workspace's tags, and only the provider's tag keys."""
        return [("StringEquals", "aws:RequestTag/Project", [self.project]),
                ("StringEquals", "aws:RequestTag/Workspace", [self.workspace]),
                ("ForAllValues:StringEquals", "aws:TagKeys", DEFAULT_TAG_KEYS)]  # fmt: skip


def boundary_name(project: str, workspace: str) -> str:
    """A workspace's workload boundary: the most any role of its main stack may do."""
    return f"{project}-workload-boundary-{workspace}"


def shared_boundary_name(project: str) -> str:
    """The one boundary of earlier versions, for every workspace (kept while a deployment migrates)."""
    return f"{project}-workload-boundary"


# What a refresh reads, by service. Both roles hold these.


def read_statements(scope: RoleScope) -> list[Statement]:
    """Describe, get and list calls of a refresh; none that returns data. Where the action takes a resource,
    the workspace's (by name or tag), or any of the account's in the region where ids are random."""
    name, arn = scope.name, scope.arn
    statements = [
        # EC2's and Elastic Load Balancing's describe calls take no resource.
        statement("ReadNetwork", ["ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute",
                                  "ec2:DescribeAvailabilityZones", "ec2:DescribeFlowLogs",
                                  "ec2:DescribeInternetGateways", "ec2:DescribeNatGateways", "ec2:DescribeNetworkAcls",
                                  "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
                                  "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"], ["*"]),
        statement("ReadVpcAttributes", ["ec2:DescribeVpcAttribute"], [arn("ec2", "vpc/*")]),
        statement("ReadLoadBalancer", ["elasticloadbalancing:DescribeCapacityReservation",
                                       "elasticloadbalancing:DescribeListenerAttributes",
                                       "elasticloadbalancing:DescribeListeners",
                                       "elasticloadbalancing:DescribeLoadBalancerAttributes",
                                       "elasticloadbalancing:DescribeLoadBalancers",
                                       "elasticloadbalancing:DescribeRules",
                                       "elasticloadbalancing:DescribeTags",
                                       "elasticloadbalancing:DescribeTargetGroupAttributes",
                                       "elasticloadbalancing:DescribeTargetGroups"], ["*"]),
        statement("ReadCluster", ["ecs:DescribeClusters", "ecs:DescribeServices"],
                  [arn("ecs", f"cluster/{scope.cluster}"), arn("ecs", f"service/{scope.cluster}/*")]),
        # No resource-level permission: any task definition of the account is readable. Secrets are only ever
        # ARNs in them (`secrets`; the settings refuse credential-like names among plain variables).
        statement("ReadTaskDefinitions", ["ecs:DescribeTaskDefinition"], ["*"]),
        statement("FindLogGroups", ["logs:DescribeLogGroups"], ["*"]),
        statement("ReadLogGroups", ["logs:ListTagsForResource"],
                  [arn("logs", f"log-group:/ecs/{name()}/*"), arn("logs", f"log-group:/vpc/{name()}/*")]),
        statement("FindKeyAliases", ["kms:ListAliases"], ["*"]),
        statement("ReadKeys", ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
                               "kms:ListResourceTags"], [arn("kms", "key/*")], *scope.tagged),
        statement("ReadAlarms", ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
                  [arn("cloudwatch", f"alarm:{name('*')}")]),
        statement("ReadDashboard", ["cloudwatch:GetDashboard"],
                  [f"arn:aws:cloudwatch::{scope.account}:dashboard/{name()}"]),
        statement("ReadTopic", ["sns:GetTopicAttributes", "sns:ListTagsForResource"], [arn("sns", name("*"))]),
        statement("ReadSubscriptions", ["sns:GetSubscriptionAttributes"], ["*"]),
        statement("ReadDiscovery", ["servicediscovery:GetNamespace", "servicediscovery:GetService"],
                  [arn("servicediscovery", "namespace/*"), arn("servicediscovery", "service/*")]),
        # Sources disagree on whether GetOperation takes a resource: `*` holds either way.
        statement("ReadDiscoveryOperations", ["servicediscovery:GetOperation", "servicediscovery:ListTagsForResource"],
                  ["*"]),
        statement("ReadScaling", ["application-autoscaling:DescribeScalableTargets",
                                  "application-autoscaling:DescribeScalingPolicies"], ["*"]),
        statement("ReadScalingTags", ["application-autoscaling:ListTagsForResource"],
                  [arn("application-autoscaling", "scalable-target/*")]),
        statement("ReadWorkspaceRoles", ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                                         "iam:ListRolePolicies"], [scope.role_arn(name("*"))]),
        statement("Identity", ["sts:GetCallerIdentity"], ["*"]),
    ]  # fmt: skip
    if scope.zone is not None:
        statements += [
            statement("ReadZone", ["route53:GetHostedZone", "route53:ListResourceRecordSets"],
                      [f"arn:aws:route53:::hostedzone/{scope.zone.zone_id}"]),
            statement("ReadChanges", ["route53:GetChange"], ["arn:aws:route53:::change/*"]),
        ]  # fmt: skip
    return statements


def state_statements(scope: RoleScope, *, write: bool) -> list[Statement]:
    """The workspace's state object (read; written by the apply role only), its lock file (S3-native
    locking: `use_lockfile`; taken by applies only: plans run without it, and the plan role reads it to
    see whether an apply is running) and the state key, through S3 only."""
    state = f"{scope.state_bucket_arn}/{scope.state_object_key}"
    return [
        statement("StateBucket", ["s3:ListBucket"], [scope.state_bucket_arn]),
        statement("WriteState", ["s3:GetObject", "s3:PutObject"], [state])
        if write
        else statement("ReadState", ["s3:GetObject"], [state]),
        statement("StateLock", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], [f"{state}.tflock"])
        if write
        else statement("SeeStateLock", ["s3:GetObject"], [f"{state}.tflock"]),
        statement("StateKey", ["kms:Decrypt", *(["kms:GenerateDataKey"] if write else [])], [scope.state_key_arn],
                  ("StringEquals", "kms:ViaService", [f"s3.{scope.backend_region}.amazonaws.com"])),
    ]  # fmt: skip


def tag_statements(scope: RoleScope, what: str, service: str, resources: Sequence[str]) -> list[Statement]:
    """Tags of a service whose policies go by the workspace's tags: no role can move a resource into its
    workspace. A new resource gets the workspace's tags (the service checks `<service>:TagResource` when a
    create call carries tags, before the resource exists, so that statement names no resource and requires
    that neither tag be there yet); an existing one keeps its `Project` and `Workspace` tags."""
    return [
        statement(f"TagNew{what}", [f"{service}:TagResource"], ["*"], scope.in_region, *scope.tagging,
                  ("Null", "aws:ResourceTag/Project", ["true"]), ("Null", "aws:ResourceTag/Workspace", ["true"])),
        statement(f"TagWorkspace{what}", [f"{service}:TagResource"], resources, *scope.tagged,
                  ("StringEqualsIfExists", "aws:RequestTag/Project", [scope.project]),
                  ("StringEqualsIfExists", "aws:RequestTag/Workspace", [scope.workspace]),
                  ("ForAllValues:StringEquals", "aws:TagKeys", DEFAULT_TAG_KEYS)),
        statement(f"UntagWorkspace{what}", [f"{service}:UntagResource"], resources, *scope.tagged,
                  ("ForAllValues:StringEquals", "aws:TagKeys", ["ManagedBy"])),
    ]  # fmt: skip


# The apply role's writes.


def network_statements(scope: RoleScope) -> list[Statement]:
    """The VPC and what is in it, the load balancer, Cloud Map and the workspace's DNS record."""
    name, arn = scope.name, scope.arn
    discovery = [arn("servicediscovery", "namespace/*"), arn("servicediscovery", "service/*")]
    statements = [
        # EC2 ids are random and names are tags: held to the region (README, "What could not be narrowed").
        statement("Network", ["ec2:AllocateAddress", "ec2:AssociateRouteTable", "ec2:AttachInternetGateway",
                              "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress",
                              "ec2:CreateFlowLogs", "ec2:CreateInternetGateway", "ec2:CreateNatGateway",
                              "ec2:CreateRoute", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup", "ec2:CreateSubnet",
                              "ec2:CreateTags", "ec2:CreateVpc", "ec2:DeleteFlowLogs", "ec2:DeleteInternetGateway",
                              "ec2:DeleteNatGateway", "ec2:DeleteRoute", "ec2:DeleteRouteTable",
                              "ec2:DeleteSecurityGroup", "ec2:DeleteSubnet", "ec2:DeleteTags", "ec2:DeleteVpc",
                              "ec2:DescribeNetworkInterfaces", "ec2:DescribeRegions", "ec2:DetachInternetGateway",
                              "ec2:DisassociateAddress", "ec2:DisassociateRouteTable", "ec2:ModifySecurityGroupRules",
                              "ec2:ModifyVpcAttribute", "ec2:ReleaseAddress", "ec2:ReplaceRoute",
                              "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"], ["*"],
                  scope.in_region),
        statement("LoadBalancer", ["elasticloadbalancing:AddTags", "elasticloadbalancing:CreateListener",
                                   "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateRule",
                                   "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteListener",
                                   "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteRule",
                                   "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyListener",
                                   "elasticloadbalancing:ModifyLoadBalancerAttributes",
                                   "elasticloadbalancing:ModifyRule", "elasticloadbalancing:ModifyTargetGroup",
                                   "elasticloadbalancing:ModifyTargetGroupAttributes",
                                   "elasticloadbalancing:RemoveTags", "elasticloadbalancing:SetRulePriorities",
                                   "elasticloadbalancing:SetSubnets"],
                  [arn("elasticloadbalancing", f"loadbalancer/app/{name()}/*"),
                   arn("elasticloadbalancing", f"listener/app/{name()}/*"),
                   arn("elasticloadbalancing", f"listener-rule/app/{name()}/*"),
                   arn("elasticloadbalancing", f"targetgroup/{name('*')}/*")]),
        # Cloud Map: ids are random, the namespace's name is the same in every workspace, and tagging takes no
        # resource (tags cannot hold it): held to the region (README, "What could not be narrowed").
        statement("CreateNamespaces", ["servicediscovery:CreatePrivateDnsNamespace"], ["*"], scope.in_region),
        statement("Discovery", ["servicediscovery:CreateService", "servicediscovery:DeleteNamespace",
                                "servicediscovery:DeleteService", "servicediscovery:UpdateService"], discovery),
        statement("TagDiscovery", ["servicediscovery:TagResource", "servicediscovery:UntagResource"], ["*"],
                  scope.in_region),
        # Cloud Map creates and reads its namespace's private zone with the caller's permissions (AWS Cloud Map
        # API permissions reference): zones get random ids. It deletes the zone itself; no record is changed.
        # (GetHostedZone is recorded too: the provider reads the public zone, when one is set.)
        statement("NamespaceZones", ["route53:CreateHostedZone", "route53:ListHostedZonesByName"], ["*"]),
        statement("ReadNamespaceZones", ["route53:GetHostedZone"], ["arn:aws:route53:::hostedzone/*"]),
    ]  # fmt: skip
    if scope.zone is not None:
        statements.append(
            statement("WorkspaceRecord", ["route53:ChangeResourceRecordSets"],
                      [f"arn:aws:route53:::hostedzone/{scope.zone.zone_id}"],
                      ("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                       [scope.zone.record_fqdn]),
                      ("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes", ["A"]),
                      ("Null", "route53:ChangeResourceRecordSetsNormalizedRecordNames", ["false"]))
        )  # fmt: skip
    return statements


def service_statements(scope: RoleScope) -> list[Statement]:
    """ECS, logs, alarms, the dashboard, the alarm topic and autoscaling."""
    name, arn, cluster = scope.name, scope.arn, scope.cluster
    families = arn("ecs", f"task-definition/{name('*')}:*")
    return [
        statement("Cluster", ["ecs:CreateCluster", "ecs:DeleteCluster", "ecs:PutClusterCapacityProviders",
                              "ecs:UpdateCluster"], [arn("ecs", f"cluster/{cluster}")]),
        statement("Services", ["ecs:CreateService", "ecs:DeleteService", "ecs:UpdateService"],
                  [arn("ecs", f"service/{cluster}/*")]),
        statement("TaskDefinitions", ["ecs:RegisterTaskDefinition"], [families]),
        statement("RetireTaskDefinitions", ["ecs:DeregisterTaskDefinition"], ["*"], scope.in_region),  # no resource
        statement("TagContainers", ["ecs:TagResource", "ecs:UntagResource"],
                  [arn("ecs", f"cluster/{cluster}"), arn("ecs", f"service/{cluster}/*"), families]),
        statement("LogGroups", ["logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:DeleteLogGroup",
                                "logs:DisassociateKmsKey", "logs:PutRetentionPolicy", "logs:TagResource",
                                "logs:UntagResource"],
                  [arn("logs", f"log-group:/ecs/{name()}/*"), arn("logs", f"log-group:/vpc/{name()}/*")]),
        statement("Alarms", ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource",
                             "cloudwatch:UntagResource"], [arn("cloudwatch", f"alarm:{name('*')}")]),
        statement("Dashboard", ["cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"],
                  [f"arn:aws:cloudwatch::{scope.account}:dashboard/{name()}"]),
        statement("AlarmTopic", ["sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe",
                                 "sns:TagResource", "sns:UntagResource"], [arn("sns", name("*"))]),
        statement("Unsubscribe", ["sns:Unsubscribe"], ["*"], scope.in_region),  # no resource-level permission
        statement("Scaling", ["application-autoscaling:DeleteScalingPolicy",
                              "application-autoscaling:DeregisterScalableTarget",
                              "application-autoscaling:PutScalingPolicy",
                              "application-autoscaling:RegisterScalableTarget"],
                  [arn("application-autoscaling", "scalable-target/*")],
                  ("StringEquals", "application-autoscaling:service-namespace", ["ecs"])),
        statement("TagScaling", ["application-autoscaling:TagResource", "application-autoscaling:UntagResource"],
                  [arn("application-autoscaling", "scalable-target/*")]),
    ]  # fmt: skip


def key_statements(scope: RoleScope) -> list[Statement]:
    """KMS keys: created only with the workspace's tags, administered only when they carry them, and no role
    can move a key into its workspace: a key that already has a `Workspace` or `Project` tag cannot be
    re-tagged, and neither tag can be removed."""
    arn = scope.arn
    return [
        statement("CreateKeys", ["kms:CreateKey"], ["*"], scope.in_region, *scope.tagging),
        *tag_statements(scope, "Keys", "kms", [arn("kms", "key/*")]),
        statement("AdministerWorkspaceKeys", ["kms:CreateAlias", "kms:DeleteAlias", "kms:EnableKeyRotation",
                                              "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:UpdateAlias",
                                              "kms:UpdateKeyDescription"], [arn("kms", "key/*")], *scope.tagged),
        statement("KeyAliases", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                  [arn("kms", f"alias/{scope.name('*')}")]),
    ]  # fmt: skip


# Every action that changes a role or its policies (the apply role's own roles are out of its reach).
ROLE_CHANGES = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
# The role changes IAM lets a policy pin to a boundary (`iam:PermissionsBoundary`: the boundary set by the
# request, or, for a role's policies, the role's own).
BOUNDED_ROLE_CHANGES = ("iam:CreateRole", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary",
                        "iam:PutRolePolicy")  # fmt: skip


def role_statements(scope: RoleScope) -> list[Statement]:
    """The workspace's roles only (`<workspace>-<project>-*`), created and given policies only with the
    workspace's boundary, passed only to ECS tasks (and the flow-logs role to VPC Flow Logs); the
    service-linked roles a first apply in an account needs. No managed policy is ever attached."""
    roles = scope.role_arn(scope.name("*"))
    return [
        statement("WorkspaceRolesCarryTheBoundary", BOUNDED_ROLE_CHANGES, [roles],
                  ("StringEquals", "iam:PermissionsBoundary", [scope.boundary_arn])),
        statement("WorkspaceRoles", ["iam:DeleteRole", "iam:ListInstanceProfilesForRole", "iam:TagRole",
                                     "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
                                     "iam:UpdateRoleDescription"], [roles]),
        statement("PassWorkspaceRolesToTasks", ["iam:PassRole"], [roles],
                  ("StringEquals", "iam:PassedToService", ["ecs-tasks.amazonaws.com"])),
        statement("PassFlowLogsRole", ["iam:PassRole"], [scope.role_arn(scope.name("flow-logs"))],
                  ("StringEquals", "iam:PassedToService", ["vpc-flow-logs.amazonaws.com"])),
        statement("ServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], [scope.role_arn("aws-service-role/*")],
                  ("StringEquals", "iam:AWSServiceName", SERVICE_LINKED_ROLES)),
    ]  # fmt: skip


def guard_statements(scope: RoleScope) -> list[Statement]:
    """Explicit denials the apply roles always carry, whatever else allows: no boundary is removed; no
    boundary and none of the pipeline's own policies or roles change; the state key is never disabled or
    deleted; no key is created or re-policied past KMS's lockout check; no key is deleted in under 30 days;
    the keys the settings name for secrets, any workspace's, are not touched at all."""
    policies = f"arn:aws:iam::{scope.account}:policy/"
    return [
        statement("KeepBoundaries", ["iam:DeleteRolePermissionsBoundary"], ["*"], effect="Deny"),
        statement("PoliciesUnchanged", ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                                        "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
                  [f"{policies}{shared_boundary_name(scope.project)}*", f"{policies}{scope.project}-github-*"],
                  effect="Deny"),
        statement("PipelineRolesUnchanged", [*ROLE_CHANGES, "iam:PassRole"],
                  [scope.role_arn(f"{scope.project}-github-*")], effect="Deny"),
        statement("StateKeyKept", ["kms:CreateGrant", "kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy",
                                   "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
                                   "kms:UpdateKeyDescription"], [scope.state_key_arn], effect="Deny"),
        statement("NoKeyLockoutBypass", ["kms:CreateKey", "kms:PutKeyPolicy"], ["*"],
                  ("Bool", "kms:BypassPolicyLockoutSafetyCheck", ["true"]), effect="Deny"),
        statement("KeyDeletionWaits", ["kms:ScheduleKeyDeletion"], ["*"],
                  ("NumericLessThan", "kms:ScheduleKeyDeletionPendingWindowInDays", [str(KEY_DELETION_WINDOW_DAYS)]),
                  effect="Deny"),
        # The secrets' keys carry none of the stack's tags: without this, the statement that tags a new key
        # would let a role tag one (another workspace's) into its workspace, then administer it.
        *([statement("SecretKeysUntouched", ["kms:*"], scope.secret_key_arns, effect="Deny")]
          if scope.secret_key_arns else []),
    ]  # fmt: skip


# The workload boundaries.


@dataclass(frozen=True)
class WorkloadGrants:
    """What one workspace's workloads are granted beyond their logs: the secrets, keys and images it names."""

    workspace: str
    parameter_arns: tuple[str, ...]
    secret_arns: tuple[str, ...]
    secret_key_arns: tuple[str, ...]


def boundary_statements(
    project: str, region: str, account: str, grants: Sequence[WorkloadGrants], repositories: Sequence[str]
) -> list[Statement]:
    """The most a role of the main stack may do, whatever policy the pipeline writes: what its flow-logs,
    execution and task roles are granted (network.py, service.py), for the workspaces in `grants` (one: that
    workspace's boundary; all: the shared boundary of earlier versions), and nothing else."""

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    workspaces = [g.workspace for g in grants]
    parameters = sorted({a for g in grants for a in g.parameter_arns})
    secrets = sorted({a for g in grants for a in g.secret_arns})
    keys = sorted({a for g in grants for a in g.secret_key_arns})
    log_groups = [arn("logs", f"log-group:/{kind}/{resource_name(workspace, project)}/*")
                  for workspace in workspaces for kind in ("ecs", "vpc")]  # fmt: skip
    statements = [
        statement("WorkloadLogs", ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                  log_groups),
        statement("ExecFindsLogGroups", ["logs:DescribeLogGroups"], ["*"]),
        statement("ExecChannels", ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                                   "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], ["*"]),
        # The exec keys' ids are random: the workspace's keys, by the tags the main stack's provider puts on
        # them (the state key, tagged by the bootstrap, has no Workspace tag).
        statement("DecryptWorkspaceKeys", ["kms:Decrypt"], [arn("kms", "key/*")],
                  ("StringEquals", "aws:ResourceTag/Project", [project]),
                  ("StringEquals", "aws:ResourceTag/Workspace", workspaces)),
    ]  # fmt: skip
    if parameters:
        statements.append(statement("ReadNamedParameters", ["ssm:GetParameters"], parameters))
    if secrets:
        statements.append(statement("ReadNamedSecrets", ["secretsmanager:GetSecretValue"], secrets))
    if keys:
        through = [f"ssm.{region}.amazonaws.com", f"secretsmanager.{region}.amazonaws.com"]
        statements.append(
            statement("DecryptNamedSecretKeys", ["kms:Decrypt"], keys, ("StringEquals", "kms:ViaService", through))
        )
    if repositories:
        statements += [
            statement("EcrAuthorization", ["ecr:GetAuthorizationToken"], ["*"]),
            statement("PullNamedImages",
                      ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                      sorted(repositories)),
        ]  # fmt: skip
    return statements
