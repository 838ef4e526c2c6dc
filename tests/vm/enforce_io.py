#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Sockets for tests/vm/enforce.sh, without scapy (its import costs seconds under TCG).

  enforce_io.py sink OUT SECONDS ADDR:PORT...
      UDP sockets on each ADDR:PORT; one line per datagram into OUT (flushed):
      "ADDR:PORT LEN FROM LABEL" (LABEL: the payload without leading NULs, up to the
      first '.'). Prints "listening" once bound; exits after SECONDS.
  enforce_io.py send SRC SPORT DST DPORT SIZE LABEL [ZERO]
      one datagram of SIZE bytes, LABEL then '.' padding (after ZERO NUL bytes: the
      non-ESP marker of UDP 4500), from SRC:SPORT (SPORT 0: any), DF off.
  enforce_io.py replay PCAP DEV FRAGSIZE
      the first frame of a tcpdump capture (Ethernet, IPv4), sent again on DEV with
      AF_PACKET: whole (FRAGSIZE 0) or as IPv4 fragments carrying FRAGSIZE bytes each
      (a multiple of 8). Prints the number of frames sent.
"""
import select
import socket
import struct
import sys
import time


def sink(out, secs, addrs):
    socks = {}
    for a in addrs:
        host, port = a.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, int(port)))
        socks[s] = a
    print("listening", flush=True)
    end = time.monotonic() + secs
    with open(out, "a", buffering=1) as f:
        while (left := end - time.monotonic()) > 0:
            r, _, _ = select.select(list(socks), [], [], left)
            for s in r:
                data, src = s.recvfrom(65536)
                label = data.lstrip(b"\0").split(b".", 1)[0].decode("ascii", "replace") or "-"
                f.write(f"{socks[s]} {len(data)} {src[0]} {label}\n")


def send(src, sport, dst, dport, size, label, zero=0):
    payload = b"\0" * zero + label.encode()
    payload += b"." * (size - len(payload))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)	# IP_MTU_DISCOVER = IP_PMTUDISC_DONT: the stack fragments
    s.bind((src, sport))
    s.sendto(payload, (dst, dport))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def first_frame(pcap):
    with open(pcap, "rb") as f:
        g = f.read(24)
        magic = struct.unpack("<I", g[:4])[0]
        e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        if struct.unpack(e + "I", g[20:24])[0] != 1:
            sys.exit("replay: capture is not Ethernet")
        h = f.read(16)
        if len(h) < 16:
            sys.exit("replay: capture is empty")
        incl, orig = struct.unpack(e + "II", h[8:16])
        if incl != orig:
            sys.exit(f"replay: frame truncated in the capture ({incl} of {orig} bytes)")
        return f.read(incl)


def fragments(frame, size):
    eth, ip = frame[:14], frame[14:]
    if struct.unpack("!H", eth[12:14])[0] != 0x0800:
        sys.exit("replay: not IPv4")
    ihl = (ip[0] & 15) * 4
    tot = struct.unpack("!H", ip[2:4])[0]
    hdr, data = bytearray(ip[:ihl]), ip[ihl:tot]
    if size <= 0 or size % 8:
        sys.exit("replay: FRAGSIZE must be a positive multiple of 8")
    out = []
    for off in range(0, len(data), size):
        part = data[off:off + size]
        h = bytearray(hdr)
        more = off + size < len(data)
        struct.pack_into("!H", h, 2, ihl + len(part))
        struct.pack_into("!H", h, 6, (0x2000 if more else 0) | (off // 8))	# DF off, MF, offset
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(eth + bytes(h) + part)
    return out


def replay(pcap, dev, size):
    frame = first_frame(pcap)
    frames = [frame] if size == 0 else fragments(frame, size)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((dev, 0))
    for f in frames:
        s.send(f)
    print(len(frames))


def main(a):
    if a[0] == "sink":
        sink(a[1], float(a[2]), a[3:])
    elif a[0] == "send":
        send(a[1], int(a[2]), a[3], int(a[4]), int(a[5]), a[6], int(a[7]) if len(a) > 7 else 0)
    elif a[0] == "replay":
        replay(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
