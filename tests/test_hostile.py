"""Hostile functions against the namespace sandbox: each attack is contained, its limit holds,
the caller gets a clear error where the invocation fails, and a healthy function on the same
server keeps working during and after the attack. Needs root (cgroup limits)."""

import concurrent.futures
import errno
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO, Server, create_function, invoke_json
from functions import package
from functions.support import let_environment_become_idle, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the namespace sandbox enforces cgroup limits only as root")

HEALTHY = "def handler(event, context):\n    return {'ok': True}\n"


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("hostile") / "data", ["--sandbox", "namespace", "--network", "isolated"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(sandbox_server):
    return sandbox_server.client(read_timeout=120)


@pytest.fixture(scope="module")
def healthy(client):
    name = f"healthy-{uuid.uuid4().hex[:8]}"
    create_function(client, name, {"app.py": HEALTHY})
    assert_healthy(client, name)
    return name


def assert_healthy(client, name):
    response, payload = invoke_json(client, name, {})
    assert "FunctionError" not in response, payload
    assert payload == {"ok": True}


def create_hostile(client, name, files=None, **kwargs):
    return create_function(client, name, package("hostile", **(files or {})), **kwargs)


def invoke_while_healthy(client, name, event, healthy, **kwargs):
    """Invokes `name` in a thread and checks the healthy function while it runs."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        attack = pool.submit(invoke_json, client, name, event, **kwargs)
        time.sleep(0.5)
        assert_healthy(client, healthy)
        return attack.result(timeout=120)


def report_line(response):
    import base64

    tail = base64.b64decode(response["LogResult"]).decode(errors="replace")
    return next(line for line in tail.splitlines() if line.startswith("REPORT"))


def environment_cgroup_dirs(server):
    """The pids-controller cgroups of the server's environments (v1), or their v2 cgroups."""
    lines = Path(f"/proc/{server.process.pid}/cgroup").read_text().splitlines()
    pid = server.process.pid
    v1 = [line.split(":", 2)[2] for line in lines if line.split(":")[1] == "pids"]
    if v1:
        parent = Path("/sys/fs/cgroup/pids") / v1[0].lstrip("/") / f"flicker-{pid}"
    else:
        own = next(line.split(":", 2)[2] for line in lines if line.startswith("0::"))
        own = re.sub(rf"/flicker-{pid}-server$", "", own)
        parent = Path("/sys/fs/cgroup") / own.lstrip("/") / f"flicker-{pid}"
    return [path for path in parent.iterdir() if path.is_dir()] if parent.exists() else []


def environment_tasks(server):
    tasks = 0
    for directory in environment_cgroup_dirs(server):
        try:
            tasks += len((directory / "cgroup.procs").read_text().split())
        except FileNotFoundError:
            pass
    return tasks


def host_processes_with(marker):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def server_rss_kb(server):
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def test_fork_bomb_hits_process_limit(sandbox_server, client, healthy, function_name):
    create_hostile(client, function_name, MemorySize=1024, Timeout=30)
    tasks_before = environment_tasks(sandbox_server)

    response, payload = invoke_while_healthy(client, function_name, {"action": "fork_bomb", "seconds": 3}, healthy)

    assert "FunctionError" not in response, payload
    assert payload["refused"] > 0
    assert payload["processes"] <= 1024
    client.delete_function(FunctionName=function_name)
    assert wait_until(lambda: environment_tasks(sandbox_server) <= tasks_before, timeout=10)
    assert_healthy(client, healthy)


def test_memory_bomb_is_out_of_memory(client, healthy, function_name):
    create_hostile(client, function_name, MemorySize=128, Timeout=30)
    _, before = invoke_json(client, function_name, {"action": "identity"})
    let_environment_become_idle()

    response, payload = invoke_while_healthy(client, function_name, {"action": "memory_bomb"}, healthy, LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.OutOfMemory"
    used = int(re.search(r"Max Memory Used: (\d+) MB", report_line(response)).group(1))
    assert 100 <= used <= 129
    _, after = invoke_json(client, function_name, {"action": "identity"})
    assert after["environment"] != before["environment"]
    assert_healthy(client, healthy)


def test_filling_tmp_fails_with_enospc(client, healthy, function_name):
    create_hostile(client, function_name, MemorySize=1024, Timeout=60, EphemeralStorage={"Size": 512})

    response, payload = invoke_while_healthy(client, function_name, {"action": "fill_tmp"}, healthy)

    assert "FunctionError" not in response, payload
    assert payload["errno"] == errno.ENOSPC
    assert 500 <= payload["written_mb"] <= 512
    assert_healthy(client, healthy)


def test_cpu_spin_times_out(client, healthy, function_name):
    create_hostile(client, function_name, Timeout=2)

    response, payload = invoke_while_healthy(client, function_name, {"action": "spin"}, healthy)

    assert response["FunctionError"] == "Unhandled"
    assert "timed out" in payload["errorMessage"]
    response, payload = invoke_json(client, function_name, {"action": "identity"})
    assert "FunctionError" not in response, payload
    assert_healthy(client, healthy)


def test_child_process_frozen_then_killed(sandbox_server, client, healthy, function_name):
    create_hostile(client, function_name)
    marker = f"ticker-{uuid.uuid4().hex}"
    invoke_json(client, function_name, {"action": "spawn_ticker", "marker": marker})
    let_environment_become_idle()
    _, first = invoke_json(client, function_name, {"action": "count_ticks"})
    time.sleep(1.5)
    _, second = invoke_json(client, function_name, {"action": "count_ticks"})

    # Unfrozen, the ticker would have written about 30 lines in 1.5 s.
    assert second - first < 8
    assert host_processes_with(marker), "the ticker runs until its environment is killed"
    client.delete_function(FunctionName=function_name)
    assert wait_until(lambda: not host_processes_with(marker), timeout=10)
    assert_healthy(client, healthy)


def test_background_thread_makes_no_progress_while_frozen(client, function_name):
    create_hostile(client, function_name)
    _, started = invoke_json(client, function_name, {"action": "start_counter"})
    time.sleep(1.5)
    _, later = invoke_json(client, function_name, {"action": "read_counter"})

    # The thread counts about 100 times a second while it runs.
    assert later - started < 20


def test_output_flood_keeps_server_memory_bounded(sandbox_server, client, healthy, function_name):
    create_hostile(client, function_name, Timeout=8)
    rss_before = server_rss_kb(sandbox_server)

    response, payload = invoke_while_healthy(client, function_name, {"action": "flood", "megabytes": 3072}, healthy)

    rss_after = server_rss_kb(sandbox_server)
    assert rss_after - rss_before < 256 * 1024, f"server RSS grew from {rss_before} kB to {rss_after} kB"
    assert payload == "flooded" or "timed out" in payload["errorMessage"]
    assert_healthy(client, healthy)


def test_host_files_are_invisible(sandbox_server, client, healthy, function_name):
    create_hostile(client, function_name)
    other_code = [path for path in (sandbox_server.data_dir / "tasks").rglob("*") if path.is_dir()]
    paths = ["/etc/shadow", "/root", "/home", str(sandbox_server.data_dir), str(REPO), *map(str, other_code[:3])]

    _, found = invoke_json(client, function_name, {"action": "files", "paths": paths + ["/var/task", "/etc/passwd"]})

    for path in paths:
        assert found[path] == "missing", path
    assert "app.py" in found["/var/task"]
    assert "sbx_user1051" in found["/etc/passwd"]


def test_read_only_paths_reject_writes(client, function_name):
    create_hostile(client, function_name)
    paths = ["/var/task/app.py", "/var/task/new.py", "/var/runtime/new", "/opt/new", "/etc/passwd", "/usr/bin/new", "/new"]

    _, results = invoke_json(client, function_name, {"action": "write", "paths": paths + ["/tmp/new"]})

    for path in paths:
        assert results[path] in ("EROFS", "EACCES"), (path, results[path])
    assert results["/tmp/new"] == "written"


def test_kernel_attacks_fail(sandbox_server, client, function_name):
    create_hostile(client, function_name)
    _, before = invoke_json(client, function_name, {"action": "identity"})
    let_environment_become_idle()

    _, results = invoke_json(client, function_name, {"action": "kernel", "server_pid": sandbox_server.process.pid})

    for call in ["mount", "umount", "unshare_user", "unshare_net", "ptrace_init", "chroot", "sethostname", "setuid_root"]:
        assert results[call] == errno.EPERM, (call, results[call])
    assert results["kill_server"] == errno.ESRCH
    assert results["pid1"] != "/sbin/init", "pid 1 is the environment's own init"
    assert results["processes"] == [1, 2], "only init and the bootstrap are visible"
    # Init ignores signals from inside its namespace, so the environment survives.
    let_environment_become_idle()
    _, after = invoke_json(client, function_name, {"action": "identity"})
    assert after["environment"] == before["environment"]


def test_setuid_programs_gain_nothing(client, function_name):
    setuid_id = (Path("/usr/bin/id").read_bytes(), 0o4755)
    create_hostile(client, function_name, files={"id-setuid": setuid_id})

    _, results = invoke_json(client, function_name, {"action": "setuid", "paths": ["/var/task/id-setuid", "/usr/bin/id"]})

    uid = str(results["uid"])
    assert results["/var/task/id-setuid"] == uid
    assert results["/usr/bin/id"] == uid
    assert results["su"]["status"] != 0
    assert results["su"]["stdout"] != "0"


def test_runtime_api_and_host_loopback_are_private(sandbox_server, client, healthy, function_name):
    create_hostile(client, function_name)

    _, result = invoke_json(client, function_name, {"action": "connect", "port": sandbox_server.port})

    assert result["result"] == "ECONNREFUSED", "the server's API on host loopback must be out of reach"
    assert result["listening"] == [9001], "only the environment's own Runtime API listens"
    assert result["interfaces"] == ["lo"]
    assert result["routes"] == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 9001)) != 0, "Runtime APIs do not listen in the host namespace"
    assert_healthy(client, healthy)


def test_isolated_network_cannot_reach_host_listener(client, function_name):
    create_hostile(client, function_name)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]

        _, result = invoke_json(client, function_name, {"action": "connect", "port": port})

        assert result["result"] == "ECONNREFUSED"
        with pytest.raises(socket.timeout):
            listener.accept()


@pytest.fixture
def fake_internet():
    """A network namespace standing in for the internet: a veth pair from the host to it, and
    a listener inside that reports the peer address of the one connection it accepts. Yields
    (address, port, process)."""
    suffix = uuid.uuid4().hex[:6]
    namespace, host_end = f"flkinet{suffix}", f"flki{suffix}"
    octet = int(suffix[:2], 16) % 250 + 1
    host_address, inside_address = f"10.250.{octet}.1", f"10.250.{octet}.2"
    ip = shutil.which("ip") or "/usr/sbin/ip"
    commands = [
        [ip, "netns", "add", namespace],
        [ip, "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", namespace],
        [ip, "addr", "add", f"{host_address}/30", "dev", host_end],
        [ip, "link", "set", host_end, "up"],
        [ip, "-n", namespace, "addr", "add", f"{inside_address}/30", "dev", "eth0"],
        [ip, "-n", namespace, "link", "set", "eth0", "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        server_code = (
            "import socket, sys\n"
            f"s = socket.create_server(('{inside_address}', 0))\n"
            "s.settimeout(20)\n"
            "print(s.getsockname()[1], flush=True)\n"
            "connection, peer = s.accept()\n"
            "print(peer[0], connection.recv(100).decode().strip(), flush=True)\n"
        )
        process = subprocess.Popen([ip, "netns", "exec", namespace, sys.executable, "-c", server_code], stdout=subprocess.PIPE, text=True)
        port = int(process.stdout.readline())
        yield inside_address, port, process
        process.kill()
        process.wait()
    finally:
        subprocess.run([ip, "netns", "delete", namespace], capture_output=True)


def test_outbound_network_reaches_internet_through_nat(start_server, fake_internet):
    address, port, listener = fake_internet
    server = start_server("--sandbox", "namespace", "--network", "outbound")
    client = server.client()
    name = f"outbound-{uuid.uuid4().hex[:8]}"
    create_hostile(client, name)

    _, result = invoke_json(client, name, {"action": "connect", "host": address, "port": port})

    assert result["result"] == "connected", result
    assert result["interfaces"] == ["eth0", "lo"]
    peer, message = listener.stdout.readline().split(" ", 1)
    assert message.strip() == "hello from the sandbox"
    assert peer == address.rsplit(".", 1)[0] + ".1", "the connection arrives masqueraded as the host's address"


def test_outbound_network_cannot_reach_host(start_server):
    server = start_server("--sandbox", "namespace", "--network", "outbound")
    client = server.client()
    name = f"outbound-{uuid.uuid4().hex[:8]}"
    create_hostile(client, name)
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.settimeout(0.5)

        _, result = invoke_json(client, name, {"action": "connect", "host": "gateway", "port": listener.getsockname()[1]})

        assert result["result"] == "timeout", "the host drops traffic from environments to itself"
        with pytest.raises(socket.timeout):
            listener.accept()


def test_isolated_network_has_no_route_out(client, fake_internet, function_name):
    address, port, listener = fake_internet
    create_hostile(client, function_name)

    _, result = invoke_json(client, function_name, {"action": "connect", "host": address, "port": port})

    assert result["result"] == "ENETUNREACH"
    assert listener.poll() is None, "the listener accepted nothing"
