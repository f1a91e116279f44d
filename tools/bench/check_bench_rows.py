"""Runs porta-bench --quick --json and checks what its rows promise.

Every row must carry its section, device, name and unit; the speed-up must be baseline time over
Porta time for units of time and Porta rate over baseline rate otherwise (so above 1 always means
Porta is faster); target_met must agree with the speed-up and the target; every row must match
the filter; and the run must report no error.

Usage:
  check_bench_rows.py PORTA_BENCH
      the launch and pool rows of every device
  check_bench_rows.py PORTA_BENCH --plugin FILE --plugin-backend NAME
      the generic rows (and the graph, pool and add rows) of the cpu device and of the plugin
      FILE, whose backend is NAME: each device must have every generic row once, with a figure
      above 0, and a baseline above 0 where the row has one; the plugin named by
      PORTA_PLUGIN_PATH instead must be measured too; and a --plugin that cannot load must fail
      the run, naming the path.
"""
import argparse
import json
import os
import subprocess
import sys

# The generic rows of every device: the name's start, and the baseline each must have ("" for
# none). The launch rows' baselines exist for host-format kernels only (the cpu device and the
# test plugin are both host devices).
GENERIC_ROWS = {
    "launch throughput, empty host": "direct call",
    "launch + synchronize, empty host": "thread handoff (condvar)",
    "event record + wait (idle stream)": "",
    "copy host to device (": "memcpy",
    "copy device to host (": "memcpy",
    "copy device to device (": "memcpy",
    "fill 4-byte pattern (": "host fill (std::fill_n)",
}
# Rows of the other sections that must exist on the plugin's device too.
OTHER_ROWS = {
    "graph": "graph replay of 100 empty launches + sync",
    "pool": "pool alloc_async+free_async 1 MiB",
    "ops": "add f32 2x",
}


def fail(text):
    print("check_bench_rows: " + text, file=sys.stderr)
    sys.exit(1)


def run_bench(command, expect_success=True, env=None):
    run = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if expect_success and run.returncode != 0:
        fail(f"{' '.join(command)} exited with {run.returncode}:\n{run.stdout}\n{run.stderr}")
    try:
        document = json.loads(run.stdout)
    except json.JSONDecodeError as error:
        fail(f"{' '.join(command)} printed no JSON document ({error}):\n{run.stdout}\n{run.stderr}")
    return run.returncode, document


def check_rows(document, filters):
    """The promises every row keeps, whatever the device."""
    if document["filter"] != filters:
        fail(f"the document's filter is {document['filter']}, not {filters}")
    rows = document["rows"]
    for row in rows:
        for key in ("section", "device", "benchmark", "unit"):
            if not row[key]:
                fail(f"a row without {key}: {row}")
        text = f"{row['section']} {row['device']} {row['benchmark']}".lower()
        if not any(term in text for term in filters):
            fail(f"a row outside the filter: {row}")
        if not row["porta"] > 0:
            fail(f"a row whose figure is not above 0: {row}")
        if row["baseline"] is None:
            if row["speedup"] is not None or row["target_met"] is not None:
                fail(f"a row without a baseline has a speed-up or a verdict: {row}")
            if row["baseline_name"] != "none":
                fail(f"a row without a baseline must name it \"none\": {row}")
            continue
        time_unit = row["unit"].startswith(("us", "ms")) or row["unit"] == "s"
        want = row["baseline"] / row["porta"] if time_unit else row["porta"] / row["baseline"]
        # The JSON holds six significant digits per number.
        if abs(row["speedup"] - want) > 1e-4 * abs(want):
            fail(f"speed-up {row['speedup']} is not {want}: {row}")
        if row["target"] is not None and row["target_met"] != (row["speedup"] >= row["target"]):
            fail(f"target_met disagrees with the speed-up and the target: {row}")
    return rows


def check_generic(rows, device):
    """Every generic row once on |device|, with the baseline it must have."""
    mine = [row for row in rows if row["device"] == device]
    for start, baseline in GENERIC_ROWS.items():
        found = [row for row in mine
                 if row["section"] == "generic" and row["benchmark"].startswith(start)]
        if len(found) != 1:
            fail(f"{device}: {len(found)} generic rows named \"{start}...\", not 1: {mine}")
        row = found[0]
        if baseline and (row["baseline_name"] != baseline or not row["baseline"] > 0):
            fail(f"{device}: row \"{row['benchmark']}\" lacks its baseline {baseline}: {row}")
        if not baseline and row["baseline"] is not None:
            fail(f"{device}: row \"{row['benchmark']}\" has a baseline it should not: {row}")
    return len(mine)


def check_plugin(bench, plugin, backend):
    filters = ["generic", "graph", "pool", OTHER_ROWS["ops"]]
    command = [bench, "--quick", "--json", "--devices", f"cpu,{backend}", "--plugin", plugin,
               "--filter", ",".join(filters)]
    _, document = run_bench(command)
    if document["errors"]:
        fail(f"errors reported: {document['errors']}")
    if document["plugins"] != [plugin]:
        fail(f"the document's plugins are {document['plugins']}, not [{plugin}]")
    device = f"{backend}:0"
    listed = {entry["device"]: entry["backend"] for entry in document["devices"]}
    if listed.get(device) != backend or listed.get("cpu:0") != "cpu":
        fail(f"the devices are {document['devices']}: cpu:0 and {device} expected")
    rows = check_rows(document, filters)
    counts = [check_generic(rows, name) for name in ("cpu:0", device)]
    for section, start in OTHER_ROWS.items():
        if not any(row["device"] == device and row["section"] == section and
                   row["benchmark"].startswith(start) for row in rows):
            fail(f"{device}: no {section} row \"{start}...\": {rows}")

    # A plugin named by PORTA_PLUGIN_PATH is measured as well.
    command = [bench, "--quick", "--json", "--devices", backend, "--filter", "event"]
    _, document = run_bench(command, env=dict(os.environ, PORTA_PLUGIN_PATH=plugin))
    if document["errors"] or not any(row["device"] == device for row in document["rows"]):
        fail(f"with PORTA_PLUGIN_PATH={plugin}: no row of {device}, or errors: {document}")

    # A plugin that cannot load fails the run, and the error names it.
    missing = plugin + ".missing"
    command = [bench, "--quick", "--json", "--devices", "cpu", "--plugin", missing,
               "--filter", "event"]
    status, document = run_bench(command, expect_success=False)
    if status != 1:
        fail(f"{' '.join(command)} exited with {status}, not 1")
    if not any(f"--plugin {missing}" in error and "did not load" in error
               for error in document["errors"]):
        fail(f"no error names the plugin that did not load: {document['errors']}")
    print(f"check_bench_rows: {counts[0]} rows of cpu:0 and {counts[1]} of {device} checked")


def check_launch_and_pool(bench):
    filters = ["launch", "pool"]
    command = [bench, "--quick", "--json", "--no-ops", "--filter", ",".join(filters)]
    _, document = run_bench(command)
    if document["errors"]:
        fail(f"errors reported: {document['errors']}")
    rows = check_rows(document, filters)
    if not rows:
        fail("no rows: the cpu device always has launch and pool rows")
    print(f"check_bench_rows: {len(rows)} rows checked")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench")
    parser.add_argument("--plugin")
    parser.add_argument("--plugin-backend")
    args = parser.parse_args()
    if (args.plugin is None) != (args.plugin_backend is None):
        parser.error("--plugin and --plugin-backend go together")
    if args.plugin is not None:
        check_plugin(args.bench, args.plugin, args.plugin_backend)
    else:
        check_launch_and_pool(args.bench)


main()
