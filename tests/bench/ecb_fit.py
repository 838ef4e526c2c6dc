#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`: the ecb(aes) kfunc's cost as fixed + per block.

espx's GCM makes one bpf_crypto_encrypt() call on an ecb(aes) context over
all counter blocks of a packet (J0 included). This times that step
(crypto_harness `bench ecb`: the counter blocks filled by a bpf_loop
callback, then the one kfunc call) at several block counts, SAMPLES
samples of REPEAT back-to-back BPF_PROG_TEST_RUN runs each, all block
counts interleaved sample by sample (in a rotating order) so drift hits
them alike, and fits the medians with least squares:

    ns = a + b * blocks        (blocks = AES blocks in the one call)

`a` is the fixed cost of a call (program entry, SA lookup, kfunc entry,
lskcipher dispatch, and BPF_PROG_TEST_RUN's own per-run cost, shown as
`nop` for comparison), `b` the cost of one more block (counter fill in BPF
plus one AES block in the kernel cipher). Cycles are ns x the clock
/proc/cpuinfo reports (a VM guest may see no PMU; the output says which
source it used). It also fits each sample round alone and reports the
spread of a and b over rounds, and says which kernel implementation
ecb(aes) resolved to (/proc/crypto) and whether this host has AES-NI.

Usage: ecb_fit.py [--samples N] [--repeat R] [--blocks 1,2,...]
                  [--drivers kernel,generic] [--json FILE]"""
import argparse
import datetime
import json
import os
import platform
import statistics
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from espx_test import BUILD, Harness  # noqa: E402

BLOCKS = (1, 2, 4, 8, 16, 32, 64, 89)
PAYLOADS = (64, 512, 1400)
MAX_BLOCKS = 257	# ESPX_GCM_MAX_BLOCKS data blocks + J0


def esp_data_len(payload):
    """ESP plaintext: payload + pad-length + next-header, padded to 4 bytes."""
    return (payload + 2 + 3) & ~3


def aes_blocks(payload):
    """AES blocks in espx's one ecb(aes) call for an ESP payload: the
    counter blocks of the data plus E_K(J0)."""
    return (esp_data_len(payload) + 15) // 16 + 1


def fit(xs, ys, ws=None):
    """Least squares y = a + b x (weights ws, default 1); returns a, b, R^2
    (R^2 weighted the same way)."""
    ws = ws or [1.0] * len(xs)
    sw = sum(ws)
    mx = sum(w * x for w, x in zip(ws, xs)) / sw
    my = sum(w * y for w, y in zip(ws, ys)) / sw
    sxx = sum(w * (x - mx) ** 2 for w, x in zip(ws, xs))
    sxy = sum(w * (x - mx) * (y - my) for w, x, y in zip(ws, xs, ys))
    if sxx == 0:
        raise ValueError("fit needs at least two different block counts")
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum(w * (y - my) ** 2 for w, y in zip(ws, ys))
    ss_res = sum(w * (y - a - b * x) ** 2 for w, x, y in zip(ws, xs, ys))
    r2 = 1.0 - ss_res / ss_tot if ss_tot else 1.0
    return a, b, r2


def pct(v):
    """median, 10th and 90th percentile of a list"""
    v = sorted(v)
    return statistics.median(v), v[len(v) // 10], v[min(len(v) - 1, len(v) * 9 // 10)]


def cpuinfo():
    """CPU model, mean MHz over CPUs, and the CPU flags of interest."""
    model, mhz, flags = platform.processor(), [], set()
    for line in open("/proc/cpuinfo"):
        k, _, v = line.partition(":")
        k, v = k.strip(), v.strip()
        if k == "model name":
            model = v
        elif k == "cpu MHz":
            mhz.append(float(v))
        elif k == "flags" and not flags:
            flags = set(v.split())
    want = ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "avx2", "avx512f", "hypervisor")
    return model, (sum(mhz) / len(mhz) if mhz else None), [f for f in want if f in flags]


def pmu_cycles():
    """Whether a cycles counter is usable here (perf stat -e cycles)."""
    try:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "cycles", "true"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "no perf tool"
    line = (r.stderr.strip().splitlines() or [""])[-1]
    if "not supported" in line or "not counted" in line or r.returncode:
        return "no cycles counter (perf stat -e cycles: not supported)"
    return "cycles counter present"


def aes_probe():
    """build/tests/aes_block_lat: one AES-128 block with AES-NI on this CPU
    (userspace, no kernel FPU section) and the core clock from a dependent
    add chain. Returns a dict, or None and why."""
    tool = os.path.join(BUILD, "tests", "aes_block_lat")
    if not os.access(tool, os.X_OK):
        return None, f"{tool} not built (make)"
    r = subprocess.run([tool], capture_output=True, text=True, timeout=120)
    if r.returncode == 2:
        return None, r.stderr.strip()
    f = r.stdout.split()
    if r.returncode or len(f) != 6:
        return None, f"aes_block_lat failed: {(r.stderr or r.stdout).strip()[-200:]}"
    return {"chain_ns": float(f[1]), "call_ns": float(f[3]), "clock_ghz": float(f[5])}, None


def kernel_config(opt):
    """`y`/`m`/`n` for a kernel config option, or None if not readable."""
    for path in ("/proc/config.gz", f"/boot/config-{platform.release()}"):
        try:
            if path.endswith(".gz"):
                import gzip
                text = gzip.open(path, "rt").read()
            else:
                text = open(path).read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(opt + "="):
                return line.split("=", 1)[1]
            if line == f"# {opt} is not set":
                return "n"
        return "n"
    return None


def crypto_algs():
    """/proc/crypto as a list of dicts."""
    out = []
    for blk in open("/proc/crypto").read().split("\n\n"):
        f = {}
        for line in blk.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                f[k.strip()] = v.strip()
        if f:
            out.append(f)
    return out


def ecb_instances():
    """Every ecb(aes) lskcipher (what BPF crypto can get) and every aes
    cipher, highest priority first."""
    algs = crypto_algs()

    def pick(name, typ):
        return sorted(({k: a.get(k) for k in ("driver", "priority", "refcnt", "type")}
                       for a in algs if a.get("name") == name and a.get("type") == typ),
                      key=lambda a: -int(a["priority"]))
    return pick("ecb(aes)", "lskcipher"), pick("aes", "cipher"), \
        sorted(a["driver"] for a in algs if "aesni" in a.get("driver", "")
               or "vaes" in a.get("driver", ""))


def classify(sym):
    """Which part of one ecb call a kernel symbol belongs to."""
    if sym.startswith("bpf_prog_"):
        return "bpf"		# the program and its counter-fill callback
    if sym.startswith("crypto_ecb_"):
        return "ecb_loop"	# the ecb template's loop: one indirect call a block
    if "aes" in sym.lower() or sym.startswith("kernel_fpu_"):
        return "cipher"		# the single-block cipher (and its FPU section)
    return "other"


def profile(h, k, repeat, seconds=2.5):
    """Where the time of an ecb call with k blocks goes: perf record
    (cpu-clock) on the harness process while it runs only that call.
    Returns ({part: share}, samples) or (None, why)."""
    if not shutil.which("perf"):
        return None, "no perf tool"
    d = tempfile.mkdtemp(prefix="espx-ecbfit.")
    data = os.path.join(d, "perf.data")
    try:
        p = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock:k", "-F", "10000",
                              "-p", str(h.p.pid), "-o", data, "--", "sleep", str(seconds)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        while p.poll() is None:
            m = h.cmd(f"bench ecb {16 * (k - 1)} 1 {repeat}")
            if m[0] != "ok":
                p.terminate()
                raise RuntimeError(f"bench ecb {k} blocks: {' '.join(m)}")
        if p.returncode:
            return None, f"perf record failed: {p.stderr.read().strip()[-200:]}"
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                            "--sort", "sym", "-g", "none"],
                           capture_output=True, text=True, timeout=120)
        share, n = {"bpf": 0.0, "ecb_loop": 0.0, "cipher": 0.0, "other": 0.0}, 0
        for line in r.stdout.splitlines():
            mt = re.match(r"\s*([\d.]+)%\s+\[[k.]\]\s+(\S+)", line)
            if mt:
                share[classify(mt.group(2))] += float(mt.group(1)) / 100.0
            mt = re.match(r"# Samples: ([\d.]+)([KM]?)", line)
            if mt:
                n = int(float(mt.group(1)) * {"": 1, "K": 1e3, "M": 1e6}[mt.group(2)])
        if not n:
            return None, "perf report found no samples"
        return share, n
    finally:
        shutil.rmtree(d, ignore_errors=True)


def bench(h, blocks, samples, repeat):
    """samples x {nop, each block count}, rotating order; ns per run."""
    raw = {k: [] for k in blocks}
    nop = []
    for s in range(samples):
        order = list(blocks[s % len(blocks):]) + list(blocks[:s % len(blocks)])
        m = h.cmd(f"bench nop 64 1 {repeat}")
        if m[0] != "ok":
            raise RuntimeError(f"bench nop: {' '.join(m)}")
        nop.append(int(m[1]))
        for k in order:
            # DATA_LEN 16*(k-1) bytes: k-1 data blocks + J0 = k AES blocks
            m = h.cmd(f"bench ecb {16 * (k - 1)} 1 {repeat}")
            if m[0] != "ok":
                raise RuntimeError(f"bench ecb {k} blocks: {' '.join(m)}")
            raw[k].append(int(m[1]))
    return raw, nop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=41)
    ap.add_argument("--repeat", type=int, default=500)
    ap.add_argument("--blocks", default=",".join(map(str, BLOCKS)),
                    help="AES block counts per call, comma separated (1..257)")
    ap.add_argument("--drivers", default="kernel,generic",
                    help="kernel (ecb(aes): the kernel's choice) and/or generic")
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the perf split of the per-block cost")
    ap.add_argument("--json")
    args = ap.parse_args()
    blocks = sorted({int(b) for b in args.blocks.split(",")})
    drivers = [d for d in args.drivers.split(",") if d]
    if len(blocks) < 2 or blocks[0] < 1 or blocks[-1] > MAX_BLOCKS:
        print(f"ecb_fit: --blocks needs two or more counts in 1..{MAX_BLOCKS}", file=sys.stderr)
        return 2
    if any(d not in ("kernel", "generic") for d in drivers) or not drivers:
        print("ecb_fit: --drivers takes kernel and/or generic", file=sys.stderr)
        return 2
    if args.samples < 3 or args.repeat < 1:
        print("ecb_fit: --samples must be >= 3 and --repeat >= 1", file=sys.stderr)
        return 2

    model, info_mhz, flags = cpuinfo()
    pmu = pmu_cycles()
    probe, why = aes_probe()
    # cycles: the clock measured while running (dependent adds) where the
    # probe ran, else the MHz /proc/cpuinfo shows (nominal in many guests)
    if probe:
        mhz = probe["clock_ghz"] * 1000.0
        src = (f"ns x {mhz:.0f} MHz measured by a dependent-add chain (aes_block_lat); "
               f"/proc/cpuinfo says {info_mhz:.0f} MHz; {pmu}")
    else:
        mhz = info_mhz
        src = f"ns x {mhz:.0f} MHz from /proc/cpuinfo ({pmu})" if mhz else None
    aesni_cfg = kernel_config("CONFIG_CRYPTO_AES_NI_INTEL")
    out = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "kernel": platform.release(), "cpu": model, "nproc": os.cpu_count(),
           "cpu_mhz": info_mhz, "clock_mhz_used": mhz, "cpu_flags": flags, "aes_ni_exposed": "aes" in flags,
           "config_crypto_aes_ni_intel": aesni_cfg, "pmu": pmu,
           "cycles_source": src,
           "aesni_block_userspace": dict(probe, note="one AES-128 block per call, userspace: "
                                         "no kernel_fpu_begin/end, no ecb loop") if probe else
           {"skipped": why},
           "samples": args.samples, "repeat": args.repeat, "blocks": blocks,
           "method": "BPF_PROG_TEST_RUN, ns per run (median of samples of repeat runs); "
                     "least squares over the per-count medians: ns = a + b * blocks",
           "results": []}
    print(f"espx ecb(aes) kfunc fit  kernel {out['kernel']}  cpu {model} x{out['nproc']}")
    print(f"AES-NI in CPU flags: {'yes' if 'aes' in flags else 'no'} "
          f"({' '.join(flags) or 'none of aes/vaes/pclmulqdq'}); "
          f"CONFIG_CRYPTO_AES_NI_INTEL={aesni_cfg or 'unknown'}")
    print(f"cycles: {out['cycles_source'] or 'no clock in /proc/cpuinfo: ns only'}")
    if probe:
        print(f"AES-NI, one AES-128 block in userspace on this CPU: {probe['chain_ns']:.1f} ns "
              f"({probe['chain_ns'] * mhz / 1000:.0f} cycles) chained, {probe['call_ns']:.1f} ns "
              f"({probe['call_ns'] * mhz / 1000:.0f} cycles) one independent block per call")
    else:
        print(f"AES-NI block probe: skipped ({why})")
    print(f"{args.samples} samples x {args.repeat} runs per block count, counts interleaved\n")

    h = Harness()
    try:
        for drv in drivers:
            r = h.cmd(f"sa {os.urandom(16).hex()} {os.urandom(4).hex()} 0 16 {drv}")
            if r[0] != "ok":
                print(f"ecb_fit: SA set-up with driver {drv} failed: {' '.join(r)}",
                      file=sys.stderr)
                return 1
            # read while the SA (and so the instance) is held: refcnt shows it
            lsk, ciphers, aesni = ecb_instances()
            if drv == "kernel":
                used = lsk[0]["driver"] if lsk else "?"
            else:
                used = "ecb(aes-generic)"
            raw, nop = bench(h, blocks, args.samples, args.repeat)
            med = {k: pct(v) for k, v in raw.items()}
            ys = [med[k][0] for k in blocks]
            a, b, r2 = fit(blocks, ys)
            # the noise here scales with the run time, so large counts swamp
            # the intercept; weighting by 1/y^2 (relative error) pins it better
            wa, wb, wr2 = fit(blocks, ys, [1.0 / y ** 2 for y in ys])
            # the same fit per sample round: how much a and b move
            rounds = [fit(blocks, [raw[k][s] for k in blocks]) for s in range(args.samples)]
            ra, rb = pct([x[0] for x in rounds]), pct([x[1] for x in rounds])
            nopm = statistics.median(nop)
            cyc = (lambda ns: ns * mhz / 1000.0) if mhz else (lambda ns: None)
            print(f"driver {drv}: ecb(aes) instance {used}")
            print(f"  ecb(aes) lskciphers: " + ", ".join(
                f"{x['driver']} (prio {x['priority']}, refcnt {x['refcnt']})" for x in lsk))
            print(f"  aes ciphers: " + ", ".join(
                f"{x['driver']} (prio {x['priority']})" for x in ciphers)
                + f"; AES-NI drivers registered: {', '.join(aesni) or 'none'}")
            print(f"  {'blocks':>6} {'median ns':>10} {'p10-p90':>14} {'fit ns':>8} {'resid':>7}")
            points = []
            for k in blocks:
                m, lo, hi = med[k]
                f = a + b * k
                print(f"  {k:>6} {m:>10.0f} {f'{lo}-{hi}':>14} {f:>8.0f} {m - f:>+7.0f}")
                points.append({"blocks": k, "median_ns": m, "p10_ns": lo, "p90_ns": hi})
            fa, fb = cyc(a), cyc(b)
            print(f"  fit: ns = {a:.0f} + {b:.2f} * blocks   R^2 = {r2:.5f}")
            if mhz:
                print(f"       fixed {fa:.0f} cycles, {fb:.0f} cycles per block "
                      f"({b / 16:.2f} ns/byte) at {mhz:.0f} MHz")
            print(f"  weighted by 1/ns^2 (relative error): ns = {wa:.0f} + {wb:.2f} * blocks"
                  f"   R^2 = {wr2:.5f}")
            print(f"  per-round fits: a {ra[0]:.0f} [{ra[1]:.0f}-{ra[2]:.0f}] ns, "
                  f"b {rb[0]:.2f} [{rb[1]:.2f}-{rb[2]:.2f}] ns/block (median [p10-p90])")
            print(f"  empty program: {nopm:.0f} ns per run (inside a)")
            # split b over the parts that run once per block (perf at the
            # largest count): the cipher, the ecb template's loop, and BPF (the
            # counter-fill callback; bpf_loop is inlined into the program)
            kmax = blocks[-1]
            prof, n = (None, "--no-profile") if args.no_profile else \
                profile(h, kmax, max(args.repeat, 2000))
            split = None
            per = prof and prof["cipher"] + prof["ecb_loop"] + prof["bpf"]
            if per:
                cb = b * prof["cipher"] / per
                split = {"blocks": kmax, "perf_samples": n,
                         "share": {x: round(y, 4) for x, y in prof.items()},
                         "cipher_ns_per_block": round(cb, 2),
                         "rest_ns_per_block": round(b - cb, 2),
                         "method": "b split in proportion to the perf cpu-clock samples "
                                   "of cipher vs ecb loop + BPF"}
                print(f"  perf (cpu-clock, {n} samples) at {kmax} blocks: cipher "
                      f"{prof['cipher']:.1%}, ecb loop {prof['ecb_loop']:.1%}, BPF "
                      f"{prof['bpf']:.1%}, other {prof['other']:.1%}")
                print(f"  so b = {cb:.1f} ns cipher + {b - cb:.1f} ns BPF counter fill and "
                      f"ecb loop per block" + (
                          f" ({cyc(cb):.0f} + {cyc(b - cb):.0f} cycles)" if mhz else ""))
            else:
                print(f"  perf split: skipped ({n if not prof else 'no per-block samples'})")
            pred = []
            for p in PAYLOADS:
                k = aes_blocks(p)
                pred.append({"payload": p, "aes_blocks": k, "fit_ns": round(a + b * k, 1)})
            print("  ESP payload -> blocks -> fit ns: " + ", ".join(
                f"{x['payload']} B -> {x['aes_blocks']} -> {x['fit_ns']:.0f}" for x in pred))
            print()
            out["results"].append({
                "driver": drv, "instance": used, "lskciphers": lsk, "ciphers": ciphers,
                "aesni_drivers": aesni, "points": points, "nop_ns": nopm,
                "fit": {"fixed_ns": round(a, 1), "per_block_ns": round(b, 3), "r2": round(r2, 6),
                        "fixed_cycles": round(fa) if fa is not None else None,
                        "per_block_cycles": round(fb, 1) if fb is not None else None},
                "fit_weighted": {"fixed_ns": round(wa, 1), "per_block_ns": round(wb, 3),
                                 "r2": round(wr2, 6), "weights": "1/median^2"},
                "per_round": {"fixed_ns": [round(x, 1) for x in ra],
                              "per_block_ns": [round(x, 3) for x in rb],
                              "order": "median, p10, p90"},
                "split": split, "payloads": pred})
    finally:
        h.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
