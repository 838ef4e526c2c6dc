#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""espx on a container host pair (issue 12): two nodes, each a namespace
with an uplink, two pods per node, each a namespace with a veth to its
node, wired as Kubernetes CNIs and Docker's bridge do:

  routed (Calico-like)                   bridged (Docker / flannel cni0-like)
  pod eth0 10.244.N.x/32,                pod eth0 10.244.N.x/24, default via
  default via 169.254.1.1 onlink;        10.244.N.1; node: br0 10.244.N.1/24
  node: answers for 169.254.1.1 (a      with the pods' veths as ports
  fixed neighbour in the pod), a /32
  route to the pod through its veth

  p1a 10.244.1.2 --vp1a--+                          +--vp2a-- p2a 10.244.2.2
                         n1 [up1 10.0.0.1] -- [up2 10.0.0.2] n2
  p1b 10.244.1.3 --vp1b--+    (veth, 1500)          +--vp2b-- p2b 10.244.2.3

espx on each node's uplink carries pod-to-pod traffic between the nodes in
one tunnel-mode SA pair (out / in / fwd policies for 10.244.1.0/24 <->
10.244.2.0/24), the node forwarding. Pods keep their veths' default
offloads (TSO on), so the node forwards GSO super-packets that espx must
segment. Checked per variant: ping and TCP (sha256) between pods on
different nodes, both ways; only ESP (and ND) on the uplink; pods on one
node still talk in plaintext through it; no drops on either node.

Then espx inside p1b and p2b as well (transport mode between the pod IPs,
SPIs of their own): TCP between them checked, only ESP on p1b's veth and
on the uplink (the node tunnels the pods' ESP once more), each namespace
lists only its own SAs, `espx status --all` in the root namespace lists
all four; espx unloaded on the nodes leaves the pods' ESP working, and
unloaded in the pods leaves the node tunnel working.

Pod MTU: 1440, the uplink's 1500 less 60 for the node tunnel (outer IPv4
20, ESP 8, IV 8, padding up to 3, trailer 2, ICV 16: 57), as CNIs size pod
MTUs under an encapsulation. A pod that runs its own ESP must fit the
node's tunnel: the node answers a pod's too-big ESP packet with
"fragmentation needed" from its own address, as a router does, but that
error quotes an ESP packet, and only the kernel's own ESP (esp4_err, with
its copy of the SA) maps it to the flow inside; espx keeps no path MTU per
SA, so with pod MTU 1500 TCP between p1b and p2b stalls on a path MTU
black hole.

VARIANTS drives the run: (kind, fast). fast=True adds `espx attach VETH
--redirect` on every node-side pod veth (the pod fast path), and the same
checks must pass; fast-path-taken checks the fast path's counters: both
directions routed, transmit only bridged (the FIB names the bridge, not
the pod's port, so decrypted packets take the normal path there); none
without it.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import BUILD, Netns, finish, plan, result, sh, skip, veth  # noqa: E402
from espx_sites import AEAD, TCP_SINK, TCP_SOURCE  # noqa: E402

from scapy.all import IP, IPv6, rdpcap  # noqa: E402

VARIANTS = [("routed", False), ("bridged", False), ("routed", True), ("bridged", True)]

UPLINK = {1: "10.0.0.1", 2: "10.0.0.2"}
POD_NET = {1: "10.244.1.0/24", 2: "10.244.2.0/24"}
POD_IP = {"a": 2, "b": 3}		# host part per pod letter
POD_MTU = 1440
NODE_SPI = {(1, 2): 0x1001, (2, 1): 0x1002}
POD_SPI = {(1, 2): 0x2001, (2, 1): 0x2002}
MB = 3 << 20
PASS_THROUGH = ("none", "no-sa", "fragment-passed", "ike-bypass", "fast-path")	# counted, not drops
ALLOWED = 2	# checksum-collision drops tolerated per namespace (unexpected_drops)
CHECKS = 21	# results each variant reports


def key():
    return os.urandom(20).hex()	# AES-128 + 4 bytes salt


class Pod:
    def __init__(self, node, letter):
        self.node, self.letter = node, letter
        self.short = f"p{node.n}{letter}"
        self.ip = f"10.244.{node.n}.{POD_IP[letter]}"
        self.veth = f"v{self.short}"		# its node's end
        self.ns = Netns(self.short)


class Node:
    def __init__(self, n):
        self.n = n
        self.up = f"up{n}"
        self.ip = UPLINK[n]
        self.peer_ip = UPLINK[3 - n]
        self.short = f"n{n}"
        self.ns = Netns(self.short)
        self.pods = {}


class Topo:
    def __init__(self):
        self.nodes = {}

    def namespaces(self):
        for node in self.nodes.values():
            for pod in node.pods.values():
                yield pod.ns
            yield node.ns

    def close(self):
        for ns in list(self.namespaces()):
            ns.close()
        self.nodes = {}

    def pod(self, name):		# "p1a"
        return self.nodes[int(name[1])].pods[name[2]]


def build(kind, topo):
    """Nodes, pods, addresses and routes of one kind ("routed" or
    "bridged") into topo (which the caller closes, also when this fails)."""
    for n in (1, 2):
        topo.nodes[n] = Node(n)
    n1, n2 = topo.nodes[1], topo.nodes[2]
    veth(n1.ns, n1.up, n2.ns, n2.up)
    for node in (n1, n2):
        ns = node.ns
        ns.run(f"ip addr add {node.ip}/24 dev {node.up}")
        ns.run("sysctl -qw net.ipv4.ip_forward=1")
        ns.run(f"ip route add {POD_NET[3 - node.n]} via {node.peer_ip} dev {node.up}")
        if kind == "bridged":
            ns.run("ip link add br0 type bridge")
            ns.run(f"ip addr add 10.244.{node.n}.1/24 dev br0")
            ns.run("ip link set br0 up")
        for letter in ("a", "b"):
            pod = Pod(node, letter)
            node.pods[letter] = pod
            veth(pod.ns, "eth0", ns, pod.veth)
            pod.ns.run(f"ip link set eth0 mtu {POD_MTU}")
            ns.run(f"ip link set {pod.veth} mtu {POD_MTU}")
            if kind == "routed":
                pod.ns.run(f"ip addr add {pod.ip}/32 dev eth0")
                pod.ns.run("ip route add 169.254.1.1 dev eth0 scope link")
                pod.ns.run("ip route add default via 169.254.1.1 dev eth0 onlink")
                # Calico answers the pod's ARP for 169.254.1.1 by proxy_arp
                # (the node's default route points elsewhere); these nodes
                # have no default route, so the pod gets the neighbour fixed
                mac = json.loads(ns.run(f"ip -j link show {pod.veth}").stdout)[0]["address"]
                pod.ns.run(f"ip neigh add 169.254.1.1 lladdr {mac} dev eth0 nud permanent")
                ns.run(f"ip route add {pod.ip}/32 dev {pod.veth} scope link")
            elif kind == "bridged":
                ns.run(f"ip link set {pod.veth} master br0")
                pod.ns.run(f"ip addr add {pod.ip}/24 dev eth0")
                pod.ns.run(f"ip route add default via 10.244.{node.n}.1")
            else:
                raise ValueError(f"unknown topology kind {kind!r}: routed or bridged")


def node_espx(topo, keys):
    """espx on each node's uplink: one tunnel SA pair between the uplinks,
    out / in / fwd policies for the pod CIDRs (in and fwd as IKE daemons
    install them; forwarded packets are checked against fwd)."""
    for node in topo.nodes.values():
        ns, me, peer = node.ns, node.n, 3 - node.n
        ns.espx(f"attach {node.up}")
        for (s, d), spi in NODE_SPI.items():
            ns.espx(f"state add src {UPLINK[s]} dst {UPLINK[d]} proto esp spi {spi:#x} "
                    f"reqid {spi} mode tunnel replay-window 128 aead {AEAD} 0x{keys[(s, d)]} "
                    f"128 sel src {POD_NET[s]} dst {POD_NET[d]}")
        ns.espx(f"policy add src {POD_NET[me]} dst {POD_NET[peer]} dir out tmpl src {node.ip} "
                f"dst {node.peer_ip} proto esp reqid {NODE_SPI[(me, peer)]} mode tunnel")
        for d in ("in", "fwd"):
            ns.espx(f"policy add src {POD_NET[peer]} dst {POD_NET[me]} dir {d} tmpl "
                    f"src {node.peer_ip} dst {node.ip} proto esp reqid {NODE_SPI[(peer, me)]} "
                    f"mode tunnel")


def fast_path(topo):
    """The fast path: espx on every node-side pod veth (for bridged these
    are the bridge ports), decrypted packets redirected into the pod's veth
    and the pods' packets encrypted at the veth's ingress."""
    for node in topo.nodes.values():
        for pod in node.pods.values():
            node.ns.espx(f"attach {pod.veth} --redirect")


def pod_espx(p, q, keys):
    """espx in pods p and q: transport-mode SA pair between their IPs."""
    for me, peer in ((p, q), (q, p)):
        me.ns.espx("attach eth0")
        for (s, d), (src, dst) in (((1, 2), (p.ip, q.ip)), ((2, 1), (q.ip, p.ip))):
            me.ns.espx(f"state add src {src} dst {dst} proto esp spi {POD_SPI[(s, d)]:#x} "
                       f"reqid {POD_SPI[(s, d)]} mode transport replay-window 128 aead {AEAD} "
                       f"0x{keys[(s, d)]} 128")
        out = POD_SPI[(1, 2)] if me is p else POD_SPI[(2, 1)]
        inn = POD_SPI[(2, 1)] if me is p else POD_SPI[(1, 2)]
        me.ns.espx(f"policy add src {me.ip}/32 dst {peer.ip}/32 dir out tmpl src {me.ip} "
                   f"dst {peer.ip} proto esp reqid {out} mode transport")
        me.ns.espx(f"policy add src {peer.ip}/32 dst {me.ip}/32 dir in tmpl src {peer.ip} "
                   f"dst {me.ip} proto esp reqid {inn} mode transport")


class Capture:
    """tcpdump of one device in a namespace (direction: in, out, inout).
    A receive tap sees packets after XDP: the wire is the transmit sides.
    Headers only, into a 32 MB buffer: with a small one the kernel drops
    most of a fast transfer's packets before tcpdump reads them, and a
    capture with gaps proves nothing; packets() records how many were
    lost (dropped), and only_esp() fails a capture that lost any."""

    def __init__(self, ns, dev, direction="out"):
        fd, self.file = tempfile.mkstemp(suffix=".pcap")
        os.close(fd)
        self.where = f"{ns.name.split('-')[-1]}:{dev}"
        self.p = subprocess.Popen(["ip", "netns", "exec", ns.name, "tcpdump", "--immediate-mode",
                                   "-B", "32768", "-s", "160", "-Q", direction, "-i", dev, "-U",
                                   "-w", self.file, "ip or ip6"], stderr=subprocess.PIPE,
                                  text=True)
        self.p.stderr.readline()	# "listening on ..."
        self.dropped = None
        Capture.live.append(self)

    live = []		# started and not yet read: stop_all() ends them

    def packets(self):
        time.sleep(0.3)
        self.p.terminate()
        err = self.p.communicate()[1]
        Capture.live.remove(self)
        m = re.search(r"(\d+) packets? dropped by kernel", err)
        self.dropped = int(m.group(1)) if m else -1	# -1: tcpdump did not say
        pkts = rdpcap(self.file)
        os.unlink(self.file)
        return pkts


def stop_all():
    """End the captures a failed check left running, remove their files."""
    for c in list(Capture.live):
        c.p.kill()
        c.p.wait()
        os.unlink(c.file)
        Capture.live.remove(c)


def only_esp(caps, ends, least):
    """(ok, why): the captures together hold at least `least` ESP packets
    between the addresses ends, nothing else but ND, and lost nothing."""
    pkts = [p for c in caps for p in c.packets()]
    ends = set(ends)
    esp, plain = [], []
    for p in pkts:
        if IP in p and p[IP].proto == 50 and {p[IP].src, p[IP].dst} == ends:
            esp.append(p)
        elif not nd(p):
            plain.append(p)
    lost = ", ".join(f"{c.where} lost {c.dropped}" for c in caps if c.dropped != 0)
    return len(esp) >= least and not plain and not lost, \
        f"{len(esp)} ESP between {sorted(ends)} of {len(pkts)} packets (want {least} or more); " \
        f"others: {[p.summary() for p in plain][:3]}{'; capture ' + lost if lost else ''}"


def nd(p):
    """IPv6 neighbour discovery / MLD a veth sends when it comes up."""
    return IPv6 in p and (p[IPv6].src.startswith("fe80:") or p[IPv6].src == "::")


def tcp(src, dst, nbytes, port):
    """A TCP transfer of random data from pod src to pod dst; returns
    (ok, why) with the receiver's count and sha256 against the sender's."""
    data = os.urandom(nbytes)
    sink = subprocess.Popen(["ip", "netns", "exec", dst.ns.name, "/usr/bin/python3", "-c",
                             TCP_SINK, dst.ip, str(port)], stdout=subprocess.PIPE, text=True)
    want = [str(len(data)), hashlib.sha256(data).hexdigest()]
    try:
        time.sleep(0.3)
        s = subprocess.run(["ip", "netns", "exec", src.ns.name, "/usr/bin/python3", "-c",
                            TCP_SOURCE, dst.ip, str(port), src.ip], input=data.hex(), text=True,
                           capture_output=True, timeout=60)
        out = sink.communicate(timeout=60)[0].split()
    except subprocess.TimeoutExpired as e:
        return False, f"{src.short}->{dst.short}: {e.cmd[3]} still running after {e.timeout} s"
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    return out == want, f"{src.short}->{dst.short}: got {out}, want {want[0]} bytes; " \
        f"sender: {s.stderr.strip()[-200:] or 'ok'}"


def ping(src, dst, count=3):
    r = src.ns.run(f"ping -c {count} -i 0.2 -W 2 {dst.ip}", check=False)
    return r.returncode == 0, f"{src.short}->{dst.short}: {r.stdout.strip()[-160:]}"


def both(*checks):
    """(ok, why) results of several checks as one."""
    return all(ok for ok, _ in checks), "; ".join(why for ok, why in checks if not ok)


def unexpected_drops(ns):
    """Drops in a namespace's espx by reason, both directions: every
    reason but the pass-throughs, and checksum-collision up to ALLOWED
    (by design one TCP/UDP packet in 65536, retransmitted: a transfer of a
    few MB meets one now and then)."""
    st = json.loads(ns.espx("-j stats").stdout)
    got = {f"{d}:{r}": v["packets"] for d in ("in", "out")
           for r, v in st["drops"][d].items() if r not in PASS_THROUGH and v["packets"]}
    if got.get("out:checksum-collision", 0) <= ALLOWED:
        got.pop("out:checksum-collision", None)
    return got


def sa_packets(ns):
    return {s["spi"]: s["packets"] for s in json.loads(ns.espx("-j stats").stdout)["sas"]}


def status_all():
    return json.loads(sh(f"{os.path.join(BUILD, 'espx')} -j status --all").stdout)


def path_mtu(pod, peer):
    """The path MTU pod's kernel learnt towards peer (None: none)."""
    m = re.search(r"\bmtu (\d+)", pod.ns.run(f"ip route get {peer.ip}").stdout)
    return int(m.group(1)) if m else None


def spis(ns):
    return sorted(s["spi"] for s in json.loads(ns.espx("-j state list").stdout))


def ino(ns):
    return os.stat(f"/run/netns/{ns.name}").st_ino


def fast_count(ns, direction):
    """Packets the pod fast path took on this node in one direction."""
    d = json.loads(ns.espx("-j stats").stdout)["drops"][direction]
    return d.get("fast-path", {}).get("packets", 0)


def segmented(node, fast):
    """Packets espx's segmenters on the node carried (forwarded GSO): the
    uplink's; with the fast path any of the node's (the pods' veths
    encrypt at their ingress, so theirs may do the cutting)."""
    idx = json.loads(node.ns.run(f"ip -j link show {node.up}").stdout)[0]["ifindex"]
    links = json.loads(node.ns.run("ip -j -s link show").stdout)
    return sum(link["stats64"]["tx"]["packets"] for link in links
               if link["ifname"] == f"espxs{idx}a" or
               (fast and re.fullmatch(r"espxs\d+a", link["ifname"])))


def variant(kind, fast, topo, done):
    name = f"{kind}{'-fast' if fast else ''}"

    def check(what, ok, why=""):
        result(ok, f"{name}-{what}", why)
        done[0] += 1

    def no_drops(what, spaces, pmtu=()):
        """No unexpected drops in spaces; in the pods of pmtu (pod, peer)
        out:mtu-exceeded is expected if the pod learnt a path MTU to its
        peer: espx answered the drops with "fragmentation needed" (the
        pod's TCP starts at its eth0's MSS, its own ESP makes it too big)."""
        d = {s.short: unexpected_drops(s.ns) for s in spaces}
        learnt = {}
        for pod, peer in pmtu:
            learnt[pod.short] = path_mtu(pod, peer)
            if learnt[pod.short] and learnt[pod.short] < POD_MTU:
                d[pod.short].pop("out:mtu-exceeded", None)
        check(what, not any(d.values()), f"unexpected drops {d} (not counted: "
              f"{', '.join(PASS_THROUGH)}; up to {ALLOWED} checksum-collision; "
              f"mtu-exceeded in a pod with a path MTU learnt: {learnt})")

    build(kind, topo)
    n1, n2 = topo.nodes[1], topo.nodes[2]
    p1a, p1b, p2a, p2b = (topo.pod(x) for x in ("p1a", "p1b", "p2a", "p2b"))
    node_espx(topo, {k: key() for k in NODE_SPI})
    if fast:
        fast_path(topo)
    tso = {p.short: p.ns.run("ethtool -k eth0").stdout for p in (p1a, p2a)}
    check("pod-veth-tso-on", all("tcp-segmentation-offload: on" in t for t in tso.values()),
          "TSO is off on a pod's eth0: the nodes would forward no GSO super-packets")

    # ---- pod to pod across the nodes, through the nodes' tunnel ----
    caps = [Capture(n.ns, n.up) for n in (n1, n2)]
    check("ping-across-nodes", *both(ping(p1a, p2a), ping(p2b, p1a)))
    check("tcp-p1a-to-p2a-sha256", *tcp(p1a, p2a, MB, 7001))
    check("tcp-p2a-to-p1a-sha256", *tcp(p2a, p1a, MB, 7002))
    check("uplink-only-esp", *only_esp(caps, UPLINK.values(), 2 * MB // POD_MTU))
    fp = {(n.ns.name, d): fast_count(n.ns, d) for n in (n1, n2) for d in ("in", "out")}
    if not fast:
        check("fast-path-taken", not any(fp.values()), f"fast-path counted without it: {fp}")
    else:
        want_in = kind == "routed"
        check("fast-path-taken", all(v > 100 for (_, d), v in fp.items() if d == "out") and
              all((v > 100) == want_in for (_, d), v in fp.items() if d == "in"),
              f"fast-path packets {fp}: want > 100 out on both nodes, "
              f"{'> 100' if want_in else 'none'} in")
    segs = (segmented(n1, fast), segmented(n2, fast))
    check("nodes-segment-forwarded-gso", min(segs) > 0,
          f"segmenter packets n1 {segs[0]}, n2 {segs[1]}: no GSO super-packet reached espx")

    # ---- pods on one node: plaintext through the node, espx not involved ----
    cap = Capture(n1.ns, p1b.veth, "out")
    sas0 = sa_packets(n1.ns)
    ok_p, why_p = ping(p1a, p1b)
    ok_t, why_t = tcp(p1a, p1b, 1 << 20, 7003)
    seen = [p for p in cap.packets() if IP in p and p[IP].src == p1a.ip and p[IP].proto in (1, 6)]
    sas1 = sa_packets(n1.ns)
    check("same-node-plaintext", ok_p and ok_t and len(seen) > 20 and sas0 == sas1,
          f"{why_p} {why_t}; plaintext from {p1a.short} on {p1b.veth}: {len(seen)}; "
          f"node SA packets before {sas0} after {sas1}")
    no_drops("nodes-no-drops", (n1, n2))

    # ---- espx in p1b and p2b as well: pod-to-pod transport mode ----
    pod_espx(p1b, p2b, {k: key() for k in POD_SPI})
    check("pod-espx-ping", *both(ping(p1b, p2b), ping(p2b, p1b)))
    # the pod's wire: its veth seen from the node. With the fast path the
    # frames XDP redirects into the veth pass no tap on either end before
    # the pod's own XDP decrypts them: only what the pod sends is seen
    vcap = Capture(n1.ns, p1b.veth, "in" if fast else "inout")
    caps = [Capture(n.ns, n.up) for n in (n1, n2)]
    check("pod-espx-tcp-both-ways-sha256", *both(tcp(p1b, p2b, MB, 7004), tcp(p2b, p1b, MB, 7005)))
    pair = (p1b.ip, p2b.ip)
    check("pod-veth-only-pod-esp", *only_esp([vcap], pair, (1 if fast else 2) * MB // POD_MTU))
    check("pod-espx-uplink-only-node-esp", *only_esp(caps, UPLINK.values(), 2 * MB // POD_MTU))
    got = {x.short: spis(x.ns) for x in (n1, n2, p1b, p2b)}
    want = {x.short: sorted((NODE_SPI if x in (n1, n2) else POD_SPI).values())
            for x in (n1, n2, p1b, p2b)}
    p1a_state = p1a.ns.espx("-j state list", check=False).stderr
    check("state-per-namespace", got == want and "not loaded" in p1a_state,
          f"SAs {got}, want {want}; p1a: {p1a_state.strip()}")
    st = {e["netns_ino"]: (e["state"], e["sa_count"], e.get("name")) for e in status_all()}
    want_st = {ino(x.ns): ("alive", 2, x.ns.name) for x in (n1, n2, p1b, p2b)}
    check("status-all-lists-nodes-and-pods", all(st.get(i) == w for i, w in want_st.items()),
          f"want {want_st}, status --all has {st}")
    no_drops("nodes-and-pods-no-drops", (n1, n2, p1b, p2b), ((p1b, p2b), (p2b, p1b)))

    # ---- the nodes' espx gone: the pods' own ESP still carries them ----
    for n in (n1, n2):
        n.ns.espx("unload")
    caps = [Capture(n.ns, n.up) for n in (n1, n2)]
    ok, why = both(tcp(p1b, p2b, 1 << 20, 7006), ping(p2b, p1b), only_esp(caps, pair, 500))
    check("node-unload-pods-esp-still-works", ok and spis(p1b.ns) == want["p1b"],
          f"{why}; p1b SAs {spis(p1b.ns)}")

    # ---- the nodes' espx back, the pods' gone: the tunnel carries all ----
    node_espx(topo, {k: key() for k in NODE_SPI})
    if fast:
        fast_path(topo)
    for p in (p1b, p2b):
        p.ns.espx("unload")
    caps = [Capture(n.ns, n.up) for n in (n1, n2)]
    check("pod-unload-node-tunnel-still-works",
          *both(tcp(p1b, p2b, 1 << 20, 7007), tcp(p2a, p1a, 1 << 20, 7008), ping(p1a, p2b),
                only_esp(caps, UPLINK.values(), 1000)))
    p1b_state = p1b.ns.espx("-j state list", check=False).stderr
    check("pod-unload-keeps-node-state",
          spis(n1.ns) == want["n1"] and spis(n2.ns) == want["n2"] and "not loaded" in p1b_state,
          f"n1 SAs {spis(n1.ns)}, n2 SAs {spis(n2.ns)}; p1b: {p1b_state.strip()}")
    no_drops("nodes-no-drops-after-reload", (n1, n2))

    # ---- cleanup: nothing of espx left in any of these namespaces ----
    inos = set(want_st)
    topo.close()
    left = [e for e in status_all() if e["netns_ino"] in inos and e["state"] == "alive"]
    check("cleanup-leaves-no-state", not left, f"status --all still lists {left}")


def main():
    plan(CHECKS * len(VARIANTS))
    for kind, fast in VARIANTS:
        topo = Topo()
        done = [0]
        try:
            variant(kind, fast, topo, done)
        except Exception as e:
            result(False, f"{kind}{'-fast' if fast else ''}-aborted",
                   f"after {done[0]} of {CHECKS} checks: {e!r}")
        finally:
            stop_all()
            topo.close()


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("test_pods", "needs root")
        sys.exit(0)
    main()
    finish()
