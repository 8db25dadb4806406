#!/usr/bin/env python3
"""A/B benchmark of two provider builds: no-op `terraform plan`s of COUNT statuspulse_api_key
against one state, alternating old, new, old, new, ... with the Go null provider's plan of
COUNT null_resource beside them, so that a shared machine's drift falls on both builds alike.

For a change that lightens Terraform's side of a plan (an encoding, the private state), whose
effect of a few percent a single tf-bench run cannot separate from drift. The state is created
once, with OLD; both builds must read it (same schema version).

Usage: tf-bench-ab.py SERVER_BIN OLD_PROVIDER NEW_PROVIDER TERRAFORM_BIN TOOLS_DIR [COUNT]
Invoked by scripts/tf-bench-ab.sh, which builds the server and installs what it needs.
"""

import os
import statistics
import sys
import tempfile
from pathlib import Path

import tfbench

SERVER_BIN, OLD, NEW, TERRAFORM_BIN, TOOLS = (Path(a) for a in sys.argv[1:6])
COUNT = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
RUNS = int(os.environ.get("TF_BENCH_PLAN_RUNS", "5"))
WORK = Path(tempfile.mkdtemp(prefix="statuspulse-bench-ab-"))


def terraform(path, env, *args):
    return tfbench.terraform(TERRAFORM_BIN, path, env, *args)


def main():
    server, url, key = tfbench.start_server(SERVER_BIN, WORK)
    try:
        old, _ = tfbench.provider_env(WORK, "old", OLD, TOOLS, url, key)
        new, _ = tfbench.provider_env(WORK, "new", NEW, TOOLS, url, key)
        null_dir = tfbench.workdir(WORK, "null", tfbench.null_config(COUNT))
        key_dir = tfbench.workdir(WORK, "api_keys", tfbench.api_key_config(COUNT))
        terraform(null_dir, old, "init")
        terraform(null_dir, old, "apply", "-auto-approve")
        terraform(key_dir, old, "apply", "-auto-approve")
        # Written once more by NEW, as its users' states would be after their first apply.
        terraform(key_dir, new, "apply", "-refresh-only", "-auto-approve")
        plans = {"null": [], "old": [], "new": []}
        for _ in range(RUNS):
            plans["null"].append(terraform(null_dir, old, "plan", "-detailed-exitcode"))
            plans["old"].append(terraform(key_dir, old, "plan", "-detailed-exitcode"))
            plans["new"].append(terraform(key_dir, new, "plan", "-detailed-exitcode"))
        terraform(key_dir, new, "destroy", "-auto-approve")
    finally:
        server.terminate()
        server.wait()

    median = {name: statistics.median(times) for name, times in plans.items()}
    print(f"\nno-op plan of {COUNT} API keys, median of {RUNS} alternating runs against one state")
    for name, label in (("null", "null_resource (baseline)"), ("old", str(OLD)), ("new", str(NEW))):
        runs = ", ".join(f"{t:.2f}" for t in plans[name])
        print(f"{label:<60} {median[name]:6.2f} s  x{median[name] / median['null']:.2f}  ({runs})")
    print(f"new vs old: {median['new'] / median['old']:.3f}")


if __name__ == "__main__":
    main()
