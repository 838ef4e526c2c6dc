#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""What the datapath owes the kernel's SA semantics on its own: lifetime
limits (soft: one event; hard: one event and the SA is not used again),
no sequence-number wrap without ESN, IKE and NAT keepalives on UDP 4500
handed to the daemon untouched, and fragments left to the kernel."""
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import BUILD, finish, result, skip  # noqa: E402
import espx_sites as T  # noqa: E402

from scapy.all import IP, UDP, Dot1Q, Ether, Raw  # noqa: E402


def setup(extra_ab=""):
    sc = T.Scenario("limits")
    a, b, keys = T.site_pair(sc, ab_extra=extra_ab)
    return sc, a, b, keys


def ping(a, b, n):
    r = a.ns.run(f"ping -c {n} -i 0.05 -W 1 -I {a.inner_ip} {b.inner_ip}", check=False)
    for line in r.stdout.splitlines():
        if "received" in line:
            return int(line.split(",")[1].split()[0])
    return 0


def lifetimes():
    sc, a, b, keys = setup("limit packet-soft 5 limit packet-hard 10")
    try:
        # --backlog: the namespace's event ring is new and keeps events until
        # read, so the monitor sees them even if it starts reading late
        mon = subprocess.Popen(["ip", "netns", "exec", a.ns.name, os.path.join(BUILD, "espx"),
                                "-j", "monitor", "--timeout", "6", "--backlog"],
                               stdout=subprocess.PIPE, text=True)
        got = ping(a, b, 15)
        result(got == 10, "hard-packet-limit-stops-sa", f"{got} of 15 replies, want 10")
        result(a.drops("hard-limit", "out") >= 5, "hard-limit-drops-counted",
               f"{a.drops('hard-limit', 'out')}")
        out = mon.communicate(timeout=15)[0]
        evs = [json.loads(x) for x in out.splitlines() if x.strip().startswith("{")]
        kinds = [e.get("type") or e.get("event") for e in evs]
        result(kinds == ["soft", "hard"], "soft-and-hard-events-once-each", f"{out[-300:]}")
        st = [s for s in a.stats()["sas"] if s["spi"] == T.SPI_AB][0]
        result(st["soft_expired"] and st["hard_expired"] and st["packets"] == 10,
               "sa-shows-expiry", f"{st}")
    finally:
        a.ns.close()
        b.ns.close()


def seq_overflow():
    sc, a, b, keys = setup("replay-oseq 0xfffffffd")
    try:
        got = ping(a, b, 4)
        result(got == 2, "no-seq-wrap-without-esn", f"{got} of 4 replies, want 2 (0xfffffffe, 0xffffffff)")
        # ping keeps retrying what the device refused, so at least 2
        result(a.drops("seq-overflow", "out") >= 2, "seq-overflow-counted",
               f"{a.drops('seq-overflow', 'out')}")
    finally:
        a.ns.close()
        b.ns.close()


def passed_to_kernel():
    sc, a, b, keys = setup()
    try:
        mac_b = b.mac()
        outer = IP(src=sc.wire[0], dst=sc.wire[1])
        ike = Ether(dst=mac_b) / outer / UDP(sport=4500, dport=4500) / Raw(b"\0\0\0\0" + b"IKE" * 10)
        keepalive = Ether(dst=mac_b) / outer / UDP(sport=4500, dport=4500) / Raw(b"\xff")
        before = b.drops("ike-bypass")
        T.raw_send(a, [ike, keepalive])
        result(b.drops("ike-bypass") == before + 2, "ike-and-keepalive-to-daemon",
               f"{before} -> {b.drops('ike-bypass')}")
        # one 802.1Q tag: XDP parses past it and decrypts (this kernel has
        # no VLAN devices, so the stack then drops the frame: the SA's
        # packet counter is the witness)
        sa = T.scapy_sa(sc, T.SPI_AB, keys[0], sc.wire[0], sc.wire[1])

        def sa_packets():
            return [x for x in b.stats()["sas"] if x["spi"] == T.SPI_AB][0]["packets"]
        before = sa_packets()
        tagged = Ether(dst=mac_b) / Dot1Q(vlan=5) / sa.encrypt(
            T.inner_udp(sc, a.inner_ip, b.inner_ip, b"tagged"), seq_num=77)
        T.raw_send(a, [tagged])
        result(sa_packets() == before + 1, "vlan-tagged-esp-decrypted", f"{before} -> {sa_packets()}")
        # fragmented ESP: for an SA espx owns it is dropped (the kernel would
        # decrypt it with its own copy of the SA, whose replay window is
        # stale); for an SPI espx does not own it is the kernel's
        def frag(spi):
            return Ether(dst=mac_b) / IP(src=sc.wire[0], dst=sc.wire[1], proto=50, flags="MF") / \
                Raw(struct.pack("!II", spi, 7) + b"\0" * 64)
        before = b.drops("esp-fragment")
        T.raw_send(a, [frag(T.SPI_AB)])
        result(b.drops("esp-fragment") == before + 1, "esp-fragment-of-espx-sa-dropped",
               f"{before} -> {b.drops('esp-fragment')}")
        before = b.drops("fragment-passed")
        T.raw_send(a, [frag(0x7777)])
        result(b.drops("fragment-passed") == before + 1, "esp-fragment-of-other-spi-to-kernel",
               f"{before} -> {b.drops('fragment-passed')}")
    finally:
        a.ns.close()
        b.ns.close()


def block_policy():
    sc, a, b, keys = setup()
    try:
        a.ns.run("ip route add 192.168.3.0/24 via 10.0.0.2 src 192.168.1.1")
        a.ns.espx("policy add src 192.168.1.1/32 dst 192.168.3.0/24 dir out action block")
        before = a.drops("policy-block", "out")
        r = a.ns.run("ping -c 2 -i 0.2 -w 2 -I 192.168.1.1 192.168.3.1", check=False)
        got = 0 if " 0 received" in r.stdout else -1
        result(got == 0 and a.drops("policy-block", "out") > before, "block-policy-drops",
               f"{got} replies, {a.drops('policy-block', 'out') - before} blocked")
    finally:
        a.ns.close()
        b.ns.close()


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("test_sa_limits", "needs root")
        sys.exit(0)
    for fn in (lifetimes, seq_overflow, passed_to_kernel, block_policy):
        try:
            fn()
        except Exception as e:
            result(False, f"{fn.__name__}-setup", repr(e))
    finish()
