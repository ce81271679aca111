"""Asynchronous invocation: durability across kill -9, retries, event age, destinations,
dead-letter targets, event-invoke configurations and throttling.

The functions run in the process sandbox, so that they can append what they received to a
file in a directory the test created (passed as OUT_DIR)."""

import json
import re
import signal
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function

RECORDER = """
import json, os

def handler(event, context):
    with open(os.path.join(os.environ["OUT_DIR"], "calls.jsonl"), "a") as out:
        out.write(json.dumps({"request_id": context.aws_request_id, "event": event}) + "\\n")
    return {"seen": event}
"""

# Fails until it has run FAILURES times in total, counting its runs in a file.
FLAKY = """
import json, os

def handler(event, context):
    path = os.path.join(os.environ["OUT_DIR"], "calls.jsonl")
    with open(path, "a") as out:
        out.write(json.dumps({"request_id": context.aws_request_id, "event": event}) + "\\n")
    with open(path) as done:
        runs = sum(1 for _ in done)
    if runs <= int(os.environ["FAILURES"]):
        raise RuntimeError(f"failing run {runs}")
    return {"runs": runs}
"""


SLOW_RECORDER = RECORDER.replace(
    "def handler(event, context):", "def handler(event, context):\n    import time; time.sleep(0.2)"
)


def arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def calls(directory):
    path = directory / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_calls(directory, count, deadline_seconds=60):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        found = calls(directory)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} calls in {directory}, found {len(calls(directory))}")


def metric(server, name):
    text = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def wait_for_empty_queue(server, name, deadline_seconds=60):
    """Waits until every event of the function has finished, so that no run can follow."""
    deadline = time.monotonic() + deadline_seconds
    while metric(server, f'flicker_async_queue_depth{{function="{name}"}}') != 0:
        assert time.monotonic() < deadline, f"events of {name} were still queued after {deadline_seconds} s"
        time.sleep(0.1)


def make_function(client, name, code, directory, **variables):
    directory.mkdir(parents=True, exist_ok=True)
    env = {"OUT_DIR": str(directory), **{k: str(v) for k, v in variables.items()}}
    create_function(client, name, {"app.py": code}, Environment={"Variables": env})


def invoke_event(client, name, payload):
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


@pytest.fixture
def async_server(start_server):
    return start_server("--sandbox", "process", "--async-retry-scale", "0.01")


def test_event_runs_with_its_request_id(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    request_id = invoke_event(client, function_name, {"n": 1})
    [call] = wait_for_calls(tmp_path / "out", 1)
    assert call["request_id"] == request_id
    assert call["event"] == {"n": 1}
    assert metric(async_server, "flicker_async_events_accepted_total") >= 1


def test_invoke_async_is_durable_and_answers_202(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    response = client.invoke_async(FunctionName=function_name, InvokeArgs=b'{"legacy": true}')
    assert response["Status"] == 202
    [call] = wait_for_calls(tmp_path / "out", 1)
    assert call["event"] == {"legacy": True}
    assert call["request_id"] == response["ResponseMetadata"]["RequestId"]


def test_retries_function_that_fails_twice(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, FLAKY, tmp_path / "out", FAILURES=2)
    request_id = invoke_event(client, function_name, {"k": 2})
    found = wait_for_calls(tmp_path / "out", 3)
    assert [call["request_id"] for call in found] == [request_id] * 3
    assert metric(async_server, "flicker_async_events_retried_total") == 2
    wait_for_empty_queue(async_server, function_name)
    assert len(calls(tmp_path / "out")) == 3


def test_success_destination_gets_record(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "source")
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnSuccess": {"Destination": arn(f"{function_name}-dest")}}
    )
    request_id = invoke_event(client, function_name, {"ok": 1})
    [delivery] = wait_for_calls(tmp_path / "dest", 1)
    record = delivery["event"]
    assert record["version"] == "1.0"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["functionArn"] == f"{arn(function_name)}:$LATEST"
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"ok": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"seen": {"ok": 1}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])


def test_retries_exhausted_goes_to_failure_destination(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, FLAKY, tmp_path / "source", FAILURES=100)
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}}
    )
    request_id = invoke_event(client, function_name, {"fail": True})
    [delivery] = wait_for_calls(tmp_path / "dest", 1)
    record = delivery["event"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "failing run 3"
    assert len(calls(tmp_path / "source")) == 3
    assert metric(async_server, "flicker_async_events_dead_lettered_total") == 1


def test_maximum_retry_attempts_zero_runs_once(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, FLAKY, tmp_path / "source", FAILURES=100)
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}},
    )
    invoke_event(client, function_name, {"once": True})
    [delivery] = wait_for_calls(tmp_path / "dest", 1)
    assert delivery["event"]["requestContext"]["approximateInvokeCount"] == 1
    assert len(calls(tmp_path / "source")) == 1


def test_dead_letter_function_gets_event(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, f"{function_name}-dlq", RECORDER, tmp_path / "dlq")
    make_function(client, function_name, FLAKY, tmp_path / "source", FAILURES=100)
    client.update_function_configuration(
        FunctionName=function_name, DeadLetterConfig={"TargetArn": arn(f"{function_name}-dlq")}
    )
    client.put_function_event_invoke_config(FunctionName=function_name, MaximumRetryAttempts=0)
    invoke_event(client, function_name, {"lost": 1})
    [delivery] = wait_for_calls(tmp_path / "dlq", 1)
    assert delivery["event"] == {"lost": 1}


# The minimum MaximumEventAgeInSeconds is 60, so this test takes a minute.
def test_event_age_exceeded_goes_to_failure_destination(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process", "--async-retry-scale", "10")
    client = server.client()
    make_function(client, function_name, FLAKY, tmp_path / "source", FAILURES=100)
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name,
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}},
    )
    request_id = invoke_event(client, function_name, {"old": True})
    [delivery] = wait_for_calls(tmp_path / "dest", 1, deadline_seconds=150)
    record = delivery["event"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(calls(tmp_path / "source")) == 1
    assert metric(server, "flicker_async_events_expired_total") == 1


def test_throttled_events_wait_and_run(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process", "--concurrency-limit", "1")
    client = server.client()
    make_function(client, function_name, SLOW_RECORDER, tmp_path / "out")
    sent = {invoke_event(client, function_name, {"i": i}) for i in range(12)}
    found = wait_for_calls(tmp_path / "out", 12, deadline_seconds=120)
    assert {call["request_id"] for call in found} == sent
    assert metric(server, "flicker_async_events_throttled_total") > 0
    assert metric(server, "flicker_async_events_succeeded_total") == 12


def test_queue_depth_metric_is_per_function(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    name = f'flicker_async_queue_depth{{function="{function_name}"}}'
    assert metric(async_server, name) is None
    invoke_event(client, function_name, {})
    wait_for_calls(tmp_path / "out", 1)
    wait_for_empty_queue(async_server, function_name)
    assert metric(async_server, name) == 0


def send_events(server, name, stop, accepted, lock):
    client = server.client(read_timeout=10)
    while not stop.is_set():
        try:
            response = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"durable": 1}')
        except Exception:  # the server was killed: this event got no 202
            return
        if response["StatusCode"] == 202:
            with lock:
                accepted.append(response["ResponseMetadata"]["RequestId"])


def test_kill_9_loses_no_accepted_event(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process")
    client = server.client()
    # Slower than the senders, so that most accepted events are still queued at the kill.
    make_function(client, function_name, SLOW_RECORDER, tmp_path / "out")
    accepted, lock, stop = [], threading.Lock(), threading.Event()
    threads = [threading.Thread(target=send_events, args=(server, function_name, stop, accepted, lock)) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(accepted) < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(accepted) >= 3000
    assert len(calls(tmp_path / "out")) < len(accepted)

    server.start()
    expected = set(accepted)
    deadline = time.monotonic() + 240
    delivered = set()
    while time.monotonic() < deadline:
        delivered = {call["request_id"] for call in calls(tmp_path / "out")}
        if expected <= delivered:
            break
        time.sleep(0.5)
    missing = expected - delivered
    assert not missing, f"{len(missing)} of {len(expected)} accepted events were never delivered"
    after_restart = invoke_event(server.client(), function_name, {"after": "restart"})
    deadline = time.monotonic() + 60
    while after_restart not in {call["request_id"] for call in calls(tmp_path / "out")}:
        assert time.monotonic() < deadline, "an event accepted after the restart was not delivered"
        time.sleep(0.2)


def test_graceful_stop_keeps_running_events(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process")
    client = server.client()
    make_function(client, function_name, SLOW_RECORDER, tmp_path / "out")
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}},
    )
    sent = {invoke_event(client, function_name, {"i": i}) for i in range(100)}
    server.restart()
    deadline = time.monotonic() + 120
    while not sent <= {call["request_id"] for call in calls(tmp_path / "out")}:
        assert time.monotonic() < deadline, "events accepted before a graceful stop were not delivered"
        time.sleep(0.2)
    assert calls(tmp_path / "dest") == []


def test_event_invoke_config_lifecycle(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    put = client.put_function_event_invoke_config(FunctionName=function_name, MaximumRetryAttempts=1)
    assert put["FunctionArn"] == f"{arn(function_name)}:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert put["LastModified"].year >= 2024

    updated = client.update_function_event_invoke_config(FunctionName=function_name, MaximumEventAgeInSeconds=120)
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["MaximumEventAgeInSeconds"] == 120

    got = client.get_function_event_invoke_config(FunctionName=function_name, Qualifier="$LATEST")
    assert got["MaximumEventAgeInSeconds"] == 120

    replaced = client.put_function_event_invoke_config(FunctionName=function_name, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in replaced

    listed = client.list_function_event_invoke_configs(FunctionName=function_name)["FunctionEventInvokeConfigs"]
    assert [item["FunctionArn"] for item in listed] == [f"{arn(function_name)}:$LATEST"]

    client.delete_function_event_invoke_config(FunctionName=function_name)
    with pytest.raises(ClientError) as error:
        client.get_function_event_invoke_config(FunctionName=function_name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.value.response["Error"]["Message"] == (
        f"The function {arn(function_name)}:$LATEST doesn't have an EventInvokeConfig"
    )
    assert client.list_function_event_invoke_configs(FunctionName=function_name)["FunctionEventInvokeConfigs"] == []


def test_event_invoke_config_survives_restart(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    client.put_function_event_invoke_config(FunctionName=function_name, MaximumRetryAttempts=0)
    async_server.restart()
    got = async_server.client().get_function_event_invoke_config(FunctionName=function_name)
    assert got["MaximumRetryAttempts"] == 0


def client_error(call, **kwargs):
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    response = error.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status, response["Error"]["Code"], response["Error"]["Message"]


def test_event_invoke_config_errors(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    put = client.put_function_event_invoke_config

    assert client_error(put, FunctionName="does-not-exist", MaximumRetryAttempts=1) == (
        404, "ResourceNotFoundException", "The function doesn't exist."
    )
    assert client_error(put, FunctionName=function_name) == (
        400, "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    )
    missing = arn("doesnotexist")
    assert client_error(put, FunctionName=function_name, DestinationConfig={"OnSuccess": {"Destination": missing}}) == (
        400, "InvalidParameterValueException", f"The destination ARN {missing} is invalid."
    )
    itself = {"OnFailure": {"Destination": arn(function_name)}}
    assert client_error(put, FunctionName=function_name, DestinationConfig=itself) == (
        400, "InvalidParameterValueException", "You can't specify the function as a destination for itself."
    )
    iam = f"arn:aws:iam:{REGION}:{ACCOUNT}:function:{function_name}"
    status, code, message = client_error(put, FunctionName=function_name, DestinationConfig={"OnSuccess": {"Destination": iam}})
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={iam}), "
        "onFailure=null) is invalid."
    )
    bad = f"arn:aws:_-/!lambda:{REGION}:{ACCOUNT}:function:{function_name}"
    status, code, message = client_error(put, FunctionName=function_name, DestinationConfig={"OnFailure": {"Destination": bad}})
    assert (status, code) == (400, "ValidationException")
    assert f"Value '{bad}' at 'destinationConfig.onFailure.destination'" in message

    status, code, message = client_error(
        client.update_function_event_invoke_config, FunctionName=function_name, MaximumRetryAttempts=1
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"The function {arn(function_name)}:$LATEST doesn't have an EventInvokeConfig"
    assert client_error(client.list_function_event_invoke_configs, FunctionName="does-not-exist") == (
        404, "ResourceNotFoundException", "The function doesn't exist."
    )
    status, code, message = client_error(
        client.delete_function_event_invoke_config, FunctionName="does-not-exist"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"The function {arn('does-not-exist')}:$LATEST doesn't have an EventInvokeConfig"


def test_event_invoke_config_ranges(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    unchecked = boto3.client(
        "lambda", endpoint_url=async_server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    put = unchecked.put_function_event_invoke_config
    status, code, message = client_error(put, FunctionName=function_name, MaximumEventAgeInSeconds=59)
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 60"
    )
    status, code, message = client_error(put, FunctionName=function_name, MaximumRetryAttempts=3)
    assert (status, code) == (400, "ValidationException")
    assert "Value '3' at 'maximumRetryAttempts'" in message

    code, output, stderr = async_server.aws(
        "lambda", "put-function-event-invoke-config", "--function-name", function_name,
        "--maximum-retry-attempts", "2", "--maximum-event-age-in-seconds", "21600", check=True,
    )
    assert output["MaximumRetryAttempts"] == 2
    assert output["MaximumEventAgeInSeconds"] == 21600
    code, output, _ = async_server.aws(
        "lambda", "list-function-event-invoke-configs", "--function-name", function_name, check=True
    )
    assert len(output["FunctionEventInvokeConfigs"]) == 1


def test_delete_function_deletes_its_event_invoke_config(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    client.put_function_event_invoke_config(FunctionName=function_name, MaximumRetryAttempts=0)
    client.delete_function(FunctionName=function_name)
    make_function(client, function_name, RECORDER, tmp_path / "out")
    status, code, _ = client_error(client.get_function_event_invoke_config, FunctionName=function_name)
    assert (status, code) == (404, "ResourceNotFoundException")


def test_dead_letter_config_round_trip(async_server, function_name, tmp_path):
    client = async_server.client()
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead-letters"
    directory = tmp_path / "out"
    directory.mkdir()
    created = create_function(
        client, function_name, {"app.py": RECORDER}, DeadLetterConfig={"TargetArn": queue},
        Environment={"Variables": {"OUT_DIR": str(directory)}},
    )
    assert created["DeadLetterConfig"] == {"TargetArn": queue}
    assert client.get_function_configuration(FunctionName=function_name)["DeadLetterConfig"] == {"TargetArn": queue}
    updated = client.update_function_configuration(FunctionName=function_name, DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in updated
    async_server.restart()
    configuration = async_server.client().get_function_configuration(FunctionName=function_name)
    assert "DeadLetterConfig" not in configuration

    status, code, message = client_error(
        client.update_function_configuration, FunctionName=function_name, DeadLetterConfig={"TargetArn": "queue"}
    )
    assert (status, code) == (400, "ValidationException")
    assert "Value 'queue' at 'deadLetterConfig.targetArn'" in message


def test_event_payload_limits(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    too_large = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    with pytest.raises(ClientError) as error:
        client.invoke(FunctionName=function_name, InvocationType="Event", Payload=too_large)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error.value.response["Error"]["Code"] == "RequestTooLargeException"

    with pytest.raises(ClientError) as error:
        client.invoke_async(FunctionName=function_name, InvokeArgs=json.dumps({"pad": "x" * 300_000}).encode())
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error.value.response["Error"]["Code"] == "RequestTooLargeException"

    with pytest.raises(ClientError) as error:
        client.invoke(FunctionName=function_name, InvocationType="Event", Payload=b"{not json")
    assert error.value.response["Error"]["Code"] == "InvalidRequestContentException"

    near_limit = json.dumps({"pad": "x" * (1000 * 1024)}).encode()
    request_id = invoke_event_raw(client, function_name, near_limit)
    [call] = wait_for_calls(tmp_path / "out", 1)
    assert call["request_id"] == request_id
    assert len(call["event"]["pad"]) == 1000 * 1024
    assert metric(async_server, "flicker_async_events_accepted_total") == 1


def invoke_event_raw(client, name, payload):
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def test_event_invoke_config_per_version(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    version = client.publish_version(FunctionName=function_name)["Version"]
    client.put_function_event_invoke_config(FunctionName=function_name, MaximumRetryAttempts=1)
    put = client.put_function_event_invoke_config(
        FunctionName=function_name, Qualifier=version, MaximumEventAgeInSeconds=120
    )
    assert put["FunctionArn"] == f"{arn(function_name)}:{version}"

    got = client.get_function_event_invoke_config(FunctionName=f"{function_name}:{version}")
    assert got["MaximumEventAgeInSeconds"] == 120
    assert "MaximumRetryAttempts" not in got
    listed = client.list_function_event_invoke_configs(FunctionName=function_name)["FunctionEventInvokeConfigs"]
    assert sorted(item["FunctionArn"] for item in listed) == [
        f"{arn(function_name)}:$LATEST",
        f"{arn(function_name)}:{version}",
    ]

    request_id = invoke_event(client, f"{function_name}:{version}", {"versioned": True})
    [call] = wait_for_calls(tmp_path / "out", 1)
    assert call["request_id"] == request_id


def test_reserved_concurrency_zero_sends_events_to_failure_destination(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process", "--async-retry-scale", "0.01")
    client = server.client()
    make_function(client, function_name, RECORDER, tmp_path / "source")
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}}
    )
    client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=0)
    request_id = invoke_event(client, function_name, {"blocked": True})

    [delivery] = wait_for_calls(tmp_path / "dest", 1)
    record = delivery["event"]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"blocked": True}
    assert calls(tmp_path / "source") == []


def test_deleting_qualifier_deletes_its_config(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "out")
    version = client.publish_version(FunctionName=function_name)["Version"]
    client.create_alias(FunctionName=function_name, Name="live", FunctionVersion=version)
    client.put_function_event_invoke_config(FunctionName=function_name, Qualifier=version, MaximumRetryAttempts=0)
    client.put_function_event_invoke_config(FunctionName=function_name, Qualifier="live", MaximumRetryAttempts=1)

    # DeleteFunction with an alias as qualifier deletes nothing, so the alias keeps its configuration.
    client.delete_function(FunctionName=function_name, Qualifier="live")
    assert client.get_function_event_invoke_config(FunctionName=function_name, Qualifier="live")[
        "MaximumRetryAttempts"
    ] == 1

    client.delete_alias(FunctionName=function_name, Name="live")
    client.delete_function(FunctionName=function_name, Qualifier=version)
    listed = client.list_function_event_invoke_configs(FunctionName=function_name)["FunctionEventInvokeConfigs"]
    assert listed == []

    # A new alias of the same name starts without the deleted alias's configuration.
    client.create_alias(FunctionName=function_name, Name="live", FunctionVersion="$LATEST")
    status, code, _ = client_error(client.get_function_event_invoke_config, FunctionName=function_name, Qualifier="live")
    assert (status, code) == (404, "ResourceNotFoundException")
    async_server.restart()
    client = async_server.client()
    assert client.list_function_event_invoke_configs(FunctionName=function_name)["FunctionEventInvokeConfigs"] == []


# The minimum MaximumEventAgeInSeconds is 60, so this test takes a minute.
def test_huge_retry_scale_waits_until_the_event_expires(start_server, function_name, tmp_path):
    server = start_server("--sandbox", "process", "--async-retry-scale", "1e300")
    client = server.client()
    make_function(client, function_name, FLAKY, tmp_path / "source", FAILURES=100)
    make_function(client, f"{function_name}-dest", RECORDER, tmp_path / "dest")
    client.put_function_event_invoke_config(
        FunctionName=function_name,
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn(f"{function_name}-dest")}},
    )
    request_id = invoke_event(client, function_name, {"scale": "huge"})
    [delivery] = wait_for_calls(tmp_path / "dest", 1, deadline_seconds=150)
    assert delivery["event"]["requestContext"]["requestId"] == request_id
    assert delivery["event"]["requestContext"]["condition"] == "EventAgeExceeded"
    assert "panicked" not in server.log()


def test_destination_chain_logs_each_event_on_its_own(async_server, function_name, tmp_path):
    client = async_server.client()
    make_function(client, function_name, RECORDER, tmp_path / "first")
    make_function(client, f"{function_name}-next", RECORDER, tmp_path / "next")
    make_function(client, f"{function_name}-gone", RECORDER, tmp_path / "gone")
    client.put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnSuccess": {"Destination": arn(f"{function_name}-next")}}
    )
    client.put_function_event_invoke_config(
        FunctionName=f"{function_name}-next",
        DestinationConfig={"OnSuccess": {"Destination": arn(f"{function_name}-gone")}},
    )
    client.delete_function(FunctionName=f"{function_name}-gone")
    invoke_event(client, function_name, {"chain": 1})
    wait_for_calls(tmp_path / "next", 1)
    deadline = time.monotonic() + 60
    while "sending an asynchronous invocation record failed" not in async_server.log():
        assert time.monotonic() < deadline, "the failed send to a deleted function was not logged"
        time.sleep(0.1)
    # The event of the second function is not logged inside the span of the first one.
    assert not re.search(r"async_event\{[^\n]*async_event\{", async_server.log())
