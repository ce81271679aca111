"""Integration tests of the `flicker serve` process: restarts, stopping on SIGTERM, and where
its settings come from (flags over FLICKER_* environment variables over the TOML file)."""

import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest

from conftest import FLICKER_BIN, Server, create_function, free_port, invoke_json, make_zip

MARKER_CHILD_CODE = """\
import subprocess
import sys

def handler(event, context):
    # The marker in the command line lets the test find this process with pgrep -f.
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", event["marker"]])
    return "started"
"""

SLEEPING_CODE = """\
import time

def handler(event, context):
    print("handler running", flush=True)
    time.sleep(event["seconds"])
    return "woke up"
"""


@pytest.fixture
def start_env_server(tmp_path):
    """Starts servers with extra environment variables, and stops them all after the test."""
    started = []

    def start(*extra_args, env=None):
        instance = Server(tmp_path / f"env-data-{len(started)}", extra_args, env).start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def pids_with_marker(marker):
    result = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(pid) for pid in result.stdout.split()]


def wait_until_present(marker, timeout):
    """Polls until a process has `marker` in its command line, and returns their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pids_with_marker(marker)
        if found:
            return found
        time.sleep(0.1)
    return []


def wait_until_gone(marker, timeout):
    """Polls until no process has `marker` in its command line, and returns the pids still left."""
    deadline = time.monotonic() + timeout
    while True:
        left = pids_with_marker(marker)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def kill_marked(marker):
    """Ends the processes this test's function started, found by their unique marker."""
    for pid in pids_with_marker(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def download(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


# Restart


def test_restart_keeps_functions_and_code(start_server):
    server = start_server()
    client = server.client()
    zip_bytes = make_zip({"app.py": "def handler(event, context):\n    return {'kept': event}\n"})
    create_function(client, "kept", zip_bytes, Environment={"Variables": {"COLOR": "blue"}}, Timeout=9)
    before = client.get_function(FunctionName="kept")

    server.restart()
    after = client.get_function(FunctionName="kept")
    _, payload = invoke_json(client, "kept", {"n": 1})

    assert after["Configuration"] == before["Configuration"]
    assert download(after["Code"]["Location"]) == zip_bytes
    assert payload == {"kept": {"n": 1}}


def test_restart_keeps_updated_code(start_server):
    server = start_server()
    client = server.client()
    create_function(client, "updated", {"app.py": "def handler(event, context):\n    return 'one'\n"})
    client.update_function_code(
        FunctionName="updated", ZipFile=make_zip({"app.py": "def handler(event, context):\n    return 'two'\n"})
    )

    server.restart()
    _, payload = invoke_json(client, "updated")

    assert payload == "two"


def test_restart_keeps_deleted_function_away(start_server):
    server = start_server()
    client = server.client()
    create_function(client, "gone", {"app.py": "def handler(event, context):\n    return 1\n"})
    create_function(client, "stays", {"app.py": "def handler(event, context):\n    return 2\n"})
    client.delete_function(FunctionName="gone")

    server.restart()
    names = [function["FunctionName"] for function in client.list_functions()["Functions"]]

    assert names == ["stays"]


# Stopping


def test_sigterm_exits_zero_quickly(start_server):
    server = start_server()
    client = server.client()
    create_function(client, "idle", {"app.py": "def handler(event, context):\n    return 1\n"})
    invoke_json(client, "idle")

    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    status = server.process.wait(timeout=15)
    elapsed = time.monotonic() - started

    assert status == 0
    assert elapsed < 5, f"stopping took {elapsed:.1f} s"


def test_sigterm_leaves_no_function_children(start_server):
    server = start_server()
    client = server.client()
    marker = f"flicker-child-{uuid.uuid4().hex}"
    create_function(client, "spawner", {"app.py": MARKER_CHILD_CODE})
    try:
        _, payload = invoke_json(client, "spawner", {"marker": marker})
        running = wait_until_present(marker, timeout=5)

        server.process.send_signal(signal.SIGTERM)
        status = server.process.wait(timeout=15)
        left = wait_until_gone(marker, timeout=3)
    finally:
        kill_marked(marker)

    assert payload == "started"
    assert running, "the function's child process never started"
    assert status == 0
    assert left == []


def test_sigterm_during_invocation_exits_quickly(start_server):
    server = start_server()
    client = server.client(read_timeout=30)
    create_function(client, "sleeper", {"app.py": SLEEPING_CODE}, Timeout=60)
    outcome = {}

    def invoke_in_background():
        try:
            outcome["response"] = invoke_json(client, "sleeper", {"seconds": 50})
        except Exception as error:  # recorded so that the test reports a dropped connection
            outcome["error"] = error

    caller = threading.Thread(target=invoke_in_background, daemon=True)
    caller.start()
    deadline = time.monotonic() + 10
    # The function's own output is read from its log, which works whatever the sandbox hides.
    while "handler running" not in server.function_log("sleeper") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "handler running" in server.function_log("sleeper"), "the handler never started"

    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    status = server.process.wait(timeout=30)
    elapsed = time.monotonic() - started
    caller.join(timeout=10)

    assert status == 0
    assert elapsed < 5, f"stopping took {elapsed:.1f} s"
    assert not caller.is_alive()
    assert "error" not in outcome, f"the in-flight Invoke got no answer: {outcome.get('error')}"
    assert outcome["response"][0].get("FunctionError") == "Unhandled"


# Settings


def write_settings(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "file_region, env_region, flag_region, expected",
    [
        ("eu-west-1", None, None, "eu-west-1"),
        ("eu-west-1", "ap-south-1", None, "ap-south-1"),
        ("eu-west-1", "ap-south-1", "us-west-2", "us-west-2"),
    ],
    ids=["file", "env_over_file", "flag_over_env"],
)
def test_settings_region_precedence(start_env_server, tmp_path, file_region, env_region, flag_region, expected):
    settings = write_settings(tmp_path / "flicker.toml", f'region = "{file_region}"\n')
    args = ["--config", str(settings)]
    if flag_region:
        args += ["--region", flag_region]
    env = {"FLICKER_REGION": env_region} if env_region else {}
    client = start_env_server(*args, env=env).client()

    response = create_function(client, "regional", {"app.py": "def handler(event, context):\n    return 1\n"})

    assert response["FunctionArn"] == f"arn:aws:lambda:{expected}:000000000000:function:regional"


def test_settings_file_account_id(start_env_server, tmp_path):
    settings = write_settings(tmp_path / "flicker.toml", 'account_id = "123456789012"\n')
    client = start_env_server("--config", str(settings)).client()

    response = create_function(client, "accounted", {"app.py": "def handler(event, context):\n    return 1\n"})

    assert response["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:accounted"


def run_serve(tmp_path, *args, env=None):
    """Runs `flicker serve` with settings that make it exit at once, and returns the finished process."""
    command = [str(FLICKER_BIN), "serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "data")]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLICKER_")}
    environment.update(env or {})
    try:
        return subprocess.run(command + list(args), capture_output=True, text=True, env=environment, timeout=10)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"flicker serve did not exit within 10 s with arguments {args}: {expired.stderr}")


def test_settings_unknown_key_rejected(tmp_path):
    settings = write_settings(tmp_path / "bad.toml", "listen_port = 9000\n")

    result = run_serve(tmp_path, "--config", str(settings))

    assert result.returncode != 0
    assert str(settings) in result.stderr
    assert "listen_port" in result.stderr


def test_settings_file_missing_rejected(tmp_path):
    missing = tmp_path / "missing.toml"

    result = run_serve(tmp_path, "--config", str(missing))

    assert result.returncode != 0
    assert str(missing) in result.stderr


def test_settings_invalid_region_rejected(tmp_path):
    result = run_serve(tmp_path, "--region", "Not A Region")

    assert result.returncode != 0
    assert "Not A Region" in result.stderr


def test_serve_help_default_listen_loopback():
    result = subprocess.run([str(FLICKER_BIN), "serve", "--help"], capture_output=True, text=True, timeout=10)

    assert result.returncode == 0
    assert "127.0.0.1" in result.stdout
