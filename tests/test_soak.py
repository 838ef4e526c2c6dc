#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Soak (issue 16): N UDP datagrams through one espx tunnel between two
sites (espx at both ends, tests/lib/espx_sites.py), payloads of 64 to 1400
bytes, each one's content checked where it arrives, on an ESN SA whose
output number starts N/2 below 2^32 so that it crosses 2^32 in the middle
of the run. What site a sends on the wire is read the whole time
(tests/tools/soak_traffic.c, `wire`): only ESP, no (SPI, 64-bit sequence
number) twice, the header's low 32 bits and the high bits a receiver infers
agreeing with the number in the IV, no number skipped.

    a: soak_traffic send -> [espx tc] wire-a ==== wire-b [espx xdp] -> b: soak_traffic recv
                              `- soak_traffic wire (what a sends)

ESPX_SOAK_PACKETS (default 200000; `make soak` 10^7, SOAK_PACKETS=...) sets
N; ESPX_SOAK_HI (default 0) the high 32 bits of the start (the run then
crosses (HI + 1) * 2^32)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import finish, plan, result, skip  # noqa: E402

N = int(os.environ.get("ESPX_SOAK_PACKETS", "200000"))
HI = int(os.environ.get("ESPX_SOAK_HI", "0"))
LO = (1 << 32) - N // 2 if N // 2 < (1 << 32) - 1 else 1
START = HI << 32 | LO		# the SA's replay-oseq: the first packet is START + 1
CROSS = (HI + 1) << 32
PORT = 6100
CHECKS = ["soak-content", "soak-all-delivered", "soak-wire-only-esp", "soak-wire-unique-seq",
          "soak-wire-complete", "soak-crossed-2^32", "soak-counters"]


def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def drops_nonzero(site, direction):
    return {r: v["packets"] for r, v in site.stats()["drops"][direction].items() if v["packets"]}


def sa_stats(site, spi):
    for s in site.stats()["sas"]:
        if s["spi"] == spi:
            return s
    raise RuntimeError(f"SA {spi:#x} not in espx stats")


def oseq_of(site, spi):
    for s in json.loads(site.ns.espx("-j state list").stdout):
        if s["spi"] == spi:
            return s["oseq"]
    raise RuntimeError(f"SA {spi:#x} not in espx state list")


def soak(done):
    import espx_sites as T

    sc = T.Scenario("soak")
    extra = (f"flag esn replay-seq {LO:#x} replay-seq-hi {HI:#x} "
             f"replay-oseq {LO:#x} replay-oseq-hi {HI:#x}")
    a, b, _ = T.site_pair(sc, ab_extra=extra)
    procs = []
    try:
        if oseq_of(a, T.SPI_AB) != START:
            raise RuntimeError(f"SA starts at {oseq_of(a, T.SPI_AB):#x}, not {START:#x}")
        # the neighbour resolved beforehand (not through the tunnel): datagrams
        # queued for an unresolved neighbour beyond unres_qlen_bytes are dropped
        a.ns.run(f"ping -c 1 -W 2 {b.wire_ip}")
        a0, b0 = sa_stats(a, T.SPI_AB), sa_stats(b, T.SPI_AB)
        da0, db0 = drops_nonzero(a, "out"), drops_nonzero(b, "in")
        lost0 = T.wire_losses(a, b)
        slab0 = meminfo("SUnreclaim")
        wire = T.Traffic(a, "wire", dev=a.dev, spi=T.SPI_AB, first=START, span=N + 1024,
                         plain_src=a.inner_ip, plain_dst=b.inner_ip, port=PORT)
        procs.append(wire)
        recv = T.Traffic(b, "recv", bind=b.inner_ip, port=PORT, count=N, idle=5,
                         timeout=max(120, N // 1000))
        procs.append(recv)
        t0 = time.monotonic()
        send = T.Traffic(a, "send", dst=b.inner_ip, src=a.inner_ip, port=PORT, count=N)
        procs.append(send)
        s = send.result()
        r = recv.result()
        secs = time.monotonic() - t0
        w = wire.result(timeout=60)
        a1, b1 = sa_stats(a, T.SPI_AB), sa_stats(b, T.SPI_AB)
        da1, db1 = drops_nonzero(a, "out"), drops_nonzero(b, "in")
        lost = T.wire_losses(a, b) - lost0
        oseq = oseq_of(a, T.SPI_AB)
        time.sleep(1)
        slab1 = meminfo("SUnreclaim")
        print(f"# soak: {s['sent']} datagrams ({s['bytes']} bytes of payload) in {secs:.1f} s "
              f"({s['sent'] / s['seconds']:.0f}/s sent); receiver {r}", flush=True)
        print(f"# wire: {w}", flush=True)
        print(f"# SUnreclaim {slab0} kB before, {slab1} kB after (machine-wide)", flush=True)

        result(r["corrupt"] == 0 and r["dup"] == 0, "soak-content",
               f"{r['corrupt']} corrupted, {r['dup']} duplicated of {r['received']}: "
               f"{recv.stderr()}")
        done.append(1)
        # by design one CHECKSUM_PARTIAL packet in 65536 is dropped after it
        # was numbered (docs/architecture.md, "Checksums"): each is a datagram
        # lost and a number skipped. The veth may drop too, after the packet
        # was captured (its peer's ring full while the peer's softirq waits
        # on a busy machine), and the receiving socket. Nothing else may.
        coll = da1.get("checksum-collision", 0) - da0.get("checksum-collision", 0)
        print(f"# lost: {coll} checksum-collision drops (by design, about 1 in 65536), "
              f"{lost} by the veth, {r['sock_drops']} by the receiving socket", flush=True)
        result(s["sent"] == N and r["unique"] == N - coll - lost - r["sock_drops"],
               "soak-all-delivered",
               f"sent {s['sent']} of {N}, {r['unique']} arrived ({r['missing']} missing: "
               f"{coll} dropped as checksum-collision, {lost} by the veth, {r['sock_drops']} "
               f"by the receiving socket; espx drops on a out {da0} -> {da1}, b in {db0} -> "
               f"{db1})")
        done.append(1)
        result(w["plain"] == 0, "soak-wire-only-esp",
               f"{w['plain']} plaintext frames between {a.inner_ip} and {b.inner_ip} or to "
               f"port {PORT}: {wire.stderr()}")
        done.append(1)
        result(w["dup"] == 0 and w["out_of_range"] == 0 and w["lo_mismatch"] == 0 and
               w["infer_mismatch"] == 0, "soak-wire-unique-seq",
               f"{w['dup']} numbers twice, {w['out_of_range']} outside ({START:#x}, "
               f"{START + N + 1024:#x}], {w['lo_mismatch']} header/IV disagreements, "
               f"{w['infer_mismatch']} whose high bits a receiver infers otherwise: "
               f"{wire.stderr()}")
        done.append(1)
        # a number skipped at the end would not show as a gap: min and max too
        result(w["esp"] == s["sent"] - coll and w["drops"] == 0 and w["gaps"] == coll and
               w["min"] <= START + 1 + coll and w["max"] >= START + s["sent"] - coll,
               "soak-wire-complete",
               f"{w['esp']} ESP packets of SPI {T.SPI_AB:#x} seen for {s['sent']} sent less "
               f"{coll} checksum-collision drops, numbers {w['min']:#x}..{w['max']:#x} (sent "
               f"{START + 1:#x}..{START + s['sent']:#x}), {w['gaps']} skipped, capture dropped "
               f"{w['drops']}")
        done.append(1)
        around = w["around"]
        result(w["min"] < CROSS <= w["max"] and CROSS - 1 in around and CROSS in around,
               "soak-crossed-2^32",
               f"numbers {w['min']:#x}..{w['max']:#x}, around {CROSS:#x}: "
               f"{[hex(x) for x in around]}")
        done.append(1)
        sent_pk = a1["packets"] - a0["packets"]
        got_pk = b1["packets"] - b0["packets"]
        da1.pop("checksum-collision", None)
        da0.pop("checksum-collision", None)
        # a's SA counts every packet it numbered (the collisions too)
        result(sent_pk == s["sent"] and oseq == START + s["sent"] and
               got_pk == r["unique"] + r["sock_drops"] and
               b1["replay"] == 0 and b1["integrity_failed"] == 0 and da1 == da0 and db1 == db0,
               "soak-counters",
               f"a's SA counted {sent_pk} for {s['sent']} sent, oseq {oseq:#x} (want "
               f"{START + s['sent']:#x}); b's counted {got_pk} for {r['unique']} delivered and "
               f"{r['sock_drops']} the socket dropped, "
               f"replay {b1['replay']}, integrity {b1['integrity_failed']}; drops (other than "
               f"checksum-collision) a out "
               f"{da0} -> {da1}, b in {db0} -> {db1}")
        done.append(1)
    finally:
        for p in procs:
            p.kill()
        a.ns.close()
        b.ns.close()


def main():
    plan(len(CHECKS))
    if os.geteuid() != 0:
        for c in CHECKS:
            skip(c, "needs root (namespaces, BPF)")
        return
    done = []
    try:
        soak(done)
    except Exception as e:	# set-up or a tool failed: every check not reported fails
        for c in CHECKS[len(done):]:
            result(False, c, repr(e))


if __name__ == "__main__":
    main()
    finish()
