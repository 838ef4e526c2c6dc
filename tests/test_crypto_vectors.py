#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Known-answer tests of the BPF AES-GCM core, run with BPF_PROG_TEST_RUN
from both an XDP and a TC program:
  - McGrew-Viega GCM test cases 1-18 (tests/vectors/gcm_kat.json)
  - RFC 4106 ESP packets from draft-mcgrew-gcm-test-01 and DPDK
    (tests/vectors/gcm_esp_vectors.json), ESN AAD included
  - every payload length 0..300 and truncated ICVs against python3-cryptography
  - a flipped ICV bit is rejected and leaves the packet untouched.
ESPX_SA_BACKEND=aead runs the ESP vectors and lengths through the AEAD
backend (the espx_aead module, tests/vm/aead.sh loads it) and checks that
every SA really got a context there; default: espx's own GCM."""
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import Harness, ROOT, result, skip, finish  # noqa: E402

VEC = os.path.join(ROOT, "tests", "vectors")
EBADMSG = -74
HOOKS = ("xdp", "tc")
BACKEND = os.environ.get("ESPX_SA_BACKEND", "bpf")


def sa_ok(r):
    """an "sa" answer that says the SA is ready on the backend asked for"""
    return r == ["ok", BACKEND]


def flip(hexstr, byte_from_end):
    b = bytearray(bytes.fromhex(hexstr))
    b[len(b) - byte_from_end] ^= 0x01
    return b.hex()


def kat(h):
    data = json.load(open(os.path.join(VEC, "gcm_kat.json")))
    for v in data["vectors"]:
        name = v["name"].replace("McGrew-Viega test case ", "gcm-kat-")
        r = h.cmd(f"sa {v['key_hex']} 00000000 0 16")
        if r[0] != "ok":
            result(False, name, f"SA install failed: {r}")
            continue
        pt, ct, tag = v["plaintext_hex"] or "-", v["ciphertext_hex"] or "-", v["tag_hex"]
        aad = v["aad_hex"] or "-"
        for hook in HOOKS:
            s = h.cmd(f"gcm seal {hook} {v['iv_hex']} {aad} {pt}")
            ok = s[:2] == ["ok", "0"] and s[2] == ct and s[3] == tag
            result(ok, f"{name}-seal-{hook}", f"got {s[2:]} want {ct} {tag}")
            o = h.cmd(f"gcm open {hook} {v['iv_hex']} {aad} {ct} {tag}")
            ok = o[:2] == ["ok", "0"] and o[2] == pt
            result(ok, f"{name}-open-{hook}", f"got {o}")
            bad = flip(tag, 1)
            o = h.cmd(f"gcm open {hook} {v['iv_hex']} {aad} {ct} {bad}")
            ok = o[:2] == ["ok", str(EBADMSG)] and o[2] == ct
            result(ok, f"{name}-open-flipped-icv-{hook}", f"got {o}")


def esp(h):
    data = json.load(open(os.path.join(VEC, "gcm_esp_vectors.json")))
    for v in data["vectors"]:
        name = "esp-" + v["id"]
        if not v["algorithm"].startswith("AES-GCM-"):
            skip(name, f"{v['algorithm']} (RFC 4543 GMAC) is not an espx algorithm; "
                       "espx implements rfc4106(gcm(aes))")
            continue
        esn = 1 if v["esn"] else 0
        r = h.cmd(f"sa {v['key_hex']} {v['salt_hex']} {esn} {v['icv_len']}")
        if not sa_ok(r):
            result(False, name, f"SA install failed or not on backend {BACKEND}: {r}")
            continue
        want = v["expected_esp_hex"]
        hdr = want[:32]                      # SPI || SN || IV
        icv_hex_len = 2 * v["icv_len"]
        plain_pkt = hdr + v["plaintext_hex"] + "00" * v["icv_len"]
        seq_hi = v["seq_hi"] if esn else 0
        for hook in HOOKS:
            s = h.cmd(f"esp seal {hook} {seq_hi} {plain_pkt}")
            result(s[:2] == ["ok", "0"] and s[2] == want, f"{name}-seal-{hook}",
                   f"got {s[:2]} {s[2][:64] if len(s) > 2 else ''}...")
            o = h.cmd(f"esp open {hook} {seq_hi} {want}")
            got_pt = o[2][32:len(o[2]) - icv_hex_len] if len(o) > 2 else ""
            result(o[:2] == ["ok", "0"] and got_pt == v["plaintext_hex"],
                   f"{name}-open-{hook}", f"got {o[:2]}")
            o = h.cmd(f"esp open {hook} {seq_hi} {flip(want, 1)}")
            result(o[:2] == ["ok", str(EBADMSG)] and o[2] == flip(want, 1),
                   f"{name}-open-flipped-icv-{hook}", f"got {o[:2]}")
            if esn:
                # the high half of the ESN is in the AAD: a wrong one must fail
                o = h.cmd(f"esp open {hook} {(seq_hi + 1) & 0xffffffff} {want}")
                result(o[:2] == ["ok", str(EBADMSG)], f"{name}-open-wrong-seq-hi-{hook}",
                       f"got {o[:2]}")


def lengths(h):
    """Every length 0..300 (all tail sizes), 128/192/256-bit keys, 8/12/16-byte
    ICVs, checked against an independent implementation."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        skip("gcm-lengths", "python3-cryptography missing (make deps installs it)")
        return
    rnd = random.Random(4106)
    for klen in (16, 24, 32):
        for icv in (16, 12, 8):
            key, salt = rnd.randbytes(klen), rnd.randbytes(4)
            r = h.cmd(f"sa {key.hex()} {salt.hex()} 1 {icv}")
            if not sa_ok(r):
                result(False, f"gcm-lengths-k{klen * 8}-icv{icv}",
                       f"SA install failed or not on backend {BACKEND}: {r}")
                continue
            bad = []
            for n in range(0, 301) if icv == 16 else range(0, 64):
                iv, spi, sn = rnd.randbytes(8), rnd.randbytes(4), rnd.randbytes(4)
                seq_hi = rnd.getrandbits(32)
                pt = rnd.randbytes(n)
                aad = spi + seq_hi.to_bytes(4, "big") + sn
                ct = AESGCM(key).encrypt(salt + iv, pt, aad)
                want = (spi + sn + iv + ct[:n] + ct[n:n + icv]).hex()
                hook = HOOKS[n % 2]
                s = h.cmd(f"esp seal {hook} {seq_hi} {(spi + sn + iv + pt + bytes(icv)).hex()}")
                if s[:2] != ["ok", "0"] or s[2] != want:
                    bad.append(f"seal n={n}")
                o = h.cmd(f"esp open {hook} {seq_hi} {want}")
                if o[:2] != ["ok", "0"] or bytes.fromhex(o[2])[16:16 + n] != pt:
                    bad.append(f"open n={n}")
            result(not bad, f"gcm-lengths-k{klen * 8}-icv{icv}", ", ".join(bad[:8]))


def main():
    h = Harness()
    try:
        kat(h)
        esp(h)
        lengths(h)
        # the kernel must refuse a key that is not an AES key size
        r = h.cmd("sa 0011223344 00000000 0 16")
        result(r[0] == "err", "sa-rejects-bad-key-length", f"got {r}")
    finally:
        h.close()
    finish()


if __name__ == "__main__":
    main()
