#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Policy lookup against a model of XFRM's rule: random policy tables, and
packets through the attached transmit program, each verdict compared with
the first policy (priority, then age) whose selector matches.

The tables are built to reach every part of the lookup (espx_policy.h):
prefix lengths from a small set in both families, so that there are more
classes than are hashed (the rest go to the slots); protocol with and
without exact ports (classes keyed on them) and port ranges (masks other than 0xffff,
which netlink clients can send: pol_batch's "sport-mask"; selectors that
differ only in them share a key and form chains, one of them longer than
is hashed); ties of priority; later IPv4 fragments whose first was never
seen (ports unknown: the first policy that could select them decides,
and one that names ports drops them, "fragment-undecided") and IPv6
packets with a header chain longer than espx walks (any policy whose
prefixes contain them drops them, "ipv6-ext-header"): the summaries of
the hashed classes answer those; and three actions that a
packet tells apart: allow without template (passes), block (dropped
"policy-block") and a template with no SA (dropped "policy-without-sa").

Each table goes in with build/tests/pol_batch (one commit, as the daemon
publishes) into a namespace with espx attached to a veth end; each packet
is one BPF_PROG_TEST_RUN of espx_tc_tx (bpftool prog run), and a drop's
reason is read from espx's counters. Nothing is sent anywhere."""
import ipaddress
import json
import os
import random
import shutil
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import BUILD, Netns, finish, plan, result, sh, skip  # noqa: E402

TABLES = 4
POLICIES = 220          # per table: more than the slots could hold alone
PACKETS = 150           # per table
TC_ACT_OK, TC_ACT_SHOT = 0, 2
BPFTOOL = os.environ.get("BPFTOOL", "bpftool")
ACTIONS = ("allow", "block", "tmpl")
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1}


def addr4(rnd):
    return f"10.{rnd.randrange(2)}.{rnd.randrange(4)}.{rnd.randrange(8)}"


def addr6(rnd):
    return f"fd00:{rnd.randrange(2)}:{rnd.randrange(4)}::{rnd.randrange(8)}"


def plen(rnd, fam):
    return rnd.choice([0, 8, 16, 20, 24, 30, 32] if fam == 4 else
                      [0, 32, 48, 64, 112, 126, 128])


def model_of(fam, src, ls, dst, ld, proto, sport, smask, dport, prio, act, n):
    """the policy's `ip xfrm` words (plus pol_batch's masks) and its model"""
    sel = f"src {src}/{ls} dst {dst}/{ld}"
    if proto:
        sel += f" proto {proto}"
    if sport is not None:
        sel += f" sport {sport}" + (f" sport-mask {smask:#x}" if smask != 0xffff else "")
    if dport is not None:
        sel += f" dport {dport}"
    line = f"{sel} dir out priority {prio}"
    if act == "block":
        line += " action block"
    elif act == "tmpl":
        peer = "10.200.0.1" if fam == 4 else "fd99::1"
        me = "10.200.0.2" if fam == 4 else "fd99::2"
        line += f" tmpl src {me} dst {peer} proto esp reqid {n + 1} mode tunnel"
    return {"fam": fam, "src": ipaddress.ip_network(f"{src}/{ls}", strict=False),
            "dst": ipaddress.ip_network(f"{dst}/{ld}", strict=False),
            "proto": PROTOS.get(proto), "sport": sport, "smask": smask, "dport": dport,
            "prio": prio, "act": act, "sel": sel, "line": line}


def make_table(rnd, v6_proto):
    """[model] in line (age) order, selectors unique; v6_proto: every IPv6
    policy names a protocol and falls in a few classes, all hashed (so that
    only the summaries without protocol answer for an IPv6 chain espx does
    not walk)"""
    seen, out = set(), []
    burst_at = rnd.randrange(POLICIES // 2)
    while len(out) < POLICIES:
        if len(out) == burst_at:
            # a chain longer than is hashed: 20 source-port ranges of one
            # key (10.0.0.0/16 -> 10.1.0.0/16, tcp)
            for k in range(20):
                m = model_of(4, "10.0.0.0", 16, "10.1.0.0", 16, "tcp", 1000 + 8 * k, 0xfff8,
                             None, rnd.choice([100, 200]), rnd.choice(ACTIONS), len(out))
                seen.add(m["sel"])
                out.append(m)
            continue
        if out and rnd.random() < 0.2:
            # a sibling: another's key, a source-port range (a chain)
            b = rnd.choice(out)
            if b["proto"] not in (6, 17):
                continue
            sport, smask = rnd.choice([(0, 0xfc00), (1024, 0xfc00), (1000, 0xfff8),
                                       (32768, 0x8000), (1000, 0xfff0)])
            m = model_of(b["fam"], b["src"].network_address, b["src"].prefixlen,
                         b["dst"].network_address, b["dst"].prefixlen,
                         "tcp" if b["proto"] == 6 else "udp", sport, smask, b["dport"],
                         rnd.choice([100, 200, 200, 300]), rnd.choice(ACTIONS), len(out))
        else:
            fam = 4 if rnd.random() < 0.7 else 6
            a = addr4 if fam == 4 else addr6
            proto = rnd.choice(["tcp", "udp"] if fam == 6 and v6_proto else
                               [None, None, "tcp", "udp"] + (["icmp"] if fam == 4 else []))
            sport = dport = None
            if proto in ("tcp", "udp"):
                dport = rnd.choice([None, 80, 443, 5000])
                sport = rnd.choice([None, None, 1000])
            if fam == 6 and v6_proto:     # few classes: all of them hashed
                ls, ld = 64, rnd.choice([48, 64])
            else:
                ls, ld = plen(rnd, fam), plen(rnd, fam)
            m = model_of(fam, a(rnd), ls, a(rnd), ld, proto, sport,
                         0xffff, dport, rnd.choice([100, 200, 200, 300]),
                         rnd.choice(ACTIONS), len(out))
        if m["sel"] in seen:
            continue
        seen.add(m["sel"])
        out.append(m)
    return out


def expect(table, pkt):
    """XFRM's choice: lowest priority, then oldest, whose selector matches.
    A later fragment (ports unknown): the first policy that could select
    it decides, unless it names ports ("undecided": dropped, fail closed).
    An IPv6 header chain longer than espx walks (upper layer unknown):
    dropped if any policy's prefixes contain its addresses."""
    order = sorted(range(len(table)), key=lambda i: (table[i]["prio"], i))
    for i in order:
        p = table[i]
        if p["fam"] != pkt["fam"] or pkt["src"] not in p["src"] or pkt["dst"] not in p["dst"]:
            continue
        if pkt["kind"] == "ext":
            return "exthdr", i
        if p["proto"] and p["proto"] != pkt["proto"]:
            continue
        if pkt["kind"] == "frag":
            return ("undecided" if p["sport"] is not None or p["dport"] else p["act"]), i
        if p["sport"] is not None and (p["sport"] ^ pkt["sport"]) & p["smask"]:
            continue
        if p["dport"] and p["dport"] != pkt["dport"]:
            continue
        return p["act"], i
    return "none", None


def inside(rnd, net):
    """a random address of net"""
    host_bits = net.max_prefixlen - net.prefixlen
    return net.network_address + (rnd.getrandbits(host_bits) if host_bits else 0)


def make_packet(rnd, table):
    if rnd.random() < 0.7:      # inside some policy's prefixes
        p = rnd.choice(table)
        fam, src, dst = p["fam"], inside(rnd, p["src"]), inside(rnd, p["dst"])
        if rnd.random() < 0.5:  # often near the universe, where others overlap
            src = ipaddress.ip_address(addr4(rnd) if fam == 4 else addr6(rnd)) \
                if p["src"].prefixlen == 0 else src
    else:
        fam = 4 if rnd.random() < 0.7 else 6
        a = addr4 if fam == 4 else addr6
        src, dst = ipaddress.ip_address(a(rnd)), ipaddress.ip_address(a(rnd))
    icmp = 1 if fam == 4 else 58
    proto = rnd.choice([6, 6, 17, 17, icmp])
    sport = rnd.choice([1000, 1000, 40000, 1005, 1100, 1500, 33000, 500]) if proto != icmp \
        else 8 if fam == 4 else 128
    dport = rnd.choice([80, 443, 5000, 7]) if proto != icmp else 0
    kind = "full"
    if rnd.random() < 0.2:      # ports or upper layer unknown
        kind = "frag" if fam == 4 else "ext"
    return {"fam": fam, "src": ipaddress.ip_address(src), "dst": ipaddress.ip_address(dst),
            "proto": proto, "sport": sport, "dport": dport, "kind": kind,
            "id": rnd.randrange(1, 65536)}


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def frame(pkt):
    if pkt["proto"] in (1, 58):
        l4 = struct.pack("!BBHHH", pkt["sport"], pkt["dport"], 0, 1, 1) + b"x" * 32
    elif pkt["proto"] == 6:
        l4 = struct.pack("!HHIIBBHHH", pkt["sport"], pkt["dport"], 1, 0, 0x50, 0x02,
                         1024, 0, 0) + b"x" * 32
    else:
        l4 = struct.pack("!HHHH", pkt["sport"], pkt["dport"], 8 + 32, 0) + b"x" * 32
    if pkt["fam"] == 4:
        # a later fragment: offset 800, no ports in it, its first never seen
        frag = 100 if pkt["kind"] == "frag" else 0x4000
        if pkt["kind"] == "frag":
            l4 = b"y" * 40
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), pkt["id"], frag, 64,
                         pkt["proto"], 0, pkt["src"].packed, pkt["dst"].packed)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        etype = b"\x08\x00"
    else:
        nh = pkt["proto"]
        if pkt["kind"] == "ext":    # 7 destination options: one more than espx walks
            for _ in range(7):
                l4 = struct.pack("!BB6s", nh, 0, b"\x01\x04\0\0\0\0") + l4
                nh = 60
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(l4), nh, 64,
                         pkt["src"].packed, pkt["dst"].packed)
        etype = b"\x86\xdd"
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + etype + ip + l4


def out_drops(ns):
    st = json.loads(ns.espx("-j stats").stdout)
    return {r: c["packets"] for r, c in st["drops"]["out"].items()}


def run_packet(ns, prog, pfile, pkt, before):
    """one packet through espx_tc_tx: pass, block, tmpl, undecided, exthdr
    or what else happened; before: the drop counters, moved on"""
    with open(pfile, "wb") as f:
        f.write(frame(pkt))
    r = ns.run(f"{BPFTOOL} prog run id {prog} data_in {pfile} repeat 1")
    words = r.stdout.replace(",", " ").replace(":", " ").split()
    ret = int(words[words.index("value") + 1])
    if ret == TC_ACT_OK:
        return "pass"
    if ret != TC_ACT_SHOT:
        return f"return {ret}"
    after = out_drops(ns)
    moved = [k for k in after if after[k] != before.get(k, 0)]
    before.clear()
    before.update(after)
    return {"policy-block": "block", "policy-without-sa": "tmpl",
            "fragment-undecided": "undecided", "ipv6-ext-header": "exthdr"}.get(
        moved[0] if len(moved) == 1 else "", f"drop {moved}")


def model_ns(name):
    ns = Netns(name)
    # the links stay down and without IPv6: no packet of the kernel's own
    # (router solicitations, MLD) may run the program and move the
    # counters the verdicts are read from
    ns.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
    ns.run("ip link add v0 type veth peer name v1")
    ns.espx("attach v0")
    return ns


def publish(ns, tmp, lines):
    """the table, in one commit (pol_batch); an error string or None"""
    pols = os.path.join(tmp, "table.txt")
    with open(pols, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = ns.run(f"{BUILD}/tests/pol_batch < {pols}", check=False)
    if r.stdout.strip() != f"ok {len(lines)}":
        return f"pol_batch: {r.stdout.strip()} {r.stderr.strip()[-300:]}"
    return None


def run_cache(tmp):
    """The datapath caches verdicts per flow (bpf/lib/verdict_cache.h): the
    same flow, its verdict cached, must get the new table's verdict on the
    very next packet after every change. Each table is sent twice, the
    second time from the cache."""
    ns = model_ns("pmc")
    fails = []
    try:
        prog = json.loads(ns.espx("-j status").stdout)["devices"][0]["tc_prog_id"]
        pfile = os.path.join(tmp, "pkt.bin")
        before = out_drops(ns)
        pkt = {"fam": 4, "src": ipaddress.ip_address("10.1.2.3"),
               "dst": ipaddress.ip_address("10.0.1.4"), "proto": 6, "sport": 1000,
               "dport": 443, "kind": "full", "id": 7}
        other = model_of(4, "10.3.0.0", 16, "10.3.0.0", 16, "udp", None, 0xffff, None, 5,
                         "block", 0)["line"]
        for act in ("block", "allow", "tmpl", "allow", "block", "none", "tmpl"):
            lines = [other]
            if act != "none":
                lines.append(model_of(4, "10.1.0.0", 16, "10.0.1.0", 24, "tcp", None, 0xffff,
                                      443, 10, act, 1)["line"])
            err = publish(ns, tmp, lines)
            if err:
                return [err]
            want = "pass" if act in ("allow", "none") else act
            for n in (1, 2):
                got = run_packet(ns, prog, pfile, pkt, before)
                if got != want:
                    fails.append(f"table with {act}: packet {n} {got}, want {want}")
        return fails
    finally:
        ns.close()


def run_table(t, rnd, tmp):
    table = make_table(rnd, v6_proto=t % 2 == 1)
    ns = model_ns(f"pm{t}")
    fails = []
    try:
        err = publish(ns, tmp, [p["line"] for p in table])
        if err:
            return [err], table, 0
        prog = json.loads(ns.espx("-j status").stdout)["devices"][0]["tc_prog_id"]
        pfile = os.path.join(tmp, "pkt.bin")
        before = out_drops(ns)
        covered = 0
        for _ in range(PACKETS):
            pkt = make_packet(rnd, table)
            want, idx = expect(table, pkt)
            covered += want != "none"
            got = run_packet(ns, prog, pfile, pkt, before)
            exp = "pass" if want in ("none", "allow") else want
            if got != exp:
                fails.append(f"{pkt['kind']} {pkt['src']} -> {pkt['dst']} proto {pkt['proto']} "
                             f"{pkt['sport']}->{pkt['dport']}: got {got}, want {exp} "
                             f"(policy {idx}: {table[idx]['line'] if idx is not None else '-'})")
        return fails, table, covered
    finally:
        ns.close()


def main():
    if os.geteuid() != 0:
        skip("policy-model", "needs root (namespaces, BPF)")
        return
    if not shutil.which(BPFTOOL):
        skip("policy-model", f"no {BPFTOOL}")
        return
    plan(TABLES + 2)
    tmp = tempfile.mkdtemp(prefix="espx-policy-model.")
    seed = int(os.environ.get("ESPX_POLICY_SEED", "4301"))
    rnd = random.Random(seed)
    total_covered = 0
    try:
        for t in range(TABLES):
            try:
                fails, table, covered = run_table(t, rnd, tmp)
            except Exception as e:      # a set-up step failed: one failed check
                fails, covered = [repr(e)], 0
            total_covered += covered
            result(not fails, f"policy-model-table-{t}",
                   f"seed {seed}: {len(fails)} of {PACKETS} packets differ from XFRM's "
                   f"choice; first: {'; '.join(fails[:3])}")
        try:
            fails = run_cache(tmp)
        except Exception as e:
            fails = [repr(e)]
        result(not fails, "policy-model-cached-verdict-follows-changes",
               f"{len(fails)} wrong: {'; '.join(fails[:3])}")
        # the packets must mostly land inside some policy, or the check
        # would be about the empty case
        result(total_covered >= TABLES * PACKETS // 2, "policy-model-packets-covered",
               f"only {total_covered} of {TABLES * PACKETS} packets were covered by a policy")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    finish()
