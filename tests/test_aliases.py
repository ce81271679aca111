"""Aliases against a real Flicker server: CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
ListAliases, their name and routing rules, and invocations through an alias with weighted
routing. Expected messages come from responses recorded from AWS Lambda."""

import base64

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function, invoke_json

STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
    "to retrieve the latest Revision Id"
)
ROUTING_VALUE_RULE = (
    "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have "
    "value greater than or equal to 0.0, Member must not be null]"
)

APP = {
    "app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    return {'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], 'arn': context.invoked_function_arn}\n"
    )
}


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def error_of(raised):
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@pytest.fixture(scope="module")
def unvalidated_client(server):
    """A client that sends values botocore would reject before sending, such as negative
    weights, so that the server's own checks are tested."""
    return boto3.client(
        "lambda", endpoint_url=server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


@pytest.fixture
def two_versions(lambda_client, function_name):
    """A function with published versions 1 and 2."""
    create_function(lambda_client, function_name, APP)
    lambda_client.publish_version(FunctionName=function_name)
    lambda_client.update_function_configuration(FunctionName=function_name, Description="second")
    lambda_client.publish_version(FunctionName=function_name)
    return function_name


def test_create_alias_response(lambda_client, two_versions):
    alias = lambda_client.create_alias(
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        Description="custom-alias",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}},
    )

    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == f"{function_arn(two_versions)}:live"
    assert alias["Name"] == "live"
    assert alias["FunctionVersion"] == "1"
    assert alias["Description"] == "custom-alias"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}
    assert alias["RevisionId"]


def test_get_alias_matches_create(lambda_client, two_versions):
    created = lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="2")
    fetched = lambda_client.get_alias(FunctionName=two_versions, Name="live")

    for field in ("AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"):
        assert fetched[field] == created[field]
    assert "RoutingConfig" not in fetched


def test_alias_on_latest_allowed(lambda_client, two_versions):
    alias = lambda_client.create_alias(FunctionName=two_versions, Name="custom-latest", FunctionVersion="$LATEST")

    assert alias["FunctionVersion"] == "$LATEST"


def test_alias_name_with_date_allowed(lambda_client, two_versions):
    assert lambda_client.create_alias(FunctionName=two_versions, Name="2024-01-02", FunctionVersion="1")["Name"]


def test_alias_name_number_rejected(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(FunctionName=two_versions, Name="2024", FunctionVersion="1")

    assert error_of(raised) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
    )


def test_alias_name_invalid_characters_rejected(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(FunctionName=two_versions, Name="a.b", FunctionVersion="1")

    assert error_of(raised)[:2] == (400, "ValidationException")


def test_alias_exists_conflict(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="custom", FunctionVersion="1")
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(FunctionName=two_versions, Name="custom", FunctionVersion="2")

    assert error_of(raised) == (
        409,
        "ResourceConflictException",
        f"Alias already exists: {function_arn(two_versions)}:custom",
    )


def test_alias_missing_version_not_found(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(FunctionName=two_versions, Name="custom", FunctionVersion="10")

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn(two_versions)}:10")


def test_alias_unknown_function_not_found(lambda_client, function_name):
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(FunctionName=f"{function_name}-unknown", Name="custom", FunctionVersion="1")

    assert error_of(raised)[:2] == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    "weights, status, code, message",
    [
        ({"2": 0.5, "3": 0.2}, 400, "InvalidParameterValueException",
         "Number of items in AdditionalVersionWeights cannot be greater than 1"),
        ({"2": 2.0}, 400, "ValidationException",
         "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to "
         f"satisfy constraint: {ROUTING_VALUE_RULE}"),
        ({"2": -1.0}, 400, "ValidationException",
         "1 validation error detected: Value '{2=-1.0}' at 'routingConfig.additionalVersionWeights' failed to "
         f"satisfy constraint: {ROUTING_VALUE_RULE}"),
        ({"1": 0.5}, 400, "InvalidParameterValueException",
         "Invalid function version 1. Function version 1 is already included in routing configuration."),
        ({"$LATEST": 0.5}, 400, "ValidationException",
         "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed "
         "to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal "
         "to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression "
         "pattern: [0-9]+]"),
    ],
    ids=["too-many", "too-high", "below-zero", "same-version", "latest-key"],
)
def test_alias_routing_config_rejected(unvalidated_client, two_versions, weights, status, code, message):
    with pytest.raises(ClientError) as raised:
        unvalidated_client.create_alias(
            FunctionName=two_versions,
            Name="custom",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": weights},
        )

    assert error_of(raised) == (status, code, message)


def test_alias_routing_missing_version_not_found(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(
            FunctionName=two_versions, Name="custom", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}},
        )

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn(two_versions)}:10")


def test_alias_routing_on_latest_rejected(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.create_alias(
            FunctionName=two_versions, Name="custom", FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )

    assert error_of(raised) == (
        400,
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version",
    )


def test_get_missing_alias_not_found(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_alias(FunctionName=two_versions, Name="non-existent")

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {function_arn(two_versions)}:non-existent",
    )


def test_update_alias_changes_version_and_revision(lambda_client, two_versions):
    created = lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    updated = lambda_client.update_alias(
        FunctionName=two_versions, Name="live", FunctionVersion="2", RevisionId=created["RevisionId"]
    )

    assert updated["FunctionVersion"] == "2"
    assert updated["RevisionId"] != created["RevisionId"]
    assert lambda_client.get_alias(FunctionName=two_versions, Name="live")["FunctionVersion"] == "2"


def test_update_alias_empty_routing_removes_it(lambda_client, two_versions):
    lambda_client.create_alias(
        FunctionName=two_versions, Name="live", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}},
    )
    updated = lambda_client.update_alias(
        FunctionName=two_versions, Name="live", RoutingConfig={"AdditionalVersionWeights": {}}
    )

    assert "RoutingConfig" not in updated


def test_update_alias_stale_revision_rejected(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as raised:
        lambda_client.update_alias(FunctionName=two_versions, Name="live", Description="x", RevisionId="stale")

    assert error_of(raised) == (412, "PreconditionFailedException", STALE_REVISION)


def test_update_missing_alias_not_found(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.update_alias(FunctionName=two_versions, Name="non-existent", FunctionVersion="1")

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Alias not found: {function_arn(two_versions)}:non-existent",
    )


def test_delete_alias(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    deleted = lambda_client.delete_alias(FunctionName=two_versions, Name="live")

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lambda_client.list_aliases(FunctionName=two_versions)["Aliases"] == []


def test_delete_missing_alias_succeeds(lambda_client, two_versions):
    deleted = lambda_client.delete_alias(FunctionName=two_versions, Name="non-existent")

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_list_aliases_sorted_and_filtered(lambda_client, two_versions):
    for name, version in (("b-two", "2"), ("a-one", "1"), ("c-one", "1")):
        lambda_client.create_alias(FunctionName=two_versions, Name=name, FunctionVersion=version)

    everything = lambda_client.list_aliases(FunctionName=two_versions)["Aliases"]
    version_one = lambda_client.list_aliases(FunctionName=two_versions, FunctionVersion="1")["Aliases"]

    assert [a["Name"] for a in everything] == ["a-one", "b-two", "c-one"]
    assert [a["Name"] for a in version_one] == ["a-one", "c-one"]


def test_list_aliases_paginates(lambda_client, two_versions):
    for name in ("a", "b", "c"):
        lambda_client.create_alias(FunctionName=two_versions, Name=name, FunctionVersion="1")
    paginator = lambda_client.get_paginator("list_aliases")
    pages = list(paginator.paginate(FunctionName=two_versions, PaginationConfig={"PageSize": 2}))

    assert [[a["Name"] for a in page["Aliases"]] for page in pages] == [["a", "b"], ["c"]]


def test_get_function_through_alias(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="2")
    configuration = lambda_client.get_function(FunctionName=two_versions, Qualifier="live")["Configuration"]
    by_arn = lambda_client.get_function(FunctionName=f"{function_arn(two_versions)}:live")["Configuration"]

    assert configuration["Version"] == "2"
    assert configuration["FunctionArn"] == f"{function_arn(two_versions)}:live"
    assert by_arn["Version"] == "2"


def test_get_function_missing_alias_not_found(lambda_client, two_versions):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_function(FunctionName=two_versions, Qualifier="aliasdoesnotexist")

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {function_arn(two_versions)}:aliasdoesnotexist",
    )


def test_invoke_alias_runs_its_version(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="2")
    response, result = invoke_json(lambda_client, two_versions, Qualifier="live")
    _, by_suffix = invoke_json(lambda_client, f"{two_versions}:live")

    assert response["ExecutedVersion"] == "2"
    assert result == {"version": "2", "arn": f"{function_arn(two_versions)}:live"}
    assert by_suffix["version"] == "2"


def test_invoke_alias_follows_update(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    lambda_client.update_alias(FunctionName=two_versions, Name="live", FunctionVersion="2")

    assert invoke_json(lambda_client, two_versions, Qualifier="live")[0]["ExecutedVersion"] == "2"


def test_invoke_alias_start_line_names_version(lambda_client, two_versions):
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    response, _ = invoke_json(lambda_client, two_versions, Qualifier="live", LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()

    assert "START RequestId: " in tail
    assert tail.split("START RequestId: ", 1)[1].split("\n", 1)[0].endswith(" Version: 1")


def test_weighted_routing_share(lambda_client, two_versions):
    """Over 1,000 invocations, a 0.3 weight sends 30% to version 2. The binomial standard
    deviation is 1.45 percentage points, so the 6-point tolerance is about four of them."""
    lambda_client.create_alias(
        FunctionName=two_versions, Name="canary", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    executed = {"1": 0, "2": 0}
    for _ in range(1000):
        response, result = invoke_json(lambda_client, two_versions, Qualifier="canary")
        assert result["version"] == response["ExecutedVersion"]
        executed[response["ExecutedVersion"]] += 1

    share = executed["2"] / 1000
    assert abs(share - 0.3) <= 0.06, executed


def test_aliases_survive_restart(start_server, function_name):
    server = start_server()
    client = server.client()
    create_function(client, function_name, APP)
    client.publish_version(FunctionName=function_name)
    client.create_alias(FunctionName=function_name, Name="live", FunctionVersion="1")
    server.restart()
    client = server.client()

    assert client.get_alias(FunctionName=function_name, Name="live")["FunctionVersion"] == "1"
    assert invoke_json(client, function_name, Qualifier="live")[0]["ExecutedVersion"] == "1"


def test_cli_alias_lifecycle(server, two_versions):
    server.aws("lambda", "create-alias", "--function-name", two_versions, "--name", "live",
               "--function-version", "1", check=True)
    _, updated, _ = server.aws("lambda", "update-alias", "--function-name", two_versions, "--name", "live",
                               "--function-version", "2", check=True)
    _, listed, _ = server.aws("lambda", "list-aliases", "--function-name", two_versions, check=True)
    server.aws("lambda", "delete-alias", "--function-name", two_versions, "--name", "live", check=True)
    code, _, stderr = server.aws("lambda", "get-alias", "--function-name", two_versions, "--name", "live")

    assert updated["FunctionVersion"] == "2"
    assert [a["Name"] for a in listed["Aliases"]] == ["live"]
    assert code != 0
    assert "ResourceNotFoundException" in stderr
