"""Helpers that the invocation and runtime tests share: polling, and reading a function's log
file, which contains one `epoch_ms<TAB>stream<TAB>message` line per log event."""

import os
import re
import time

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def wait_until(check, timeout=10.0, interval=0.05):
    """Call `check` until it returns a true value or `timeout` seconds pass; return its last
    value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def raw_function_log(server, name):
    """Return the function's log file with its line endings unchanged, because Python's
    error events keep their lines apart with "\\r" inside one log event."""
    path = server.data_dir / "logs" / f"{name}.log"
    return path.read_bytes().decode(errors="replace") if path.exists() else ""


def log_records(server, name):
    """Return the function's log file as (epoch_ms, stream, message) tuples. A line without
    two tabs becomes (None, None, line)."""
    records = []
    for line in raw_function_log(server, name).split("\n")[:-1]:
        parts = line.split("\t", 2)
        records.append(tuple(parts) if len(parts) == 3 else (None, None, line))
    return records


def log_messages(server, name):
    return [message for _, _, message in log_records(server, name)]


def started_request_ids(server, name):
    """Return the request ids of the START lines in the function's log, oldest first."""
    return re.findall(rf"START RequestId: ({UUID_PATTERN}) Version: ", raw_function_log(server, name))


def first_request_id(server, name):
    """Return the request id of the function's first invocation, once its REPORT line is
    written."""
    wait_for_log(server, name, "REPORT RequestId")
    return started_request_ids(server, name)[0]


def wait_for_log(server, name, text, count=1, timeout=10.0):
    """Wait until `text` occurs at least `count` times in the function's log."""
    return wait_until(lambda: raw_function_log(server, name).count(text) >= count, timeout)


def environment_processes(function_name):
    """Return the host pids of the processes that run with the function's name in
    AWS_LAMBDA_FUNCTION_NAME: its bootstraps and their children, in any sandbox whose
    processes the host can see. Reading another user's environ needs root."""
    marker = f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                variables = file.read().split(b"\0")
        except OSError:
            continue
        if marker in variables:
            pids.append(int(entry))
    return pids


def let_environment_become_idle():
    """Pause before a follow-up invocation that must reuse the warm environment.

    As in AWS, an environment takes a new event only after its runtime requests the next one,
    which it does after posting the previous response. A loopback client can send its next
    request before that, and the server then starts a second environment."""
    time.sleep(0.1)
