"""Schedule rules through the EventBridge API: every rule and target operation and its errors
with boto3's `events` client and the `aws events` CLI, and rules firing functions with the
"Scheduled Event" payload. Servers that fire rules run with `--schedule-rate-unit-seconds 1`,
so `rate(1 minute)` ticks every second, and `--sandbox process`, so that the function can
append each payload it receives to a file of the test."""

import json
import os
import re
import time
import uuid
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function
from functions.support import UUID_PATTERN, wait_until

RECORDER = """
import json, os

def handler(event, context):
    with open(os.path.join(os.environ["RECORD_DIR"], "events.jsonl"), "a") as output:
        output.write(json.dumps(event) + "\\n")
    return {}
"""

FAST = ("--sandbox", "process", "--schedule-rate-unit-seconds", "1")


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def rule_arn(name):
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def epoch(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class Recorder:
    """A function that appends each event it receives to `events.jsonl` in `directory`."""

    def __init__(self, server, directory, name):
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o777)
        self.path = directory / "events.jsonl"
        self.name = name
        create_function(server.client(), name, {"app.py": RECORDER},
                        Environment={"Variables": {"RECORD_DIR": str(directory)}})

    def events(self):
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def wait_for(self, count, timeout=30):
        events = wait_until(lambda: len(self.events()) >= count and self.events(), timeout=timeout)
        assert events and len(events) >= count, f"{len(self.events())} of {count} events arrived"
        return events


@pytest.fixture(scope="module")
def events_client(server):
    return server.client("events")


# Rule operations


def test_put_rule_returns_arn_and_describe_shows_it(events_client):
    name = unique("describe")
    response = events_client.put_rule(Name=name, ScheduleExpression="rate(5 minutes)", Description="every five")
    assert response["RuleArn"] == rule_arn(name)

    rule = events_client.describe_rule(Name=name)
    assert rule["Name"] == name
    assert rule["Arn"] == rule_arn(name)
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["State"] == "ENABLED"
    assert rule["Description"] == "every five"
    assert rule["EventBusName"] == "default"
    events_client.delete_rule(Name=name)


def test_put_rule_updates_existing_rule(events_client):
    name = unique("update")
    events_client.put_rule(Name=name, ScheduleExpression="rate(5 minutes)")
    events_client.put_rule(Name=name, ScheduleExpression="cron(0 12 * * ? *)", State="DISABLED")
    rule = events_client.describe_rule(Name=name)
    assert rule["ScheduleExpression"] == "cron(0 12 * * ? *)"
    assert rule["State"] == "DISABLED"
    events_client.delete_rule(Name=name)


def test_enable_and_disable_rule(events_client):
    name = unique("toggle")
    events_client.put_rule(Name=name, ScheduleExpression="rate(1 hour)")
    events_client.disable_rule(Name=name)
    assert events_client.describe_rule(Name=name)["State"] == "DISABLED"
    events_client.enable_rule(Name=name)
    assert events_client.describe_rule(Name=name)["State"] == "ENABLED"
    events_client.delete_rule(Name=name)


def test_list_rules_prefix_and_pages(events_client):
    prefix = unique("list")
    names = [f"{prefix}-{index}" for index in range(5)]
    for name in names:
        events_client.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    events_client.put_rule(Name=unique("other"), ScheduleExpression="rate(1 day)")

    everything = events_client.list_rules(NamePrefix=prefix)
    assert [rule["Name"] for rule in everything["Rules"]] == names
    assert "NextToken" not in everything
    assert everything["Rules"][0]["Arn"] == rule_arn(names[0])
    assert everything["Rules"][0]["ScheduleExpression"] == "rate(1 day)"

    seen = []
    token = None
    while True:
        kwargs = {"NamePrefix": prefix, "Limit": 2}
        if token:
            kwargs["NextToken"] = token
        page = events_client.list_rules(**kwargs)
        assert len(page["Rules"]) <= 2
        seen += [rule["Name"] for rule in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names

    paginated = events_client.get_paginator("list_rules").paginate(NamePrefix=prefix, PaginationConfig={"PageSize": 3})
    assert [rule["Name"] for page in paginated for rule in page["Rules"]] == names


def test_delete_rule_removes_it(events_client):
    name = unique("delete")
    events_client.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    events_client.delete_rule(Name=name)
    error = error_of(events_client.describe_rule, Name=name)
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    # Deleting a rule that does not exist succeeds, as in EventBridge.
    events_client.delete_rule(Name=name)


# Rule errors


def test_describe_missing_rule_is_not_found(events_client):
    error = error_of(events_client.describe_rule, Name="no-such-rule")
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Rule no-such-rule does not exist on EventBus default."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("operation", ["enable_rule", "disable_rule"])
def test_enable_disable_missing_rule_is_not_found(events_client, operation):
    error = error_of(getattr(events_client, operation), Name="no-such-rule")
    assert error["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("expression", [
    "rate(1 minutes)",
    "rate(5 minute)",
    "rate(0 minutes)",
    "rate(5 weeks)",
    "cron(0 12 * * * *)",
    "cron(0 12 ? * ? *)",
    "cron(0 12 * *)",
    "cron(61 12 * * ? *)",
    "cron(0 12 ? * 8 *)",
    "every day",
])
def test_put_rule_invalid_expression(events_client, expression):
    name = unique("invalid")
    error = error_of(events_client.put_rule, Name=name, ScheduleExpression=expression)
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"].startswith("Parameter ScheduleExpression is not valid")
    assert expression.split("(")[0] in error["Error"]["Message"]
    assert error_of(events_client.describe_rule, Name=name)["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("expression", [
    "cron(0 12 * * ? *)",
    "cron(0/15 8-17 ? * MON-FRI *)",
    "cron(0 0 L * ? *)",
    "cron(0 9 LW * ? *)",
    "cron(0 9 15W * ? *)",
    "cron(0 10 ? * 3#2 *)",
    "cron(0 18 ? * 6L 2027-2030)",
    "cron(0 0 1 JAN,JUL ? *)",
    "rate(1 minute)",
    "rate(2 days)",
])
def test_put_rule_accepts_expression(events_client, expression):
    name = unique("valid")
    events_client.put_rule(Name=name, ScheduleExpression=expression)
    assert events_client.describe_rule(Name=name)["ScheduleExpression"] == expression
    events_client.delete_rule(Name=name)


def test_put_rule_expression_too_long(events_client):
    name = unique("long")
    expression = "cron(" + ",".join(["1"] * 200) + " * * * ? *)"
    error = error_of(events_client.put_rule, Name=name, ScheduleExpression=expression)
    assert error["Error"]["Code"] == "ValidationException"
    assert "'scheduleExpression'" in error["Error"]["Message"]
    assert "256" in error["Error"]["Message"]
    assert error_of(events_client.describe_rule, Name=name)["Error"]["Code"] == "ResourceNotFoundException"


def test_put_rule_event_pattern_is_rejected(events_client):
    error = error_of(events_client.put_rule, Name=unique("pattern"), EventPattern='{"source": ["aws.ec2"]}')
    assert error["Error"]["Code"] == "ValidationException"
    assert "EventPattern" in error["Error"]["Message"]


def test_put_rule_without_expression_is_rejected(events_client):
    error = error_of(events_client.put_rule, Name=unique("empty"))
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == "Parameter(s) EventPattern or ScheduleExpression must be specified."


def test_put_rule_invalid_name_and_state(events_client):
    error = error_of(events_client.put_rule, Name="has space", ScheduleExpression="rate(1 day)")
    assert error["Error"]["Code"] == "ValidationException"
    assert "'has space'" in error["Error"]["Message"]
    error = error_of(events_client.put_rule, Name=unique("state"), ScheduleExpression="rate(1 day)", State="PAUSED")
    assert error["Error"]["Code"] == "ValidationException"
    assert "'PAUSED'" in error["Error"]["Message"]


def test_other_event_bus_is_not_found(events_client):
    error = error_of(events_client.put_rule, Name=unique("bus"), ScheduleExpression="rate(1 day)",
                     EventBusName="custom-bus")
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert "custom-bus" in error["Error"]["Message"]


def test_unknown_events_operation(events_client):
    error = error_of(events_client.put_events, Entries=[{"Source": "a", "DetailType": "b", "Detail": "{}"}])
    assert error["Error"]["Code"] == "UnknownOperationException"
    assert "PutEvents" in error["Error"]["Message"]


# Target operations


def test_put_list_remove_targets(events_client):
    rule = unique("targets")
    events_client.put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    response = events_client.put_targets(Rule=rule, Targets=[
        {"Id": "b", "Arn": function_arn("second"), "InputPath": "$.detail"},
        {"Id": "a", "Arn": function_arn("first"), "Input": '{"x": 1}'},
    ])
    assert response["FailedEntryCount"] == 0
    assert response["FailedEntries"] == []

    targets = events_client.list_targets_by_rule(Rule=rule)["Targets"]
    assert targets == [
        {"Id": "a", "Arn": function_arn("first"), "Input": '{"x": 1}'},
        {"Id": "b", "Arn": function_arn("second"), "InputPath": "$.detail"},
    ]

    events_client.put_targets(Rule=rule, Targets=[{"Id": "a", "Arn": function_arn("replaced")}])
    targets = events_client.list_targets_by_rule(Rule=rule)["Targets"]
    assert targets[0] == {"Id": "a", "Arn": function_arn("replaced")}

    page = events_client.list_targets_by_rule(Rule=rule, Limit=1)
    assert [target["Id"] for target in page["Targets"]] == ["a"]
    rest = events_client.list_targets_by_rule(Rule=rule, NextToken=page["NextToken"])
    assert [target["Id"] for target in rest["Targets"]] == ["b"]
    assert "NextToken" not in rest

    removed = events_client.remove_targets(Rule=rule, Ids=["a", "b"])
    assert removed["FailedEntryCount"] == 0
    assert events_client.list_targets_by_rule(Rule=rule)["Targets"] == []
    events_client.delete_rule(Name=rule)


def test_delete_rule_with_targets_is_rejected(events_client):
    rule = unique("busy")
    events_client.put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    events_client.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": function_arn("f")}])
    error = error_of(events_client.delete_rule, Name=rule)
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == "Rule can't be deleted since it has targets."
    # Force applies only to rules that an AWS service manages, so it changes nothing here.
    error = error_of(events_client.delete_rule, Name=rule, Force=True)
    assert error["Error"]["Code"] == "ValidationException"

    events_client.remove_targets(Rule=rule, Ids=["t"])
    events_client.delete_rule(Name=rule)
    assert error_of(events_client.describe_rule, Name=rule)["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("operation, kwargs", [
    ("put_targets", {"Targets": [{"Id": "t", "Arn": function_arn("f")}]}),
    ("remove_targets", {"Ids": ["t"]}),
    ("list_targets_by_rule", {}),
])
def test_target_operations_on_missing_rule(events_client, operation, kwargs):
    error = error_of(getattr(events_client, operation), Rule="no-such-rule", **kwargs)
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Rule no-such-rule does not exist on EventBus default."


def test_put_targets_reports_bad_entries(events_client):
    rule = unique("bad-targets")
    events_client.put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    response = events_client.put_targets(Rule=rule, Targets=[
        {"Id": "good", "Arn": function_arn("f")},
        {"Id": "queue", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue"},
        {"Id": "both", "Arn": function_arn("f"), "Input": "{}", "InputPath": "$.detail"},
        {"Id": "not-json", "Arn": function_arn("f"), "Input": "{not json"},
        {"Id": "bad-path", "Arn": function_arn("f"), "InputPath": "detail"},
        {"Id": "transform", "Arn": function_arn("f"),
         "InputTransformer": {"InputTemplate": "\"<time>\"", "InputPathsMap": {"time": "$.time"}}},
    ])
    assert response["FailedEntryCount"] == 5
    failed = {entry["TargetId"]: entry for entry in response["FailedEntries"]}
    assert sorted(failed) == ["bad-path", "both", "not-json", "queue", "transform"]
    assert all(entry["ErrorCode"] == "ValidationException" for entry in failed.values())
    assert f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue" in failed["queue"]["ErrorMessage"]
    assert failed["both"]["ErrorMessage"] == "Only one of Input, InputPath, or InputTransformer must be provided."
    assert "not valid JSON" in failed["not-json"]["ErrorMessage"]
    assert "InputPath detail" in failed["bad-path"]["ErrorMessage"]
    assert "InputTransformer" in failed["transform"]["ErrorMessage"]
    assert [target["Id"] for target in events_client.list_targets_by_rule(Rule=rule)["Targets"]] == ["good"]


def test_put_targets_limit_per_rule(events_client):
    rule = unique("limit")
    events_client.put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    targets = [{"Id": f"t{index}", "Arn": function_arn("f")} for index in range(5)]
    assert events_client.put_targets(Rule=rule, Targets=targets)["FailedEntryCount"] == 0
    error = error_of(events_client.put_targets, Rule=rule, Targets=[{"Id": "t5", "Arn": function_arn("f")}])
    assert error["Error"]["Code"] == "LimitExceededException"
    assert len(events_client.list_targets_by_rule(Rule=rule)["Targets"]) == 5


# The AWS CLI


def test_cli_rule_and_target_lifecycle(server):
    rule = unique("cli")
    code, output, stderr = server.aws("events", "put-rule", "--name", rule, "--schedule-expression",
                                      "cron(0 12 * * ? *)", check=True)
    assert output["RuleArn"] == rule_arn(rule)

    code, output, _ = server.aws("events", "put-targets", "--rule", rule, "--targets",
                                 f"Id=1,Arn={function_arn('f')}", check=True)
    assert output["FailedEntryCount"] == 0

    _, output, _ = server.aws("events", "list-targets-by-rule", "--rule", rule, check=True)
    assert output["Targets"] == [{"Id": "1", "Arn": function_arn("f")}]

    _, output, _ = server.aws("events", "list-rules", "--name-prefix", rule, check=True)
    assert [item["Name"] for item in output["Rules"]] == [rule]

    code, _, stderr = server.aws("events", "delete-rule", "--name", rule)
    assert code != 0
    assert "ValidationException" in stderr

    server.aws("events", "disable-rule", "--name", rule, check=True)
    _, output, _ = server.aws("events", "describe-rule", "--name", rule, check=True)
    assert output["State"] == "DISABLED"

    server.aws("events", "remove-targets", "--rule", rule, "--ids", "1", check=True)
    server.aws("events", "delete-rule", "--name", rule, check=True)
    code, _, stderr = server.aws("events", "describe-rule", "--name", rule)
    assert code != 0
    assert "ResourceNotFoundException" in stderr


def test_cli_invalid_expression(server):
    code, _, stderr = server.aws("events", "put-rule", "--name", unique("cli-bad"), "--schedule-expression",
                                 "rate(1 minutes)")
    assert code != 0
    assert "ValidationException" in stderr
    assert "rate(1 minutes)" in stderr


# Firing


def test_rate_rule_invokes_function_with_scheduled_event(start_server, tmp_path, function_name):
    server = start_server(*FAST)
    recorder = Recorder(server, tmp_path / "records", function_name)
    events = server.client("events")
    rule = unique("fast")
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[{"Id": "recorder", "Arn": function_arn(function_name)}])

    received = recorder.wait_for(3)
    event = received[0]
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"]
    assert event["version"] == "0"
    assert re.fullmatch(UUID_PATTERN, event["id"])
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == ACCOUNT
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["region"] == REGION
    assert event["resources"] == [rule_arn(rule)]
    assert event["detail"] == {}

    assert len({item["id"] for item in received}) == len(received)
    times = [epoch(item["time"]) for item in received]
    assert len(set(times)) == len(times), f"a tick fired twice: {times}"


def test_disabled_rule_stops_firing(start_server, tmp_path, function_name):
    server = start_server(*FAST)
    recorder = Recorder(server, tmp_path / "records", function_name)
    events = server.client("events")
    rule = unique("stop")
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[{"Id": "recorder", "Arn": function_arn(function_name)}])
    recorder.wait_for(1)

    events.disable_rule(Name=rule)
    disabled_at = time.time()
    # Absence cannot be polled for: give the rule several periods in which it would fire.
    time.sleep(4)
    late = [item["time"] for item in recorder.events() if epoch(item["time"]) > disabled_at]
    assert late == []

    enabling_at = time.time()
    events.enable_rule(Name=rule)
    recorder.wait_for(len(recorder.events()) + 1)
    times = [epoch(item["time"]) for item in recorder.events()]
    # Ticks missed while disabled are not fired when the rule is enabled again.
    assert [t for t in times if disabled_at < t <= enabling_at] == []
    assert max(times) > enabling_at


def test_target_input_and_input_path(start_server, tmp_path, function_name):
    server = start_server(*FAST)
    recorder = Recorder(server, tmp_path / "records", function_name)
    events = server.client("events")
    rule = unique("input")
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[
        {"Id": "input", "Arn": function_arn(function_name), "Input": '{"custom": [1, "two"]}'},
        {"Id": "path", "Arn": function_arn(function_name), "InputPath": "$.resources"},
    ])
    received = wait_until(lambda: len([e for e in recorder.events() if isinstance(e, dict)]) >= 2
                          and len([e for e in recorder.events() if isinstance(e, list)]) >= 2, timeout=30)
    assert received, recorder.events()
    payloads = recorder.events()
    assert {"custom": [1, "two"]} in payloads
    assert [rule_arn(rule)] in payloads
    assert all(payload in ({"custom": [1, "two"]}, [rule_arn(rule)]) for payload in payloads), payloads


def test_missed_ticks_fire_once_after_restart(start_server, tmp_path, function_name):
    server = start_server(*FAST)
    recorder = Recorder(server, tmp_path / "records", function_name)
    events = server.client("events")
    rule = unique("restart")
    # A six-second period: the rule is created at T0 (whole seconds) and ticks at T0+6, T0+12...
    before = int(time.time())
    events.put_rule(Name=rule, ScheduleExpression="rate(6 minutes)")
    after = int(time.time())
    events.put_targets(Rule=rule, Targets=[{"Id": "recorder", "Arn": function_arn(function_name)}])
    server.stop()
    assert recorder.events() == []

    # Down until after the ticks T0+6 and T0+12, then up before T0+18.
    time.sleep(max(0.0, after + 13 - time.time()))
    restarted_at = time.time()
    server.start()

    received = recorder.wait_for(1, timeout=30)
    missed = [epoch(item["time"]) for item in received if epoch(item["time"]) < restarted_at]
    assert len(missed) == 1, f"missed ticks fired {len(missed)} times: {received}"
    assert missed[0] - 12 in range(before, after + 1), (missed, before, after)
    assert all(epoch(item["time"]) - 6 not in range(before, after + 1) for item in received), received


def test_fired_tick_is_stored_across_restart(start_server, tmp_path, function_name):
    server = start_server(*FAST)
    recorder = Recorder(server, tmp_path / "records", function_name)
    events = server.client("events")
    rule = unique("stored")
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[{"Id": "recorder", "Arn": function_arn(function_name)}])
    recorder.wait_for(2)
    server.restart()
    count = len(recorder.events())
    recorder.wait_for(count + 2)
    times = [epoch(item["time"]) for item in recorder.events()]
    assert len(set(times)) == len(times), f"a tick fired twice across the restart: {sorted(times)}"
    assert server.client("events").describe_rule(Name=rule)["State"] == "ENABLED"


def test_schedule_from_settings_file(start_server, tmp_path, function_name):
    records = tmp_path / "records"
    config = tmp_path / "flicker.toml"
    config.write_text(
        "schedule_rate_unit_seconds = 1\n\n"
        "[[schedules]]\n"
        'name = "configured-rule"\n'
        'expression = "rate(1 minute)"\n'
        f'function = "{function_name}"\n'
        "input = '{\"from\": \"settings\"}'\n"
    )
    server = start_server("--sandbox", "process", "--config", str(config))
    rules = server.client("events").list_rules(NamePrefix="configured-rule")["Rules"]
    assert [(rule["Name"], rule["ScheduleExpression"], rule["State"]) for rule in rules] == [
        ("configured-rule", "rate(1 minute)", "ENABLED")
    ]
    targets = server.client("events").list_targets_by_rule(Rule="configured-rule")["Targets"]
    assert targets == [{"Id": "configured", "Arn": function_arn(function_name), "Input": '{"from": "settings"}'}]

    recorder = Recorder(server, records, function_name)
    received = recorder.wait_for(2)
    assert all(payload == {"from": "settings"} for payload in received), received


def test_invalid_schedule_in_settings_file_stops_start(tmp_path):
    from conftest import Server

    config = tmp_path / "flicker.toml"
    config.write_text('[[schedules]]\nname = "bad"\nexpression = "rate(1 minutes)"\nfunction = "f"\n')
    server = Server(tmp_path / "data", ["--sandbox", "process", "--config", str(config)])
    try:
        with pytest.raises(RuntimeError) as raised:
            server.start()
    finally:
        server.stop()
    assert "invalid schedule bad in the settings file" in str(raised.value)
    assert "rate(1 minutes)" in str(raised.value)
