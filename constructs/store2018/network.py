"""The network: a VPC over `az_count` AZs, public and private subnets, NAT and security groups,
VPC flow logs, and the VPC's default security group stripped of every rule.

The subnet layout is `network_layout.py` (as in the course: private subnet i = cidrsubnet(vpc, 8, i),
public subnet i = cidrsubnet(vpc, 8, az_count + i)). The number of NAT gateways is a per-workspace
value (`nat_gateway_count`): one per AZ in prod, one shared in staging.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import Fn, Precondition, TerraformCount, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
)
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from store2018.expressions import address, named_local
from store2018.load_balancer import LISTENER_PORTS
from store2018.network_layout import NEWBITS, private_netnum, public_netnum
from store2018.workspace import WorkspaceSelection

ANYWHERE = "0.0.0.0/0"
HTTPS_PORT = 443


class Network(Construct):
    """VPC, subnets, gateways, routes and the two security groups the services use.

    Exposes `vpc_id`, `public_subnet_ids`, `private_subnet_ids`,
    `alb_security_group_id` and `tasks_security_group_id` for the next constructs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workspace: WorkspaceSelection,
        az_count: int,
        app_ports: Sequence[int],
        service_ports: Sequence[int],
        flow_logs_trust_policy: str,
        permissions_boundary: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        name = workspace.resource_name

        # The region's own zones only (Local and Wavelength Zones need an opt-in and would sort first:
        # "us-west-2-lax-1a" < "us-west-2a"), in every state: an impaired zone stays in the list, so
        # nothing renumbers during an incident. Environments may pin zone ids instead (`zone_ids`).
        zones = DataAwsAvailabilityZones(
            self,
            "zones",
            filter=[DataAwsAvailabilityZonesFilter(name="opt-in-status", values=["opt-in-not-required"])],
        )
        pinned = workspace.current.zones_pinned
        vpc = Vpc(
            self,
            "vpc",
            cidr_block=workspace.current.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": name("vpc")},
            lifecycle=TerraformResourceLifecycle(
                precondition=[
                    # element() would wrap around and put two subnets in one zone without saying so.
                    Precondition(
                        condition=f"${{length({zones.fqn}.names) >= {az_count}}}",
                        error_message=(
                            f"ProjectSettings.az_count = {az_count} is more than the region's zones: "
                            "each subnet tier needs its own zone per count. Fix: lower az_count."
                        ),
                    ),
                    Precondition(
                        # Every pinned id is one of the region's own zones. (`== 0` is written as
                        # contains([0], ...): cdktf 0.21 renders Op.eq(x, 0) as `x == undefined`.)
                        condition=Token.as_string(
                            Fn.contains([0], Fn.length_of(Fn.setsubtract(workspace.current.zone_ids, zones.zone_ids)))
                        ),
                        error_message=(
                            "EnvironmentSettings.zone_ids names a zone id that is not one of this region's own "
                            "zones (Local and Wavelength Zones are not used). Fix: list ids from "
                            "`aws ec2 describe-availability-zones --query 'AvailabilityZones[].ZoneId'`."
                        ),
                    ),
                ]
            ),
        )

        # Nothing may use the default security group: strip its rules (it cannot be deleted).
        DefaultSecurityGroup(self, "default_sg", vpc_id=vpc.id, ingress=[], egress=[], tags={"Name": name("default")})
        self._flow_logs(workspace, vpc, flow_logs_trust_policy, permissions_boundary)

        def subnet(tier: str, index: int, netnum: int) -> Subnet:
            return Subnet(
                self,
                f"{tier}_subnet_{index}",
                vpc_id=vpc.id,
                cidr_block=Fn.cidrsubnet(vpc.cidr_block, NEWBITS, netnum),
                # Pinned: by zone id; otherwise by index into the sorted names. Exactly one is set.
                availability_zone=Token.as_string(
                    Fn.conditional(pinned, Token.null_value(), Fn.element(zones.names, index))
                ),
                availability_zone_id=Token.as_string(
                    Fn.conditional(pinned, Fn.element(workspace.current.zone_ids, index), Token.null_value())
                ),
                # Nothing launched here needs a public IP: the ALB and the NAT gateways bring their own.
                map_public_ip_on_launch=False,
                tags={"Name": name(tier, str(index)), "Tier": tier},
            )

        private = [subnet("private", i, private_netnum(i)) for i in range(az_count)]
        public = [subnet("public", i, public_netnum(i, az_count)) for i in range(az_count)]

        igw = InternetGateway(self, "igw", vpc_id=vpc.id, tags={"Name": name("igw")})
        public_rt = RouteTable(self, "public_rt", vpc_id=vpc.id, tags={"Name": name("public")})
        Route(
            self,
            "public_default_route",
            route_table_id=public_rt.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=igw.id,
        )
        for i, s in enumerate(public):
            RouteTableAssociation(self, f"public_rta_{i}", subnet_id=s.id, route_table_id=public_rt.id)

        nat_count = TerraformCount.of(workspace.current.nat_gateway_count)
        eip = Eip(
            self,
            "nat_eip",
            count=nat_count,
            domain="vpc",
            tags={"Name": name("nat", Token.as_string(nat_count.index))},
            depends_on=[igw],
        )
        # Splats of counted resources, held by locals: cdktf's Fn would escape a raw `[*]`.
        eip_ids = named_local(self, "nat_eip_ids", f"${{{address(eip)}[*].id}}")
        public_ids = [s.id for s in public]
        nat = NatGateway(
            self,
            "nat",
            count=nat_count,
            allocation_id=Token.as_string(Fn.element(eip_ids.as_list, nat_count.index)),
            subnet_id=Token.as_string(Fn.element(public_ids, nat_count.index)),
            tags={"Name": name("nat", Token.as_string(nat_count.index))},
            depends_on=[igw],
        )
        nat_ids = named_local(self, "nat_gateway_ids", f"${{{address(nat)}[*].id}}")

        for i, s in enumerate(private):
            rt = RouteTable(self, f"private_rt_{i}", vpc_id=vpc.id, tags={"Name": name("private", str(i))})
            # element() wraps around: with a single NAT gateway every AZ routes through it.
            Route(
                self,
                f"private_default_route_{i}",
                route_table_id=rt.id,
                destination_cidr_block=ANYWHERE,
                nat_gateway_id=Token.as_string(Fn.element(nat_ids.as_list, i)),
            )
            RouteTableAssociation(self, f"private_rta_{i}", subnet_id=s.id, route_table_id=rt.id)

        alb_sg = SecurityGroup(
            self,
            "alb_sg",
            name=name("alb"),
            vpc_id=vpc.id,
            description="Store2018 load balancer: HTTP and HTTPS from the internet",
            tags={"Name": name("alb")},
        )
        tasks_sg = SecurityGroup(
            self,
            "tasks_sg",
            name=name("tasks"),
            vpc_id=vpc.id,
            description="Store2018 ECS tasks: the services' ports from the load balancer only",
            tags={"Name": name("tasks")},
        )

        def tcp(
            rule: type[VpcSecurityGroupIngressRule | VpcSecurityGroupEgressRule],
            construct_id: str,
            group: SecurityGroup,
            port: int,
            description: str,
            *,
            cidr_ipv4: str | None = None,
            referenced_security_group_id: str | None = None,
        ) -> None:
            """One single-port TCP rule of `group`; the other side is a CIDR or a security group."""
            rule(self, construct_id, security_group_id=group.id, description=description, ip_protocol="tcp",
                 from_port=port, to_port=port, cidr_ipv4=cidr_ipv4,
                 referenced_security_group_id=referenced_security_group_id)  # fmt: skip

        for port in LISTENER_PORTS:
            tcp(VpcSecurityGroupIngressRule, f"alb_ingress_{port}", alb_sg, port, f"TCP {port} from anywhere",
                cidr_ipv4=ANYWHERE)  # fmt: skip
        for port in sorted(set(app_ports)):
            tcp(VpcSecurityGroupEgressRule, f"alb_egress_tasks_{port}", alb_sg, port, f"To the tasks' port {port}",
                referenced_security_group_id=tasks_sg.id)  # fmt: skip
            tcp(VpcSecurityGroupIngressRule, f"tasks_ingress_alb_{port}", tasks_sg, port,
                f"Port {port} from the load balancer", referenced_security_group_id=alb_sg.id)  # fmt: skip
        # Between tasks: each service's port only (the front end calls the APIs through Cloud Map).
        for port in sorted(set(service_ports)):
            tcp(VpcSecurityGroupIngressRule, f"tasks_ingress_tasks_{port}", tasks_sg, port,
                f"Port {port} from the other tasks (service discovery calls)",
                referenced_security_group_id=tasks_sg.id)  # fmt: skip
            tcp(VpcSecurityGroupEgressRule, f"tasks_egress_tasks_{port}", tasks_sg, port,
                f"To the other tasks' port {port}", referenced_security_group_id=tasks_sg.id)  # fmt: skip
        # Out of the VPC, HTTPS only, through NAT: image pulls (Docker Hub, ECR), CloudWatch Logs and the
        # AWS APIs. DNS (the VPC resolver) and the task metadata endpoint are not filtered by security groups.
        tcp(VpcSecurityGroupEgressRule, "tasks_egress_https", tasks_sg, HTTPS_PORT,
            "HTTPS out: image pulls, CloudWatch Logs and AWS APIs, through NAT", cidr_ipv4=ANYWHERE)  # fmt: skip

        self.vpc_id: str = vpc.id
        self.vpc_cidr_block: str = vpc.cidr_block
        self.public_subnet_ids: list[str] = public_ids
        self.private_subnet_ids: list[str] = [s.id for s in private]
        self.nat_gateway_ids: list[str] = nat_ids.as_list
        self.alb_security_group_id: str = alb_sg.id
        self.tasks_security_group_id: str = tasks_sg.id

    def _flow_logs(
        self, workspace: WorkspaceSelection, vpc: Vpc, trust_policy: str, permissions_boundary: str | None
    ) -> None:
        """Every accepted and rejected connection in the VPC, to a log group with the workspace's retention."""
        name = workspace.resource_name
        logs = CloudwatchLogGroup(
            self,
            "flow_logs",
            name=f"/vpc/{name()}/flow-logs",
            retention_in_days=workspace.current.flow_log_retention_days,
        )
        role = IamRole(
            self,
            "flow_logs_role",
            name=name("flow-logs"),
            assume_role_policy=trust_policy,
            permissions_boundary=permissions_boundary,
        )
        writes = DataAwsIamPolicyDocument(
            self,
            "flow_logs_writes",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[f"{logs.arn}:*"],
                )
            ],
        )
        IamRolePolicy(self, "flow_logs_policy", name="write-flow-logs", role=role.id, policy=writes.json)
        FlowLog(
            self,
            "flow_log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=logs.arn,
            iam_role_arn=role.arn,
            tags={"Name": name("flow-logs")},
        )
