"""Runs porta-bench --quick --json with a row filter and checks what its rows promise.

Every row must carry its section, device, name and unit; the speed-up must be baseline time over
Porta time for units of time and Porta rate over baseline rate otherwise (so above 1 always means
Porta is faster); target_met must agree with the speed-up and the target; every row must match
the filter; and the run must report no error. Usage: check_bench_rows.py PORTA_BENCH
"""
import json
import subprocess
import sys

FILTERS = ["launch", "pool"]


def fail(text):
    print("check_bench_rows: " + text, file=sys.stderr)
    sys.exit(1)


def main():
    command = [sys.argv[1], "--quick", "--json", "--no-ops", "--filter", ",".join(FILTERS)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        fail(f"{' '.join(command)} exited with {run.returncode}:\n{run.stdout}\n{run.stderr}")
    document = json.loads(run.stdout)
    if document["errors"]:
        fail(f"errors reported: {document['errors']}")
    if document["filter"] != FILTERS:
        fail(f"the document's filter is {document['filter']}, not {FILTERS}")
    rows = document["rows"]
    if not rows:
        fail("no rows: the cpu device always has launch and pool rows")
    for row in rows:
        for key in ("section", "device", "benchmark", "unit"):
            if not row[key]:
                fail(f"a row without {key}: {row}")
        text = f"{row['section']} {row['device']} {row['benchmark']}".lower()
        if not any(term in text for term in FILTERS):
            fail(f"a row outside the filter: {row}")
        if row["baseline"] is None:
            if row["speedup"] is not None or row["target_met"] is not None:
                fail(f"a row without a baseline has a speed-up or a verdict: {row}")
            continue
        time_unit = row["unit"].startswith(("us", "ms")) or row["unit"] == "s"
        want = row["baseline"] / row["porta"] if time_unit else row["porta"] / row["baseline"]
        # The JSON holds six significant digits per number.
        if abs(row["speedup"] - want) > 1e-4 * abs(want):
            fail(f"speed-up {row['speedup']} is not {want}: {row}")
        if row["target"] is not None and row["target_met"] != (row["speedup"] >= row["target"]):
            fail(f"target_met disagrees with the speed-up and the target: {row}")
    print(f"check_bench_rows: {len(rows)} rows checked")


main()
