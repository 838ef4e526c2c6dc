#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""tests/bench/ecb_fit.py still works: its least-squares fit recovers a
known line, payload sizes map to the blocks espx's GCM asks the kfunc for,
a short run against crypto_harness's `bench ecb` gives a fit whose
instance is named and where more blocks cost more, and aes_block_lat
reports a plausible clock. Figures are `make bench`'s business, not this
test's: nothing here checks a speed."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from espx_test import BUILD, finish, plan, result, skip  # noqa: E402

SCRIPT = os.path.join(HERE, "bench", "ecb_fit.py")
spec = importlib.util.spec_from_file_location("ecb_fit", SCRIPT)
ecb_fit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ecb_fit)


def main():
    plan(5)
    xs = [1, 2, 4, 8, 16, 89]
    ys = [100 + 20 * x for x in xs]
    a, b, r2 = ecb_fit.fit(xs, ys)
    wa, wb, _ = ecb_fit.fit(xs, ys, [1.0 / y ** 2 for y in ys])
    ok = all(abs(v - w) < 1e-6 for v, w in ((a, 100), (b, 20), (r2, 1), (wa, 100), (wb, 20)))
    result(ok, "fit-recovers-line", f"a={a} b={b} r2={r2} weighted a={wa} b={wb}")

    # crypto_harness: DATA_LEN d -> ceil(d/16) counter blocks + J0
    got = {p: ecb_fit.aes_blocks(p) for p in (64, 512, 1400)}
    result(got == {64: 6, 512: 34, 1400: 89}, "payload-blocks", f"got {got}")

    with tempfile.TemporaryDirectory(prefix="espx-ecbfit-test.") as d:
        out = os.path.join(d, "fit.json")
        r = subprocess.run([sys.executable, SCRIPT, "--samples", "3", "--repeat", "20",
                            "--blocks", "1,16,64", "--drivers", "kernel", "--no-profile",
                            "--json", out], capture_output=True, text=True, timeout=300)
        if r.returncode or not os.path.exists(out):
            result(False, "short-run", f"rc {r.returncode}: {(r.stderr or r.stdout)[-300:]}")
            result(False, "instance-named", "no run")
        else:
            res = json.load(open(out))["results"][0]
            pts = {p["blocks"]: p["median_ns"] for p in res["points"]}
            # 64 blocks of AES against 1: more work by far on any cipher
            result(len(pts) == 3 and pts[64] > pts[1] and res["fit"]["per_block_ns"] > 0,
                   "short-run", f"points {pts}, fit {res['fit']}")
            result(res["instance"].startswith("ecb(") and res["instance"] != "?",
                   "instance-named", f"instance {res['instance']!r}")

    tool = os.path.join(BUILD, "tests", "aes_block_lat")
    flags = open("/proc/cpuinfo").read().split()
    if "aes" not in flags:
        skip("aes-probe", "this CPU has no AES-NI")
    elif not os.access(tool, os.X_OK):
        result(False, "aes-probe", f"{tool} not built (make)")
    else:
        r = subprocess.run([tool, "100000"], capture_output=True, text=True, timeout=120)
        f = r.stdout.split()
        ok = r.returncode == 0 and len(f) == 6 and float(f[1]) > 0 and float(f[3]) > 0 \
            and 0.3 < float(f[5]) < 10
        result(ok, "aes-probe", f"rc {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}")
    finish()


if __name__ == "__main__":
    main()
