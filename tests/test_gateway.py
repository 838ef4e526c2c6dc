#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""espx on a gateway: host C on site A's LAN talks to site B through the
tunnel, so A forwards. C's TCP arrives at A as GSO super-packets (TSO over
the LAN veth, as GRO makes them on a real NIC), which espx must segment
before it can encrypt them: a 4 MB transfer must arrive intact, and only
ESP may cross the wire. Detach must remove the segmenter it created."""
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import Netns, finish, result, skip, veth  # noqa: E402
import espx_sites as T  # noqa: E402

from scapy.all import IP  # noqa: E402


def main():
    sc = T.Scenario("gateway")
    a, b, _ = T.site_pair(sc, configure=False)
    c = Netns("c")
    try:
        veth(c, "lan-c", a.ns, "lan-a")
        a.ns.run("ip addr add 192.168.1.254/24 dev lan-a")
        a.ns.run("sysctl -qw net.ipv4.ip_forward=1")
        c.run("ip addr add 192.168.1.10/24 dev lan-c")
        c.run("ip route add default via 192.168.1.254")
        T.configure_pair(a, b)	# espx once the LAN is in place
        lan_tso = c.run("ethtool -k lan-c").stdout
        result("tcp-segmentation-offload: on" in lan_tso, "lan-sends-tso-super-packets",
               "TSO is off on the LAN veth: the test would not exercise GSO")

        caps = [T.Capture(a), T.Capture(b)]
        data = os.urandom(4 << 20)
        sink = T.py_in(b, T.TCP_SINK, b.inner_ip, "7000")
        time.sleep(0.4)
        src = subprocess.run(["ip", "netns", "exec", c.name, "/usr/bin/python3", "-c", T.TCP_SOURCE,
                              b.inner_ip, "7000", "192.168.1.10"], input=data.hex(), text=True,
                             capture_output=True, timeout=90)
        out = sink.communicate(timeout=90)[0].split()
        want = [str(len(data)), hashlib.sha256(data).hexdigest()]
        result(out == want, "forwarded-tcp-4MB-sha256", f"got {out}, sender {src.stderr[-200:]}")
        pkts = [p for cap in caps for p in cap.packets() if IP in p]
        plain = [p for p in pkts if p[IP].proto != 50]
        result(pkts and not plain, "forwarded-wire-only-esp",
               f"{len(pkts)} packets, plaintext {[p.summary() for p in plain][:3]}")
        idx = json.loads(a.ns.run(f"ip -j link show {a.dev}").stdout)[0]["ifindex"]
        seg = json.loads(a.ns.run(f"ip -j -s link show espxs{idx}a").stdout)[0]
        result(seg["stats64"]["tx"]["packets"] > 0, "super-packets-went-through-segmenter",
               f"{seg['stats64']['tx']}")
        st = json.loads(a.ns.espx("-j stats").stdout)
        result(st["drops"]["out"]["gso-packet"]["packets"] == 0, "no-gso-drops",
               f"{st['drops']['out']['gso-packet']}")
        a.ns.espx(f"detach {a.dev}")
        left = a.ns.run("ip -o link show").stdout
        result("espxs" not in left, "detach-removes-segmenter", left[-300:])
    finally:
        c.close()
        a.ns.close()
        b.ns.close()


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("test_gateway", "needs root")
        sys.exit(0)
    try:
        main()
    except Exception as e:
        result(False, "gateway-setup", repr(e))
    finish()
