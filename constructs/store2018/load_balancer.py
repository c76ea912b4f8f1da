"""The internet-facing Application Load Balancer: listeners, path rules, target groups, optional DNS.

HTTP only by default. When the workspace has a certificate (`certificate_arn`), an HTTPS
listener is added and a rule on port 80 redirects everything to 443; that choice is made by Terraform per
workspace, so one synthesis serves both. The front end is the default route; each API
with `public_paths` gets a path rule (the front end's browser page calls them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cdktf import Fn, TerraformResource
from cdktf_cdktf_provider_aws.lb import Lb, LbAccessLogs
from cdktf_cdktf_provider_aws.lb_listener import LbListener, LbListenerDefaultAction
from cdktf_cdktf_provider_aws.lb_listener_rule import (
    LbListenerRule,
    LbListenerRuleAction,
    LbListenerRuleActionRedirect,
    LbListenerRuleCondition,
    LbListenerRuleConditionPathPattern,
)
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup, LbTargetGroupHealthCheck
from cdktf_cdktf_provider_aws.route53_record import Route53Record, Route53RecordAlias
from constructs import Construct

from store2018.expressions import address, count_if, named_local
from store2018.monitoring import LoadBalancerDimensions
from store2018.settings import ServiceSpec
from store2018.terraform_text import template
from store2018.workspace import WorkspaceSelection

# The load balancer's listener ports: the only ports open to the internet (network.py opens them on
# the load balancer's security group; rules.py refuses any other open port).
HTTP_PORT, HTTPS_PORT = 80, 443
LISTENER_PORTS = (HTTP_PORT, HTTPS_PORT)
# AWS's recommended policy: TLS 1.3 and 1.2 only, forward-secret ciphers.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Seconds a target drains before removal: long enough for in-flight requests, far below AWS's 300.
DEREGISTRATION_DELAY_SECONDS = 30
# The HTTP-to-HTTPS redirect is evaluated before the path rules (priorities 10, 20, ...).
REDIRECT_RULE_PRIORITY = 1


class LoadBalancer(Construct):
    """ALB in the public subnets with a target group per exposed service.

    Exposes `target_group_arns` and `request_count_labels` (per exposed service),
    `routes` (what a service behind the ALB must be created after), `dns_name` and `url`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workspace: WorkspaceSelection,
        vpc_id: str,
        subnet_ids: Sequence[str],
        security_group_id: str,
        exposed: Mapping[str, ServiceSpec],
        rule_priorities: Mapping[str, int],
        hosted_zone_id: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        name = workspace.resource_name

        alb = Lb(
            self,
            "alb",
            name=name(),
            internal=False,
            load_balancer_type="application",
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=workspace.current.alb_deletion_protection,
            # Off unless the workspace names a bucket (its policy must let ELB write: see README).
            access_logs=LbAccessLogs(
                enabled=workspace.current.alb_access_logs_enabled,
                bucket=workspace.current.alb_access_logs_bucket,
                prefix=name(),
            ),
        )

        groups = {
            service: LbTargetGroup(
                self,
                f"target_{service}",
                name=name(service),
                vpc_id=vpc_id,
                port=spec.container_port,
                protocol="HTTP",
                target_type="ip",  # Fargate tasks (awsvpc) register by IP address
                deregistration_delay=str(DEREGISTRATION_DELAY_SECONDS),
                health_check=LbTargetGroupHealthCheck(
                    path=template(spec.health_check_path),  # a template: escaped to arrive as written
                    matcher="200",
                    protocol="HTTP",
                    interval=15,
                    timeout=5,
                    healthy_threshold=2,
                    unhealthy_threshold=3,
                ),
            )
            for service, spec in exposed.items()
        }
        (front_end,) = (service for service, spec in exposed.items() if spec.default_route)
        forward_to_front_end = LbListenerDefaultAction(type="forward", target_group_arn=groups[front_end].arn)

        https_enabled = named_local(self, "https_enabled", workspace.current.https_enabled)
        https_count = count_if(https_enabled.as_boolean)
        https = LbListener(
            self,
            "https",
            count=https_count,
            load_balancer_arn=alb.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=workspace.current.certificate_arn,
            default_action=[forward_to_front_end],
        )
        http = LbListener(
            self,
            "http",
            load_balancer_arn=alb.arn,
            port=HTTP_PORT,
            protocol="HTTP",
            default_action=[forward_to_front_end],
        )
        # With HTTPS, a catch-all rule ahead of everything redirects port 80 to 443. A rule rather
        # than a conditional default action: no optional block, which typed bindings and checkov
        # cannot express, and switching HTTPS on adds a rule instead of replacing a listener.
        LbListenerRule(
            self,
            "https_redirect",
            count=https_count,
            listener_arn=http.arn,
            priority=REDIRECT_RULE_PRIORITY,
            action=[
                LbListenerRuleAction(
                    type="redirect",
                    redirect=LbListenerRuleActionRedirect(
                        port=str(HTTPS_PORT), protocol="HTTPS", status_code="HTTP_301"
                    ),
                )
            ],
            condition=[LbListenerRuleCondition(path_pattern=LbListenerRuleConditionPathPattern(values=["*"]))],
        )
        # Path rules go on the listener that serves the application: HTTPS when there is one.
        app_listener_arn = named_local(
            self,
            "app_listener_arn",
            f"${{local.https_enabled ? {address(https)}[0].arn : {address(http)}.arn}}",
        )

        rules: dict[str, TerraformResource] = {}
        for service, spec in exposed.items():
            if spec.default_route:
                continue
            rules[service] = LbListenerRule(
                self,
                f"rule_{service}",
                listener_arn=app_listener_arn.as_string,
                priority=rule_priorities[service],
                action=[LbListenerRuleAction(type="forward", target_group_arn=groups[service].arn)],
                condition=[
                    LbListenerRuleCondition(
                        path_pattern=LbListenerRuleConditionPathPattern(values=list(spec.public_paths))
                    )
                ],
            )

        host = alb.dns_name
        if hosted_zone_id is not None:
            record = Route53Record(
                self,
                "dns",
                zone_id=hosted_zone_id,
                name=workspace.current.dns_record_name,
                type="A",
                alias=Route53RecordAlias(name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True),
            )
            host = record.fqdn

        self.url: str = Fn.format("%s://%s", [Fn.conditional(https_enabled.as_boolean, "https", "http"), host])
        self.dns_name: str = alb.dns_name
        self.target_group_arns: dict[str, str] = {service: group.arn for service, group in groups.items()}
        #: The load balancer's and each exposed service's target group's CloudWatch dimensions.
        self.dimensions: dict[str, LoadBalancerDimensions] = {
            service: LoadBalancerDimensions(load_balancer=alb.arn_suffix, target_group=group.arn_suffix)
            for service, group in groups.items()
        }
        self.front_end: str = front_end
        #: `resource_label` of ALBRequestCountPerTarget scaling, per exposed service.
        self.request_count_labels: dict[str, str] = {
            service: f"{alb.arn_suffix}/{group.arn_suffix}" for service, group in groups.items()
        }
        #: Per exposed service, what routes traffic to its target group: ECS refuses a target group
        #: that no listener uses, so the service is created after these.
        self.routes: dict[str, list[TerraformResource]] = {
            service: [http, https, *([rules[service]] if service in rules else [])] for service in exposed
        }
