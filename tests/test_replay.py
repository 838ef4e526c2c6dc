#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The receive anti-replay window (bpf/lib/replay.h) against a reference
model of RFC 4303 s3.4.3 and Appendix A, through BPF_PROG_TEST_RUN: fixed
cases at the edges, then thousands of random sequence numbers (duplicates,
reordering inside and outside the window, large jumps) for windows of 32
to 4096 packets, with and without ESN, including across 2^32. End to end,
through espx's XDP program between two namespaces: a packet that fails its
ICV does not move the window (RFC 4303 s3.4.3: update only after the
integrity check), so the genuine packet with its number, and lower ones,
are still accepted."""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import Harness, finish, result  # noqa: E402

import espx_sites as T  # noqa: E402
from scapy.all import Ether  # noqa: E402

ACCEPT, REPLAY, OLD = 0, 4, 5	# espx_drop.h: none, replay, replay-left-of-window
M32 = 0xffffffff


class Model:
    def __init__(self, window, esn, top):
        self.w, self.esn, self.top, self.seen = window, esn, top, set()

    def infer(self, lo):
        if not self.esn:
            return lo
        w = self.w or 1
        tl, th = self.top & M32, self.top >> 32
        if tl >= w - 1:
            if lo < tl - w + 1:
                th += 1
        elif lo >= (tl - w + 1) & M32:
            if th == 0:
                return 0
            th -= 1
        return (th << 32) | lo

    def rx(self, lo):
        s = self.infer(lo)
        if not self.w:
            return ACCEPT, s
        if s == 0:
            return OLD, s
        if s > self.top:
            self.top = s
            self.seen.add(s)
            return ACCEPT, s
        if self.top - s >= self.w:
            return OLD, s
        if s in self.seen:
            return REPLAY, s
        self.seen.add(s)
        return ACCEPT, s


def run(h, name, window, esn, top, seqs):
    r = h.cmd(f"replay {window} {int(esn)} {top}")
    if r != ["ok"]:
        result(False, name, f"set-up: {r}")
        return
    m = Model(window, esn, top)
    for i, lo in enumerate(seqs):
        got = h.cmd(f"rx {lo}")
        want = m.rx(lo)
        if got[0] != "ok" or (int(got[1]), int(got[2])) != want:
            result(False, name, f"packet {i} seq_lo {lo:#x}: espx {got[1:]}, RFC 4303 {want}")
            return
    result(True, name)


def icv_failure_keeps_window():
    sc = T.Scenario("replay-icv")
    a, b, keys = T.site_pair(sc)
    try:
        mac_b = b.mac()
        sa = T.scapy_sa(sc, T.SPI_AB, keys[0], sc.wire[0], sc.wire[1])

        def frame(seq, tag):
            return bytes(T.to_wire(sc, sa.encrypt(T.inner_udp(sc, a.inner_ip, b.inner_ip, tag, 5560),
                                                  seq_num=seq), mac_b))
        # 1000: far above the window (128) that starts at 0; 5 would be left
        # of it, and 1000 a replay, had the forgery moved it
        forged = bytearray(frame(1000, b"forged"))
        forged[-1] ^= 1		# last byte of the ICV
        genuine = [(5, b"seq-5"), (1000, b"seq-1000"), (900, b"seq-900")]
        sink = T.py_in(b, T.UDP_SINK_READY, b.inner_ip, "5560", "3")
        if sink.stdout.readline().strip() != "ready":
            raise RuntimeError("UDP sink did not start")
        before = {r: b.drops(r) for r in ("icv-mismatch", "replay", "replay-left-of-window")}
        T.raw_send(a, [Ether(bytes(forged))] + [Ether(frame(q, t)) for q, t in genuine])
        got = [bytes.fromhex(x) for x in sink.communicate(timeout=10)[0].split() if x != "ready"]
        after = {r: b.drops(r) for r in before}
        result(after["icv-mismatch"] == before["icv-mismatch"] + 1, "bad-icv-dropped",
               f"icv-mismatch {before['icv-mismatch']} -> {after['icv-mismatch']}")
        result(got == [t for _, t in genuine] and after["replay"] == before["replay"] and
               after["replay-left-of-window"] == before["replay-left-of-window"],
               "bad-icv-does-not-move-window",
               f"delivered {got}, want {[t for _, t in genuine]}; drops {before} -> {after}")
    finally:
        a.ns.close()
        b.ns.close()


def main():
    try:
        icv_failure_keeps_window()
    except Exception as e:	# a set-up step failed: one failed check
        result(False, "bad-icv-setup", repr(e))
    h = Harness()
    rnd = random.Random(4303)
    try:
        run(h, "replay-fixed-window-32", 32, False, 0,
            [1, 1, 5, 3, 40, 5, 8, 9, 9, 41, 10, 0])
        run(h, "replay-window-0-accepts-all", 0, False, 0, [5, 5, 1, 0])
        run(h, "replay-no-esn-top-of-space", 64, False, M32 - 2, [M32 - 1, M32, M32, 1])
        run(h, "esn-crosses-2^32", 128, True, M32 - 5,
            [M32 - 4, M32, 0, 1, 2, M32 - 1, M32 - 200, 2, 5])
        run(h, "esn-window-straddling-zero-at-start", 64, True, 3,
            [M32 - 2, 2, 1, 4])
        for window in (32, 64, 128, 1000, 4096):
            for esn in (False, True):
                top = rnd.choice([0, 1000, M32 - 3000]) if esn else 0
                cur, seqs = top, []
                for _ in range(1500):
                    step = rnd.choice([1, 1, 1, 2, 5, -1, -3, -window // 2, -window + 1,
                                       -window, -window - 7, 0, window // 3, window + 9, 3 * window])
                    cur = max(1, cur + step)
                    seqs.append(cur & M32)
                run(h, f"replay-random-w{window}-{'esn' if esn else 'plain'}", window, esn, top, seqs)
    finally:
        h.close()


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP test_replay: needs root (BPF_PROG_TEST_RUN)")
        sys.exit(0)
    main()
    finish()
