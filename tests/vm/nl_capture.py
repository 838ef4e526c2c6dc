#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Capture XFRM netlink datagrams as the kernel sends them, for the fuzz corpus of
tests/fuzz/fuzz_xfrm_nl.c (one file = one datagram, as recv() returns it).

  nl_capture.py DIR         listen on every XFRM multicast group (the events
      `espx daemon` reads) until SIGINT; prints "listening" once bound
  nl_capture.py --dump DIR  ask for the SA and policy dumps and, for each SA, its
      replay and lifetime state (XFRM_MSG_GETAE), as the daemon does; keep the answers

Files are named vm-event-<message>-<n> or vm-answer-[dump-]<message>-<n> after the
first message of the datagram; at most
KEEP (8) per kind, the first ones and then every 16th, so that a churn of thousands
of SAs leaves a corpus, not a dump. Run in the network namespace whose kernel XFRM
database is wanted (tests/vm/storm.sh does, with ESPX_VM_KEEP). The SAs' keys are
the test's own random keys.
"""
import os
import signal
import socket
import struct
import sys

NETLINK_XFRM = 6
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP = 0x1, 0x2, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
MSG = {0x10: "newsa", 0x11: "delsa", 0x12: "getsa", 0x13: "newpolicy", 0x14: "delpolicy",
       0x15: "getpolicy", 0x17: "acquire", 0x18: "expire", 0x19: "updpolicy", 0x1a: "updsa",
       0x1b: "polexpire", 0x1c: "flushsa", 0x1d: "flushpolicy", 0x1e: "newae", 0x1f: "getae",
       0x20: "report", 0x21: "migrate", 0x26: "mapping", NLMSG_ERROR: "error", NLMSG_DONE: "done"}
GETSA, GETPOLICY, GETAE = 0x12, 0x15, 0x1f
XFRM_AE_RVAL, XFRM_AE_LVAL = 4, 8
KEEP = 8


class Keeper:
    def __init__(self, out):
        self.out, self.seen, self.kept = out, {}, 0
        os.makedirs(out, exist_ok=True)

    def keep(self, data, prefix):
        if len(data) < 16:
            return
        kind = MSG.get(struct.unpack_from("<H", data, 4)[0], "type%d" % struct.unpack_from("<H", data, 4)[0])
        if struct.unpack_from("<H", data, 6)[0] & NLM_F_MULTI:
            kind = "dump-" + kind
        n = self.seen.get(kind, 0)
        self.seen[kind] = n + 1
        if n >= KEEP * 16 or (n >= KEEP and n % 16):
            return
        with open(os.path.join(self.out, "%s-%s-%d" % (prefix, kind, n)), "wb") as f:
            f.write(data)
        self.kept += 1

    def summary(self):
        return "kept %d datagrams of %d: %s" % (self.kept, sum(self.seen.values()),
                                                 " ".join("%s %d" % kv for kv in sorted(self.seen.items())))


def listen(out):
    k = Keeper(out)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((0, (1 << 8) - 1))  # groups 1..8: acquire expire sa policy aevents report migrate mapping
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("listening", flush=True)
    s.settimeout(0.2)
    while not stop:
        try:
            k.keep(s.recv(1 << 16), "vm-event")
        except socket.timeout:
            continue
        except OSError as e:  # ENOBUFS under a burst: events lost, the capture goes on
            print("recv: %s" % e, file=sys.stderr)
    print("events: " + k.summary(), flush=True)


def request(s, seq, mtype, flags, payload=b""):
    s.send(struct.pack("<IHHII", 16 + len(payload), mtype, NLM_F_REQUEST | flags, seq, 0) + payload)


def answers(s, k, seq):
    """Datagrams up to DONE or an ERROR for SEQ; returns the messages' payloads."""
    msgs = []
    while True:
        data = s.recv(1 << 16)
        k.keep(data, "vm-answer")
        off, end = 0, False
        while off + 16 <= len(data):
            ln, typ, _, sq, _ = struct.unpack_from("<IHHII", data, off)
            if ln < 16:
                break
            if sq == seq:
                if typ in (NLMSG_DONE, NLMSG_ERROR):
                    end = True
                else:
                    msgs.append(data[off + 16:off + ln])
            off += (ln + 3) & ~3
        if end or not struct.unpack_from("<H", data, 6)[0] & NLM_F_MULTI:
            return msgs


def dump(out):
    k = Keeper(out)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
    s.bind((0, 0))
    request(s, 1, GETPOLICY, NLM_F_DUMP)
    answers(s, k, 1)
    request(s, 2, GETSA, NLM_F_DUMP)
    sas = answers(s, k, 2)
    for i, p in enumerate(sas):
        if len(p) < 224:
            continue
        # struct xfrm_usersa_info: id.daddr at 56, id.spi 72, id.proto 76, saddr 80,
        # reqid 208, family 212 -> struct xfrm_aevent_id
        daddr, spi, proto = p[56:72], p[72:76], p[76]
        saddr, reqid, family = p[80:96], struct.unpack_from("<I", p, 208)[0], struct.unpack_from("<H", p, 212)[0]
        aid = daddr + spi + struct.pack("<HBx", family, proto) + saddr + struct.pack("<II", XFRM_AE_RVAL | XFRM_AE_LVAL, reqid)
        request(s, 10 + i, GETAE, 0, aid)
        answers(s, k, 10 + i)
    print("dumps: %d SAs; %s" % (len(sas), k.summary()), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dump":
        dump(sys.argv[2])
    elif len(sys.argv) == 2 and not sys.argv[1].startswith("-"):
        listen(sys.argv[1])
    else:
        sys.exit(__doc__)
