#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`: cost of ESP AES-GCM in the BPF crypto core, per packet.

For ESP payloads of 64, 512 and 1400 bytes it times, with BPF_PROG_TEST_RUN
(SAMPLES samples of REPEAT back-to-back runs each; the median sample, with
the 10th-90th percentile spread):
  esp-seal  full ESP encrypt: AAD, nonce, counter blocks, one ecb(aes) kfunc
            call, XOR, GHASH, ICV written
  esp-open  full ESP decrypt: the same plus ICV check and write-back. Each
            run first restores the pristine packet (its first run replaced
            the ciphertext); that copy is timed alone (`restore`) and taken
            out of the figure shown
  ecb       floor 1: counter blocks + the one ecb(aes) kfunc call
  ghash     floor 2: GHASH over AAD + data + length blocks
and reports the ratio of each full operation to the crypto floor
(ecb + ghash) measured in the same run.
Usage: crypto_bench.py [--samples N] [--repeat R] [--json FILE]"""
import argparse
import json
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from espx_test import Harness  # noqa: E402

SIZES = (64, 512, 1400)
DRIVERS = (("kernel", "ecb(aes) = kernel's choice (constant time)"),
           ("generic", "ecb(aes-generic) (table-based, not constant time)"))


def pct(v):
    """median, 10th and 90th percentile of a list of samples"""
    v = sorted(v)
    return [int(statistics.median(v)), v[len(v) // 10], v[min(len(v) - 1, len(v) * 9 // 10)]]


def esp_data_len(payload):
    """ESP plaintext: payload + pad-length + next-header, padded to 4 bytes."""
    n = payload + 2
    return (n + 3) & ~3


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def kernel_driver():
    best = None
    for blk in open("/proc/crypto").read().split("\n\n"):
        f = dict(l.split(":", 1) for l in blk.splitlines() if ":" in l)
        f = {k.strip(): v.strip() for k, v in f.items()}
        if f.get("name") == "ecb(aes)" and f.get("type") == "lskcipher":
            if best is None or int(f["priority"]) > int(best["priority"]):
                best = f
    return best["driver"] if best else "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=21)
    ap.add_argument("--repeat", type=int, default=500)
    ap.add_argument("--json")
    args = ap.parse_args()
    h = Harness()
    out = {"kernel": platform.release(), "cpu": cpu_model(), "nproc": os.cpu_count(),
           "samples": args.samples, "repeat": args.repeat,
           "method": "BPF_PROG_TEST_RUN, median of samples of repeat runs, ns per run",
           "results": []}
    print(f"espx crypto-core benchmark  kernel {out['kernel']}  cpu {out['cpu']} "
          f"x{out['nproc']}")
    print(f"ns per packet: median of {args.samples} BPF_PROG_TEST_RUN samples of "
          f"{args.repeat} runs (p10-p90 in brackets), operations interleaved;\n"
          f"floor = ecb + ghash; ratios are medians of per-sample ratios\n")
    try:
        for drv, desc in DRIVERS:
            key = os.urandom(16).hex()
            r = h.cmd(f"sa {key} {os.urandom(4).hex()} 0 16 {drv}")
            if r[0] != "ok":
                print(f"driver {drv}: SA set-up failed: {r}", file=sys.stderr)
                return 1
            name = kernel_driver() if drv == "kernel" else "ecb(aes-generic)"
            print(f"AES-128-GCM, driver {drv}: {desc}; instance {name}")
            nop = h.cmd(f"bench nop 64 {args.samples} {args.repeat}")
            print(f"  empty program: {nop[1]} ns per run")
            hdr = f"  {'payload':>7} {'esp-seal':>16} {'esp-open':>16} {'ecb':>14} " \
                  f"{'ghash':>14} {'floor':>6} {'seal/floor':>10} {'open/floor':>10}"
            print(hdr)
            for size in SIZES:
                dl = esp_data_len(size)
                ops = ("esp-seal", "esp-open", "restore", "ecb", "ghash")
                raw = {op: [] for op in ops}
                # Round-robin: every sample measures all operations back to
                # back, so ratios compare figures taken under the same load.
                for _ in range(args.samples):
                    for op in ops:
                        m = h.cmd(f"bench {op} {dl} 1 {args.repeat}")
                        if m[0] != "ok":
                            print(f"bench {op} {size}: {m}", file=sys.stderr)
                            return 1
                        raw[op].append(int(m[1]))
                raw["esp-open"] = [o - r for o, r in zip(raw["esp-open"], raw.pop("restore"))]
                floors = [e + g for e, g in zip(raw["ecb"], raw["ghash"])]
                cell = {op: pct(v) for op, v in raw.items()}
                floor = pct(floors)
                seal_r = statistics.median(s / f for s, f in zip(raw["esp-seal"], floors))
                open_r = statistics.median(o / f for o, f in zip(raw["esp-open"], floors))

                def fmt(v, w):
                    return f"{v[0]:>{w - 12}} [{v[1]}-{v[2]}]".rjust(w)
                print(f"  {size:>7} {fmt(cell['esp-seal'], 16)} {fmt(cell['esp-open'], 16)} "
                      f"{fmt(cell['ecb'], 14)} {fmt(cell['ghash'], 14)} {floor[0]:>6} "
                      f"{seal_r:>10.2f} {open_r:>10.2f}")
                out["results"].append({"driver": drv, "instance": name, "payload": size,
                                       "esp_data_len": dl, "nop_ns": int(nop[1]),
                                       **{k.replace("-", "_"): {"median": v[0], "p10": v[1],
                                                                "p90": v[2]}
                                          for k, v in cell.items()},
                                       "floor_ns": floor[0],
                                       "seal_over_floor": round(seal_r, 3),
                                       "open_over_floor": round(open_r, 3)})
            print()
    finally:
        h.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
