#!/usr/bin/env python
"""The local AWS emulator: moto on 127.0.0.1, with the gaps the Store2018 stack meets filled in,
answering only its own run, stopping itself after a period without requests (and after a hard cap).

    python local/emulator.py --credentials-file FILE [--port 0] [--port-file FILE] [--idle-minutes 30]
                             [--max-minutes 240] [--record FILE]

Sealed (`Sealed`): every request must be signed (SigV4) with the access key id in FILE, a random
key made per run and kept mode 0600 (local/emulated.py writes it); anything else gets 403.
moto's control endpoints (/moto-api/: reset, config, data) are refused. The readiness check,
`GET /_emulator/ready?nonce=N`, answers HMAC-SHA256(the run's secret key, N) (`ready_proof`): a
client that checks it knows the run's own emulator answers before it sends a key id or a state.
With `--port 0` the emulator binds a port of the system's choosing itself and writes it to
`--port-file` (0600) once it listens: no other process can take the port between a choice and a
bind. moto's Docker-backed services (Batch, Lambda) are switched off.

What this does not give: moto checks no signatures, so another local user who learns the key id
(from a request it cannot see, or the 0600 files it cannot read) could be served; the key id is
the door, the HMAC proves only who answers.

`--record FILE`: every signed request is written to FILE as a JSON line, with the service (SigV4's
signing name), the API operation (and for S3 the bucket's or object's ARN), the HTTP status and the
phase its caller named in its User-Agent
(`store2018-phase/<phase>`: Terraform appends `TF_APPEND_USER_AGENT`). That is the list of calls a
plan, apply or destroy makes, from which the pipeline roles' actions are checked (security/iam_record.py).

The shims (`install_shims`) only make moto keep what real AWS keeps, so that Terraform sees
no false drift after an apply; they change nothing in the synthesised Terraform. See README,
"Local deploy", for the list and why each exists.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import io
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
READY_PATH = "/_emulator/ready"
NONCE = re.compile(r"[0-9a-f]{16,64}")
CONTROL_PREFIX = "/moto-api"
# `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, ...`,
# or the same credential in a presigned URL's X-Amz-Credential.
SIGV4_CREDENTIAL = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([A-Za-z0-9]+)/")
# The credential scope's service: `<key id>/<date>/<region>/<service>/aws4_request`.
SIGNING_NAME = re.compile(r"^[^/]*/[^/]*/[^/]*/([a-z0-9-]+)/aws4_request")
PHASE = re.compile(r"store2018-phase/([A-Za-z0-9_-]+)")
# smithy-rpc-v2-cbor: `POST /service/<service>/operation/<operation>`.
RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def ready_proof(secret_access_key: str, nonce: str) -> str:
    """What the readiness check answers for `nonce`: only a holder of the run's secret key can say it."""
    return hmac.new(secret_access_key.encode(), f"{READY_PATH}?{nonce}".encode(), hashlib.sha256).hexdigest()


class Sealed:
    """WSGI middleware in front of moto: answers the readiness check, refuses moto's control
    endpoints, and passes on only requests whose SigV4 credential names this run's access key id.
    moto checks no signatures itself (5.2.5), so this check is the emulator's only door."""

    def __init__(
        self, app: WSGIApp, access_key_id: str, secret_access_key: str, record: CallRecord | None = None
    ) -> None:
        self.app = app
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.record = record

    @staticmethod
    def scope(environ: dict[str, Any]) -> str | None:
        """The SigV4 credential (`<key id>/<date>/<region>/<service>/aws4_request`), signed or presigned."""
        authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
        if SIGV4_CREDENTIAL.match(authorization):
            return authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
        return query.get("X-Amz-Credential", [""])[0] or None

    def credential(self, environ: dict[str, Any]) -> str | None:
        scope = self.scope(environ)
        return scope.split("/", 1)[0] or None if scope else None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == READY_PATH and environ.get("REQUEST_METHOD") == "GET":
            nonce = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", ""))).get("nonce", [""])[0]
            if not NONCE.fullmatch(nonce):
                return self.answer(start_response, "400 Bad Request", "ask with ?nonce=<16 to 64 hex digits>")
            return self.answer(start_response, "200 OK", ready_proof(self.secret_access_key, nonce))
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return self.answer(start_response, "403 Forbidden", "moto's control endpoints are closed here")
        key = self.credential(environ)
        if key is None or not hmac.compare_digest(key.encode(), self.access_key_id.encode()):
            return self.answer(
                start_response, "403 Forbidden", "this emulator answers only requests signed with its run's key"
            )
        record = self.record
        if record is None:
            return self.app(environ, start_response)
        call = record.call_of(environ, SIGNING_NAME.match(self.scope(environ) or ""))

        def recording_start(status: str, headers: Any, *rest: Any) -> Any:
            record.write(call, int(status.split()[0]))
            return start_response(status, headers, *rest)

        return self.app(environ, recording_start)

    @staticmethod
    def answer(start_response: Any, status: str, text: str) -> list[bytes]:
        body = f"{text}\n".encode()
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


class CallRecord:
    """Where `Sealed` writes each signed request's service, operation, status and phase (JSON lines)."""

    def __init__(self, path: Path) -> None:
        self._out = path.open("a")
        self._lock = threading.Lock()

    def call_of(self, environ: dict[str, Any], signing: re.Match[str] | None) -> dict[str, str]:
        """The call's phase, service and operation; for S3 (path style), also the bucket's or object's ARN."""
        service = signing.group(1) if signing else "unknown"
        phase = PHASE.search(environ.get("HTTP_USER_AGENT", ""))
        call = {
            "phase": phase.group(1) if phase else "",
            "service": service,
            "operation": operation_of(environ, service),
        }
        path = str(environ.get("PATH_INFO", "")).lstrip("/")
        if service == "s3" and path:
            call["resource"] = f"arn:aws:s3:::{path}"
        return call

    def write(self, call: dict[str, str], status: int) -> None:
        with self._lock:
            self._out.write(json.dumps({**call, "status": status}) + "\n")
            self._out.flush()


def operation_of(environ: dict[str, Any], service: str) -> str:
    """The API operation of a request: the JSON protocols' X-Amz-Target (`Prefix.Operation`), the query
    protocols' Action (in the query string or the form body, which is read and put back), the
    smithy-rpc-v2-cbor path, or, for REST protocols (S3, Route 53), the `x-id` the AWS SDKs add to some S3
    requests, else the operation of botocore's model whose method, path template and query parameters (its
    literals and required ones) match. "?" when nothing matches."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    if "Action" in query:
        return query["Action"][0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        form = urllib.parse.parse_qs(bytes(body).decode(errors="replace"))
        if "Action" in form:
            return form["Action"][0]
    path = str(environ.get("PATH_INFO", ""))
    rpc = RPC_V2_PATH.match(path)
    if rpc:
        return rpc.group(1)
    if "x-id" in query:
        return query["x-id"][0]
    return rest_operation(service, str(environ.get("REQUEST_METHOD", "")), path, query) or "?"


@functools.cache
def _rest_routes(signing_name: str) -> list[tuple[str, str, list[str], list[tuple[str, str]], bool]]:
    """(operation, method, path template segments, query parameters: the URI's literals, and the required ones
    with any value), and whether it is deprecated, of the REST services signing as `signing_name`."""
    import botocore.session

    session = botocore.session.get_session()
    routes: list[tuple[str, str, list[str], list[tuple[str, str]], bool]] = []
    for name in sorted(session.get_available_services()):
        model = session.get_service_model(name)
        if model.signing_name != signing_name or model.protocol not in ("rest-xml", "rest-json"):
            continue
        for operation in model.operation_names:
            http = model.operation_model(operation).http
            path, _, literals = http["requestUri"].partition("?")
            pairs = [(item.partition("=")[0], item.partition("=")[2]) for item in literals.split("&") if item]
            shape = model.operation_model(operation).input_shape
            if shape is not None:
                pairs += [
                    (member.serialization["name"], "")
                    for name, member in shape.members.items()
                    if name in shape.required_members and member.serialization.get("location") == "querystring"
                ]
            routes.append((operation, http["method"], path.strip("/").split("/") if path.strip("/") else [],
                           pairs, bool(model.operation_model(operation).deprecated)))  # fmt: skip
    return routes


def _path_matches(template: list[str], segments: list[str]) -> bool:
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):  # greedy: the rest of the path
            return len(segments) > index
        if index >= len(segments) or not (part.startswith("{") or part == segments[index]):
            return False
    return len(segments) == len(template)


def rest_operation(signing_name: str, method: str, path: str, query: dict[str, list[str]]) -> str | None:
    """The most specific operation (most query literals, then most literal path segments, then not
    deprecated: `?lifecycle` is GetBucketLifecycleConfiguration, not GetBucketLifecycle) that matches."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    best: tuple[tuple[int, int, bool], str] | None = None
    for operation, route_method, template, literals, deprecated in _rest_routes(signing_name):
        if route_method != method or not _path_matches(template, segments):
            continue
        if any(key not in query or (value and query[key][0] != value) for key, value in literals):
            continue
        score = (len(literals), sum(not part.startswith("{") for part in template), not deprecated)
        if best is None or score > best[0]:
            best = (score, operation)
    return best[1] if best else None


def no_docker() -> None:
    """moto's Batch and Lambda backends start Docker containers when Docker is available."""
    from moto.core.config import default_user_config

    default_user_config["batch"] = {"use_docker": False}
    default_user_config["lambda"] = {"use_docker": False}


def _patch(owner: Any, name: str, value: Any) -> None:
    """Replace one of moto's methods or properties, in this process only."""
    setattr(owner, name, value)


def install_shims() -> None:
    """Patch moto 5.2.5 in this process. Each shim is small and says which call it fills."""
    _application_autoscaling_tags()
    _scaling_policy_alarms_replaced()
    _ecs_service_fields()
    _security_group_rule_descriptions()
    _s3_secure_transport_condition()
    _s3_delete_marker_dispose()
    _route53_zone_ids()


def _application_autoscaling_tags() -> None:
    """ListTagsForResource/TagResource/UntagResource are missing: the provider calls them for
    every aws_appautoscaling_target. Tags are kept per ARN, fed by RegisterScalableTarget."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as Response

    tags: dict[str, dict[str, str]] = {}
    register = Response.register_scalable_target

    def register_scalable_target(self: Any) -> str:
        out: str = register(self)
        tags.setdefault(json.loads(out)["ScalableTargetARN"], {}).update(self._get_param("Tags") or {})
        return out

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

    def tag_resource(self: Any) -> str:
        tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        for key in self._get_param("TagKeys") or []:
            tags.get(self._get_param("ResourceARN"), {}).pop(key, None)
        return "{}"

    _patch(Response, "register_scalable_target", register_scalable_target)
    _patch(Response, "list_tags_for_resource", list_tags_for_resource)
    _patch(Response, "tag_resource", tag_resource)
    _patch(Response, "untag_resource", untag_resource)


# CreateService/UpdateService fields moto 5.2.5 drops, which DescribeServices returns on AWS.
ECS_SERVICE_FIELDS = {
    "capacityProviderStrategy": "capacity_provider_strategy",
    "availabilityZoneRebalancing": "availability_zone_rebalancing",
    "enableECSManagedTags": "enable_ecs_managed_tags",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "enableExecuteCommand": "enable_execute_command",
    "deploymentConfiguration": "deployment_configuration",  # the alarms, circuit breaker and percents
}


def _scaling_policy_alarms_replaced() -> None:
    """PutScalingPolicy on an existing policy makes new target-tracking alarms and forgets the old ones,
    which then outlive the policy's deletion (a destroy left one behind). AWS replaces them: so does this."""
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend as Backend

    put = Backend.put_scaling_policy

    def put_scaling_policy(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = dict(self.policies)
        policy = put(self, *args, **kwargs)
        for key, old in before.items():
            if self.policies.get(key) is not old:
                old.delete_alarms(self.account_id, self.region_name)
        return policy

    _patch(Backend, "put_scaling_policy", put_scaling_policy)


def _ecs_service_fields() -> None:
    """Keep the fields above on the service; with a capacity-provider strategy AWS reports no
    launch type (moto defaults it to EC2, which Terraform reads as a change). A new service's tasks
    all run at once, so that `wait_for_steady_state` sees a steady service (moto's own
    MOTO_ECS_SERVICE_RUNNING is one fixed count for every service, whatever its desired count)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    create, update = EC2ContainerServiceBackend.create_service, EC2ContainerServiceBackend.update_service
    # Per request thread: the server is threaded and Terraform creates services side by side.
    pending = threading.local()

    def keep(service: Any, fields: dict[str, Any]) -> Any:
        for api_name, attribute in ECS_SERVICE_FIELDS.items():
            if api_name in fields:
                setattr(service, attribute, fields[api_name])
        if getattr(service, "capacity_provider_strategy", None):
            service.launch_type = None
        return service

    def running(backend: Any, service: Any) -> Any:
        cluster = backend._get_cluster(service.cluster_name)
        backend.update_cluster_resources(cluster, service.desired_count - service.running_count, task_state="RUNNING")
        backend.update_cluster_resources(cluster, -service.pending_count, task_state="PENDING")
        service.running_count, service.pending_count = service.desired_count, 0
        for deployment in service.deployments:
            deployment.update(runningCount=service.desired_count, pendingCount=0, rolloutState="COMPLETED")
        return service

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        fields, pending.fields = getattr(pending, "fields", {}), {}
        return running(self, keep(create(self, *args, **kwargs), fields))

    def update_service(self: Any, properties: dict[str, Any]) -> Any:
        fields = {api: properties[attr] for api, attr in ECS_SERVICE_FIELDS.items() if attr in properties}
        if "deploymentConfiguration" in fields:  # AWS merges the parts an update names into what the service has
            cluster, name = properties.get("cluster", "default"), properties["service"].split("/")[-1]
            current = getattr(self._get_service(cluster, name), "deployment_configuration", None) or {}
            fields["deploymentConfiguration"] = {**current, **fields["deploymentConfiguration"]}
            properties.pop("deployment_configuration")
        return keep(update(self, properties), fields)

    _patch(EC2ContainerServiceBackend, "create_service", create_service)
    _patch(EC2ContainerServiceBackend, "update_service", update_service)

    # The backend's create_service does not receive these fields: capture them from the request.
    from moto.ecs.responses import EC2ContainerServiceResponse as Response

    respond = Response.create_service

    def create_service_response(self: Any) -> Any:
        pending.fields = {api: self._get_param(api) for api in ECS_SERVICE_FIELDS if self._get_param(api) is not None}
        return respond(self)

    _patch(Response, "create_service", create_service_response)


def _security_group_rule_descriptions() -> None:
    """moto reports the description of CIDR rules only; a rule that references another security
    group keeps it with the group pair."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        found: str | None = self.ip_range.get("Description") or (self.source_group or {}).get("Description")
        return found

    _patch(SecurityGroupRule, "description", property(description))


def _s3_secure_transport_condition() -> None:
    """moto evaluates bucket policies without their conditions, so the state bucket's
    "deny unless aws:SecureTransport" statement would deny everything. This emulator serves
    HTTPS only, so aws:SecureTransport is always true: such statements never apply, and are
    left out of the evaluation. Every other statement is evaluated as moto does."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def applies_over_tls(statement: dict[str, Any]) -> bool:
        condition = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        values = condition if isinstance(condition, list) else [condition]
        return condition is None or "true" in [str(v).lower() for v in values]

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        policy["Statement"] = [s for s in (statements if isinstance(statements, list) else [statements])
                               if applies_over_tls(s)]  # fmt: skip
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    _patch(FakeBucket, "get_permission", get_permission)


def _s3_delete_marker_dispose() -> None:
    """Removing the last versions of a key that has delete markers calls `dispose()` on each
    version, which moto's delete markers lack: the request fails with a 500 and the provider's
    `force_destroy` of the versioned state bucket retries forever. A marker holds no data."""
    from moto.s3.models import FakeDeleteMarker

    _patch(FakeDeleteMarker, "dispose", lambda self, garbage=False: None)


def _route53_zone_ids() -> None:
    """Route 53 hosted zone ids start with `Z` (the settings refuse any other); moto's are 22 random
    upper-case letters and digits. Its first character becomes `Z`."""
    from moto.route53.models import HostedZoneIdentifier

    generate = HostedZoneIdentifier.generate

    def z_prefixed(self: Any, *args: Any, **kwargs: Any) -> str:
        return "Z" + str(generate(self, *args, **kwargs))[1:]

    _patch(HostedZoneIdentifier, "generate", z_prefixed)


def serve(
    port: int, credentials: dict[str, str], idle_seconds: float, max_seconds: float, *, port_file: Path | None = None,
    record: Path | None = None,
) -> None:  # fmt: skip
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    moto_app = DomainDispatcherApplication(create_backend_app)
    last_request = [time.monotonic()]

    def served(environ: dict[str, Any], start_response: Any) -> Any:
        last_request[0] = time.monotonic()  # only signed requests keep the emulator alive
        return moto_app(environ, start_response)

    tracked = Sealed(served, credentials["access_key_id"], credentials["secret_access_key"],
                     CallRecord(record) if record else None)  # fmt: skip

    # HTTPS with a throw-away self-signed certificate: the state bucket's policy refuses requests
    # without TLS (aws:SecureTransport), and moto enforces bucket policies. Clients skip verification.
    server = make_server(
        LOOPBACK, port, tracked, threaded=True, request_handler=MotoRequestHandler, ssl_context="adhoc"
    )
    port = server.server_port  # the system's choice with --port 0: bound here, never free in between
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if port_file is not None:
        descriptor = os.open(port_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # a new file, never another's
        with os.fdopen(descriptor, "w") as out:
            out.write(f"{port}\n")
    print(f"emulator: listening on https://{LOOPBACK}:{port}; stops after {idle_seconds:.0f} s idle "
          f"or {max_seconds:.0f} s in all", flush=True)  # fmt: skip
    started = time.monotonic()
    try:
        while True:
            time.sleep(1)
            now = time.monotonic()
            if now - last_request[0] > idle_seconds:
                print(f"emulator: idle for {idle_seconds:.0f} s, stopping", flush=True)
                break
            if now - started > max_seconds:
                print(f"emulator: running for {max_seconds:.0f} s, stopping", flush=True)
                break
    except KeyboardInterrupt:
        pass
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port, bound here")
    parser.add_argument("--port-file", type=Path, help="a new file to write the bound port to, once listening")
    parser.add_argument("--credentials-file", type=Path, required=True, help="JSON with this run's key (0600)")
    parser.add_argument("--idle-minutes", type=float, default=30)
    parser.add_argument("--max-minutes", type=float, default=240)
    parser.add_argument("--record", type=Path, help="write every signed request's operation to this file")
    args = parser.parse_args()
    credentials = json.loads(args.credentials_file.read_text())
    no_docker()
    install_shims()
    serve(args.port, credentials, args.idle_minutes * 60, args.max_minutes * 60, port_file=args.port_file,
          record=args.record)  # fmt: skip


if __name__ == "__main__":
    main()
