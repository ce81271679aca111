"""Custom runtimes (`provided.al2023`): bootstraps written against the Runtime API in shell and
in Python, the official Python runtime client (awslambdaric) and the official Rust runtime
crate (lambda_runtime) as real peers, and bootstraps that fail during initialization."""

import base64
import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ACCOUNT, REGION, REPO, create_function, invoke_json, make_zip
from functions import package
from functions.support import (
    environment_processes,
    first_request_id,
    let_environment_become_idle,
    raw_function_log,
    wait_until,
)

RUNTIME = "provided.al2023"
# The PATH that Flicker sets in environments, without the layer directory.
ENVIRONMENT_PATH = "/usr/local/bin:/usr/bin:/bin"
HANDLER = "function.handler"
RUST_BINARY = REPO / "target" / "release" / "rust-hello"
RUST_ERROR_TYPE = "&alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"


def create_custom_function(client, name, code, **kwargs):
    return create_function(client, name, code, runtime=RUNTIME, handler=HANDLER, **kwargs)


# A bootstrap in shell with curl


def test_shell_runtime_echo(server, lambda_client, function_name):
    create_custom_function(lambda_client, function_name, package("provided/curl_echo"))

    response, payload = invoke_json(lambda_client, function_name, {"message": "from shell"})
    request_id = first_request_id(server, function_name)

    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload == {"echo": {"message": "from shell"}, "requestId": request_id, "handler": HANDLER}


def test_shell_runtime_serves_again(lambda_client, function_name):
    create_custom_function(lambda_client, function_name, package("provided/curl_echo"))
    invoke_json(lambda_client, function_name, {"call": 1})

    response, payload = invoke_json(lambda_client, function_name, {"call": 2})

    assert "FunctionError" not in response
    assert payload["echo"] == {"call": 2}


def test_shell_runtime_reported_error(lambda_client, function_name):
    create_custom_function(lambda_client, function_name, package("provided/curl_echo"))

    response, payload = invoke_json(lambda_client, function_name, {"fail": True})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload == {"errorMessage": "shell handler failed", "errorType": "Custom.ShellError"}


def test_shell_runtime_output_in_log(server, lambda_client, function_name):
    create_custom_function(lambda_client, function_name, package("provided/curl_echo"))

    invoke_json(lambda_client, function_name, {})
    request_id = first_request_id(server, function_name)

    assert f"\tshell runtime got {request_id}\n" in raw_function_log(server, function_name)


# A bootstrap in Python that returns what the Runtime API sent


@pytest.fixture
def echo_runtime(lambda_client, function_name):
    create_custom_function(
        lambda_client, function_name, package("provided/python_echo"), Environment={"Variables": {"COLOR": "green"}}
    )
    return function_name


def test_runtime_api_next_headers(server, lambda_client, echo_runtime):
    started_ms = time.time() * 1000
    _, payload = invoke_json(lambda_client, echo_runtime, {"k": "v"})
    headers = payload["headers"]
    request_id = first_request_id(server, echo_runtime)

    assert payload["status"] == 200
    assert payload["event"] == {"k": "v"}
    assert headers["lambda-runtime-aws-request-id"] == request_id
    assert headers["lambda-runtime-invoked-function-arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{echo_runtime}"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", headers["lambda-runtime-trace-id"])
    assert headers["content-type"] == "application/json"
    assert started_ms + 2000 < int(headers["lambda-runtime-deadline-ms"]) < started_ms + 4000


def test_runtime_api_client_context_header(lambda_client, echo_runtime):
    client_context = {"custom": {"a": 1}, "env": {"b": "2"}, "client": {"installation_id": "c"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()

    _, payload = invoke_json(lambda_client, echo_runtime, {}, ClientContext=encoded)

    assert json.loads(payload["headers"]["lambda-runtime-client-context"]) == client_context


def test_runtime_api_no_client_context_header(lambda_client, echo_runtime):
    _, payload = invoke_json(lambda_client, echo_runtime, {})

    assert "lambda-runtime-client-context" not in payload["headers"]
    assert "lambda-runtime-cognito-identity" not in payload["headers"]


def test_custom_runtime_environment(lambda_client, echo_runtime):
    _, payload = invoke_json(lambda_client, echo_runtime, {})
    environment = payload["environment"]

    assert environment["COLOR"] == "green"
    assert environment["_HANDLER"] == HANDLER
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == echo_runtime
    assert environment["TZ"] == ":UTC"
    # AWS sets AWS_EXECUTION_ENV only for its managed language runtimes.
    assert "AWS_EXECUTION_ENV" not in environment


def test_custom_runtime_process_reused(lambda_client, echo_runtime):
    _, first = invoke_json(lambda_client, echo_runtime, {})
    let_environment_become_idle()
    _, second = invoke_json(lambda_client, echo_runtime, {})

    assert first["environment_id"] == second["environment_id"]
    assert first["headers"]["lambda-runtime-aws-request-id"] != second["headers"]["lambda-runtime-aws-request-id"]


# The official Python runtime client, awslambdaric


def environment_python_version():
    """Return the minor version of the `python3` that the bootstrap finds on the PATH Flicker
    gives environments."""
    python = shutil.which("python3", path=ENVIRONMENT_PATH)
    assert python, f"no python3 on {ENVIRONMENT_PATH}"
    result = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def awslambdaric_package(tmp_path_factory):
    """Install awslambdaric from PyPI for the environment's python3 and return the installed
    files with app.py and the bootstrap added. The wheel contains a C extension, so it must match
    that interpreter's minor version rather than the one running the tests."""
    target = tmp_path_factory.mktemp("awslambdaric")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--python-version", environment_python_version(), "--target", str(target), "awslambdaric"],
        check=True,
        timeout=300,
    )
    files = {}
    for path in sorted(target.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(target).as_posix()] = path.read_bytes()
    files.update(package("awslambdaric"))
    return files


def test_awslambdaric_invoke_success(server, lambda_client, function_name, awslambdaric_package):
    create_custom_function(lambda_client, function_name, awslambdaric_package)

    response, payload = invoke_json(lambda_client, function_name, {"from": "awslambdaric"})
    request_id = first_request_id(server, function_name)

    assert "FunctionError" not in response
    assert payload == {"echo": {"from": "awslambdaric"}, "request_id": request_id, "function_name": function_name}


def test_awslambdaric_invoke_error(server, lambda_client, function_name, awslambdaric_package):
    create_custom_function(lambda_client, function_name, awslambdaric_package)

    response, payload = invoke_json(lambda_client, function_name, {"error": "bad input"})
    request_id = first_request_id(server, function_name)

    assert response["FunctionError"] == "Unhandled"
    assert sorted(payload) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad input"
    assert payload["requestId"] == request_id
    assert re.fullmatch(
        r'  File "/var/task/app\.py", line \d+, in handler\n    raise ValueError\(event\["error"\]\)\n',
        payload["stackTrace"][-1],
    ), payload["stackTrace"]


def test_awslambdaric_handler_not_found(lambda_client, function_name, awslambdaric_package):
    bootstrap, mode = package("awslambdaric")["bootstrap"]
    files = dict(awslambdaric_package, bootstrap=(bootstrap.replace(b"app.handler", b"app.missing"), mode))
    create_custom_function(lambda_client, function_name, files)

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorMessage": "Handler 'missing' missing on module 'app'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }


# The official Rust runtime crate, lambda_runtime


@pytest.fixture(scope="module")
def rust_package():
    """Return a package whose bootstrap is the rust-hello binary, building it if missing."""
    if not RUST_BINARY.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "rust-hello"], cwd=REPO, check=True, timeout=900)
    return make_zip({"bootstrap": (RUST_BINARY.read_bytes(), 0o755)})


def test_rust_runtime_invoke_success(server, lambda_client, function_name, rust_package):
    create_custom_function(lambda_client, function_name, rust_package)

    response, payload = invoke_json(lambda_client, function_name, {"from": "rust"})
    request_id = first_request_id(server, function_name)

    assert "FunctionError" not in response
    assert payload == {"echo": {"from": "rust"}, "request_id": request_id, "function_name": function_name}


def test_rust_runtime_invoke_error(lambda_client, function_name, rust_package):
    create_custom_function(lambda_client, function_name, rust_package)

    response, payload = invoke_json(lambda_client, function_name, {"error": "rust handler failed"})

    assert response["FunctionError"] == "Unhandled"
    assert payload == {"errorType": RUST_ERROR_TYPE, "errorMessage": "rust handler failed"}


def test_rust_runtime_serves_after_error(lambda_client, function_name, rust_package):
    create_custom_function(lambda_client, function_name, rust_package)
    invoke_json(lambda_client, function_name, {"error": "first fails"})

    response, payload = invoke_json(lambda_client, function_name, {"n": 2})

    assert "FunctionError" not in response
    assert payload["echo"] == {"n": 2}


# Bootstraps that fail during initialization


def test_bootstrap_exit_127_is_exit_error(server, lambda_client, function_name):
    create_custom_function(lambda_client, function_name, package("provided/exit_127"))

    response, payload = invoke_json(lambda_client, function_name, {})
    request_id = first_request_id(server, function_name)

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 127",
    }


def test_bootstrap_init_error_returned(lambda_client, function_name):
    create_custom_function(lambda_client, function_name, package("provided/init_error"))

    response, payload = invoke_json(lambda_client, function_name, {})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload == {"errorMessage": "configuration missing", "errorType": "Custom.InitFailure"}


def test_bootstrap_init_timeout_fails_fast(start_server, function_name):
    server = start_server("--init-timeout", "2")
    client = server.client()
    create_custom_function(client, function_name, package("provided/never_ready"), Timeout=30)

    started = time.monotonic()
    response, payload = invoke_json(client, function_name, {})
    elapsed = time.monotonic() - started

    assert elapsed < 6
    assert response["FunctionError"] == "Unhandled"
    assert isinstance(payload.get("errorType"), str)
    assert isinstance(payload.get("errorMessage"), str)


def test_bootstrap_init_timeout_stops_process(start_server, function_name):
    server = start_server("--init-timeout", "2")
    client = server.client()
    create_custom_function(client, function_name, package("provided/never_ready"), Timeout=30)

    invoke_json(client, function_name, {})

    assert wait_until(lambda: environment_processes(function_name) == [], timeout=3)


def test_bootstrap_without_execute_bit_runs(lambda_client, function_name):
    # A working bootstrap without execute bits, as zips made on Windows carry it. AWS rejects
    # it with Runtime.InvalidEntrypoint; Flicker makes a top-level bootstrap executable.
    bootstrap, _ = package("provided/curl_echo")["bootstrap"]
    create_custom_function(lambda_client, function_name, {"bootstrap": (bootstrap, 0o644)})

    response, payload = invoke_json(lambda_client, function_name, {"ping": 1})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
