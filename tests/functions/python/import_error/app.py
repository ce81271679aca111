"""A module whose import fails, so that the runtime reports Runtime.ImportModuleError."""

import does_not_exist  # noqa: F401


def handler(event, context):
    return "unreachable"
