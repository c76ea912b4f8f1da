"""The product's one stack: provider, S3 backend, workspace selection and the network."""

from __future__ import annotations

from cdktf import S3Backend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from store2018.config import ProjectSettings
from store2018.network import Network
from store2018.workspace import WorkspaceSelection

# S3-native state locking (`use_lockfile`) needs Terraform 1.10 or newer.
REQUIRED_TERRAFORM_VERSION = ">= 1.10"


class Store2018Stack(TerraformStack):
    """Everything Store2018 needs in one AWS account and region, per Terraform workspace."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: ProjectSettings) -> None:
        super().__init__(scope, construct_id)
        backend = settings.state_backend
        S3Backend(
            self,
            bucket=backend.bucket,
            key=backend.key,
            region=backend.region,
            encrypt=True,
            workspace_key_prefix=backend.workspace_key_prefix,
        )
        # cdktf 0.21's S3Backend has no `use_lockfile`; DynamoDB locking is deprecated by Terraform.
        self.add_override("terraform.backend.s3.use_lockfile", True)
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM_VERSION)

        workspace = WorkspaceSelection(
            self, "workspace", project=settings.project, environments=settings.environments_to_terraform()
        )
        AwsProvider(
            self,
            "aws",
            region=settings.region,
            allowed_account_ids=workspace.string_list("allowed_account_ids"),
            default_tags=[
                AwsProviderDefaultTags(
                    tags={"Project": settings.project, "Workspace": workspace.name, "ManagedBy": "cdktf"}
                )
            ],
        )

        network = Network(self, "network", workspace=workspace, az_count=settings.az_count, app_port=settings.app_port)

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
