"""Credentials without secrets for the GitHub Actions pipeline: OIDC roles, created by the bootstrap stack.

When `ProjectSettings.github_repository` is set, the bootstrap creates (README, "Pipeline credentials"):

- GitHub's OIDC provider (`token.actions.githubusercontent.com`, audience `sts.amazonaws.com`), unless
  `github_oidc_provider_arn` names the account's existing one (an account holds one provider per URL);
- per workspace of the environments table: a workload boundary (`<project>-workload-boundary-<workspace>`)
  that every role of that workspace's main stack carries (`workload_boundary_arn`), granting only that
  workspace's logs, keys, secrets and images; a plan role (`<project>-github-plan-<workspace>`: the drift
  workflow on `main`, and staging's also pull requests, prod's also the deploy workflow's review on `main`
  (`plan_subjects`); it reads what a refresh reads and sees the state lock without taking it); and an apply
  role (`<project>-github-apply-<workspace>`: only the deploy workflow on `main`, in the workspace's GitHub
  environment (`apply_subjects`); it writes what the main stack manages, and may create and change roles
  only with that workspace's boundary, so whatever policy it writes, a workload role can do no more);
- while `shared_workload_boundary` is set, the one boundary of earlier versions (`<project>-workload-boundary`),
  unchanged, so that a deployment can move its roles to their workspace's boundary (README, "Upgrading").

The statements are in pipeline_policies.py. The bootstrap stays outside the pipeline: it creates the
pipeline's own credentials and the state bucket, so it is applied by a person with administrator rights,
with local state.
"""

from __future__ import annotations

from cdktf import Fn
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.data_aws_route53_zone import DataAwsRoute53Zone
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from store2018.pipeline_policies import (
    HostedZone,
    RoleScope,
    Statement,
    WorkloadGrants,
    apply_subjects,
    boundary_name,
    boundary_statements,
    guard_statements,
    key_statements,
    network_statements,
    plan_subjects,
    read_statements,
    role_statements,
    service_statements,
    shared_boundary_name,
    state_statements,
)
from store2018.settings import ECR_IMAGE, Settings
from store2018.workspace import EnvironmentValues

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience GitHub's official action (aws-actions/configure-aws-credentials) asks for.
STS_AUDIENCE = "sts.amazonaws.com"
# An apply waits for each service's steady state (up to 20 minutes each): one hour of credentials is not enough.
APPLY_SESSION_SECONDS = 2 * 60 * 60


def enabled(settings: Settings) -> bool:
    """Whether the pipeline's roles exist: a repository is named."""
    return bool(settings.project.github_repository)


def workload_boundary_arn(settings: Settings, account_id: str, workspace: str) -> str | None:
    """The permissions boundary every role of a workspace's main stack carries (`workspace` may be a Terraform
    expression), or None when no pipeline roles exist (the roles then have none: the synthesis is what it
    was without this feature)."""
    if not enabled(settings):
        return None
    return f"arn:aws:iam::{account_id}:policy/{boundary_name(settings.project.name, workspace)}"


def plan_role_name(settings: Settings, workspace: str) -> str:
    return f"{settings.project.name}-github-plan-{workspace}"


def apply_role_name(settings: Settings, workspace: str) -> str:
    return f"{settings.project.name}-github-apply-{workspace}"


def workload_grants(settings: Settings, workspace: str) -> WorkloadGrants:
    """The secrets and keys a workspace's workloads are granted (the catalog's, with its overrides)."""
    services = EnvironmentValues.of(workspace, settings.environments[workspace], settings).services.values()
    return WorkloadGrants(
        workspace=workspace,
        parameter_arns=tuple(sorted({a for values in services for a in values.secret_parameter_arns})),
        secret_arns=tuple(sorted({a for values in services for a in values.secret_manager_arns})),
        secret_key_arns=tuple(sorted({a for values in services for a in values.secret_key_arns})),
    )


def ecr_repositories(settings: Settings) -> list[str]:
    """The ECR repositories the catalog's images are in (the same in every workspace)."""
    return sorted(
        f"arn:aws:ecr:{ecr['region']}:{ecr['account']}:repository/{ecr['repository']}"
        for spec in settings.services.values()
        if (ecr := ECR_IMAGE.fullmatch(spec.image))
    )


def document_statements(statements: list[Statement]) -> list[DataAwsIamPolicyDocumentStatement]:
    return [
        DataAwsIamPolicyDocumentStatement(
            sid=s.sid,
            effect=s.effect,
            actions=list(s.actions),
            resources=list(s.resources),
            condition=[
                DataAwsIamPolicyDocumentStatementCondition(test=c.test, variable=c.variable, values=list(c.values))
                for c in s.conditions
            ]
            or None,
        )
        for s in statements
    ]


class GithubOidc(Construct):
    """The pipeline's OIDC provider, per workspace its boundary and its plan and apply roles.

    Exposes `provider_arn`, `boundary_arns`, `plan_role_arns` and `apply_role_arns` (by workspace).
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
        self.provider_arn: str = provider_arn

        zone_name = None
        if project.hosted_zone_id is not None:
            # Route 53 matches record names in lower case without the final dot.
            zone = DataAwsRoute53Zone(self, "public_zone", zone_id=project.hosted_zone_id)
            zone_name = Fn.lower(Fn.trimsuffix(zone.name, "."))

        grants = {workspace: workload_grants(settings, workspace) for workspace in settings.environments}
        repositories = ecr_repositories(settings)
        if project.shared_workload_boundary:  # earlier versions' boundary, its construct ids and text unchanged
            self._policy("workload_boundary", name=shared_boundary_name(project.name),
                         description=f"The most any role of {project.name}'s main stack may do (created by its "
                                     "pipeline)",
                         statements=boundary_statements(project.name, project.region, account, list(grants.values()),
                                                        repositories))  # fmt: skip

        backend = project.state_backend
        self.boundary_arns: dict[str, str] = {}
        self.plan_role_arns: dict[str, str] = {}
        self.apply_role_arns: dict[str, str] = {}
        for workspace, environment in settings.environments.items():
            self.boundary_arns[workspace] = self._policy(
                f"workload_boundary_{workspace}",
                name=boundary_name(project.name, workspace),
                description=f"The most any role of {project.name}'s {workspace} workspace may do (its pipeline)",
                statements=boundary_statements(project.name, project.region, account, [grants[workspace]],
                                               repositories),
            )  # fmt: skip
            role_scope = RoleScope(
                project=project.name,
                workspace=workspace,
                region=project.region,
                account=account,
                state_bucket_arn=state_bucket_arn,
                state_object_key=f"{backend.workspace_key_prefix}/{workspace}/{backend.key}",
                state_key_arn=state_key_arn,
                backend_region=backend.region,
                boundary_arn=self.boundary_arns[workspace],
                secret_key_arns=tuple(sorted({key for g in grants.values() for key in g.secret_key_arns})),
                zone=None
                if project.hosted_zone_id is None or zone_name is None
                else HostedZone(project.hosted_zone_id, zone_name, environment.record_name(workspace, project.name)),
            )
            reads = read_statements(role_scope)
            self.plan_role_arns[workspace] = self._role(
                f"plan_{workspace}",
                name=plan_role_name(settings, workspace),
                description=f"GitHub Actions of {repository}: plan the {workspace} workspace (read only)",
                subjects=plan_subjects(repository, workspace, project.github_oidc_subject),
                inline={"read": [*reads, *state_statements(role_scope, write=False)]},
            )
            # IAM caps a role's inline policies at 10,240 characters in all and a managed policy at 6,144:
            # the apply role's writes are managed policies of its own.
            apply_name = apply_role_name(settings, workspace)
            self.apply_role_arns[workspace] = self._role(
                f"apply_{workspace}",
                name=apply_name,
                description=f"GitHub Actions of {repository}, environment {workspace}: apply the {workspace} workspace",
                subjects=apply_subjects(repository, workspace, project.github_oidc_subject),
                inline={
                    "read": [*reads, *state_statements(role_scope, write=True)],
                    "iam": [*role_statements(role_scope), *guard_statements(role_scope)],
                },
                managed={
                    f"{apply_name}-network": network_statements(role_scope),
                    f"{apply_name}-services": service_statements(role_scope),
                    f"{apply_name}-keys": key_statements(role_scope),
                },
                max_session_duration=APPLY_SESSION_SECONDS,
            )

    def _document(self, construct_id: str, statements: list[Statement]) -> str:
        return DataAwsIamPolicyDocument(self, construct_id, statement=document_statements(statements)).json

    def _policy(self, construct_id: str, *, name: str, description: str, statements: list[Statement]) -> str:
        policy = IamPolicy(self, construct_id, name=name, description=description,
                           policy=self._document(f"{construct_id}_document", statements))  # fmt: skip
        return policy.arn

    def _role(
        self, construct_id: str, *, name: str, description: str, subjects: list[str],
        inline: dict[str, list[Statement]], managed: dict[str, list[Statement]] | None = None,
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
                        # StringLike: a pull request's ref is `refs/pull/<number>/merge`.
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringLike", variable=f"{GITHUB_OIDC_HOST}:sub", values=subjects
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
            IamRolePolicy(self, f"{construct_id}_{policy_name}", name=policy_name, role=role.id,
                          policy=self._document(f"{construct_id}_{policy_name}_document", statements))  # fmt: skip
        for index, (policy_name, statements) in enumerate((managed or {}).items()):
            document = self._document(f"{construct_id}_managed_{index}_document", statements)
            policy = IamPolicy(self, f"{construct_id}_managed_{index}", name=policy_name, policy=document)
            IamRolePolicyAttachment(self, f"{construct_id}_managed_{index}_attachment", role=role.name,
                                    policy_arn=policy.arn)  # fmt: skip
        return role.arn
