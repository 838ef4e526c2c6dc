#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seed corpora of fuzz_xfrm_parse, fuzz_replay and fuzz_proc_stat
(fuzz_xfrm_nl's come from gen_nl_seeds.c) into tests/fuzz/corpus/<name>/.

xfrm_parse: every line tests/unit/test_xfrm_parse.c feeds the parser (its
string macros expanded), as "state add|del|flush ..." / "policy add|del ...",
and the `ip xfrm state add` / `policy add` lines of the README and the shell
tests with their variables given example values.
replay: a few receive patterns (in order, reordered, replayed, forged, around
the ESN wrap) for the window sizes at the edges (1, 32, 64, 128, 4095, 4096).
proc_stat: lines as /proc/PID/stat has them, with odd command names.
Usage: tests/fuzz/gen_seeds.py   (make fuzz-seeds)"""
import os
import re
import struct
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
CORPUS = os.path.join(ROOT, "tests/fuzz/corpus")


def save(name, seeds):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for i, data in enumerate(seeds):
        with open(os.path.join(d, "seed-%03d" % i), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (name, len(seeds)))


# ---- xfrm_parse ----

TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([A-Za-z_]\w*)|(,)|(\))|(\()|([^\s"(),]+))')


def c_args(text, pos, macros):
    """The arguments of the call whose '(' ends before pos: each a string
    (literals and string macros concatenated) or None."""
    args, cur, depth = [], [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            break
        pos = m.end()
        lit, ident, comma, close, open_, other = m.groups()
        if open_:
            depth += 1
            cur.append(None)
        elif close:
            if depth == 0:
                args.append(cur)
                break
            depth -= 1
        elif comma and depth == 0:
            args.append(cur)
            cur = []
        elif lit is not None:
            cur.append(bytes(lit[1:-1], "utf-8").decode("unicode_escape"))
        elif ident in macros:
            cur.append(macros[ident])
        else:
            cur.append(None)
    return ["".join(a) if a and all(isinstance(x, str) for x in a) else None for a in args]


def unit_lines():
    src = open(os.path.join(ROOT, "tests/unit/test_xfrm_parse.c")).read()
    macros = {}
    for m in re.finditer(r'^#define\s+(\w+)\s+((?:"(?:[^"\\]|\\.)*"\s*)+)$', src, re.M):
        macros[m.group(1)] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
    lines = []
    for m in re.finditer(r'\b(state_ok|state_bad|policy_ok|policy_bad|split)\s*\(', src):
        if src[:m.start()].rstrip().endswith(("int", "void")):
            continue    # the definition
        args = c_args(src, m.end(), macros)
        if m.group(1) == "split":
            line = args[1] if len(args) > 1 else None
            nxt = re.search(r'xp_parse_(state_add|state_id|state_flush|policy_add|policy_del)',
                            src[m.end():])
            cmd = {"state_add": "state add", "state_id": "state del", "state_flush":
                   "state flush", "policy_add": "policy add", "policy_del": "policy del"}[
                nxt.group(1)] if nxt else None
        elif m.group(1).startswith("state"):
            line, cmd = args[1] if len(args) > 1 else None, "state add"
        else:
            line = args[1] if len(args) > 1 else None
            cmd = "policy del" if len(args) > 3 and args[3] is None and \
                re.search(r',\s*1\s*\)\s*;', src[m.end():src.find(";", m.end()) + 1]) else "policy add"
        if line is not None and cmd:
            lines.append(cmd + " " + line)
    return lines


# example values for the variables of the shell lines
SHELL_VARS = {"IE": "10.0.0.1", "IK": "10.0.0.2", "WE": "192.0.2.1", "WK": "192.0.2.2",
              "WL": "192.0.2.1", "WR": "192.0.2.2", "NE": "10.1.0.0/16", "NL": "10.66.0.1/32",
              "NEXP": "10.66.5.0/24", "NRATE": "10.66.6.0/24", "i": "3", "j": "4", "d": "in",
              "KEY": "0x0123456789abcdef0123456789abcdef01234567", "SPI": "0x1000",
              "pe_in": "src 10.1.0.0/16 dst 10.2.0.0/16 dir in",
              "pe_out": "src 10.2.0.0/16 dst 10.1.0.0/16 dir out"}


def shell_lines():
    out = []
    files = [os.path.join(ROOT, "README.md")]
    for d in ("tests", "tests/vm"):
        p = os.path.join(ROOT, d)
        files += [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith(".sh")]
    for path in files:
        text = open(path, errors="replace").read().replace("\\\n", " ")
        for m in re.finditer(r'xfrm (state add|policy add) ([^\n;&|)`"]*)', text):
            line = m.group(1) + " " + m.group(2)
            line = re.sub(r'\$\(\((\w+) >> 8\)\)|\$\(\((\w+) & 255\)\)', "1", line)
            line = re.sub(r'\$\{?(\w+)\}?', lambda v: SHELL_VARS.get(v.group(1), "10.9.9.9"), line)
            line = re.sub(r'\s*(>|2>).*$', "", line).strip()
            out.append(line)
    return out


def parse_seeds():
    lines = unit_lines() + shell_lines()
    seen, seeds = set(), []
    for line in lines:
        if line not in seen:
            seen.add(line)
            seeds.append(line.encode())
    return seeds


# ---- replay ----

def replay_seed(w, esn, top, packets):
    """packets: (value, flags) as fuzz_replay.c reads them."""
    return struct.pack("<HBQ", w, esn, top) + b"".join(struct.pack("<IB", v & 0xffffffff, f)
                                                        for v, f in packets)


def replay_seeds():
    seeds = []
    auth, rel, edge, far, cmp_ = 1, 1 << 1, 2 << 1, 3 << 1, 0x80
    for w in (1, 32, 64, 128, 4095, 4096):
        for esn in (0, 1):
            # in order from 1, then each again (replays), then forged
            pk = [(i, auth) for i in range(1, 40)] + [(i, auth) for i in range(30, 40)]
            pk += [(40 + i, 0) for i in range(5)] + [(42, auth | cmp_)]
            seeds.append(replay_seed(w, esn, 0, pk))
            # reordered around the top and the left edge
            pk = [(0, rel | auth), (1, rel | auth), (-1 & 0xffff, rel | auth),
                  (1, edge | auth), (0, edge | auth), (-1 & 0xff, edge | auth),
                  (5, rel | auth), (3, rel | auth | cmp_), (0, far | auth)]
            seeds.append(replay_seed(w, esn, 1000000, pk))
        # across the 2^32 wrap with ESN: the window straddles two subspaces
        top = (1 << 32) - 3
        pk = [(i & 0xffffffff, auth) for i in range(top - 2, top + 8)]
        pk += [((top - 1) & 0xffffffff, auth | cmp_), (2, auth), (0, auth)]
        seeds.append(replay_seed(w, 1, top, pk))
        seeds.append(replay_seed(w, 1, (5 << 32) + 2, [(0xfffffffe, auth), (3, auth),
                                                         (0xffffffff, auth | cmp_)]))
    seeds.append(replay_seed(0, 0, 7, [(7, auth), (7, auth), (0, auth), (3, auth)]))
    return seeds


# ---- proc_stat ----

def stat_line(comm, start):
    fields = ["S"] + ["%d" % (i * 3) for i in range(4, 22)] + ["%d" % start] + ["0"] * 30
    return ("1234 (%s) " % comm + " ".join(fields) + "\n").encode()


def proc_stat_seeds():
    return [stat_line(c, s) for c, s in (("espx", 123456), ("a b) S 1 2", 42),
                                         (")", 7), ("", 0), ("x" * 15, 18446744073709551615))]


def main():
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    save("xfrm_parse", parse_seeds())
    save("replay", replay_seeds())
    save("proc_stat", proc_stat_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
