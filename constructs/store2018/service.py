"""One Store2018 service on Fargate, built from its catalog entry (`catalog.ServiceSpec`).

Per service: a log group, an execution role (pull the image, write its own log group, read its own
secrets, nothing else) and a separate task role (ECS Exec's channels, only where the workspace turns
exec on), a task definition whose container definitions are built from typed data, a Cloud Map
service, its alarms (`monitoring.ServiceAlarms`), an ECS service that rolls a deployment back on its
alarms or its circuit breaker, and its target-tracking autoscaling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import Fn, ITerraformDependable, Postcondition, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
)
from cdktf_cdktf_provider_aws.ecs_service import (
    EcsService,
    EcsServiceAlarms,
    EcsServiceCapacityProviderStrategy,
    EcsServiceDeploymentCircuitBreaker,
    EcsServiceLoadBalancer,
    EcsServiceNetworkConfiguration,
    EcsServiceServiceRegistries,
)
from cdktf_cdktf_provider_aws.ecs_task_definition import (
    EcsTaskDefinition,
    EcsTaskDefinitionRuntimePlatform,
    EcsTaskDefinitionVolume,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.service_discovery_service import (
    ServiceDiscoveryService,
    ServiceDiscoveryServiceDnsConfig,
    ServiceDiscoveryServiceDnsConfigDnsRecords,
    ServiceDiscoveryServiceHealthCheckCustomConfig,
)
from constructs import Construct

from store2018.cluster import Cluster
from store2018.expressions import address, count_if
from store2018.monitoring import Alarms, LoadBalancerDimensions, ServiceAlarms
from store2018.settings import ECR_IMAGE, ServiceSpec
from store2018.terraform_text import expression_string
from store2018.workspace import ServiceValues, WorkspaceSelection

# Seconds ECS ignores failing load-balancer health checks after a task starts (.NET start-up).
HEALTH_CHECK_GRACE_PERIOD_SECONDS = 60
DISCOVERY_TTL_SECONDS = 10
SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 300


@dataclass(frozen=True, kw_only=True)
class LoadBalancerAttachment:
    """How a service sits behind the load balancer (None for a private service)."""

    target_group_arn: str
    request_count_label: str  # ALBRequestCountPerTarget's resource label
    dimensions: LoadBalancerDimensions  # the target group's CloudWatch dimensions
    listeners: Sequence[ITerraformDependable]  # the service is created after them


class FargateService(Construct):
    """Exposes `service_name` (the ECS service's name) and `discovery_host` (its Cloud Map name)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        spec: ServiceSpec,
        environment: Mapping[str, str],
        workspace: WorkspaceSelection,
        region: str,
        cluster: Cluster,
        subnet_ids: Sequence[str],
        security_group_id: str,
        assume_role_policy: str,
        permissions_boundary: str | None,
        load_balancer: LoadBalancerAttachment | None,
        alarms: Alarms,
    ) -> None:
        super().__init__(scope, construct_id)
        name = workspace.resource_name
        values = workspace.current.services[service]

        log_group = CloudwatchLogGroup(
            self,
            "logs",
            name=f"/ecs/{name()}/{service}",
            retention_in_days=workspace.current.log_retention_days,
        )

        execution_role = IamRole(
            self,
            "execution_role",
            name=name(service, "execution"),
            description=f"ECS agent for {service}: pull its image, write its log group",
            assume_role_policy=assume_role_policy,
            permissions_boundary=permissions_boundary,
        )
        execution_policy = IamRolePolicy(
            self,
            "execution_policy",
            name="pull-image-and-write-logs",
            role=execution_role.id,
            policy=DataAwsIamPolicyDocument(
                self, "execution_permissions", statement=self._execution_statements(spec, values, log_group.arn)
            ).json,
        )
        # Keys differ per environment (or are AWS-managed, needing no grant): a policy only where one is named.
        if any(table.services[service].secret_keys_enabled for table in workspace.tables.values()):
            self._count_policy(
                "decrypt_secrets",
                role=execution_role.id,
                enabled=values.secret_keys_enabled,
                statement=DataAwsIamPolicyDocumentStatement(
                    sid="DecryptOwnSecrets",
                    actions=["kms:Decrypt"],
                    resources=values.secret_key_arns,
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals",
                            variable="kms:ViaService",
                            values=[f"ssm.{region}.amazonaws.com", f"secretsmanager.{region}.amazonaws.com"],
                        )
                    ],
                ),
            )
        task_role = IamRole(
            self,
            "task_role",
            name=name(service, "task"),
            description=f"The {service} application's own AWS permissions (ECS Exec's channels where it is on)",
            assume_role_policy=assume_role_policy,
            permissions_boundary=permissions_boundary,
        )
        # ECS Exec: the SSM agent in the task opens its channels with the task role, and writes the
        # session's log to the cluster's exec log group. Only in workspaces that turn exec on.
        exec_policy = self._count_policy(
            "exec",
            role=task_role.id,
            enabled=workspace.current.ecs_exec,
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="ExecChannels",  # these actions have no resource to scope them to
                    actions=[
                        "ssmmessages:CreateControlChannel",
                        "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel",
                        "ssmmessages:OpenDataChannel",
                    ],
                    resources=["*"],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="ExecFindsItsLogGroup", actions=["logs:DescribeLogGroups"], resources=["*"]
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="ExecWritesSessionLogs",  # DescribeLogStreams is on the group, the others on its streams
                    actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    resources=[f"{cluster.exec_log_group_arn}:*"],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="ExecDecryptsSessions", actions=["kms:Decrypt"], resources=[cluster.exec_key_arn]
                ),
            ],
        )

        container: dict[str, Any] = {
            "name": service,
            "image": values.image,
            "essential": True,
            "portMappings": [
                {"containerPort": spec.container_port, "hostPort": spec.container_port, "protocol": "tcp"}
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group.name,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": "ecs",
                },
            },
        }
        volumes = []
        if spec.read_only_root_filesystem:
            container["readonlyRootFilesystem"] = True
            # Each writable path: an empty volume on the task's ephemeral storage, mounted read-write.
            volumes = [(f"writable-{i}", path) for i, path in enumerate(spec.writable_paths)]
            container["mountPoints"] = [
                {"sourceVolume": volume, "containerPath": path, "readOnly": False} for volume, path in volumes
            ]
        if environment:
            # Free text, written inside jsonencode(...): escaped so that the container receives it exactly.
            container["environment"] = [
                {"name": k, "value": expression_string(v)} for k, v in sorted(environment.items())
            ]
        if spec.secrets:
            # ECS reads each value at task start with the execution role: only the ARN is written anywhere.
            container["secrets"] = [{"name": k, "valueFrom": values.secrets[k]} for k in sorted(spec.secrets)]
        check = spec.container_health_check
        if check is not None:
            container["healthCheck"] = {
                "command": [expression_string(part) for part in check.command],
                "interval": check.interval_seconds,
                "timeout": check.timeout_seconds,
                "retries": check.retries,
                "startPeriod": check.start_period_seconds,
            }
        task = EcsTaskDefinition(
            self,
            "task",
            family=name(service),
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(spec.cpu),
            memory=str(spec.memory_mib),
            runtime_platform=EcsTaskDefinitionRuntimePlatform(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=Fn.jsonencode([container]),
            volume=[EcsTaskDefinitionVolume(name=volume) for volume, _ in volumes] or None,
        )

        discovery = ServiceDiscoveryService(
            self,
            "discovery",
            name=spec.discovery_name,
            description=f"{service}: {spec.discovery_name}.<namespace>",
            dns_config=ServiceDiscoveryServiceDnsConfig(
                namespace_id=cluster.namespace_id,
                routing_policy="MULTIVALUE",
                dns_records=[ServiceDiscoveryServiceDnsConfigDnsRecords(type="A", ttl=DISCOVERY_TTL_SECONDS)],
            ),
            # ECS reports task health to Cloud Map itself. AWS fixes the threshold at 1 and provider 6.x
            # deprecates the argument, but an empty block is not kept in state and forces a replacement
            # on every plan (hashicorp/terraform-provider-aws#44285), which fails while tasks are registered.
            health_check_custom_config=ServiceDiscoveryServiceHealthCheckCustomConfig(failure_threshold=1),
        )

        service_alarms = ServiceAlarms(
            self,
            "alarms",
            service=service,
            values=values,
            alarms=alarms,
            service_name=name(service),  # not ecs_service.name: the service lists these alarms (a cycle)
            cluster_name=cluster.cluster_name,
            log_group=log_group.name,
            target=load_balancer.dimensions if load_balancer else None,
        )

        ecs_service = EcsService(
            self,
            "service",
            name=name(service),
            cluster=cluster.cluster_id,
            task_definition=task.arn,
            desired_count=values.min_tasks,
            capacity_provider_strategy=[
                EcsServiceCapacityProviderStrategy(
                    capacity_provider="FARGATE",
                    base=workspace.current.capacity.fargate_base,
                    weight=workspace.current.capacity.fargate_weight,
                ),
                EcsServiceCapacityProviderStrategy(
                    capacity_provider="FARGATE_SPOT", base=0, weight=workspace.current.capacity.fargate_spot_weight
                ),
            ],
            network_configuration=EcsServiceNetworkConfiguration(
                subnets=list(subnet_ids), security_groups=[security_group_id], assign_public_ip=False
            ),
            service_registries=EcsServiceServiceRegistries(registry_arn=discovery.arn),
            load_balancer=(
                [
                    EcsServiceLoadBalancer(
                        target_group_arn=load_balancer.target_group_arn,
                        container_name=service,
                        container_port=spec.container_port,
                    )
                ]
                if load_balancer
                else None
            ),
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_PERIOD_SECONDS if load_balancer else None,
            # A deployment rolls back when its tasks never become healthy (the circuit breaker) or when one
            # of these alarms fires while it is in progress.
            deployment_circuit_breaker=EcsServiceDeploymentCircuitBreaker(enable=True, rollback=True),
            alarms=EcsServiceAlarms(
                alarm_names=[alarm.alarm_name for alarm in service_alarms.rollback], enable=True, rollback=True
            ),
            enable_execute_command=workspace.current.ecs_exec,
            wait_for_steady_state=workspace.current.wait_for_steady_state,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            availability_zone_rebalancing="ENABLED",
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            depends_on=[
                cluster.capacity_providers,
                execution_policy,
                exec_policy,
                *service_alarms.rollback,
                *(load_balancer.listeners if load_balancer else ()),
            ],
            lifecycle=TerraformResourceLifecycle(
                # The autoscaler owns the desired count once the service exists.
                ignore_changes=["desired_count"],
                # A deployment that ECS rolled back reaches a steady state too (the provider's wait
                # passes): the apply fails here instead, with the service on its previous revision.
                postcondition=[
                    Postcondition(
                        condition=f"${{self.task_definition == {address(task)}.arn}}",
                        error_message=(
                            f"The {service} service does not run the task definition this apply registered: "
                            "ECS rolled the deployment back (a deployment alarm or the circuit breaker). See "
                            "the service's events and its alarms, fix the cause, and apply again."
                        ),
                    )
                ],
            ),
        )

        scaling = AppautoscalingTarget(
            self,
            "scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{cluster.cluster_name}/{ecs_service.name}",
            min_capacity=values.min_tasks,
            max_capacity=values.max_tasks,
        )
        metrics: dict[str, tuple[str, int, str | None]] = {
            "cpu": ("ECSServiceAverageCPUUtilization", spec.cpu_target_percent, None)
        }
        if load_balancer:
            metrics["requests"] = (
                "ALBRequestCountPerTarget",
                spec.requests_per_target,
                load_balancer.request_count_label,
            )
        for metric, (metric_type, target_value, label) in metrics.items():
            AppautoscalingPolicy(
                self,
                f"scale_on_{metric}",
                name=name(service, metric),
                policy_type="TargetTrackingScaling",
                service_namespace=scaling.service_namespace,
                scalable_dimension=scaling.scalable_dimension,
                resource_id=scaling.resource_id,
                target_tracking_scaling_policy_configuration=(
                    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                        target_value=target_value,
                        predefined_metric_specification=(
                            AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                                predefined_metric_type=metric_type, resource_label=label
                            )
                        ),
                        scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                        scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                    )
                ),
            )

        self.service_name: str = ecs_service.name
        self.discovery_host: str = f"{spec.discovery_name}.{cluster.namespace_name}"

    def _count_policy(
        self,
        construct_id: str,
        *,
        role: str,
        enabled: bool,
        statement: DataAwsIamPolicyDocumentStatement | list[DataAwsIamPolicyDocumentStatement],
    ) -> IamRolePolicy:
        """A role policy that exists only where `enabled` (a workspace expression) is true."""
        count = count_if(enabled)
        document = DataAwsIamPolicyDocument(
            self,
            f"{construct_id}_permissions",
            count=count,
            statement=statement if isinstance(statement, list) else [statement],
        )
        return IamRolePolicy(
            self,
            f"{construct_id}_policy",
            count=count,
            name=construct_id.replace("_", "-"),
            role=role,
            policy=f"${{{address(document)}[0].json}}",
        )

    @staticmethod
    def _execution_statements(
        spec: ServiceSpec, values: ServiceValues, log_group_arn: str
    ) -> list[DataAwsIamPolicyDocumentStatement]:
        statements = [
            DataAwsIamPolicyDocumentStatement(
                sid="WriteOwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_group_arn}:log-stream:*"],
            )
        ]
        # Exactly this service's secrets, as this workspace names them (the kind is the same in every one).
        secrets = spec.secrets.values()
        if any(secret.is_parameter for secret in secrets):
            statements.append(
                DataAwsIamPolicyDocumentStatement(
                    sid="ReadOwnParameters", actions=["ssm:GetParameters"], resources=values.secret_parameter_arns
                )
            )
        if any(not secret.is_parameter for secret in secrets):
            statements.append(
                DataAwsIamPolicyDocumentStatement(
                    sid="ReadOwnSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=values.secret_manager_arns,
                )
            )
        ecr = ECR_IMAGE.fullmatch(spec.image)
        if ecr:  # public Docker Hub images need no IAM; ECR images need these, scoped to their repository
            statements += [
                DataAwsIamPolicyDocumentStatement(
                    sid="EcrAuthorization", actions=["ecr:GetAuthorizationToken"], resources=["*"]
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="PullOwnImage",
                    actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    resources=[
                        f"arn:aws:ecr:{ecr['region']}:{ecr['account']}:repository/{ecr['repository']}",
                    ],
                ),
            ]
        return statements
