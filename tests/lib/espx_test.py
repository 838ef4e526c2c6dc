# SPDX-License-Identifier: GPL-2.0
"""Small helpers shared by the Python tests: result lines for tests/run.sh
(PASS/FAIL/SKIP name[: why]) and a client for build/tests/crypto_harness."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ESPX_BUILD", os.path.join(ROOT, "build"))
_failed = 0


def result(ok, name, why=""):
    global _failed
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        _failed += 1
        print(f"FAIL {name}: {why}", flush=True)


def skip(name, why):
    print(f"SKIP {name}: {why}", flush=True)


def plan(n):
    """Declare how many PASS/FAIL/SKIP lines this test prints: tests/run.sh
    FAILs a test that reports another number (one that stopped early)."""
    print(f"PLAN {n}", flush=True)


def finish():
    sys.exit(1 if _failed else 0)


class Harness:
    """Line-oriented client of the crypto_harness tool (one process, one
    loaded BPF object, commands answered in order)."""

    def __init__(self):
        self.p = subprocess.Popen([os.path.join(BUILD, "tests", "crypto_harness")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError(f"crypto_harness died on: {line[:80]}")
        return out.split()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def sh(cmd, check=True, **kw):
    """Run a shell command line; returns CompletedProcess (text)."""
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"'{cmd}' failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    return r


class Netns:
    """A network namespace this test owns; removed (with espx state) on
    close. Names carry the test's PID so runs never collide."""

    def __init__(self, short):
        self.name = f"espxt{os.getpid()}-{short}"
        sh(f"ip netns add {self.name}")
        sh(f"ip -n {self.name} link set lo up")

    def run(self, cmd, check=True, **kw):
        return sh(f"ip netns exec {self.name} {cmd}", check=check, **kw)

    def espx(self, args, check=True):
        return self.run(f"{os.path.join(BUILD, 'espx')} {args}", check=check)

    def close(self):
        self.espx("unload", check=False)
        sh(f"ip netns del {self.name}", check=False)


def veth(a, dev_a, b, dev_b, queues=1):
    """A veth pair between namespaces a and b, up; queues: transmit and
    receive queues on each end (veth hands a packet sent on queue i to the
    peer's receive queue i, whose NAPI runs on the sending CPU)."""
    q = f" numtxqueues {queues} numrxqueues {queues}" if queues > 1 else ""
    sh(f"ip link add {dev_a} netns {a.name}{q} type veth peer name {dev_b} netns {b.name}{q}")
    sh(f"ip -n {a.name} link set {dev_a} up")
    sh(f"ip -n {b.name} link set {dev_b} up")
