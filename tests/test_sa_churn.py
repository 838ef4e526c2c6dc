#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Adding and removing 10,000 SAs leaves no crypto context and no map entry
behind. Contexts are counted through /proc/crypto: every ecb(aes) context
holds a reference on its algorithm instance, so the instance's refcnt must
rise by exactly N while the SAs exist and fall back once they are deleted
(contexts are freed after an RCU grace period, hence the short wait).

The refcnt is machine-wide: anything else creating or freeing contexts of
the same instance meanwhile (another espx test adding SAs) moves it too.
So churn runs machine-wide one at a time (a lock), and a measurement that
is off is repeated: a leak shows in every attempt, someone else's SAs
seldom exactly between the same readings. Only an exact attempt passes."""
import fcntl
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import BUILD, result, finish  # noqa: E402

N = 10000
ATTEMPTS = 5
LOCK = "/run/lock/espx-test-sa-churn.lock"


def refcnt(driver):
    for blk in open("/proc/crypto").read().split("\n\n"):
        if re.search(rf"^driver\s*:\s*{re.escape(driver)}$", blk, re.M):
            return int(re.search(r"^refcnt\s*:\s*(\d+)", blk, re.M).group(1))
    return None


def churn_once(drv_opt, driver):
    """One churn of N SAs: the harness's answers and the refcnt before,
    while the SAs exist, and after (waiting up to 5 s for it to come back)."""
    p = subprocess.Popen([os.path.join(BUILD, "tests", "crypto_harness")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    m = {"base": None, "during": None, "after": None, "first": None, "last": None}
    try:
        # make sure the algorithm instance exists before taking the baseline
        p.stdin.write(f"sa 000102030405060708090a0b0c0d0e0f 00000000 0 16 {drv_opt}\n")
        p.stdin.flush()
        p.stdout.readline()
        m["base"] = refcnt(driver)
        t0 = time.monotonic()
        p.stdin.write(f"churn {N} {drv_opt}\n")
        p.stdin.flush()
        m["first"] = p.stdout.readline().split()
        m["add_s"] = time.monotonic() - t0
        m["during"] = refcnt(driver)
        p.stdin.write("go\n")
        p.stdin.flush()
        m["last"] = p.stdout.readline().split()
        for _ in range(50):
            m["after"] = refcnt(driver)
            if m["base"] is not None and m["after"] <= m["base"] - 1:	# churn also removed the probe SA
                break
            time.sleep(0.1)
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    return m


def exact(m):
    """The probe SA is replaced by N churn SAs, then all are removed."""
    return m["base"] is not None and m["during"] is not None and \
        m["during"] - m["base"] == N - 1 and m["after"] == m["base"] - 1


def churn(drv_opt, driver):
    name = f"sa-churn-{N}-{drv_opt}"
    tries = []
    for _ in range(ATTEMPTS):
        m = churn_once(drv_opt, driver)
        tries.append(m)
        if m["base"] is None or exact(m):
            break
        print(f"# {name}: refcnt {m['base']} -> {m['during']} -> {m['after']}, "
              f"want +{N - 1} then {m['base'] - 1}", flush=True)
    m = tries[-1]
    if m["base"] is None:
        result(False, name, f"{driver} not in /proc/crypto")
        return
    # what the harness says does not depend on anyone else: every attempt
    result(all(t["first"] == ["added", str(N), "ready", str(N)] for t in tries),
           f"{name}-all-ready", f"got {[t['first'] for t in tries]}")
    result(all(t["last"] == ["ok", str(N), str(N), "0"] for t in tries),
           f"{name}-no-map-entry-left", f"got {[t['last'] for t in tries]}")
    seen = "; ".join(f"{t['base']} -> {t['during']} -> {t['after']}" for t in tries)
    result(m["during"] is not None and m["during"] - m["base"] == N - 1, f"{name}-contexts-created",
           f"refcnt (before -> with the SAs -> after) in {len(tries)} attempts: {seen}; "
           f"want +{N - 1} (probe SA replaced)")
    result(m["after"] == m["base"] - 1, f"{name}-no-context-left",
           f"refcnt (before -> with the SAs -> after) in {len(tries)} attempts: {seen}; "
           f"want before - 1 (probe SA removed too)")
    print(f"# {name}: {N} SAs installed in {m['add_s']:.2f} s", flush=True)


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
    # another churn (another worktree's test run) would move the refcnt by N
    with open(os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o600)) as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        churn("kernel", kernel_choice())
        churn("generic", "ecb(aes-generic)")
    finish()


if __name__ == "__main__":
    main()
