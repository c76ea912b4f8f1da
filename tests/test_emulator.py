"""The emulator answers only its own runs, and nothing a run does can fall through to real AWS.

- the emulator refuses requests without its run's key, and its control endpoints (403);
- every resource type and data source of the synthesis is served by an emulated endpoint;
- Terraform runs with a dead proxy: a call that escapes the emulator fails at once;
- the override files carry the credentials: an exported AWS_PROFILE changes nothing;
- override files end with their run; one left by a killed run is reported, never applied.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import boto3
import botocore.exceptions
import pytest
from conftest import SETTINGS

import local.deploy
from local.deploy import lifted_protection_override
from local.emulated import (
    EMULATED_SERVICES,
    EMULATOR,
    OVERRIDE_SUFFIX,
    SYNTH_STACK_DIR,
    Credentials,
    MotoServer,
    TerraformWorkdir,
    WorkdirBusy,
    dead_proxy,
    emulator_answers,
    endpoint_of,
    loopback_opener,
    planned_resources,
    read_synthesis,
    sealed_environment,
)
from local.emulator import CallRecord, Sealed, operation_of, ready_proof

STACKS = sorted(p for p in SYNTH_STACK_DIR.parent.iterdir() if (p / "cdk.tf.json").exists())


def status_of(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None,
                                     headers=headers or {})  # fmt: skip
    try:
        with loopback_opener().open(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


# The middleware alone, in process: what it lets through.


def sealed_answer(environ: dict[str, Any]) -> str:
    seen: list[str] = []
    app = Sealed(lambda env, start: (start("200 OK", []), [b"moto"])[1], "LOCALKEY", "local-secret")
    body = b"".join(app(environ, lambda status, headers: seen.append(status)))
    return f"{seen[0]} {body.decode().strip()}"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {
                "PATH_INFO": "/",
                "HTTP_AUTHORIZATION": (
                    "AWS4-HMAC-SHA256 Credential=LOCALKEY/20261130/us-west-2/ec2/aws4_request, "
                    "SignedHeaders=host, Signature=0"
                ),
            },
            "200 OK moto",
        ),
        (
            {
                "PATH_INFO": "/",
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=OTHERKEY/20261130/us-west-2/ec2/aws4_request",
            },
            "403",
        ),
        (
            {
                "PATH_INFO": "/",
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=LOCALKEYX/20261130/x/s3/aws4_request",
            },
            "403",
        ),
        ({"PATH_INFO": "/", "HTTP_AUTHORIZATION": "AWS LOCALKEY:signature"}, "403"),  # SigV2 is not accepted
        (
            {
                "PATH_INFO": "/bucket/key",
                "QUERY_STRING": "X-Amz-Credential=LOCALKEY%2F20261130%2Fus-west-2%2Fs3%2Faws4_request",
            },
            "200 OK moto",
        ),
        ({"PATH_INFO": "/"}, "403"),
        (
            {
                "PATH_INFO": "/moto-api/reset",
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=LOCALKEY/x/y/z/aws4_request",
            },
            "403",
        ),
        (
            {"PATH_INFO": "/_emulator/ready", "REQUEST_METHOD": "GET", "QUERY_STRING": "nonce=" + "ab" * 16},
            "200 OK " + ready_proof("local-secret", "ab" * 16),
        ),
        ({"PATH_INFO": "/_emulator/ready", "REQUEST_METHOD": "GET"}, "400"),
        ({"PATH_INFO": "/_emulator/ready", "REQUEST_METHOD": "GET", "QUERY_STRING": "nonce=x"}, "400"),
    ],
)
def test_the_middleware_passes_only_this_runs_key(environ: dict[str, Any], expected: str) -> None:
    assert sealed_answer(environ).startswith(expected)


def test_the_user_environment_cannot_reach_aws() -> None:
    users = {
        "AWS_PROFILE": "production-admin",
        "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
        "HTTPS_PROXY": "http://proxy.example.com:3128",
        "https_proxy": "http://proxy.example.com:3128",
        "no_proxy": "*",
        "TF_CLI_CONFIG_FILE": "/home/someone/.terraformrc",
        "PATH": "/usr/bin",
    }
    env = sealed_environment(users)
    assert {k for k in env if k.startswith("AWS_")} == {
        "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    }  # fmt: skip
    assert "TF_CLI_CONFIG_FILE" not in env
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == dead_proxy()
    assert env["NO_PROXY"] == "127.0.0.1"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull  # no default profile either
    assert not {k for k in env if k in ("https_proxy", "http_proxy", "no_proxy")}


def test_every_type_in_the_synthesis_is_served_by_an_emulated_endpoint() -> None:
    """Each resource type and data source of every committed stack maps to an endpoint the override
    points at the emulator (or is computed by the provider itself, with no call)."""
    seen = {}
    for stack in STACKS:
        document = read_synthesis(stack)
        for kind in ("resource", "data"):
            for resource_type in document.get(kind, {}):
                if resource_type.startswith("terraform_"):
                    continue  # Terraform's own (terraform_data): no provider call
                try:
                    seen[resource_type] = endpoint_of(resource_type)
                except KeyError:
                    pytest.fail(f"{resource_type} ({stack.name}) has no endpoint in local.emulated.ENDPOINT_OF_TYPE")
    assert len(seen) > 30
    assert {t: e for t, e in seen.items() if e is not None and e not in EMULATED_SERVICES} == {}
    assert {t for t, e in seen.items() if e is None} == {"aws_iam_policy_document"}


# The running emulator (a moto server of its own: readiness and refusals only).


@pytest.mark.terraform
@pytest.mark.xdist_group("plans")
def test_the_emulator_refuses_requests_without_its_key(moto: MotoServer) -> None:
    assert stat.S_IMODE(os.stat(moto.credentials_file).st_mode) == 0o600
    assert moto.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    for key_id in ("testing", "AKIAIOSFODNN7EXAMPLE", moto.credentials.access_key_id[:-1]):
        stranger = boto3.client(
            "s3", endpoint_url=moto.url, verify=False, region_name="us-west-2",
            aws_access_key_id=key_id, aws_secret_access_key=moto.credentials.secret_access_key,
        )  # fmt: skip
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            stranger.list_buckets()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert status_of(f"{moto.url}/")[0] == 403  # unsigned
    for path, method in [("/moto-api/reset", "POST"), ("/moto-api/config", "POST"), ("/moto-api/data.json", "GET"),
                         ("/moto-api/", "GET")]:  # fmt: skip
        signed = {"Authorization": f"AWS4-HMAC-SHA256 Credential={moto.credentials.access_key_id}/x/y/z/aws4_request"}
        assert status_of(f"{moto.url}{path}", method, signed)[0] == 403, path
    nonce = "0f" * 16
    assert status_of(f"{moto.url}/_emulator/ready?nonce={nonce}") == (
        200, ready_proof(moto.credentials.secret_access_key, nonce) + "\n"
    )  # fmt: skip
    assert emulator_answers(moto.url, moto.credentials)
    assert not emulator_answers(moto.url, Credentials(moto.credentials.access_key_id, "another-secret"))
    assert stat.S_IMODE(os.stat(moto.credentials_file.parent / "emulator-port").st_mode) == 0o600
    assert (moto.credentials_file.parent / "emulator-port").read_text() == f"{moto.port}\n"


class Impostor(http.server.BaseHTTPRequestHandler):
    """Another local user's server on the emulator's old port: answers every readiness check, keeps what it hears."""

    heard: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.heard.append(self.path)
        body = b"ready\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_scaling_policy_put_again_keeps_one_set_of_alarms(moto: MotoServer) -> None:
    """moto forgets a target-tracking policy's alarms when the policy is put again, and they outlive its
    deletion; the emulator replaces them, as AWS does."""
    ecs, scaling, cloudwatch = moto.client("ecs"), moto.client("application-autoscaling"), moto.client("cloudwatch")
    ecs.create_cluster(clusterName="alarms")
    ecs.register_task_definition(family="alarms", containerDefinitions=[{"name": "c", "image": "nginx", "memory": 128}])
    ecs.create_service(cluster="alarms", serviceName="svc", taskDefinition="alarms", desiredCount=1)
    resource = "service/alarms/svc"
    target = {"ServiceNamespace": "ecs", "ResourceId": resource, "ScalableDimension": "ecs:service:DesiredCount"}
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)

    def alarms() -> list[str]:
        found = cloudwatch.describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource}-")["MetricAlarms"]
        return sorted(alarm["AlarmName"] for alarm in found)

    counts = []
    for value in (50.0, 60.0):
        scaling.put_scaling_policy(PolicyName="cpu", PolicyType="TargetTrackingScaling", **target,
                                   TargetTrackingScalingPolicyConfiguration={"TargetValue": value,
                                   "PredefinedMetricSpecification": {"PredefinedMetricType":
                                                                     "ECSServiceAverageCPUUtilization"}})  # fmt: skip
        counts.append(len(alarms()))
    assert counts[0] > 0 and counts == [counts[0]] * 2
    scaling.delete_scaling_policy(PolicyName="cpu", **target)
    assert alarms() == []


def test_a_second_process_on_the_emulators_port_is_not_taken_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local deploy's emulator stopped on idle; another process now answers on its recorded port (plain
    HTTP here, as any user can serve). The readiness check learns nothing from it, so the driver sends it
    nothing: no key id, no state."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Impostor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        credentials = Credentials.new()
        assert not emulator_answers(url, credentials)
        (tmp_path / "emulator.json").write_text(json.dumps({"url": url, "pid": 1}))
        credentials.write(tmp_path / "emulator-credentials.json")
        monkeypatch.setattr(local.deploy, "EMULATOR_RECORD", tmp_path / "emulator.json")
        monkeypatch.setattr(local.deploy, "EMULATOR_CREDENTIALS", tmp_path / "emulator-credentials.json")
        assert local.deploy.running_emulator() is None
        assert Impostor.heard and all(path.startswith("/_emulator/ready?nonce=") for path in Impostor.heard)
        assert not any(credentials.access_key_id in path or credentials.secret_access_key in path
                       for path in Impostor.heard)  # fmt: skip
    finally:
        server.shutdown()


def test_the_emulator_refuses_a_port_file_that_exists(tmp_path: Path) -> None:
    """The port file is created new (O_EXCL): a file planted in its place is never written through."""
    credentials = Credentials.new()
    credentials.write(tmp_path / "credentials.json")
    (tmp_path / "port").write_text("planted\n")
    done = subprocess.run(
        [sys.executable, str(EMULATOR), "--credentials-file", str(tmp_path / "credentials.json"), "--port-file",
         str(tmp_path / "port"), "--max-minutes", "0.05"],
        capture_output=True, text=True, timeout=60, env=sealed_environment(),
    )  # fmt: skip
    assert done.returncode != 0 and "FileExistsError" in done.stderr
    assert (tmp_path / "port").read_text() == "planted\n"


@pytest.fixture(scope="module")
def sealed_stack(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerraformWorkdir]:
    """The committed synthesis in a working copy whose folder held a lifted-protection override left by a
    killed `make local-down` (the prod table with deletion protection off)."""
    folder = tmp_path_factory.mktemp("sealed") / "store2018"
    folder.mkdir()
    (folder / f"lift_protection{OVERRIDE_SUFFIX}").write_text(json.dumps(lifted_protection_override()))
    reported: list[str] = []
    workdir = TerraformWorkdir(SYNTH_STACK_DIR, folder, moto, report=reported.append)
    workdir.reported = reported  # type: ignore[attr-defined]
    yield workdir
    workdir.close()


@pytest.mark.terraform
@pytest.mark.xdist_group("plans")
def test_a_leftover_override_is_reported_and_not_applied(sealed_stack: TerraformWorkdir) -> None:
    (moved,) = sealed_stack.leftovers
    assert "was left by an interrupted run; it was NOT applied" in sealed_stack.reported[0]  # type: ignore[attr-defined]
    assert moved.exists() and not moved.name.endswith(OVERRIDE_SUFFIX)
    assert sorted(p.name for p in sealed_stack.path.glob(f"*{OVERRIDE_SUFFIX}")) == [f"emulator{OVERRIDE_SUFFIX}"]
    assert SETTINGS.environments["prod"].alb_deletion_protection
    (lb,) = planned_resources(sealed_stack.plan_json("prod"), "aws_lb")
    assert lb["values"]["enable_deletion_protection"] is True


@pytest.mark.terraform
@pytest.mark.xdist_group("plans")
def test_an_exported_profile_changes_nothing(sealed_stack: TerraformWorkdir, tmp_path: Path) -> None:
    """The provider and backend take the run's key from the override file: a profile with other
    credentials (which the emulator would refuse) is never read."""
    config = tmp_path / "aws-config"
    config.write_text("[profile production-admin]\naws_access_key_id = AKIAREALKEY\n"
                      "aws_secret_access_key = real\nregion = eu-west-1\n")  # fmt: skip
    sealed_stack.select_workspace("staging")
    result = sealed_stack.run(
        "plan", "-input=false", "-lock-timeout=60s", check=False,
        extra_env={"AWS_PROFILE": "production-admin", "AWS_CONFIG_FILE": str(config),
                   "AWS_SHARED_CREDENTIALS_FILE": str(config)},
    )  # fmt: skip
    assert result.returncode == 0, result.output
    assert "Plan:" in result.output


@pytest.mark.terraform
@pytest.mark.xdist_group("plans")
def test_a_call_that_escapes_the_emulator_fails_at_once(sealed_stack: TerraformWorkdir) -> None:
    """With one endpoint (STS) not pointed at the emulator, the call goes to the dead proxy and fails."""
    url = sealed_stack.moto.url
    escape = {"provider": {"aws": [{"max_retries": 1,
                                    "endpoints": [{s: url for s in EMULATED_SERVICES if s != "sts"}]}]}}  # fmt: skip
    sealed_stack.select_workspace("staging")
    with sealed_stack.overriding("zz_escape", escape):
        result = sealed_stack.run("plan", "-input=false", "-lock-timeout=60s", check=False, timeout=120)
    assert result.returncode != 0
    said = " ".join(result.output.split())  # Terraform wraps its diagnostics
    assert "https://sts.us-west-2.amazonaws.com/" in said
    assert f"proxyconnect tcp: dial tcp {dead_proxy().removeprefix('http://')}: connect: connection refused" in said
    assert not (sealed_stack.path / f"zz_escape{OVERRIDE_SUFFIX}").exists()


@pytest.mark.terraform
@pytest.mark.xdist_group("plans")
def test_a_working_copy_is_private_and_serves_one_command_at_a_time(sealed_stack: TerraformWorkdir) -> None:
    """The folder holds the run's key (the override, and Terraform's .terraform/ and plans): owner only. A second
    command in it is refused, so that it cannot take the first one's live override files for leftovers."""
    assert stat.S_IMODE(os.stat(sealed_stack.path).st_mode) == 0o700
    with pytest.raises(WorkdirBusy, match=rf"another command \(pid {os.getpid()}\) is using"):
        TerraformWorkdir(SYNTH_STACK_DIR, sealed_stack.path, sealed_stack.moto)
    assert (sealed_stack.path / f"emulator{OVERRIDE_SUFFIX}").exists()  # the first one's, untouched


@pytest.mark.terraform
@pytest.mark.xdist_group("plans")
def test_override_files_end_with_their_run(sealed_stack: TerraformWorkdir) -> None:
    with pytest.raises(KeyboardInterrupt), sealed_stack.overriding("lift_protection", lifted_protection_override()):
        assert (sealed_stack.path / f"lift_protection{OVERRIDE_SUFFIX}").exists()
        raise KeyboardInterrupt  # Ctrl-C during `make local-down`
    assert not (sealed_stack.path / f"lift_protection{OVERRIDE_SUFFIX}").exists()
    emulator_override = sealed_stack.path / f"emulator{OVERRIDE_SUFFIX}"
    assert stat.S_IMODE(os.stat(emulator_override).st_mode) == 0o600  # it carries the run's key
    sealed_stack.close()
    assert list(sealed_stack.path.glob(f"*{OVERRIDE_SUFFIX}")) == []


def test_the_aws_wrapper_refuses_without_an_emulator_and_seals_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m local.deploy aws ...` never lets the CLI fall back to the caller's AWS settings."""
    import shutil
    import subprocess

    from local import deploy
    from local.emulated import Credentials, EmulatorEndpoint

    monkeypatch.setattr(deploy, "running_emulator", lambda: None)
    assert deploy.aws_cli(["s3", "ls"]) == 1  # no emulator: nothing is run at all

    calls: list[tuple[list[str], dict[str, str]]] = []
    endpoint = EmulatorEndpoint("https://127.0.0.1:4566", Credentials("LOCALKEY", "secret"))
    monkeypatch.setattr(deploy, "running_emulator", lambda: (endpoint, 1))
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/aws")

    def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        calls.append((args, env))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    monkeypatch.setenv("https_proxy", "http://proxy.example.com:3128")
    assert deploy.aws_cli(["s3", "ls"]) == 0
    ((args, env),) = calls
    assert args == ["aws", "--endpoint-url", "https://127.0.0.1:4566", "--no-verify-ssl", "s3", "ls"]
    assert "AWS_PROFILE" not in env and "https_proxy" not in env
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_CONFIG_FILE"], env["HTTPS_PROXY"]) == (
        "LOCALKEY",
        os.devnull,
        dead_proxy(),
    )


def test_a_runs_key_never_looks_like_an_aws_key() -> None:
    """The plans the security gate scans carry the run's key in their provider configuration: checkov's
    CKV_AWS_41 patterns (checkov/common/models/consts.py, 3.3.30) must never match it."""
    access_key_pattern = re.compile("(?<![A-Z0-9])[A-Z0-9]{20}(?![A-Z0-9])")
    secret_key_pattern = re.compile("(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
    for _ in range(200):
        key = Credentials.new()
        assert access_key_pattern.match(key.access_key_id) is None
        assert secret_key_pattern.match(key.secret_access_key) is None


# The call record (`--record`): the operation of each signed request, as the front sees it.


def signed(service: str, **environ: Any) -> dict[str, Any]:
    credential = f"AWS4-HMAC-SHA256 Credential=LOCALKEY/20261206/us-west-2/{service}/aws4_request, SignedHeaders=h"
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "HTTP_AUTHORIZATION": credential, **environ}


@pytest.mark.parametrize(
    ("environ", "operation"),
    [
        ({"HTTP_X_AMZ_TARGET": "TrentService.ScheduleKeyDeletion"}, "ScheduleKeyDeletion"),
        ({"QUERY_STRING": "Action=DescribeVpcs&Version=2016-11-15"}, "DescribeVpcs"),
        ({"PATH_INFO": "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"}, "PutMetricAlarm"),
        ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/env:/staging/key.tflock", "QUERY_STRING": "x-id=PutObject"},
         "PutObject"),
        ({"REQUEST_METHOD": "HEAD", "PATH_INFO": "/bucket/env:/staging/key"}, "HeadObject"),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket", "QUERY_STRING": "list-type=2&prefix=env%3A%2F"},
         "ListObjectsV2"),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket", "QUERY_STRING": "lifecycle="},
         "GetBucketLifecycleConfiguration"),  # not the deprecated GetBucketLifecycle of the same path
        ({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/bucket/key", "QUERY_STRING": "uploadId=1"},
         "AbortMultipartUpload"),
        ({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/bucket/key"}, "DeleteObject"),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, "ListBuckets"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
def test_the_record_names_each_requests_operation(environ: dict[str, Any], operation: str) -> None:
    service = "kms" if "HTTP_X_AMZ_TARGET" in environ or "/operation/" in environ.get("PATH_INFO", "") else "s3"
    assert operation_of(signed(service, **environ), service) == operation


def test_route53s_rest_paths_are_named_by_botocores_model() -> None:
    change = signed("route53", PATH_INFO="/2013-04-01/hostedzone/Z123/rrset/")
    assert operation_of(change, "route53") == "ChangeResourceRecordSets"
    assert operation_of(signed("route53", REQUEST_METHOD="GET", PATH_INFO="/2013-04-01/change/C1"), "route53") == (
        "GetChange")  # fmt: skip


def test_a_query_requests_form_body_is_read_for_its_action_and_put_back() -> None:
    body = b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16"
    environ = signed("ec2", CONTENT_TYPE="application/x-www-form-urlencoded", CONTENT_LENGTH=str(len(body)),
                     **{"wsgi.input": io.BytesIO(body)})  # fmt: skip
    assert operation_of(environ, "ec2") == "CreateVpc"
    assert environ["wsgi.input"].read() == body  # moto still reads the whole request


def test_the_front_records_signed_calls_with_their_phase_and_status(tmp_path: Path) -> None:
    record = CallRecord(tmp_path / "calls.jsonl")
    app = Sealed(lambda env, start: (start("404 Not Found", []), [b""])[1], "LOCALKEY", "local-secret", record)
    environ = signed("kms", HTTP_X_AMZ_TARGET="TrentService.DescribeKey",
                     HTTP_USER_AGENT="APN/1.0 HashiCorp/1.0 Terraform/1.11.4 store2018-phase/plan")  # fmt: skip
    list(app(environ, lambda status, headers: None))
    list(app({**signed("kms"), "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=OTHER/x/y/kms/aws4_request"},
             lambda status, headers: None))  # refused: not recorded  # fmt: skip
    s3 = signed("s3", REQUEST_METHOD="HEAD", PATH_INFO="/state/env:/prod/key", HTTP_USER_AGENT="store2018-phase/x-y")
    list(app(s3, lambda status, headers: None))
    assert [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()] == [
        {"phase": "plan", "service": "kms", "operation": "DescribeKey", "status": 404},
        {"phase": "x-y", "service": "s3", "operation": "HeadObject", "status": 404,
         "resource": "arn:aws:s3:::state/env:/prod/key"},
    ]  # fmt: skip
