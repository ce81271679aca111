"""Lambda layers: the layer API through boto3 and the AWS CLI, functions that reference layers,
and the merged /opt directory that Python, Node.js and custom runtimes see in both sandboxes."""

import base64
import hashlib
import io
import shutil
import subprocess
import urllib.request
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, create_function, invoke_json, make_zip

LIMIT_UNZIPPED = 262144000

IMPORTER = """
import importlib


def handler(event, context):
    module = importlib.import_module(event.get("module", "shared"))
    return {"value": module.VALUE, "file": module.__file__}
"""

NODE_REQUIRER = """
exports.handler = async (event) => {
  const greeting = require('greeting');
  return { greeting: greeting.greet(event.name), resolved: require.resolve('greeting') };
};
"""


def layer_name():
    return f"layer-{uuid.uuid4().hex[:10]}"


def python_module_zip(module, value):
    return make_zip({f"python/{module}.py": f"VALUE = {value!r}\n"})


def publish(client, name, zip_bytes, **kwargs):
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes}, **kwargs)


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response


def zeros_zip(path, size):
    """A zip with one file of `size` zero bytes, which deflates to about a thousandth of it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(path)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as entry:
            chunk = bytes(1024 * 1024)
            for _ in range(size // len(chunk)):
                entry.write(chunk)
            entry.write(bytes(size % len(chunk)))
    return buffer.getvalue()


# Publishing and reading layer versions


def test_publish_returns_all_members(lambda_client):
    name = layer_name()
    zip_bytes = python_module_zip("shared", "one")

    published = publish(
        lambda_client,
        name,
        zip_bytes,
        Description="shared code",
        LicenseInfo="MIT",
        CompatibleRuntimes=["python3.12", "python3.11"],
        CompatibleArchitectures=["x86_64"],
    )

    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["LayerArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    assert published["LayerVersionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:1"
    assert published["Version"] == 1
    assert published["Description"] == "shared code"
    assert published["LicenseInfo"] == "MIT"
    assert published["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert published["CompatibleArchitectures"] == ["x86_64"]
    assert published["Content"]["CodeSize"] == len(zip_bytes)
    assert published["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert published["CreatedDate"].endswith("+0000")


def test_publish_without_optional_members(lambda_client):
    published = publish(lambda_client, layer_name(), python_module_zip("shared", 1))

    assert published["Description"] == ""
    assert "CompatibleRuntimes" not in published
    assert "CompatibleArchitectures" not in published
    assert "LicenseInfo" not in published


def test_publish_with_empty_lists_returns_them(lambda_client):
    published = publish(
        lambda_client, layer_name(), python_module_zip("shared", 1), CompatibleRuntimes=[], CompatibleArchitectures=[]
    )

    assert published["CompatibleRuntimes"] == []
    assert published["CompatibleArchitectures"] == []


def test_get_layer_version_and_by_arn(lambda_client):
    name = layer_name()
    published = publish(lambda_client, name, python_module_zip("shared", 1), Description="d")
    expected = {k: v for k, v in published.items() if k != "ResponseMetadata"}

    by_name = lambda_client.get_layer_version(LayerName=name, VersionNumber=1)
    by_layer_arn = lambda_client.get_layer_version(LayerName=published["LayerArn"], VersionNumber=1)
    by_arn = lambda_client.get_layer_version_by_arn(Arn=published["LayerVersionArn"])

    for response in (by_name, by_layer_arn, by_arn):
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert {k: v for k, v in response.items() if k != "ResponseMetadata"} == expected


def test_content_location_serves_archive(lambda_client):
    zip_bytes = python_module_zip("shared", "download")
    published = publish(lambda_client, layer_name(), zip_bytes)

    location = published["Content"]["Location"]
    assert location.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(location, timeout=30) as response:
        assert response.read() == zip_bytes


def test_versions_count_up_and_are_never_reused(lambda_client):
    name = layer_name()
    for expected in (1, 2):
        assert publish(lambda_client, name, python_module_zip("shared", expected))["Version"] == expected

    lambda_client.delete_layer_version(LayerName=name, VersionNumber=2)
    third = publish(lambda_client, name, python_module_zip("shared", 3))

    assert third["Version"] == 3
    assert third["LayerVersionArn"].endswith(f":layer:{name}:3")


def test_list_layer_versions_newest_first(lambda_client):
    name = layer_name()
    for value in range(3):
        publish(lambda_client, name, python_module_zip("shared", value), CompatibleRuntimes=["python3.12"])

    listed = lambda_client.list_layer_versions(LayerName=name)["LayerVersions"]

    assert [item["Version"] for item in listed] == [3, 2, 1]
    assert listed[0]["LayerVersionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:3"
    assert listed[0]["CompatibleRuntimes"] == ["python3.12"]
    assert "Content" not in listed[0]


def test_list_layer_versions_pages_and_filters(lambda_client):
    name = layer_name()
    publish(lambda_client, name, python_module_zip("shared", 1), CompatibleRuntimes=["python3.12"])
    publish(lambda_client, name, python_module_zip("shared", 2), CompatibleRuntimes=["nodejs20.x"])
    publish(lambda_client, name, python_module_zip("shared", 3), CompatibleRuntimes=["python3.12"])

    first = lambda_client.list_layer_versions(LayerName=name, MaxItems=2)
    second = lambda_client.list_layer_versions(LayerName=name, MaxItems=2, Marker=first["NextMarker"])
    python_only = lambda_client.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")

    assert [item["Version"] for item in first["LayerVersions"]] == [3, 2]
    assert [item["Version"] for item in second["LayerVersions"]] == [1]
    assert "NextMarker" not in second
    assert [item["Version"] for item in python_only["LayerVersions"]] == [3, 1]


def test_list_versions_of_missing_layer_is_empty(lambda_client):
    response = lambda_client.list_layer_versions(LayerName=layer_name())

    assert response["LayerVersions"] == []


def test_delete_layer_version_and_missing_ones(lambda_client):
    name = layer_name()
    publish(lambda_client, name, python_module_zip("shared", 1))

    deleted = lambda_client.delete_layer_version(LayerName=name, VersionNumber=1)
    again = lambda_client.delete_layer_version(LayerName=name, VersionNumber=1)
    missing_layer = lambda_client.delete_layer_version(LayerName=layer_name(), VersionNumber=7)

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert missing_layer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lambda_client.list_layer_versions(LayerName=name)["LayerVersions"] == []
    error = error_of(lambda_client.get_layer_version, LayerName=name, VersionNumber=1)
    assert error["Error"]["Code"] == "ResourceNotFoundException"


# Errors of the layer API


def test_get_missing_layer_version(lambda_client):
    name = layer_name()
    publish(lambda_client, name, python_module_zip("shared", 1))

    missing_layer = error_of(lambda_client.get_layer_version, LayerName=layer_name(), VersionNumber=1)
    missing_version = error_of(lambda_client.get_layer_version, LayerName=name, VersionNumber=2)

    for error in (missing_layer, missing_version):
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["Error"]["Code"] == "ResourceNotFoundException"
        assert error["Error"]["Message"] == "The resource you requested does not exist."


@pytest.mark.parametrize("version", [0, -1])
def test_version_below_one_is_rejected(lambda_client, version):
    get_error = error_of(lambda_client.get_layer_version, LayerName=layer_name(), VersionNumber=version)
    delete_error = error_of(lambda_client.delete_layer_version, LayerName=layer_name(), VersionNumber=version)

    for error in (get_error, delete_error):
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Code"] == "InvalidParameterValueException"
        assert error["Error"]["Message"] == "Layer Version Cannot be less than 1"


def test_get_by_arn_without_version_fails_pattern(lambda_client):
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer_name()}"

    error = error_of(lambda_client.get_layer_version_by_arn, Arn=arn)

    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"].startswith(
        f"1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:"
    )


def test_get_by_arn_of_missing_version(lambda_client):
    error = error_of(
        lambda_client.get_layer_version_by_arn, Arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer_name()}:4"
    )

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"


def test_publish_rejects_invalid_runtime_and_architecture(lambda_client):
    error = error_of(
        publish,
        lambda_client,
        layer_name(),
        python_module_zip("shared", 1),
        CompatibleRuntimes=["invalidruntime", "nodejs20.x"],
        CompatibleArchitectures=["invalidarch", "x86_64"],
    )

    message = error["Error"]["Message"]
    assert error["Error"]["Code"] == "ValidationException"
    assert message.startswith(
        "2 validation errors detected: Value '[invalidruntime, nodejs20.x]' at 'compatibleRuntimes' failed "
        "to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023,"
    )
    assert message.endswith(
        "; Value '[invalidarch, x86_64]' at 'compatibleArchitectures' failed to satisfy constraint: Member "
        "must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"
    )


def test_publish_accepts_deprecated_runtimes(lambda_client):
    published = publish(
        lambda_client, layer_name(), python_module_zip("shared", 1), CompatibleRuntimes=["python3.7", "go1.x"]
    )

    assert published["CompatibleRuntimes"] == ["python3.7", "go1.x"]


def test_publish_rejects_s3_content(lambda_client):
    error = error_of(
        lambda_client.publish_layer_version, LayerName=layer_name(), Content={"S3Bucket": "bucket", "S3Key": "layer.zip"}
    )

    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert "S3 is not supported by this server" in error["Error"]["Message"]


def test_publish_rejects_broken_zip(lambda_client):
    error = error_of(publish, lambda_client, layer_name(), b"not a zip archive")

    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == (
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


def test_publish_rejects_invalid_layer_name(lambda_client):
    error = error_of(publish, lambda_client, "bad.name", python_module_zip("shared", 1))

    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"].startswith(
        "1 validation error detected: Value 'bad.name' at 'layerName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    )


def test_list_layers_rejects_unknown_filters(lambda_client):
    runtime_error = error_of(lambda_client.list_layers, CompatibleRuntime="runtimedoesnotexist")
    arch_error = error_of(lambda_client.list_layers, CompatibleArchitecture="archdoesnotexist")

    assert runtime_error["Error"]["Code"] == "ValidationException"
    assert runtime_error["Error"]["Message"].startswith(
        "1 validation error detected: Value 'runtimedoesnotexist' at 'compatibleRuntime' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )
    assert arch_error["Error"]["Message"] == (
        "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy "
        "constraint: Member must satisfy enum value set: [x86_64, arm64]"
    )


def test_list_layers_rejects_max_items_above_fifty(lambda_client):
    error = error_of(lambda_client.list_layers, MaxItems=51)

    assert error["Error"]["Code"] == "ValidationException"
    assert "Member must have value less than or equal to 50" in error["Error"]["Message"]


# ListLayers on a server of its own, so that the expected list is complete


def test_list_layers_latest_matching_version(start_server):
    client = start_server().client()
    publish(client, "alpha", python_module_zip("shared", 1), CompatibleRuntimes=["python3.12"])
    publish(client, "alpha", python_module_zip("shared", 2), CompatibleRuntimes=["nodejs20.x"])
    publish(client, "beta", python_module_zip("shared", 3), CompatibleArchitectures=["arm64"])
    publish(client, "gamma", python_module_zip("shared", 4))
    client.delete_layer_version(LayerName="gamma", VersionNumber=1)

    everything = client.list_layers()["Layers"]
    python = client.list_layers(CompatibleRuntime="python3.12")["Layers"]
    arm = client.list_layers(CompatibleArchitecture="arm64")["Layers"]

    assert [(item["LayerName"], item["LatestMatchingVersion"]["Version"]) for item in everything] == [
        ("alpha", 2),
        ("beta", 1),
    ]
    assert everything[0]["LayerArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:alpha"
    assert everything[0]["LatestMatchingVersion"]["LayerVersionArn"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:alpha:2"
    )
    assert [(item["LayerName"], item["LatestMatchingVersion"]["Version"]) for item in python] == [("alpha", 1)]
    assert [item["LayerName"] for item in arm] == ["beta"]


def test_list_layers_pages(start_server):
    client = start_server().client()
    for name in ("a", "b", "c"):
        publish(client, name, python_module_zip("shared", name))

    first = client.list_layers(MaxItems=2)
    second = client.list_layers(MaxItems=2, Marker=first["NextMarker"])

    assert [item["LayerName"] for item in first["Layers"]] == ["a", "b"]
    assert [item["LayerName"] for item in second["Layers"]] == ["c"]
    assert "NextMarker" not in second


# The AWS CLI


def test_cli_publish_and_list(server, tmp_path):
    name = layer_name()
    archive = tmp_path / "layer.zip"
    archive.write_bytes(python_module_zip("shared", "cli"))

    code, published, stderr = server.aws(
        "lambda", "publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{archive}",
        "--compatible-runtimes", "python3.12", "--description", "from the CLI",
    )
    assert code == 0, stderr
    code, listed, stderr = server.aws("lambda", "list-layer-versions", "--layer-name", name)
    assert code == 0, stderr

    assert published["LayerVersionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:1"
    assert published["Description"] == "from the CLI"
    assert published["Content"]["CodeSize"] == archive.stat().st_size
    assert [item["Version"] for item in listed["LayerVersions"]] == [1]


# Functions that reference layers


def test_python_function_imports_from_layer(lambda_client, function_name):
    layer = publish(lambda_client, layer_name(), python_module_zip("shared", "from layer"))

    created = create_function(
        lambda_client, function_name, {"app.py": IMPORTER}, runtime="python3.11", Layers=[layer["LayerVersionArn"]]
    )
    response, payload = invoke_json(lambda_client, function_name, {})

    assert created["Layers"] == [{"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}]
    assert "FunctionError" not in response, payload
    assert payload == {"value": "from layer", "file": "/opt/python/shared.py"}


def test_python_site_packages_directory(lambda_client, function_name):
    zip_bytes = make_zip({"python/lib/python3.11/site-packages/sitemod.py": "VALUE = 'site'\n"})
    layer = publish(lambda_client, layer_name(), zip_bytes)

    create_function(
        lambda_client, function_name, {"app.py": IMPORTER}, runtime="python3.11", Layers=[layer["LayerVersionArn"]]
    )
    response, payload = invoke_json(lambda_client, function_name, {"module": "sitemod"})

    assert "FunctionError" not in response, payload
    assert payload["value"] == "site"


def test_python_site_packages_of_declared_runtime(lambda_client, function_name):
    # A layer built for the function's runtime is found even when the host's Python differs.
    host = subprocess.run(
        ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    declared = "3.13" if host != "3.13" else "3.12"
    zip_bytes = make_zip({f"python/lib/python{declared}/site-packages/declaredmod.py": "VALUE = 'declared'\n"})
    layer = publish(lambda_client, layer_name(), zip_bytes)

    create_function(
        lambda_client,
        function_name,
        {"app.py": IMPORTER},
        runtime=f"python{declared}",
        Layers=[layer["LayerVersionArn"]],
    )
    response, payload = invoke_json(lambda_client, function_name, {"module": "declaredmod"})

    assert "FunctionError" not in response, payload
    assert payload["value"] == "declared"


def test_node_function_requires_from_layer(lambda_client, function_name):
    zip_bytes = make_zip(
        {"nodejs/node_modules/greeting/index.js": "exports.greet = (name) => `hello ${name} from a layer`;\n"}
    )
    layer = publish(lambda_client, layer_name(), zip_bytes, CompatibleRuntimes=["nodejs20.x"])

    create_function(
        lambda_client, function_name, {"index.js": NODE_REQUIRER}, runtime="nodejs20.x", handler="index.handler",
        Layers=[layer["LayerVersionArn"]],
    )
    response, payload = invoke_json(lambda_client, function_name, {"name": "node"})

    assert "FunctionError" not in response, payload
    assert payload == {
        "greeting": "hello node from a layer",
        "resolved": "/opt/nodejs/node_modules/greeting/index.js",
    }


def test_later_layer_overrides_earlier(lambda_client, function_name):
    first = publish(lambda_client, layer_name(), make_zip({"python/shared.py": "VALUE = 'first'\n",
                                                             "python/only_first.py": "VALUE = 'kept'\n"}))
    second = publish(lambda_client, layer_name(), python_module_zip("shared", "second"))
    arns = [first["LayerVersionArn"], second["LayerVersionArn"]]

    create_function(lambda_client, function_name, {"app.py": IMPORTER}, Layers=arns)
    _, overridden = invoke_json(lambda_client, function_name, {})
    _, kept = invoke_json(lambda_client, function_name, {"module": "only_first"})
    updated = lambda_client.update_function_configuration(FunctionName=function_name, Layers=list(reversed(arns)))
    _, reversed_order = invoke_json(lambda_client, function_name, {})

    assert overridden["value"] == "second"
    assert kept["value"] == "kept"
    assert [layer["Arn"] for layer in updated["Layers"]] == list(reversed(arns))
    assert reversed_order["value"] == "first"


def test_function_code_shadows_layer(lambda_client, function_name):
    layer = publish(lambda_client, layer_name(), python_module_zip("shared", "layer"))

    create_function(
        lambda_client, function_name, {"app.py": IMPORTER, "shared.py": "VALUE = 'code'\n"},
        Layers=[layer["LayerVersionArn"]],
    )
    _, payload = invoke_json(lambda_client, function_name, {})

    assert payload["value"] == "code"


def test_configuration_shows_layers_and_empty_list_removes_them(lambda_client, function_name):
    layer = publish(lambda_client, layer_name(), python_module_zip("shared", 1))
    create_function(lambda_client, function_name, {"app.py": IMPORTER}, Layers=[layer["LayerVersionArn"]])

    configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    described = lambda_client.get_function(FunctionName=function_name)["Configuration"]
    removed = lambda_client.update_function_configuration(FunctionName=function_name, Layers=[])
    response, payload = invoke_json(lambda_client, function_name, {})

    expected = [{"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}]
    assert configuration["Layers"] == expected
    assert described["Layers"] == expected
    assert "Layers" not in removed
    assert response.get("FunctionError") == "Unhandled"
    assert payload["errorType"] == "ModuleNotFoundError"


def test_other_updates_keep_layers(lambda_client, function_name):
    layer = publish(lambda_client, layer_name(), python_module_zip("shared", "still here"))
    create_function(lambda_client, function_name, {"app.py": IMPORTER}, Layers=[layer["LayerVersionArn"]])

    updated = lambda_client.update_function_configuration(FunctionName=function_name, Description="changed")
    _, payload = invoke_json(lambda_client, function_name, {})

    assert updated["Layers"][0]["Arn"] == layer["LayerVersionArn"]
    assert payload["value"] == "still here"


def test_five_layers_allowed_six_rejected(lambda_client, function_name):
    arns = [publish(lambda_client, layer_name(), python_module_zip(f"m{i}", i))["LayerVersionArn"] for i in range(6)]

    error = error_of(create_function, lambda_client, function_name, {"app.py": IMPORTER}, Layers=arns)
    created = create_function(lambda_client, function_name, {"app.py": IMPORTER}, Layers=arns[:5])
    _, payload = invoke_json(lambda_client, function_name, {"module": "m4"})
    update_error = error_of(lambda_client.update_function_configuration, FunctionName=function_name, Layers=arns)

    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == "Cannot reference more than 5 layers."
    assert len(created["Layers"]) == 5
    assert payload["value"] == 4
    assert update_error["Error"]["Message"] == "Cannot reference more than 5 layers."


def test_function_layer_errors(lambda_client, function_name):
    name = layer_name()
    first = publish(lambda_client, name, python_module_zip("shared", 1))["LayerVersionArn"]
    second = publish(lambda_client, name, python_module_zip("shared", 2))["LayerVersionArn"]
    missing_layer = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:doesnotexist-{uuid.uuid4().hex[:6]}:1"
    missing_version = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:9"
    unversioned = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    other_region = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{name}:1"

    def create_error(layers):
        return error_of(create_function, lambda_client, function_name, {"app.py": IMPORTER}, Layers=layers)["Error"]

    assert create_error([first, second]) == {
        "Code": "InvalidParameterValueException",
        "Message": "Two different versions of the same layer are not allowed to be referenced in the same "
        f"function. {first} and {second} are versions of the same layer.",
    }
    assert create_error([missing_layer]) == {
        "Code": "InvalidParameterValueException",
        "Message": f"Layer version {missing_layer} does not exist.",
    }
    assert create_error([missing_version])["Message"] == f"Layer version {missing_version} does not exist."
    assert create_error([other_region])["Message"] == (
        f"Layers are not in the same region as the function. Layers are expected to be in region {REGION}."
    )
    unversioned_error = create_error([unversioned])
    assert unversioned_error["Code"] == "ValidationException"
    assert unversioned_error["Message"].startswith(
        f"1 validation error detected: Value '[{unversioned}]' at 'layers' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 2048"
    )
    assert error_of(lambda_client.get_function, FunctionName=function_name)["Error"]["Code"] == (
        "ResourceNotFoundException"
    )


def test_deleted_layer_version_keeps_working(lambda_client, function_name):
    name = layer_name()
    layer = publish(lambda_client, name, python_module_zip("shared", "kept after delete"))
    create_function(lambda_client, function_name, {"app.py": IMPORTER}, Layers=[layer["LayerVersionArn"]])
    invoke_json(lambda_client, function_name, {})

    lambda_client.delete_layer_version(LayerName=name, VersionNumber=1)
    lambda_client.update_function_configuration(FunctionName=function_name, MemorySize=256)
    response, payload = invoke_json(lambda_client, function_name, {})
    configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    error = error_of(
        create_function, lambda_client, f"{function_name}-new", {"app.py": IMPORTER},
        Layers=[layer["LayerVersionArn"]],
    )

    assert "FunctionError" not in response, payload
    assert payload["value"] == "kept after delete"
    assert configuration["Layers"][0]["Arn"] == layer["LayerVersionArn"]
    assert error["Error"]["Message"] == f"Layer version {layer['LayerVersionArn']} does not exist."


def test_handler_may_come_from_layer(lambda_client, function_name):
    layer = publish(lambda_client, layer_name(), make_zip({"python/layered_app.py": IMPORTER,
                                                             "python/shared.py": "VALUE = 'layer handler'\n"}))

    create_function(
        lambda_client, function_name, {"readme.txt": "code in a layer"}, handler="layered_app.handler",
        Layers=[layer["LayerVersionArn"]],
    )
    response, payload = invoke_json(lambda_client, function_name, {})

    assert "FunctionError" not in response, payload
    assert payload["value"] == "layer handler"


def test_code_and_layers_size_limit(lambda_client, function_name):
    big = publish(lambda_client, layer_name(), zeros_zip("big/zeros", 130 * 1024 * 1024))
    other = publish(lambda_client, layer_name(), zeros_zip("other/zeros", 130 * 1024 * 1024))
    code = make_zip({"app.py": IMPORTER})
    code_size = len(IMPORTER)

    error = error_of(
        create_function, lambda_client, function_name, code,
        Layers=[big["LayerVersionArn"], other["LayerVersionArn"]],
    )
    create_function(lambda_client, function_name, code, Layers=[big["LayerVersionArn"]])
    update_error = error_of(
        lambda_client.update_function_configuration, FunctionName=function_name,
        Layers=[big["LayerVersionArn"], other["LayerVersionArn"]],
    )
    code_error = error_of(
        lambda_client.update_function_code, FunctionName=function_name,
        ZipFile=zeros_zip("more/zeros", 125 * 1024 * 1024),
    )

    total = 2 * 130 * 1024 * 1024 + code_size
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"] == (
        f"Function code combined with layers exceeds the maximum allowed size of {LIMIT_UNZIPPED} bytes. "
        f"The actual size is {total} bytes."
    )
    assert update_error["Error"]["Message"] == error["Error"]["Message"]
    assert code_error["Error"]["Message"] == (
        f"Function code combined with layers exceeds the maximum allowed size of {LIMIT_UNZIPPED} bytes. "
        f"The actual size is {125 * 1024 * 1024 + 130 * 1024 * 1024} bytes."
    )


# Custom runtimes: /opt/bin on PATH, /opt/lib on LD_LIBRARY_PATH, and a bootstrap in a layer

SHELL_BOOTSTRAP = """#!/bin/sh
set -eu
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
headers="$(mktemp)"
while true; do
    curl -sS -D "$headers" -o /dev/null "$api/invocation/next"
    request_id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\\r\\n')"
    output="$(greet)"
    curl -sS -o /dev/null -X POST --data-binary "{\\"output\\":\\"$output\\"}" \\
        "$api/invocation/$request_id/response"
done
"""


def build_greet_layer(tmp_path):
    """A layer with bin/greet, an executable linked against lib/libgreet.so."""
    (tmp_path / "greet_lib.c").write_text('const char *greeting(void) { return "greeting from /opt/lib"; }\n')
    (tmp_path / "greet.c").write_text(
        '#include <stdio.h>\nconst char *greeting(void);\nint main(void) { puts(greeting()); return 0; }\n'
    )
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "libgreet.so", tmp_path / "greet_lib.c"], check=True)
    subprocess.run(
        ["gcc", "-o", tmp_path / "greet", tmp_path / "greet.c", f"-L{tmp_path}", "-lgreet"], check=True
    )
    return make_zip({
        "bin/greet": ((tmp_path / "greet").read_bytes(), 0o755),
        "lib/libgreet.so": ((tmp_path / "libgreet.so").read_bytes(), 0o755),
    })


@pytest.mark.skipif(shutil.which("gcc") is None, reason="building the layer's library needs gcc")
def test_custom_runtime_uses_opt_bin_and_lib(lambda_client, function_name, tmp_path):
    layer = publish(lambda_client, layer_name(), build_greet_layer(tmp_path))

    create_function(
        lambda_client, function_name, {"bootstrap": (SHELL_BOOTSTRAP, 0o755)}, runtime="provided.al2023",
        handler="none", Layers=[layer["LayerVersionArn"]],
    )
    response, payload = invoke_json(lambda_client, function_name, {})

    assert "FunctionError" not in response, payload
    assert payload == {"output": "greeting from /opt/lib"}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="building the layer's library needs gcc")
def test_bootstrap_from_layer(lambda_client, function_name, tmp_path):
    greet = publish(lambda_client, layer_name(), build_greet_layer(tmp_path))
    runtime = publish(lambda_client, layer_name(), make_zip({"bootstrap": (SHELL_BOOTSTRAP, 0o755)}))

    create_function(
        lambda_client, function_name, {"readme.txt": "no bootstrap here"}, runtime="provided.al2023",
        handler="none", Layers=[greet["LayerVersionArn"], runtime["LayerVersionArn"]],
    )
    response, payload = invoke_json(lambda_client, function_name, {})

    assert "FunctionError" not in response, payload
    assert payload == {"output": "greeting from /opt/lib"}


# The process sandbox, which shows the layers at their host path


def test_process_sandbox_python_and_node_layers(start_server, function_name):
    client = start_server("--sandbox", "process").client()
    python_layer = publish(client, "py", python_module_zip("shared", "process sandbox"))
    node_layer = publish(
        client, "node", make_zip({"nodejs/node_modules/greeting/index.js": "exports.greet = (n) => `hi ${n}`;\n"})
    )

    create_function(client, function_name, {"app.py": IMPORTER}, Layers=[python_layer["LayerVersionArn"]])
    create_function(
        client, f"{function_name}-node", {"index.js": NODE_REQUIRER}, runtime="nodejs20.x", handler="index.handler",
        Layers=[node_layer["LayerVersionArn"]],
    )
    python_response, python_payload = invoke_json(client, function_name, {})
    node_response, node_payload = invoke_json(client, f"{function_name}-node", {"name": "process"})

    assert "FunctionError" not in python_response, python_payload
    assert python_payload["value"] == "process sandbox"
    assert "FunctionError" not in node_response, node_payload
    assert node_payload["greeting"] == "hi process"


# Persistence


def test_layers_survive_restart(start_server, function_name):
    server = start_server()
    client = server.client()
    first = publish(client, "kept", python_module_zip("shared", "before restart"), Description="v1")
    publish(client, "kept", python_module_zip("shared", "second"))
    client.delete_layer_version(LayerName="kept", VersionNumber=2)
    create_function(client, function_name, {"app.py": IMPORTER}, Layers=[first["LayerVersionArn"]])

    server.restart()
    client = server.client()
    stored = client.get_layer_version(LayerName="kept", VersionNumber=1)
    versions = client.list_layer_versions(LayerName="kept")["LayerVersions"]
    third = publish(client, "kept", python_module_zip("shared", "third"))
    response, payload = invoke_json(client, function_name, {})

    assert stored["Description"] == "v1"
    assert stored["Content"]["CodeSha256"] == first["Content"]["CodeSha256"]
    assert [item["Version"] for item in versions] == [1]
    assert third["Version"] == 3
    assert "FunctionError" not in response, payload
    assert payload["value"] == "before restart"
    assert client.get_function_configuration(FunctionName=function_name)["Layers"][0]["Arn"] == (
        first["LayerVersionArn"]
    )


def colliding_zip(first, second):
    """A zip whose second entry needs a directory or file where the first entry put the other."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(first, "1")
        archive.writestr(second, "2")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "first, second", [("python/x", "python/x/y.py"), ("python/x/", "python/x"), ("app.py/", "app.py")]
)
def test_colliding_entries_are_a_bad_archive(lambda_client, function_name, first, second):
    archive = colliding_zip(first, second)
    unzip_error = {
        "Code": "InvalidParameterValueException",
        "Message": "Could not unzip uploaded file. Please check your file, then try to upload again.",
    }
    error = error_of(publish, lambda_client, layer_name(), archive)
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]) == (400, unzip_error)
    error = error_of(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        Handler="app.handler",
        Code={"ZipFile": archive},
    )
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]) == (400, unzip_error)
