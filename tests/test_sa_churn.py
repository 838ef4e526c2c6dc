#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Adding and removing 10,000 SAs leaves no crypto context and no map entry
behind. Contexts are counted through /proc/crypto: every ecb(aes) context
holds a reference on its algorithm instance, so the instance's refcnt must
rise by exactly N while the SAs exist and fall back once they are deleted
(contexts are freed after an RCU grace period, hence the short wait)."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import BUILD, result, finish  # noqa: E402

N = 10000


def refcnt(driver):
    for blk in open("/proc/crypto").read().split("\n\n"):
        if re.search(rf"^driver\s*:\s*{re.escape(driver)}$", blk, re.M):
            return int(re.search(r"^refcnt\s*:\s*(\d+)", blk, re.M).group(1))
    return None


def churn(drv_opt, driver):
    name = f"sa-churn-{N}-{drv_opt}"
    p = subprocess.Popen([os.path.join(BUILD, "tests", "crypto_harness")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        # make sure the algorithm instance exists before taking the baseline
        p.stdin.write(f"sa 000102030405060708090a0b0c0d0e0f 00000000 0 16 {drv_opt}\n")
        p.stdin.flush()
        p.stdout.readline()
        base = refcnt(driver)
        t0 = time.monotonic()
        p.stdin.write(f"churn {N} {drv_opt}\n")
        p.stdin.flush()
        first = p.stdout.readline().split()
        add_s = time.monotonic() - t0
        during = refcnt(driver)
        p.stdin.write("go\n")
        p.stdin.flush()
        last = p.stdout.readline().split()
        after = None
        for _ in range(50):
            after = refcnt(driver)
            if after == base - 1:       # churn also removed the probe SA
                break
            time.sleep(0.1)
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    if base is None:
        result(False, name, f"{driver} not in /proc/crypto")
        return
    result(first == ["added", str(N), "ready", str(N)], f"{name}-all-ready", f"got {first}")
    result(during is not None and during - base == N - 1, f"{name}-contexts-created",
           f"refcnt {base} -> {during}, want +{N - 1} (probe SA replaced)")
    result(last == ["ok", str(N), str(N), "0"], f"{name}-no-map-entry-left", f"got {last}")
    result(after == base - 1, f"{name}-no-context-left", f"refcnt {base} -> {after}")
    print(f"# {name}: {N} SAs installed in {add_s:.2f} s", flush=True)


def kernel_choice():
    """Driver the kernel picks for plain ecb(aes) as lskcipher: the highest
    priority instance (aes-fixed-time here, aes-aesni where AES-NI exists)."""
    best = None
    for blk in open("/proc/crypto").read().split("\n\n"):
        f = dict(re.findall(r"^(\w[\w ]*?)\s*:\s*(.*)$", blk, re.M))
        if f.get("name") == "ecb(aes)" and f.get("type") == "lskcipher":
            if best is None or int(f["priority"]) > int(best["priority"]):
                best = f
    return best["driver"] if best else "ecb(aes-fixed-time)"


def main():
    churn("kernel", kernel_choice())
    churn("generic", "ecb(aes-generic)")
    finish()


if __name__ == "__main__":
    main()
