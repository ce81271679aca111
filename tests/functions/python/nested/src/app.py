"""Handler in a subdirectory, addressed as `src/app.handler`."""


def handler(event, context):
    return {"module": __name__, "event": event}
