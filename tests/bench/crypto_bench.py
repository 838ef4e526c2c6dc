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
  ghash     floor 2: GHASH over AAD + data + length blocks (constant time,
            4 blocks per reduction: bpf/lib/ghash.h)
and reports the ratio of each full operation to the crypto floor
(ecb + ghash) measured in the same run. With the first driver it also times
  ghash-table  the former 8-bit-table GHASH over the same blocks (reference
            only, bpf/lib/ghash_table.h)
in the same round-robin, and reports GHASH per 16-byte block for both, in
ns and CPU cycles, and their ratio. Cycles come from perf_event_open
(PERF_COUNT_HW_CPU_CYCLES, counted by crypto_harness around each sample)
where the machine has a PMU; otherwise they are ns x the CPU's MHz from
/proc/cpuinfo, and the output says which.
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


def cpu_mhz():
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            return float(line.split(":", 1)[1])
    return None


def ghash_blocks(data_len):
    """blocks GHASH absorbs for ESP: one AAD block, the data, the length block"""
    return (data_len + 15) // 16 + 2


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
    gh_rows = []
    mhz = cpu_mhz()
    try:
        for di, (drv, desc) in enumerate(DRIVERS):
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
                if di == 0:
                    ops += ("ghash-table",)
                raw = {op: [] for op in ops}
                cyc = {op: [] for op in ops}
                # Round-robin: every sample measures all operations back to
                # back, so ratios compare figures taken under the same load.
                for _ in range(args.samples):
                    for op in ops:
                        m = h.cmd(f"bench {op} {dl} 1 {args.repeat}")
                        if m[0] != "ok":
                            print(f"bench {op} {size}: {m}", file=sys.stderr)
                            return 1
                        raw[op].append(int(m[1]))
                        if len(m) > 4 and m[4] != "-":
                            cyc[op].append(int(m[4]))
                if "ghash-table" in raw:
                    gh_rows.append(ghash_row(size, dl, raw.pop("ghash-table"), raw["ghash"],
                                             cyc["ghash-table"], cyc["ghash"], mhz))
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
            if di == 0:
                print_ghash(gh_rows, args)
    finally:
        h.close()
    out["ghash"] = {"per_size": gh_rows,
                    "slope": ghash_slope(gh_rows) if len(gh_rows) > 1 else None}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


def ghash_row(size, dl, tab, ct, tab_cyc, ct_cyc, mhz):
    """GHASH per block, tables vs constant time, from samples taken
    alternately in one run"""
    nb = ghash_blocks(dl)
    if tab_cyc and ct_cyc:
        method = "perf_event_open PERF_COUNT_HW_CPU_CYCLES"
        tc, cc = tab_cyc, ct_cyc
    else:
        method = f"derived: ns x {mhz:.0f} MHz (/proc/cpuinfo; no PMU)" if mhz else "none"
        tc = [t * mhz / 1000 for t in tab] if mhz else []
        cc = [t * mhz / 1000 for t in ct] if mhz else []
    row = {"payload": size, "esp_data_len": dl, "blocks": nb,
           "table_ns_per_block": round(statistics.median(tab) / nb, 1),
           "ct_ns_per_block": round(statistics.median(ct) / nb, 1),
           # the ratio of each sample pair, then the median
           "table_over_ct": round(statistics.median(t / c for t, c in zip(tab, ct)), 3),
           "cycles_method": method}
    if tc and cc:
        row["table_cycles_per_block"] = round(statistics.median(tc) / nb)
        row["ct_cycles_per_block"] = round(statistics.median(cc) / nb)
    return row


def ghash_slope(rows):
    """marginal cost of a block between the smallest and largest payload
    (the per-call cost cancels), from the medians"""
    lo, hi = rows[0], rows[-1]
    db = hi["blocks"] - lo["blocks"]
    out = {"from_payload": lo["payload"], "to_payload": hi["payload"]}
    for k in ("table", "ct"):
        out[f"{k}_ns_per_block"] = round((hi[f"{k}_ns_per_block"] * hi["blocks"] -
                                          lo[f"{k}_ns_per_block"] * lo["blocks"]) / db, 1)
        if f"{k}_cycles_per_block" in hi:
            out[f"{k}_cycles_per_block"] = round((hi[f"{k}_cycles_per_block"] * hi["blocks"] -
                                                  lo[f"{k}_cycles_per_block"] * lo["blocks"]) / db)
    out["table_over_ct"] = round(out["table_ns_per_block"] / out["ct_ns_per_block"], 3)
    return out


def print_ghash(rows, args):
    if not rows:
        return
    print("GHASH per 16-byte block (AAD + data + length blocks, per-call cost "
          "included),\n8-bit tables (former, not constant time) vs constant time "
          f"(ctmul64, 4 blocks per reduction);\ncycles: {rows[0]['cycles_method']}")
    print(f"  {'payload':>7} {'blocks':>6} {'table ns':>9} {'ct ns':>7} "
          f"{'table cyc':>9} {'ct cyc':>7} {'table/ct':>8}")
    for r in rows:
        print(f"  {r['payload']:>7} {r['blocks']:>6} {r['table_ns_per_block']:>9} "
              f"{r['ct_ns_per_block']:>7} {r.get('table_cycles_per_block', '-'):>9} "
              f"{r.get('ct_cycles_per_block', '-'):>7} {r['table_over_ct']:>8.2f}")
    if len(rows) > 1:
        m = ghash_slope(rows)
        print(f"  {'slope':>7} {'':>6} {m['table_ns_per_block']:>9} {m['ct_ns_per_block']:>7} "
              f"{m.get('table_cycles_per_block', '-'):>9} {m.get('ct_cycles_per_block', '-'):>7} "
              f"{m['table_over_ct']:>8.2f}   (per extra block, {m['from_payload']} -> "
              f"{m['to_payload']} B)")
    print()


if __name__ == "__main__":
    sys.exit(main())
