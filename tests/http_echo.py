"""A function for HTTP tests: its result depends on the request path, and by default it
echoes the event it received as a JSON body."""

ECHO_CODE = r'''
import base64
import json
import time


def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    if path.endswith("/structured"):
        return {
            "statusCode": 201,
            "headers": {"X-Custom": "yes", "Content-Type": "text/plain"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "created",
        }
    if path.endswith("/binary"):
        data = bytes(range(256))
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(data).decode(),
            "isBase64Encoded": True,
        }
    if path.endswith("/plain"):
        return {"plain": True, "items": [1, 2]}
    if path.endswith("/string"):
        return "just text"
    if path.endswith("/invalid"):
        return {"statusCode": "not a status"}
    if path.endswith("/error"):
        raise RuntimeError("failed on purpose")
    if path.endswith("/sleep"):
        time.sleep(30)
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
'''
