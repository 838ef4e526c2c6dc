#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The ESP datapath end to end: two sites (network namespaces) joined by a
veth wire, espx at both ends. For each scenario (IPv4 and IPv6, tunnel and
transport, NAT-T, AES-128 and AES-256, ESN across 2^32) it checks that
ping, UDP and a TCP transfer with a content checksum get through, that only
ESP crosses the wire, and interoperability with independent
implementations: scapy decrypts what espx sends byte for byte, and espx
delivers what scapy (and Python's `cryptography`) build. The first scenario
also sends bad packets, which must be dropped and counted by reason while
good traffic keeps flowing, and deletes the SA under traffic: no plaintext
of the protected selector may leave (fail closed). The IPv4 and IPv6 tunnel
scenarios also send datagrams too big once encapsulated: counted
mtu-exceeded, answered with ICMP "fragmentation needed" / "packet too big"
(IPv4 without DF: dropped, no answer), and the size named then fits."""
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import finish, result, skip  # noqa: E402

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from scapy.all import IP, Ether, Raw  # noqa: E402
from scapy.layers.ipsec import ESP  # noqa: E402
from espx_sites import (SPI_AB, SPI_BA, TCP_SINK, TCP_SOURCE, UDP_SINK,  # noqa: E402
                        UDP_SINK_READY, Capture, Scenario, esp_of, inner_udp, is_esp,
                        l3_headers, py_in, raw_send, scapy_sa, site_pair, to_wire)


def check_scenario(sc):
    a, b, keys = site_pair(sc)
    try:
        traffic(sc, a, b, keys)
        if sc.name == "v4-tunnel":
            bad_input(sc, a, b, keys)
            fail_closed(sc, a, b)
    finally:
        a.ns.close()
        b.ns.close()


def traffic(sc, a, b, keys):
    n = sc.name
    caps = [Capture(a), Capture(b)]
    count = 40 if sc.esn else 3	# ESN: cross 2^32 (both start at 2^32 - 32)
    r = a.ns.run(f"ping -c {count} -i 0.05 -W 2 -I {a.inner_ip} {b.inner_ip}", check=False)
    result(r.returncode == 0, f"{n}-ping", (r.stdout + r.stderr)[-300:])

    # UDP, espx to espx
    sink = py_in(b, UDP_SINK, b.inner_ip, "5555", "2")
    time.sleep(0.4)
    a.ns.run(f"/usr/bin/python3 -c \"import socket;s=socket.socket(socket.AF_INET{'6' if sc.inner_fam == 6 else ''},"
             f"socket.SOCK_DGRAM);s.bind(('{a.inner_ip}',0));s.sendto(b'x'*1000,('{b.inner_ip}',5555))\"")
    got = sink.communicate(timeout=10)[0].split()
    result(got == [("78" * 1000)], f"{n}-udp", f"received {len(got)} datagrams")

    # TCP, 1 MB with a checksum: device defaults, DF set, so the path MTU
    # must be learnt through the tunnel
    data = os.urandom(1 << 20)
    sink = py_in(b, TCP_SINK, b.inner_ip, "7000")
    time.sleep(0.4)
    src = subprocess.run(["ip", "netns", "exec", a.ns.name, "/usr/bin/python3", "-c", TCP_SOURCE,
                          b.inner_ip, "7000", a.inner_ip], input=data.hex(), text=True,
                         capture_output=True, timeout=60)
    out = sink.communicate(timeout=60)[0].split()
    want = [str(len(data)), hashlib.sha256(data).hexdigest()]
    result(out == want, f"{n}-tcp-1MB-sha256", f"got {out}, sender: {src.stderr[-200:]}")

    frames = [p for c in caps for p in c.packets()]
    # plaintext = any frame with an IPv4 or IPv6 header between the two
    # protected addresses, in whichever family and at whatever depth, that
    # is not the SA's ESP (link-local neighbour discovery is not covered by
    # the policies): in v6-in-v4 a leaked inner packet has no IPv4 header
    plain = [p for p in frames if not is_esp(sc, p) and
             any({h.src, h.dst} == set(sc.inner) for h in l3_headers(p))]
    pkts = [p for p in frames if is_esp(sc, p)]
    result(len(pkts) >= 2 * count and not plain, f"{n}-wire-only-esp",
           f"{len(pkts)} ESP packets, plaintext: {[p.summary() for p in plain][:3]}")

    # scapy decrypts what espx sent, both directions
    ok, why, seqs = True, "", {SPI_AB: [], SPI_BA: []}
    for p in pkts:
        e = esp_of(p, sc)
        spi, seq = e[ESP].spi, e[ESP].seq
        if spi not in seqs:
            ok, why = False, f"unexpected SPI {spi:#x}"
            break
        seqs[spi].append(seq)
        key = keys[0] if spi == SPI_AB else keys[1]
        src, dst = (sc.wire[0], sc.wire[1]) if spi == SPI_AB else (sc.wire[1], sc.wire[0])
        hi = 1 if sc.esn and seq < 0x80000000 else 0
        try:
            inner = scapy_sa(sc, spi, key, src, dst, hi).decrypt(e)
        except Exception as ex:	# ICV mismatch, bad padding
            ok, why = False, f"scapy cannot decrypt SPI {spi:#x} seq {seq:#x}: {ex!r}"
            break
        if sc.mode == "tunnel" and {inner.src, inner.dst} != {a.inner_ip, b.inner_ip}:
            ok, why = False, f"inner packet wrong: {inner.summary()}"
            break
    result(ok and all(seqs.values()), f"{n}-scapy-decrypts-espx", why or f"{seqs}")
    for spi, s in seqs.items():
        full = [(1 << 32) + x if sc.esn and x < 0x80000000 else x for x in s]
        start = 0xffffffe1 if sc.esn else 1
        result(full == sorted(full) and len(set(full)) == len(full) and full[:1] == [start],
               f"{n}-seq-{spi:#x}-unique-increasing", f"{[hex(x) for x in full[:5]]}...")
    if sc.esn:
        result(any(x < 0x80000000 for x in seqs[SPI_AB]), f"{n}-crossed-2^32",
               f"{[hex(x) for x in seqs[SPI_AB][-3:]]}")

    if n in ("v4-tunnel", "v6-tunnel"):
        # here: the capture is over, and scapy (next) will move B's replay
        # window far ahead of A's numbers
        path_mtu(sc, a, b)

    # scapy -> espx
    mac_b = b.mac()
    sa = scapy_sa(sc, SPI_AB, keys[0], sc.wire[0], sc.wire[1], 1 if sc.esn else 0)
    sink = py_in(b, UDP_SINK, b.inner_ip, "5556", "2")
    time.sleep(0.4)
    base = 0x100000 if sc.esn else 100000	# ahead of the traffic so far (ESN: seq_hi 1)
    frames = [to_wire(sc, sa.encrypt(inner_udp(sc, a.inner_ip, b.inner_ip, f"scapy-{i}".encode(), 5556),
                                     seq_num=base + i), mac_b) for i in range(3)]
    raw_send(a, frames)
    got = [bytes.fromhex(x) for x in sink.communicate(timeout=10)[0].split()]
    result(got == [f"scapy-{i}".encode() for i in range(3)], f"{n}-scapy-to-espx", f"got {got}")


# one UDP datagram of SIZE bytes from SRC to DST:PORT, DF set (or not),
# then what came back on the socket's error queue within 2 s, as JSON
MTU_PROBE = """
import json, select, socket, struct, sys
src, dst, port, size, df = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "df"
v6 = ':' in dst
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
lvl, mtu_discover, recverr, mtu_opt = (41, 23, 25, 24) if v6 else (0, 10, 11, 14)
s.setsockopt(lvl, mtu_discover, 2 if df else 0)	# IP(V6)_PMTUDISC_DO / _DONT
s.setsockopt(lvl, recverr, 1)
s.bind((src, 0))
s.connect((dst, port))
out = {}
try:
    s.send(b'm' * size)
except OSError as e:	# a drop in TC can come back as ENOBUFS
    out["send_errno"] = e.errno
p = select.poll()
p.register(s, select.POLLERR)
if p.poll(2000):
    _, anc, _, _ = s.recvmsg(1, 512, socket.MSG_ERRQUEUE)
    for level, typ, data in anc:
        if (level, typ) == (lvl, recverr):
            errno_, origin, etype, code, _, info, _ = struct.unpack_from("=IBBBBII", data)
            # the offender (the ICMP message's source) follows, as a sockaddr
            off = socket.inet_ntop(socket.AF_INET6, data[24:40]) if v6 else \
                socket.inet_ntop(socket.AF_INET, data[20:24])
            out.update({"errno": errno_, "origin": origin, "type": etype, "code": code,
                        "info": info, "from": off})
out["path_mtu"] = s.getsockopt(lvl, mtu_opt)
print(json.dumps(out), flush=True)
"""

def path_mtu(sc, a, b):
    """A datagram that fits the device but not once encapsulated: dropped
    and counted (mtu-exceeded); with DF (always for IPv6) the sender gets
    ICMP "fragmentation needed" / "packet too big" from the inner
    destination, naming the largest inner packet that fits, and a datagram
    of that size then goes through. A destination of its own, so that the
    path MTU the other checks learn is not this one."""
    n, i6 = sc.name, sc.inner_fam == 6
    dst = "fd02::9" if i6 else "192.168.2.9"
    b.ns.run(f"ip addr add {dst}/{128 if i6 else 32} dev lo{' nodad' if i6 else ''}")
    l3l4 = (40 if i6 else 20) + 8
    # esp_tx.h: outer header, SPI and sequence number, IV, ICV, pad length
    # and next header, the most padding (3), and the 2 bytes that keep a late
    # checksum write off the ciphertext
    want = 1500 - ((40 if sc.fam == 6 else 20) + 8 + 8 + 16 + 2 + 3 + 2)

    def sa_packets():
        return [x for x in a.stats()["sas"] if x["spi"] == SPI_AB][0]["packets"]

    def probe(size, df):
        r = subprocess.run(["ip", "netns", "exec", a.ns.name, "/usr/bin/python3", "-c", MTU_PROBE,
                            a.inner_ip, dst, "5557", str(size), "df" if df else "nodf"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode:
            raise RuntimeError(f"MTU probe: {r.stderr[-300:]}")
        return json.loads(r.stdout)

    sink = py_in(b, UDP_SINK_READY, dst, "5557", "5")
    if sink.stdout.readline().strip() != "ready":
        raise RuntimeError(f"UDP sink on {dst} did not start")
    if not i6:
        # without DF: dropped, nothing said to the sender
        m0, p0 = a.drops("mtu-exceeded", "out"), sa_packets()
        got = probe(1500 - l3l4, False)
        m1, p1 = a.drops("mtu-exceeded", "out"), sa_packets()
        result(m1 == m0 + 1 and p1 == p0 and "errno" not in got, f"{n}-too-big-no-df-dropped",
               f"mtu-exceeded {m0} -> {m1}, SA packets {p0} -> {p1}, error queue {got}")
    m0, p0 = a.drops("mtu-exceeded", "out"), sa_packets()
    got = probe(1500 - l3l4, True)
    m1, p1 = a.drops("mtu-exceeded", "out"), sa_packets()
    result(m1 == m0 + 1 and p1 == p0, f"{n}-too-big-counted-mtu-exceeded",
           f"mtu-exceeded {m0} -> {m1}, SA packets {p0} -> {p1}")
    # errno EMSGSIZE; origin SO_EE_ORIGIN_ICMP (2) / _ICMP6 (3)
    icmp = {"errno": 90, "origin": 3, "type": 2, "code": 0} if i6 else \
        {"errno": 90, "origin": 2, "type": 3, "code": 4}
    icmp.update({"info": want, "from": dst})
    result({k: got.get(k) for k in icmp} == icmp,
           f"{n}-{'packet-too-big' if i6 else 'frag-needed'}-to-sender",
           f"error queue {got}, want {icmp}")
    result(got.get("path_mtu") == want, f"{n}-sender-path-mtu-lowered",
           f"IP_MTU {got.get('path_mtu')}, want {want}")
    # the size named fits: it leaves as ESP and arrives whole
    got = probe(want - l3l4, True)
    data = [x for x in sink.communicate(timeout=10)[0].split() if x != "ready"]
    result(data == ["6d" * (want - l3l4)] and sa_packets() == p1 + 1 and "errno" not in got,
           f"{n}-announced-mtu-fits",
           f"received {[len(x) // 2 for x in data]} bytes, want {want - l3l4}; "
           f"SA packets {p1} -> {sa_packets()}; error queue {got}")


def gcm_esp(key, spi, seq, plaintext, iv=None, seq_hi=None):
    """An ESP packet (from the SPI on) built with `cryptography`, for
    packets scapy will not make: bad padding, bad next header."""
    k, salt = key[:-4], key[-4:]
    iv = iv or os.urandom(8)
    aad = struct.pack("!II", spi, seq) if seq_hi is None else struct.pack("!III", spi, seq_hi, seq)
    ct = AESGCM(k).encrypt(salt + iv, plaintext, aad)
    return struct.pack("!II", spi, seq) + iv + ct


BAD_BASE = 200000	# above every sequence number used before it


def bad_input(sc, a, b, keys):
    """Each bad packet is dropped and counted by its reason; good ones sent
    between them still arrive."""
    key = bytes.fromhex(keys[0])
    mac_b = b.mac()
    sa = scapy_sa(sc, SPI_AB, keys[0], sc.wire[0], sc.wire[1])
    outer = IP(src=sc.wire[0], dst=sc.wire[1], proto=50)

    def good(i):
        return to_wire(sc, sa.encrypt(inner_udp(sc, a.inner_ip, b.inner_ip, f"good-{i}".encode()),
                                      seq_num=BAD_BASE + i), mac_b)

    def inner_with_trailer(pad_len, nh):
        inner = bytes(inner_udp(sc, a.inner_ip, b.inner_ip, b"crafted"))
        pad = bytes(range(1, pad_len + 1)) if pad_len < 64 else b""
        return inner + pad + bytes([pad_len, nh])

    cases = [
        ("replay", "replay", lambda: good(0)),	# good(0) already sent
        ("left-of-window", "replay-left-of-window",
         lambda: to_wire(sc, sa.encrypt(inner_udp(sc, a.inner_ip, b.inner_ip, b"old"), seq_num=5), mac_b)),
        ("tampered-icv", "icv-mismatch", lambda: Ether(_flip_last(bytes(good(10))))),
        ("truncated", "truncated",
         lambda: Ether(dst=mac_b) / outer / Raw(struct.pack("!II", SPI_AB, BAD_BASE + 20) + b"\0" * 10)),
        ("pad-longer-than-payload", "bad-padding",
         lambda: Ether(dst=mac_b) / outer / Raw(gcm_esp(key, SPI_AB, BAD_BASE + 30, inner_with_trailer(250, 4)))),
        ("bad-next-header", "bad-next-header",
         lambda: Ether(dst=mac_b) / outer / Raw(gcm_esp(key, SPI_AB, BAD_BASE + 40, inner_with_trailer(2, 17)))),
        ("inner-outside-sa-selector", "selector-mismatch",
         lambda: to_wire(sc, sa.encrypt(inner_udp(sc, "192.168.9.9", b.inner_ip, b"outside"),
                                        seq_num=BAD_BASE + 50), mac_b)),
        ("plaintext-spoof", "plaintext-on-protected-selector",
         lambda: Ether(dst=mac_b) / inner_udp(sc, a.inner_ip, b.inner_ip, b"spoofed")),
    ]
    sink = py_in(b, UDP_SINK, b.inner_ip, "5555", "4")
    time.sleep(0.4)
    raw_send(a, [good(0)])
    for i, (name, reason, make) in enumerate(cases, 1):
        before = b.drops(reason)
        raw_send(a, [make(), good(i)])
        after = b.drops(reason)
        result(after == before + 1, f"bad-{name}-dropped-as-{reason}", f"{before} -> {after}")
    # unknown SPI: not ours, handed to the kernel untouched and counted
    before = b.drops("no-sa")
    raw_send(a, [Ether(dst=mac_b) / outer / Raw(struct.pack("!II", 0x9999, 1) + b"\0" * 40)])
    result(b.drops("no-sa") == before + 1, "unknown-spi-passed-and-counted", "")
    got = [bytes.fromhex(x) for x in sink.communicate(timeout=10)[0].split()]
    want = [f"good-{i}".encode() for i in range(len(cases) + 1)]
    result(got == want, "good-traffic-flows-between-bad", f"got {got}")
    result(all(g.startswith(b"good-") for g in got), "no-bad-packet-delivered", f"got {got}")


def _flip_last(frame):
    b = bytearray(frame)
    b[-1] ^= 1
    return bytes(b)


def fail_closed(sc, a, b):
    """Delete A's outbound SA while traffic flows: from then on nothing of
    the protected selector may leave A, encrypted or not."""
    cap = Capture(a)
    flood = subprocess.Popen(["ip", "netns", "exec", a.ns.name, "ping", "-i", "0.02", "-c", "100", "-w", "4",
                              "-I", a.inner_ip, b.inner_ip], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    a.ns.espx(f"state del dst {sc.wire[1]} proto esp spi {SPI_AB:#x}")
    t_del = time.time()
    flood.wait(timeout=30)
    pkts = cap.packets()
    leaked = [p for p in pkts if IP in p and p[IP].proto != 50]
    esp_after = [p for p in pkts if IP in p and p[IP].proto == 50 and float(p.time) > t_del + 0.05]
    result(not leaked, "fail-closed-no-plaintext", f"{[p.summary() for p in leaked][:3]}")
    result(not esp_after, "fail-closed-no-esp-after-delete", f"{len(esp_after)} ESP packets")
    result(a.drops("policy-without-sa", "out") > 0, "fail-closed-counted", "")


SCENARIOS = [
    Scenario("v4-tunnel"),
    Scenario("v6-tunnel", fam=6),
    Scenario("v4-transport", mode="transport"),
    Scenario("v6-transport", fam=6, mode="transport"),
    Scenario("v4-natt-tunnel", encap=True),
    Scenario("v4-tunnel-aes256", bits=256),
    Scenario("v4-tunnel-aes-generic", driver="generic"),
    Scenario("v4-tunnel-esn-wrap", esn=True),
    Scenario("v4-tunnel-sw-checksum", tx_csum_off=True),
    Scenario("v6-in-v4-tunnel", inner_fam=6),
    Scenario("v4-in-v6-tunnel", fam=6, inner_fam=4),
]


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("test_datapath", "needs root")
        sys.exit(0)
    only = sys.argv[1:]
    for sc in SCENARIOS:
        if only and sc.name not in only:
            continue
        try:
            check_scenario(sc)
        except Exception as e:	# a set-up step failed: one failed check
            result(False, f"{sc.name}-setup", repr(e))
    finish()
