"""Function URLs: the control plane through boto3 and the AWS CLI, and requests through a
plain HTTP client against the URL, checking the event the function receives and the response
mapped from its result."""

import base64
import http.client
import json
import socket
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import create_function
from http_echo import ECHO_CODE

URL_QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"


def echo_function(client, name, **kwargs):
    create_function(client, name, {"app.py": ECHO_CODE}, **kwargs)


def url_parts(function_url):
    """The (host, port, path prefix) of a FunctionUrl."""
    parsed = urllib.parse.urlsplit(function_url)
    return parsed.hostname, parsed.port, parsed.path.rstrip("/")


def request(function_url, method="GET", path="/", body=None, headers=(), host=None):
    """Sends one request with http.client, which keeps repeated headers as separate lines.
    Returns (status, header list, body bytes)."""
    hostname, port, prefix = url_parts(function_url)
    connection = http.client.HTTPConnection(hostname, port, timeout=60)
    try:
        connection.putrequest(method, prefix + path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            connection.putheader("Host", host)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def header_values(headers, name):
    return [value for key, value in headers if key.lower() == name]


@pytest.fixture
def echo_url(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    config = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE")
    return config["FunctionUrl"]


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def test_url_config_lifecycle(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    created = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AuthType"] == "NONE"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
    assert "LastModifiedTime" not in created
    url_id = created["FunctionUrl"].rstrip("/").rsplit("/", 1)[-1]
    assert len(url_id) == 32
    assert url_id.isalnum()
    assert url_id == url_id.lower()

    duplicate = error_of(lambda: lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE"))
    assert duplicate["Error"]["Code"] == "ResourceConflictException"
    assert "FunctionUrlConfig exists for this Lambda function" in duplicate["Error"]["Message"]

    fetched = lambda_client.get_function_url_config(FunctionName=function_name)
    assert fetched["FunctionUrl"] == created["FunctionUrl"]
    assert fetched["InvokeMode"] == "BUFFERED"
    assert fetched["CreationTime"] == created["CreationTime"]

    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 60}
    updated = lambda_client.update_function_url_config(FunctionName=function_name, AuthType="AWS_IAM", Cors=cors)
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == cors
    assert updated["FunctionUrl"] == created["FunctionUrl"]
    assert "LastModifiedTime" in updated

    listed = lambda_client.list_function_url_configs(FunctionName=function_name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]
    assert listed[0]["AuthType"] == "AWS_IAM"

    deleted = lambda_client.delete_function_url_config(FunctionName=function_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    missing = error_of(lambda: lambda_client.get_function_url_config(FunctionName=function_name))
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    assert missing["Error"]["Message"] == "The resource you requested does not exist."
    assert lambda_client.list_function_url_configs(FunctionName=function_name)["FunctionUrlConfigs"] == []


@pytest.mark.parametrize("qualifier", ["1", "$LATEST"])
def test_url_qualifier_version_rejected(lambda_client, function_name, qualifier):
    echo_function(lambda_client, function_name)
    error = error_of(lambda: lambda_client.create_function_url_config(
        FunctionName=function_name, Qualifier=qualifier, AuthType="NONE"))
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == (
        f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {URL_QUALIFIER_PATTERN}")


def test_url_missing_function_messages(lambda_client, function_name):
    created = error_of(lambda: lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE"))
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert created["Error"]["Message"] == "Function does not exist"
    listed = error_of(lambda: lambda_client.list_function_url_configs(FunctionName=function_name))
    assert listed["Error"]["Message"] == "Function does not exist"
    fetched = error_of(lambda: lambda_client.get_function_url_config(FunctionName=function_name))
    assert fetched["Error"]["Message"] == "The resource you requested does not exist."
    deleted = error_of(lambda: lambda_client.delete_function_url_config(FunctionName=function_name))
    assert deleted["Error"]["Code"] == "ResourceNotFoundException"


def test_url_unknown_alias_not_found(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    error = error_of(lambda: lambda_client.create_function_url_config(
        FunctionName=function_name, Qualifier="missing-alias", AuthType="NONE"))
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Function does not exist"


def test_url_invalid_settings_rejected(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    auth = error_of(lambda: lambda_client.create_function_url_config(FunctionName=function_name, AuthType="OPEN"))
    assert auth["Error"]["Code"] == "ValidationException"
    assert "Value 'OPEN' at 'authType'" in auth["Error"]["Message"]
    stream = error_of(lambda: lambda_client.create_function_url_config(
        FunctionName=function_name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"))
    assert stream["Error"]["Code"] == "InvalidParameterValueException"
    assert "RESPONSE_STREAM" in stream["Error"]["Message"]
    max_age = error_of(lambda: lambda_client.create_function_url_config(
        FunctionName=function_name, AuthType="NONE", Cors={"MaxAge": 90000}))
    assert max_age["Error"]["Code"] == "ValidationException"
    assert "cors.maxAge" in max_age["Error"]["Message"]


def test_url_event_fields(echo_url):
    body = bytes([0, 1, 2, 250, 255])
    path = "/caf%C3%A9/%E6%97%A5%E6%9C%AC"
    status, headers, raw = request(
        echo_url, "POST", path + "?k=1&k=2&name=a%20b&empty=",
        body=body,
        headers=[("Content-Type", "application/octet-stream"), ("X-Repeat", "one"), ("X-Repeat", "two"),
                 ("Cookie", "session=abc; theme=dark"), ("User-Agent", "url-test/1.0")],
    )
    assert status == 200, raw

    event = json.loads(raw)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == path
    assert event["rawQueryString"] == "k=1&k=2&name=a%20b&empty="
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["headers"]["x-repeat"] == "one,two"
    assert event["headers"]["user-agent"] == "url-test/1.0"
    assert "cookie" not in event["headers"]
    assert event["queryStringParameters"] == {"k": "1,2", "name": "a b", "empty": ""}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body

    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/café/日本"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"] == "url-test/1.0"
    assert context["http"]["protocol"] == "HTTP/1.1"
    assert context["accountId"] == "000000000000"
    assert context["stage"] == "$default"
    assert len(context["requestId"]) == 36
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 600
    assert time.strftime("%Y", time.gmtime()) in context["time"]


def test_url_text_body_and_no_query(echo_url):
    status, _, raw = request(echo_url, "PUT", "/", body='{"x": "ü"}'.encode(),
                             headers=[("Content-Type", "application/json")])
    assert status == 200
    event = json.loads(raw)
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"x": "ü"}'
    assert event["rawPath"] == "/"
    assert "queryStringParameters" not in event
    assert "cookies" not in event


def test_url_by_host_name(lambda_client, echo_url):
    _, port, prefix = url_parts(echo_url)
    url_id = prefix.rsplit("/", 1)[-1]
    host = f"{url_id}.lambda-url.us-east-1.localhost:{port}"
    status, _, raw = request(f"http://127.0.0.1:{port}/", "GET", "/items/7?x=1", host=host)
    assert status == 200, raw
    event = json.loads(raw)
    assert event["rawPath"] == "/items/7"
    assert event["requestContext"]["domainName"] == host
    assert event["requestContext"]["apiId"] == url_id


def test_url_structured_result(echo_url):
    status, headers, raw = request(echo_url, "GET", "/structured")
    assert status == 201
    assert raw == b"created"
    assert header_values(headers, "x-custom") == ["yes"]
    assert header_values(headers, "content-type") == ["text/plain"]
    assert header_values(headers, "set-cookie") == ["a=1; Path=/", "b=2"]


def test_url_binary_result(echo_url):
    status, headers, raw = request(echo_url, "GET", "/binary")
    assert status == 200
    assert raw == bytes(range(256))
    assert header_values(headers, "content-type") == ["application/octet-stream"]


def test_url_plain_results(echo_url):
    status, headers, raw = request(echo_url, "GET", "/plain")
    assert status == 200
    assert json.loads(raw) == {"plain": True, "items": [1, 2]}
    assert header_values(headers, "content-type") == ["application/json"]
    status, _, raw = request(echo_url, "GET", "/string")
    assert status == 200
    assert raw == b"just text"


def test_url_invalid_result_502(echo_url):
    status, _, raw = request(echo_url, "GET", "/invalid")
    assert status == 502
    assert raw == b"Internal Server Error"


def test_url_function_error_502(echo_url):
    status, _, raw = request(echo_url, "GET", "/error")
    assert status == 502
    assert raw == b"Internal Server Error"


def test_url_timeout_504(lambda_client, function_name):
    echo_function(lambda_client, function_name, Timeout=1)
    url = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE")["FunctionUrl"]
    status, _, raw = request(url, "GET", "/sleep")
    assert status == 504
    assert raw == b"Gateway Timeout"


def test_url_unknown_id_404(server):
    status, _, raw = request(f"{server.url}/lambda-url/{'0' * 32}/", "GET", "/")
    assert status == 404
    assert json.loads(raw) == {"Message": "Not Found"}


def test_url_cors_preflight(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["x-token"], "ExposeHeaders": ["x-custom"], "MaxAge": 300, "AllowCredentials": True}
    url = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE", Cors=cors)["FunctionUrl"]

    status, headers, _ = request(url, "OPTIONS", "/", headers=[
        ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")])
    assert status == 200
    assert header_values(headers, "access-control-allow-origin") == ["https://app.example"]
    assert header_values(headers, "access-control-allow-methods") == ["GET,POST"]
    assert header_values(headers, "access-control-allow-headers") == ["x-token"]
    assert header_values(headers, "access-control-max-age") == ["300"]
    assert header_values(headers, "access-control-allow-credentials") == ["true"]

    status, headers, _ = request(url, "OPTIONS", "/", headers=[
        ("Origin", "https://other.example"), ("Access-Control-Request-Method", "POST")])
    assert status == 200
    assert header_values(headers, "access-control-allow-origin") == []

    status, headers, _ = request(url, "GET", "/structured", headers=[("Origin", "https://app.example")])
    assert status == 201
    assert header_values(headers, "access-control-allow-origin") == ["https://app.example"]
    assert header_values(headers, "access-control-expose-headers") == ["x-custom"]


def test_url_aws_iam_needs_signature(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    url = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="AWS_IAM")["FunctionUrl"]
    status, _, raw = request(url, "GET", "/")
    assert status == 403
    assert json.loads(raw) == {"Message": "Forbidden"}
    signed = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
              "SignedHeaders=host, Signature=00")
    status, _, raw = request(url, "GET", "/", headers=[("Authorization", signed)])
    assert status == 200, raw


def test_url_deleted_with_function(lambda_client, function_name):
    echo_function(lambda_client, function_name)
    url = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE")["FunctionUrl"]
    lambda_client.delete_function(FunctionName=function_name)
    status, _, _ = request(url, "GET", "/")
    assert status == 404
    echo_function(lambda_client, function_name)
    assert lambda_client.list_function_url_configs(FunctionName=function_name)["FunctionUrlConfigs"] == []


def test_url_on_alias_runs_alias_version(lambda_client, function_name):
    """A URL on an alias invokes the version the alias points to, and goes with the alias."""
    echo_function(lambda_client, function_name)
    version = lambda_client.publish_version(FunctionName=function_name)["Version"]
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion=version)
    url = lambda_client.create_function_url_config(
        FunctionName=function_name, Qualifier="live", AuthType="NONE"
    )["FunctionUrl"]
    lambda_client.update_function_configuration(FunctionName=function_name, Timeout=7)
    status, headers, raw = request(url, "GET", "/through-alias")
    assert status == 200, raw
    assert json.loads(raw)["rawPath"] == "/through-alias"
    listed = lambda_client.list_function_url_configs(FunctionName=function_name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[-1] for c in listed] == ["live"]
    lambda_client.delete_alias(FunctionName=function_name, Name="live")
    assert lambda_client.list_function_url_configs(FunctionName=function_name)["FunctionUrlConfigs"] == []
    status, _, _ = request(url, "GET", "/")
    assert status == 404


def test_url_survives_restart(start_server, function_name):
    server = start_server()
    client = server.client()
    echo_function(client, function_name)
    created = client.create_function_url_config(FunctionName=function_name, AuthType="NONE")
    server.restart()
    fetched = server.client().get_function_url_config(FunctionName=function_name)
    assert fetched["FunctionUrl"] == created["FunctionUrl"]
    assert fetched["CreationTime"] == created["CreationTime"]
    status, _, raw = request(created["FunctionUrl"], "GET", "/after-restart")
    assert status == 200, raw
    assert json.loads(raw)["rawPath"] == "/after-restart"


def test_url_config_with_cli(server, function_name, lambda_client):
    echo_function(lambda_client, function_name)
    code, created, stderr = server.aws("lambda", "create-function-url-config", "--function-name", function_name,
                                       "--auth-type", "NONE")
    assert code == 0, stderr
    code, listed, stderr = server.aws("lambda", "list-function-url-configs", "--function-name", function_name)
    assert code == 0, stderr
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]


STATUS_CODE = """
def handler(event, context):
    return {"statusCode": int(event["queryStringParameters"]["s"]), "body": "hello"}
"""


def test_url_informational_and_bodiless_statuses(lambda_client, function_name):
    create_function(lambda_client, function_name, {"app.py": STATUS_CODE})
    url = lambda_client.create_function_url_config(FunctionName=function_name, AuthType="NONE")["FunctionUrl"]
    # A 1xx status is no final response: it maps to 502 like any result that cannot be mapped.
    for code in (100, 101, 103):
        status, _, raw = request(url, "GET", f"/?s={code}")
        assert (status, raw) == (502, b"Internal Server Error")
    # 204 and 304 responses carry no body and announce none.
    for code in (204, 304):
        status, headers, raw = request(url, "GET", f"/?s={code}")
        assert (status, raw) == (code, b"")
        assert header_values(headers, "content-length") in ([], ["0"])
    status, _, raw = request(url, "GET", "/?s=200")
    assert (status, raw) == (200, b"hello")


def test_url_malformed_chunked_body_is_a_bad_request(echo_url):
    hostname, port, prefix = url_parts(echo_url)
    with socket.create_connection((hostname, port), timeout=60) as connection:
        connection.sendall(
            f"POST {prefix}/upload HTTP/1.1\r\nHost: {hostname}:{port}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n5\r\nhello\r\nnot-a-size\r\n".encode()
        )
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 400 ")
    assert response.endswith(b'{"Message":"Bad Request"}')
