"""Credentials without secrets for the GitHub Actions pipeline: OIDC roles, created by the bootstrap stack.

When `ProjectSettings.github_repository` is set, the bootstrap creates (README, "Pipeline credentials"):

- GitHub's OIDC provider (`token.actions.githubusercontent.com`, audience `sts.amazonaws.com`), unless
  `github_oidc_provider_arn` names the account's existing one (an account holds one provider per URL);
- per workspace of the environments table, a plan role (`<project>-github-plan-<workspace>`: pull requests,
  `main` and the workspace's GitHub environment may assume it; it reads what a refresh reads and holds the
  state lock) and an apply role (`<project>-github-apply-<workspace>`: only jobs of the workspace's GitHub
  environment; it writes what the main stack manages, as far as IAM lets a policy narrow it);
- the permissions boundary (`<project>-workload-boundary`) that every role of the main stack then carries
  (`workload_boundary_arn`): the apply role may create and change roles only with it, so whatever policy
  it writes, a workload role can do no more than the boundary allows.

The bootstrap stays outside the pipeline: it creates the pipeline's own credentials and the state bucket,
so it is applied by a person with administrator rights, with local state.

IAM is not emulated: moto accepts any policy and evaluates none. The actions and resource patterns follow
AWS's Service Authorization Reference; the first real apply through the roles is their test.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from store2018.naming import resource_name
from store2018.settings import ECR_IMAGE, Settings
from store2018.workspace import EnvironmentValues

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience GitHub's official action (aws-actions/configure-aws-credentials) asks for.
STS_AUDIENCE = "sts.amazonaws.com"
# An apply waits for each service's steady state (up to 20 minutes each): one hour of credentials is not enough.
APPLY_SESSION_SECONDS = 2 * 60 * 60
# The service-linked roles the first apply in an account may create (ECS, the load balancer, ECS autoscaling).
SERVICE_LINKED_ROLES = ("ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com",
                        "ecs.application-autoscaling.amazonaws.com")  # fmt: skip
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
# What a refresh of the main stack reads: describe, list and get actions only, none that returns data
# (no s3:GetObject, ssm:GetParameter*, secretsmanager:GetSecretValue, logs:GetLogEvents, kms:Decrypt).
READS: dict[str, tuple[str, ...]] = {
    "ReadNetwork": ("ec2:Describe*",),
    "ReadLoadBalancer": ("elasticloadbalancing:Describe*",),
    "ReadContainers": ("ecs:Describe*", "ecs:List*"),
    "ReadLogGroups": ("logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"),
    "ReadKeys": ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases",
                 "kms:ListResourceTags"),
    "ReadAlarms": ("cloudwatch:DescribeAlarms", "cloudwatch:GetDashboard", "cloudwatch:ListTagsForResource"),
    "ReadTopics": ("sns:GetSubscriptionAttributes", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic",
                   "sns:ListTagsForResource"),
    "ReadDiscovery": ("servicediscovery:GetNamespace", "servicediscovery:GetOperation", "servicediscovery:GetService",
                      "servicediscovery:ListNamespaces", "servicediscovery:ListServices",
                      "servicediscovery:ListTagsForResource"),
    "ReadScaling": ("application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:ListTagsForResource"),
    "ReadDns": ("route53:GetChange", "route53:GetHostedZone", "route53:ListHostedZonesByName",
                "route53:ListResourceRecordSets", "route53:ListTagsForResource"),
    "Identity": ("sts:GetCallerIdentity",),
}  # fmt: skip
ROLE_READS = ("iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
              "iam:ListRolePolicies", "iam:ListRoleTags")  # fmt: skip


def enabled(settings: Settings) -> bool:
    """Whether the pipeline's roles exist: a repository is named."""
    return bool(settings.project.github_repository)


def boundary_name(settings: Settings) -> str:
    return f"{settings.project.name}-workload-boundary"


def workload_boundary_arn(settings: Settings, account_id: str) -> str | None:
    """The permissions boundary every role of the main stack carries, or None when no pipeline roles exist
    (the roles then have none: the synthesis is what it was without this feature)."""
    return f"arn:aws:iam::{account_id}:policy/{boundary_name(settings)}" if enabled(settings) else None


def plan_role_name(settings: Settings, workspace: str) -> str:
    return f"{settings.project.name}-github-plan-{workspace}"


def apply_role_name(settings: Settings, workspace: str) -> str:
    return f"{settings.project.name}-github-apply-{workspace}"


def plan_subjects(repository: str, workspace: str) -> list[str]:
    """Whose tokens the plan role takes: pull requests, the main branch, the workspace's environment."""
    return [f"repo:{repository}:pull_request", f"repo:{repository}:ref:refs/heads/main",
            f"repo:{repository}:environment:{workspace}"]  # fmt: skip


def apply_subjects(repository: str, workspace: str) -> list[str]:
    """Only jobs of the workspace's GitHub environment (its protection rules: reviewers, branches)."""
    return [f"repo:{repository}:environment:{workspace}"]


def _statement(
    sid: str, actions: Sequence[str], resources: Sequence[str], *conditions: tuple[str, str, Sequence[str]],
    effect: str = "Allow",
) -> DataAwsIamPolicyDocumentStatement:  # fmt: skip
    return DataAwsIamPolicyDocumentStatement(
        sid=sid,
        effect=effect,
        actions=list(actions),
        resources=list(resources),
        condition=[
            DataAwsIamPolicyDocumentStatementCondition(test=test, variable=variable, values=list(values))
            for test, variable, values in conditions
        ]
        or None,
    )


class GithubOidc(Construct):
    """The pipeline's OIDC provider, its plan and apply roles per workspace, and the workload boundary.

    Exposes `provider_arn`, `boundary_arn`, `plan_role_arns` and `apply_role_arns` (by workspace).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, state_bucket_arn: str, state_key_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        project = settings.project
        repository = project.github_repository
        account = DataAwsCallerIdentity(self, "account").account_id

        if project.github_oidc_provider_arn is None:
            provider_arn = IamOpenidConnectProvider(
                self,
                "provider",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_list=[STS_AUDIENCE],
                # No thumbprint_list (optional since the AWS provider 5.81): since July 2023 IAM checks GitHub's
                # certificate against its own trusted root CAs and no longer uses a thumbprint for this host.
            ).arn
        else:
            provider_arn = project.github_oidc_provider_arn

        boundary = IamPolicy(
            self,
            "workload_boundary",
            name=boundary_name(settings),
            description=f"The most any role of {project.name}'s main stack may do (created by its pipeline)",
            policy=DataAwsIamPolicyDocument(
                self, "workload_boundary_document", statement=boundary_statements(settings, account)
            ).json,
        )

        self.provider_arn: str = provider_arn
        self.boundary_arn: str = boundary.arn
        self.plan_role_arns: dict[str, str] = {}
        self.apply_role_arns: dict[str, str] = {}
        for workspace in settings.environments:
            reads = read_statements(settings, workspace, account)
            state = dict(bucket_arn=state_bucket_arn, key_arn=state_key_arn)
            self.plan_role_arns[workspace] = self._role(
                f"plan_{workspace}",
                name=plan_role_name(settings, workspace),
                description=f"GitHub Actions of {repository}: plan the {workspace} workspace (read only, state lock)",
                subjects=plan_subjects(repository, workspace),
                inline={"read": [*reads, *state_statements(settings, workspace, write=False, **state)]},
            )
            # IAM caps a role's inline policies at 10,240 characters in all and a managed policy at 6,144:
            # the apply role's writes are two managed policies of its own.
            apply_name = apply_role_name(settings, workspace)
            self.apply_role_arns[workspace] = self._role(
                f"apply_{workspace}",
                name=apply_name,
                description=f"GitHub Actions of {repository}, environment {workspace}: apply the {workspace} workspace",
                subjects=apply_subjects(repository, workspace),
                inline={
                    "read": [*reads, *state_statements(settings, workspace, write=True, **state)],
                    "iam": [
                        *role_statements(settings, workspace, account, boundary_arn=boundary.arn),
                        *guard_statements(settings, account, boundary_arn=boundary.arn, state_key_arn=state_key_arn),
                    ],
                },
                managed={
                    f"{apply_name}-network": network_statements(settings, workspace, account),
                    f"{apply_name}-services": service_statements(settings, workspace, account),
                },
                max_session_duration=APPLY_SESSION_SECONDS,
            )

    def _role(
        self, construct_id: str, *, name: str, description: str, subjects: list[str],
        inline: dict[str, list[DataAwsIamPolicyDocumentStatement]],
        managed: dict[str, list[DataAwsIamPolicyDocumentStatement]] | None = None,
        max_session_duration: int | None = None,
    ) -> str:  # fmt: skip
        """A role the workflows assume with their OIDC token; `inline` and `managed` policies by name."""
        trust = DataAwsIamPolicyDocument(
            self,
            f"{construct_id}_trust",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="GitHubActions",
                    effect="Allow",
                    actions=["sts:AssumeRoleWithWebIdentity"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(type="Federated", identifiers=[self.provider_arn])
                    ],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable=f"{GITHUB_OIDC_HOST}:aud", values=[STS_AUDIENCE]
                        ),
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable=f"{GITHUB_OIDC_HOST}:sub", values=subjects
                        ),
                    ],
                )
            ],
        )
        role = IamRole(
            self,
            f"{construct_id}_role",
            name=name,
            description=description,
            assume_role_policy=trust.json,
            max_session_duration=max_session_duration,
        )
        for policy_name, statements in inline.items():
            IamRolePolicy(
                self,
                f"{construct_id}_{policy_name}",
                name=policy_name,
                role=role.id,
                policy=DataAwsIamPolicyDocument(
                    self, f"{construct_id}_{policy_name}_document", statement=statements
                ).json,
            )
        for index, (policy_name, statements) in enumerate((managed or {}).items()):
            policy = IamPolicy(
                self,
                f"{construct_id}_managed_{index}",
                name=policy_name,
                policy=DataAwsIamPolicyDocument(
                    self, f"{construct_id}_managed_{index}_document", statement=statements
                ).json,
            )
            IamRolePolicyAttachment(self, f"{construct_id}_managed_{index}_attachment", role=role.name,
                                    policy_arn=policy.arn)  # fmt: skip
        return role.arn


def _role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def read_statements(settings: Settings, workspace: str, account: str) -> list[DataAwsIamPolicyDocumentStatement]:
    """Both roles: what a refresh reads. Describe and list calls take no resource but `*` in most services;
    the IAM reads are held to the workspace's own roles."""
    roles = _role_arn(account, resource_name(workspace, settings.project.name, "*"))
    return [
        *(_statement(sid, actions, ["*"]) for sid, actions in READS.items()),
        _statement("ReadWorkspaceRoles", ROLE_READS, [roles]),
    ]


def state_statements(
    settings: Settings, workspace: str, *, bucket_arn: str, key_arn: str, write: bool
) -> list[DataAwsIamPolicyDocumentStatement]:
    """The workspace's state object (read; written by the apply role only), its lock file (S3-native
    locking: `use_lockfile`, so a plan writes and deletes it too) and the state key, through S3 only."""
    backend = settings.project.state_backend
    state = f"{bucket_arn}/{backend.workspace_key_prefix}/{workspace}/{backend.key}"
    return [
        _statement("StateBucket", ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration",
                                   "s3:ListBucket"], [bucket_arn]),
        _statement("WriteState", ["s3:GetObject", "s3:PutObject"], [state])
        if write
        else _statement("ReadState", ["s3:GetObject"], [state]),
        _statement("StateLock", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], [f"{state}.tflock"]),
        _statement("StateKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], [key_arn],
                   ("StringEquals", "kms:ViaService", [f"s3.{backend.region}.amazonaws.com"])),
    ]  # fmt: skip


class _Scope:
    """What the apply role's writes are held to: the project's region, and the workspace's names."""

    def __init__(self, settings: Settings, workspace: str, account: str) -> None:
        self.region, self.account = settings.project.region, account
        self.project, self.workspace = settings.project.name, workspace
        self.in_region = ("StringEquals", "aws:RequestedRegion", [self.region])
        self.cluster = self.name("cluster")

    def name(self, *parts: str) -> str:
        return resource_name(self.workspace, self.project, *parts)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def network_statements(settings: Settings, workspace: str, account: str) -> list[DataAwsIamPolicyDocumentStatement]:
    """The apply role's network writes: the VPC and what is in it, the load balancer, Cloud Map and DNS.
    Where a service names its resources in their ARNs, only `<workspace>-<project>-*`; elsewhere (random
    ids, or no resource before it exists) anything in the project's region (README, "What could not be
    narrowed")."""
    scope = _Scope(settings, workspace, account)
    name, arn, in_region = scope.name, scope.arn, scope.in_region
    return [
        _statement("Network", ["ec2:AllocateAddress", "ec2:AssociateRouteTable", "ec2:AttachInternetGateway",
                               "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress",
                               "ec2:CreateFlowLogs", "ec2:CreateInternetGateway", "ec2:CreateNatGateway",
                               "ec2:CreateRoute", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup",
                               "ec2:CreateSubnet", "ec2:CreateTags", "ec2:CreateVpc", "ec2:DeleteFlowLogs",
                               "ec2:DeleteInternetGateway", "ec2:DeleteNatGateway", "ec2:DeleteRoute",
                               "ec2:DeleteRouteTable", "ec2:DeleteSecurityGroup", "ec2:DeleteSubnet",
                               "ec2:DeleteTags", "ec2:DeleteVpc", "ec2:DetachInternetGateway",
                               "ec2:DisassociateAddress", "ec2:DisassociateRouteTable", "ec2:ModifySecurityGroupRules",
                               "ec2:ModifySubnetAttribute", "ec2:ModifyVpcAttribute", "ec2:ReleaseAddress",
                               "ec2:ReplaceRoute", "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
                               "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                               "ec2:UpdateSecurityGroupRuleDescriptionsIngress"], ["*"], in_region),
        _statement("LoadBalancer", ["elasticloadbalancing:AddTags", "elasticloadbalancing:CreateListener",
                                    "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateRule",
                                    "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteListener",
                                    "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteRule",
                                    "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyListener",
                                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                                    "elasticloadbalancing:ModifyRule", "elasticloadbalancing:ModifyTargetGroup",
                                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                                    "elasticloadbalancing:RemoveTags", "elasticloadbalancing:SetRulePriorities",
                                    "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets"],
                   [arn("elasticloadbalancing", f"loadbalancer/app/{name()}/*"),
                    arn("elasticloadbalancing", f"listener/app/{name()}/*"),
                    arn("elasticloadbalancing", f"listener-rule/app/{name()}/*"),
                    arn("elasticloadbalancing", f"targetgroup/{name('*')}/*")]),
        _statement("Discovery", ["servicediscovery:CreatePrivateDnsNamespace", "servicediscovery:CreateService",
                                 "servicediscovery:DeleteNamespace", "servicediscovery:DeleteService",
                                 "servicediscovery:TagResource", "servicediscovery:UntagResource",
                                 "servicediscovery:UpdatePrivateDnsNamespace", "servicediscovery:UpdateService"],
                   ["*"], in_region),
        # Route 53 is global (no region condition): Cloud Map creates its namespace's private zone through it.
        _statement("CreateZones", ["route53:CreateHostedZone"], ["*"]),
        _statement("Zones", ["route53:AssociateVPCWithHostedZone", "route53:ChangeResourceRecordSets",
                             "route53:ChangeTagsForResource", "route53:DeleteHostedZone",
                             "route53:DisassociateVPCFromHostedZone"], ["arn:aws:route53:::hostedzone/*"]),
    ]  # fmt: skip


def service_statements(settings: Settings, workspace: str, account: str) -> list[DataAwsIamPolicyDocumentStatement]:
    """The apply role's other writes: ECS, logs, alarms, the dashboard, the alarm topic, autoscaling, KMS
    keys; held as `network_statements` are."""
    scope = _Scope(settings, workspace, account)
    name, arn, in_region, cluster = scope.name, scope.arn, scope.in_region, scope.cluster
    return [
        # No resource before they exist; task definitions are not scoped by family (README).
        _statement("ClusterAndTaskDefinitions", ["ecs:CreateCluster", "ecs:DeregisterTaskDefinition",
                                                 "ecs:RegisterTaskDefinition"], ["*"], in_region),
        _statement("Cluster", ["ecs:DeleteCluster", "ecs:PutClusterCapacityProviders", "ecs:UpdateCluster",
                               "ecs:UpdateClusterSettings"], [arn("ecs", f"cluster/{cluster}")]),
        _statement("Services", ["ecs:CreateService", "ecs:DeleteService", "ecs:UpdateService"],
                   [arn("ecs", f"service/{cluster}/*")]),
        _statement("TagContainers", ["ecs:TagResource", "ecs:UntagResource"],
                   [arn("ecs", f"cluster/{cluster}"), arn("ecs", f"service/{cluster}/*"),
                    arn("ecs", f"task-definition/{name('*')}:*")]),
        _statement("LogGroups", ["logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:DeleteLogGroup",
                                 "logs:DeleteRetentionPolicy", "logs:DisassociateKmsKey", "logs:PutRetentionPolicy",
                                 "logs:TagLogGroup", "logs:TagResource", "logs:UntagLogGroup", "logs:UntagResource"],
                   [arn("logs", f"log-group:/ecs/{name()}/*"), arn("logs", f"log-group:/vpc/{name()}/*")]),
        # Target tracking creates and deletes its own alarms, named after the ECS service it scales.
        _statement("Alarms", ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource",
                              "cloudwatch:UntagResource"],
                   [arn("cloudwatch", f"alarm:{name('*')}"),
                    arn("cloudwatch", f"alarm:TargetTracking-service/{cluster}/*")]),
        _statement("Dashboard", ["cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"],
                   [f"arn:aws:cloudwatch::{account}:dashboard/{name()}"]),
        _statement("AlarmTopic", ["sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe",
                                  "sns:TagResource", "sns:Unsubscribe", "sns:UntagResource"], [arn("sns", name("*"))]),
        _statement("Scaling", ["application-autoscaling:DeleteScalingPolicy",
                               "application-autoscaling:DeregisterScalableTarget",
                               "application-autoscaling:PutScalingPolicy",
                               "application-autoscaling:RegisterScalableTarget", "application-autoscaling:TagResource",
                               "application-autoscaling:UntagResource"], ["*"], in_region),
        _statement("CreateKeys", ["kms:CreateKey"], ["*"], in_region),
        _statement("Keys", ["kms:CreateAlias", "kms:DeleteAlias", "kms:EnableKeyRotation", "kms:PutKeyPolicy",
                            "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
                            "kms:UpdateAlias", "kms:UpdateKeyDescription"], [arn("kms", "key/*")]),
        _statement("KeyAliases", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                   [arn("kms", f"alias/{name('*')}")]),
    ]  # fmt: skip


def role_statements(
    settings: Settings, workspace: str, account: str, *, boundary_arn: str
) -> list[DataAwsIamPolicyDocumentStatement]:
    """The apply role's IAM: the workspace's roles only (`<workspace>-<project>-*`), created and given
    policies only with the workload boundary, passed only to ECS tasks (and the flow-logs role to VPC Flow
    Logs); the service-linked roles a first apply in an account needs."""
    project = settings.project.name
    roles = _role_arn(account, resource_name(workspace, project, "*"))
    with_boundary = ("iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy")
    return [
        _statement("WorkspaceRolesCarryTheBoundary", with_boundary, [roles],
                   ("StringEquals", "iam:PermissionsBoundary", [boundary_arn])),
        _statement(
            "WorkspaceRoles",
            [a for a in ROLE_CHANGES if a not in with_boundary and a != "iam:DeleteRolePermissionsBoundary"],
            [roles],
        ),
        _statement("PassWorkspaceRolesToTasks", ["iam:PassRole"], [roles],
                   ("StringEquals", "iam:PassedToService", ["ecs-tasks.amazonaws.com"])),
        _statement("PassFlowLogsRole", ["iam:PassRole"], [_role_arn(account, resource_name(workspace, project,
                   "flow-logs"))], ("StringEquals", "iam:PassedToService", ["vpc-flow-logs.amazonaws.com"])),
        _statement("ServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], [_role_arn(account, "aws-service-role/*")],
                   ("StringEquals", "iam:AWSServiceName", SERVICE_LINKED_ROLES)),
    ]  # fmt: skip


def guard_statements(
    settings: Settings, account: str, *, boundary_arn: str, state_key_arn: str
) -> list[DataAwsIamPolicyDocumentStatement]:
    """The apply role's explicit denials, whatever else allows: a boundary is never removed, the boundary
    policy and the pipeline's own roles and policies never change, the state key is never disabled or
    deleted."""
    return [
        _statement("KeepBoundaries", ["iam:DeleteRolePermissionsBoundary"], ["*"], effect="Deny"),
        _statement("PoliciesUnchanged", ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                                         "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
                   [boundary_arn, f"arn:aws:iam::{account}:policy/{settings.project.name}-github-*"],
                   effect="Deny"),
        _statement("PipelineRolesUnchanged", [*ROLE_CHANGES, "iam:PassRole"],
                   [_role_arn(account, f"{settings.project.name}-github-*")], effect="Deny"),
        _statement("StateKeyKept", ["kms:CreateGrant", "kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy",
                                    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
                                    "kms:UpdateKeyDescription"], [state_key_arn], effect="Deny"),
    ]  # fmt: skip


def boundary_statements(settings: Settings, account: str) -> list[DataAwsIamPolicyDocumentStatement]:
    """The most a role of the main stack may do, whatever policy the pipeline writes: what its flow-logs,
    execution and task roles are granted (network.py, service.py), for every workspace of the table, and
    nothing else. Secrets, their keys and ECR repositories are the ones the settings name: a new one needs
    the bootstrap applied before the main stack."""
    project, region = settings.project.name, settings.project.region

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    tables = [EnvironmentValues.of(name, env, settings) for name, env in settings.environments.items()]
    services = [values for table in tables for values in table.services.values()]
    parameters = sorted({a for values in services for a in values.secret_parameter_arns})
    secrets = sorted({a for values in services for a in values.secret_manager_arns})
    keys = sorted({a for values in services for a in values.secret_key_arns})
    repositories = sorted(
        f"arn:aws:ecr:{ecr['region']}:{ecr['account']}:repository/{ecr['repository']}"
        for spec in settings.services.values()
        if (ecr := ECR_IMAGE.fullmatch(spec.image))
    )
    log_groups = [arn("logs", f"log-group:/{kind}/{resource_name(workspace, project)}/*")
                  for workspace in settings.environments for kind in ("ecs", "vpc")]  # fmt: skip
    statements = [
        _statement("WorkloadLogs", ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                   log_groups),
        _statement("ExecFindsLogGroups", ["logs:DescribeLogGroups"], ["*"]),
        _statement("ExecChannels", ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], ["*"]),
        # The exec keys' ids are random: the workspaces' keys, by the tags the main stack's provider puts on
        # them (the state key, tagged by the bootstrap, has no Workspace tag).
        _statement("DecryptWorkspaceKeys", ["kms:Decrypt"], [arn("kms", "key/*")],
                   ("StringEquals", "aws:ResourceTag/Project", [project]),
                   ("StringEquals", "aws:ResourceTag/Workspace", list(settings.environments))),
    ]  # fmt: skip
    if parameters:
        statements.append(_statement("ReadNamedParameters", ["ssm:GetParameters"], parameters))
    if secrets:
        statements.append(_statement("ReadNamedSecrets", ["secretsmanager:GetSecretValue"], secrets))
    if keys:
        through = [f"ssm.{region}.amazonaws.com", f"secretsmanager.{region}.amazonaws.com"]
        statements.append(
            _statement("DecryptNamedSecretKeys", ["kms:Decrypt"], keys, ("StringEquals", "kms:ViaService", through))
        )
    if repositories:
        statements += [
            _statement("EcrAuthorization", ["ecr:GetAuthorizationToken"], ["*"]),
            _statement(
                "PullNamedImages",
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                repositories,
            ),
        ]
    return statements
