#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""user/ keeps its layers (issue 13), read from the #include lines:
  - a file includes only its own layer and the layers below it, in the order
    the Makefile gives (USER_LAYERS: cmd platform model common);
  - no circle between modules (a module is foo.c with foo.h), in a layer or
    across layers: each module can be read knowing only what it includes;
  - model/ uses no BPF map, netlink or skeleton (unit-testable without
    root; common/log.c may hook libbpf's printer).
No root and no build needed; it reads the source."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from espx_test import ROOT, finish, plan, result  # noqa: E402

USER = os.path.join(ROOT, "user")
INC = re.compile(r'^\s*#\s*include\s+[<"]([^">]+)[">]', re.M)
# what the pure layers must not reach: maps, links, netlink sockets, the skeleton
PLATFORM_ONLY = re.compile(r"^(bpf/|libmnl/|linux/netlink\.h|linux/xfrm\.h|linux/rtnetlink\.h|"
                           r"espx\.skel\.h|xdp/)")


def layers():
    mk = open(os.path.join(ROOT, "Makefile")).read()
    m = re.search(r"^USER_LAYERS\s*:=\s*(.+)$", mk, re.M)
    return m.group(1).split() if m else []


def sources():
    for layer in sorted(os.listdir(USER)):
        d = os.path.join(USER, layer)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                yield layer, f, open(os.path.join(d, f)).read()


def sccs(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    plan(4)
    order = layers()
    result(order == ["cmd", "platform", "model", "common"], "layers-declared",
           f"Makefile USER_LAYERS is {order}")
    rank = {l: i for i, l in enumerate(order)}
    upward, impure, graph = [], [], {}
    for layer, f, text in sources():
        mod = f"{layer}/{f[:-2]}"
        graph.setdefault(mod, set())
        for inc in INC.findall(text):
            top = inc.split("/")[0]
            if top in rank:
                target = inc[:-2] if inc.endswith(".h") else inc
                if rank[top] < rank.get(layer, 0):
                    upward.append(f"{layer}/{f} includes {inc}")
                if target != mod:
                    graph[mod].add(target)
            elif layer == "model" and PLATFORM_ONLY.match(inc):
                impure.append(f"{layer}/{f} includes <{inc}>")
    result(not upward, "includes-only-downward", "; ".join(upward[:6]))
    circles = sccs(graph)
    result(not circles, "no-module-circle",
           "; ".join(" <-> ".join(c) for c in circles[:4]))
    result(not impure, "model-pure", "; ".join(impure[:6]))
    finish()


if __name__ == "__main__":
    main()
