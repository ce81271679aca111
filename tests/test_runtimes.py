"""Flicker's own Python and Node.js runtime clients, compared with the AWS runtimes: results,
error payloads, handler loading, log output and the context object. Expected error payloads
follow AWS's recorded responses and the official runtime clients (awslambdaric for Python,
aws-lambda-nodejs-runtime-interface-client for Node.js)."""

import base64
import json
import re

import pytest

from conftest import ACCOUNT, REGION, create_function, invoke_json
from functions import package
from functions.support import (
    UUID_PATTERN,
    first_request_id,
    let_environment_become_idle,
    log_messages,
    wait_for_log,
)

PYTHON_APP = package("python/basic")
NODE_APP = package("nodejs/commonjs")
ISO_TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
PYTHON_ERROR_KEYS = ["errorMessage", "errorType", "requestId", "stackTrace"]
NODE_ERROR_KEYS = ["errorMessage", "errorType", "trace"]


def invocation_messages(server, name):
    """Return the log messages between the first START line and its END line."""
    wait_for_log(server, name, "REPORT RequestId")
    messages = log_messages(server, name)
    start = next(i for i, m in enumerate(messages) if m.startswith("START RequestId"))
    end = next(i for i, m in enumerate(messages) if m.startswith("END RequestId"))
    return messages[start + 1 : end]


# Python


@pytest.fixture
def python_function(lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP)
    return function_name


def test_python_handler_result(lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "echo", "items": [1, "two", None]})

    assert payload == {"event": {"action": "echo", "items": [1, "two", None]}}
    assert "FunctionError" not in response


def test_python_none_result_is_null(lambda_client, python_function):
    response = lambda_client.invoke(FunctionName=python_function, Payload=b'{"action": "none"}')

    assert response["Payload"].read() == b"null"


def test_python_exception_payload(server, lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "raise", "message": "boom"})
    request_id = first_request_id(server, python_function)

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == PYTHON_ERROR_KEYS
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom"
    assert payload["requestId"] == request_id


def test_python_exception_stack_trace(lambda_client, python_function):
    _, payload = invoke_json(lambda_client, python_function, {"action": "raise", "message": "boom"})
    stack_trace = payload["stackTrace"]

    # AWS lists only the handler's frames, each as traceback.format_list formats it.
    assert isinstance(stack_trace, list)
    assert len(stack_trace) == 1
    assert re.fullmatch(
        r'  File "/var/task/app\.py", line \d+, in handler\n    raise ValueError\(event\["message"\]\)\n', stack_trace[0]
    ), stack_trace[0]


def test_python_exception_logged(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "raise", "message": "logged boom"})
    messages = invocation_messages(server, python_function)

    # AWS writes the error as one log event whose lines are joined with "\r".
    assert len(messages) == 1
    assert messages[0].startswith("[ERROR] ValueError: logged boom\rTraceback (most recent call last):\r")


def test_python_import_error(lambda_client, function_name):
    create_function(lambda_client, function_name, package("python/import_error"))

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorMessage": "Unable to import module 'app': No module named 'does_not_exist'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


def test_python_import_error_repeats(lambda_client, function_name):
    create_function(lambda_client, function_name, package("python/import_error"))
    invoke_json(lambda_client, function_name, {})

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"


def test_python_module_exception(lambda_client, function_name):
    create_function(lambda_client, function_name, {"app.py": 'raise Exception("Runtime startup fails")\n'})

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == PYTHON_ERROR_KEYS
    assert payload["errorType"] == "Exception"
    assert payload["errorMessage"] == "Runtime startup fails"
    assert payload["requestId"] == ""
    assert payload["stackTrace"][-1] == '  File "/var/task/app.py", line 1, in <module>\n    raise Exception("Runtime startup fails")\n'


def test_python_sys_exit_during_init(server, lambda_client, function_name):
    create_function(lambda_client, function_name, {"app.py": "import sys\nsys.exit(0)\n"})

    response, payload = invoke_json(lambda_client, function_name, {})
    request_id = first_request_id(server, function_name)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
    }


def test_python_sys_exit_in_handler(server, lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "sys_exit", "status": 0})
    request_id = first_request_id(server, python_function)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
    }


def test_python_handler_not_found(lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, handler="app.missing")

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == PYTHON_ERROR_KEYS
    assert payload["errorType"] == "Runtime.HandlerNotFound"
    assert payload["errorMessage"] == "Handler 'missing' missing on module 'app'"
    assert payload["stackTrace"] == []


def test_python_syntax_error(lambda_client, function_name):
    # The broken source stays inline so that no tool that compiles the fixture tree trips on it.
    create_function(lambda_client, function_name, {"app.py": "def handler(event, context)\n    return 1\n"})

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == PYTHON_ERROR_KEYS
    assert payload["errorType"] == "Runtime.UserCodeSyntaxError"
    assert payload["errorMessage"] == "Syntax error in module 'app': expected ':' (app.py, line 1)"
    assert payload["requestId"] == ""
    assert payload["stackTrace"] == ['  File "/var/task/app.py" Line 1\n    def handler(event, context)\n']


def test_python_marshal_error(server, lambda_client, python_function):
    response, payload = invoke_json(lambda_client, python_function, {"action": "unserializable"})
    request_id = first_request_id(server, python_function)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorMessage": "Unable to marshal response: Object of type object is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": request_id,
        "stackTrace": [],
    }


def test_python_nested_handler(lambda_client, function_name):
    create_function(lambda_client, function_name, package("python/nested"), handler="src/app.handler")

    response, payload = invoke_json(lambda_client, function_name, {"nested": True})

    assert "FunctionError" not in response
    assert payload == {"module": "src.app", "event": {"nested": True}}


def test_python_print_in_log(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "print", "message": "printed line"})

    assert invocation_messages(server, python_function) == ["printed line"]


def test_python_print_without_newline_in_log(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "print", "message": "no newline", "end": ""})

    assert invocation_messages(server, python_function) == ["no newline"]


def test_python_stderr_in_log(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "print_stderr", "message": "error stream line"})

    assert invocation_messages(server, python_function) == ["error stream line"]


def test_python_logging_format(server, lambda_client, python_function):
    invoke_json(lambda_client, python_function, {"action": "log", "message": "logged line"})
    request_id = first_request_id(server, python_function)
    messages = invocation_messages(server, python_function)

    assert len(messages) == 1
    assert re.fullmatch(rf"\[WARNING\]\t{ISO_TIMESTAMP}\t{request_id}\tlogged line", messages[0]), messages[0]


def test_python_logging_info_hidden_by_default(server, lambda_client, python_function):
    # The root logger keeps Python's default level, WARNING, unless the function changes it.
    invoke_json(lambda_client, python_function, {"action": "log_info", "message": "info line"})

    assert invocation_messages(server, python_function) == []


def test_python_context_fields(lambda_client, python_function):
    _, environment = invoke_json(lambda_client, python_function, {"action": "environment"})
    let_environment_become_idle()
    _, context = invoke_json(lambda_client, python_function, {"action": "context"})
    remaining = context.pop("remaining_time_in_millis")
    request_id = context.pop("aws_request_id")

    assert context == {
        "function_name": python_function,
        "function_version": "$LATEST",
        "invoked_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{python_function}",
        "memory_limit_in_mb": "128",
        "log_group_name": f"/aws/lambda/{python_function}",
        "log_stream_name": environment["AWS_LAMBDA_LOG_STREAM_NAME"],
        "cognito_identity_id": None,
        "client_context": None,
    }
    assert re.fullmatch(UUID_PATTERN, request_id)
    assert 2000 < remaining <= 3000


def test_python_remaining_time_decreases(lambda_client, function_name):
    create_function(lambda_client, function_name, PYTHON_APP, Timeout=10)

    _, context = invoke_json(lambda_client, function_name, {"action": "context"})

    assert 9000 < context["remaining_time_in_millis"] <= 10000


# Node.js


def create_node_function(client, name, handler="index.handler", code=None, runtime="nodejs20.x", **kwargs):
    return create_function(client, name, code or NODE_APP, runtime=runtime, handler=handler, **kwargs)


def test_nodejs_async_handler_result(lambda_client, function_name):
    create_node_function(lambda_client, function_name)

    response, payload = invoke_json(lambda_client, function_name, {"greeting": "hi"})

    assert "FunctionError" not in response
    assert payload["event"] == {"greeting": "hi"}
    assert payload["invocations"] == 1


def test_nodejs_warm_invocation_keeps_state(lambda_client, function_name):
    create_node_function(lambda_client, function_name)
    _, first = invoke_json(lambda_client, function_name, {})
    let_environment_become_idle()

    _, second = invoke_json(lambda_client, function_name, {})

    assert second["invocations"] == 2
    assert second["environment"] == first["environment"]


def test_nodejs_callback_handler_result(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.callback")

    response, payload = invoke_json(lambda_client, function_name, {"n": 1})

    assert "FunctionError" not in response
    assert payload == {"event": {"n": 1}, "style": "callback"}


def test_nodejs_callback_error(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.callbackError")

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == NODE_ERROR_KEYS
    assert payload["errorType"] == "Error"
    assert payload["errorMessage"] == "callback failed"
    assert payload["trace"][0] == "Error: callback failed"


def test_nodejs_thrown_error_payload(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.throws")

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == NODE_ERROR_KEYS
    assert payload["errorType"] == "TypeError"
    assert payload["errorMessage"] == "thrown message"
    assert payload["trace"][0] == "TypeError: thrown message"
    assert payload["trace"][1].startswith("    at ")


def test_nodejs_rejected_promise(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.rejects")

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "RangeError"
    assert payload["errorMessage"] == "rejected message"
    assert payload["trace"][0] == "RangeError: rejected message"


def test_nodejs_thrown_string(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.throwsString")

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert payload == {"errorType": "string", "errorMessage": "plain string", "trace": []}


def test_nodejs_undefined_result_is_null(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.undefinedResult")

    response = lambda_client.invoke(FunctionName=function_name, Payload=b"{}")

    assert response["Payload"].read() == b"null"


def test_nodejs_mjs_handler(lambda_client, function_name):
    create_node_function(lambda_client, function_name, code=package("nodejs/esm"))

    response, payload = invoke_json(lambda_client, function_name, {"esm": "mjs"})

    assert "FunctionError" not in response
    assert payload == {"event": {"esm": "mjs"}, "module": "index.mjs"}


def test_nodejs_module_package_handler(lambda_client, function_name):
    create_node_function(lambda_client, function_name, code=package("nodejs/module_package"))

    response, payload = invoke_json(lambda_client, function_name, {"esm": "package"})

    assert "FunctionError" not in response
    assert payload == {"event": {"esm": "package"}, "esm": True}


def test_nodejs_missing_export(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.missing")

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == NODE_ERROR_KEYS
    assert payload["errorType"] == "Runtime.HandlerNotFound"
    assert payload["errorMessage"] == "index.missing is undefined or not exported"


def test_nodejs_syntax_error(lambda_client, function_name):
    create_node_function(lambda_client, function_name, code={"index.js": "exports.handler = async (event => {\n"})

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == NODE_ERROR_KEYS
    assert payload["errorType"] == "Runtime.UserCodeSyntaxError"
    assert payload["errorMessage"].startswith("SyntaxError: ")


def test_nodejs_missing_required_module(lambda_client, function_name):
    code = {"index.js": "require('does-not-exist');\nexports.handler = async () => 1;\n"}
    create_node_function(lambda_client, function_name, code=code)

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == NODE_ERROR_KEYS
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"].startswith("Error: Cannot find module 'does-not-exist'")


def test_nodejs_process_exit(server, lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.exit")

    response, payload = invoke_json(lambda_client, function_name, {"status": 2})
    request_id = first_request_id(server, function_name)

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 2",
    }


def test_nodejs_console_log_format(server, lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.log")

    event = {"message": "hello node", "errorMessage": "error line", "warnMessage": "warn line", "infoMessage": "info line"}

    invoke_json(lambda_client, function_name, event)
    request_id = first_request_id(server, function_name)
    messages = invocation_messages(server, function_name)

    assert len(messages) == 4
    assert re.fullmatch(rf"{ISO_TIMESTAMP}\t{request_id}\tINFO\thello node", messages[0]), messages[0]
    assert re.fullmatch(rf"{ISO_TIMESTAMP}\t{request_id}\tERROR\terror line", messages[1]), messages[1]
    assert re.fullmatch(rf"{ISO_TIMESTAMP}\t{request_id}\tWARN\twarn line", messages[2]), messages[2]
    assert re.fullmatch(rf"{ISO_TIMESTAMP}\t{request_id}\tINFO\tinfo line", messages[3]), messages[3]


def test_nodejs_context_fields(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.context")

    response, context = invoke_json(lambda_client, function_name, {})
    remaining = context.pop("remainingTimeInMillis")
    request_id = context.pop("awsRequestId")
    log_stream = context.pop("logStreamName")

    assert "FunctionError" not in response
    assert context == {
        "functionName": function_name,
        "functionVersion": "$LATEST",
        "invokedFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}",
        "memoryLimitInMB": "128",
        "logGroupName": f"/aws/lambda/{function_name}",
        "callbackWaitsForEmptyEventLoop": True,
        "clientContext": None,
    }
    assert re.fullmatch(UUID_PATTERN, request_id)
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", log_stream)
    assert 2000 < remaining <= 3000


def test_nodejs_client_context(lambda_client, function_name):
    create_node_function(lambda_client, function_name, handler="index.context")
    client_context = {"custom": {"foo": "bar"}, "client": {"snap": ["crackle", "pop"]}, "env": {"fizz": "buzz"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()

    _, context = invoke_json(lambda_client, function_name, {}, ClientContext=encoded)

    assert context["clientContext"] == client_context


# The same functions across runtime identifiers, each of which Flicker runs with the
# interpreter installed for its language

LANGUAGES = {
    "python": {
        "code": PYTHON_APP,
        "handler": "app.handler",
        "environment_event": {"action": "environment"},
        "error_handler": "app.handler",
        "error_event": {"action": "raise", "message": "table error"},
        "error_keys": PYTHON_ERROR_KEYS,
    },
    "nodejs": {
        "code": NODE_APP,
        "handler": "index.environment",
        "environment_event": {},
        "error_handler": "index.throws",
        "error_event": {},
        "error_keys": NODE_ERROR_KEYS,
    },
}
RUNTIMES = ["python3.9", "python3.12", "python3.13", "nodejs18.x", "nodejs22.x"]


def language_of(runtime):
    return LANGUAGES["python" if runtime.startswith("python") else "nodejs"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_table_execution_env(lambda_client, function_name, runtime):
    language = language_of(runtime)
    create_function(lambda_client, function_name, language["code"], runtime=runtime, handler=language["handler"])

    response, environment = invoke_json(lambda_client, function_name, language["environment_event"])

    assert "FunctionError" not in response
    assert environment["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert environment["_HANDLER"] == language["handler"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_table_error_shape(lambda_client, function_name, runtime):
    language = language_of(runtime)
    create_function(lambda_client, function_name, language["code"], runtime=runtime, handler=language["error_handler"])

    response, payload = invoke_json(lambda_client, function_name, language["error_event"])

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == language["error_keys"]
