"""The ECS cluster the services run in, and the Cloud Map namespace they find each other in."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.ecs_cluster import EcsCluster, EcsClusterSetting
from cdktf_cdktf_provider_aws.ecs_cluster_capacity_providers import EcsClusterCapacityProviders
from cdktf_cdktf_provider_aws.service_discovery_private_dns_namespace import ServiceDiscoveryPrivateDnsNamespace
from constructs import Construct

from store2018.workspace import WorkspaceSelection

# The services choose between these per workspace (EnvironmentSettings.capacity).
FARGATE_CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


class Cluster(Construct):
    """ECS cluster with Container Insights and both Fargate capacity providers; Cloud Map namespace.

    Exposes `cluster_id`, `cluster_name`, `namespace_id` and `namespace_name`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, workspace: WorkspaceSelection, vpc_id: str, namespace: str
    ) -> None:
        super().__init__(scope, construct_id)
        cluster = EcsCluster(
            self,
            "cluster",
            name=workspace.resource_name("cluster"),
            setting=[EcsClusterSetting(name="containerInsights", value="enabled")],
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
