"""Python test function that attacks its own sandbox: the event's "action" selects the attack,
and the handler returns what it observed, so that the test can assert that each one failed."""

import ctypes
import errno
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

# Differs in each environment, so that a test can tell a fresh environment from a reused one.
ENVIRONMENT_ID = uuid.uuid4().hex
COUNTER = {"value": 0}
LIBC = ctypes.CDLL(None, use_errno=True)


def syscall_errno(result):
    """Return 0 for a successful libc call, else its errno."""
    return 0 if result == 0 else ctypes.get_errno()


def fork_bomb(seconds):
    """Forks children that fork again until the kernel refuses, then counts the processes."""
    parent = os.getpid()
    refused = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid = os.fork()
        except OSError as error:
            refused += 1
            if os.getpid() == parent:
                assert error.errno == errno.EAGAIN, error
            time.sleep(0.01)
            continue
        if pid == 0:
            # Children keep forking until the deadline, then sleep until the environment dies.
            while time.monotonic() < deadline:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.01)
            time.sleep(3600)
            os._exit(0)
    processes = sum(1 for name in os.listdir("/proc") if name.isdigit())
    return {"processes": processes, "refused": refused}


def memory_bomb():
    blocks = []
    while True:
        blocks.append(b"\x01" * (8 << 20))


def fill_tmp():
    written = 0
    block = b"\x02" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as file:
            while True:
                file.write(block)
                file.flush()
                written += len(block)
    except OSError as error:
        code = error.errno
    finally:
        os.remove("/tmp/fill")
    return {"written_mb": written >> 20, "errno": code}


def flood_output(megabytes):
    chunk = "x" * (1 << 20)
    for _ in range(megabytes):
        sys.stdout.write(chunk)
    sys.stdout.flush()
    return "flooded"


def count_forever():
    while True:
        COUNTER["value"] += 1
        time.sleep(0.01)


def probe_files(paths):
    """Return, for each path, "missing", "denied" or what reading it gave."""
    found = {}
    for path in paths:
        try:
            if os.path.isdir(path):
                found[path] = sorted(os.listdir(path))
            else:
                with open(path, "rb") as file:
                    found[path] = file.read(64).decode(errors="replace")
        except FileNotFoundError:
            found[path] = "missing"
        except PermissionError:
            found[path] = "denied"
    return found


def try_write(path):
    try:
        with open(path, "w") as file:
            file.write("owned")
        return "written"
    except OSError as error:
        return errno.errorcode[error.errno]


def kernel_attacks(server_pid):
    """Calls that would change the sandbox; each returns the errno it failed with."""
    results = {}
    results["mount"] = syscall_errno(LIBC.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    results["umount"] = syscall_errno(LIBC.umount2(b"/var/task", 2))
    results["unshare_user"] = syscall_errno(LIBC.unshare(0x10000000))
    results["unshare_net"] = syscall_errno(LIBC.unshare(0x40000000))
    results["ptrace_init"] = syscall_errno(LIBC.ptrace(16, 1, None, None))  # PTRACE_ATTACH
    results["chroot"] = syscall_errno(LIBC.chroot(b"/tmp"))
    results["sethostname"] = syscall_errno(LIBC.sethostname(b"owned", 5))
    results["setuid_root"] = syscall_errno(LIBC.setuid(0))
    try:
        os.kill(server_pid, 0)
        results["kill_server"] = 0
    except OSError as error:
        results["kill_server"] = error.errno
    try:
        os.kill(1, 9)
        results["kill_init"] = 0
    except OSError as error:
        results["kill_init"] = error.errno
    with open("/proc/1/cmdline", "rb") as file:
        results["pid1"] = file.read().split(b"\0")[0].decode()
    results["processes"] = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    return results


def run_setuid(paths):
    """Runs setuid programs and returns the effective uid each one reported, or its error."""
    results = {"uid": os.getuid()}
    for path in paths:
        try:
            output = subprocess.run([path, "-u"], capture_output=True, text=True, timeout=5)
            results[path] = output.stdout.strip() or output.stderr.strip()
        except OSError as error:
            results[path] = errno.errorcode[error.errno]
    output = subprocess.run(["su", "-c", "id -u"], capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL)
    results["su"] = {"status": output.returncode, "stdout": output.stdout.strip()}
    return results


def connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=1) as connection:
            connection.sendall(b"hello from the sandbox\n")
            return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error))


def default_gateway():
    """The gateway of the default route in /proc/net/route, or None."""
    with open("/proc/net/route") as file:
        for line in file.readlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return None


def listening_ports():
    """Ports with a listening TCP socket in this network namespace, from /proc/net/tcp."""
    ports = set()
    with open("/proc/net/tcp") as file:
        for line in file.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].split(":")[1], 16))
    return sorted(ports)


def network_view():
    with open("/proc/net/route") as file:
        routes = file.readlines()[1:]
    with open("/proc/net/dev") as file:
        interfaces = sorted(line.split(":")[0].strip() for line in file.readlines()[2:])
    return {"routes": len(routes), "interfaces": interfaces, "listening": listening_ports()}


def handler(event, context):
    action = event["action"]
    if action == "identity":
        return {"environment": ENVIRONMENT_ID, "pid": os.getpid(), "uid": os.getuid()}
    if action == "fork_bomb":
        return fork_bomb(event["seconds"])
    if action == "memory_bomb":
        return memory_bomb()
    if action == "fill_tmp":
        return fill_tmp()
    if action == "spin":
        while True:
            pass
    if action == "flood":
        return flood_output(event["megabytes"])
    if action == "start_counter":
        threading.Thread(target=count_forever, daemon=True).start()
        time.sleep(0.2)
        return COUNTER["value"]
    if action == "read_counter":
        return COUNTER["value"]
    if action == "spawn_ticker":
        marker = event["marker"]
        subprocess.Popen(["/bin/sh", "-c", f"while :; do echo {marker} >> /tmp/ticks; sleep 0.05; done"])
        time.sleep(0.3)
        return marker
    if action == "count_ticks":
        with open("/tmp/ticks") as file:
            return len(file.readlines())
    if action == "files":
        return probe_files(event["paths"])
    if action == "write":
        return {path: try_write(path) for path in event["paths"]}
    if action == "kernel":
        return kernel_attacks(event["server_pid"])
    if action == "setuid":
        return run_setuid(event["paths"])
    if action == "connect":
        host = event.get("host", "127.0.0.1")
        if host == "gateway":
            host = default_gateway()
        return {"result": connect(host, event["port"]) if host else "no route", **network_view()}
    raise ValueError(f"unknown action {action}")
