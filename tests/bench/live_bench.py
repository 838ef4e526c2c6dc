#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`, live part: the datapath under real traffic through veth.

Two sites (namespaces) with espx at both ends of a veth wire, AES-128-GCM
tunnel, default (constant-time) AES driver. For UDP payloads of 64, 512
and 1400 bytes, iperf3 sends from site A to site B for a few seconds:
  encap pps / decap pps   packets per second through espx_tc_tx (A) and
                          espx_xdp_rx (B), from the programs' run counters
  encap ns / decap ns     the programs' own cost per packet (kernel BPF run
                          statistics, kernel.bpf_stats_enabled, on while
                          measuring and restored after)
  floor ns                ecb + ghash for that ESP payload, measured by the
                          crypto harness in the same run
  ratio                   program cost / floor (aim: at most 1.25)
The pps figures are bounded by this 2-CPU machine's veth and UDP stack, not
by espx; the per-packet cost is what espx adds.
Usage: live_bench.py [--json FILE] [--sizes 64,1400] [--repeats N]
  --json     the rows, with date, kernel and CPU
  --sizes    UDP payloads to run (default 64,512,1400)
  --repeats  runs per size (default 5)"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from espx_test import Harness  # noqa: E402
import espx_sites as T  # noqa: E402

SIZES = (64, 512, 1400)
SECONDS = 2
REPEATS = 5


def prog_stats(ns, prog_id):
    r = subprocess.run(["ip", "netns", "exec", ns.name, "bpftool", "-j", "prog", "show", "id",
                        str(prog_id)], capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    return j.get("run_time_ns", 0), j.get("run_cnt", 0)


def floor_ns(h, data_len, samples=11, repeat=300):
    f = []
    for _ in range(samples):
        e = int(h.cmd(f"bench ecb {data_len} 1 {repeat}")[1])
        g = int(h.cmd(f"bench ghash {data_len} 1 {repeat}")[1])
        f.append(e + g)
    return int(statistics.median(f))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--repeats", type=int, default=REPEATS)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_was = f.read().strip()
    sc = T.Scenario("bench")
    h = Harness()
    try:
        a, b, _ = T.site_pair(sc)
    except BaseException:
        h.close()
        raise
    rows = []
    try:
        r = h.cmd(f"sa {os.urandom(16).hex()} {os.urandom(4).hex()} 0 16 kernel")
        if r[0] != "ok":
            print(f"crypto harness SA set-up failed: {r}", file=sys.stderr)
            return 1
        tc_id = json.loads(a.ns.espx("-j status").stdout)["devices"][0]["tc_prog_id"]
        xdp_id = json.loads(b.ns.espx("-j status").stdout)["devices"][0]["xdp_prog_id"]
        srv = subprocess.Popen(["ip", "netns", "exec", b.ns.name, "iperf3", "-s", "-B",
                                b.inner_ip], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        print(f"espx live benchmark  kernel {os.uname().release}  {os.cpu_count()} CPUs, "
              f"veth between two namespaces, AES-128-GCM tunnel, driver kernel")
        print(f"median of {args.repeats} runs of {SECONDS} s iperf3 UDP per size; floor = ecb + ghash "
              f"(crypto harness, sampled between the runs); ratios: medians of per-run ratios")
        print(f"  {'payload':>7} {'encap pps':>10} {'decap pps':>10} {'encap ns':>9} "
              f"{'decap ns':>9} {'floor ns':>9} {'encap/fl':>9} {'decap/fl':>9}")
        for size in sizes:
            inner = 20 + 8 + size
            dl = T_data_len(inner)
            runs, floors = [], []
            # live run and floor samples alternate, so each ratio compares
            # figures taken close together on this noisy machine
            for _ in range(args.repeats):
                t0, c0 = prog_stats(a.ns, tc_id)
                x0, d0 = prog_stats(b.ns, xdp_id)
                start = time.time()
                subprocess.run(["ip", "netns", "exec", a.ns.name, "iperf3", "-u", "-c", b.inner_ip,
                                "-B", a.inner_ip, "-l", str(size), "-b", "0", "-t", str(SECONDS),
                                "-J"], capture_output=True, check=True)
                secs = time.time() - start
                t1, c1 = prog_stats(a.ns, tc_id)
                x1, d1 = prog_stats(b.ns, xdp_id)
                runs.append(((c1 - c0) / secs, (d1 - d0) / secs,
                             (t1 - t0) / max(c1 - c0, 1), (x1 - x0) / max(d1 - d0, 1)))
                floors.append(floor_ns(h, dl, samples=5))
            fl = int(statistics.median(floors))
            med = [statistics.median(r[i] for r in runs) for i in range(4)]
            enc_r = statistics.median(r[2] / f for r, f in zip(runs, floors))
            dec_r = statistics.median(r[3] / f for r, f in zip(runs, floors))
            rows.append({"payload": size, "esp_data_len": dl, "encap_pps": int(med[0]),
                         "decap_pps": int(med[1]), "encap_ns": int(med[2]),
                         "decap_ns": int(med[3]), "floor_ns": fl,
                         "encap_over_floor": round(enc_r, 2),
                         "decap_over_floor": round(dec_r, 2)})
            r = rows[-1]
            print(f"  {size:>7} {r['encap_pps']:>10} {r['decap_pps']:>10} {r['encap_ns']:>9} "
                  f"{r['decap_ns']:>9} {fl:>9} {r['encap_over_floor']:>9} "
                  f"{r['decap_over_floor']:>9}")
        srv.terminate()
        srv.wait()
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "kernel": os.uname().release, "cpu": cpu_model(),
                           "nproc": os.cpu_count(), "seconds": SECONDS, "repeats": args.repeats,
                           "rows": rows}, f, indent=1)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_was)
        h.close()
        a.ns.close()
        b.ns.close()
    return 0


def T_data_len(inner):
    return (inner + 2 + 3) & ~3


if __name__ == "__main__":
    sys.exit(main())
