#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Issue 10: for every packet espx decides what the kernel's XFRM would
decide, or drops it. Two gateways A and B in namespaces, joined by a veth
wire (10.0.0.1/2, fd00::1/2), each with its protected network on lo
(192.168.1.1 | 192.168.2.1, fd01::1 | fd02::1, routes to the peer's with MTU
1400 so that a tunnelled fragment still fits the wire), espx on both wire
ends, AES-GCM SAs and policies from `espx state|policy add`. This process
opens its sockets inside the namespaces (setns), writes frames with AF_PACKET
(PACKET_QDISC_BYPASS past the sender's own espx for spoofs and scapy-built
ESP, through it otherwise) and reads what A transmits, after its TC egress,
with an AF_PACKET socket. Each group below has a pair of namespaces of its
own:

- outbound fragments: a 3000-byte UDP datagram under a port-specific policy
  leaves only as ESP (each fragment carried in tunnel mode) and arrives whole,
  IPv4 and IPv6;
- IKE bypass: UDP 500/4500 between the protected networks is protected, IKE
  between the SA's outer addresses passes in plaintext (ike-bypass); on
  receive, plaintext to 500/4500 (zero non-ESP marker) of a protected host or
  from a non-peer is dropped, IKE from the peer is delivered;
- spoofed plaintext fragments (IPv4, IPv6 fragment header) under an inbound
  policy are dropped by a named reason, and ESP that arrives fragmented
  (esp-fragment), a replayed packet included;
- the inbound policy after decryption: tunnel inner packets outside every
  in policy (inbound-no-policy), an SA whose reqid the policy's template does
  not name (inbound-template-mismatch), transport mode as XFRM decides it;
- IPv6 extension headers (destination options, type 0 routing header) before
  UDP under a `proto udp` policy, out and in;
- ECN and DSCP: outer CE onto an ECT inner on decapsulation unless the SA
  has `flag noecn`, inner DSCP onto the outer header unless `extra-flag
  dont-encap-dscp`, CE inner -> ECT(0) outer, no ECN on the outer header
  of a `flag noecn` SA (as xfrm4 tunnel output clears it).
Checks that pass before the fix are there to keep it honest: what XFRM
lets through (IKE between the gateways, transport without a policy, a
datagram that must arrive whole) must still get through."""
import contextlib
import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import Netns, finish, result, skip, veth  # noqa: E402

from scapy.all import (IP, UDP, Ether, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,  # noqa: E402
                       IPv6ExtHdrRouting, Raw, fragment, fragment6)
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402

AEAD = "'rfc4106(gcm(aes))'"
W4, W6 = ("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")
I4, I6 = ("192.168.1.1", "192.168.2.1"), ("fd01::1", "fd02::1")
N4, N6 = ("192.168.1.0/24", "192.168.2.0/24"), ("fd01::/64", "fd02::/64")
MTU = 1400		# of the routes to the peer's network
SEQ0 = 1000		# scapy's sequence numbers: clear of what espx itself sent
PASS_REASONS = {"none", "no-sa", "fragment-passed", "ike-bypass"}	# counted, not drops
ETH_P_ALL, PACKET_OUTGOING, SOL_PACKET, PACKET_QDISC_BYPASS = 3, 4, 263, 20
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_HOME = None


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET):
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


@contextlib.contextmanager
def inside(ns):
    """Sockets made in this block live in ns (and stay there)."""
    fd = os.open(f"/run/netns/{ns.name}", os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)
    try:
        yield
    finally:
        _setns(_HOME)


class Gw:
    def __init__(self, tag, me):
        s = "ab"[me]
        self.ns = Netns(f"{tag}{s}")
        self.dev = f"wire-{tag}{s}"
        self.me = me
        self.w4, self.pw4, self.w6, self.pw6 = W4[me], W4[1 - me], W6[me], W6[1 - me]
        self.i4, self.i6 = I4[me], I6[me]
        self.mac = None

    def espx(self, args, check=True):
        return self.ns.espx(args, check=check)

    def drops(self):
        """Receive-side counters by reason (packets)."""
        st = json.loads(self.espx("-j stats").stdout)
        return {r: c["packets"] for r, c in st["drops"]["in"].items()}

    def out_counts(self):
        st = json.loads(self.espx("-j stats").stdout)
        return {r: c["packets"] for r, c in st["drops"]["out"].items()}


class Pair:
    """Gateways A and B on one veth wire, both families, espx attached."""

    def __init__(self, tag):
        self.gws = []
        self.keys = {}
        try:
            self._setup(tag)
        except BaseException:
            self.close()
            raise

    def _setup(self, tag):
        self.a = Gw(tag, 0)
        self.gws.append(self.a)
        self.b = Gw(tag, 1)
        self.gws.append(self.b)
        a, b = self.a, self.b
        # no DAD on the wire's link-local addresses either: until it ends
        # the first IPv6 packet waits (seconds) and a capture misses it
        for g in self.gws:
            g.ns.run("sysctl -qw net.ipv6.conf.default.accept_dad=0")
        veth(a.ns, a.dev, b.ns, b.dev)
        for g in self.gws:
            run = g.ns.run
            run(f"ip addr add {g.w4}/24 dev {g.dev}")
            run(f"ip -6 addr add {g.w6}/64 dev {g.dev} nodad")
            run(f"ip addr add {g.i4}/32 dev lo")
            run(f"ip -6 addr add {g.i6}/128 dev lo")
            run(f"ip route add {N4[1 - g.me]} via {g.pw4} src {g.i4} mtu {MTU}")
            run(f"ip -6 route add {N6[1 - g.me]} via {g.pw6} src {g.i6} mtu {MTU}")
            # spoofed sources must reach the checks, not die in rp_filter
            run(f"sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.{g.dev}.rp_filter=0")
            g.espx(f"attach {g.dev}")
            g.mac = json.loads(run(f"ip -j link show {g.dev}").stdout)[0]["address"]

    def sa(self, spi, reqid, mode="tunnel", fam=4, on=None, extra=""):
        """An SA from A to B (outer addresses of the wire), on both ends
        unless `on` names them."""
        key = self.keys.setdefault(spi, os.urandom(20).hex())
        src, dst = W4 if fam == 4 else W6
        line = (f"state add src {src} dst {dst} proto esp spi {spi:#x} reqid {reqid} mode {mode} "
                f"replay-window 128 aead {AEAD} 0x{key} 128 {extra}").strip()
        for g in on or self.gws:
            g.espx(line)

    def policy(self, g, sel, d, reqid, mode="tunnel", fam=4, extra=""):
        src, dst = W4 if fam == 4 else W6
        g.espx(f"policy add {sel} dir {d} {extra} tmpl src {src} dst {dst} proto esp "
               f"reqid {reqid} mode {mode}")

    def scapy_sa(self, spi, fam=4, mode="tunnel", tos=0):
        key = bytes.fromhex(self.keys[spi])
        kw = {}
        if mode == "tunnel":
            kw["tunnel_header"] = (IP(src=W4[0], dst=W4[1], tos=tos) if fam == 4
                                   else IPv6(src=W6[0], dst=W6[1], tc=tos))
        return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key, **kw)

    def frame(self, pkt):
        """A frame from A's wire to B's."""
        return Ether(src=self.a.mac, dst=self.b.mac) / pkt

    def close(self):
        for g in self.gws:
            g.ns.close()


class Sender:
    """AF_PACKET on a gateway's wire. bypass: past its own TC egress (espx
    never sees the frame); otherwise through it, as the stack's packets."""

    def __init__(self, g, bypass=True):
        self.dev = g.dev
        with inside(g.ns):
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            if bypass:
                self.s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
            self.s.bind((g.dev, 0))

    def send(self, *frames):
        for f in frames:
            b = bytes(f)
            self.s.sendto(b, (self.dev, struct.unpack("!H", b[12:14])[0]))


class Tap:
    """What a gateway transmits on its wire (after its TC egress)."""

    def __init__(self, g):
        with inside(g.ns):
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self.s.bind((g.dev, ETH_P_ALL))
        self.s.setblocking(False)

    def take(self, idle=0.3, total=2.0):
        """Frames sent so far: read until no IP frame (neighbour discovery
        aside) came for `idle` seconds after the first, at most `total`."""
        out, t0 = [], time.time()
        last = None
        while time.time() - t0 < total:
            r, _, _ = select.select([self.s], [], [], 0.05)
            if not r:
                if last is not None and time.time() - last > idle:
                    break
                continue
            data, addr = self.s.recvfrom(65535)
            if addr[2] != PACKET_OUTGOING:
                continue
            p = Ether(data)
            out.append(p)
            if IP in p or (IPv6 in p and p[IPv6].nh != 58):
                last = time.time()
        return out


class Sink:
    """A UDP socket in a namespace; keeps (payload, tos) of what arrives."""

    def __init__(self, g, port, fam=4, addr=None):
        with inside(g.ns):
            if fam == 4:
                self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
            else:
                self.s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                self.s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                self.s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
            self.s.bind((addr or ("0.0.0.0" if fam == 4 else "::"), port))
        self.s.setblocking(False)
        self.got = []

    def read(self):
        n = 0
        while True:
            try:
                data, anc, _, _ = self.s.recvmsg(65535, 64)
            except BlockingIOError:
                return n
            tos = None
            for level, typ, val in anc:
                if (level, typ) == (socket.IPPROTO_IP, socket.IP_TOS):
                    tos = val[0]
                elif (level, typ) == (socket.IPPROTO_IPV6, socket.IPV6_TCLASS):
                    tos = struct.unpack("i", val[:4])[0]
            self.got.append((data, tos))
            n += 1

    def has(self, label):
        return [tos for data, tos in self.got if label in data]


def collect(*sinks, idle=0.5, total=4.0, want=None):
    """Read the sinks until nothing came for `idle` seconds (or `want`
    labels all arrived, then one more idle wait for strays), at most total."""
    t_end = time.time() + total
    last = time.time()
    while time.time() < t_end:
        r, _, _ = select.select([s.s for s in sinks], [], [], 0.05)
        if r:
            for s in sinks:
                if s.read():
                    last = time.time()
        elif time.time() - last > idle:
            if not want or all(any(s.has(w) for s in sinks) for w in want):
                return
    for s in sinks:
        s.read()


def delta(before, after):
    return {r: after[r] - before.get(r, 0) for r in after if after[r] != before.get(r, 0)}


def dropped_by(d):
    """The drop reasons (not pass-throughs) in a counter delta."""
    return {r: n for r, n in d.items() if r not in PASS_REASONS}


def counting(g, send, wait=0.5):
    """Receive counters of g moved by send(): read until they moved (and
    once more after a moment, for the rest of a train of fragments) or for
    `wait` seconds (a delivered packet moves none)."""
    before = g.drops()
    send()
    t_end = time.time() + wait
    while time.time() < t_end:
        time.sleep(0.05)
        if delta(before, g.drops()):
            time.sleep(0.1)
            break
    return delta(before, g.drops())


def refused(e):
    """What espx said when a command failed (not the command line: keys)."""
    msg = str(e)
    return msg[msg.rfind("): ") + 3:] if "): " in msg else msg[-160:]


def udp_socket(g, addr, port=0, fam=4, tos=None):
    with inside(g.ns):
        s = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if tos is not None:
            if fam == 4:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
            else:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
        s.bind((addr, port))
    return s


def ip_of(p):
    return p[IP] if IP in p else (p[IPv6] if IPv6 in p else None)


def plaintext_between(pkts, x, y):
    """Frames whose outer header carries the addresses x and y (inner
    addresses visible on the wire = not protected)."""
    out = []
    for p in pkts:
        ip = ip_of(p)
        if ip is not None and {ip.src, ip.dst} == {x, y}:
            out.append(p)
    return out


def esp_frames(pkts, spi=None):
    out = []
    for p in pkts:
        ip = ip_of(p)
        if ip is None:
            continue
        proto = ip.proto if IP in p else ip.nh
        if proto == 50 and (spi is None or struct.unpack("!I", bytes(ip.payload)[:4])[0] == spi):
            out.append(p)
    return out


def summ(pkts, n=3):
    return [p.summary() for p in pkts[:n]]


def carried_fragments(sa, esp, fam):
    """What ESP packets carried: the fragments of one datagram, one per
    packet (tunnel mode), and how many bytes after their IP headers."""
    inner, why = [], ""
    for p in esp:
        try:
            inner.append(sa.decrypt(ip_of(p)))
        except Exception as e:	# ICV mismatch, bad padding
            why = f"scapy cannot decrypt: {e!r}"
    if fam == 4:
        frag = [q for q in inner if IP in q and (q[IP].flags.MF or q[IP].frag)]
        flen = sum(len(q[IP].payload) for q in frag)
    else:
        frag = [q for q in inner if IPv6ExtHdrFragment in q]
        flen = sum(len(q[IPv6ExtHdrFragment].payload) for q in frag)
    return frag, flen, why


# ---------------------------------------------------------------- groups

def group_out_fragments():
    """Check 1: a port-specific policy and a datagram the stack fragments."""
    P = Pair("f")
    try:
        a, b = P.a, P.b
        P.sa(0x1001, 1)
        P.sa(0x1601, 61, fam=6)
        for fam, (na, nb), spi, reqid in ((4, N4, 0x1001, 1), (6, N6, 0x1601, 61)):
            sel = f"src {na} dst {nb} proto udp dport 4789"
            P.policy(a, sel, "out", reqid, fam=fam)
            P.policy(b, sel, "in", reqid, fam=fam)
        for fam, (ia, ib), spi in ((4, I4, 0x1001), (6, I6, 0x1601)):
            n = f"out-frag-v{fam}-udp4789"
            sink = Sink(b, 4789, fam, ib)
            tap = Tap(a)
            data = os.urandom(3000)
            udp_socket(a, ia, 0, fam).sendto(data, (ib, 4789))
            pkts = tap.take()
            plain = plaintext_between(pkts, ia, ib)
            esp = esp_frames(pkts, spi)
            frag, flen, why = carried_fragments(P.scapy_sa(spi, fam), esp, fam)
            ok = not plain and len(esp) >= 3 and len(frag) == len(esp) and flen == 3008 and not why
            result(ok, f"{n}-wire-only-esp",
                   why or f"{len(plain)} plaintext fragments left A {summ(plain)}; {len(esp)} ESP "
                   f"packets carrying {len(frag)} fragments, {flen} of 3008 bytes")
            collect(sink, want=[data[:64]], total=3)
            got = [d for d, _ in sink.got]
            result(got == [data], f"{n}-arrives-whole",
                   f"received {[len(d) for d in got]} bytes (want one datagram of 3000)")
    finally:
        P.close()


def group_ike():
    """Checks 2 and 4: the IKE bypass only between the IKE endpoints."""
    P = Pair("k")
    try:
        a, b = P.a, P.b
        P.sa(0x1001, 1)				# tunnel NETA -> NETB
        P.sa(0x2001, 3, mode="transport")	# the gateways themselves
        P.policy(a, f"src {N4[0]} dst {N4[1]}", "out", 1)
        P.policy(a, f"src {W4[0]} dst {W4[1]}", "out", 3, mode="transport")
        P.policy(b, f"src {N4[0]} dst {N4[1]}", "in", 1)
        # B wants ESP from anyone on the wire: a non-peer too
        P.policy(b, f"src 10.0.0.0/24 dst {W4[1]}/32", "in", 3, mode="transport")

        # ---- outbound (A): IKE ports between the protected networks
        marker = b"\0\0\0\0"
        for n, sport, dport, payload in (
                ("out-udp-dport500-nets-leaves-as-esp", 0, 500, b"nets-500"),
                ("out-udp-sport500-nets-leaves-as-esp", 500, 7000, b"nets-s500"),
                ("out-udp-4500-nets-leaves-as-esp", 4500, 4500, marker + b"nets-4500")):
            tap = Tap(a)
            s = udp_socket(a, I4[0], sport)
            s.sendto(payload, (I4[1], dport))
            s.close()
            pkts = tap.take()
            plain = plaintext_between(pkts, I4[0], I4[1])
            esp = esp_frames(pkts, 0x1001)
            result(not plain and esp, n, f"plaintext on the wire: {summ(plain)}, {len(esp)} ESP")

        # real IKE between the SA's outer addresses: plaintext, ike-bypass
        before = a.out_counts()
        tap = Tap(a)
        for port, payload in ((500, b"ike-sa-init"), (4500, marker + b"ike-auth")):
            s = udp_socket(a, W4[0], port)
            s.sendto(payload, (W4[1], port))
            s.close()
        pkts = tap.take()
        d = delta(before, a.out_counts())
        ike = [p for p in plaintext_between(pkts, W4[0], W4[1])
               if UDP in p and p[UDP].sport in (500, 4500) and p[UDP].dport in (500, 4500)]
        result(len(ike) == 2 and d.get("ike-bypass", 0) >= 2, "out-ike-between-gateways-plaintext",
               f"{len(ike)} of 2 IKE packets left in plaintext, out counters moved {d}")

        # ---- inbound (B): plaintext to the IKE ports
        sinks = {500: Sink(b, 500), 4500: Sink(b, 4500), 7000: Sink(b, 7000)}
        tx = Sender(a)
        cases = [
            # name, src, dst, sport, dport, payload, must be delivered
            ("in-udp500-spoof-to-protected-host-dropped", I4[0], I4[1], 500, 500, b"sp-500-host", False),
            ("in-udp4500-spoof-to-protected-host-dropped", I4[0], I4[1], 4500, 4500,
             marker + b"sp-4500-host", False),
            ("in-udp-sport500-spoof-to-protected-host-dropped", I4[0], I4[1], 500, 7000,
             b"sp-s500-host", False),
            ("in-udp500-spoof-nonpeer-to-gateway-dropped", "10.0.0.3", W4[1], 500, 500,
             b"sp-500-gw", False),
            ("in-udp4500-spoof-nonpeer-to-gateway-dropped", "10.0.0.3", W4[1], 4500, 4500,
             marker + b"sp-4500-gw", False),
            ("in-ike500-from-peer-delivered", W4[0], W4[1], 500, 500, b"peer-500", True),
            ("in-ike4500-from-peer-delivered", W4[0], W4[1], 4500, 4500, marker + b"peer-4500", True),
        ]
        moved = {}
        for n, src, dst, sport, dport, payload, _ in cases:
            f = P.frame(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload))
            moved[n] = counting(b, lambda f=f: tx.send(f))
        collect(*sinks.values(), want=[c[5] for c in cases if c[6]], total=3)
        for n, src, dst, sport, dport, payload, want in cases:
            got = bool(sinks[dport].has(payload))
            if want:
                result(got, n, f"not delivered; receive counters moved {moved[n]}")
            else:
                drop = dropped_by(moved[n])
                result(not got and drop, n,
                       f"delivered={got}, receive counters moved {moved[n]} (no drop reason)"
                       if not got else f"delivered to the socket on {dst}:{dport}; counters {moved[n]}")
    finally:
        P.close()


def group_in_fragments():
    """Check 3 and the fragmented-ESP half of check 8."""
    P = Pair("s")
    try:
        a, b = P.a, P.b
        P.sa(0x1001, 1, on=[b])
        P.sa(0x1601, 61, fam=6, on=[b])
        P.policy(b, f"src {N4[0]} dst {N4[1]}", "in", 1)
        P.policy(b, f"src {N6[0]} dst {N6[1]}", "in", 61, fam=6)
        # a second protected range, only for UDP to port 5555
        b.ns.run("ip addr add 192.168.3.1/32 dev lo")
        b.ns.run("ip -6 addr add fd03::1/128 dev lo")
        P.policy(b, f"src {N4[0]} dst 192.168.3.0/24 proto udp dport 5555", "in", 1)
        P.policy(b, f"src {N6[0]} dst fd03::/64 proto udp dport 5555", "in", 61, fam=6)
        s4, s6 = Sink(b, 5555, 4), Sink(b, 5555, 6)
        tx = Sender(a)

        def udp4(dst, label, size=2000, ident=1):
            return IP(src=I4[0], dst=dst, id=ident) / UDP(sport=4444, dport=5555) / Raw(
                label + b"." * (size - len(label)))

        def udp6(dst, label, size=2000, ident=1):
            return IPv6(src=I6[0], dst=dst) / IPv6ExtHdrFragment(id=ident) / UDP(
                sport=4444, dport=5555) / Raw(label + b"." * (size - len(label)))

        cases = [
            ("in-spoof-frag-v4-dropped", s4, b"sf4", [fragment(udp4(I4[1], b"sf4", ident=11), 800)]),
            ("in-spoof-frag-v6-dropped", s6, b"sf6", [fragment6(udp6(I6[1], b"sf6", ident=12), 800)]),
            ("in-spoof-frag-v4-port-policy-dropped", s4, b"sfp4",
             [fragment(udp4("192.168.3.1", b"sfp4", ident=13), 800)]),
            ("in-spoof-frag-v6-port-policy-dropped", s6, b"sfp6",
             [fragment6(udp6("fd03::1", b"sfp6", ident=14), 800)]),
            ("in-spoof-unfragmented-v4-dropped", s4, b"su4", [[udp4(I4[1], b"su4", 200)]]),
            ("in-spoof-unfragmented-v6-dropped", s6, b"su6",
             [[IPv6(src=I6[0], dst=I6[1]) / UDP(sport=4444, dport=5555) / Raw(b"su6")]]),
        ]
        moved = {}
        for n, _, _, frags in cases:
            frames = [P.frame(x) for x in frags[0]]
            moved[n] = counting(b, lambda fr=frames: tx.send(*fr))

        # ESP for an SA espx owns, arriving as fragments
        sa4, sa6 = P.scapy_sa(0x1001), P.scapy_sa(0x1601, 6)
        big4 = IP(src=I4[0], dst=I4[1]) / UDP(sport=4444, dport=5555) / Raw(b"ef4" + b"." * 1200)
        esp4 = sa4.encrypt(big4, seq_num=SEQ0)
        moved["in-esp-fragments-v4-dropped-as-esp-fragment"] = counting(
            b, lambda: tx.send(*[P.frame(x) for x in fragment(esp4, 600)]))
        big6 = IPv6(src=I6[0], dst=I6[1]) / UDP(sport=4444, dport=5555) / Raw(b"ef6" + b"." * 1200)
        esp6 = sa6.encrypt(big6, seq_num=SEQ0)
        esp6f = IPv6(src=W6[0], dst=W6[1]) / IPv6ExtHdrFragment(id=21, nh=50) / Raw(bytes(esp6[ESP]))
        moved["in-esp-fragments-v6-dropped-as-esp-fragment"] = counting(
            b, lambda: tx.send(*[P.frame(x) for x in fragment6(esp6f, 700)]))
        # a packet delivered once, then replayed as fragments
        once = sa4.encrypt(IP(src=I4[0], dst=I4[1]) / UDP(sport=4444, dport=5555) / Raw(b"esp-once"),
                           seq_num=SEQ0 + 1)
        tx.send(P.frame(once))
        time.sleep(0.1)
        moved["in-esp-replayed-as-fragments-not-accepted"] = counting(
            b, lambda: tx.send(*[P.frame(x) for x in fragment(once, 24)]))
        # controls: protected datagrams reach the same sockets
        tx.send(P.frame(sa4.encrypt(IP(src=I4[0], dst=I4[1]) / UDP(sport=4444, dport=5555) /
                                    Raw(b"control-4"), seq_num=SEQ0 + 2)),
                P.frame(sa6.encrypt(IPv6(src=I6[0], dst=I6[1]) / UDP(sport=4444, dport=5555) /
                                    Raw(b"control-6"), seq_num=SEQ0 + 2)))
        collect(s4, s6, want=[b"control-4", b"control-6"], total=4)
        ctl = bool(s4.has(b"control-4")) and bool(s6.has(b"control-6"))
        result(ctl, "in-esp-control-delivered",
               f"control-4 {bool(s4.has(b'control-4'))}, control-6 {bool(s6.has(b'control-6'))}: "
               "the sockets hear nothing, the drop checks below prove little")
        for n, sink, label, _ in cases:
            got = sink.has(label)
            drop = dropped_by(moved[n])
            result(not got and drop and "fragment-passed" not in moved[n], n,
                   f"delivered={bool(got)}, receive counters moved {moved[n]}")
        for n, sink, label in (("in-esp-fragments-v4-dropped-as-esp-fragment", s4, b"ef4"),
                               ("in-esp-fragments-v6-dropped-as-esp-fragment", s6, b"ef6")):
            got = sink.has(label)
            result(not got and moved[n].get("esp-fragment", 0) >= 1, n,
                   f"delivered={bool(got)}, receive counters moved {moved[n]}")
        n = "in-esp-replayed-as-fragments-not-accepted"
        once_n = len(s4.has(b"esp-once"))
        result(once_n == 1 and moved[n].get("esp-fragment", 0) >= 1, n,
               f"esp-once delivered {once_n} times (want 1: unfragmented only), "
               f"receive counters moved by the fragments {moved[n]}")
    finally:
        P.close()


def group_in_policy():
    """Check 5: the inbound policy decides after decryption."""
    P = Pair("p")
    try:
        a, b = P.a, P.b
        P.sa(0x1001, 1, on=[b])			# no `sel`, as strongSwan installs
        P.sa(0x1007, 7, on=[b])
        P.sa(0x2001, 3, mode="transport", on=[b])
        P.sa(0x2009, 9, mode="transport", on=[b])
        P.policy(b, f"src {N4[0]} dst {N4[1]}", "in", 1)
        P.policy(b, f"src 192.168.7.0/24 dst {N4[1]}", "in", 8)
        P.policy(b, f"src {W4[0]} dst {W4[1]} proto tcp", "in", 3, mode="transport")
        P.policy(b, f"src {W4[0]} dst {W4[1]} proto udp dport 6000", "in", 3, mode="transport")
        b.ns.run("ip route add 192.168.0.0/16 via 10.0.0.1")	# any inner source routes back
        sinks = {5555: Sink(b, 5555), 6000: Sink(b, 6000)}
        tx = Sender(a)
        seq = {}

        def esp(spi, src, dst, dport, label, mode="tunnel"):
            seq[spi] = seq.get(spi, SEQ0) + 1
            inner = IP(src=src, dst=dst) / UDP(sport=4444, dport=dport) / Raw(label)
            return P.frame(P.scapy_sa(spi, mode=mode).encrypt(inner, seq_num=seq[spi]))

        tmpl = {"inbound-template-mismatch"}
        cases = [
            # name, frame, port, label, delivered?, reasons that may count the drop
            ("in-tunnel-inner-inside-policy-delivered",
             esp(0x1001, I4[0], I4[1], 5555, b"t-in"), 5555, b"t-in", True, None),
            ("in-tunnel-inner-outside-policy-dropped",
             esp(0x1001, "192.168.9.9", I4[1], 5555, b"t-out"), 5555, b"t-out", False,
             {"inbound-no-policy", "inbound-template-mismatch"}),
            ("in-tunnel-reqid7-sa-reqid8-template-dropped",
             esp(0x1007, "192.168.7.7", I4[1], 5555, b"t-r7"), 5555, b"t-r7", False, tmpl),
            ("in-tunnel-other-tunnels-sa-dropped",
             esp(0x1007, I4[0], I4[1], 5555, b"t-r7b"), 5555, b"t-r7b", False, tmpl),
            ("in-transport-udp-no-policy-delivered",
             esp(0x2001, W4[0], W4[1], 5555, b"x-np", "transport"), 5555, b"x-np", True, None),
            ("in-transport-udp-policy-other-sa-dropped",
             esp(0x2009, W4[0], W4[1], 6000, b"x-r9", "transport"), 6000, b"x-r9", False, tmpl),
            ("in-transport-udp-policy-right-sa-delivered",
             esp(0x2001, W4[0], W4[1], 6000, b"x-r3", "transport"), 6000, b"x-r3", True, None),
        ]
        moved = {}
        for n, f, *_ in cases:
            moved[n] = counting(b, lambda f=f: tx.send(f))
        collect(*sinks.values(), want=[c[3] for c in cases if c[4]], total=3)
        for n, _, port, label, want, reasons in cases:
            got = bool(sinks[port].has(label))
            if want:
                result(got, n, f"not delivered; receive counters moved {moved[n]}")
            else:
                named = {r: c for r, c in moved[n].items() if r in reasons}
                result(not got and named, n,
                       f"delivered={got}, receive counters moved {moved[n]} "
                       f"(want one of {sorted(reasons)})")
    finally:
        P.close()


def group_ext_headers():
    """Check 6: IPv6 extension headers before UDP under `proto udp`."""
    P = Pair("x")
    try:
        a, b = P.a, P.b
        P.sa(0x1601, 61, fam=6)
        sel = f"src {N6[0]} dst {N6[1]} proto udp"
        P.policy(a, sel, "out", 61, fam=6)
        P.policy(b, sel, "in", 61, fam=6)
        sink = Sink(b, 5555, 6)

        # the stack's own: a sticky destination options header (PadN)
        tap = Tap(a)
        s = udp_socket(a, I6[0], 0, 6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
        s.sendto(b"dstopt-out", (I6[1], 5555))
        s.close()
        pkts = tap.take()
        plain = plaintext_between(pkts, I6[0], I6[1])
        dst_hdr = [p for p in plain if IPv6ExtHdrDestOpt in p]
        esp = esp_frames(pkts, 0x1601)
        result(not plain and esp, "out-v6-dstopts-udp-leaves-only-esp",
               f"plaintext on the wire {summ(plain)} ({len(dst_hdr)} with the options header), "
               f"{len(esp)} ESP")
        collect(sink, want=[b"dstopt-out"], total=3)
        result(bool(sink.has(b"dstopt-out")), "out-v6-dstopts-udp-delivered",
               "B's socket did not get it")

        # a type 0 routing header, segments left 0, through A's TC egress
        tap = Tap(a)
        Sender(a, bypass=False).send(P.frame(
            IPv6(src=I6[0], dst=I6[1]) / IPv6ExtHdrRouting(type=0, segleft=0, addresses=[]) /
            UDP(sport=4444, dport=5555) / Raw(b"rh0-out")))
        pkts = tap.take()
        plain = plaintext_between(pkts, I6[0], I6[1])
        esp = esp_frames(pkts, 0x1601)
        result(not plain and esp, "out-v6-rh0-udp-leaves-only-esp",
               f"plaintext on the wire {summ(plain)}, {len(esp)} ESP")

        # inbound plaintext spoofs, with and without an options header
        tx = Sender(a)
        moved = {}
        for n, pkt in (
                ("in-v6-dstopts-plaintext-spoof-dropped",
                 IPv6(src=I6[0], dst=I6[1]) / IPv6ExtHdrDestOpt() / UDP(sport=4444, dport=5555) /
                 Raw(b"dstopt-spoof")),
                ("in-v6-plain-udp-spoof-dropped",
                 IPv6(src=I6[0], dst=I6[1]) / UDP(sport=4444, dport=5555) / Raw(b"plain-spoof"))):
            moved[n] = counting(b, lambda f=P.frame(pkt): tx.send(f))
        collect(sink, total=2)
        for n, label in (("in-v6-dstopts-plaintext-spoof-dropped", b"dstopt-spoof"),
                         ("in-v6-plain-udp-spoof-dropped", b"plain-spoof")):
            got = bool(sink.has(label))
            result(not got and dropped_by(moved[n]), n,
                   f"delivered={got}, receive counters moved {moved[n]}")
    finally:
        P.close()


def group_ecn():
    """Check 7: ECN on decapsulation (RFC 6040, XFRM_STATE_NOECN), DSCP and
    ECN on encapsulation (XFRM_SA_XFLAG_DONT_ENCAP_DSCP)."""
    P = Pair("e")
    try:
        a, b = P.a, P.b
        P.sa(0x1001, 1)
        P.sa(0x1601, 61, fam=6)
        P.policy(a, f"src {N4[0]} dst {N4[1]}", "out", 1, extra="priority 100")
        P.policy(b, f"src {N4[0]} dst {N4[1]}", "in", 1)
        P.policy(b, f"src {N6[0]} dst {N6[1]}", "in", 61, fam=6)
        s4, s6 = Sink(b, 5557, 4), Sink(b, 5557, 6)
        tx = Sender(a)

        # inbound: outer EF+CE, inner ECT(0): the inner gets CE, not the DSCP
        f4 = P.frame(P.scapy_sa(0x1001, tos=0xbb).encrypt(
            IP(src=I4[0], dst=I4[1], tos=0x02) / UDP(sport=4444, dport=5557) / Raw(b"ce4"),
            seq_num=SEQ0))
        f6 = P.frame(P.scapy_sa(0x1601, 6, tos=0xbb).encrypt(
            IPv6(src=I6[0], dst=I6[1], tc=0x02) / UDP(sport=4444, dport=5557) / Raw(b"ce6"),
            seq_num=SEQ0))
        tx.send(f4, f6)
        noecn = None
        try:
            P.sa(0x1005, 1, on=[b], extra="flag noecn")
            tx.send(P.frame(P.scapy_sa(0x1005, tos=0x03).encrypt(
                IP(src=I4[0], dst=I4[1], tos=0x02) / UDP(sport=4444, dport=5557) / Raw(b"noecn"),
                seq_num=SEQ0)))
        except RuntimeError as e:
            noecn = f"`state add ... flag noecn` refused: {refused(e)}"
        collect(s4, s6, want=[b"ce4", b"ce6"] + ([] if noecn else [b"noecn"]), total=3)
        for n, sink, label in (("in-ecn-outer-ce-marks-inner-v4", s4, b"ce4"),
                               ("in-ecn-outer-ce-marks-inner-v6", s6, b"ce6")):
            tos = sink.has(label)
            result(tos == [0x03], n, f"inner delivered with tos {[hex(t) for t in tos]} "
                   "(want 0x3: CE from the outer, DSCP not copied)")
        tos = s4.has(b"noecn")
        result(not noecn and tos == [0x02], "in-ecn-noecn-sa-leaves-inner",
               noecn or f"inner delivered with tos {[hex(t) for t in tos]} (want 0x2)")

        # outbound: the outer header from the inner's TOS
        def outer_tos(dport, tos):
            tap = Tap(a)
            s = udp_socket(a, I4[0], 0, tos=tos)
            s.sendto(b"tos", (I4[1], dport))
            s.close()
            return [p[IP].tos for p in esp_frames(tap.take())]

        got = outer_tos(5558, 0x8a)
        result(got == [0x8a], "out-dscp-copied-to-outer", f"outer tos {[hex(t) for t in got]} (want 0x8a)")
        got = outer_tos(5558, 0x8b)
        result(got == [0x8a], "out-ce-inner-ect0-outer", f"outer tos {[hex(t) for t in got]} (want 0x8a)")
        try:
            P.sa(0x1006, 6, on=[a], extra="extra-flag dont-encap-dscp")
            P.policy(a, f"src {N4[0]} dst {N4[1]} proto udp dport 5600", "out", 6, extra="priority 10")
            got = outer_tos(5600, 0x8a)
            result(got == [0x02], "out-dont-encap-dscp-outer-dscp-zero",
                   f"outer tos {[hex(t) for t in got]} (want 0x2: DSCP 0, ECN from the inner)")
        except RuntimeError as e:
            result(False, "out-dont-encap-dscp-outer-dscp-zero",
                   f"`state add ... extra-flag dont-encap-dscp` refused: {refused(e)}")
        # XFRM_STATE_NOECN works both ways: no ECN onto the outer either
        try:
            P.sa(0x1008, 8, on=[a], extra="flag noecn")
            P.policy(a, f"src {N4[0]} dst {N4[1]} proto udp dport 5601", "out", 8, extra="priority 10")
            got = outer_tos(5601, 0x8a)
            result(got == [0x88], "out-noecn-sa-outer-ecn-clear",
                   f"outer tos {[hex(t) for t in got]} (want 0x88: DSCP copied, ECN cleared)")
        except RuntimeError as e:
            result(False, "out-noecn-sa-outer-ecn-clear",
                   f"`state add ... flag noecn` refused: {refused(e)}")
    finally:
        P.close()


GROUPS = [group_out_fragments, group_ike, group_in_fragments, group_in_policy,
          group_ext_headers, group_ecn]


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("test_enforce", "needs root")
        sys.exit(0)
    _HOME = os.open("/proc/self/ns/net", os.O_RDONLY)
    only = sys.argv[1:]
    for grp in GROUPS:
        name = grp.__name__[len("group_"):]
        if only and name not in only:
            continue
        try:
            grp()
        except Exception as e:	# a set-up step failed: one failed check
            result(False, f"enforce-{name}-setup", repr(e))
    finish()
