"""HTTP routes from a routes file (`--routes`): matching precedence, the payload format 2.0
and 1.0 events the functions receive, and the responses mapped from their results."""

import base64
import json

import pytest

from conftest import Server, create_function
from http_echo import ECHO_CODE
from test_function_urls import header_values, request


@pytest.fixture
def routed(tmp_path, function_name):
    """A server with routes to three echo functions, and a client for it."""
    names = {kind: f"{function_name[:40]}-{kind}" for kind in ("v2", "v1", "proxy")}
    routes = tmp_path / "routes.toml"
    routes.write_text(f"""
[[route]]
method = "GET"
path = "/items/{{id}}"
function = "{names['v2']}"

[[route]]
method = "GET"
path = "/items/special"
function = "arn:aws:lambda:us-east-1:000000000000:function:{names['v1']}"
payload_format = "1.0"

[[route]]
method = "POST"
path = "/legacy/{{id}}/{{action}}"
function = "{names['v1']}"
payload_format = "1.0"

[[route]]
method = "ANY"
path = "/files/{{proxy+}}"
function = "{names['proxy']}"
payload_format = "2.0"
""")
    server = Server(tmp_path / "data", ["--routes", str(routes)]).start()
    client = server.client()
    for name in names.values():
        create_function(client, name, {"app.py": ECHO_CODE}, Timeout=1)
    yield server, names
    server.stop()


def route_request(server, method, path, **kwargs):
    return request(f"{server.url}/routes/", method, path, **kwargs)


def test_route_v2_event(routed):
    server, names = routed
    status, _, raw = route_request(server, "GET", "/items/42?tag=a&tag=b",
                                   headers=[("X-Repeat", "1"), ("X-Repeat", "2"), ("Cookie", "c=1")])
    assert status == 200, raw
    event = json.loads(raw)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["requestContext"]["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "a,b"}
    assert event["headers"]["x-repeat"] == "1,2"
    assert event["cookies"] == ["c=1"]
    assert event["requestContext"]["http"]["method"] == "GET"


def test_route_exact_before_parameter(routed):
    server, _ = routed
    status, _, raw = route_request(server, "GET", "/items/special")
    assert status == 200, raw
    event = json.loads(raw)
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None


def test_route_v1_event(routed):
    server, _ = routed
    body = bytes([0, 200, 255])
    status, _, raw = route_request(
        server, "POST", "/legacy/7/run?q=1&q=2&single=x", body=body,
        headers=[("Content-Type", "application/octet-stream"), ("X-Repeat", "1"), ("X-Repeat", "2"),
                 ("User-Agent", "routes-test")])
    assert status == 200, raw
    event = json.loads(raw)
    assert event["resource"] == "/legacy/{id}/{action}"
    assert event["path"] == "/legacy/7/run"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "7", "action": "run"}
    assert event["multiValueHeaders"]["x-repeat"] == ["1", "2"]
    assert event["headers"]["x-repeat"] == "2"
    assert event["queryStringParameters"] == {"q": "2", "single": "x"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "single": ["x"]}
    assert event["stageVariables"] is None
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["identity"]["userAgent"] == "routes-test"
    assert event["requestContext"]["resourcePath"] == "/legacy/{id}/{action}"
    assert event["requestContext"]["httpMethod"] == "POST"


def test_route_greedy_non_ascii(routed):
    server, _ = routed
    status, _, raw = route_request(server, "DELETE", "/files/d%C3%A9j%C3%A0/vu.txt")
    assert status == 200, raw
    event = json.loads(raw)
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["rawPath"] == "/files/d%C3%A9j%C3%A0/vu.txt"
    assert event["pathParameters"] == {"proxy": "déjà/vu.txt"}
    assert event["requestContext"]["http"]["path"] == "/files/déjà/vu.txt"


def test_route_not_found(routed):
    server, _ = routed
    for method, path in [("GET", "/nothing"), ("POST", "/items/1"), ("GET", "/files")]:
        status, _, raw = route_request(server, method, path)
        assert status == 404, (method, path)
        assert json.loads(raw) == {"message": "Not Found"}


def test_route_to_missing_function_logs_warning(tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text('[[route]]\nmethod = "GET"\npath = "/gone"\nfunction = "never-created"\n')
    server = Server(tmp_path / "data", ["--routes", str(routes)]).start()
    try:
        status, _, raw = route_request(server, "GET", "/gone")
    finally:
        server.stop()
    log = server.log()

    assert status == 404
    assert json.loads(raw) == {"Message": "Not Found"}
    assert "the function of an HTTP route does not exist" in log
    assert "function=never-created" in log


def test_route_structured_and_binary(routed):
    server, _ = routed
    status, headers, raw = route_request(server, "GET", "/files/structured")
    assert status == 201
    assert raw == b"created"
    assert header_values(headers, "set-cookie") == ["a=1; Path=/", "b=2"]
    status, _, raw = route_request(server, "GET", "/files/binary")
    assert status == 200
    assert raw == bytes(range(256))


def test_route_v1_needs_status_code(routed):
    server, _ = routed
    status, _, raw = route_request(server, "POST", "/legacy/1/plain")
    assert status == 502
    assert raw == b"Internal Server Error"


def test_route_errors_and_timeouts(routed):
    server, _ = routed
    status, _, raw = route_request(server, "GET", "/files/error")
    assert status == 502
    assert raw == b"Internal Server Error"
    status, _, raw = route_request(server, "GET", "/files/sleep")
    assert status == 504
    assert raw == b"Gateway Timeout"


def test_route_lambda_api_unaffected(routed):
    server, names = routed
    functions = server.client().list_functions()["Functions"]
    assert sorted(f["FunctionName"] for f in functions) == sorted(names.values())


@pytest.mark.parametrize("route", [
    'method = "GET"\npath = "/{a+}/b"\nfunction = "f"',
    'method = "FETCH"\npath = "/a"\nfunction = "f"',
    'method = "GET"\npath = "/a"\nfunction = "f"\npayload_format = "3.0"',
    'method = "GET"\npath = "/a"\nfunction = "not a name!"',
    'method = "GET"\npath = "/a"\nfunction = ""',
])
def test_route_file_invalid(tmp_path, route):
    routes = tmp_path / "routes.toml"
    routes.write_text("[[route]]\n" + route + "\n")
    server = Server(tmp_path / "data", ["--routes", str(routes)])
    with pytest.raises(RuntimeError) as failure:
        server.start()
    assert "routes.toml" in str(failure.value)
