#!/usr/bin/env python3
"""An example shadowfleet exec provider plug-in: runs each replica as a local process.

It speaks the exec protocol (docs/exec-protocol.md): shadowfleet runs
`local-process-plugin.py <operation>` with a JSON request on stdin and reads one JSON object
from stdout. A cloud plug-in has the same shape, with `aws ec2 run-instances`, `gcloud compute
instances create` and so on in place of the process calls below.

Settings come from the environment (the group's `provider.settings.env`):
  PLUGIN_STATE_DIR  where replicas keep their files (default /tmp/shadowfleet-exec)
  PLUGIN_COMMAND    JSON list, the argv of a replica; {port} and {config} are substituted
  PLUGIN_HEALTH     health-check path (default /healthz)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

STATE_DIR = os.environ.get("PLUGIN_STATE_DIR", "/tmp/shadowfleet-exec")
HEALTH_PATH = os.environ.get("PLUGIN_HEALTH", "/healthz")


def fail(message, code=1):
    print(json.dumps({"error": message}))
    sys.exit(code)


def replica_dir(replica_id):
    if not replica_id or "/" in replica_id or replica_id.startswith("."):
        fail("invalid replica id %r" % replica_id)
    return os.path.join(STATE_DIR, replica_id)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def start(directory, port):
    template = json.loads(os.environ.get("PLUGIN_COMMAND", "[]"))
    if not template:
        fail("PLUGIN_COMMAND is not set")
    argv = [part.replace("{port}", str(port)).replace("{config}", directory + "/config.json")
            for part in template]
    log = open(os.path.join(directory, "output.log"), "ab")
    process = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                               cwd=directory, start_new_session=True)
    return process.pid


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def stop(pid):
    if not alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not alive(pid):
            return
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)


def describe(identity):
    return {"replica": identity["replica"], "instance": identity["instance"],
            "role": identity["role"], "providerId": "local:%d" % identity["pid"],
            "endpoint": "127.0.0.1:%d" % identity["port"],
            "state": {"pid": identity["pid"], "port": identity["port"]}}


def op_create(request):
    directory = replica_dir(request["replica"])
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, "config.json"), request["configuration"])
    port = free_port()
    identity = {"replica": request["replica"], "instance": request["instance"],
                "group": request["group"], "role": request["role"], "port": port,
                "version": request["version"], "pid": 0}
    write_json(os.path.join(directory, "replica.json"), identity)
    identity["pid"] = start(directory, port)
    write_json(os.path.join(directory, "replica.json"), identity)
    return describe(identity)


def load(request):
    directory = replica_dir(request["replica"]["id"])
    try:
        return directory, read_json(os.path.join(directory, "replica.json"))
    except OSError:
        return directory, None


def op_apply(request):
    directory, identity = load(request)
    if identity is None:
        fail("replica %s does not exist" % request["replica"]["id"])
    write_json(os.path.join(directory, "config.json"), request["configuration"])
    stop(identity["pid"])
    identity["pid"] = start(directory, identity["port"])
    identity["version"] = request["version"]
    write_json(os.path.join(directory, "replica.json"), identity)
    return describe(identity)


def op_check(request):
    _, identity = load(request)
    if identity is None:
        return {"phase": "gone", "healthy": False, "detail": "no such replica"}
    if not alive(identity["pid"]):
        return {"phase": "failed", "healthy": False, "appliedVersion": identity["version"],
                "detail": "process %d exited" % identity["pid"]}
    url = "http://127.0.0.1:%d%s" % (identity["port"], HEALTH_PATH)
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            healthy = 200 <= response.status < 400
            detail = ""
    except Exception as e:  # Any failure to get an answer is an unhealthy replica.
        healthy, detail = False, str(e)
    return {"phase": "running", "healthy": healthy, "appliedVersion": identity["version"],
            "detail": detail}


def op_terminate(request):
    directory, identity = load(request)
    if identity is not None:
        stop(identity["pid"])
    subprocess.run(["rm", "-rf", "--", directory], check=False)
    return {}


def op_list(request):
    replicas = []
    if os.path.isdir(STATE_DIR):
        for name in sorted(os.listdir(STATE_DIR)):
            try:
                identity = read_json(os.path.join(STATE_DIR, name, "replica.json"))
            except (OSError, ValueError):
                continue
            if identity.get("group") == request["group"]:
                replicas.append(describe(identity))
    return {"replicas": replicas}


def op_observe(request):
    directory, identity = load(request)
    if identity is None:
        fail("replica %s does not exist" % request["replica"]["id"])
    return {"configuration": read_json(os.path.join(directory, "config.json"))}


OPERATIONS = {"create": op_create, "apply": op_apply, "check": op_check,
              "terminate": op_terminate, "list": op_list, "observe": op_observe}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in OPERATIONS:
        fail("usage: %s {%s}" % (sys.argv[0], ",".join(sorted(OPERATIONS))), 2)
    try:
        request = json.load(sys.stdin)
    except ValueError as e:
        fail("request is not JSON: %s" % e, 2)
    os.makedirs(STATE_DIR, exist_ok=True)
    print(json.dumps(OPERATIONS[sys.argv[1]](request)))


if __name__ == "__main__":
    main()
