"""Deployment packages that try to reach outside their directory or past the size limits."""

import io
import os
import stat
import struct
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, Server, create_function, invoke_json

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
APP = "def handler(event, context):\n    return 'ok'\n"


def zip_with(entries):
    """Builds a zip from (name, content, unix mode) triples, keeping the modes as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def create_error(client, name, zip_bytes):
    with pytest.raises(ClientError) as failure:
        client.create_function(
            FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE, Code={"ZipFile": zip_bytes}
        )
    return failure.value.response


def test_symlink_bootstrap_leaves_target_mode(server, lambda_client, function_name, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("secret")
    victim.chmod(0o600)
    package = zip_with([("app.py", APP, 0o100644), ("bootstrap", str(victim), 0o120777)])

    create_function(lambda_client, function_name, package)

    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o600


def test_setuid_bits_are_not_kept_on_host(server, lambda_client, function_name):
    package = zip_with([("app.py", APP, 0o100644), ("tool", b"\x7fELF", 0o104777)])

    create_function(lambda_client, function_name, package)

    tasks = server.data_dir / "tasks"
    modes = [stat.S_IMODE(os.stat(path).st_mode) for path in tasks.glob("*/tool")]
    assert modes == [0o755]


@pytest.mark.parametrize("entry", ["../escape.py", "/tmp/flicker-absolute-entry.py"])
def test_entry_outside_package_is_rejected(lambda_client, function_name, entry):
    package = zip_with([("app.py", APP, 0o100644), (entry, "x = 1\n", 0o100644)])

    response = create_error(lambda_client, function_name, package)

    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == UNZIP_FAILED


def test_entry_through_symlink_is_rejected(lambda_client, function_name, tmp_path):
    package = zip_with(
        [("app.py", APP, 0o100644), ("link", str(tmp_path), 0o120777), ("link/planted.py", "x = 1\n", 0o100644)]
    )

    response = create_error(lambda_client, function_name, package)

    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert not (tmp_path / "planted.py").exists()


def test_zip_bomb_with_false_sizes_is_rejected(server, lambda_client, function_name):
    # 300 MiB of zeros whose declared sizes are rewritten to 10 bytes, so that only the
    # bytes actually unpacked can reveal the size.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        app = zipfile.ZipInfo("app.py")
        app.external_attr = 0o100644 << 16
        archive.writestr(app, APP)
        big = zipfile.ZipInfo("big")
        big.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(big, "w") as entry:
            chunk = bytes(1024 * 1024)
            for _ in range(300):
                entry.write(chunk)
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    local = data.rfind(b"PK\x03\x04", 0, central)
    struct.pack_into("<I", data, local + 22, 10)

    response = create_error(lambda_client, function_name, bytes(data))

    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == "Unzipped size must be smaller than 262144000 bytes"
    leftovers = [path.name for path in (server.data_dir / "tasks").iterdir() if path.name.startswith(".")]
    assert leftovers == []


def test_environment_value_with_nul_is_rejected(lambda_client, function_name):
    with pytest.raises(ClientError) as failure:
        create_function(lambda_client, function_name, {"app.py": APP}, Environment={"Variables": {"BAD": "x\x00y"}})

    assert failure.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "BAD" in failure.value.response["Error"]["Message"]


def test_function_may_set_its_own_path(lambda_client, function_name):
    code = {"app.py": "import os\n\ndef handler(event, context):\n    return os.environ['PATH']\n"}
    create_function(lambda_client, function_name, code, Environment={"Variables": {"PATH": "/usr/bin:/custom"}})

    _, payload = invoke_json(lambda_client, function_name, {})

    assert payload == "/usr/bin:/custom"


def test_second_server_on_same_data_dir_fails(server):
    second = Server(server.data_dir)
    try:
        second.start()
    except RuntimeError:
        pass  # it may exit before it is seen listening

    status = second.process.wait(timeout=20)

    assert status != 0
    assert "in use by another Flicker server" in second.log()
