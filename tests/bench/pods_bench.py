#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`, container hosts: the pod fast path against the normal path.

Two nodes (namespaces) joined by an uplink veth, one pod (namespace) behind
each, routed as Calico does (pod /32, a fixed gateway neighbour, a /32 route
on the node). espx on both uplinks, one AES-128-GCM tunnel SA pair for the
pod CIDRs. Traffic: iperf3 from pod 1 to pod 2, UDP 64-byte and 1400-byte
payloads at full rate and one TCP stream. Per round, the same traffic on
both paths, alternating (normal, then `espx attach VETH --redirect` on both
pod veths):
  pps          packets decrypted by node 2's SA per second (what crossed)
  busy ns      whole-machine busy CPU time (/proc/stat, all CPUs, iperf3
               included) per packet crossed
  bpf ns       espx's programs on both nodes (kernel.bpf_stats_enabled, on
               while measuring and restored after) per packet crossed
  xdp->pod %   of the packets crossed, those node 2 redirected from XDP
               straight into the pod's veth (the fast path taken)
Figures are medians over the rounds; ratio = fast / normal of the medians.
Usage: pods_bench.py [--json FILE]   (also ESPX_POD_BENCH_ROUNDS, _SECONDS)"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from espx_test import Netns, sh, veth  # noqa: E402

AEAD = "'rfc4106(gcm(aes))'"
ROUNDS = int(os.environ.get("ESPX_POD_BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("ESPX_POD_BENCH_SECONDS", "3"))
LOADS = (("udp", 64), ("udp", 1400), ("tcp", 0))


def busy_ns():
    """Busy CPU time of the whole machine so far (ns): all but idle, iowait."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(v[:8]) - v[3] - v[4]) * 1_000_000_000 // tick


def build():
    nodes = [Netns(f"n{i}") for i in (1, 2)]
    pods = [Netns(f"p{i}") for i in (1, 2)]
    veth(nodes[0], "up1", nodes[1], "up2")
    for i, (n, p) in enumerate(zip(nodes, pods), 1):
        n.run(f"ip addr add 10.0.0.{i}/24 dev up{i}")
        veth(n, f"vp{i}", p, "eth0")
        mac = json.loads(n.run(f"ip -j link show vp{i}").stdout)[0]["address"]
        p.run(f"ip addr add 10.244.{i}.10/32 dev eth0")
        p.run(f"ip neigh add 169.254.1.1 lladdr {mac} dev eth0 nud permanent")
        p.run("ip route add 169.254.1.1 dev eth0")
        p.run("ip route add default via 169.254.1.1 dev eth0")
        n.run("sysctl -qw net.ipv4.ip_forward=1")
        n.run(f"ip route add 10.244.{i}.10/32 dev vp{i}")
        n.run(f"ip route add 10.244.{3 - i}.0/24 via 10.0.0.{3 - i}")
    keys = [os.urandom(20).hex() for _ in range(2)]
    for i, n in enumerate(nodes, 1):
        j = 3 - i
        n.espx(f"attach up{i}")
        for spi, s, d, k in ((0x301, 1, 2, keys[0]), (0x302, 2, 1, keys[1])):
            n.espx(f"state add src 10.0.0.{s} dst 10.0.0.{d} proto esp spi {spi:#x} reqid {spi} "
                   f"mode tunnel aead {AEAD} 0x{k} 128 sel src 10.244.{s}.0/24 dst 10.244.{d}.0/24")
        out, inn = (0x301, 0x302) if i == 1 else (0x302, 0x301)
        n.espx(f"policy add src 10.244.{i}.0/24 dst 10.244.{j}.0/24 dir out tmpl src 10.0.0.{i} "
               f"dst 10.0.0.{j} proto esp reqid {out} mode tunnel")
        for d in ("in", "fwd"):
            n.espx(f"policy add src 10.244.{j}.0/24 dst 10.244.{i}.0/24 dir {d} tmpl "
                   f"src 10.0.0.{j} dst 10.0.0.{i} proto esp reqid {inn} mode tunnel")
    return nodes, pods


def espx_prog_ns(ns):
    """run_time_ns summed over every espx program loaded in ns."""
    r = ns.run("bpftool -j prog show")
    return sum(p.get("run_time_ns", 0) for p in json.loads(r.stdout)
               if p.get("name", "").startswith("espx_"))


def sa_packets(ns, spi):
    for s in json.loads(ns.espx("-j stats").stdout)["sas"]:
        if s["spi"] == spi:
            return s["packets"]
    return 0


def fast_packets(ns, direction):
    d = json.loads(ns.espx("-j stats").stdout)["drops"][direction]
    return d.get("fast-path", {}).get("packets", 0)


def one_run(nodes, pods, proto, size):
    b0, p0 = busy_ns(), sum(espx_prog_ns(n) for n in nodes)
    c0 = sa_packets(nodes[1], 0x301)
    f0 = fast_packets(nodes[1], "in")
    cmd = f"iperf3 -c 10.244.2.10 -t {SECONDS} -J"
    if proto == "udp":
        cmd += f" -u -b 0 -l {size}"
    t0 = time.time()
    pods[0].run(cmd, timeout=SECONDS + 30)
    secs = time.time() - t0
    c1 = sa_packets(nodes[1], 0x301)
    b1, p1 = busy_ns(), sum(espx_prog_ns(n) for n in nodes)
    f1 = fast_packets(nodes[1], "in")
    n = max(c1 - c0, 1)
    return (c1 - c0) / secs, (b1 - b0) / n, (p1 - p0) / n, 100 * (f1 - f0) / n


def fast(nodes, on):
    for i, n in enumerate(nodes, 1):
        n.espx(f"attach vp{i} --redirect" if on else f"detach vp{i}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_was = f.read().strip()
    nodes, pods = build()
    srv = None
    try:
        srv = subprocess.Popen(["ip", "netns", "exec", pods[1].name, "iperf3", "-s"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), "?")
        print(f"espx pod fast path benchmark  kernel {os.uname().release}  {os.cpu_count()} CPUs  "
              f"{cpu}")
        print(f"pod -> node -> uplink (ESP) -> node -> pod, routed; {ROUNDS} rounds of {SECONDS} s "
              f"per load and path, paths alternating; medians; ratio = fast / normal")
        print(f"  {'load':>9} {'path':>6} {'pps':>9} {'busy ns':>8} {'bpf ns':>7} {'xdp->pod %':>10}")
        rows = []
        for proto, size in LOADS:
            res = {"normal": [], "fast": []}
            for _ in range(ROUNDS):
                for path in ("normal", "fast"):
                    if path == "fast":
                        fast(nodes, True)
                    res[path].append(one_run(nodes, pods, proto, size))
                    if path == "fast":
                        fast(nodes, False)
            load = f"{proto} {size}B" if size else "tcp"
            med = {p: [statistics.median(r[i] for r in res[p]) for i in range(4)] for p in res}
            for p in ("normal", "fast"):
                print(f"  {load:>9} {p:>6} {med[p][0]:>9.0f} {med[p][1]:>8.0f} {med[p][2]:>7.0f} "
                      f"{med[p][3]:>10.0f}")
            ratio = [med["fast"][i] / med["normal"][i] for i in range(3)]
            print(f"  {load:>9} {'ratio':>6} {ratio[0]:>9.2f} {ratio[1]:>8.2f} {ratio[2]:>7.2f}")
            keys = ("pps", "busy_ns", "bpf_ns", "xdp_to_pod_pct")
            rows.append({"load": load, "normal": dict(zip(keys, med["normal"])),
                         "fast": dict(zip(keys, med["fast"])),
                         "ratio": dict(zip(keys, ratio))})
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "kernel": os.uname().release, "cpu": cpu, "nproc": os.cpu_count(),
                           "rounds": ROUNDS, "seconds": SECONDS, "rows": rows}, f, indent=1)
    finally:
        if srv:
            srv.terminate()
            srv.wait()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_was)
        for ns in pods + nodes:
            ns.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
