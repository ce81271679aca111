"""Reserved and provisioned concurrency against a real Flicker server: Put, Get and Delete of
function concurrency, throttling, GetAccountSettings, and the provisioned concurrency
configurations with their environments started ahead. Expected messages come from responses
recorded from AWS Lambda."""

import base64
import re
import threading
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function, invoke_json
from functions.support import environment_processes, wait_for_log, wait_until

APP = {
    "app.py": (
        "import os, time, uuid\n"
        "ENVIRONMENT = uuid.uuid4().hex\n"
        "def handler(event, context):\n"
        "    if event.get('sleep'):\n"
        "        print('sleeping', flush=True)\n"
        "        time.sleep(event['sleep'])\n"
        "    return {'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], 'environment': ENVIRONMENT,\n"
        "            'initialization': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n"
    )
}
QUALIFIED_NOT_PERMITTED = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support this "
    "operation. Please specify either a function name or an unqualified function ARN."
)
NO_CONFIG = "No Provisioned Concurrency Config found for this function"


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def error_of(raised):
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def unvalidated(server):
    """A client that sends values botocore would reject before sending, such as 0 where the
    model's minimum is 1, so that the server's own checks are tested."""
    return boto3.client(
        "lambda", endpoint_url=server.url, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def report_line(response):
    tail = base64.b64decode(response["LogResult"]).decode()
    return next(line for line in tail.splitlines() if line.startswith("REPORT "))


def idle_environments(server):
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return int(re.search(r"^flicker_idle_environments (\d+)$", text, re.M).group(1))


@pytest.fixture
def function(lambda_client, function_name):
    """A function on the shared server, deleted afterwards so that its reserved and
    provisioned concurrency do not change the account settings other tests read."""
    create_function(lambda_client, function_name, APP, Timeout=30)
    yield function_name
    lambda_client.delete_function(FunctionName=function_name)


@pytest.fixture
def published(lambda_client, function):
    lambda_client.publish_version(FunctionName=function)
    return function


def wait_ready(client, name, qualifier, timeout=60):
    def status():
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        return config if config["Status"] == "READY" else None

    return wait_until(status, timeout=timeout, interval=0.1)


# Reserved concurrency

def test_put_get_delete_function_concurrency(lambda_client, function):
    put = lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    got = lambda_client.get_function_concurrency(FunctionName=function)
    deleted = lambda_client.delete_function_concurrency(FunctionName=function)
    after = lambda_client.get_function_concurrency(FunctionName=function)

    assert put["ReservedConcurrentExecutions"] == 1
    assert got["ReservedConcurrentExecutions"] == 1
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in after


def test_reserved_zero_throttles_every_invocation(lambda_client, function):
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=function, Payload=b"{}")
    response = raised.value.response

    assert error_of(raised) == (429, "TooManyRequestsException", "Rate Exceeded.")
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"


def test_reserved_zero_removed_allows_invocation(lambda_client, function):
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    lambda_client.delete_function_concurrency(FunctionName=function)

    assert invoke_json(lambda_client, function)[0]["StatusCode"] == 200


def test_reserved_one_throttles_second_concurrent_call(server, lambda_client, function):
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    results = []
    slow = threading.Thread(target=lambda: results.append(invoke_json(server.client(), function, {"sleep": 2})))
    slow.start()
    assert wait_for_log(server, function, "sleeping")

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=function, Payload=b"{}")
    slow.join(timeout=60)

    assert raised.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert results[0][0]["StatusCode"] == 200


def test_reserved_applies_to_versions(lambda_client, published):
    lambda_client.put_function_concurrency(FunctionName=published, ReservedConcurrentExecutions=0)

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=published, Qualifier="1", Payload=b"{}")

    assert error_of(raised)[0] == 429


def test_put_concurrency_qualified_rejected(lambda_client, published):
    with pytest.raises(ClientError) as raised:
        lambda_client.put_function_concurrency(
            FunctionName=f"{function_arn(published)}:1", ReservedConcurrentExecutions=1
        )

    assert error_of(raised) == (400, "InvalidParameterValueException", QUALIFIED_NOT_PERMITTED)


def test_put_concurrency_unknown_function_not_found(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.put_function_concurrency(FunctionName="doesnotexist", ReservedConcurrentExecutions=1)

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {function_arn('doesnotexist')}:$LATEST",
    )


def test_get_concurrency_unknown_function_not_found(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_function_concurrency(FunctionName="doesnotexist")

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn('doesnotexist')}")


def test_put_concurrency_negative_rejected(server, function):
    with pytest.raises(ClientError) as raised:
        unvalidated(server).put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=-1)

    assert error_of(raised)[:2] == (400, "ValidationException")


def test_reserved_keeps_100_unreserved(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP)
    create_function(client, f"{function_name}-b", APP)

    with pytest.raises(ClientError) as raised:
        client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=901)
    client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=850)
    with pytest.raises(ClientError) as raised_second:
        client.put_function_concurrency(FunctionName=f"{function_name}-b", ReservedConcurrentExecutions=51)
    limits = client.get_account_settings()["AccountLimit"]

    message = (
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100]."
    )
    assert error_of(raised) == (400, "InvalidParameterValueException", message)
    assert error_of(raised_second) == (400, "InvalidParameterValueException", message)
    assert limits["ConcurrentExecutions"] == 1000
    assert limits["UnreservedConcurrentExecutions"] == 150


def test_account_settings_unreserved_restored_after_delete(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP)
    client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=300)
    reserved = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    client.delete_function(FunctionName=function_name)
    released = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]

    assert reserved == 700
    assert released == 1000


def test_reserved_concurrency_survives_restart(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP)
    client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=0)
    server.restart()
    client = server.client()

    assert client.get_function_concurrency(FunctionName=function_name)["ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=function_name, Payload=b"{}")
    assert error_of(raised)[0] == 429


def test_cli_put_function_concurrency(server, function):
    _, put, _ = server.aws("lambda", "put-function-concurrency", "--function-name", function,
                           "--reserved-concurrent-executions", "3", check=True)
    _, got, _ = server.aws("lambda", "get-function-concurrency", "--function-name", function, check=True)

    assert put == {"ReservedConcurrentExecutions": 3}
    assert got == {"ReservedConcurrentExecutions": 3}


# Provisioned concurrency

def test_provisioned_put_starts_in_progress(lambda_client, published):
    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=1
    )

    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["Status"] == "IN_PROGRESS"
    assert put["RequestedProvisionedConcurrentExecutions"] == 1
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0
    assert put["AvailableProvisionedConcurrentExecutions"] == 0
    assert put["LastModified"]


def test_provisioned_becomes_ready(lambda_client, published):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    ready = wait_ready(lambda_client, published, "1")

    assert ready, "provisioned concurrency did not become READY"
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2


def test_provisioned_first_invocation_has_no_init_duration(lambda_client, published):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lambda_client, published, "1")

    response, result = invoke_json(lambda_client, published, Qualifier="1", LogType="Tail")

    assert result["initialization"] == "provisioned-concurrency"
    assert "Init Duration" not in report_line(response)


def test_on_demand_first_invocation_has_init_duration(lambda_client, published):
    response, result = invoke_json(lambda_client, published, Qualifier="1", LogType="Tail")

    assert result["initialization"] == "on-demand"
    assert "Init Duration" in report_line(response)


def test_provisioned_environments_serve_invocations(lambda_client, published):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lambda_client, published, "1")

    results = [invoke_json(lambda_client, published, Qualifier="1")[1] for _ in range(3)]

    assert {r["initialization"] for r in results} == {"provisioned-concurrency"}
    assert len({r["environment"] for r in results}) == 1


def test_provisioned_on_alias(lambda_client, published):
    lambda_client.create_alias(FunctionName=published, Name="live", FunctionVersion="1")
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lambda_client, published, "live")

    response, result = invoke_json(lambda_client, published, Qualifier="live", LogType="Tail")
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=published)["ProvisionedConcurrencyConfigs"]

    assert result["initialization"] == "provisioned-concurrency"
    assert "Init Duration" not in report_line(response)
    assert [c["FunctionArn"] for c in listed] == [f"{function_arn(published)}:live"]


def test_provisioned_not_reaped_when_idle(start_server, function_name):
    server = start_server("--sandbox", "process", "--idle-keep-alive", "1")
    client = server.client()
    create_function(client, function_name, APP)
    client.publish_version(FunctionName=function_name)
    client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(client, function_name, "1")
    invoke_json(client, function_name)
    assert wait_until(lambda: idle_environments(server) == 2, timeout=10)

    # The on-demand environment of $LATEST is reaped after the keep-alive; the provisioned one stays.
    assert wait_until(lambda: idle_environments(server) == 1, timeout=30)
    response, result = invoke_json(client, function_name, Qualifier="1", LogType="Tail")

    assert result["initialization"] == "provisioned-concurrency"
    assert "Init Duration" not in report_line(response)


def test_provisioned_delete_stops_environments(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP)
    client.publish_version(FunctionName=function_name)
    client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert wait_ready(client, function_name, "1")
    assert len(environment_processes(function_name)) == 2

    deleted = client.delete_provisioned_concurrency_config(FunctionName=function_name, Qualifier="1")

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert wait_until(lambda: environment_processes(function_name) == [], timeout=10)
    with pytest.raises(ClientError) as raised:
        client.get_provisioned_concurrency_config(FunctionName=function_name, Qualifier="1")
    assert error_of(raised) == (404, "ProvisionedConcurrencyConfigNotFoundException", NO_CONFIG)


def test_provisioned_survives_restart(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP)
    client.publish_version(FunctionName=function_name)
    client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    server.restart()
    client = server.client()

    assert wait_ready(client, function_name, "1")
    _, result = invoke_json(client, function_name, Qualifier="1")
    assert result["initialization"] == "provisioned-concurrency"


@pytest.mark.parametrize("operation", ["get", "delete"])
def test_provisioned_latest_rejected(lambda_client, published, operation):
    call = getattr(lambda_client, f"{operation}_provisioned_concurrency_config")
    with pytest.raises(ClientError) as raised:
        call(FunctionName=published, Qualifier="$LATEST")

    assert error_of(raised) == (
        400,
        "InvalidParameterValueException",
        "The function resource provided must be an alias or a published version.",
    )


def test_provisioned_put_latest_rejected(lambda_client, published):
    with pytest.raises(ClientError) as raised:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )

    assert error_of(raised) == (
        400,
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )


def test_provisioned_get_missing_config(lambda_client, published):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_provisioned_concurrency_config(FunctionName=published, Qualifier="1")

    assert error_of(raised) == (404, "ProvisionedConcurrencyConfigNotFoundException", NO_CONFIG)


def test_provisioned_delete_missing_config_succeeds(lambda_client, published):
    deleted = lambda_client.delete_provisioned_concurrency_config(FunctionName=published, Qualifier="1")

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize("operation", ["get", "delete", "put"])
def test_provisioned_missing_alias_not_found(lambda_client, published, operation):
    call = getattr(lambda_client, f"{operation}_provisioned_concurrency_config")
    extra = {"ProvisionedConcurrentExecutions": 1} if operation == "put" else {}
    with pytest.raises(ClientError) as raised:
        call(FunctionName=published, Qualifier="noalias", **extra)

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {function_arn(published)}:noalias",
    )


@pytest.mark.parametrize("operation", ["get", "delete", "put"])
def test_provisioned_missing_version_not_found(lambda_client, published, operation):
    call = getattr(lambda_client, f"{operation}_provisioned_concurrency_config")
    extra = {"ProvisionedConcurrentExecutions": 1} if operation == "put" else {}
    with pytest.raises(ClientError) as raised:
        call(FunctionName=published, Qualifier="10", **extra)

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn(published)}:10")


def test_provisioned_unknown_function_alias_not_found(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_provisioned_concurrency_config(FunctionName="doesnotexist", Qualifier="noalias")

    assert error_of(raised) == (
        404,
        "ResourceNotFoundException",
        f"Cannot find alias arn: {function_arn('doesnotexist')}:noalias",
    )


def test_provisioned_list_unknown_function_not_found(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.list_provisioned_concurrency_configs(FunctionName="doesnotexist")

    assert error_of(raised) == (404, "ResourceNotFoundException", f"Function not found: {function_arn('doesnotexist')}")


def test_provisioned_list_empty(lambda_client, published):
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=published)

    assert listed["ProvisionedConcurrencyConfigs"] == []


def test_provisioned_zero_rejected(server, published):
    with pytest.raises(ClientError) as raised:
        unvalidated(server).put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=0
        )

    assert error_of(raised) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1",
    )


def test_provisioned_alias_and_version_conflict(lambda_client, published):
    lambda_client.create_alias(FunctionName=published, Name="live", FunctionVersion="1")
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(ClientError) as on_alias:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="live", ProvisionedConcurrentExecutions=1
        )
    lambda_client.delete_provisioned_concurrency_config(FunctionName=published, Qualifier="1")
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=published, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(ClientError) as on_version:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=published, Qualifier="1", ProvisionedConcurrentExecutions=1
        )

    assert error_of(on_alias) == (
        409,
        "ResourceConflictException",
        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
    )
    assert error_of(on_version) == (409, "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")


def test_provisioned_account_limits(start_server, function_name):
    server = start_server("--sandbox", "process", "--concurrency-limit", "150")
    client = server.client()
    create_function(client, function_name, APP)
    client.publish_version(FunctionName=function_name)

    with pytest.raises(ClientError) as above_unreserved:
        client.put_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier="1", ProvisionedConcurrentExecutions=200
        )
    with pytest.raises(ClientError) as below_minimum:
        client.put_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier="1", ProvisionedConcurrentExecutions=60
        )

    assert error_of(above_unreserved) == (
        400,
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [150].",
    )
    assert error_of(below_minimum) == (
        400,
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below "
        "its minimum value of [100].",
    )


def test_provisioned_reduces_unreserved(start_server, function_name):
    server = start_server("--sandbox", "process")
    client = server.client()
    create_function(client, function_name, APP)
    client.publish_version(FunctionName=function_name)
    client.put_provisioned_concurrency_config(
        FunctionName=function_name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )

    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 998


def test_cli_provisioned_lifecycle(server, published):
    _, put, _ = server.aws("lambda", "put-provisioned-concurrency-config", "--function-name", published,
                           "--qualifier", "1", "--provisioned-concurrent-executions", "1", check=True)
    _, listed, _ = server.aws("lambda", "list-provisioned-concurrency-configs", "--function-name", published,
                              check=True)
    server.aws("lambda", "delete-provisioned-concurrency-config", "--function-name", published,
               "--qualifier", "1", check=True)

    assert put["Status"] == "IN_PROGRESS"
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [f"{function_arn(published)}:1"]
