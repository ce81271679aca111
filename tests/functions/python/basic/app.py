"""Python test function: the event's "action" selects what the handler does, so that one
package covers results, errors, logs, environment reuse and the environment contract."""

import json
import logging
import os
import resource
import subprocess
import sys
import time
import uuid

# Identifies this environment, because a sandbox may give every environment the same pid.
ENVIRONMENT_ID = uuid.uuid4().hex
# Counts invocations served by this environment, to show that a warm environment keeps module
# state between invocations.
INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    action = event.get("action", "echo")

    if action == "echo":
        return {"event": event}
    if action == "none":
        return None
    if action == "identity":
        return {"environment": ENVIRONMENT_ID, "invocations": INVOCATIONS}
    if action == "sleep":
        print(f"sleeping in environment {ENVIRONMENT_ID}", flush=True)
        time.sleep(event["seconds"])
        return {"environment": ENVIRONMENT_ID}
    if action == "spawn_and_sleep":
        subprocess.Popen(["sleep", "60"])
        print("child started", flush=True)
        time.sleep(event["seconds"])
        return "slept"
    if action == "exit":
        os._exit(event["status"])
    if action == "sys_exit":
        sys.exit(event["status"])
    if action == "print":
        print(event["message"], end=event.get("end", "\n"))
        return "printed"
    if action == "print_stderr":
        print(event["message"], file=sys.stderr)
        return "printed"
    if action == "log":
        logging.getLogger().warning(event["message"])
        return "logged"
    if action == "log_info":
        logging.getLogger().info(event["message"])
        return "logged"
    if action == "allocate":
        # Touch every page, so that the memory is really used.
        block = bytearray(event["megabytes"] * 1024 * 1024)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        return len(block)
    if action == "limits":
        return {"nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE))}
    if action == "environment":
        return dict(os.environ)
    if action == "cwd":
        return {"cwd": os.getcwd(), "files": sorted(os.listdir("."))}
    if action == "context":
        return {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_time_in_millis": context.get_remaining_time_in_millis(),
            "cognito_identity_id": getattr(context.identity, "cognito_identity_id", "missing"),
            "client_context": context.client_context,
        }
    if action == "client_context":
        client_context = context.client_context
        return {
            "custom": client_context.custom,
            "env": client_context.env,
            "installation_id": client_context.client.installation_id,
        }
    if action == "write_file":
        with open(event["path"], "w") as file:
            file.write(json.dumps(event))
        return "written"
    if action == "read_file":
        try:
            with open(event["path"]) as file:
                return {"content": file.read()}
        except FileNotFoundError:
            return {"content": None}
    if action == "large_response":
        return "x" * event["size"]
    if action == "raise":
        raise ValueError(event["message"])
    if action == "unserializable":
        return object()
    raise RuntimeError(f"unknown action {action!r}")
