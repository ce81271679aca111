"""Integration tests of the control-plane API: CreateFunction, GetFunction,
GetFunctionConfiguration, ListFunctions, UpdateFunctionCode, UpdateFunctionConfiguration,
DeleteFunction, Invoke, InvokeAsync and GetAccountSettings.

Expected codes, statuses and messages are those real AWS Lambda returns to boto3 (API version
2015-03-31). Where AWS accepts a request that Flicker rejects on purpose (a deployment package
without the handler file), the test checks Flicker's documented behaviour instead.
"""

import base64
import hashlib
import json
import re
import urllib.request
import uuid
from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, ROLE, create_function, invoke_json, make_zip

ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

# The `functionName` patterns that AWS quotes in ValidationException messages. CreateFunction,
# UpdateFunctionCode and UpdateFunctionConfiguration use the first. GetFunction,
# GetFunctionConfiguration, DeleteFunction and Invoke use the second, which also allows dots in
# the name and a `$LATEST.PUBLISHED` qualifier.
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
NAMESPACED_FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"

# The runtime list AWS sends when a runtime is outside the API's enum (recorded in 2025).
AWS_RUNTIME_ENUM = (
    "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2"
)

LAST_MODIFIED_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
UUID_FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

ECHO_CODE = {"app.py": "def handler(event, context):\n    return event\n"}
UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
QUALIFIER_MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."


def function_arn(name):
    return ARN_PREFIX + name


def sha256_base64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def returning(value):
    """Returns the files of a python function whose handler returns `value` from a module-level name."""
    return {"app.py": f"VALUE = {value!r}\n\ndef handler(event, context):\n    return VALUE\n"}


@dataclass
class Failure:
    """The error code, HTTP status, message and X-Amzn-ErrorType header of a failed boto3 call."""

    code: str
    status: int
    message: str
    error_type_header: str
    response: dict


def call_failure(operation, **kwargs):
    """Calls a boto3 operation that must fail and returns what it failed with."""
    with pytest.raises(ClientError) as excinfo:
        operation(**kwargs)
    response = excinfo.value.response
    metadata = response["ResponseMetadata"]
    return Failure(
        code=response["Error"]["Code"],
        status=metadata["HTTPStatusCode"],
        message=response["Error"].get("Message"),
        error_type_header=metadata["HTTPHeaders"].get("x-amzn-errortype"),
        response=response,
    )


@pytest.fixture(scope="module")
def unchecked_client(server):
    """A client that sends values botocore's own validation would stop (MemorySize 127,
    Timeout 0), so that the server's response to them can be checked."""
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture(scope="module")
def echo_function(lambda_client):
    """A python function, shared by read-only tests, that returns its event."""
    name = f"echo-{uuid.uuid4().hex[:8]}"
    create_function(lambda_client, name, ECHO_CODE)
    return name


@pytest.fixture
def fresh_function(lambda_client, function_name):
    """A python function of the test's own, for calls such as DeleteFunction that could remove it."""
    create_function(lambda_client, function_name, ECHO_CODE)
    return function_name


def list_all_functions(client):
    return client.get_paginator("list_functions").paginate().build_full_result()["Functions"]


# CreateFunction


def test_create_function_returns_201(lambda_client, function_name):
    response = create_function(lambda_client, function_name, ECHO_CODE)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201


def test_create_function_response_shape(lambda_client, function_name):
    response = create_function(lambda_client, function_name, ECHO_CODE)

    assert response["FunctionName"] == function_name
    assert response["FunctionArn"] == function_arn(function_name)
    assert response["Runtime"] == "python3.11"
    assert response["Handler"] == "app.handler"
    assert response["Role"] == ROLE
    assert response["Version"] == "$LATEST"
    assert response["State"] == "Active"
    assert response["LastUpdateStatus"] == "Successful"
    assert response["PackageType"] == "Zip"
    assert response["Architectures"] == ["x86_64"]
    assert response["EphemeralStorage"] == {"Size": 512}
    assert response["TracingConfig"] == {"Mode": "PassThrough"}
    assert response["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name}"}


def test_create_function_default_settings(lambda_client, function_name):
    response = create_function(lambda_client, function_name, ECHO_CODE)

    assert response["Timeout"] == 3
    assert response["MemorySize"] == 128
    assert response["Description"] == ""


def test_create_function_omits_unset_environment(lambda_client, function_name):
    # AWS sends no Environment member for a function created without one.
    response = create_function(lambda_client, function_name, ECHO_CODE)

    assert "Environment" not in response


def test_create_function_code_digest_and_size(lambda_client, function_name):
    zip_bytes = make_zip(ECHO_CODE)

    response = create_function(lambda_client, function_name, zip_bytes)

    assert response["CodeSha256"] == sha256_base64(zip_bytes)
    assert response["CodeSize"] == len(zip_bytes)


def test_create_function_timestamp_and_revision(lambda_client, function_name):
    response = create_function(lambda_client, function_name, ECHO_CODE)

    assert LAST_MODIFIED_FORMAT.match(response["LastModified"]), response["LastModified"]
    assert UUID_FORMAT.match(response["RevisionId"]), response["RevisionId"]


def test_create_function_keeps_given_settings(lambda_client, function_name):
    response = create_function(
        lambda_client,
        function_name,
        ECHO_CODE,
        MemorySize=256,
        Timeout=10,
        Description="given settings",
        Environment={"Variables": {"COLOR": "blue"}},
        EphemeralStorage={"Size": 1024},
    )

    assert response["MemorySize"] == 256
    assert response["Timeout"] == 10
    assert response["Description"] == "given settings"
    assert response["Environment"] == {"Variables": {"COLOR": "blue"}}
    assert response["EphemeralStorage"] == {"Size": 1024}


@pytest.mark.parametrize("form", ["full_arn", "partial_arn"])
def test_create_function_named_by_arn(lambda_client, function_name, form):
    reference = {"full_arn": function_arn(function_name), "partial_arn": f"{ACCOUNT}:function:{function_name}"}[form]

    response = create_function(lambda_client, reference, ECHO_CODE)

    assert response["FunctionName"] == function_name
    assert response["FunctionArn"] == function_arn(function_name)


def test_create_function_name_taken(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE)

    failure = call_failure(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip(ECHO_CODE)},
    )

    assert failure.code == "ResourceConflictException"
    assert failure.status == 409
    assert failure.message == f"Function already exist: {function_name}"


def validation(value, field, rule):
    return f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"


LONG_ARN = ARN_PREFIX + "a" * (140 - len(ARN_PREFIX) + 1)

# (case id, CreateFunction arguments that replace the valid ones, code, status, message).
# A message of None means that AWS's exact wording is not known, so only code and status are checked.
# NOTE: the cases below a minimum of the API model (MemorySize 128, Timeout 1, EphemeralStorage 512)
# expect the ValidationException that AWS returns for model constraints, which no recording shows
# for these fields. The over-maximum cases follow error output of AWS quoted by its users.
CREATE_ERRORS = [
    (
        "unknown_runtime",
        {"Runtime": "non-existent-runtime"},
        "InvalidParameterValueException",
        400,
        f"Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy "
        f"enum value set: [{AWS_RUNTIME_ENUM}] or be a valid ARN",
    ),
    (
        "uppercase_runtime",
        {"Runtime": "PYTHON3.9"},
        "InvalidParameterValueException",
        400,
        f"Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy "
        f"enum value set: [{AWS_RUNTIME_ENUM}] or be a valid ARN",
    ),
    (
        "role_not_arn",
        {"Role": "r1"},
        "ValidationException",
        400,
        validation("r1", "role", f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
    ),
    (
        "memory_below_minimum",
        {"MemorySize": 127},
        "ValidationException",
        400,
        validation(127, "memorySize", "Member must have value greater than or equal to 128"),
    ),
    (
        "memory_above_maximum",
        {"MemorySize": 10241},
        "ValidationException",
        400,
        "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240",
    ),
    (
        "timeout_below_minimum",
        {"Timeout": 0},
        "ValidationException",
        400,
        validation(0, "timeout", "Member must have value greater than or equal to 1"),
    ),
    (
        "timeout_above_maximum",
        {"Timeout": 901},
        "ValidationException",
        400,
        validation(901, "timeout", "Member must have value less than or equal to 900"),
    ),
    (
        "ephemeral_storage_below_minimum",
        {"EphemeralStorage": {"Size": 511}},
        "ValidationException",
        400,
        validation(511, "ephemeralStorage.size", "Member must have value greater than or equal to 512"),
    ),
    (
        "description_too_long",
        {"Description": "d" * 257},
        "ValidationException",
        400,
        validation("d" * 257, "description", "Member must have length less than or equal to 256"),
    ),
    (
        "name_pattern",
        {"FunctionName": "invalid:function:name"},
        "ValidationException",
        400,
        validation(
            "invalid:function:name",
            "functionName",
            f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
        ),
    ),
    (
        "name_too_long",
        {"FunctionName": "a" * 65},
        "InvalidParameterValueException",
        400,
        validation("a" * 65, "functionName", "Member must have length less than or equal to 64"),
    ),
    (
        "arn_too_long",
        {"FunctionName": LONG_ARN},
        "ValidationException",
        400,
        validation(LONG_ARN, "functionName", "Member must have length less than or equal to 140"),
    ),
    (
        "arn_other_region",
        {"FunctionName": f"arn:aws:lambda:ap-southeast-1:{ACCOUNT}:function:other-region"},
        "ResourceNotFoundException",
        404,
        f"Functions from 'ap-southeast-1' are not reachable in this region ('{REGION}')",
    ),
    (
        "arn_other_account",
        {"FunctionName": f"arn:aws:lambda:{REGION}:123456789012:function:other-account"},
        "AccessDeniedException",
        403,
        None,
    ),
    (
        "zip_not_a_zip",
        {"Code": {"ZipFile": b"this is not a zipfile, just a random string"}},
        "InvalidParameterValueException",
        400,
        UNZIP_FAILED,
    ),
    (
        "two_architectures",
        {"Architectures": ["x86_64", "arm64"]},
        "ValidationException",
        400,
        validation("[x86_64, arm64]", "architectures", "Member must have length less than or equal to 1"),
    ),
    (
        "uppercase_architecture",
        {"Architectures": ["X86_64"]},
        "ValidationException",
        400,
        validation(
            "[X86_64]",
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], "
            "Member must not be null]",
        ),
    ),
    (
        "environment_reserved_key",
        {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
        "InvalidParameterValueException",
        400,
        "Lambda was unable to configure your environment variables because the environment variables "
        "you have provided contains reserved keys that are currently not supported for modification. "
        "Reserved keys used in this request: AWS_REGION",
    ),
    (
        "environment_key_pattern",
        {"Environment": {"Variables": {"1BAD": "x"}}},
        "ValidationException",
        400,
        None,
    ),
]


@pytest.mark.parametrize(
    "replaced, code, status, message",
    [case[1:] for case in CREATE_ERRORS],
    ids=[case[0] for case in CREATE_ERRORS],
)
def test_create_function_invalid_parameter(unchecked_client, function_name, replaced, code, status, message):
    arguments = {
        "FunctionName": function_name,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": ROLE,
        "Code": {"ZipFile": make_zip(ECHO_CODE)},
    }
    arguments.update(replaced)

    failure = call_failure(unchecked_client.create_function, **arguments)

    assert failure.code == code
    assert failure.status == status
    if message is not None:
        assert failure.message == message


@pytest.mark.parametrize("runtime", ["python3.7", "nodejs12.x", "go1.x"])
def test_create_function_deprecated_runtime(lambda_client, function_name, runtime):
    files = {**ECHO_CODE, "bootstrap": ("#!/bin/sh\n", 0o755)}

    failure = call_failure(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime=runtime,
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip(files)},
    )

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert failure.message == (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use a supported runtime while creating or updating functions."
    )


def test_create_function_accepts_provided(lambda_client, function_name):
    # AWS no longer accepts `provided` for new functions; Flicker keeps accepting it.
    response = create_function(
        lambda_client, function_name, {"bootstrap": ("#!/bin/sh\n", 0o755)}, runtime="provided", handler="x"
    )

    assert response["Runtime"] == "provided"


def test_create_function_environment_over_4kb(lambda_client, function_name):
    variables = {"SMALL_VAR": "ok", "LARGE_VAR": "x" * 4096}
    measured = json.dumps(variables, separators=(",", ":"))

    failure = call_failure(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip(ECHO_CODE)},
        Environment={"Variables": variables},
    )

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert failure.message == (
        "Lambda was unable to configure your environment variables because the environment variables "
        f"you have provided exceeded the 4KB limit. String measured: {measured}"
    )


def test_create_function_environment_at_4kb(lambda_client, function_name):
    # The limit applies to the compact JSON form, `{"LARGE_VAR":"xx..."}`, which is 4096 bytes here.
    variables = {"LARGE_VAR": "x" * (4096 - len('{"LARGE_VAR":""}'))}
    assert len(json.dumps(variables, separators=(",", ":"))) == 4096

    response = create_function(lambda_client, function_name, ECHO_CODE, Environment={"Variables": variables})

    assert response["Environment"] == {"Variables": variables}


# Flicker checks at upload that the package has the file the handler names, while AWS accepts such
# a package and fails at invocation. The code and status follow AWS's other package errors.
@pytest.mark.parametrize(
    "runtime, handler, files",
    [
        ("python3.11", "app.handler", {"other.py": "def handler(event, context):\n    return 1\n"}),
        ("nodejs20.x", "index.handler", {"other.js": "exports.handler = async () => 1;\n"}),
        ("provided.al2023", "function.handler", {"main": "#!/bin/sh\n"}),
    ],
    ids=["python", "nodejs", "provided"],
)
def test_create_function_handler_file_missing(lambda_client, function_name, runtime, handler, files):
    failure = call_failure(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime=runtime,
        Handler=handler,
        Role=ROLE,
        Code={"ZipFile": make_zip(files)},
    )

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert handler in failure.message


# Error wire format


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "InvalidParameterValueException", "ResourceConflictException"]
)
def test_error_header_names_code(lambda_client, function_name, code):
    arguments = {
        "FunctionName": function_name,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": ROLE,
        "Code": {"ZipFile": make_zip(ECHO_CODE)},
    }
    if code == "ResourceNotFoundException":
        failure = call_failure(lambda_client.get_function, FunctionName=function_name)
    elif code == "InvalidParameterValueException":
        failure = call_failure(lambda_client.create_function, **{**arguments, "Code": {"ZipFile": b"not a zip"}})
    else:
        lambda_client.create_function(**arguments)
        failure = call_failure(lambda_client.create_function, **arguments)

    assert failure.code == code
    assert failure.error_type_header == code


def test_not_found_body_has_capital_message(lambda_client, function_name):
    # The ResourceNotFoundException shape names its field `Message`, and boto3 copies it into the
    # response only when the body uses that spelling.
    failure = call_failure(lambda_client.get_function, FunctionName=function_name)

    assert failure.response.get("Message") == f"Function not found: {function_arn(function_name)}"
    assert failure.response.get("Type") == "User"


def test_invalid_parameter_body_fields(lambda_client, function_name):
    failure = call_failure(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": b"not a zip"},
    )

    assert failure.response.get("message") == UNZIP_FAILED
    assert failure.response.get("Type") == "User"


# GetFunction and GetFunctionConfiguration


def references(name):
    """Every form in which a client can name an unqualified function or its `$LATEST`."""
    return {
        "name": name,
        "partial_arn": f"{ACCOUNT}:function:{name}",
        "full_arn": function_arn(name),
        "name_latest": f"{name}:$LATEST",
        "full_arn_latest": f"{function_arn(name)}:$LATEST",
    }


@pytest.mark.parametrize("form", ["name", "partial_arn", "full_arn", "name_latest", "full_arn_latest"])
@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration"])
def test_get_function_by_reference_form(lambda_client, echo_function, operation, form):
    response = getattr(lambda_client, operation)(FunctionName=references(echo_function)[form])
    configuration = response.get("Configuration", response)

    assert configuration["FunctionName"] == echo_function
    assert configuration["Version"] == "$LATEST"


def test_get_function_matches_create(lambda_client, function_name):
    created = create_function(lambda_client, function_name, ECHO_CODE, Environment={"Variables": {"ENV_A": "1"}})
    del created["ResponseMetadata"]

    response = lambda_client.get_function(FunctionName=function_name)

    assert response["Configuration"] == created
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_get_configuration_matches_get_function(lambda_client, echo_function):
    configuration = lambda_client.get_function_configuration(FunctionName=echo_function)
    del configuration["ResponseMetadata"]

    response = lambda_client.get_function(FunctionName=echo_function)

    assert response["Configuration"] == configuration


def test_get_function_latest_qualifier_arn(lambda_client, echo_function):
    # Given an explicit `$LATEST` qualifier, AWS returns the qualified ARN.
    response = lambda_client.get_function(FunctionName=echo_function, Qualifier="$LATEST")

    assert response["Configuration"]["FunctionArn"] == f"{function_arn(echo_function)}:$LATEST"


def test_get_function_code_location_downloads_zip(lambda_client, function_name):
    zip_bytes = make_zip(returning("download me"))
    create_function(lambda_client, function_name, zip_bytes)

    code = lambda_client.get_function(FunctionName=function_name)["Code"]
    with urllib.request.urlopen(code["Location"], timeout=10) as download:
        downloaded = download.read()

    assert code["RepositoryType"] == "S3"
    assert downloaded == zip_bytes


@pytest.mark.parametrize(
    "operation",
    ["get_function", "get_function_configuration", "delete_function", "update_function_configuration"],
)
def test_function_not_found(lambda_client, function_name, operation):
    failure = call_failure(getattr(lambda_client, operation), FunctionName=function_name)

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}"


def test_update_function_code_not_found(lambda_client, function_name):
    failure = call_failure(
        lambda_client.update_function_code, FunctionName=function_name, ZipFile=make_zip(ECHO_CODE)
    )

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}"


def test_invoke_function_not_found(lambda_client, function_name):
    # AWS names `$LATEST` in the message of an unqualified Invoke (recorded in 2025).
    failure = call_failure(lambda_client.invoke, FunctionName=function_name, Payload=b"{}")

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}:$LATEST"


def test_get_function_unknown_version(lambda_client, echo_function):
    failure = call_failure(lambda_client.get_function, FunctionName=echo_function, Qualifier="1221")

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(echo_function)}:1221"


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration", "delete_function"])
def test_qualifier_mismatch_with_arn(lambda_client, operation):
    failure = call_failure(
        getattr(lambda_client, operation), FunctionName=f"{function_arn('some-function')}:1", Qualifier="$LATEST"
    )

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert failure.message == QUALIFIER_MISMATCH


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration"])
def test_qualifier_match_missing_function(lambda_client, operation):
    failure = call_failure(
        getattr(lambda_client, operation),
        FunctionName=f"{function_arn('some-function')}:$LATEST",
        Qualifier="$LATEST",
    )

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn('some-function')}:$LATEST"


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration", "delete_function", "invoke"])
def test_arn_other_region_not_reachable(lambda_client, fresh_function, operation):
    failure = call_failure(
        getattr(lambda_client, operation), FunctionName=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{fresh_function}"
    )

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Functions from 'eu-west-1' are not reachable in this region ('{REGION}')"


def test_invoke_name_pattern(lambda_client):
    name = f"arn:aws:lambda:{REGION}:123400000000@function:myfn"

    failure = call_failure(lambda_client.invoke, FunctionName=name, Payload=b"{}")

    assert failure.code == "ValidationException"
    assert failure.status == 400
    assert failure.message == validation(
        name, "functionName", f"Member must satisfy regular expression pattern: {NAMESPACED_FUNCTION_NAME_PATTERN}"
    )


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration", "delete_function"])
def test_get_name_pattern(lambda_client, operation):
    failure = call_failure(getattr(lambda_client, operation), FunctionName="my-function!")

    assert failure.code == "ValidationException"
    assert failure.status == 400
    assert failure.message == validation(
        "my-function!",
        "functionName",
        f"Member must satisfy regular expression pattern: {NAMESPACED_FUNCTION_NAME_PATTERN}",
    )


def test_update_configuration_name_pattern(lambda_client):
    failure = call_failure(lambda_client.update_function_configuration, FunctionName="my-function!")

    assert failure.code == "ValidationException"
    assert failure.status == 400
    assert failure.message == validation(
        "my-function!", "functionName", f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
    )


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration", "delete_function"])
def test_get_name_too_long_not_found(lambda_client, operation):
    # Only CreateFunction checks the 64-character limit, and the other operations look the name up.
    name = "a" * 65

    failure = call_failure(getattr(lambda_client, operation), FunctionName=name)

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(name)}"


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration", "delete_function", "invoke"])
def test_qualifier_pattern(lambda_client, fresh_function, operation):
    failure = call_failure(getattr(lambda_client, operation), FunctionName=fresh_function, Qualifier="invalid!")

    assert failure.code == "ValidationException"
    assert failure.status == 400
    assert failure.message == validation(
        "invalid!", "qualifier", f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"
    )


@pytest.mark.parametrize("operation", ["get_function", "get_function_configuration", "delete_function", "invoke"])
def test_qualifier_too_long(lambda_client, fresh_function, operation):
    qualifier = "a" * 129

    failure = call_failure(getattr(lambda_client, operation), FunctionName=fresh_function, Qualifier=qualifier)

    assert failure.code == "ValidationException"
    assert failure.status == 400
    assert failure.message == validation(qualifier, "qualifier", "Member must have length less than or equal to 128")


# ListFunctions


def test_list_functions_pages_cover_each_once(start_server):
    server = start_server()
    client = server.client()
    names = {f"page-{index}-{uuid.uuid4().hex[:6]}" for index in range(7)}
    for name in names:
        create_function(client, name, ECHO_CODE)

    pages = []
    marker = None
    while True:
        arguments = {"MaxItems": 3} if marker is None else {"MaxItems": 3, "Marker": marker}
        page = client.list_functions(**arguments)
        pages.append(page)
        marker = page.get("NextMarker")
        if marker is None:
            break
    listed = [function["FunctionName"] for page in pages for function in page["Functions"]]

    assert [len(page["Functions"]) for page in pages] == [3, 3, 1]
    assert sorted(listed) == sorted(names)
    assert "NextMarker" not in pages[-1]


def test_list_functions_paginator(start_server):
    server = start_server()
    client = server.client()
    names = {f"paginated-{index}-{uuid.uuid4().hex[:6]}" for index in range(7)}
    for name in names:
        create_function(client, name, ECHO_CODE)

    pages = list(client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 3}))
    listed = [function["FunctionName"] for page in pages for function in page["Functions"]]

    assert len(pages) == 3
    assert sorted(listed) == sorted(names)


def test_list_functions_item_shape(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE, Environment={"Variables": {"ENV_A": "1"}})
    configuration = lambda_client.get_function_configuration(FunctionName=function_name)

    listed = [f for f in list_all_functions(lambda_client) if f["FunctionName"] == function_name]

    assert len(listed) == 1
    assert listed[0]["FunctionArn"] == configuration["FunctionArn"]
    assert listed[0]["CodeSha256"] == configuration["CodeSha256"]
    assert listed[0]["RevisionId"] == configuration["RevisionId"]
    assert listed[0]["Environment"] == {"Variables": {"ENV_A": "1"}}


def test_list_functions_items_omit_state(lambda_client, function_name):
    # AWS leaves State and LastUpdateStatus out of ListFunctions items.
    create_function(lambda_client, function_name, ECHO_CODE)

    listed = [f for f in list_all_functions(lambda_client) if f["FunctionName"] == function_name]

    assert "State" not in listed[0]
    assert "LastUpdateStatus" not in listed[0]


def test_list_functions_omits_deleted(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE)
    lambda_client.delete_function(FunctionName=function_name)

    listed = [f["FunctionName"] for f in list_all_functions(lambda_client)]

    assert function_name not in listed


# UpdateFunctionConfiguration


def test_update_configuration_changes_every_field(lambda_client, function_name):
    create_function(lambda_client, function_name, {**ECHO_CODE, "other.py": "def run(event, context):\n    return 2\n"})
    new_role = "arn:aws:iam::000000000000:role/updated"

    response = lambda_client.update_function_configuration(
        FunctionName=function_name,
        Handler="other.run",
        Runtime="python3.11",
        Role=new_role,
        MemorySize=512,
        Timeout=10,
        Environment={"Variables": {"ENV_A": "a"}},
        Description="Changed-Description",
        EphemeralStorage={"Size": 2048},
    )
    stored = lambda_client.get_function_configuration(FunctionName=function_name)
    status = response.pop("ResponseMetadata")["HTTPStatusCode"]
    del stored["ResponseMetadata"]

    assert status == 200
    assert response == stored
    assert stored["Handler"] == "other.run"
    assert stored["Role"] == new_role
    assert stored["MemorySize"] == 512
    assert stored["Timeout"] == 10
    assert stored["Environment"] == {"Variables": {"ENV_A": "a"}}
    assert stored["Description"] == "Changed-Description"
    assert stored["EphemeralStorage"] == {"Size": 2048}


def test_update_configuration_changes_runtime(lambda_client, function_name):
    create_function(lambda_client, function_name, {**ECHO_CODE, "index.js": "exports.handler = async (e) => e;\n"})

    response = lambda_client.update_function_configuration(
        FunctionName=function_name, Runtime="nodejs20.x", Handler="index.handler"
    )
    _, payload = invoke_json(lambda_client, function_name, {"via": "node"})

    assert response["Runtime"] == "nodejs20.x"
    assert payload == {"via": "node"}


@pytest.mark.parametrize("form", ["partial_arn", "full_arn"])
def test_update_by_arn(lambda_client, function_name, form):
    create_function(lambda_client, function_name, returning("one"))
    reference = references(function_name)[form]

    configured = lambda_client.update_function_configuration(FunctionName=reference, Description="by arn")
    coded = lambda_client.update_function_code(FunctionName=reference, ZipFile=make_zip(returning("two")))
    _, payload = invoke_json(lambda_client, function_name)

    assert configured["Description"] == "by arn"
    assert coded["FunctionName"] == function_name
    assert payload == "two"


def test_update_configuration_replaces_environment(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE, Environment={"Variables": {"ENV_A": "1"}})

    response = lambda_client.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": {"ENV_B": "2"}}
    )

    assert response["Environment"] == {"Variables": {"ENV_B": "2"}}


def test_update_configuration_keeps_unnamed_fields(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE, MemorySize=256, Timeout=7)

    response = lambda_client.update_function_configuration(FunctionName=function_name, Description="only this")

    assert response["MemorySize"] == 256
    assert response["Timeout"] == 7
    assert response["Description"] == "only this"


def test_update_configuration_environment_reaches_function(lambda_client, function_name):
    code = {"app.py": "import os\n\ndef handler(event, context):\n    return os.environ.get('COLOR')\n"}
    create_function(lambda_client, function_name, code, Environment={"Variables": {"COLOR": "blue"}})
    _, before = invoke_json(lambda_client, function_name)

    lambda_client.update_function_configuration(FunctionName=function_name, Environment={"Variables": {"COLOR": "red"}})
    _, after = invoke_json(lambda_client, function_name)

    assert before == "blue"
    assert after == "red"


def test_update_configuration_stale_revision(lambda_client, function_name):
    created = create_function(lambda_client, function_name, ECHO_CODE)
    lambda_client.update_function_configuration(FunctionName=function_name, Description="first")

    failure = call_failure(
        lambda_client.update_function_configuration,
        FunctionName=function_name,
        Description="second",
        RevisionId=created["RevisionId"],
    )

    assert failure.code == "PreconditionFailedException"
    assert failure.status == 412
    assert failure.message == STALE_REVISION
    assert failure.error_type_header == "PreconditionFailedException"


def test_update_configuration_current_revision(lambda_client, function_name):
    created = create_function(lambda_client, function_name, ECHO_CODE)

    response = lambda_client.update_function_configuration(
        FunctionName=function_name, Description="matching revision", RevisionId=created["RevisionId"]
    )

    assert response["Description"] == "matching revision"
    assert response["RevisionId"] != created["RevisionId"]


UPDATE_CONFIGURATION_ERRORS = [
    (
        "role_not_arn",
        {"Role": "r1"},
        "ValidationException",
        validation("r1", "role", f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
    ),
    (
        "unknown_runtime",
        {"Runtime": "non-existent-runtime"},
        "InvalidParameterValueException",
        f"Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy "
        f"enum value set: [{AWS_RUNTIME_ENUM}] or be a valid ARN",
    ),
    (
        "uppercase_runtime",
        {"Runtime": "PYTHON3.9"},
        "InvalidParameterValueException",
        f"Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy "
        f"enum value set: [{AWS_RUNTIME_ENUM}] or be a valid ARN",
    ),
    (
        "memory_below_minimum",
        {"MemorySize": 127},
        "ValidationException",
        validation(127, "memorySize", "Member must have value greater than or equal to 128"),
    ),
    (
        "memory_above_maximum",
        {"MemorySize": 10241},
        "ValidationException",
        "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240",
    ),
    (
        "timeout_above_maximum",
        {"Timeout": 901},
        "ValidationException",
        validation(901, "timeout", "Member must have value less than or equal to 900"),
    ),
    (
        "environment_reserved_key",
        {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment variables "
        "you have provided contains reserved keys that are currently not supported for modification. "
        "Reserved keys used in this request: AWS_REGION",
    ),
    (
        "environment_over_4kb",
        {"Environment": {"Variables": {"LARGE_VAR": "x" * 4096}}},
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment variables "
        "you have provided exceeded the 4KB limit. String measured: "
        + json.dumps({"LARGE_VAR": "x" * 4096}, separators=(",", ":")),
    ),
]


@pytest.mark.parametrize(
    "replaced, code, message",
    [case[1:] for case in UPDATE_CONFIGURATION_ERRORS],
    ids=[case[0] for case in UPDATE_CONFIGURATION_ERRORS],
)
def test_update_configuration_invalid_parameter(unchecked_client, echo_function, replaced, code, message):
    failure = call_failure(unchecked_client.update_function_configuration, FunctionName=echo_function, **replaced)

    assert failure.code == code
    assert failure.status == 400
    assert failure.message == message


def test_update_configuration_rejected_keeps_function(lambda_client, function_name):
    created = create_function(lambda_client, function_name, ECHO_CODE)
    call_failure(lambda_client.update_function_configuration, FunctionName=function_name, Role="r1")

    configuration = lambda_client.get_function_configuration(FunctionName=function_name)

    assert configuration["Role"] == ROLE
    assert configuration["RevisionId"] == created["RevisionId"]


def test_update_configuration_qualified_name(lambda_client, echo_function):
    failure = call_failure(
        lambda_client.update_function_configuration, FunctionName=f"{echo_function}:$LATEST", Description="x"
    )

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert failure.message == (
        "This operation is permitted on Lambda functions only. Aliases and versions do not support this "
        "operation. Please specify either a function name or an unqualified function ARN."
    )


# UpdateFunctionCode


def test_update_code_response(lambda_client, function_name):
    created = create_function(lambda_client, function_name, returning("one"))
    new_zip = make_zip(returning("two"))

    response = lambda_client.update_function_code(FunctionName=function_name, ZipFile=new_zip)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["CodeSha256"] == sha256_base64(new_zip)
    assert response["CodeSize"] == len(new_zip)
    assert response["RevisionId"] != created["RevisionId"]
    assert LAST_MODIFIED_FORMAT.match(response["LastModified"]), response["LastModified"]


def test_update_code_new_location_downloads_zip(lambda_client, function_name):
    create_function(lambda_client, function_name, returning("one"))
    new_zip = make_zip(returning("two"))
    lambda_client.update_function_code(FunctionName=function_name, ZipFile=new_zip)

    response = lambda_client.get_function(FunctionName=function_name)
    with urllib.request.urlopen(response["Code"]["Location"], timeout=10) as download:
        downloaded = download.read()

    assert response["Configuration"]["CodeSha256"] == sha256_base64(new_zip)
    assert downloaded == new_zip


def test_update_code_retires_warm_environment(lambda_client, function_name):
    create_function(lambda_client, function_name, returning("one"))
    _, first = invoke_json(lambda_client, function_name)
    _, warm = invoke_json(lambda_client, function_name)

    lambda_client.update_function_code(FunctionName=function_name, ZipFile=make_zip(returning("two")))
    _, after = invoke_json(lambda_client, function_name)

    assert first == "one"
    assert warm == "one"
    assert after == "two"


def test_update_code_dry_run_keeps_code(lambda_client, function_name):
    original = make_zip(returning("one"))
    create_function(lambda_client, function_name, original)

    response = lambda_client.update_function_code(
        FunctionName=function_name, ZipFile=make_zip(returning("two")), DryRun=True
    )
    stored = lambda_client.get_function_configuration(FunctionName=function_name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert stored["CodeSha256"] == sha256_base64(original)


def test_update_code_stale_revision(lambda_client, function_name):
    created = create_function(lambda_client, function_name, returning("one"))
    lambda_client.update_function_code(FunctionName=function_name, ZipFile=make_zip(returning("two")))

    failure = call_failure(
        lambda_client.update_function_code,
        FunctionName=function_name,
        ZipFile=make_zip(returning("three")),
        RevisionId=created["RevisionId"],
    )

    assert failure.code == "PreconditionFailedException"
    assert failure.status == 412
    assert failure.message == STALE_REVISION


def test_update_code_not_a_zip(lambda_client, echo_function):
    failure = call_failure(lambda_client.update_function_code, FunctionName=echo_function, ZipFile=b"not a zip")

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert failure.message == UNZIP_FAILED


def test_update_code_then_handler_renames_module(lambda_client, function_name):
    # Updates do not check the handler against the code, so a module can be renamed in two steps.
    create_function(lambda_client, function_name, ECHO_CODE)
    renamed = {"main.py": "def handler(event, context):\n    return 'renamed'\n"}

    lambda_client.update_function_code(FunctionName=function_name, ZipFile=make_zip(renamed))
    lambda_client.update_function_configuration(FunctionName=function_name, Handler="main.handler")
    response, payload = invoke_json(lambda_client, function_name, {})

    assert "FunctionError" not in response
    assert payload == "renamed"


def test_revision_changes_on_every_update(lambda_client, function_name):
    created = create_function(lambda_client, function_name, returning("one"))
    configured = lambda_client.update_function_configuration(FunctionName=function_name, Description="new")
    coded = lambda_client.update_function_code(FunctionName=function_name, ZipFile=make_zip(returning("two")))

    stored = lambda_client.get_function(FunctionName=function_name)["Configuration"]

    assert len({created["RevisionId"], configured["RevisionId"], coded["RevisionId"]}) == 3
    assert stored["RevisionId"] == coded["RevisionId"]


# DeleteFunction


def test_delete_function_returns_204(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE)

    response = lambda_client.delete_function(FunctionName=function_name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_function_then_get_not_found(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE)
    lambda_client.delete_function(FunctionName=function_name)

    failure = call_failure(lambda_client.get_function, FunctionName=function_name)

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}"


def test_delete_function_by_full_arn(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE)

    lambda_client.delete_function(FunctionName=function_arn(function_name))

    assert function_name not in [f["FunctionName"] for f in list_all_functions(lambda_client)]


def test_delete_function_twice_not_found(lambda_client, function_name):
    create_function(lambda_client, function_name, ECHO_CODE)
    lambda_client.delete_function(FunctionName=function_name)

    failure = call_failure(lambda_client.delete_function, FunctionName=function_name)

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}"


@pytest.mark.parametrize("form", ["qualifier", "name_suffix"])
def test_delete_function_latest_rejected(lambda_client, fresh_function, form):
    arguments = {
        "qualifier": {"FunctionName": fresh_function, "Qualifier": "$LATEST"},
        "name_suffix": {"FunctionName": f"{fresh_function}:$LATEST"},
    }[form]

    failure = call_failure(lambda_client.delete_function, **arguments)

    assert failure.code == "InvalidParameterValueException"
    assert failure.status == 400
    assert failure.message == "$LATEST version cannot be deleted without deleting the function."


def test_delete_function_unknown_version_succeeds(lambda_client, function_name):
    # AWS treats deleting a version that does not exist as already done.
    create_function(lambda_client, function_name, ECHO_CODE)

    response = lambda_client.delete_function(FunctionName=function_name, Qualifier="1233")
    remaining = lambda_client.get_function(FunctionName=function_name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert remaining["Configuration"]["FunctionName"] == function_name


def test_delete_version_of_missing_function(lambda_client, function_name):
    # The message names the unqualified function, not the version.
    failure = call_failure(lambda_client.delete_function, FunctionName=function_name, Qualifier="1233")

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}"


# Invoke and InvokeAsync


@pytest.mark.parametrize("form", ["name", "partial_arn", "full_arn", "name_latest", "full_arn_latest"])
def test_invoke_by_reference_form(lambda_client, echo_function, form):
    response, payload = invoke_json(lambda_client, references(echo_function)[form], {"form": form})

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload == {"form": form}


def test_invoke_payload_over_6mb(lambda_client, echo_function):
    payload = json.dumps("x" * (6 * 1024 * 1024)).encode()

    failure = call_failure(lambda_client.invoke, FunctionName=echo_function, Payload=payload)

    assert failure.code == "RequestTooLargeException"
    assert failure.status == 413
    assert failure.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_invoke_payload_at_6mb_limit(lambda_client, echo_function):
    # AWS accepts requests of up to 6291456 bytes. The echoed response is as large.
    payload = json.dumps("x" * (6 * 1024 * 1024 - 2)).encode()
    assert len(payload) == 6291456

    response = lambda_client.invoke(FunctionName=echo_function, Payload=payload)

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["Payload"].read() == payload


def test_invoke_async_returns_202(lambda_client, echo_function):
    response = lambda_client.invoke_async(FunctionName=echo_function, InvokeArgs=b'{"async": true}')

    assert response["Status"] == 202
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_invoke_async_not_found(lambda_client, function_name):
    failure = call_failure(lambda_client.invoke_async, FunctionName=function_name, InvokeArgs=b"{}")

    assert failure.code == "ResourceNotFoundException"
    assert failure.status == 404
    assert failure.message == f"Function not found: {function_arn(function_name)}"


# GetAccountSettings


def test_account_settings_counts_functions(start_server):
    client = start_server().client()
    zips = [make_zip(returning("first")), make_zip(returning("second, a little longer"))]
    create_function(client, "settings-one", zips[0])
    create_function(client, "settings-two", zips[1])

    usage = client.get_account_settings()["AccountUsage"]

    assert usage == {"FunctionCount": 2, "TotalCodeSize": len(zips[0]) + len(zips[1])}


def test_account_settings_after_delete(start_server):
    client = start_server().client()
    kept_zip = make_zip(returning("kept"))
    create_function(client, "settings-kept", kept_zip)
    create_function(client, "settings-deleted", make_zip(returning("deleted")))
    client.delete_function(FunctionName="settings-deleted")

    usage = client.get_account_settings()["AccountUsage"]

    assert usage == {"FunctionCount": 1, "TotalCodeSize": len(kept_zip)}


def test_account_settings_limits(lambda_client):
    response = lambda_client.get_account_settings()

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["AccountLimit"] == {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 1000,
    }


# AWS CLI v1


def test_cli_function_lifecycle(server, function_name, tmp_path):
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(make_zip(ECHO_CODE))
    out_path = tmp_path / "out.json"

    created = server.aws(
        "lambda", "create-function", "--function-name", function_name, "--runtime", "python3.11",
        "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{zip_path}",
    )
    updated = server.aws(
        "lambda", "update-function-configuration", "--function-name", function_name, "--timeout", "9",
    )
    invoked = server.aws(
        "lambda", "invoke", "--function-name", function_name, "--payload", '{"cli": 1}', str(out_path),
    )
    listed = server.aws("lambda", "list-functions")
    deleted = server.aws("lambda", "delete-function", "--function-name", function_name)

    assert created[0] == 0, created[2]
    assert created[1]["FunctionArn"] == function_arn(function_name)
    assert updated[1]["Timeout"] == 9
    assert invoked[1]["StatusCode"] == 200
    assert json.loads(out_path.read_text()) == {"cli": 1}
    assert function_name in [f["FunctionName"] for f in listed[1]["Functions"]]
    assert deleted[0] == 0, deleted[2]


def test_cli_get_function_not_found(server, function_name):
    code, _, stderr = server.aws("lambda", "get-function", "--function-name", function_name)

    assert code != 0
    assert "An error occurred (ResourceNotFoundException) when calling the GetFunction operation" in stderr
    assert f": Function not found: {function_arn(function_name)}\n" in stderr


def test_cli_create_function_invalid_role(server, function_name, tmp_path):
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(make_zip(ECHO_CODE))

    code, _, stderr = server.aws(
        "lambda", "create-function", "--function-name", function_name, "--runtime", "python3.11",
        "--handler", "app.handler", "--role", "r1", "--zip-file", f"fileb://{zip_path}",
    )

    assert code != 0
    assert "An error occurred (ValidationException) when calling the CreateFunction operation" in stderr
