#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""espx's XDP object loaded by xdp-loader (libxdp) instead of `espx attach`:
its maps are pinned in espx's directory for the namespace, `espx state` and
`espx policy` fill them, and ESP sent by scapy is decrypted and delivered."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import BUILD, finish, plan, result, skip  # noqa: E402
import espx_sites as T  # noqa: E402


def main():
    plan(4)
    sc = T.Scenario("xdp-loader")
    a, b, _ = T.site_pair(sc, configure=False)
    try:
        # espx's pin directory for this namespace: its identity, the nsfs inode
        pin = f"/sys/fs/bpf/espx/net-{os.stat(f'/run/netns/{b.ns.name}').st_ino}"
        os.makedirs("/sys/fs/bpf/espx", mode=0o700, exist_ok=True)
        # nsenter keeps this mount namespace (and its bpffs), unlike ip netns exec
        r = subprocess.run(["nsenter", f"--net=/run/netns/{b.ns.name}", "xdp-loader", "load",
                            "-m", "skb", "--pin-path", pin, "--prog-name", "espx_xdp_rx", b.dev,
                            os.path.join(BUILD, "espx.bpf.o")], capture_output=True, text=True)
        result(r.returncode == 0, "xdp-loader-loads-espx", r.stderr[-300:])
        if r.returncode:
            return
        result(os.path.exists(f"{pin}/espx_sa"), "maps-pinned-in-espx-dir", pin)
        key = os.urandom(20).hex()
        b.ns.espx(T.esp_line(sc, T.SPI_AB, sc.wire[0], sc.wire[1], key))
        # XFRM drops a decrypted tunnel-mode packet that no in policy covers
        b.ns.espx(f"policy add src {sc.nets[0]} dst {sc.nets[1]} dir in tmpl src {sc.wire[0]} "
                  f"dst {sc.wire[1]} proto esp reqid {T.SPI_AB} mode tunnel")
        js = b.ns.espx("-j state list").stdout
        # the SA itself by its key (SPI, addresses), not a number anywhere in the text:
        # the reqid is the same number as the SPI
        try:
            sas = [(x.get("spi"), x.get("src"), x.get("dst")) for x in json.loads(js)]
        except (ValueError, AttributeError) as e:
            sas = f"not a JSON list of SAs ({e}): {js[-200:]}"
        want = (T.SPI_AB, sc.wire[0], sc.wire[1])
        result(sas == [want], "espx-fills-xdp-loader-maps", f"want [(spi, src, dst)] {[want]}, got {sas}")
        sink = T.py_in(b, T.UDP_SINK, b.inner_ip, "5555", "2")
        time.sleep(0.4)
        sa = T.scapy_sa(sc, T.SPI_AB, key, sc.wire[0], sc.wire[1])
        frames = [T.to_wire(sc, sa.encrypt(T.inner_udp(sc, a.inner_ip, b.inner_ip, f"via-libxdp-{i}".encode()),
                                           seq_num=1 + i), b.mac()) for i in range(2)]
        T.raw_send(a, frames)
        got = [bytes.fromhex(x) for x in sink.communicate(timeout=10)[0].split()]
        result(got == [b"via-libxdp-0", b"via-libxdp-1"], "xdp-loader-datapath-delivers", f"got {got}")
    finally:
        subprocess.run(["nsenter", f"--net=/run/netns/{b.ns.name}", "xdp-loader", "unload",
                        b.dev, "--all"], capture_output=True)
        a.ns.close()
        b.ns.close()


if __name__ == "__main__":
    if os.geteuid() != 0:
        skip("test_xdp_loader", "needs root")
        sys.exit(0)
    try:
        main()
    except Exception as e:
        result(False, "xdp-loader-setup", repr(e))
    finish()
