"""One Store2018 service on Fargate, built from its catalog entry (`catalog.ServiceSpec`).

Per service: a log group, an execution role (pull the image, write its own log group, nothing
else) and a separate task role, a task definition whose container definitions are built from
typed data, a Cloud Map service, an ECS service and its target-tracking autoscaling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import Fn, ITerraformDependable, TerraformResourceLifecycle
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
)
from cdktf_cdktf_provider_aws.ecs_service import (
    EcsService,
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
from store2018.settings import ECR_IMAGE, ServiceSpec
from store2018.terraform_text import expression_string
from store2018.workspace import WorkspaceSelection

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
        load_balancer: LoadBalancerAttachment | None,
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
        )
        execution_policy = IamRolePolicy(
            self,
            "execution_policy",
            name="pull-image-and-write-logs",
            role=execution_role.id,
            policy=DataAwsIamPolicyDocument(
                self, "execution_permissions", statement=self._execution_statements(spec, log_group.arn)
            ).json,
        )
        task_role = IamRole(
            self,
            "task_role",
            name=name(service, "task"),
            description=f"The {service} application's own AWS permissions (none so far)",
            assume_role_policy=assume_role_policy,
        )

        container: dict[str, Any] = {
            "name": service,
            "image": f"{spec.image}:{values.image_tag}",
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
            deployment_circuit_breaker=EcsServiceDeploymentCircuitBreaker(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            availability_zone_rebalancing="ENABLED",
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            depends_on=[
                cluster.capacity_providers,
                execution_policy,
                *(load_balancer.listeners if load_balancer else ()),
            ],
            # The autoscaler owns the desired count once the service exists.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_count"]),
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

    @staticmethod
    def _execution_statements(spec: ServiceSpec, log_group_arn: str) -> list[DataAwsIamPolicyDocumentStatement]:
        statements = [
            DataAwsIamPolicyDocumentStatement(
                sid="WriteOwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_group_arn}:log-stream:*"],
            )
        ]
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
