#!/usr/bin/env python3
"""The server process gives adapter memory back when adapters are unloaded.

Run against a live server (Tests/Compatibility/with-server.sh sets SWITCHBOARD_URL and
SWITCHBOARD_PID): warm the server up with base-model traffic, note its resident memory, load
every adapter folder under --adapters through the admin API, serve requests with each of them,
unload them all, and check that the process's resident memory (VmRSS of SWITCHBOARD_PID) is back
within --tolerance-mb of where it started. Prints the three readings.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def resident_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def complete(base, model, prompt):
    status, body = call(base, "POST", "/v1/completions",
                        {"model": model, "prompt": prompt, "max_tokens": 16, "temperature": 0, "ignore_eos": True})
    if status != 200:
        raise RuntimeError(f"{model}: {status} {body}")


def traffic(base, models, rounds=2, clients=16):
    """Concurrent requests spread over `models`, so batches mix them."""
    jobs = [(models[i % len(models)], f"Request {i}: tell me about the sea.") for i in range(clients * rounds)]
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda job: complete(base, *job), jobs))


def settle(pid, seconds=1.0):
    time.sleep(seconds)
    return resident_mib(pid)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters", required=True, help="folder of adapter folders (inside the server's roots)")
    parser.add_argument("--tolerance-mb", type=float, default=16)
    args = parser.parse_args()
    base, pid = os.environ["SWITCHBOARD_URL"], int(os.environ["SWITCHBOARD_PID"])
    status, models = call(base, "GET", "/v1/models")
    base_model = models["data"][0]["id"]

    traffic(base, [base_model], rounds=3)
    before = settle(pid)

    names = sorted(os.listdir(args.adapters))
    for name in names:
        status, body = call(base, "POST", "/v1/adapters", {"name": name, "path": os.path.join(args.adapters, name)})
        if status >= 300:
            sys.exit(f"FAIL: loading {name}: {status} {body}")
    traffic(base, [base_model] + names, rounds=3)
    loaded = settle(pid)

    for name in names:
        status, body = call(base, "DELETE", f"/v1/adapters/{name}")
        if status >= 300:
            sys.exit(f"FAIL: unloading {name}: {status} {body}")
    traffic(base, [base_model], rounds=1)
    after = settle(pid)

    print(f"resident memory: {before:.0f} MiB warmed up, {loaded:.0f} MiB with {len(names)} adapters "
          f"({loaded - before:+.0f}), {after:.0f} MiB after unloading them ({after - before:+.1f})")
    weights_mib = sum(os.path.getsize(os.path.join(args.adapters, name, "adapter_model.safetensors"))
                      for name in names) / 2**20
    if loaded - before < 0.5 * weights_mib:
        sys.exit(f"FAIL: {weights_mib:.0f} MiB of adapter weights did not show in resident memory; the test measures nothing")
    if after - before > args.tolerance_mb:
        sys.exit(f"FAIL: {after - before:.1f} MiB more than before loading (tolerance {args.tolerance_mb} MiB)")
    print("ok: adapter memory is returned after unloading")


if __name__ == "__main__":
    main()
