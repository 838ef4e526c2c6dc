# SPDX-License-Identifier: GPL-2.0
"""The two-site fixture of the Python datapath tests: sites a and b (network
namespaces) joined by a veth wire, addressed as a Scenario says (family,
mode, inner family, NAT-T, ESN, key size) and, once configured, espx at both
ends with one SA pair and the policies an IKE daemon installs; plus the
tools those tests share to look at the wire and to send through it (capture,
in-namespace sockets, raw frames, scapy's SAs).

    a [wire-a 10.0.0.1/24] ---- veth ---- [wire-b 10.0.0.2/24] b
    lo 192.168.1.1 (tunnel mode)            lo 192.168.2.1
"""
import json
import os
import subprocess
import tempfile
import time

from espx_test import BUILD, Netns, veth
from scapy.all import IP, UDP, Ether, IPv6, NoPayload, Raw, rdpcap
from scapy.layers.ipsec import ESP, SecurityAssociation

AEAD = "'rfc4106(gcm(aes))'"
SPI_AB, SPI_BA = 0x1001, 0x1002
NATT = 4500


class Scenario:
    def __init__(self, name, fam=4, mode="tunnel", encap=False, bits=128, esn=False,
                 tx_csum_off=False, inner_fam=None, driver=None, queues=1, window=128):
        self.name, self.fam, self.mode, self.encap, self.bits, self.esn = \
            name, fam, mode, encap, bits, esn
        # a device without checksum offload: the kernel fills in checksums
        # in software after TC, over what espx has already encrypted
        self.tx_csum_off = tx_csum_off
        self.driver = driver	# espx's "aes-driver" word; None: the default
        self.queues = queues	# the wire's transmit/receive queues per end
        self.window = window	# the SAs' replay window
        v6 = fam == 6
        self.wire = ("fd00::1", "fd00::2") if v6 else ("10.0.0.1", "10.0.0.2")
        self.plen = 64 if v6 else 24
        # tunnel mode may carry the other family inside (inner_fam)
        self.inner_fam = inner_fam or fam
        i6 = self.inner_fam == 6
        if mode == "tunnel":
            self.inner = ("fd01::1", "fd02::1") if i6 else ("192.168.1.1", "192.168.2.1")
            self.nets = ("fd01::/64", "fd02::/64") if i6 else ("192.168.1.0/24", "192.168.2.0/24")
        else:
            self.inner = self.wire
            host = "/128" if v6 else "/32"
            self.nets = (self.wire[0] + host, self.wire[1] + host)
        self.IP = IPv6 if v6 else IP		# outer
        self.IIP = IPv6 if i6 else IP		# inner


def esp_line(sc, spi, src, dst, key):
    extra = ""
    if sc.encap:
        extra += f" encap espinudp {NATT} {NATT} 0.0.0.0"
    if sc.esn:
        # both directions start just below 2^32 so the test crosses it
        extra += " flag esn replay-seq 0xffffffe0 replay-oseq 0xffffffe0"
    if sc.driver:
        extra += f" aes-driver {sc.driver}"
    if sc.mode == "tunnel":
        # what the SA may carry: decapsulated packets must match it
        nets = sc.nets if spi == SPI_AB else sc.nets[::-1]
        extra += f" sel src {nets[0]} dst {nets[1]}"
    return (f"state add src {src} dst {dst} proto esp spi {spi:#x} reqid {spi} mode {sc.mode} "
            f"replay-window {sc.window} aead {AEAD} 0x{key} 128{extra}")


class Site:
    def __init__(self, short, sc, me):
        self.ns = Netns(short)
        self.sc, self.me = sc, me
        self.dev = f"wire-{short}"
        self.wire_ip, self.peer_wire_ip = sc.wire[me], sc.wire[1 - me]
        self.inner_ip, self.peer_inner_ip = sc.inner[me], sc.inner[1 - me]
        self.net, self.peer_net = sc.nets[me], sc.nets[1 - me]

    def address(self):
        ns, sc = self.ns, self.sc
        nodad = " nodad" if sc.fam == 6 else ""
        ns.run(f"ip addr add {self.wire_ip}/{sc.plen} dev {self.dev}{nodad}")
        if sc.tx_csum_off:
            ns.run(f"ethtool -K {self.dev} tx off")
        if sc.mode == "tunnel":
            host = "/128" if sc.inner_fam == 6 else "/32"
            ns.run(f"ip addr add {self.inner_ip}{host} dev lo")
            if sc.inner_fam == sc.fam:
                ns.run(f"ip route add {self.peer_net} via {self.peer_wire_ip} src {self.inner_ip}")
            elif sc.inner_fam == 4:	# IPv4 over an IPv6 wire: via inet6 (RFC 5549)
                ns.run(f"ip route add {self.peer_net} via inet6 {self.peer_wire_ip} "
                       f"src {self.inner_ip}")
            else:		# IPv6 over an IPv4 wire: link-local next hops
                ns.run(f"ip addr add fe80::{self.me + 1}/64 dev {self.dev} nodad")
                ns.run(f"ip -6 route add {self.peer_net} via fe80::{2 - self.me} dev {self.dev} "
                       f"src {self.inner_ip}")

    def configure(self, keys, ab_extra=""):
        """espx attached to the wire, the SA pair (AB with ab_extra words
        appended) and the policies out, in and fwd."""
        ns, sc = self.ns, self.sc
        ns.espx(f"attach {self.dev}")
        extra = f" {ab_extra}" if ab_extra else ""
        ns.espx(esp_line(sc, SPI_AB, sc.wire[0], sc.wire[1], keys[0]) + extra)
        ns.espx(esp_line(sc, SPI_BA, sc.wire[1], sc.wire[0], keys[1]))
        out_spi, in_spi = (SPI_AB, SPI_BA) if self.me == 0 else (SPI_BA, SPI_AB)
        ns.espx(f"policy add src {self.net} dst {self.peer_net} dir out tmpl src {self.wire_ip} "
                f"dst {self.peer_wire_ip} proto esp reqid {out_spi} mode {sc.mode}")
        # in and fwd, as IKE daemons install them: XFRM checks a decrypted
        # packet for this host against in, one routed on (a gateway's LAN)
        # against fwd, and drops a tunnel-mode packet that has no policy
        for d in ("in", "fwd"):
            ns.espx(f"policy add src {self.peer_net} dst {self.net} dir {d} tmpl src {self.peer_wire_ip} "
                    f"dst {self.wire_ip} proto esp reqid {in_spi} mode {sc.mode}")

    def mac(self):
        return json.loads(self.ns.run(f"ip -j link show {self.dev}").stdout)[0]["address"]

    def stats(self):
        return json.loads(self.ns.espx("-j stats").stdout)

    def drops(self, reason, direction="in"):
        return self.stats()["drops"][direction][reason]["packets"]


class Capture:
    """What a site sends on its wire (tcpdump -Q out): receive taps see
    packets after XDP decrypted them, so the wire is both transmit sides."""

    def __init__(self, site):
        self.file = tempfile.mktemp(suffix=".pcap")
        self.p = subprocess.Popen(["ip", "netns", "exec", site.ns.name, "tcpdump",
                                   "--immediate-mode", "-Q", "out", "-i", site.dev, "-U",
                                   "-w", self.file, "ip or ip6"],
                                  stderr=subprocess.PIPE, text=True)
        self.p.stderr.readline()	# "listening on ..."

    def packets(self):
        time.sleep(0.3)
        self.p.terminate()
        self.p.wait()
        pkts = rdpcap(self.file)
        os.unlink(self.file)
        return pkts


def py_in(site, code, *args):
    return subprocess.Popen(["ip", "netns", "exec", site.ns.name, "/usr/bin/python3", "-c",
                             code] + list(args), stdout=subprocess.PIPE, text=True)


UDP_SINK = """
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
try:
    while True:
        d, a = s.recvfrom(65535)
        print(d.hex(), flush=True)
except Exception:
    pass
"""

# the same, saying "ready" once bound (a sender need not guess when)
UDP_SINK_READY = UDP_SINK.replace("s.settimeout(", "print('ready', flush=True)\ns.settimeout(")

TCP_SINK = """
import hashlib, socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d)
    n += len(d)
print(n, h.hexdigest(), flush=True)
"""

TCP_SOURCE = """
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
data = bytes.fromhex(sys.stdin.read().strip())
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(20)
s.bind((sys.argv[3], 0))
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(data)
s.close()
"""

# PACKET_QDISC_BYPASS: straight to the driver, past the sender's own TC
# egress program (which would otherwise encrypt a plaintext spoof)
RAW_SEND = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.setsockopt(263, 20, 1)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"""


def raw_send(site, frames):
    subprocess.run(["ip", "netns", "exec", site.ns.name, "/usr/bin/python3", "-c", RAW_SEND,
                    site.dev] + [bytes(f).hex() for f in frames], check=True)


def scapy_sa(sc, spi, key, src, dst, esn_hi=0):
    kw = {}
    if sc.mode == "tunnel":
        kw["tunnel_header"] = sc.IP(src=src, dst=dst)
    if sc.esn:
        kw["esn_en"] = True
        kw["esn"] = esn_hi
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                               crypt_key=bytes.fromhex(key), **kw)


def l3_headers(frame):
    """Every IPv4 and IPv6 header scapy found in a frame, outermost first."""
    hs, layer = [], frame
    while not isinstance(layer, NoPayload):
        if isinstance(layer, (IP, IPv6)):
            hs.append(layer)
        layer = layer.payload
    return hs


def is_esp(sc, frame):
    """The frame is ESP as the scenario's SAs send it: an outer header of the
    wire's family between the wire addresses, carrying ESP (NAT-T: UDP from
    or to port 4500)."""
    hs = l3_headers(frame)
    if not hs or not isinstance(hs[0], sc.IP) or {hs[0].src, hs[0].dst} != set(sc.wire):
        return False
    proto = hs[0].proto if sc.fam == 4 else hs[0].nh
    if sc.encap:
        return proto == 17 and UDP in hs[0] and NATT in (hs[0][UDP].sport, hs[0][UDP].dport)
    return proto == 50


def esp_of(pkt, sc):
    """The outer IP packet with ESP directly after the IP header (NAT-T's
    UDP header removed: scapy 2.5 mishandles it, and it is not covered by
    the ICV)."""
    ip = pkt[sc.IP]
    if sc.encap and UDP in ip and ip[UDP].dport == NATT:
        payload = bytes(ip[UDP].payload)[:ip[UDP].len - 8]	# not the Ethernet padding
        if sc.fam == 4:
            return IP(src=ip.src, dst=ip.dst, proto=50) / ESP(payload)
        return IPv6(src=ip.src, dst=ip.dst, nh=50) / ESP(payload)
    return ip


def to_wire(sc, esp_pkt, mac):
    """scapy's ESP packet as a frame for the wire (NAT-T: inside UDP with a
    correct length; scapy 2.5 writes 8)."""
    ip = esp_pkt
    if sc.encap:
        esp_bytes = bytes(ip[ESP])
        if sc.fam == 4:
            ip = IP(src=ip.src, dst=ip.dst) / UDP(sport=NATT, dport=NATT, chksum=0) / Raw(esp_bytes)
        else:
            ip = IPv6(src=ip.src, dst=ip.dst) / UDP(sport=NATT, dport=NATT) / Raw(esp_bytes)
    return Ether(dst=mac) / ip


def inner_udp(sc, src, dst, payload, dport=5555):
    return sc.IIP(src=src, dst=dst) / UDP(sport=4444, dport=dport) / Raw(payload)


def configure_pair(a, b, ab_extra=""):
    """Fresh keys for the scenario's key size, espx set up on both sites
    (Site.configure); returns the keys (AB, BA) in hex."""
    klen = a.sc.bits // 8 + 4
    keys = (os.urandom(klen).hex(), os.urandom(klen).hex())
    a.configure(keys, ab_extra)
    b.configure(keys, ab_extra)
    return keys


def site_pair(sc, configure=True, ab_extra=""):
    """Sites a and b of scenario sc, the veth between them, addresses and
    routes; with configure, espx on both (configure_pair). Returns (a, b,
    keys), keys None without configure. A step that fails removes both
    namespaces before its error goes on; after that, closing them
    (a.ns.close(), b.ns.close()) is the caller's."""
    a = Site("a", sc, 0)
    b = None
    try:
        b = Site("b", sc, 1)
        veth(a.ns, a.dev, b.ns, b.dev, sc.queues)
        a.address()
        b.address()
        keys = configure_pair(a, b, ab_extra) if configure else None
    except BaseException:
        a.ns.close()
        if b:
            b.ns.close()
        raise
    return a, b, keys


def wire_losses(a, b):
    """What the veth wire from a to b lost itself, as counters to take a
    difference of: a's transmit drops (veth drops a packet when the peer's
    receive ring is full, as it can when the peer's NAPI is held up) and
    b's receive-queue drops. espx's own XDP drops are not among them."""
    tx = json.loads(a.ns.run(f"ip -j -s link show dev {a.dev}").stdout)[0]["stats64"]["tx"]
    rxq = 0
    for line in b.ns.run(f"ethtool -S {b.dev}").stdout.splitlines():
        k, _, v = line.strip().partition(":")
        if k.startswith("rx_queue_") and k.endswith("_drops") and "xdp" not in k:
            rxq += int(v)
    return tx["dropped"] + rxq


class Traffic:
    """build/tests/soak_traffic in a site (tests/tools/soak_traffic.c): MODE
    send, recv or wire with its options. recv and wire say "ready" once set
    up (the constructor waits for it); result() waits for the end (wire:
    after SIGTERM) and returns the tool's JSON line as a dict."""

    TOOL = os.path.join(BUILD, "tests", "soak_traffic")

    def __init__(self, site, mode, **opts):
        args = [self.TOOL, mode]
        for k, v in opts.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        self.mode = mode
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(["ip", "netns", "exec", site.ns.name] + args,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        if mode != "send":
            line = self.p.stdout.readline().strip()
            if line != "ready":
                self.p.kill()
                raise RuntimeError(f"soak_traffic {mode} did not start: {line!r} {self.stderr()}")

    def stderr(self):
        self.err.seek(0)
        return self.err.read().strip()[-600:]

    def result(self, timeout=None, stop=False):
        """The tool's JSON; with stop (always for wire) after SIGTERM."""
        if stop or self.mode == "wire":
            self.p.terminate()
        out = self.p.communicate(timeout=timeout)[0].strip().splitlines()
        if self.p.returncode != 0 or not out:
            raise RuntimeError(f"soak_traffic {self.mode} exited {self.p.returncode}: "
                               f"{self.stderr()}")
        return json.loads(out[-1])

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
