#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`, two-CPU part: what it costs when two CPUs use one SA.

Sites a and b as in the live bench (AES-128-GCM tunnel through veth), but
the wire has two queues per end and a's transmit queue i is CPU i's (XPS),
as in tests/test_two_cpu.py: a sender pinned to CPU i runs a's espx_tc_tx
on CPU i, and veth runs b's espx_xdp_rx for that packet on the same CPU.
Every packet goes through the same outbound SA on a and inbound SA on b,
whose sequence number (and, on b, replay window) both CPUs then write.

For 64-byte UDP, iperf3 (-A: CPU affinity) sends for a few seconds:
  one   one sender on CPU 0
  two   two senders at once, on CPU 0 and CPU 1
and the programs' own cost per packet is read from the kernel's BPF run
statistics (kernel.bpf_stats_enabled, restored after). two/one says what
sharing the SA's cache lines between two CPUs adds; the rest of two's cost
is the machine's (both CPUs also run the UDP stack and veth). Phases
alternate, ROUNDS times; medians. To compare builds, run it once per build
(ESPX_BUILD=DIR/build) alternately.
Usage: two_cpu_bench.py [--json FILE] [--rounds N] [--seconds S]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import espx_sites as T  # noqa: E402
from espx_test import BUILD  # noqa: E402

PAYLOAD = 64
PORTS = (5201, 5202)


def prog_stats(ns, prog_id):
    r = subprocess.run(["ip", "netns", "exec", ns.name, "bpftool", "-j", "prog", "show", "id",
                        str(prog_id)], capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    return j.get("run_time_ns", 0), j.get("run_cnt", 0)


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def phase(a, b, ids, cpus, seconds):
    """(encap pps, decap pps, encap ns, decap ns) with one sender per CPU"""
    t0, c0 = prog_stats(a.ns, ids[0])
    x0, d0 = prog_stats(b.ns, ids[1])
    start = time.time()
    clients = [subprocess.Popen(["ip", "netns", "exec", a.ns.name, "iperf3", "-u", "-c",
                                 b.inner_ip, "-B", a.inner_ip, "-p", str(PORTS[i]), "-A", str(cpu),
                                 "-l", str(PAYLOAD), "-b", "0", "-t", str(seconds)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for i, cpu in enumerate(cpus)]
    for c in clients:
        err = c.communicate()[1]
        if c.returncode:
            raise RuntimeError(f"iperf3 client failed: {err.strip()[-300:]}")
    secs = time.time() - start
    t1, c1 = prog_stats(a.ns, ids[0])
    x1, d1 = prog_stats(b.ns, ids[1])
    if c1 - c0 < 1000 or d1 - d0 < 1000:
        raise RuntimeError(f"too few packets through espx: {c1 - c0} encapsulated, "
                           f"{d1 - d0} decapsulated")
    return ((c1 - c0) / secs, (d1 - d0) / secs, (t1 - t0) / (c1 - c0), (x1 - x0) / (d1 - d0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=2)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("two-CPU bench: SKIPPED: needs root (namespaces, BPF)")
        return 0
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("two-CPU bench: SKIPPED: needs two CPUs")
        return 0
    cpus = cpus[:2]
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_was = f.read().strip()
    sc = T.Scenario("bench2", queues=2)
    a, b, _ = T.site_pair(sc)
    servers = []
    try:
        for q, cpu in enumerate(cpus):
            a.ns.run(f"sh -c 'echo {1 << cpu:x} > /sys/class/net/{a.dev}/queues/tx-{q}/xps_cpus'")
        ids = (json.loads(a.ns.espx("-j status").stdout)["devices"][0]["tc_prog_id"],
               json.loads(b.ns.espx("-j status").stdout)["devices"][0]["xdp_prog_id"])
        servers = [subprocess.Popen(["ip", "netns", "exec", b.ns.name, "iperf3", "-s", "-B",
                                     b.inner_ip, "-p", str(p)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for p in PORTS]
        time.sleep(1)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        rev = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(BUILD)), "rev-parse",
                              "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        print(f"espx two-CPU benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
              f"kernel {os.uname().release}  cpu {cpu_model()} x{os.cpu_count()}  "
              f"build {BUILD} ({rev or '?'})")
        print(f"one AES-128-GCM tunnel SA each way, {PAYLOAD}-byte UDP, {args.seconds} s per "
              f"phase, median of {args.rounds} rounds (phases alternate)")
        runs = {"one": [], "two": []}
        for r in range(args.rounds):
            order = ("one", "two") if r % 2 == 0 else ("two", "one")
            for p in order:
                runs[p].append(phase(a, b, ids, cpus[:1] if p == "one" else cpus, args.seconds))
        med = {p: [statistics.median(x[i] for x in v) for i in range(4)] for p, v in runs.items()}
        print(f"  {'senders':<8} {'encap pps':>10} {'decap pps':>10} {'encap ns':>9} {'decap ns':>9}")
        for p in ("one", "two"):
            m = med[p]
            print(f"  {p:<8} {m[0]:>10.0f} {m[1]:>10.0f} {m[2]:>9.0f} {m[3]:>9.0f}")
        enc = med["two"][2] / med["one"][2]
        dec = med["two"][3] / med["one"][3]
        print(f"  two/one: encap {enc:.2f}  decap {dec:.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "kernel": os.uname().release, "cpu": cpu_model(),
                           "nproc": os.cpu_count(), "build": BUILD, "rev": rev,
                           "payload": PAYLOAD, "seconds": args.seconds, "rounds": args.rounds,
                           "phases": {p: {"encap_pps": int(m[0]), "decap_pps": int(m[1]),
                                          "encap_ns": int(m[2]), "decap_ns": int(m[3])}
                                      for p, m in med.items()},
                           "two_over_one": {"encap": round(enc, 3), "decap": round(dec, 3)},
                           "runs": runs}, f, indent=1)
    except RuntimeError as e:
        print(f"two-CPU bench: {e}", file=sys.stderr)
        return 1
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_was)
        for s in servers:
            s.terminate()
            s.wait()
        a.ns.close()
        b.ns.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
