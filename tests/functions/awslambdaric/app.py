"""Handler run by the official Python runtime client, awslambdaric, as a custom runtime."""


def handler(event, context):
    if "error" in event:
        raise ValueError(event["error"])
    return {"echo": event, "request_id": context.aws_request_id, "function_name": context.function_name}
