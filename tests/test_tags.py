"""Tags against a real Flicker server: TagResource, UntagResource, ListTags, Tags on
CreateFunction and in GetFunction. Expected messages come from responses recorded from AWS
Lambda."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function

APP = {"app.py": "def handler(event, context):\n    return event\n"}
QUALIFIED_TAGS = "Tags on function aliases and versions are not supported. Please specify a function ARN."
RESOURCE_PATTERN = (
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
    r"code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)"
)


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def error_of(raised):
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@pytest.fixture(scope="module")
def unvalidated_client(server):
    """A client that sends requests botocore would reject before sending, such as an
    UntagResource without keys, so that the server's own checks are tested."""
    return boto3.client(
        "lambda", endpoint_url=server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


@pytest.fixture
def function(lambda_client, function_name):
    create_function(lambda_client, function_name, APP)
    return function_name


def test_tags_on_create(lambda_client, function_name):
    create_function(lambda_client, function_name, APP, Tags={"testtag": "value"})

    assert lambda_client.list_tags(Resource=function_arn(function_name))["Tags"] == {"testtag": "value"}
    assert lambda_client.get_function(FunctionName=function_name)["Tags"] == {"testtag": "value"}


def test_get_function_without_tags_omits_them(lambda_client, function):
    assert "Tags" not in lambda_client.get_function(FunctionName=function)


def test_tag_lifecycle(lambda_client, function):
    arn = function_arn(function)

    single = lambda_client.tag_resource(Resource=arn, Tags={"A": "tag-a"})
    after_single = lambda_client.list_tags(Resource=arn)["Tags"]
    lambda_client.tag_resource(Resource=arn, Tags={"B": "tag-b", "C": "tag-c"})
    lambda_client.tag_resource(Resource=arn, Tags={"C": "tag-c-newsuffix", "D": "tag-d"})
    after_overlap = lambda_client.list_tags(Resource=arn)["Tags"]
    untag = lambda_client.untag_resource(Resource=arn, TagKeys=["A"])
    lambda_client.untag_resource(Resource=arn, TagKeys=["B", "C"])
    after_untag = lambda_client.list_tags(Resource=arn)["Tags"]
    lambda_client.untag_resource(Resource=arn, TagKeys=["nonexisting"])
    after_nonexisting = lambda_client.list_tags(Resource=arn)["Tags"]
    lambda_client.untag_resource(Resource=arn, TagKeys=["D", "nonexisting"])

    assert single["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert after_single == {"A": "tag-a"}
    assert after_overlap == {"A": "tag-a", "B": "tag-b", "C": "tag-c-newsuffix", "D": "tag-d"}
    assert untag["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert after_untag == {"D": "tag-d"}
    assert after_nonexisting == {"D": "tag-d"}
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {}


def test_list_tags_empty(lambda_client, function):
    assert lambda_client.list_tags(Resource=function_arn(function))["Tags"] == {}


@pytest.mark.parametrize("operation", ["tag", "untag", "list"])
def test_tags_unknown_function_not_found(lambda_client, operation):
    arn = function_arn("doesnotexist")
    calls = {
        "tag": lambda: lambda_client.tag_resource(Resource=arn, Tags={"a": "b"}),
        "untag": lambda: lambda_client.untag_resource(Resource=arn, TagKeys=["a"]),
        "list": lambda: lambda_client.list_tags(Resource=arn),
    }
    with pytest.raises(ClientError) as raised:
        calls[operation]()

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {arn}")


@pytest.mark.parametrize("qualifier", ["1", "live", "$LATEST"])
def test_tags_on_qualified_arn_rejected(lambda_client, function, qualifier):
    with pytest.raises(ClientError) as raised:
        lambda_client.tag_resource(Resource=f"{function_arn(function)}:{qualifier}", Tags={"a": "b"})

    assert error_of(raised) == (400, "InvalidParameterValueException", QUALIFIED_TAGS)


def test_tags_invalid_arn_rejected(lambda_client, function):
    resource = f"arn:aws:lambda:{REGION}:{ACCOUNT}:foobar:{function}"
    with pytest.raises(ClientError) as raised:
        lambda_client.list_tags(Resource=resource)

    assert error_of(raised) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{resource}' at 'resource' failed to satisfy constraint: Member "
        f"must satisfy regular expression pattern: {RESOURCE_PATTERN}",
    )


def test_untag_without_keys_rejected(unvalidated_client, function):
    with pytest.raises(ClientError) as raised:
        unvalidated_client.untag_resource(Resource=function_arn(function))

    assert error_of(raised) == (
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
    )


def test_tag_empty_tags_rejected(lambda_client, function):
    with pytest.raises(ClientError) as raised:
        lambda_client.tag_resource(Resource=function_arn(function), Tags={})

    assert error_of(raised) == (
        400,
        "InvalidParameterValueException",
        "An error occurred and the request cannot be processed.",
    )


def test_tag_limit(lambda_client, function):
    arn = function_arn(function)
    with pytest.raises(ClientError) as too_many:
        lambda_client.tag_resource(Resource=arn, Tags={f"{i}_key": f"{i}_value" for i in range(51)})
    lambda_client.tag_resource(Resource=arn, Tags={f"{i}_key": f"{i}_value" for i in range(50)})
    with pytest.raises(ClientError) as one_more:
        lambda_client.tag_resource(Resource=arn, Tags={"50_key": "50_value"})

    assert error_of(too_many) == (400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    assert error_of(one_more) == (400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    assert len(lambda_client.list_tags(Resource=arn)["Tags"]) == 50


def test_create_with_too_many_tags_rejected(lambda_client, function_name):
    with pytest.raises(ClientError) as raised:
        create_function(lambda_client, function_name, APP, Tags={f"{i}_key": f"{i}_value" for i in range(51)})

    assert error_of(raised) == (400, "InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    with pytest.raises(ClientError):
        lambda_client.get_function(FunctionName=function_name)


def test_tags_deleted_with_function(lambda_client, function_name):
    create_function(lambda_client, function_name, APP, Tags={"key_a": "value_a"})
    lambda_client.delete_function(FunctionName=function_name)

    with pytest.raises(ClientError) as raised:
        lambda_client.list_tags(Resource=function_arn(function_name))
    assert error_of(raised)[:2] == (404, "ResourceNotFoundException")

    create_function(lambda_client, function_name, APP)
    assert lambda_client.list_tags(Resource=function_arn(function_name))["Tags"] == {}


def test_tags_survive_restart(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP, Tags={"team": "core"})
    client.tag_resource(Resource=function_arn(function_name), Tags={"env": "test"})
    server.restart()

    assert server.client().list_tags(Resource=function_arn(function_name))["Tags"] == {"team": "core", "env": "test"}


def test_cli_tag_and_list(server, function):
    arn = function_arn(function)
    server.aws("lambda", "tag-resource", "--resource", arn, "--tags", "team=core,env=test", check=True)
    server.aws("lambda", "untag-resource", "--resource", arn, "--tag-keys", "env", check=True)
    _, listed, _ = server.aws("lambda", "list-tags", "--resource", arn, check=True)

    assert listed == {"Tags": {"team": "core"}}
