"""The ECS cluster the services run in, and the Cloud Map namespace they find each other in."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import DataAwsIamPolicyDocumentStatementCondition
from cdktf_cdktf_provider_aws.ecs_cluster import (
    EcsCluster,
    EcsClusterConfiguration,
    EcsClusterConfigurationExecuteCommandConfiguration,
    EcsClusterConfigurationExecuteCommandConfigurationLogConfiguration,
    EcsClusterSetting,
)
from cdktf_cdktf_provider_aws.ecs_cluster_capacity_providers import EcsClusterCapacityProviders
from cdktf_cdktf_provider_aws.service_discovery_private_dns_namespace import ServiceDiscoveryPrivateDnsNamespace
from constructs import Construct

from store2018.keys import ServiceKey
from store2018.workspace import WorkspaceSelection

# The services choose between these per workspace (EnvironmentSettings.capacity).
FARGATE_CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


class Cluster(Construct):
    """ECS cluster with Container Insights, ECS Exec session logging and both Fargate capacity
    providers; Cloud Map namespace.

    Exposes `cluster_id`, `cluster_name`, `namespace_id`, `namespace_name`, `exec_log_group_arn` and
    `exec_key_arn`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workspace: WorkspaceSelection,
        vpc_id: str,
        namespace: str,
        region: str,
        account_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # What every ECS Exec session types and sees, in workspaces that turn exec on: the session is
        # encrypted with this key (beyond TLS), and so is its log.
        exec_log_group_name = f"/ecs/{workspace.resource_name()}/exec"
        exec_key = ServiceKey(
            self,
            "exec_key",
            description="Encrypts ECS Exec sessions and their log group",
            alias=f"alias/{workspace.resource_name('exec')}",
            account_id=account_id,
            sid="CloudWatchLogsEncryptsExecLogs",
            service=f"logs.{region}.amazonaws.com",
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            conditions=[
                DataAwsIamPolicyDocumentStatementCondition(
                    test="ArnEquals",
                    variable="kms:EncryptionContext:aws:logs:arn",
                    values=[f"arn:aws:logs:{region}:{account_id}:log-group:{exec_log_group_name}"],
                )
            ],
        )
        exec_logs = CloudwatchLogGroup(
            self,
            "exec_logs",
            name=exec_log_group_name,
            retention_in_days=workspace.current.log_retention_days,
            kms_key_id=exec_key.arn,
        )
        cluster = EcsCluster(
            self,
            "cluster",
            name=workspace.resource_name("cluster"),
            setting=[EcsClusterSetting(name="containerInsights", value="enabled")],
            configuration=EcsClusterConfiguration(
                execute_command_configuration=EcsClusterConfigurationExecuteCommandConfiguration(
                    kms_key_id=exec_key.arn,
                    logging="OVERRIDE",
                    log_configuration=EcsClusterConfigurationExecuteCommandConfigurationLogConfiguration(
                        cloud_watch_log_group_name=exec_logs.name, cloud_watch_encryption_enabled=True
                    ),
                )
            ),
        )
        # Services name a capacity-provider strategy; the providers must be attached to the cluster first.
        self.capacity_providers = EcsClusterCapacityProviders(
            self,
            "capacity_providers",
            cluster_name=cluster.name,
            capacity_providers=list(FARGATE_CAPACITY_PROVIDERS),
        )
        discovery = ServiceDiscoveryPrivateDnsNamespace(
            self,
            "namespace",
            name=namespace,
            vpc=vpc_id,
            description="Store2018 services: <discovery name>.<namespace> resolves to a service's tasks",
        )

        self.cluster_id: str = cluster.id
        self.cluster_name: str = cluster.name
        self.namespace_id: str = discovery.id
        self.namespace_name: str = discovery.name
        self.exec_log_group_arn: str = exec_logs.arn
        self.exec_key_arn: str = exec_key.arn
