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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVER_BIN, PROVIDER_BIN, TERRAFORM_BIN, TOOLS = (Path(a) for a in sys.argv[1:5])
COUNT = int(sys.argv[5]) if len(sys.argv) > 5 else 100
# No-op plans per case: a plan of 1,000 takes seconds, and one run on a shared machine drifts by
# a fifth; the median of several, interleaved, is what the ratios use.
PLAN_RUNS = int(os.environ.get("TF_BENCH_PLAN_RUNS", "5"))
NULL_MIRROR = TOOLS / "mirror"

WORK = Path(tempfile.mkdtemp(prefix="statuspulse-bench-"))


def start_server():
    """Fresh SQLite server on port 0 with its bootstrap admin key."""
    env = dict(os.environ, STATUSPULSE_DATABASE_URL=f"sqlite://{WORK}/bench.db?mode=rwc", NO_COLOR="1")
    key = subprocess.run(
        [SERVER_BIN, "bootstrap", "--workspace-name", "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    env["STATUSPULSE_LISTEN"] = "127.0.0.1:0"
    log = open(WORK / "server.log", "w")
    proc = subprocess.Popen([SERVER_BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        text = (WORK / "server.log").read_text()
        match = re.search(r"listening on (http://[0-9.:]+)", text)
        if match:
            return proc, match.group(1), key
        time.sleep(0.1)
    raise SystemExit("server did not start; see " + str(WORK / "server.log"))


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


def workdir(name, config, cli_config):
    path = WORK / name
    path.mkdir()
    (path / "main.tf").write_text(config)
    return path, cli_config


def terraform(path, env, *args):
    started = time.perf_counter()
    run = subprocess.run([TERRAFORM_BIN, *args], cwd=path, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode not in (0, 2) or (args[0] == "plan" and run.returncode != 0):
        raise SystemExit(f"terraform {' '.join(args)} in {path} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return elapsed


def apply(case):
    with PeakRss(case["exe"]) as rss:
        case["apply_s"] = round(terraform(case["path"], case["env"], "apply", "-auto-approve", "-no-color", "-input=false"), 2)
    case["peak_kib"] = rss.peak_kib


def noop_plans(cases):
    """PLAN_RUNS no-op plans of each case, interleaved (null, accounts, keys, null, ...), so
    that drift of a shared machine falls on every case alike; each case's median."""
    for case in cases:
        case["plans"] = []
    for _ in range(PLAN_RUNS):
        for case in cases:
            with PeakRss(case["exe"]) as rss:
                case["plans"].append(terraform(case["path"], case["env"], "plan", "-detailed-exitcode", "-no-color", "-input=false"))
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
        plugin_dir = WORK / "plugins"
        plugin_dir.mkdir()
        provider = plugin_dir / "terraform-provider-statuspulse"
        shutil.copy(PROVIDER_BIN, provider)
        cli_config = WORK / "terraformrc"
        cli_config.write_text(f"""
provider_installation {{
  dev_overrides {{
    "statuspulse/statuspulse" = "{plugin_dir}"
  }}
  filesystem_mirror {{
    path    = "{NULL_MIRROR}"
    include = ["registry.terraform.io/hashicorp/null"]
  }}
}}
""")
        env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), CHECKPOINT_DISABLE="1",
                   TF_IN_AUTOMATION="1", STATUSPULSE_ENDPOINT=url, STATUSPULSE_API_KEY=admin_key)
        head = 'terraform {\n  required_providers {\n    statuspulse = { source = "statuspulse/statuspulse" }\n  }\n}\n'
        null_dir = WORK / "null"
        null_dir.mkdir()
        (null_dir / "main.tf").write_text(
            'terraform {\n  required_providers {\n    null = { source = "hashicorp/null", version = "2.1.2" }\n  }\n}\n'
            f'resource "null_resource" "n" {{\n  count = {COUNT}\n}}\n')
        terraform(null_dir, env, "init", "-no-color", "-input=false")
        null_exe = next((NULL_MIRROR / "registry.terraform.io/hashicorp/null").glob("*/linux_amd64/terraform-provider-null*"))

        # The null provider holding a key's state: a key's 20 attribute names, values of a
        # key's lengths (a key's stored state is 583 bytes, this one 618).
        key_sized = {
            "alert_route_ids": "", "check_group_ids": "", "created_at": "2026-11-30T19:43:43.772Z",
            "environment": "live", "environment_clusters": "", "expires_at": "2027-11-30T19:43:43.772Z",
            "expires_in_days": "365", "id": "key_01a22dfc109c723cb128b1a23948e9ee", "keepers": "",
            "key": "sp_live_" + "x" * 64, "key_id": "YMwOetviVTNjtx_j", "name": "bench-${count.index}",
            "revoke_grace_period_hours": "24", "rotate_after": "2027-02-28T19:43:43.772Z",
            "rotation_days": "90", "rotation_due": "false", "scopes": "read:checks", "secret_store": "",
            "service_account_id": "", "status": "active",
        }
        null_key_dir = WORK / "null_key_sized"
        null_key_dir.mkdir()
        triggers = "\n".join(f'    {name} = "{value}"' for name, value in key_sized.items())
        (null_key_dir / "main.tf").write_text(
            'terraform {\n  required_providers {\n    null = { source = "hashicorp/null", version = "2.1.2" }\n  }\n}\n'
            f'resource "null_resource" "n" {{\n  count = {COUNT}\n  triggers = {{\n{triggers}\n  }}\n}}\n')
        terraform(null_key_dir, env, "init", "-no-color", "-input=false")

        sa_dir = WORK / "service_accounts"
        sa_dir.mkdir()
        (sa_dir / "main.tf").write_text(head + (
            f'resource "statuspulse_service_account" "sa" {{\n  count = {COUNT}\n'
            '  name  = "bench-${count.index}"\n}\n'))
        key_dir = WORK / "api_keys"
        key_dir.mkdir()
        (key_dir / "main.tf").write_text(head + (
            f'resource "statuspulse_api_key" "k" {{\n  count = {COUNT}\n'
            '  name        = "bench-${count.index}"\n  environment = "live"\n'
            '  scopes      = ["read:checks"]\n}\n'))

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
            terraform(case["path"], env, "destroy", "-auto-approve", "-no-color", "-input=false")
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
