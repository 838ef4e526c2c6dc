#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# For tests/vm/strongswan.sh (espx mode): follow, every ~0.25 s, which ESP SPIs the kernel's
# XFRM database holds in namespace NS (`ip -n NS xfrm state`, what charon installed) and
# which espx's maps hold (`ip netns exec NS ESPX -j state list`, what the daemon mirrored;
# entries with a "kernel" reason, SAs the daemon left to the kernel, do not count).
# On SIGTERM/SIGINT print one JSON object: per SPI how long after it appeared in (left)
# the kernel it appeared in (left) espx, the largest lags, and SPIs that never made it.
#   swan_watch.py NS ESPX
import json
import re
import signal
import subprocess
import sys
import time

ns, espx = sys.argv[1], sys.argv[2]
stop = False


def on_signal(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def kernel_spis():
    out = subprocess.run(["ip", "-n", ns, "xfrm", "state"], capture_output=True, text=True).stdout
    return {int(m, 16) for m in re.findall(r"proto esp spi (0x[0-9a-f]+)", out)}


def espx_spis():
    r = subprocess.run(["ip", "netns", "exec", ns, espx, "-j", "state", "list"],
                       capture_output=True, text=True)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        return None
    found = set()

    # an entry with "kernel" (the reason) is one the daemon left to the kernel: not carried
    def walk(d):
        if isinstance(d, list):
            for x in d:
                walk(x)
        elif isinstance(d, dict):
            if "spi" in d and isinstance(d["spi"], int) and d.get("proto", "esp") == "esp":
                if "kernel" in d:
                    left_to_kernel.setdefault(d["spi"], d["kernel"])
                else:
                    found.add(d["spi"])
            else:
                for v in d.values():
                    walk(v)

    walk(j)
    return found


k_in, k_out, e_in, e_out = {}, {}, {}, {}	# spi -> first time seen / time gone
left_to_kernel = {}	# spi -> why
prev_k, prev_e = set(), set()
t0 = time.monotonic()
samples = bad_samples = 0
while not stop:
    now = time.monotonic() - t0
    k = kernel_spis()
    e = espx_spis()
    samples += 1
    if e is None:
        bad_samples += 1
        e = prev_e
    for s in k - prev_k:
        k_in.setdefault(s, now)
    for s in prev_k - k:
        k_out.setdefault(s, now)
    for s in e - prev_e:
        e_in.setdefault(s, now)
    for s in prev_e - e:
        e_out.setdefault(s, now)
    prev_k, prev_e = k, e
    time.sleep(0.25)
end = time.monotonic() - t0

add_lag, del_lag, never, stuck = {}, {}, [], []
for s, t in k_in.items():
    if s in e_in:
        add_lag[s] = max(0.0, e_in[s] - t)
    elif s in prev_k:
        never.append(s)
for s, t in k_out.items():
    if s in e_out:
        del_lag[s] = max(0.0, e_out[s] - t)
    elif s in prev_e:
        stuck.append(s)
        del_lag[s] = end - t
print(json.dumps({
    "samples": samples, "bad_samples": bad_samples, "seconds": round(end, 1),
    "kernel_spis": len(k_in), "kernel_deleted": len(k_out),
    "max_add_lag": round(max(add_lag.values(), default=0.0), 2),
    "max_del_lag": round(max(del_lag.values(), default=0.0), 2),
    "never_mirrored": ["0x%08x" % s for s in never],
    "left_in_espx": ["0x%08x" % s for s in stuck],
    "left_to_kernel": {"0x%08x" % k: v for k, v in left_to_kernel.items()},
    "final_kernel": ["0x%08x" % s for s in sorted(prev_k)],
    "final_espx": ["0x%08x" % s for s in sorted(prev_e)],
}), flush=True)
