"""Shared fixtures: a real Flicker server on loopback, boto3 and AWS CLI clients pointed at
it, and helpers that build deployment packages."""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
FLICKER_BIN = Path(os.environ.get("FLICKER_BIN", REPO / "target" / "release" / "flicker"))
ROLE = "arn:aws:iam::000000000000:role/any"
REGION = "us-east-1"
ACCOUNT = "000000000000"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A `flicker serve` process with its own data directory."""

    def __init__(self, data_dir, extra_args=(), extra_env=None):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        # Set after the FLICKER_* variables of the test run are removed.
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        args = [str(FLICKER_BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLICKER_")}
        env.update(self.extra_env)
        self.process = subprocess.Popen(args + self.extra_args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flicker exited with {self.process.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"flicker did not listen within 20 s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        return self.process.returncode if self.process else None

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def function_log(self, name):
        path = self.data_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, service="lambda", read_timeout=60):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=read_timeout, connect_timeout=5),
        )

    def aws(self, *args, check=False):
        """Runs the AWS CLI against this server; returns (exit code, parsed JSON or text, stderr)."""
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION,
                   AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
        aws_bin = Path(sys.executable).parent / "aws"
        command = [str(aws_bin) if aws_bin.exists() else "aws", "--endpoint-url", self.url, "--output", "json", *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
        try:
            output = json.loads(result.stdout) if result.stdout.strip() else None
        except json.JSONDecodeError:
            output = result.stdout
        return result.returncode, output, result.stderr


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    instance = Server(tmp_path_factory.mktemp("flicker") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture
def start_server(tmp_path):
    """Starts extra servers with their own settings; all are stopped after the test."""
    started = []

    def start(*extra_args):
        instance = Server(tmp_path / f"data-{len(started)}", extra_args).start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture(scope="session")
def lambda_client(server):
    return server.client()


@pytest.fixture
def function_name(request):
    """A function name unique to the test."""
    base = re.sub(r"[^a-zA-Z0-9-_]", "-", request.node.name)[:40]
    return f"{base}-{uuid.uuid4().hex[:8]}"


def make_zip(files):
    """Builds a zip in memory. `files` maps a path to its text or bytes, or to a
    (content, unix mode) pair."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def create_function(client, name, code, runtime="python3.11", handler="app.handler", **kwargs):
    """Creates a function from a dict of files or zip bytes and returns the response."""
    zip_bytes = code if isinstance(code, bytes) else make_zip(code)
    return client.create_function(
        FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE, Code={"ZipFile": zip_bytes}, **kwargs
    )


def invoke_json(client, name, payload=None, **kwargs):
    """Invokes synchronously and returns (response, decoded payload)."""
    body = json.dumps(payload if payload is not None else {}).encode()
    response = client.invoke(FunctionName=name, Payload=body, **kwargs)
    raw = response["Payload"].read()
    return response, (json.loads(raw) if raw else None)
