"""Asynchronous invocation records sent to queues of the built-in queue service: the
dead-letter queue and SQS destinations, read back with `aws sqs receive-message`."""

import json
import time

import pytest

from conftest import ACCOUNT, REGION, create_function

FAILING = """
def handler(event, context):
    raise RuntimeError("intentional failure")
"""

SUCCEEDING = """
def handler(event, context):
    return {"echo": event}
"""


@pytest.fixture
def async_server(start_server):
    return start_server("--async-retry-scale", "0.01")


def create_queue(server, name):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    return url, arn


def receive_with_cli(server, url, deadline_seconds=60):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        _, output, _ = server.aws(
            "sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
            "--wait-time-seconds", "1", check=True,
        )
        messages = (output or {}).get("Messages", [])
        if messages:
            return messages
    raise AssertionError(f"no message arrived in {url} within {deadline_seconds} s")


def invoke_event(client, name, payload):
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def test_dead_letter_queue_receives_failed_event(async_server, function_name):
    client = async_server.client()
    url, queue_arn = create_queue(async_server, f"{function_name}-dlq")
    create_function(client, function_name, {"app.py": FAILING}, DeadLetterConfig={"TargetArn": queue_arn})
    client.put_function_event_invoke_config(FunctionName=function_name, MaximumRetryAttempts=0)
    request_id = invoke_event(client, function_name, {"raise_error": 1})

    [message] = receive_with_cli(async_server, url)
    assert json.loads(message["Body"]) == {"raise_error": 1}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "intentional failure"}


def test_queue_destination_receives_success_record(async_server, function_name):
    client = async_server.client()
    url, queue_arn = create_queue(async_server, f"{function_name}-ok")
    create_function(client, function_name, {"app.py": SUCCEEDING})
    client.put_function_event_invoke_config(
        FunctionName=function_name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    request_id = invoke_event(client, function_name, {"n": 1})

    [message] = receive_with_cli(async_server, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"n": 1}
    assert record["responsePayload"] == {"echo": {"n": 1}}


def test_queue_destination_receives_failure_record(async_server, function_name):
    client = async_server.client()
    url, queue_arn = create_queue(async_server, f"{function_name}-failed")
    create_function(client, function_name, {"app.py": FAILING})
    client.put_function_event_invoke_config(
        FunctionName=function_name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    request_id = invoke_event(client, function_name, {"n": 2})

    [message] = receive_with_cli(async_server, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "intentional failure"


def test_missing_destination_queue_is_rejected(async_server, function_name):
    client = async_server.client()
    create_function(client, function_name, {"app.py": SUCCEEDING})
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{function_name}-missing"
    with pytest.raises(client.exceptions.InvalidParameterValueException) as error:
        client.put_function_event_invoke_config(
            FunctionName=function_name, DestinationConfig={"OnFailure": {"Destination": missing}}
        )
    assert error.value.response["Error"]["Message"] == f"The destination ARN {missing} is invalid."
