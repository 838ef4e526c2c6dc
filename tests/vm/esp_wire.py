#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Wire and XFRM-statistics checks for tests/vm/transitions.sh (no scapy: its
import costs seconds under TCG).

  esp_wire.py wire SRC PCAP... [--phases FILE]   ESP sent by SRC (IPv4) in the
      captures: no (SPI, sequence number) twice and no (SPI, IV) twice; and no
      plaintext IPv4 packet with an address in 192.168.0.0/16 (the protected
      LANs). Prints "esp N espx N kernel N dup-seq N dup-iv N plain N odd N" and
      up to 5 examples of each, named by the phase they came after (FILE: lines
      "EPOCH-SECONDS NAME").

  esp_wire.py stats              `ip -s xfrm state` on stdin: one line per SA,
      "SPI replay-window N replay N failed N"; exit 1 if an SA has no stats line.

Sequence numbers with ESN: only the low 32 bits are on the wire. espx's IV is
the 64-bit number itself (bpf/lib/esp_tx.h), so an espx packet (IV low half =
the wire number) gives its full number. The kernel's IV is the number XOR a
per-SA random salt (seqiv): for a kernel packet the high half is the one, next
to the last full number seen on the SPI (espx's or the kernel's), whose salt
agrees with the salt its earlier packets showed. A jump of espx's (2^40 at a
split) leaves the low half unchanged, which is why the wire number alone
cannot tell a repeat from a jump.
"""
import ipaddress
import struct
import sys

LAN = ipaddress.ip_network("192.168.0.0/16")


def packets(path):
    """(time, linktype, frame) of each record of a classic pcap file."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            end = ">"
        else:
            raise SystemExit(f"{path}: not a pcap file (magic {magic:#x})")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        link = struct.unpack(end + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack(end + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / (1e9 if nano else 1e6), link, data


def ipv4(link, frame):
    """The IPv4 header offset in a frame, or None."""
    if link == 1:  # Ethernet
        off, et = 12, None
        while off + 2 <= len(frame):
            et = struct.unpack("!H", frame[off:off + 2])[0]
            if et in (0x8100, 0x88A8):
                off += 4
                continue
            break
        return off + 2 if et == 0x0800 else None
    if link == 101:  # raw IP
        return 0 if frame and frame[0] >> 4 == 4 else None
    if link == 113:  # Linux cooked
        return 16 if struct.unpack("!H", frame[14:16])[0] == 0x0800 else None
    return None


class Spi:
    def __init__(self):
        self.last = None      # last full number seen (any sender)
        self.klast = None     # last full number of a kernel packet
        self.salt = None      # the kernel's IV salt, once seen


def kernel_full(st, lo, iv):
    refs = [r for r in (st.last, st.klast) if r is not None]
    cands = set()
    for r in refs or [0]:
        h = r >> 32
        cands.update(x for x in (h - 1, h, h + 1) if 0 <= x < 1 << 32)
    fulls = sorted((c << 32) | lo for c in cands)
    if st.salt is not None:
        ok = [f for f in fulls if f ^ iv == st.salt]
        if ok:
            return ok[0], None
        return None, f"kernel IV {iv:#018x} with wire number {lo:#x} fits no high half near {refs}"
    ref = st.last if st.last is not None else 0
    full = min(fulls, key=lambda f: abs(f - ref))
    st.salt = full ^ iv
    return full, None


def phase_of(phases, t):
    name = "start"
    for pt, pn in phases:
        if pt <= t:
            name = pn
    return name


def wire(src, paths, phases):
    src = ipaddress.ip_address(src)
    state, seen, ivs = {}, set(), set()
    n = nespx = nkern = 0
    dseq, div, plain, odd = [], [], [], []
    pkts = sorted((p for path in paths for p in packets(path)), key=lambda p: p[0])
    for ts, link, fr in pkts:
        o = ipv4(link, fr)
        if o is None or len(fr) < o + 20:
            continue
        ihl = (fr[o] & 15) * 4
        proto = fr[o + 9]
        s = ipaddress.ip_address(fr[o + 12:o + 16])
        d = ipaddress.ip_address(fr[o + 16:o + 20])
        if proto != 50:
            if s in LAN or d in LAN:
                plain.append(f"{s} > {d} proto {proto}, after {phase_of(phases, ts)}")
            continue
        if s != src:
            continue
        e = o + ihl
        if len(fr) < e + 16:
            odd.append(f"short ESP packet ({len(fr) - e} bytes)")
            continue
        spi, lo = struct.unpack("!II", fr[e:e + 8])
        iv = struct.unpack("!Q", fr[e + 8:e + 16])[0]
        n += 1
        st = state.setdefault(spi, Spi())
        if iv & 0xFFFFFFFF == lo:
            full = iv
            nespx += 1
        else:
            full, why = kernel_full(st, lo, iv)
            if full is None:
                odd.append(f"spi {spi:#x}: {why}")
                continue
            st.klast = full
            nkern += 1
        st.last = full
        if (spi, full) in seen:
            dseq.append(f"spi {spi:#x} seq {full:#x}, after {phase_of(phases, ts)}")
        seen.add((spi, full))
        if (spi, iv) in ivs:
            div.append(f"spi {spi:#x} iv {iv:#018x}, after {phase_of(phases, ts)}")
        ivs.add((spi, iv))
    print(f"esp {n} espx {nespx} kernel {nkern} dup-seq {len(dseq)} dup-iv {len(div)} "
          f"plain {len(plain)} odd {len(odd)}")
    for what, lst in (("dup-seq", dseq), ("dup-iv", div), ("plain", plain), ("odd", odd)):
        for x in lst[:5]:
            print(f"  {what}: {x}")


def stats():
    spi, got, bad = None, {}, []
    lines = sys.stdin.read().splitlines()
    for i, ln in enumerate(lines):
        w = ln.split()
        if ln.startswith("src "):
            if spi is not None and spi not in got:
                bad.append(spi)
            spi = None
        elif "spi" in w and "proto" in w:
            spi = w[w.index("spi") + 1]
        elif w[:1] == ["stats:"] and spi is not None:
            v = (lines[i + 1].split() if i + 1 < len(lines) else [])
            kv = dict(zip(v[0::2], v[1::2]))
            try:
                got[spi] = tuple(int(kv[k]) for k in ("replay-window", "replay", "failed"))
            except (KeyError, ValueError):
                bad.append(spi)
    if spi is not None and spi not in got:
        bad.append(spi)
    for s, (rw, r, f) in got.items():
        print(f"{s} replay-window {rw} replay {r} failed {f}")
    if bad:
        print("no stats line for " + " ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "wire":
        args, ph = sys.argv[3:], []
        if "--phases" in args:
            i = args.index("--phases")
            with open(args[i + 1]) as f:
                ph = [(float(a), b) for a, b in (ln.split(None, 1) for ln in f if ln.strip())]
            ph = [(t, n.strip()) for t, n in ph]
            args = args[:i] + args[i + 2:]
        wire(sys.argv[2], args, sorted(ph))
    elif sys.argv[1:] == ["stats"]:
        sys.exit(stats())
    else:
        sys.exit(__doc__)
