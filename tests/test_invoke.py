"""Invoke against a real Flicker server, compared with what AWS Lambda returns: invocation
types, logs, errors and limits, environment reuse, concurrency and the execution
environment's variables. Expected values come from AWS's documentation and from responses
recorded from the real service."""

import base64
import json
import re
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function, invoke_json, make_zip
from functions import package
from functions.support import (
    UUID_PATTERN,
    environment_processes,
    first_request_id,
    let_environment_become_idle,
    log_messages,
    log_records,
    raw_function_log,
    wait_for_log,
    wait_until,
)

PYTHON_APP = package("python/basic")
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
RESPONSE_LIMIT = SYNC_PAYLOAD_LIMIT + 100


def error_code(error):
    return error.response["Error"]["Code"]


def http_status(response):
    return response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def python_function(lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP)
    return function_name


# Invocation types


def test_invoke_request_response_returns_payload(lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "echo", "value": 1})

    assert response["StatusCode"] == 200
    assert payload == {"event": {"action": "echo", "value": 1}}
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response


def test_invoke_empty_payload_is_empty_event(lambda_client, python_function):
    response = lambda_client.invoke(FunctionName=python_function)

    assert json.loads(response["Payload"].read()) == {"event": {}}


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "true"])
def test_invoke_non_object_payload_passed_through(lambda_client, function_name, body):
    create_function(lambda_client, function_name, package("nodejs/commonjs"), runtime="nodejs20.x", handler="index.handler")

    response = lambda_client.invoke(FunctionName=function_name, Payload=body.encode())

    assert json.loads(response["Payload"].read())["event"] == json.loads(body)


def test_invoke_unicode_payload_round_trip(lambda_client, python_function):
    event = {"action": "echo", "text": "h\u00e9llo \u2713 \U0001F600"}

    _, payload = invoke_json(lambda_client, python_function, event)

    assert payload == {"event": event}


def test_invoke_request_id_matches_context(lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "context"})

    assert response["ResponseMetadata"]["RequestId"] == payload["aws_request_id"]


def test_invoke_dry_run_returns_204(server, lambda_client, python_function):
    response = lambda_client.invoke(FunctionName=python_function, InvocationType="DryRun", Payload=b"{}")
    time.sleep(0.3)

    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    assert "START RequestId" not in server.function_log(python_function)


def test_invoke_dry_run_omits_executed_version(lambda_client, python_function):
    response = lambda_client.invoke(FunctionName=python_function, InvocationType="DryRun", Payload=b"{}")

    # AWS sends no X-Amz-Executed-Version header for DryRun.
    assert "ExecutedVersion" not in response


def printing_event():
    """Return an event whose handler prints a unique line, which shows in the function's log
    that the event was delivered, whatever file system the sandbox gives the function."""
    token = f"event {uuid.uuid4().hex}"
    return token, {"action": "print", "message": token}


def test_invoke_event_runs_function(server, lambda_client, python_function):
    token, event = printing_event()

    response = lambda_client.invoke(FunctionName=python_function, InvocationType="Event", Payload=json.dumps(event))

    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert "ExecutedVersion" not in response
    assert wait_for_log(server, python_function, f"\t{token}\n")


def test_invoke_async_legacy_runs_function(server, lambda_client, python_function):
    token, event = printing_event()

    response = lambda_client.invoke_async(FunctionName=python_function, InvokeArgs=json.dumps(event))

    assert response["Status"] == 202
    assert http_status(response) == 202
    assert wait_for_log(server, python_function, f"\t{token}\n")


def test_invoke_unknown_function_not_found(lambda_client):
    name = f"missing-{uuid.uuid4().hex[:8]}"

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=name, Payload=b"{}")

    assert http_status(raised.value.response) == 404
    assert error_code(raised.value) == "ResourceNotFoundException"
    message = raised.value.response["Error"]["Message"]
    assert message.startswith(f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")


# Logs


def test_invoke_tail_log_contains_output(lambda_client, python_function):
    response, payload = invoke_json(
        lambda_client, python_function, {"action": "print", "message": "hello from print"}, LogType="Tail"
    )
    log = base64.b64decode(response["LogResult"]).decode()
    request_id = re.search(rf"START RequestId: ({UUID_PATTERN}) Version: \$LATEST\n", log).group(1)

    assert payload == "printed"
    assert "\nhello from print\n" in log
    assert f"\nEND RequestId: {request_id}\n" in log
    assert f"\nREPORT RequestId: {request_id}\tDuration: " in log
    assert log.index("START") < log.index("hello from print") < log.index("END") < log.index("REPORT")


def test_invoke_tail_log_keeps_last_4kb(lambda_client, python_function):
    lines = "\n".join(f"line {index:05d} " + "y" * 40 for index in range(300))

    response, _ = invoke_json(lambda_client, python_function, {"action": "print", "message": lines}, LogType="Tail")
    log = base64.b64decode(response["LogResult"])

    assert len(log) <= 4096
    assert len(log) > 3500
    assert b"line 00299" in log
    assert b"line 00000" not in log
    assert log.rstrip().rsplit(b"\n", 1)[-1].startswith(b"REPORT RequestId: ")


def test_invoke_without_tail_has_no_log_result(lambda_client, python_function):
    response, _ = invoke_json(lambda_client, python_function, {"action": "echo"})

    assert "LogResult" not in response


def test_invoke_log_file_orders_lines(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "print", "message": "between start and end"})
    request_id = first_request_id(server, python_function)
    messages = log_messages(server, python_function)
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")

    assert messages[0].startswith("INIT_START Runtime Version: ")
    assert messages[start + 1] == "between start and end"
    assert messages[start + 2] == f"END RequestId: {request_id}"
    assert messages[start + 3].startswith(f"REPORT RequestId: {request_id}\tDuration: ")


def test_invoke_log_stream_matches_environment(server, lambda_client, python_function):
    _, environment = invoke_json(lambda_client, python_function, {"action": "environment"})
    wait_for_log(server, python_function, "REPORT RequestId")
    streams = {stream for _, stream, _ in log_records(server, python_function)}

    assert streams == {environment["AWS_LAMBDA_LOG_STREAM_NAME"]}


def test_invoke_report_line_fields(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "echo"})
    wait_for_log(server, python_function, "REPORT RequestId")
    report = next(m for m in log_messages(server, python_function) if m.startswith("REPORT"))
    pattern = (
        rf"REPORT RequestId: {UUID_PATTERN}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t?"
    )

    assert re.fullmatch(pattern, report), report


def test_invoke_init_duration_on_cold_start_only(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "echo"})
    let_environment_become_idle()
    invoke_json(lambda_client, python_function, {"action": "echo"})
    wait_for_log(server, python_function, "REPORT RequestId", count=2)
    reports = [m for m in log_messages(server, python_function) if m.startswith("REPORT")]

    assert len(reports) == 2
    assert "\tInit Duration: " in reports[0]
    assert "Init Duration" not in reports[1]


def test_invoke_log_file_lines_well_formed(server, lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=1)
    invoke_json(lambda_client, function_name, {"action": "print", "message": "first\nsecond"})
    invoke_json(lambda_client, function_name, {"action": "raise", "message": "boom"})
    invoke_json(lambda_client, function_name, {"action": "exit", "status": 2})
    invoke_json(lambda_client, function_name, {"action": "sleep", "seconds": 3})
    wait_for_log(server, function_name, "REPORT RequestId", count=4)
    lines = raw_function_log(server, function_name).split("\n")[:-1]
    malformed = [line for line in lines if not re.match(r"\d{13}\t[^\t]+\t", line)]

    assert malformed == []


# Errors and payload limits


def test_invoke_unhandled_error_sets_function_error(lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "raise", "message": "boom"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom"


def test_invoke_client_context_reaches_handler(lambda_client, python_function):
    client_context = {"custom": {"tenant": "blue"}, "env": {"locale": "en"}, "client": {"installation_id": "install-1"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()

    _, payload = invoke_json(lambda_client, python_function, {"action": "client_context"}, ClientContext=encoded)

    assert payload == {"custom": {"tenant": "blue"}, "env": {"locale": "en"}, "installation_id": "install-1"}


def test_invoke_payload_over_6mb_rejected(lambda_client, python_function):
    body = json.dumps({"action": "echo", "pad": ""}).encode()
    body = body[:-2] + b"x" * (SYNC_PAYLOAD_LIMIT + 1 - len(body)) + b'"}'

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=python_function, Payload=body)

    assert len(body) == SYNC_PAYLOAD_LIMIT + 1
    assert http_status(raised.value.response) == 413
    assert error_code(raised.value) == "RequestTooLargeException"
    assert raised.value.response["Error"]["Message"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )


def test_invoke_payload_of_6mb_accepted(lambda_client, python_function):
    body = json.dumps({"action": "identity", "pad": ""}).encode()
    body = body[:-2] + b"x" * (SYNC_PAYLOAD_LIMIT - len(body)) + b'"}'

    response = lambda_client.invoke(FunctionName=python_function, Payload=body)

    assert len(body) == SYNC_PAYLOAD_LIMIT
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response


def test_invoke_event_payload_over_1mb_rejected(lambda_client, python_function):
    body = json.dumps({"action": "echo", "pad": "x" * (1024 * 1024)}).encode()

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=python_function, InvocationType="Event", Payload=body)

    assert http_status(raised.value.response) == 413
    assert error_code(raised.value) == "RequestTooLargeException"


def test_invoke_invalid_json_rejected(lambda_client, python_function):
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=python_function, Payload=b"{not json")

    assert http_status(raised.value.response) == 400
    assert error_code(raised.value) == "InvalidRequestContentException"
    assert raised.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )


def test_invoke_response_over_limit_fails(lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "large_response", "size": RESPONSE_LIMIT})

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_invoke_response_of_6mb_returned(lambda_client, python_function):
    # The JSON string adds two quotes to the handler's characters.
    response = lambda_client.invoke(
        FunctionName=python_function, Payload=json.dumps({"action": "large_response", "size": SYNC_PAYLOAD_LIMIT - 2})
    )
    payload = response["Payload"].read()

    assert "FunctionError" not in response
    assert len(payload) == SYNC_PAYLOAD_LIMIT


def test_invoke_timeout_returns_sandbox_timedout(server, lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=1)

    started = time.monotonic()
    response, payload = invoke_json(lambda_client, function_name, {"action": "sleep", "seconds": 5})
    elapsed = time.monotonic() - started
    request_id = first_request_id(server, function_name)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    assert elapsed < 3


def test_invoke_timeout_logs_status(server, lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=1)

    invoke_json(lambda_client, function_name, {"action": "sleep", "seconds": 5})
    request_id = first_request_id(server, function_name)
    messages = log_messages(server, function_name)
    timed_out = [m for m in messages if m.endswith(f" {request_id} Task timed out after 1.00 seconds")]
    report = next(m for m in messages if m.startswith("REPORT"))

    assert len(timed_out) == 1
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", timed_out[0])
    assert messages.index(timed_out[0]) < messages.index(f"END RequestId: {request_id}")
    assert "\tStatus: timeout" in report


def test_invoke_timeout_tail_log(lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=1)

    response, _ = invoke_json(lambda_client, function_name, {"action": "sleep", "seconds": 5}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()

    assert "Task timed out after 1.00 seconds\n" in log
    assert "\tStatus: timeout" in log


def test_invoke_timeout_stops_child_processes(server, lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=1)

    invoke_json(lambda_client, function_name, {"action": "spawn_and_sleep", "seconds": 5})

    assert "\tchild started\n" in raw_function_log(server, function_name)
    assert wait_until(lambda: environment_processes(function_name) == [], timeout=3)


def test_invoke_slow_init_not_counted_in_timeout(lambda_client, function_name):
    code = {"app.py": "import time\ntime.sleep(1.5)\n\ndef handler(event, context):\n    return 'ready'\n"}
    create_function(lambda_client, function_name, code, Timeout=1)

    response, payload = invoke_json(lambda_client, function_name, {})

    assert "FunctionError" not in response
    assert payload == "ready"


def test_invoke_after_timeout_uses_fresh_environment(server, lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=1)

    invoke_json(lambda_client, function_name, {"action": "sleep", "seconds": 5})
    timed_out = re.search(r"sleeping in environment (\w+)", raw_function_log(server, function_name)).group(1)
    stopped = wait_until(lambda: environment_processes(function_name) == [], timeout=3)
    response, payload = invoke_json(lambda_client, function_name, {"action": "identity"})

    assert stopped
    assert "FunctionError" not in response
    assert payload["environment"] != timed_out
    assert payload["invocations"] == 1


def test_invoke_exit_returns_runtime_exit_error(server, lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "exit", "status": 3})
    request_id = first_request_id(server, python_function)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }


def test_invoke_exit_report_line(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "exit", "status": 3})
    wait_for_log(server, python_function, "REPORT RequestId")
    report = next(m for m in log_messages(server, python_function) if m.startswith("REPORT"))
    memory_used = int(re.search(r"\tMax Memory Used: (\d+) MB", report).group(1))

    assert report.endswith("\tStatus: error\tError Type: Runtime.ExitError")
    assert memory_used > 0


def test_invoke_exit_zero_reports_no_reason(server, lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "exit", "status": 0})
    request_id = first_request_id(server, python_function)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
    }


def test_invoke_after_exit_succeeds(lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "exit", "status": 3})

    response, payload = invoke_json(lambda_client, python_function, {"action": "identity"})

    assert "FunctionError" not in response
    assert payload["invocations"] == 1


# Environments and concurrency


def test_invoke_after_code_update_runs_new_code(lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "identity"})
    new_code = {"app.py": "def handler(event, context):\n    return 'new code'\n"}
    lambda_client.update_function_code(FunctionName=python_function, ZipFile=make_zip(new_code))

    response, payload = invoke_json(lambda_client, python_function, {})

    assert "FunctionError" not in response
    assert payload == "new code"


def test_invoke_after_configuration_update_sees_variables(lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "identity"})
    lambda_client.update_function_configuration(
        FunctionName=python_function, Environment={"Variables": {"STAGE": "updated"}}
    )

    _, variables = invoke_json(lambda_client, python_function, {"action": "environment"})

    assert variables.get("STAGE") == "updated"


def test_invoke_overlapping_calls_use_two_environments(server, python_function):
    results = []

    def invoke():
        _, payload = invoke_json(server.client(), python_function, {"action": "sleep", "seconds": 1})
        results.append(payload)

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 2
    assert results[0]["environment"] != results[1]["environment"]


def test_invoke_sequential_calls_reuse_environment(lambda_client, python_function):
    _, first = invoke_json(lambda_client, python_function, {"action": "identity"})
    let_environment_become_idle()
    _, second = invoke_json(lambda_client, python_function, {"action": "identity"})

    assert first["environment"] == second["environment"]
    assert first["invocations"] == 1
    assert second["invocations"] == 2


def test_invoke_concurrency_limit_throttles(start_server, function_name):
    server = start_server("--concurrency-limit", "1")
    client = server.client()
    create_function(client, function_name, PYTHON_APP, Timeout=10)
    results = []
    slow = threading.Thread(
        target=lambda: results.append(invoke_json(server.client(), function_name, {"action": "sleep", "seconds": 2}))
    )
    slow.start()
    wait_for_log(server, function_name, "sleeping in environment")

    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=function_name, Payload=b'{"action": "echo"}')
    slow.join(timeout=30)
    error = raised.value.response

    assert http_status(error) == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert "retry-after" in error["ResponseMetadata"]["HTTPHeaders"]
    assert len(results) == 1
    assert "FunctionError" not in results[0][0]


def test_invoke_idle_environment_stopped(start_server, function_name):
    server = start_server("--idle-keep-alive", "1")
    client = server.client()
    create_function(client, function_name, PYTHON_APP)

    invoke_json(client, function_name, {"action": "identity"})
    running = environment_processes(function_name)

    assert running != []
    assert wait_until(lambda: environment_processes(function_name) == [], timeout=5)


def test_invoke_healthy_function_served_during_timeout(server, lambda_client, function_name):
    slow_name = f"{function_name}-slow"
    create_function(lambda_client, slow_name, PYTHON_APP, Timeout=3)
    create_function(lambda_client, function_name, PYTHON_APP)
    slow = threading.Thread(target=lambda: invoke_json(server.client(), slow_name, {"action": "sleep", "seconds": 30}))
    slow.start()
    wait_for_log(server, slow_name, "sleeping in environment")

    started = time.monotonic()
    response, payload = invoke_json(lambda_client, function_name, {"action": "echo"})
    elapsed = time.monotonic() - started
    slow.join(timeout=30)

    assert payload == {"event": {"action": "echo"}}
    assert "FunctionError" not in response
    assert elapsed < 2


# The execution environment


@pytest.fixture(scope="module")
def environment_invocation(lambda_client):
    """Invoke one function that returns its environment variables; return (name, variables)."""
    name = f"environment-{uuid.uuid4().hex[:8]}"
    create_function(
        lambda_client, name, PYTHON_APP, MemorySize=256, Environment={"Variables": {"GREETING": "hello"}}
    )
    _, variables = invoke_json(lambda_client, name, {"action": "environment"})
    return name, variables


ENVIRONMENT_VALUES = [
    ("GREETING", "hello"),
    ("AWS_LAMBDA_FUNCTION_NAME", "{name}"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/{name}"),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
    ("AWS_REGION", REGION),
    ("AWS_DEFAULT_REGION", REGION),
    ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11"),
    ("_HANDLER", "app.handler"),
    ("LAMBDA_TASK_ROOT", "/var/task"),
    ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
    ("TZ", ":UTC"),
    ("LANG", "en_US.UTF-8"),
]


@pytest.mark.parametrize(("variable", "expected"), ENVIRONMENT_VALUES, ids=[v for v, _ in ENVIRONMENT_VALUES])
def test_environment_variable_value(environment_invocation, variable, expected):
    name, variables = environment_invocation

    assert variables.get(variable) == expected.format(name=name)


ENVIRONMENT_PATTERNS = [
    ("AWS_LAMBDA_LOG_STREAM_NAME", r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}"),
    ("AWS_LAMBDA_RUNTIME_API", r"127\.0\.0\.1:\d+"),
    ("_X_AMZN_TRACE_ID", r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0"),
    ("PATH", r".*(^|:)/usr/bin(:|$).*"),
]


@pytest.mark.parametrize(("variable", "pattern"), ENVIRONMENT_PATTERNS, ids=[v for v, _ in ENVIRONMENT_PATTERNS])
def test_environment_variable_format(environment_invocation, variable, pattern):
    _, variables = environment_invocation

    assert re.fullmatch(pattern, variables.get(variable, "")), variables.get(variable)


def test_environment_memory_limit_enforced(server, lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, MemorySize=128, Timeout=10)

    response, payload = invoke_json(lambda_client, function_name, {"action": "allocate", "megabytes": 512})
    request_id = first_request_id(server, function_name)

    assert response.get("FunctionError") == "Unhandled"
    assert payload == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
    }


def test_environment_open_files_limit(lambda_client, python_function):
    _, payload = invoke_json(lambda_client, python_function, {"action": "limits"})

    assert payload["nofile"] == [1024, 1024]


def test_environment_task_root_is_working_directory(lambda_client, python_function):
    _, variables = invoke_json(lambda_client, python_function, {"action": "environment"})
    _, working = invoke_json(lambda_client, python_function, {"action": "cwd"})

    assert working["cwd"] == variables["LAMBDA_TASK_ROOT"]
    assert "app.py" in working["files"]


def test_environment_tmp_writable(lambda_client, python_function):
    path = f"/tmp/{python_function}.json"
    event = {"action": "write_file", "path": path}

    response, payload = invoke_json(lambda_client, python_function, event)
    let_environment_become_idle()
    _, read = invoke_json(lambda_client, python_function, {"action": "read_file", "path": path})

    assert "FunctionError" not in response
    assert payload == "written"
    assert json.loads(read["content"]) == event


def test_environment_task_root_read_only(lambda_client, python_function):
    # AWS mounts /var/task read-only, so a handler cannot change the code of its function.
    response, payload = invoke_json(lambda_client, python_function, {"action": "write_file", "path": "created.json"})

    assert response.get("FunctionError") == "Unhandled"
    assert payload["errorType"] == "OSError"
    assert payload["errorMessage"] == "[Errno 30] Read-only file system: 'created.json'"


def test_environment_server_variables_not_leaked(environment_invocation):
    _, variables = environment_invocation
    leaked = sorted(name for name in variables if name in {"HOME", "USER", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST"})

    assert leaked == []


# The AWS CLI


def test_cli_invoke_writes_payload(server, python_function, tmp_path):
    outfile = tmp_path / "out.json"

    code, output, stderr = server.aws(
        "lambda", "invoke", "--function-name", python_function, "--payload", '{"action": "echo", "n": 2}', str(outfile)
    )

    assert code == 0, stderr
    assert output == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(outfile.read_text()) == {"event": {"action": "echo", "n": 2}}


def test_cli_invoke_function_error(server, python_function, tmp_path):
    outfile = tmp_path / "out.json"

    code, output, stderr = server.aws(
        "lambda", "invoke", "--function-name", python_function,
        "--payload", '{"action": "raise", "message": "cli boom"}', str(outfile),
    )

    assert code == 0, stderr
    assert output == {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST"}
    assert json.loads(outfile.read_text())["errorMessage"] == "cli boom"


def test_cli_invoke_tail_log(server, python_function, tmp_path):
    outfile = tmp_path / "out.json"

    code, output, stderr = server.aws(
        "lambda", "invoke", "--function-name", python_function, "--log-type", "Tail",
        "--payload", '{"action": "print", "message": "cli tail"}', str(outfile),
    )
    log = base64.b64decode(output["LogResult"]).decode()

    assert code == 0, stderr
    assert "START RequestId: " in log
    assert "\ncli tail\n" in log
    assert "REPORT RequestId: " in log


def test_cli_invoke_event_type(server, python_function, tmp_path):
    token, event = printing_event()

    code, output, stderr = server.aws(
        "lambda", "invoke", "--function-name", python_function, "--invocation-type", "Event",
        "--payload", json.dumps(event), str(tmp_path / "out.json"),
    )

    assert code == 0, stderr
    assert output == {"StatusCode": 202}
    assert wait_for_log(server, python_function, f"\t{token}\n")


def test_cli_invoke_async_legacy(server, python_function, tmp_path):
    token, event = printing_event()
    arguments = tmp_path / "arguments.json"
    arguments.write_text(json.dumps(event))

    code, output, stderr = server.aws(
        "lambda", "invoke-async", "--function-name", python_function, "--invoke-args", str(arguments)
    )

    assert code == 0, stderr
    assert output == {"Status": 202}
    assert wait_for_log(server, python_function, f"\t{token}\n")


def test_cli_invoke_unknown_function(server, tmp_path):
    code, _, stderr = server.aws(
        "lambda", "invoke", "--function-name", "no-such-function", "--payload", "{}", str(tmp_path / "out.json")
    )

    assert code == 255
    assert "ResourceNotFoundException" in stderr
