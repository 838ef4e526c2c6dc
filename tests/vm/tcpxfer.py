#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# TCP transfer with a content check, for tests/vm/interop.sh.
#   tcpxfer.py server ADDR PORT TIMEOUT   accept one connection, print "LEN SHA256" of what came
#   tcpxfer.py client ADDR PORT SRC FILE  connect from SRC, send FILE
import hashlib
import socket
import sys

fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
if sys.argv[1] == "server":
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.listen(1)
    s.settimeout(float(sys.argv[4]))
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(float(sys.argv[4]))
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)
else:
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(60)
    c.bind((sys.argv[4], 0))
    c.connect((sys.argv[2], int(sys.argv[3])))
    with open(sys.argv[5], "rb") as f:
        c.sendall(f.read())
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
