#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# natt_sock.py FAMILY PORT: hold a UDP socket with UDP_ENCAP_ESPINUDP on PORT (what an IKE
# daemon opens), so that the kernel decapsulates ESP-in-UDP arriving there. Runs until killed.
import signal
import socket
import sys

UDP_ENCAP, UDP_ENCAP_ESPINUDP = 100, 2
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
print("ready", flush=True)
signal.pause()
