#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`, policy part: what policy lookup costs a plaintext packet
as the policy table grows.

Each case is a network namespace of its own (named with this PID) with a
veth pair, `espx attach` on one end, one AES-GCM SA (10.0.0.1 -> 10.0.0.2,
reqid 1) and a policy table, in `ip xfrm` words:
  A  1 subnet policy per direction: in 10.{64+L/256}.{L%256}.0/24 ->
     10.{128+L/256}.{L%256}.0/24 for L = 9999 (template from 10.0.0.1,
     the SA), out the reverse (template to 10.0.0.1: no SA, so a match is
     dropped, not encrypted)
  B  100 subnet policies per direction, the same for N = 0..98 and then L:
     A's policy is B's last
  D  10,000 subnet policies per direction, N = 0..9998 and then L
  C  256 port policies per direction on 10.9.0.0/16, TCP dport 1000+N: a
     UDP packet in 10.9.0.0/16 is inside every policy's prefixes and
     matches none (16 of them are hashed, one chain; the rest in slots)
  H  D's table with the datapath's verdict cache on (bpf/lib/verdict_cache.h):
     a flow's later packets. A, B, D and C are attached with
     ESPX_VERDICT_CACHE=off, so that every run takes the whole lookup, as
     a flow's first packet does. (H's tc match is an out policy without
     SA: an acquire, never cached.)
The policies go in with build/tests/pol_batch (one table commit; `espx
policy add` reloads the datapath on every call).

The attached programs (ids from `espx -j status`) are timed with
BPF_PROG_TEST_RUN through `bpftool prog run` inside the case's namespace
(the receive path's route lookup sees that namespace), on 64-byte UDP in
Ethernet/IPv4:
  nomatch  10.9.9.1 -> 10.9.9.2: no policy of A or B covers it (C: all do,
           by address)
  match    espx_xdp_rx: 10.103.15.1 -> 10.167.15.1 (in L), in plaintext
           where the in policy requires ESP (dropped); espx_tc_tx: the
           reverse, out policy without SA (dropped). A's only policy, the
           last of B and D
Nothing is sent anywhere: test runs only. Every figure's return value is
checked against the verdict it stands for.

SAMPLES samples of REPEAT runs each, every figure of every case taken in
each sample, the order reversed every other sample; medians (ns per run)
and ratios of medians. --old DIR also times the tree built in DIR (e.g. a
worktree of an earlier commit, after `make` there) in namespaces of its own,
in the same samples.
Usage: policy_bench.py [--samples N] [--repeat R] [--old DIR] [--cases ABDCH]
                       [--json FILE]"""
import argparse
import glob
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BPFTOOL = os.environ.get("BPFTOOL", "bpftool")
SA = ("src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001 reqid 1 mode tunnel "
      "replay-window 128 aead 'rfc4106(gcm(aes))' 0x{key} 128")
TMPL_IN = "tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel"
TMPL_OUT = "tmpl src 10.0.0.2 dst 10.0.0.1 proto esp reqid 1 mode tunnel"
NPOL = 256          # ESPX_MAX_POLICY: case C
LAST = 9999         # the subnet pair every subnet case ends with
XDP_PASS, XDP_DROP, TC_ACT_OK, TC_ACT_SHOT = 2, 1, 0, 2


def subnet(base, n):
    return f"10.{base + (n >> 8)}.{n & 255}.0/24"


def subnet_pair(n):
    remote, local = subnet(64, n), subnet(128, n)
    return [f"src {remote} dst {local} dir in {TMPL_IN}",
            f"src {local} dst {remote} dir out {TMPL_OUT}"]


def subnet_table(n):
    """n subnet policies per direction, L's last"""
    return [l for i in list(range(n - 1)) + [LAST] for l in subnet_pair(i)]


def port_pair(n):
    sel = f"src 10.9.0.0/16 dst 10.9.0.0/16 proto tcp dport {1000 + n}"
    return [f"{sel} dir in {TMPL_IN}", f"{sel} dir out {TMPL_OUT}"]


CASES = {
    "A": ("1 subnet policy per direction", subnet_table(1)),
    "B": ("100 subnet policies per direction", subnet_table(100)),
    "D": ("10,000 subnet policies per direction", subnet_table(10000)),
    "C": (f"{NPOL} TCP-port policies per direction on 10.9.0.0/16",
          [l for n in range(NPOL) for l in port_pair(n)]),
    "H": ("D's 10,000 with the verdict cache on (later packets of a flow)",
          subnet_table(10000)),
}

# (figure, program, packet, expected return value); C has no match figure
FIGURES = (("nomatch", "xdp", "nomatch", XDP_PASS), ("nomatch", "tc", "nomatch", TC_ACT_OK),
           ("match", "xdp", "in_last", XDP_DROP), ("match", "tc", "out_last", TC_ACT_SHOT))


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"'{cmd[:160]}' failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return r


def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def udp_frame(src, dst, payload=64):
    udp = struct.pack("!HHHH", 40000, 5000, 8 + payload, 0) + b"\xab" * payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def build_pol_batch(tree, tmp):
    """pol_batch for a tree: its own build, or compiled here against an
    older tree's objects (the tool only needs policy_publish())."""
    own = os.path.join(tree, "build", "tests", "pol_batch")
    if os.path.exists(own):
        return own
    objs = [o for o in glob.glob(os.path.join(tree, "build", "user", "*.o"))
            if not o.endswith("/espx.o")]
    out = os.path.join(tmp, f"pol_batch-{os.path.basename(tree.rstrip('/'))}")
    sh(f"{os.environ.get('CC', 'gcc')} -O2 -D_GNU_SOURCE -I{tree}/include -I{tree}/user "
       f"-I{tree}/build {ROOT}/tests/tools/pol_batch.c {' '.join(objs)} "
       f"-lbpf -lelf -lz -lmnl -o {out}")
    return out


class Case:
    """One namespace: espx of one tree attached to a veth end, the SA and
    one policy table. close() removes all of it."""

    def __init__(self, tag, tree, case, pol_batch, tmp):
        self.tag, self.tree, self.case = tag, tree, case
        self.espx = os.path.join(tree, "build", "espx")
        self.ns = f"espxpb{os.getpid()}-{tag}"
        self.made = False
        sh(f"ip netns add {self.ns}")
        self.made = True
        sh(f"ip -n {self.ns} link set lo up")
        sh(f"ip -n {self.ns} link add v0 type veth peer name v1")
        sh(f"ip -n {self.ns} link set v0 up")
        sh(f"ip -n {self.ns} link set v1 up")
        self.run(f"{self.espx} attach v0")
        self.run(f"{self.espx} state add " + SA.format(key=os.urandom(20).hex()))
        pols = os.path.join(tmp, f"pol-{tag}.txt")
        with open(pols, "w") as f:
            f.write("\n".join(CASES[case][1]) + "\n")
        r = self.run(f"{pol_batch} < {pols}")
        want = f"ok {len(CASES[case][1])}"
        if r.stdout.strip() != want:
            raise RuntimeError(f"{tag}: pol_batch said {r.stdout.strip()!r}, not {want!r}")
        n = self.run(f"{self.espx} policy list").stdout.count("\tdir ")
        if n != len(CASES[case][1]):
            raise RuntimeError(f"{tag}: espx policy list shows {n} policies, "
                               f"not {len(CASES[case][1])}")
        dev = json.loads(self.run(f"{self.espx} -j status").stdout)["devices"][0]
        self.prog = {"xdp": dev["xdp_prog_id"], "tc": dev["tc_prog_id"]}

    def run(self, cmd, check=True):
        env = "" if self.case == "H" else "env ESPX_VERDICT_CACHE=off "
        return sh(f"ip netns exec {self.ns} {env}{cmd}", check=check)

    def time(self, prog, pkt_file, repeat):
        """(return value, ns per run) of one BPF_PROG_TEST_RUN"""
        r = self.run(f"{BPFTOOL} prog run id {self.prog[prog]} data_in {pkt_file} "
                     f"repeat {repeat}")
        # "Return value: 2, duration (average): 94ns"
        words = r.stdout.replace(",", " ").replace(":", " ").split()
        ret = int(words[words.index("value") + 1])
        ns = int(words[words.index("(average)") + 1].rstrip("ns"))
        return ret, ns

    def close(self):
        if not self.made:
            return
        self.run(f"{self.espx} unload", check=False)
        sh(f"ip netns del {self.ns}", check=False)
        self.made = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=21)
    ap.add_argument("--repeat", type=int, default=20000)
    ap.add_argument("--old", help="another built tree to time beside this one")
    ap.add_argument("--cases", default="ABDCH")
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("policy bench: SKIPPED: needs root (namespaces, BPF)")
        return 0
    if not shutil.which(BPFTOOL):
        print(f"policy bench: SKIPPED: no {BPFTOOL}")
        return 0
    trees = [("new", ROOT)]
    if args.old:
        old = os.path.abspath(args.old)
        if not os.access(os.path.join(old, "build", "espx"), os.X_OK):
            print(f"policy bench: {old}/build/espx missing: run make there", file=sys.stderr)
            return 1
        trees.append(("old", old))
    for t, tree in trees:
        rev = sh(f"git -C {tree} rev-parse --short HEAD", check=False).stdout.strip() or "?"
        trees[trees.index((t, tree))] = (t, tree, rev)

    # SIGTERM/SIGHUP unwind like Ctrl-C, so finally removes what was built
    def bye(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGHUP, bye)

    tmp = tempfile.mkdtemp(prefix="espx-policy-bench.")
    cases = []
    try:
        pkts = {}
        for name, (src, dst) in {"nomatch": ("10.9.9.1", "10.9.9.2"),
                                 "in_last": ("10.103.15.1", "10.167.15.1"),
                                 "out_last": ("10.167.15.1", "10.103.15.1")}.items():
            pkts[name] = os.path.join(tmp, f"{name}.bin")
            with open(pkts[name], "wb") as f:
                f.write(udp_frame(src, dst))
        for t, tree, rev in trees:
            pb = build_pol_batch(tree, tmp)
            for c in args.cases:
                cases.append(Case(f"{t[0]}{c}", tree, c, pb, tmp))

        print(f"espx policy benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
              f"kernel {platform.release()}  cpu {cpu_model()} x{os.cpu_count()}")
        for t, tree, rev in trees:
            print(f"  {t}: {tree} at {rev}")
        for c in args.cases:
            print(f"  case {c}: {CASES[c][0]}")
        print(f"ns per run: median of {args.samples} samples of {args.repeat} "
              f"BPF_PROG_TEST_RUN runs, all figures interleaved\n")

        jobs = [(c, fig, prog, pkt, want) for c in cases for fig, prog, pkt, want in FIGURES
                if not (c.case == "C" and fig == "match")]
        raw = {(c.tag, fig, prog): [] for c, fig, prog, _, _ in jobs}
        for s in range(args.samples):
            for c, fig, prog, pkt, want in (jobs if s % 2 == 0 else reversed(jobs)):
                ret, ns = c.time(prog, pkts[pkt], args.repeat)
                if ret != want:
                    raise RuntimeError(f"{c.tag} {prog} {fig}: returned {ret}, not {want}: "
                                       "the figure would not measure what it says")
                raw[(c.tag, fig, prog)].append(ns)

        med = {k: int(statistics.median(v)) for k, v in raw.items()}
        spread = {k: (sorted(v)[len(v) // 10], sorted(v)[min(len(v) - 1, len(v) * 9 // 10)])
                  for k, v in raw.items()}
        out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "kernel": platform.release(), "cpu": cpu_model(), "nproc": os.cpu_count(),
               "samples": args.samples, "repeat": args.repeat,
               "trees": {t: {"path": tree, "rev": rev} for t, tree, rev in trees},
               "cases": {c: CASES[c][0] for c in args.cases}, "results": []}
        for t, tree, rev in trees:
            print(f"{t} ({rev}):")
            print(f"  {'program':<12} {'packet':<8}" +
                  "".join(f" {'case ' + c + ' ns':>20}" for c in args.cases) +
                  "".join(f" {c + '/A':>6}" for c in args.cases if c != "A"))
            for fig, prog, _, _ in FIGURES:
                cells, row = [], {"tree": t, "rev": rev, "figure": fig,
                                  "program": "espx_xdp_rx" if prog == "xdp" else "espx_tc_tx"}
                for c in args.cases:
                    k = (f"{t[0]}{c}", fig, prog)
                    if k in med:
                        cells.append(f"{med[k]} [{spread[k][0]}-{spread[k][1]}]")
                        row[c] = {"median": med[k], "p10": spread[k][0], "p90": spread[k][1],
                                  "samples": raw[k]}
                    else:
                        cells.append("-")
                ratios = []
                for c in args.cases:
                    a, k = (f"{t[0]}A", fig, prog), (f"{t[0]}{c}", fig, prog)
                    if c == "A":
                        continue
                    if a in med and k in med:
                        ratios.append(f"{med[k] / med[a]:>6.2f}")
                        row[f"{c}/A"] = round(med[k] / med[a], 3)
                    else:
                        ratios.append(f"{'-':>6}")
                print(f"  {row['program']:<12} {fig:<8}" + "".join(f" {x:>20}" for x in cells) +
                      " " + " ".join(ratios))
                out["results"].append(row)
            print()
        if len(trees) > 1:
            print("old/new (ratio of medians):")
            for fig, prog, _, _ in FIGURES:
                r = []
                for c in args.cases:
                    k_o, k_n = (f"o{c}", fig, prog), (f"n{c}", fig, prog)
                    r.append(f"{c} {med[k_o] / med[k_n]:.2f}" if k_o in med and k_n in med
                             else f"{c} -")
                print(f"  {'espx_xdp_rx' if prog == 'xdp' else 'espx_tc_tx':<12} {fig:<8} " +
                      "  ".join(r))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return 0
    except KeyboardInterrupt:
        print("policy bench: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as e:
        print(f"policy bench: {e}", file=sys.stderr)
        return 1
    finally:
        for c in cases:
            c.close()
        # a Case that failed half-way is not in cases: its namespace by name
        for t, _, _ in trees:
            for c in args.cases:
                ns = f"espxpb{os.getpid()}-{t[0]}{c}"
                if os.path.exists(f"/run/netns/{ns}"):
                    tree = dict((x[0], x[1]) for x in trees)[t]
                    sh(f"ip netns exec {ns} {tree}/build/espx unload", check=False)
                    sh(f"ip netns del {ns}", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
