"""Published versions against a real Flicker server: PublishVersion, ListVersionsByFunction,
GetFunction, GetFunctionConfiguration, DeleteFunction and Invoke with a qualifier, and
RevisionId checks. Expected messages come from responses recorded from AWS Lambda."""

import base64
import json
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function, invoke_json, make_zip
from functions.support import wait_for_log

STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
    "to retrieve the latest Revision Id"
)


def app(label):
    """A handler that reports which code (`label`) and which version ran it."""
    return {
        "app.py": (
            "import os, time\n"
            "def handler(event, context):\n"
            "    print('running', flush=True)\n"
            "    time.sleep(event.get('sleep', 0))\n"
            f"    return {{'code': {label!r}, 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'],\n"
            "            'memory': context.memory_limit_in_mb, 'arn': context.invoked_function_arn,\n"
            "            'mark': os.environ.get('MARK')}\n"
        )
    }


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def error_of(raised):
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


@pytest.fixture
def versioned(lambda_client, function_name):
    create_function(lambda_client, function_name, app("one"))
    return function_name


def test_publish_returns_version_one(lambda_client, versioned):
    published = lambda_client.publish_version(FunctionName=versioned, Description="first")

    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["Version"] == "1"
    assert published["FunctionArn"] == f"{function_arn(versioned)}:1"
    assert published["Description"] == "first"
    assert published["State"] == "Active"


def test_publish_unchanged_latest_returns_last_version(lambda_client, versioned):
    first = lambda_client.publish_version(FunctionName=versioned)
    again = lambda_client.publish_version(FunctionName=versioned)

    assert again["Version"] == first["Version"] == "1"
    assert [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=versioned)["Versions"]] == [
        "$LATEST",
        "1",
    ]


def test_publish_after_change_creates_new_version(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.update_function_configuration(FunctionName=versioned, MemorySize=256)
    second = lambda_client.publish_version(FunctionName=versioned)

    assert second["Version"] == "2"
    assert second["MemorySize"] == 256


def test_publish_wrong_sha256_rejected(lambda_client, versioned):
    sha = lambda_client.get_function(FunctionName=versioned)["Configuration"]["CodeSha256"]
    with pytest.raises(ClientError) as raised:
        lambda_client.publish_version(FunctionName=versioned, CodeSha256="somenonexistentsha256")

    assert error_of(raised) == (
        400,
        "InvalidParameterValueException",
        f"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST ({sha}). "
        "Please try again with the CodeSHA256 in $LATEST.",
    )


def test_publish_matching_sha256_accepted(lambda_client, versioned):
    sha = lambda_client.get_function(FunctionName=versioned)["Configuration"]["CodeSha256"]

    assert lambda_client.publish_version(FunctionName=versioned, CodeSha256=sha)["Version"] == "1"


def test_publish_stale_revision_rejected(lambda_client, versioned):
    with pytest.raises(ClientError) as raised:
        lambda_client.publish_version(FunctionName=versioned, RevisionId="wrong")

    assert error_of(raised) == (412, "PreconditionFailedException", STALE_REVISION)


def test_publish_current_revision_accepted(lambda_client, versioned):
    revision = lambda_client.get_function(FunctionName=versioned)["Configuration"]["RevisionId"]

    assert lambda_client.publish_version(FunctionName=versioned, RevisionId=revision)["Version"] == "1"


def test_publish_unknown_function_not_found(lambda_client, function_name):
    with pytest.raises(ClientError) as raised:
        lambda_client.publish_version(FunctionName=function_name)

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn(function_name)}")


def test_publish_on_create(lambda_client, function_name):
    create_function(lambda_client, function_name, app("one"), Publish=True)
    versions = lambda_client.list_versions_by_function(FunctionName=function_name)["Versions"]

    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_publish_on_code_update(lambda_client, versioned):
    lambda_client.update_function_code(FunctionName=versioned, ZipFile=make_zip(app("two")), Publish=True)
    _, result = invoke_json(lambda_client, versioned, Qualifier="1")

    assert result["code"] == "two"


def test_code_update_publish_returns_version(lambda_client, versioned):
    # Recorded from AWS: UpdateFunctionCode with Publish returns the published version.
    updated = lambda_client.update_function_code(
        FunctionName=versioned, ZipFile=make_zip(app("two")), Publish=True
    )
    latest = lambda_client.get_function_configuration(FunctionName=versioned)

    assert updated["Version"] == "1"
    assert updated["FunctionArn"] == f"{function_arn(versioned)}:1"
    assert updated["CodeSha256"] == latest["CodeSha256"]


def test_list_versions_arns_and_order(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.update_function_configuration(FunctionName=versioned, Description="changed")
    lambda_client.publish_version(FunctionName=versioned)
    versions = lambda_client.list_versions_by_function(FunctionName=versioned)["Versions"]

    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[0]["FunctionArn"] == f"{function_arn(versioned)}:$LATEST"
    assert versions[2]["FunctionArn"] == f"{function_arn(versioned)}:2"
    assert "State" not in versions[1]


def test_list_versions_paginates(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.update_function_configuration(FunctionName=versioned, Description="changed")
    lambda_client.publish_version(FunctionName=versioned)
    paginator = lambda_client.get_paginator("list_versions_by_function")
    pages = list(paginator.paginate(FunctionName=versioned, PaginationConfig={"PageSize": 2}))

    assert [[v["Version"] for v in page["Versions"]] for page in pages] == [["$LATEST", "1"], ["2"]]


def test_get_function_by_version(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned, Description="v1")
    lambda_client.update_function_configuration(FunctionName=versioned, Description="latest")

    by_version = lambda_client.get_function(FunctionName=versioned, Qualifier="1")["Configuration"]
    by_arn = lambda_client.get_function_configuration(FunctionName=f"{function_arn(versioned)}:1")
    latest = lambda_client.get_function_configuration(FunctionName=versioned)

    assert by_version["Version"] == "1"
    assert by_version["Description"] == "v1"
    assert by_version["FunctionArn"] == f"{function_arn(versioned)}:1"
    assert by_arn["Description"] == "v1"
    assert latest["Description"] == "latest"


def test_get_function_missing_version_not_found(lambda_client, versioned):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_function(FunctionName=versioned, Qualifier="1221")

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {function_arn(versioned)}:1221",
    )


def test_get_version_code_downloads_its_zip(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.update_function_code(FunctionName=versioned, ZipFile=make_zip(app("two")))
    first = lambda_client.get_function(FunctionName=versioned, Qualifier="1")
    latest = lambda_client.get_function(FunctionName=versioned)

    assert first["Code"]["Location"] != latest["Code"]["Location"]
    assert first["Configuration"]["CodeSha256"] != latest["Configuration"]["CodeSha256"]


def test_delete_version(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.delete_function(FunctionName=versioned, Qualifier="1")

    versions = lambda_client.list_versions_by_function(FunctionName=versioned)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]
    with pytest.raises(ClientError) as raised:
        lambda_client.get_function(FunctionName=versioned, Qualifier="1")
    assert error_of(raised)[1] == "ResourceNotFoundException"


def test_version_numbers_not_reused(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.delete_function(FunctionName=versioned, Qualifier="1")
    lambda_client.update_function_configuration(FunctionName=versioned, Description="changed")

    assert lambda_client.publish_version(FunctionName=versioned)["Version"] == "2"


def test_delete_latest_qualifier_rejected(lambda_client, versioned):
    with pytest.raises(ClientError) as raised:
        lambda_client.delete_function(FunctionName=versioned, Qualifier="$LATEST")

    assert error_of(raised)[:2] == (400, "InvalidParameterValueException")


def test_delete_version_used_by_alias_rejected(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    with pytest.raises(ClientError) as raised:
        lambda_client.delete_function(FunctionName=versioned, Qualifier="1")

    assert error_of(raised)[:2] == (409, "ResourceConflictException")
    assert "live" in error_of(raised)[2]


def test_delete_function_removes_versions(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.delete_function(FunctionName=versioned)

    with pytest.raises(ClientError) as raised:
        lambda_client.get_function(FunctionName=versioned, Qualifier="1")
    assert error_of(raised)[1] == "ResourceNotFoundException"


def test_invoke_version_runs_its_code(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.update_function_code(FunctionName=versioned, ZipFile=make_zip(app("two")))

    old_response, old = invoke_json(lambda_client, versioned, Qualifier="1")
    suffix_response, by_suffix = invoke_json(lambda_client, f"{versioned}:1")
    latest_response, latest = invoke_json(lambda_client, versioned)

    assert (old["code"], old["version"]) == ("one", "1")
    assert old_response["ExecutedVersion"] == "1"
    assert by_suffix["code"] == "one"
    assert suffix_response["ExecutedVersion"] == "1"
    assert (latest["code"], latest["version"]) == ("two", "$LATEST")
    assert latest_response["ExecutedVersion"] == "$LATEST"


def test_invoke_version_keeps_its_configuration(lambda_client, versioned):
    lambda_client.update_function_configuration(FunctionName=versioned, Environment={"Variables": {"MARK": "v1"}})
    lambda_client.publish_version(FunctionName=versioned)
    lambda_client.update_function_configuration(
        FunctionName=versioned, MemorySize=256, Environment={"Variables": {"MARK": "latest"}}
    )

    _, old = invoke_json(lambda_client, versioned, Qualifier="1")
    _, latest = invoke_json(lambda_client, versioned)

    assert (old["mark"], int(old["memory"])) == ("v1", 128)
    assert (latest["mark"], int(latest["memory"])) == ("latest", 256)


def test_invoke_version_context_arn_is_qualified(lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    _, result = invoke_json(lambda_client, versioned, Qualifier="1")

    assert result["arn"] == f"{function_arn(versioned)}:1"


def test_invoke_version_start_line_names_version(server, lambda_client, versioned):
    lambda_client.publish_version(FunctionName=versioned)
    response, _ = invoke_json(lambda_client, versioned, Qualifier="1", LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()

    assert " Version: 1" in tail
    assert wait_for_log(server, versioned, "/[1]")


def test_invoke_missing_version_not_found(lambda_client, versioned):
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=versioned, Qualifier="7", Payload=b"{}")

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn(versioned)}:7")


def test_invocation_in_flight_keeps_old_code(server, lambda_client, versioned):
    results = []
    slow = threading.Thread(target=lambda: results.append(invoke_json(server.client(), versioned, {"sleep": 2})))
    slow.start()
    assert wait_for_log(server, versioned, "running")
    lambda_client.update_function_code(FunctionName=versioned, ZipFile=make_zip(app("two")))
    lambda_client.update_function_configuration(FunctionName=versioned, Environment={"Variables": {"MARK": "new"}})
    slow.join(timeout=60)

    assert results[0][1]["code"] == "one"
    assert results[0][1]["mark"] is None
    assert invoke_json(lambda_client, versioned)[1]["code"] == "two"


def test_update_code_stale_revision_rejected(lambda_client, versioned):
    with pytest.raises(ClientError) as raised:
        lambda_client.update_function_code(FunctionName=versioned, ZipFile=make_zip(app("two")), RevisionId="old")

    assert error_of(raised) == (412, "PreconditionFailedException", STALE_REVISION)


def test_update_configuration_stale_revision_rejected(lambda_client, versioned):
    revision = lambda_client.get_function(FunctionName=versioned)["Configuration"]["RevisionId"]
    lambda_client.update_function_configuration(FunctionName=versioned, Description="changed")

    with pytest.raises(ClientError) as raised:
        lambda_client.update_function_configuration(FunctionName=versioned, Timeout=5, RevisionId=revision)

    assert error_of(raised) == (412, "PreconditionFailedException", STALE_REVISION)


def test_update_configuration_current_revision_accepted(lambda_client, versioned):
    revision = lambda_client.get_function(FunctionName=versioned)["Configuration"]["RevisionId"]
    updated = lambda_client.update_function_configuration(FunctionName=versioned, Timeout=5, RevisionId=revision)

    assert updated["Timeout"] == 5
    assert updated["RevisionId"] != revision


def test_versions_survive_restart(start_server, function_name):
    server = start_server()
    client = server.client()
    create_function(client, function_name, app("one"))
    client.publish_version(FunctionName=function_name)
    client.update_function_code(FunctionName=function_name, ZipFile=make_zip(app("two")))
    server.restart()
    client = server.client()

    versions = client.list_versions_by_function(FunctionName=function_name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert invoke_json(client, function_name, Qualifier="1")[1]["code"] == "one"
    assert client.publish_version(FunctionName=function_name)["Version"] == "2"


def test_cli_publish_and_list_versions(server, versioned):
    code, published, _ = server.aws("lambda", "publish-version", "--function-name", versioned, check=True)
    code, listed, _ = server.aws("lambda", "list-versions-by-function", "--function-name", versioned, check=True)

    assert published["Version"] == "1"
    assert [v["Version"] for v in listed["Versions"]] == ["$LATEST", "1"]


def test_cli_invoke_version(server, versioned, tmp_path):
    server.aws("lambda", "publish-version", "--function-name", versioned, check=True)
    out = tmp_path / "out.json"
    code, result, _ = server.aws(
        "lambda", "invoke", "--function-name", versioned, "--qualifier", "1", str(out), check=True
    )

    assert result["ExecutedVersion"] == "1"
    assert json.loads(out.read_text())["version"] == "1"
