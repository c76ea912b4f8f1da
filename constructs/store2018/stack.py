"""The product's one stack: provider, S3 backend, workspace selection, network, load balancer,
cluster, one Fargate service per catalog entry, and what watches them (alarm topic, site alarms,
dashboard)."""

from __future__ import annotations

from cdktf import S3Backend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from store2018.cluster import Cluster
from store2018.github_oidc import workload_boundary_arn
from store2018.load_balancer import LoadBalancer
from store2018.monitoring import Alarms, AlarmTopic, Dashboard, DashboardService, SiteAlarms, percentile_statistic
from store2018.network import Network
from store2018.service import FargateService, LoadBalancerAttachment
from store2018.settings import Settings
from store2018.state_bucket import state_key_alias
from store2018.workspace import WorkspaceSelection

# S3-native state locking (`use_lockfile`) needs Terraform 1.10 or newer.
REQUIRED_TERRAFORM_VERSION = ">= 1.10"


class Store2018Stack(TerraformStack):
    """Everything Store2018 needs in one AWS account and region, per Terraform workspace."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        project = settings.project
        backend = project.state_backend
        S3Backend(
            self,
            bucket=backend.bucket,
            key=backend.key,
            region=backend.region,
            encrypt=True,
            # The bootstrap's key: without a key id, `encrypt` asks S3 for SSE-S3 (AES256) on every write.
            kms_key_id=state_key_alias(settings),
            workspace_key_prefix=backend.workspace_key_prefix,
        )
        # cdktf 0.21's S3Backend has no `use_lockfile`; DynamoDB locking is deprecated by Terraform.
        self.add_override("terraform.backend.s3.use_lockfile", True)
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM_VERSION)

        workspace = WorkspaceSelection(self, "workspace", settings=settings)
        AwsProvider(
            self,
            "aws",
            region=project.region,
            allowed_account_ids=list(workspace.current.allowed_account_ids),
            default_tags=[
                AwsProviderDefaultTags(
                    tags={"Project": project.name, "Workspace": workspace.name, "ManagedBy": "cdktf"}
                )
            ],
        )

        account = DataAwsCallerIdentity(self, "account")
        # With pipeline roles (ProjectSettings.github_repository), every role carries its workspace's boundary.
        boundary = workload_boundary_arn(settings, account.account_id, workspace.name)
        services = settings.services
        exposed = settings.exposed_services
        network = Network(
            self,
            "network",
            workspace=workspace,
            az_count=project.az_count,
            app_ports=[spec.container_port for spec in exposed.values()],
            service_ports=[spec.container_port for spec in services.values()],
            flow_logs_trust_policy=service_trust_policy(
                self, "flow_logs_trust", service="vpc-flow-logs.amazonaws.com", account_id=account.account_id
            ),
            permissions_boundary=boundary,
        )
        cluster = Cluster(
            self,
            "cluster",
            workspace=workspace,
            vpc_id=network.vpc_id,
            namespace=project.discovery_namespace,
            region=project.region,
            account_id=account.account_id,
        )
        load_balancer = LoadBalancer(
            self,
            "load_balancer",
            workspace=workspace,
            vpc_id=network.vpc_id,
            subnet_ids=network.public_subnet_ids,
            security_group_id=network.alb_security_group_id,
            exposed=exposed,
            # Catalog order: appending a service never renumbers the existing rules.
            rule_priorities={service: 10 * (i + 1) for i, service in enumerate(services)},
            hosted_zone_id=project.hosted_zone_id,
        )
        topic = AlarmTopic(
            self, "alarm_topic", workspace=workspace, account_id=account.account_id, region=project.region
        )
        alarms = Alarms(workspace=workspace, topic_arn=topic.topic_arn)
        SiteAlarms(
            self,
            "site_alarms",
            workspace=workspace,
            alarms=alarms,
            front_end=load_balancer.dimensions[load_balancer.front_end],
        )
        trust = service_trust_policy(
            self, "ecs_tasks_trust", service="ecs-tasks.amazonaws.com", account_id=account.account_id
        )
        deployed = {}
        for service, spec in services.items():
            deployed[service] = FargateService(
                self,
                f"service_{service}",
                service=service,
                spec=spec,
                environment=container_environment(settings, service),
                workspace=workspace,
                region=project.region,
                cluster=cluster,
                subnet_ids=network.private_subnet_ids,
                security_group_id=network.tasks_security_group_id,
                assume_role_policy=trust,
                permissions_boundary=boundary,
                load_balancer=(
                    LoadBalancerAttachment(
                        target_group_arn=load_balancer.target_group_arns[service],
                        request_count_label=load_balancer.request_count_labels[service],
                        dimensions=load_balancer.dimensions[service],
                        listeners=load_balancer.routes[service],
                    )
                    if service in exposed
                    else None
                ),
                alarms=alarms,
            )
        dashboard = Dashboard(
            self,
            "dashboard",
            workspace=workspace,
            region=project.region,
            cluster_name=cluster.cluster_name,
            load_balancer=load_balancer.dimensions[load_balancer.front_end].load_balancer,
            services=[
                DashboardService(
                    service=service,
                    service_name=deployed[service].service_name,
                    response_time_stat=percentile_statistic(
                        workspace.current.services[service].response_time_percentile
                    ),
                    target=load_balancer.dimensions.get(service),
                )
                for service in services
            ],
        )

        TerraformOutput(self, "application_url", value=load_balancer.url, description="Where the store answers")
        TerraformOutput(self, "load_balancer_dns_name", value=load_balancer.dns_name)
        TerraformOutput(self, "cluster_name", value=cluster.cluster_name, description="The workspace's ECS cluster")
        TerraformOutput(
            self,
            "service_names",
            value={service: d.service_name for service, d in deployed.items()},
            description="ECS service names, by catalog name",
        )
        TerraformOutput(
            self,
            "discovery_namespace",
            value=cluster.namespace_name,
            description="Cloud Map namespace: <discovery name>.<namespace> resolves inside the VPC",
        )
        TerraformOutput(self, "dashboard_url", value=dashboard.url, description="The workspace's CloudWatch dashboard")
        TerraformOutput(
            self, "alarm_topic_arn", value=topic.topic_arn, description="Every alarm of the workspace notifies it"
        )
        TerraformOutput(self, "vpc_id", value=network.vpc_id, description="The workspace's VPC")
        TerraformOutput(
            self,
            "private_subnet_ids",
            value=network.private_subnet_ids,
            description="Private subnets, one per AZ (the ECS tasks run here)",
        )
        TerraformOutput(
            self,
            "public_subnet_ids",
            value=network.public_subnet_ids,
            description="Public subnets, one per AZ (the load balancer and NAT gateways)",
        )
        TerraformOutput(
            self,
            "nat_gateway_ids",
            value=network.nat_gateway_ids,
            description="NAT gateways: one per AZ or one shared, per the workspace's NAT mode",
        )

        self.workspace = workspace
        self.network = network


def container_environment(settings: Settings, service: str) -> dict[str, str]:
    """A service's variables: its own, plus other services' API base URLs from their catalog entries
    (a callee always has an `api_base_path`: the settings check it)."""
    spec = settings.services[service]
    environment = dict(spec.environment)
    for variable, target in spec.api_base_variables.items():
        callee = settings.services[target]
        namespace = settings.project.discovery_namespace
        environment[variable] = f"http://{callee.discovery_name}.{namespace}{callee.api_base_path or ''}"
    return environment


def service_trust_policy(scope: Construct, construct_id: str, *, service: str, account_id: str) -> str:
    """Who may assume a role: the named AWS service, on behalf of this account only."""
    document = DataAwsIamPolicyDocument(
        scope,
        construct_id,
        statement=[
            DataAwsIamPolicyDocumentStatement(
                actions=["sts:AssumeRole"],
                principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="Service", identifiers=[service])],
                # Guards against the confused-deputy problem.
                condition=[
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="StringEquals", variable="aws:SourceAccount", values=[account_id]
                    )
                ],
            )
        ],
    )
    return document.json
