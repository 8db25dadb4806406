#!/usr/bin/env python3
"""Benchmark of issue 3: `terraform apply` then no-op `terraform plan`s of 100
statuspulse_service_account, of 100 statuspulse_api_key, and of 100 null_resource of the Go
null provider as the baseline, in one run against a fresh local server.

A second baseline isolates what is Terraform's: the same null_resource holding as much state as
an API key (20 `triggers` whose names and values are a key's). Terraform's own work per resource
grows with the size of its state (it copies a resource with all its instances once per instance
while it builds a plan, and encodes each state to JSON several times), so the key's plan is
compared with both: with the bare null_resource (the issue's target) and with the null provider
carrying the same state (what is left is the provider's own cost).

Also reports the provider's start-up time (exec to go-plugin handshake line) and peak resident
memory during each run. Invoked by scripts/tf-bench.sh, which builds and installs what it needs.

Usage: tf-bench.py SERVER_BIN PROVIDER_BIN TERRAFORM_BIN TOOLS_DIR [COUNT]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tfbench

SERVER_BIN, PROVIDER_BIN, TERRAFORM_BIN, TOOLS = (Path(a) for a in sys.argv[1:5])
COUNT = int(sys.argv[5]) if len(sys.argv) > 5 else 100
# No-op plans per case: a plan of 1,000 takes seconds, and one run on a shared machine drifts by
# a fifth; the median of several, interleaved, is what the ratios use.
PLAN_RUNS = int(os.environ.get("TF_BENCH_PLAN_RUNS", "5"))
NULL_MIRROR = TOOLS / "mirror"

WORK = Path(tempfile.mkdtemp(prefix="statuspulse-bench-"))


def start_server():
    """Fresh SQLite server on port 0 with its bootstrap admin key."""
    return tfbench.start_server(SERVER_BIN, WORK)


class PeakRss:
    """Samples /proc for processes running `exe` and keeps the largest VmHWM (peak RSS)."""

    def __init__(self, exe):
        self.exe = os.path.realpath(exe)
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.path.realpath(f"/proc/{pid}/exe") != self.exe:
                        continue
                    for line in open(f"/proc/{pid}/status"):
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()


def startup_ms(binary, runs=10):
    """Median time from exec to the go-plugin handshake line on stdout."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen([binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, TF_PLUGIN_MAGIC_COOKIE="d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
                                         PLUGIN_PROTOCOL_VERSIONS="5,6"))
        line = proc.stdout.readline()
        samples.append((time.perf_counter() - started) * 1000)
        proc.kill()
        proc.wait()
        if b"|" not in line:
            raise SystemExit(f"{binary} printed no handshake: {line!r}")
    return statistics.median(samples)


def terraform(path, env, *args):
    return tfbench.terraform(TERRAFORM_BIN, path, env, *args)


def apply(case):
    with PeakRss(case["exe"]) as rss:
        case["apply_s"] = round(terraform(case["path"], case["env"], "apply", "-auto-approve"), 2)
    case["peak_kib"] = rss.peak_kib


def noop_plans(cases):
    """PLAN_RUNS no-op plans of each case, interleaved (null, accounts, keys, null, ...), so
    that drift of a shared machine falls on every case alike; each case's median."""
    for case in cases:
        case["plans"] = []
    for _ in range(PLAN_RUNS):
        for case in cases:
            with PeakRss(case["exe"]) as rss:
                case["plans"].append(terraform(case["path"], case["env"], "plan", "-detailed-exitcode"))
            case["peak_kib"] = max(case["peak_kib"], rss.peak_kib)
    for case in cases:
        case["noop_plan_s"] = round(statistics.median(case["plans"]), 2)


def result(case):
    return {
        "case": case["name"],
        "apply_s": case["apply_s"],
        "noop_plan_s": case["noop_plan_s"],
        "noop_plan_runs_s": [round(p, 2) for p in case["plans"]],
        "provider_peak_rss_mib": round(case["peak_kib"] / 1024, 1),
    }


def main():
    server, url, admin_key = start_server()
    try:
        env, provider = tfbench.provider_env(WORK, "statuspulse", PROVIDER_BIN, TOOLS, url, admin_key)
        null_dir = tfbench.workdir(WORK, "null", tfbench.null_config(COUNT))
        terraform(null_dir, env, "init")
        null_exe = next((NULL_MIRROR / "registry.terraform.io/hashicorp/null").glob("*/linux_amd64/terraform-provider-null*"))
        null_key_dir = tfbench.workdir(WORK, "null_key_sized",
                                       tfbench.null_config(COUNT, tfbench.KEY_SIZED_TRIGGERS))
        terraform(null_key_dir, env, "init")
        sa_dir = tfbench.workdir(WORK, "service_accounts", tfbench.service_account_config(COUNT))
        key_dir = tfbench.workdir(WORK, "api_keys", tfbench.api_key_config(COUNT))

        cases = [
            {"name": f"{COUNT} null_resource (Go null provider 2.1.2, baseline)", "path": null_dir, "exe": null_exe},
            {"name": f"{COUNT} null_resource with a key's state (20 triggers)", "path": null_key_dir, "exe": null_exe},
            {"name": f"{COUNT} statuspulse_service_account", "path": sa_dir, "exe": provider},
            {"name": f"{COUNT} statuspulse_api_key", "path": key_dir, "exe": provider},
        ]
        for case in cases:
            case["env"] = env
            apply(case)
        noop_plans(cases)
        for case in cases:
            terraform(case["path"], env, "destroy", "-auto-approve")
        results = [result(case) for case in cases]
        startup = {
            "statuspulse_provider_startup_ms": round(startup_ms(provider), 1),
            "null_provider_startup_ms": round(startup_ms(null_exe), 1),
        }
    finally:
        server.terminate()
        server.wait()

    version = subprocess.run([TERRAFORM_BIN, "version"], capture_output=True, text=True,
                             env=dict(os.environ, CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE="/dev/null")).stdout.splitlines()[0]
    print(f"\nStatusPulse provider benchmark ({version}, {os.cpu_count()} CPUs)\n")
    print(f"{'case':<52} {'apply s':>8} {'no-op plan s':>13} {'peak RSS MiB':>13}   (plan: median of {PLAN_RUNS})")
    for r in results:
        print(f"{r['case']:<52} {r['apply_s']:>8} {r['noop_plan_s']:>13} {r['provider_peak_rss_mib']:>13}")
    base, key_sized, sa, keys = results
    print(f"\nservice accounts vs null: apply x{sa['apply_s'] / base['apply_s']:.2f}, "
          f"plan x{sa['noop_plan_s'] / base['noop_plan_s']:.2f} (target: at most x2)")
    print(f"api keys vs null:         apply x{keys['apply_s'] / base['apply_s']:.2f}, "
          f"plan x{keys['noop_plan_s'] / base['noop_plan_s']:.2f} (creation pays Argon2 on the server)")
    print(f"null with a key's state vs null: plan x{key_sized['noop_plan_s'] / base['noop_plan_s']:.2f} "
          f"(Terraform's own cost of a key-sized state)")
    print(f"api keys vs null with a key's state: plan x{keys['noop_plan_s'] / key_sized['noop_plan_s']:.2f} "
          f"(the provider's own cost)")
    base_runs = base["noop_plan_runs_s"]
    for label, case in (("service accounts", sa), ("api keys", keys), ("null, key's state", key_sized)):
        each = ", ".join(f"x{p / b:.2f}" for p, b in zip(case["noop_plan_runs_s"], base_runs))
        print(f"{label} plan vs null, run by run: {each}")
    print(f"provider start-up (exec to handshake, median of 10): statuspulse "
          f"{startup['statuspulse_provider_startup_ms']} ms, null {startup['null_provider_startup_ms']} ms")
    (WORK / "results.json").write_text(json.dumps({"results": results, **startup}, indent=2))
    print(f"\nraw results: {WORK / 'results.json'}")


if __name__ == "__main__":
    main()
