"""Log subscriptions through the CloudWatch Logs API. The tests cover the subscription filter
operations and their errors, and the delivery of a producer function's log events to a
consumer function as `awslogs` events: filter patterns, batching, deletion, restarts and the
settings file. They also read function logs with FilterLogEvents and GetLogEvents."""

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, Server, create_function, invoke_json

PRODUCER_CODE = {
    "app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    for line in event.get('lines', []):\n"
        "        print(line, flush=True)\n"
        "    return {'stream': os.environ['AWS_LAMBDA_LOG_STREAM_NAME']}\n"
    )
}

# Decodes each delivery and appends it, one JSON document a line, to OUT_DIR/deliveries.jsonl.
CONSUMER_CODE = {
    "app.py": (
        "import base64, gzip, json, os\n"
        "def handler(event, context):\n"
        "    data = json.loads(gzip.decompress(base64.b64decode(event['awslogs']['data'])))\n"
        "    with open(os.path.join(os.environ['OUT_DIR'], 'deliveries.jsonl'), 'a') as out:\n"
        "        out.write(json.dumps(data) + '\\n')\n"
    )
}

DEADLINE_SECONDS = 60


def arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def group(name):
    return f"/aws/lambda/{name}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def read_deliveries(out_dir):
    path = out_dir / "deliveries.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(out_dir, condition, what):
    """Polls the consumer's deliveries until `condition(deliveries)` holds."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        deliveries = read_deliveries(out_dir)
        if condition(deliveries):
            return deliveries
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; deliveries: {read_deliveries(out_dir)}")


def messages(deliveries, filter_name=None):
    return [
        event["message"]
        for delivery in deliveries
        if filter_name is None or delivery["subscriptionFilters"] == [filter_name]
        for event in delivery["logEvents"]
    ]


@pytest.fixture
def pair(start_server, tmp_path, function_name):
    """A process-sandbox server with a producer and a consumer that records deliveries."""
    server = start_server("--sandbox", "process")
    lambda_client = server.client()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    producer, consumer = f"{function_name}-p"[:64], f"{function_name}-c"[:64]
    create_function(lambda_client, producer, PRODUCER_CODE)
    create_function(lambda_client, consumer, CONSUMER_CODE, Environment={"Variables": {"OUT_DIR": str(out_dir)}})
    return server, lambda_client, server.client("logs"), producer, consumer, out_dir


def produce(lambda_client, producer, lines):
    response, payload = invoke_json(lambda_client, producer, {"lines": lines})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response, payload
    return payload["stream"]


# Operations and errors, on the shared server.


@pytest.fixture
def two_functions(lambda_client, function_name):
    source, target = f"{function_name}-s"[:64], f"{function_name}-t"[:64]
    create_function(lambda_client, source, PRODUCER_CODE)
    create_function(lambda_client, target, CONSUMER_CODE)
    return source, target


def test_put_describe_delete(server, two_functions):
    logs = server.client("logs")
    source, target = two_functions
    logs.put_subscription_filter(
        logGroupName=group(source), filterName="errors", filterPattern="ERROR", destinationArn=arn(target)
    )
    filters = logs.describe_subscription_filters(logGroupName=group(source))["subscriptionFilters"]
    assert len(filters) == 1
    described = filters[0]
    assert described["filterName"] == "errors"
    assert described["logGroupName"] == group(source)
    assert described["filterPattern"] == "ERROR"
    assert described["destinationArn"] == arn(target)
    assert described["distribution"] == "ByLogStream"
    assert abs(described["creationTime"] / 1000 - time.time()) < 600

    logs.put_subscription_filter(
        logGroupName=group(source), filterName="errors", filterPattern="?ERROR ?WARN", destinationArn=arn(target)
    )
    updated = logs.describe_subscription_filters(logGroupName=group(source))["subscriptionFilters"]
    assert [f["filterPattern"] for f in updated] == ["?ERROR ?WARN"]
    assert updated[0]["creationTime"] == described["creationTime"]

    logs.delete_subscription_filter(logGroupName=group(source), filterName="errors")
    assert logs.describe_subscription_filters(logGroupName=group(source))["subscriptionFilters"] == []
    with pytest.raises(ClientError) as excinfo:
        logs.delete_subscription_filter(logGroupName=group(source), filterName="errors")
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert "subscription filter does not exist" in excinfo.value.response["Error"]["Message"]


def test_describe_pages_and_prefix(server, two_functions):
    logs = server.client("logs")
    source, target = two_functions
    for name in ["alpha", "beta"]:
        logs.put_subscription_filter(
            logGroupName=group(source), filterName=name, filterPattern="", destinationArn=arn(target)
        )
    first = logs.describe_subscription_filters(logGroupName=group(source), limit=1)
    assert [f["filterName"] for f in first["subscriptionFilters"]] == ["alpha"]
    second = logs.describe_subscription_filters(logGroupName=group(source), limit=1, nextToken=first["nextToken"])
    assert [f["filterName"] for f in second["subscriptionFilters"]] == ["beta"]
    assert "nextToken" not in second
    prefixed = logs.describe_subscription_filters(logGroupName=group(source), filterNamePrefix="be")
    assert [f["filterName"] for f in prefixed["subscriptionFilters"]] == ["beta"]


def test_third_filter_exceeds_limit(server, two_functions):
    logs = server.client("logs")
    source, target = two_functions
    for name in ["one", "two"]:
        logs.put_subscription_filter(
            logGroupName=group(source), filterName=name, filterPattern="", destinationArn=arn(target)
        )
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=group(source), filterName="three", filterPattern="", destinationArn=arn(target)
        )
    assert error_code(excinfo) == "LimitExceededException"
    # Replacing an existing filter is not a new filter.
    logs.put_subscription_filter(
        logGroupName=group(source), filterName="two", filterPattern="WARN", destinationArn=arn(target)
    )


@pytest.mark.parametrize(
    "change, code",
    [
        ({"logGroupName": "/aws/lambda/no-such-function-xyz"}, "ResourceNotFoundException"),
        ({"logGroupName": "/aws/ecs/other"}, "ResourceNotFoundException"),
        ({"destinationArn": arn("no-such-function-xyz")}, "ResourceNotFoundException"),
        ({"destinationArn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s"}, "InvalidParameterException"),
        ({"filterPattern": "ERROR:"}, "InvalidParameterException"),
        ({"filterPattern": "[ip, user, status]"}, "InvalidParameterException"),
        ({"filterPattern": "{ $.latency > \"x\" }"}, "InvalidParameterException"),
        ({"filterName": "a:b"}, "InvalidParameterException"),
        ({"distribution": "Sideways"}, "InvalidParameterException"),
    ],
)
def test_put_rejects_bad_input(server, two_functions, change, code):
    logs = server.client("logs")
    source, target = two_functions
    request = {
        "logGroupName": group(source),
        "filterName": "f",
        "filterPattern": "ERROR",
        "destinationArn": arn(target),
        **change,
    }
    # botocore checks the distribution enum only on the server, so it reaches Flicker.
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(**request)
    assert error_code(excinfo) == code
    assert logs.describe_subscription_filters(logGroupName=group(source))["subscriptionFilters"] == []


def test_put_error_messages_name_the_value(server, two_functions):
    logs = server.client("logs")
    source, target = two_functions
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=group(source), filterName="f", filterPattern="ERROR:", destinationArn=arn(target)
        )
    assert "ERROR:" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=group(source), filterName="f", filterPattern="", destinationArn=arn("missing-fn-xyz")
        )
    assert "missing-fn-xyz" in excinfo.value.response["Error"]["Message"]


def test_describe_missing_group(server):
    logs = server.client("logs")
    with pytest.raises(ClientError) as excinfo:
        logs.describe_subscription_filters(logGroupName="/aws/lambda/no-such-function-xyz")
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert excinfo.value.response["Error"]["Message"] == "The specified log group does not exist."


def test_subscription_loops_are_rejected(server, two_functions):
    logs = server.client("logs")
    source, target = two_functions
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=group(source), filterName="self", filterPattern="", destinationArn=arn(source)
        )
    assert error_code(excinfo) == "InvalidParameterException"

    logs.put_subscription_filter(
        logGroupName=group(source), filterName="forward", filterPattern="", destinationArn=arn(target)
    )
    with pytest.raises(ClientError) as excinfo:
        logs.put_subscription_filter(
            logGroupName=group(target), filterName="back", filterPattern="", destinationArn=arn(source)
        )
    assert error_code(excinfo) == "InvalidParameterException"
    assert logs.describe_subscription_filters(logGroupName=group(target))["subscriptionFilters"] == []


def test_describe_log_groups(server, two_functions):
    logs = server.client("logs")
    source, _ = two_functions
    found = logs.describe_log_groups(logGroupNamePrefix=group(source))["logGroups"]
    assert [g["logGroupName"] for g in found] == [group(source)]
    assert found[0]["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group(source)}:*"
    assert found[0]["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group(source)}"
    pages = logs.get_paginator("describe_log_groups").paginate()
    everything = [g["logGroupName"] for page in pages for g in page["logGroups"]]
    assert group(source) in everything


def test_cli_manages_filters(server, two_functions):
    source, target = two_functions
    code, _, stderr = server.aws(
        "logs", "put-subscription-filter", "--log-group-name", group(source), "--filter-name", "cli",
        "--filter-pattern", "ERROR", "--destination-arn", arn(target),
    )
    assert code == 0, stderr
    code, output, stderr = server.aws("logs", "describe-subscription-filters", "--log-group-name", group(source))
    assert code == 0, stderr
    assert [f["filterName"] for f in output["subscriptionFilters"]] == ["cli"]
    code, _, stderr = server.aws(
        "logs", "delete-subscription-filter", "--log-group-name", group(source), "--filter-name", "cli"
    )
    assert code == 0, stderr
    code, _, stderr = server.aws(
        "logs", "delete-subscription-filter", "--log-group-name", group(source), "--filter-name", "cli"
    )
    assert code != 0
    assert "ResourceNotFoundException" in stderr


# Delivery, on servers whose functions run as plain processes.


def test_delivery_shape_and_pattern(pair):
    _, lambda_client, logs, producer, consumer, out_dir = pair
    logs.put_subscription_filter(
        logGroupName=group(producer), filterName="errors", filterPattern="ERROR", destinationArn=arn(consumer)
    )
    started_ms = int(time.time() * 1000)
    stream = produce(lambda_client, producer, ["INFO first", "ERROR disk full", "WARN low", "ERROR second"])

    deliveries = wait_for(out_dir, lambda d: len(messages(d)) >= 2, "two ERROR lines")
    delivery = deliveries[0]
    assert delivery["messageType"] == "DATA_MESSAGE"
    assert delivery["owner"] == ACCOUNT
    assert delivery["logGroup"] == group(producer)
    assert delivery["logStream"] == stream
    assert delivery["subscriptionFilters"] == ["errors"]
    assert messages(deliveries) == ["ERROR disk full", "ERROR second"]
    ids = [event["id"] for d in deliveries for event in d["logEvents"]]
    for event_id in ids:
        assert re.fullmatch(r"\d{56}", event_id), event_id
    assert len(set(ids)) == len(ids)
    for event in (event for d in deliveries for event in d["logEvents"]):
        assert set(event) == {"id", "timestamp", "message"}
        assert started_ms - 1000 <= event["timestamp"] <= int(time.time() * 1000)


def test_json_pattern_selects_fields(pair):
    _, lambda_client, logs, producer, consumer, out_dir = pair
    logs.put_subscription_filter(
        logGroupName=group(producer),
        filterName="slow-errors",
        filterPattern='{ $.level = "ERROR" && $.latency > 100 }',
        destinationArn=arn(consumer),
    )
    lines = [
        json.dumps({"level": "ERROR", "latency": 150, "n": 1}),
        json.dumps({"level": "ERROR", "latency": 50, "n": 2}),
        json.dumps({"level": "INFO", "latency": 500, "n": 3}),
        "ERROR not json latency 999",
        json.dumps({"level": "ERROR", "latency": 101, "n": 4}),
    ]
    produce(lambda_client, producer, lines)
    deliveries = wait_for(out_dir, lambda d: len(messages(d)) >= 2, "two matching JSON lines")
    assert [json.loads(m)["n"] for m in messages(deliveries)] == [1, 4]


def test_many_lines_arrive_in_few_batches(pair):
    _, lambda_client, logs, producer, consumer, out_dir = pair
    logs.put_subscription_filter(
        logGroupName=group(producer), filterName="all", filterPattern="line", destinationArn=arn(consumer)
    )
    lines = [f"line {i}" for i in range(2000)]
    produce(lambda_client, producer, lines)
    deliveries = wait_for(out_dir, lambda d: len(messages(d)) >= len(lines), "all 2000 lines")
    assert sorted(messages(deliveries), key=lambda m: int(m.split()[1])) == lines
    # One invocation of 2000 short lines is delivered in a few batches, not one per line.
    assert len(deliveries) <= 20, len(deliveries)


def test_two_filters_deliver_separately(pair):
    _, lambda_client, logs, producer, consumer, out_dir = pair
    for name, pattern in [("errors", "ERROR"), ("warnings", "WARN")]:
        logs.put_subscription_filter(
            logGroupName=group(producer), filterName=name, filterPattern=pattern, destinationArn=arn(consumer)
        )
    produce(lambda_client, producer, ["ERROR a", "WARN b", "INFO c"])
    deliveries = wait_for(
        out_dir, lambda d: messages(d, "errors") and messages(d, "warnings"), "a delivery per filter"
    )
    assert messages(deliveries, "errors") == ["ERROR a"]
    assert messages(deliveries, "warnings") == ["WARN b"]


def test_deleted_filter_stops_delivery(pair):
    _, lambda_client, logs, producer, consumer, out_dir = pair
    logs.put_subscription_filter(
        logGroupName=group(producer), filterName="old", filterPattern="MARK", destinationArn=arn(consumer)
    )
    produce(lambda_client, producer, ["MARK before"])
    wait_for(out_dir, lambda d: "MARK before" in messages(d, "old"), "the line logged before deletion")

    logs.delete_subscription_filter(logGroupName=group(producer), filterName="old")
    # A second filter shows when the later line has been processed: the group's events are
    # matched in order, so once "new" delivers it, "old" would have selected it too.
    logs.put_subscription_filter(
        logGroupName=group(producer), filterName="new", filterPattern="MARK", destinationArn=arn(consumer)
    )
    produce(lambda_client, producer, ["MARK after"])
    deliveries = wait_for(out_dir, lambda d: "MARK after" in messages(d, "new"), "the line logged after deletion")
    assert messages(deliveries, "old") == ["MARK before"]


def test_filter_survives_restart(pair):
    server, _, logs, producer, consumer, out_dir = pair
    logs.put_subscription_filter(
        logGroupName=group(producer), filterName="kept", filterPattern="KEEP", destinationArn=arn(consumer)
    )
    before = logs.describe_subscription_filters(logGroupName=group(producer))["subscriptionFilters"]
    server.restart()
    logs = server.client("logs")
    after = logs.describe_subscription_filters(logGroupName=group(producer))["subscriptionFilters"]
    assert after == before

    produce(server.client(), producer, ["KEEP after restart", "DROP this"])
    deliveries = wait_for(out_dir, lambda d: "KEEP after restart" in messages(d), "delivery after restart")
    assert messages(deliveries) == ["KEEP after restart"]


def test_settings_file_creates_filter(pair, tmp_path):
    server, _, _, producer, consumer, out_dir = pair
    server.stop()
    config = tmp_path / "flicker.toml"
    config.write_text(
        "[[log_subscriptions]]\n"
        f'log_group = "{group(producer)}"\n'
        'filter_name = "from-file"\n'
        'filter_pattern = "FILE"\n'
        f'destination_arn = "{arn(consumer)}"\n'
    )
    configured = Server(server.data_dir, ["--sandbox", "process", "--config", str(config)]).start()
    try:
        logs = configured.client("logs")
        filters = logs.describe_subscription_filters(logGroupName=group(producer))["subscriptionFilters"]
        assert [(f["filterName"], f["filterPattern"]) for f in filters] == [("from-file", "FILE")]
        produce(configured.client(), producer, ["FILE line", "other line"])
        deliveries = wait_for(out_dir, lambda d: "FILE line" in messages(d), "delivery from the settings file")
        assert messages(deliveries) == ["FILE line"]
    finally:
        configured.stop()


# Reading function logs.


def test_filter_and_get_log_events(pair):
    server, lambda_client, logs, producer, _, _ = pair
    stream = produce(lambda_client, producer, ["READ one", "READ two", "other"])
    deadline = time.monotonic() + DEADLINE_SECONDS
    found = []
    while time.monotonic() < deadline:
        found = logs.filter_log_events(logGroupName=group(producer), filterPattern="READ")["events"]
        if len(found) == 2:
            break
        time.sleep(0.2)
    assert [e["message"] for e in found] == ["READ one", "READ two"]
    assert all(e["logStreamName"] == stream for e in found)

    deadline = time.monotonic() + DEADLINE_SECONDS
    text = []
    while time.monotonic() < deadline:
        events = logs.get_log_events(logGroupName=group(producer), logStreamName=stream, startFromHead=True)
        text = [e["message"] for e in events["events"]]
        if any(m.startswith("REPORT RequestId:") for m in text):
            break
        time.sleep(0.2)
    assert text[0].startswith("INIT_START") or text[0].startswith("START")
    assert "READ one" in text
    assert any(m.startswith("REPORT RequestId:") for m in text)

    code, output, stderr = server.aws(
        "logs", "filter-log-events", "--log-group-name", group(producer), "--filter-pattern", "READ"
    )
    assert code == 0, stderr
    assert [e["message"] for e in output["events"]] == ["READ one", "READ two"]

    first = logs.get_log_events(logGroupName=group(producer), logStreamName=stream, startFromHead=True, limit=1)
    assert [e["message"] for e in first["events"]] == text[:1]
    second = logs.get_log_events(
        logGroupName=group(producer), logStreamName=stream, limit=1, nextToken=first["nextForwardToken"]
    )
    assert [e["message"] for e in second["events"]] == text[1:2]
    newest = logs.get_log_events(logGroupName=group(producer), logStreamName=stream, limit=1)
    assert newest["events"][0]["message"].startswith("REPORT RequestId:")

    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=group(producer), logStreamName="no/such/stream")
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_describe_log_streams(pair):
    """The stream names that GetLogEvents needs are listed, newest last by event time."""
    server, lambda_client, logs, producer, _, _ = pair
    stream = produce(lambda_client, producer, ["first environment"])
    deadline = time.monotonic() + DEADLINE_SECONDS
    streams = []
    while time.monotonic() < deadline:
        streams = logs.describe_log_streams(logGroupName=group(producer))["logStreams"]
        if streams:
            break
        time.sleep(0.2)
    assert [s["logStreamName"] for s in streams] == [stream]
    assert streams[0]["firstEventTimestamp"] <= streams[0]["lastEventTimestamp"]
    assert streams[0]["arn"].endswith(f":log-group:{group(producer)}:log-stream:{stream}")

    code, output, stderr = server.aws(
        "logs", "describe-log-streams", "--log-group-name", group(producer),
        "--order-by", "LastEventTime", "--descending",
    )
    assert code == 0, stderr
    assert [s["logStreamName"] for s in output["logStreams"]] == [stream]
    assert logs.describe_log_streams(logGroupName=group(producer), logStreamNamePrefix="zz")["logStreams"] == []

    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(logGroupName=group(producer), orderBy="LastEventTime", logStreamNamePrefix="2")
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(logGroupName="/aws/lambda/no-such-function")
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_unknown_logs_operation(server):
    logs = server.client("logs")
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_group(logGroupName="/aws/lambda/anything")
    assert error_code(excinfo) == "UnknownOperationException"
    assert "CreateLogGroup" in excinfo.value.response["Error"]["Message"]
