"""Event source mappings that feed queue messages to functions: the control plane through
boto3 and the AWS CLI, and real pollers draining queues into functions that record what they
receive in a file of the test's temporary directory."""

import hashlib
import json
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function

NOT_FOUND = "The resource you requested does not exist."

# Appends every record to records.jsonl in OUT_DIR and reports the records whose body
# contains "fail" as failed items.
RECORDER = """
import json
import os


def handler(event, context):
    failures = []
    with open(os.path.join(os.environ["OUT_DIR"], "records.jsonl"), "a") as out:
        for record in event["Records"]:
            out.write(json.dumps(record) + "\\n")
            if "fail" in record["body"]:
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""

# Records when each invocation starts and ends, so that the test can count overlaps.
SLOW_RECORDER = """
import json
import os
import time


def handler(event, context):
    path = os.path.join(os.environ["OUT_DIR"], "spans.jsonl")
    start = time.time()
    time.sleep(0.3)
    with open(path, "a") as out:
        out.write(json.dumps({"start": start, "end": time.time(), "count": len(event["Records"])}) + "\\n")
    return {}
"""


def poll(condition, timeout=60, interval=0.1):
    """Calls `condition` until it returns something true, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(excinfo):
    error = excinfo.value.response["Error"]
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


def make_queue(sqs, name=None, **attributes):
    url = sqs.create_queue(QueueName=name or unique("q"), Attributes={k: str(v) for k, v in attributes.items()})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def unvalidated_client(server):
    """A Lambda client that sends out-of-range values instead of rejecting them itself."""
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}),
    )


def queue_counts(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def read_records(directory):
    path = directory / "records.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


@pytest.fixture
def idle_function(lambda_client, function_name):
    create_function(lambda_client, function_name, {"app.py": "def handler(event, context):\n    return {}\n"})
    return function_name


@pytest.fixture
def recorder(tmp_path):
    """Starts a server whose functions may write host files, with a recording function."""

    def start(start_server, code=RECORDER, **kwargs):
        server = start_server("--sandbox", "process")
        lam, sqs = server.client(), server.client("sqs")
        name = unique("consumer")
        create_function(lam, name, {"app.py": code}, Environment={"Variables": {"OUT_DIR": str(tmp_path)}}, **kwargs)
        return server, lam, sqs, name

    return start


# --- control plane ---------------------------------------------------------------------------


def test_create_answers_creating_then_enabled(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    created = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == []
    assert created["EventSourceArn"] == queue_arn
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{idle_function}"
    assert created["EventSourceMappingArn"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{created['UUID']}"
    )
    assert "FilterCriteria" not in created
    assert abs(created["LastModified"].timestamp() - time.time()) < 600

    fetched = lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert fetched["State"] == "Enabled"
    assert fetched["UUID"] == created["UUID"]


def test_list_filters_by_function_and_source(lambda_client, sqs, idle_function):
    _, first_arn = make_queue(sqs)
    _, second_arn = make_queue(sqs)
    first = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=first_arn)
    second = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=second_arn)

    by_function = lambda_client.list_event_source_mappings(FunctionName=idle_function)["EventSourceMappings"]
    assert sorted(m["UUID"] for m in by_function) == sorted([first["UUID"], second["UUID"]])
    by_source = lambda_client.list_event_source_mappings(EventSourceArn=second_arn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_source] == [second["UUID"]]
    both = lambda_client.list_event_source_mappings(FunctionName=idle_function, EventSourceArn=first_arn)
    assert [m["UUID"] for m in both["EventSourceMappings"]] == [first["UUID"]]


def test_list_pages_with_marker(lambda_client, sqs, idle_function):
    created = set()
    for _ in range(3):
        _, arn = make_queue(sqs)
        created.add(lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=arn)["UUID"])
    first = lambda_client.list_event_source_mappings(FunctionName=idle_function, MaxItems=2)
    assert len(first["EventSourceMappings"]) == 2
    assert "NextMarker" in first
    rest = lambda_client.list_event_source_mappings(FunctionName=idle_function, Marker=first["NextMarker"])
    assert "NextMarker" not in rest
    seen = [m["UUID"] for m in first["EventSourceMappings"] + rest["EventSourceMappings"]]
    assert sorted(seen) == sorted(created)


def test_delete_answers_deleting_then_not_found(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    created = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    deleted = lambda_client.delete_event_source_mapping(UUID=created["UUID"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as excinfo:
        lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert error_of(excinfo) == (404, "ResourceNotFoundException", NOT_FOUND)
    listed = lambda_client.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert listed == []


def test_unknown_uuid_is_not_found(lambda_client):
    missing = str(uuid.uuid4())
    operations = [
        lambda: lambda_client.get_event_source_mapping(UUID=missing),
        lambda: lambda_client.update_event_source_mapping(UUID=missing, BatchSize=5),
        lambda: lambda_client.delete_event_source_mapping(UUID=missing),
    ]
    for operation in operations:
        with pytest.raises(ClientError) as excinfo:
            operation()
        assert error_of(excinfo) == (404, "ResourceNotFoundException", NOT_FOUND)


def test_create_rejects_missing_function(lambda_client, sqs):
    _, queue_arn = make_queue(sqs)
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(FunctionName=unique("missing"), EventSourceArn=queue_arn)
    assert error_of(excinfo) == (400, "InvalidParameterValueException", "Function does not exist")


def test_create_rejects_missing_queue(lambda_client, idle_function):
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(
            FunctionName=idle_function, EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('absent')}"
        )
    assert error_of(excinfo) == (
        400,
        "InvalidParameterValueException",
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
        "SQS Error Message: The specified queue does not exist.",
    )


def test_create_rejects_duplicate(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    first = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    assert error_of(excinfo) == (
        409,
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {queue_arn} ") and function (" {idle_function} ") already '
        f"exists. Please update or delete the existing mapping with UUID {first['UUID']}",
    )


@pytest.mark.parametrize(
    "source",
    [
        f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2026-01-01T00:00:00.000",
        f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/orders/1",
    ],
)
def test_create_rejects_unsupported_sources(lambda_client, idle_function, source):
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=source)
    status, code, message = error_of(excinfo)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert source in message
    assert "SQS" in message


def test_create_rejects_self_managed_kafka(lambda_client, idle_function):
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(
            FunctionName=idle_function,
            Topics=["orders"],
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092"]}},
        )
    status, code, message = error_of(excinfo)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "Kafka" in message
    assert "SQS" in message


def test_create_without_source_is_unrecognized(lambda_client, idle_function):
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(FunctionName=idle_function)
    assert error_of(excinfo) == (400, "InvalidParameterValueException", "Unrecognized event source.")


def test_create_rejects_out_of_range_values(server, sqs, idle_function):
    client = unvalidated_client(server)
    _, queue_arn = make_queue(sqs)
    cases = [
        ({"BatchSize": 0}, "ValidationException", "Value '0' at 'batchSize'"),
        ({"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 1}, "ValidationException", "Value '10001' at 'batchSize'"),
        ({"MaximumBatchingWindowInSeconds": 301}, "ValidationException", "'maximumBatchingWindowInSeconds'"),
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, "ValidationException", "'scalingConfig.maximumConcurrency'"),
        ({"ScalingConfig": {"MaximumConcurrency": 1001}}, "ValidationException", "'scalingConfig.maximumConcurrency'"),
        ({"FunctionResponseTypes": ["Everything"]}, "ValidationException", "ReportBatchItemFailures"),
    ]
    for extra, code, fragment in cases:
        with pytest.raises(ClientError) as excinfo:
            client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn, **extra)
        status, actual_code, message = error_of(excinfo)
        assert (status, actual_code) == (400, code), extra
        assert fragment in message, (extra, message)


def test_large_batch_needs_window(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    message = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn, BatchSize=11)
    assert error_of(excinfo) == (400, "InvalidParameterValueException", message)

    created = lambda_client.create_event_source_mapping(
        FunctionName=idle_function, EventSourceArn=queue_arn, BatchSize=1000, MaximumBatchingWindowInSeconds=2
    )
    assert (created["BatchSize"], created["MaximumBatchingWindowInSeconds"]) == (1000, 2)
    with pytest.raises(ClientError) as excinfo:
        lambda_client.update_event_source_mapping(UUID=created["UUID"], MaximumBatchingWindowInSeconds=0)
    assert error_of(excinfo) == (400, "InvalidParameterValueException", message)


@pytest.mark.parametrize(
    "pattern",
    ["simple string", "None", '{"body": "value"}', '{"body": {"key": "value"}}', '{"key": [{"numeric": [">"]}]}'],
)
def test_invalid_filter_pattern_rejected(lambda_client, sqs, idle_function, pattern):
    _, queue_arn = make_queue(sqs)
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(
            FunctionName=idle_function, EventSourceArn=queue_arn, FilterCriteria={"Filters": [{"Pattern": pattern}]}
        )
    assert error_of(excinfo) == (400, "InvalidParameterValueException", "Invalid filter pattern definition.")


def test_more_than_five_filters_rejected(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    filters = [{"Pattern": json.dumps({"body": {"n": [i]}})} for i in range(6)]
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(
            FunctionName=idle_function, EventSourceArn=queue_arn, FilterCriteria={"Filters": filters}
        )
    status, code, _ = error_of(excinfo)
    assert (status, code) == (400, "InvalidParameterValueException")


def test_filter_pattern_longer_than_4096_rejected(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    created = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    fits = json.dumps({"body": {"n": list(range(800))}})[:4096]
    fits = fits[: fits.rindex(",")] + "]}}"
    long = json.dumps({"body": {"n": list(range(20000))}})
    assert len(fits) <= 4096 < len(long)
    lambda_client.update_event_source_mapping(
        UUID=created["UUID"], FilterCriteria={"Filters": [{"Pattern": fits}]}
    )
    with pytest.raises(ClientError) as excinfo:
        lambda_client.update_event_source_mapping(
            UUID=created["UUID"], FilterCriteria={"Filters": [{"Pattern": fits}, {"Pattern": long}]}
        )
    status, code, message = error_of(excinfo)
    assert (status, code) == (400, "ValidationException")
    assert "'filterCriteria.filters.2.member.pattern'" in message
    assert "Member must have length less than or equal to 4096" in message
    got = lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": fits}]}


def test_update_changes_fields(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    created = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    pattern = json.dumps({"body": {"kind": ["keep"]}})
    updated = lambda_client.update_event_source_mapping(
        UUID=created["UUID"],
        BatchSize=50,
        MaximumBatchingWindowInSeconds=3,
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 5},
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Updating"
    fetched = lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert fetched["State"] == "Enabled"
    assert fetched["BatchSize"] == 50
    assert fetched["MaximumBatchingWindowInSeconds"] == 3
    assert fetched["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert fetched["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert fetched["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert fetched["LastModified"] >= created["LastModified"]

    cleared = lambda_client.update_event_source_mapping(
        UUID=created["UUID"], FilterCriteria={"Filters": []}, FunctionResponseTypes=[], Enabled=False
    )
    assert cleared["State"] == "Disabling"
    fetched = lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert fetched["State"] == "Disabled"
    assert "FilterCriteria" not in fetched
    assert fetched["FunctionResponseTypes"] == []


def test_deleting_function_keeps_mapping(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    created = lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    lambda_client.delete_function(FunctionName=idle_function)
    fetched = lambda_client.get_event_source_mapping(UUID=created["UUID"])
    assert fetched["State"] == "Enabled"
    assert fetched["FunctionArn"] == created["FunctionArn"]


def test_cli_creates_and_lists_mapping(server, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    code, created, err = server.aws(
        "lambda", "create-event-source-mapping", "--function-name", idle_function,
        "--event-source-arn", queue_arn, "--batch-size", "5", "--no-enabled",
    )
    assert code == 0, err
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 5
    code, listed, err = server.aws("lambda", "list-event-source-mappings", "--event-source-arn", queue_arn)
    assert code == 0, err
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    assert listed["EventSourceMappings"][0]["State"] == "Disabled"

    code, updated, err = server.aws(
        "lambda", "update-event-source-mapping", "--uuid", created["UUID"], "--enabled", "--batch-size", "7"
    )
    assert code == 0, err
    assert updated["State"] == "Enabling"
    code, fetched, err = server.aws("lambda", "get-event-source-mapping", "--uuid", created["UUID"])
    assert code == 0, err
    assert (fetched["State"], fetched["BatchSize"]) == ("Enabled", 7)

    code, _, err = server.aws("lambda", "delete-event-source-mapping", "--uuid", created["UUID"])
    assert code == 0, err
    code, _, err = server.aws("lambda", "get-event-source-mapping", "--uuid", created["UUID"])
    assert code != 0
    assert "ResourceNotFoundException" in err


def test_function_named_by_arn(lambda_client, sqs, idle_function):
    _, queue_arn = make_queue(sqs)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{idle_function}"
    created = lambda_client.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=queue_arn)
    assert created["FunctionArn"] == function_arn
    listed = lambda_client.list_event_source_mappings(FunctionName=function_arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    with pytest.raises(ClientError) as excinfo:
        lambda_client.create_event_source_mapping(FunctionName=idle_function, EventSourceArn=queue_arn)
    assert error_of(excinfo)[1] == "ResourceConflictException"


# --- pollers ---------------------------------------------------------------------------------


def test_mapping_drains_batch_sent_by_cli(start_server, recorder, tmp_path):
    server, lam, sqs, name = recorder(start_server)
    url, queue_arn = make_queue(sqs)
    entries = [
        {
            "Id": f"m{i}",
            "MessageBody": json.dumps({"n": i}),
            "MessageAttributes": {
                "Author": {"DataType": "String", "StringValue": f"writer-{i}"},
                "Weeks": {"DataType": "Number", "StringValue": str(i)},
            },
        }
        for i in range(10)
    ]
    code, sent, err = server.aws("sqs", "send-message-batch", "--queue-url", url, "--entries", json.dumps(entries))
    assert code == 0, err
    assert len(sent["Successful"]) == 10
    sent_ids = {entry["MessageId"] for entry in sent["Successful"]}

    code, mapping, err = server.aws(
        "lambda", "create-event-source-mapping", "--function-name", name, "--event-source-arn", queue_arn,
        "--batch-size", "4",
    )
    assert code == 0, err

    records = poll(lambda: (r := read_records(tmp_path)) and len(r) >= 10 and r)
    assert {r["messageId"] for r in records} == sent_ids
    for record in records:
        body = record["body"]
        assert record["receiptHandle"]
        assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queue_arn
        assert record["awsRegion"] == REGION
        assert list(record["attributes"]) == [
            "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"
        ]
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert record["attributes"]["SentTimestamp"].isdigit()
        assert record["attributes"]["ApproximateFirstReceiveTimestamp"].isdigit()
        n = json.loads(body)["n"]
        assert record["messageAttributes"] == {
            "Author": {"stringValue": f"writer-{n}", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "Weeks": {"stringValue": str(n), "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        }
        assert len(record["md5OfMessageAttributes"]) == 32
    poll(lambda: queue_counts(sqs, url) == (0, 0))
    assert len(read_records(tmp_path)) == 10

    metrics = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
    labels = f'{{uuid="{mapping["UUID"]}",function="{mapping["FunctionArn"]}"}}'
    assert f"flicker_event_source_messages_received_total{labels} 10" in metrics
    assert f"flicker_event_source_messages_deleted_total{labels} 10" in metrics


def test_reported_failures_retry_then_reach_dlq(start_server, recorder, tmp_path):
    server, lam, sqs, name = recorder(start_server)
    dlq_url, dlq_arn = make_queue(sqs)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, queue_arn = make_queue(sqs, VisibilityTimeout=1, RedrivePolicy=policy)
    bodies = ["ok-1", "fail-1", "ok-2", "fail-2"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": b} for i, b in enumerate(bodies)])
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=queue_arn, FunctionResponseTypes=["ReportBatchItemFailures"]
    )

    def dead_letters():
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return [m["Body"] for m in messages]

    moved = []
    poll(lambda: moved.extend(dead_letters()) or len(moved) >= 2)
    assert sorted(moved) == ["fail-1", "fail-2"]
    poll(lambda: queue_counts(sqs, url) == (0, 0))

    records = read_records(tmp_path)
    by_body = {}
    for record in records:
        by_body.setdefault(record["body"], []).append(record["attributes"]["ApproximateReceiveCount"])
    assert by_body["ok-1"] == ["1"]
    assert by_body["ok-2"] == ["1"]
    assert by_body["fail-1"] == ["1", "2"]
    assert by_body["fail-2"] == ["1", "2"]


def test_filters_deliver_matching_and_delete_others(start_server, recorder, tmp_path):
    server, lam, sqs, name = recorder(start_server)
    url, queue_arn = make_queue(sqs)
    patterns = [{"body": {"kind": ["keep"]}}, {"body": {"size": [{"numeric": [">", 100]}]}}]
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=queue_arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in patterns]},
    )
    bodies = [
        {"kind": "keep", "id": 1},
        {"kind": "drop", "id": 2},
        {"kind": "drop", "size": 500, "id": 3},
        {"size": 5, "id": 4},
        "plain text 5",
        {"kind": "keep", "id": 6},
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))

    poll(lambda: queue_counts(sqs, url) == (0, 0))
    delivered = poll(lambda: (r := read_records(tmp_path)) and len(r) >= 3 and r)
    assert sorted(json.loads(r["body"])["id"] for r in delivered) == [1, 3, 6]


def test_disable_stops_and_enable_resumes(start_server, recorder, tmp_path):
    server, lam, sqs, name = recorder(start_server)
    url, queue_arn = make_queue(sqs)
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn)
    sqs.send_message(QueueUrl=url, MessageBody="first")
    poll(lambda: len(read_records(tmp_path)) == 1)
    poll(lambda: queue_counts(sqs, url) == (0, 0))

    assert lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    sqs.send_message(QueueUrl=url, MessageBody="second")
    # A disabled mapping must leave the message alone; there is no event to wait for, so
    # the check watches the queue for a few seconds.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert queue_counts(sqs, url) == (1, 0)
        time.sleep(0.2)
    assert len(read_records(tmp_path)) == 1

    assert lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)["State"] == "Enabling"
    records = poll(lambda: (r := read_records(tmp_path)) and len(r) == 2 and r)
    assert records[1]["body"] == "second"


def test_restart_keeps_mapping_polling(start_server, recorder, tmp_path):
    server, lam, sqs, name = recorder(start_server)
    url, queue_arn = make_queue(sqs)
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, BatchSize=3)
    server.restart()
    lam, sqs = server.client(), server.client("sqs")

    fetched = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert fetched["State"] == "Enabled"
    assert fetched["BatchSize"] == 3
    sqs.send_message(QueueUrl=url, MessageBody="after restart")
    records = poll(lambda: read_records(tmp_path))
    assert records[0]["body"] == "after restart"


def test_function_error_returns_batch_to_queue(start_server, recorder, tmp_path):
    code = RECORDER + "\n\n_handler = handler\n\n\ndef handler(event, context):\n" \
        "    _handler(event, context)\n" \
        "    if event['Records'][0]['attributes']['ApproximateReceiveCount'] == '1':\n" \
        "        raise RuntimeError('first attempt fails')\n" \
        "    return {}\n"
    server, lam, sqs, name = recorder(start_server, code=code)
    url, queue_arn = make_queue(sqs, VisibilityTimeout=1)
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn)
    sqs.send_message(QueueUrl=url, MessageBody="retry me")
    records = poll(lambda: (r := read_records(tmp_path)) and len(r) >= 2 and r)
    assert [r["attributes"]["ApproximateReceiveCount"] for r in records] == ["1", "2"]
    assert records[0]["messageId"] == records[1]["messageId"]
    assert records[0]["receiptHandle"] != records[1]["receiptHandle"]
    poll(lambda: queue_counts(sqs, url) == (0, 0))


def test_pollers_respect_maximum_concurrency(start_server, recorder, tmp_path):
    server, lam, sqs, name = recorder(start_server, code=SLOW_RECORDER)
    url, queue_arn = make_queue(sqs)
    for batch in range(3):
        entries = [{"Id": f"e{i}", "MessageBody": f"{batch}-{i}"} for i in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=queue_arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2}
    )

    def spans():
        path = tmp_path / "spans.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    finished = poll(lambda: (s := spans()) and sum(x["count"] for x in s) >= 30 and s, timeout=120)
    assert all(span["count"] == 1 for span in finished)
    events = sorted([(s["start"], 1) for s in finished] + [(s["end"], -1) for s in finished])
    running, peak = 0, 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    assert peak <= 2
    poll(lambda: queue_counts(sqs, url) == (0, 0))
