// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness of the real datapath: espx_xdp_rx (receive) and
 * espx_tc_tx (transmit), loaded and configured by espx itself, fed random
 * and mutated frames through BPF_PROG_TEST_RUN, with invariants checked on
 * every run. Needs root.
 *
 * Set-up (LLVMFuzzerInitialize): a network namespace of its own
 * (unshare), one veth fz0/fz1 in it (IPv6 off: no stray traffic), then
 * `espx state add` / `policy add` / `attach fz0` as a user would: five
 * AES-GCM SAs (espx has no CBC/HMAC) -- tunnel v4 AES-128, tunnel v6
 * AES-256, transport v4 with NAT-T, transport v6, tunnel v4 AES-256 with
 * ESN started just below 2^32 -- and policies in both directions, one
 * port-specific, a block, an allow without template, and three whose in
 * policy differs from the out one (none, another SA, block), so that
 * authentic ESP can be refused by the inbound check. The programs come
 * from the pinned links, the maps from the pins.
 *
 * The harness's own "host" is both ends: an SA's outbound number and its
 * inbound window are the same map entry, so a frame the transmit program
 * encrypts decrypts on receive. The first input byte picks a mode:
 *   0 raw frame to XDP       1 raw frame to TC
 *   2 valid ESP to XDP: the plaintext seed (byte 1) encrypted by espx_tc_tx
 *     (a fresh sequence number each time), then mutated; flags (byte 2):
 *     1 a VLAN tag, 2 run it twice (the second must not decrypt)
 *   3 plaintext seed, mutated, to TC   4 the same to XDP (flag 1: tagged)
 * The rest is the mutation program, 4 bytes per step: op, offset (2),
 * value; ops xor / set / truncate / append / xor inside the ESP part (or
 * the L4 part) / insert.
 *
 * Invariants (a violation is abort() with "INVARIANT name: ..."):
 *   auth          a decrypted frame's ESP bytes (SPI .. ICV) are exactly
 *                 those espx_tc_tx produced: any change fails the ICV
 *   roundtrip     ... and what comes out is the plaintext that went in
 *   replay        the same ESP frame never decrypts twice
 *   inbound       a decrypted inner packet is one its in policy lets in
 *                 (template names the decrypting SA; no policy only for
 *                 transport mode; block never)
 *   plaintext-in  plaintext an in policy protects or blocks is not passed
 *   plaintext-out plaintext an out policy protects or blocks does not
 *                 leave unchanged
 *   counters      per run, on this CPU's slots of espx_drops: a drop is
 *                 counted once under a drop reason; a pass at most once,
 *                 under a pass reason; the other direction unchanged; a
 *                 decrypted frame counted by its SA (curlft packets + 1)
 *   reason        no counter outside the reasons of include/espx_drop.h
 *   too-big       "too-big" only for a frame longer than the GCM buffer
 *   internal      nothing counted "internal" or "crypto-error": those are
 *                 espx's own failures, not the frame's
 *   verdict       only the verdicts the programs return (XDP pass/drop,
 *                 TC ok/shot/redirect)
 *   seed          a valid plaintext seed under a protect policy encrypts
 *
 * Not deterministic: sequence numbers and IVs (each valid ESP frame uses
 * the SA's next number, so a crash input reruns with another one); the
 * replay window, the fragment LRU (espx_frag) and lifetimes carry state
 * from one input to the next; the keys are random per process. The frame
 * kinds and mutations are deterministic. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx_common.h"
#include "espx_drop.h"
#include "espx_sa.h"

#define FRAME_MAX	2048
#define OUT_MAX		8192
#define ETH		14

/* ---- coverage the BPF side cannot give libFuzzer: the outcome ---- */

/* libFuzzer reads this section as extra coverage counters: one per
 * (mode, seed kind, reason, event), so that inputs reaching a new drop
 * reason or a decryption are kept. */
#define XC_SIZE (5 * 32 * 64 * 4)
__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t xcount[XC_SIZE];

/* The same, summed over the process for ESPX_FUZZ_SUMMARY: runs per
 * direction and reason, decryptions, frames to each program. */
static uint64_t sum_reason[ESPX_DIR__MAX][64], sum_decrypted, sum_runs[2];
/* ESPX_FUZZ_SHOW=REASON: print every frame counted under REASON (a
 * reason's name as espx stats says it), to see what reaches it. */
static int show_reason;

static void outcome(unsigned mode, unsigned kind, unsigned reason, unsigned ev)
{
	unsigned i = ((mode * 32 + kind) * 64 + reason) * 4 + ev;

	xcount[i % XC_SIZE]++;
}

/* ESPX_FUZZ_SUMMARY=FILE: at exit, what the runs reached, one line each:
 *   runs xdp|tc N       decrypted N       reason in|out NAME N */
static void summary(void)
{
	const char *path = getenv("ESPX_FUZZ_SUMMARY");
	FILE *f;
	unsigned d, r;

	if (!path || !(f = fopen(path, "w")))
		return;
	fprintf(f, "runs xdp %llu\nruns tc %llu\ndecrypted %llu\n",
		(unsigned long long)sum_runs[0], (unsigned long long)sum_runs[1],
		(unsigned long long)sum_decrypted);
	for (d = 0; d < ESPX_DIR__MAX; d++)
		for (r = 1; r < ESPX_DROP__MAX; r++)
			if (sum_reason[d][r])
				fprintf(f, "reason %s %s %llu\n", d ? "out" : "in", espx_drop_name(r),
					(unsigned long long)sum_reason[d][r]);
	fclose(f);
}

/* ---- violations ---- */

static const uint8_t *cur_data;
static size_t cur_size;
static void espx_cleanup(void);

static void __attribute__((noreturn, format(printf, 2, 3))) violation(const char *inv,
								      const char *fmt, ...)
{
	va_list ap;
	size_t i;

	fprintf(stderr, "INVARIANT %s: ", inv);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ninput:");
	for (i = 0; i < cur_size && i < 64; i++)
		fprintf(stderr, " %02x", cur_data[i]);
	fprintf(stderr, "\n");
	espx_cleanup();		/* abort() skips atexit: unload espx here */
	abort();
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_datapath: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* ---- the configuration: SAs and policies, as espx is told them ---- */

enum { SA1, SA2, SA3, SA4, SA5, NSA };

struct sa_def {
	int v6, tunnel;
	const char *src, *dst;
	uint32_t spi, reqid;
	int key_bytes;		/* AES key, the salt comes on top */
	const char *extra;
};

static const struct sa_def sas[NSA] = {
	[SA1] = { 0, 1, "192.0.2.1", "192.0.2.2", 0x1001, 1, 16, "replay-window 128" },
	[SA2] = { 1, 1, "2001:db8::1", "2001:db8::2", 0x2001, 2, 32, "replay-window 64" },
	[SA3] = { 0, 0, "192.0.2.1", "192.0.2.3", 0x3001, 3, 16,
		  "replay-window 32 encap espinudp 4500 4500 0.0.0.0" },
	[SA4] = { 1, 0, "2001:db8::1", "2001:db8::4", 0x4001, 4, 16, "replay-window 32" },
	[SA5] = { 0, 1, "192.0.2.1", "192.0.2.5", 0x5001, 5, 32,
		  "replay-window 256 flag esn replay-oseq 0xfffff000" },
};

enum act { PROTECT, BLOCK, ALLOW };
#define NONE_ (-1)

/* One selector, out and in each with its own action and SA (in policy
 * absent: in_act NONE_). Selectors do not overlap, so XFRM's order does
 * not matter. */
struct pol_def {
	int v6;
	const char *src, *dst;	/* prefixes */
	int proto, dport;	/* 0: any */
	int out_act, out_sa, in_act, in_sa;
};

#define P(v6, s, d, pr, dp, oa, os, ia, is) { v6, s, d, pr, dp, oa, os, ia, is }
static const struct pol_def pols[] = {
	P(0, "10.1.0.0/24", "10.2.0.0/24", 0, 0, PROTECT, SA1, PROTECT, SA1),
	P(0, "10.1.0.0/24", "10.3.0.0/24", 17, 4789, PROTECT, SA5, PROTECT, SA5),
	P(0, "10.1.0.0/24", "10.4.0.0/24", 0, 0, BLOCK, 0, BLOCK, 0),
	P(0, "10.1.0.0/24", "10.5.0.0/24", 0, 0, ALLOW, 0, ALLOW, 0),
	P(1, "fd01::/64", "fd02::/64", 0, 0, PROTECT, SA2, PROTECT, SA2),
	P(0, "10.1.0.0/24", "10.6.0.0/24", 0, 0, PROTECT, SA2, PROTECT, SA2),
	P(0, "192.0.2.1/32", "192.0.2.3/32", 0, 0, PROTECT, SA3, PROTECT, SA3),
	P(1, "2001:db8::1/128", "2001:db8::4/128", 0, 0, PROTECT, SA4, PROTECT, SA4),
	/* authentic ESP the inbound check must refuse */
	P(0, "10.1.0.0/24", "10.9.0.0/24", 0, 0, PROTECT, SA1, NONE_, 0),
	P(0, "10.1.0.0/24", "10.10.0.0/24", 0, 0, PROTECT, SA5, PROTECT, SA1),
	P(0, "10.1.0.0/24", "10.11.0.0/24", 0, 0, PROTECT, SA1, BLOCK, 0),
};
#define NPOL (sizeof(pols) / sizeof(pols[0]))

static char espx_bin[PATH_MAX];

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		die("set-up step failed (exit %d): %.120s", r, cmd);
}

static void hexrand(char *out, int bytes)
{
	uint8_t b[64];
	int fd = open("/dev/urandom", O_RDONLY), i;

	if (fd < 0 || read(fd, b, (size_t)bytes) != bytes)
		die("/dev/urandom: %s", strerror(errno));
	close(fd);
	for (i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static const char *tmpl_of(int sa)
{
	static char buf[256];
	const struct sa_def *s = &sas[sa];

	snprintf(buf, sizeof(buf), "tmpl src %s dst %s proto esp reqid %u mode %s", s->src, s->dst,
		 s->reqid, s->tunnel ? "tunnel" : "transport");
	return buf;
}

static void policy_add(const struct pol_def *p, const char *dir, int act, int sa)
{
	char sel[160];

	if (p->proto)
		snprintf(sel, sizeof(sel), "src %s dst %s proto %d dport %d", p->src, p->dst,
			 p->proto, p->dport);
	else
		snprintf(sel, sizeof(sel), "src %s dst %s", p->src, p->dst);
	if (act == PROTECT)
		sh("%s policy add %s dir %s %s >/dev/null", espx_bin, sel, dir, tmpl_of(sa));
	else
		sh("%s policy add %s dir %s action %s >/dev/null", espx_bin, sel, dir,
		   act == BLOCK ? "block" : "allow");
}

/* ---- BPF objects ---- */

static int xdp_fd, tc_fd, drops_fd, sa_fd, ifindex, ncpus, my_cpu;
static struct espx_sa_key sa_keys[NSA];

static int prog_of_link(const char *path)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	int lfd = bpf_obj_get(path), pfd;

	if (lfd < 0)
		die("opening the pinned link %s: %s", path, strerror(errno));
	memset(&li, 0, sizeof(li));
	if (bpf_link_get_info_by_fd(lfd, &li, &len))
		die("link info of %s: %s", path, strerror(errno));
	pfd = bpf_prog_get_fd_by_id(li.prog_id);
	if (pfd < 0)
		die("program %u of %s: %s", li.prog_id, path, strerror(errno));
	close(lfd);
	return pfd;
}

static void addr_parse(int v6, const char *s, uint32_t *a)
{
	memset(a, 0, 16);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, s, a) != 1)
		die("bad address %s", s);
}

static void espx_cleanup(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "%s unload >/dev/null 2>&1", espx_bin);
	if (system(cmd))
		fprintf(stderr, "fuzz_datapath: espx unload failed\n");
}

static void setup(const char *argv0)
{
	char pin[PATH_MAX], key[160], self[PATH_MAX], *slash, *env = getenv("ESPX_FUZZ_ESPX");
	struct stat st;
	cpu_set_t cs;
	ssize_t n;
	size_t i;

	if (geteuid() != 0)
		die("needs root (BPF programs, a network namespace)");
	if (env) {
		snprintf(espx_bin, sizeof(espx_bin), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			die("/proc/self/exe: %s", strerror(errno));
		self[n] = 0;
		slash = strrchr(self, '/');
		*slash = 0;
		snprintf(espx_bin, sizeof(espx_bin), "%s/../espx", self);	/* build/fuzz/.. */
	}
	if (access(espx_bin, X_OK))
		die("%s: %s (run make, or set ESPX_FUZZ_ESPX)", espx_bin, strerror(errno));
	(void)argv0;
	/* BPF_PROG_TEST_RUN runs on the calling CPU: stay on one, read its slots */
	sched_getaffinity(0, sizeof(cs), &cs);
	for (my_cpu = 0; my_cpu < CPU_SETSIZE && !CPU_ISSET(my_cpu, &cs); my_cpu++)
		;
	CPU_ZERO(&cs);
	CPU_SET(my_cpu, &cs);
	if (sched_setaffinity(0, sizeof(cs), &cs))
		die("sched_setaffinity: %s", strerror(errno));
	ncpus = libbpf_num_possible_cpus();
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s", strerror(errno));
	sh("ip link set lo up && ip link add fz0 type veth peer name fz1 && "
	   "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 "
	   "net.ipv6.conf.fz0.disable_ipv6=1 net.ipv6.conf.fz1.disable_ipv6=1 && "
	   "ip link set fz0 up && ip link set fz1 up");
	atexit(espx_cleanup);
	atexit(summary);
	if (getenv("ESPX_FUZZ_SHOW")) {
		unsigned r;

		for (r = 1; r < ESPX_DROP__MAX; r++)
			if (!strcmp(espx_drop_name(r), getenv("ESPX_FUZZ_SHOW")))
				show_reason = (int)r;
		if (!show_reason)
			die("ESPX_FUZZ_SHOW=%s: no such reason", getenv("ESPX_FUZZ_SHOW"));
	}
	for (i = 0; i < NSA; i++) {
		const struct sa_def *s = &sas[i];

		hexrand(key, s->key_bytes + 4);
		sh("%s state add src %s dst %s proto esp spi 0x%x reqid %u mode %s "
		   "aead 'rfc4106(gcm(aes))' 0x%s 128 %s >/dev/null", espx_bin, s->src, s->dst,
		   s->spi, s->reqid, s->tunnel ? "tunnel" : "transport", key, s->extra);
		memset(key, 0, sizeof(key));
		addr_parse(s->v6, s->dst, sa_keys[i].daddr);
		sa_keys[i].spi = htonl(s->spi);
		sa_keys[i].family = s->v6 ? AF_INET6 : AF_INET;
	}
	for (i = 0; i < NPOL; i++) {
		policy_add(&pols[i], "out", pols[i].out_act, pols[i].out_sa);
		if (pols[i].in_act != NONE_)
			policy_add(&pols[i], "in", pols[i].in_act, pols[i].in_sa);
	}
	sh("%s attach fz0 >/dev/null", espx_bin);
	ifindex = (int)if_nametoindex("fz0");
	if (stat("/proc/self/ns/net", &st))
		die("/proc/self/ns/net: %s", strerror(errno));
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/espx/net-%lu", (unsigned long)st.st_ino);
	{
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/links/fz0:xdp", pin);
		xdp_fd = prog_of_link(p);
		snprintf(p, sizeof(p), "%s/links/fz0:tc", pin);
		tc_fd = prog_of_link(p);
		snprintf(p, sizeof(p), "%s/espx_drops", pin);
		drops_fd = bpf_obj_get(p);
		snprintf(p, sizeof(p), "%s/espx_sa", pin);
		sa_fd = bpf_obj_get(p);
		if (drops_fd < 0 || sa_fd < 0)
			die("opening the pinned maps in %s: %s", pin, strerror(errno));
	}
	fprintf(stderr, "fuzz_datapath: espx attached in a namespace of its own (%s), %zu SAs, "
		"%zu selectors, CPU %d\n", pin, (size_t)NSA, NPOL, my_cpu);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setup((*argv)[0]);
	return 0;
}

/* ---- counters ---- */

#define NSLOT (ESPX_DROP__MAX * ESPX_DIR__MAX)
/* espx_drops' slots: one per reason and direction (include/espx_drop.h);
 * the tables of this harness index reasons below 64 */
#define NSLOT_MAP (ESPX_DROP__MAX * ESPX_DIR__MAX)
_Static_assert(ESPX_DROP__MAX <= 64, "the harness's per-reason tables hold 64 reasons");

struct counts {
	uint64_t pkts[NSLOT_MAP];
	uint64_t sa_pkts[NSA];
};

static int nslot_map;

static void counts_read(struct counts *c)
{
	struct espx_drop_count v[256];
	struct espx_sa sa;
	__u32 k;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (!nslot_map) {
		struct bpf_map_info mi;
		__u32 len = sizeof(mi);

		memset(&mi, 0, sizeof(mi));
		if (bpf_map_get_info_by_fd(drops_fd, &mi, &len))
			die("espx_drops info: %s", strerror(errno));
		nslot_map = (int)mi.max_entries;
		if (nslot_map > NSLOT_MAP || ncpus > 256)
			die("espx_drops has %d slots, %d CPUs: more than this harness reads",
			    nslot_map, ncpus);
	}
	for (k = 0; k < (__u32)nslot_map; k++) {
		if (bpf_map_lookup_elem(drops_fd, &k, v))
			die("reading espx_drops[%u]: %s", k, strerror(errno));
		c->pkts[k] = v[my_cpu].packets;
	}
	for (i = 0; i < NSA; i++) {
		if (bpf_map_lookup_elem_flags(sa_fd, &sa_keys[i], &sa, BPF_F_LOCK))
			die("reading SA %zu: %s", i, strerror(errno));
		c->sa_pkts[i] = sa.packets;
	}
}

static int pass_reason(unsigned r)
{
	return r == ESPX_DROP_NONE || r == ESPX_DROP_NO_SA || r == ESPX_DROP_FRAGMENT ||
	       r == ESPX_DROP_BYPASS || r == ESPX_DROP_FAST_PATH;
}

/* What the run counted: the one reason (or -1: none); the SA counted, if
 * one (or -1). Checks the "counters" and "reason" invariants. */
struct counted {
	int reason;
	int sa;
};

static struct counted counts_check(const struct counts *a, const struct counts *b, int dir,
				   int dropped, uint32_t frame_len, const char *what)
{
	struct counted r = { -1, -1 };
	uint64_t total = 0, d;
	int k;
	size_t i;

	for (k = 0; k < nslot_map; k++) {
		d = b->pkts[k] - a->pkts[k];
		if (!d)
			continue;
		if (k >= NSLOT || k / ESPX_DIR__MAX == ESPX_DROP_NONE)
			violation("reason", "%s: counter slot %d moved by %llu: no such reason", what,
				  k, (unsigned long long)d);
		if (k % ESPX_DIR__MAX != dir)
			violation("counters", "%s: the other direction's %s moved by %llu", what,
				  espx_drop_name((unsigned)k / ESPX_DIR__MAX),
				  (unsigned long long)d);
		total += d;
		r.reason = k / ESPX_DIR__MAX;
	}
	/* too big for the GCM buffer: only a frame that is */
	if (total && r.reason == ESPX_DROP_TOO_BIG && frame_len <= ESPX_GCM_MAX_DATA)
		violation("too-big", "%s: counted too-big for a frame of %u bytes", what, frame_len);
	/* espx's own failures: no frame, however malformed, may cause one */
	if (total && (r.reason == ESPX_DROP_INTERNAL || r.reason == ESPX_DROP_CRYPTO))
		violation("internal", "%s: counted %s", what, espx_drop_name((unsigned)r.reason));
	if (total > 1)
		violation("counters", "%s: %llu packets counted for one frame (last %s)", what,
			  (unsigned long long)total, espx_drop_name((unsigned)r.reason));
	if (dropped && total != 1)
		violation("counters", "%s: dropped, counted under no reason", what);
	if (dropped && pass_reason((unsigned)r.reason))
		violation("counters", "%s: dropped, counted under pass reason %s", what,
			  espx_drop_name((unsigned)r.reason));
	if (!dropped && total && !pass_reason((unsigned)r.reason) &&
	    !(dir == ESPX_DIR_OUT && r.reason == ESPX_DROP_MTU))
		violation("counters", "%s: passed, counted under drop reason %s", what,
			  espx_drop_name((unsigned)r.reason));
	for (i = 0; i < NSA; i++) {
		d = b->sa_pkts[i] - a->sa_pkts[i];
		if (!d)
			continue;
		if (d > 1 || r.sa >= 0)
			violation("counters", "%s: SA counters moved by %llu (SA %zu)", what,
				  (unsigned long long)d, i);
		r.sa = (int)i;
	}
	return r;
}

/* ---- frames ---- */

struct frame {
	uint8_t b[FRAME_MAX + 64];
	uint32_t len;
};

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t s)
{
	uint32_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* A plaintext seed: what a host would send. */
struct seed {
	const char *name;
	int v6;
	const char *src, *dst;
	uint8_t proto;		/* 6, 17, 58 */
	uint16_t sport, dport;
	uint16_t payload;
	int frag;		/* 1 first fragment, 2 a later one */
	int ext;		/* IPv6: hop-by-hop and destination options first */
	int sa;			/* the SA its out policy protects it with; -1: none */
};

static const struct seed seeds[] = {
	{ "v4-tunnel-udp", 0, "10.1.0.1", "10.2.0.1", 17, 1000, 2000, 64, 0, 0, SA1 },
	{ "v4-tunnel-tcp", 0, "10.1.0.1", "10.2.0.7", 6, 1001, 80, 100, 0, 0, SA1 },
	{ "v4-esn-port-policy", 0, "10.1.0.2", "10.3.0.1", 17, 1002, 4789, 50, 0, 0, SA5 },
	{ "v6-tunnel-udp", 1, "fd01::1", "fd02::1", 17, 1003, 2003, 77, 0, 0, SA2 },
	{ "v6-tunnel-ext-headers", 1, "fd01::1", "fd02::2", 17, 1004, 2004, 40, 0, 1, SA2 },
	{ "v4-transport-natt", 0, "192.0.2.1", "192.0.2.3", 17, 1005, 2005, 33, 0, 0, SA3 },
	{ "v6-transport-icmp", 1, "2001:db8::1", "2001:db8::4", 58, 128, 0, 56, 0, 0, SA4 },
	{ "v4-first-fragment", 0, "10.1.0.1", "10.2.0.2", 17, 1006, 2006, 200, 1, 0, SA1 },
	{ "v4-later-fragment", 0, "10.1.0.1", "10.2.0.2", 17, 0, 0, 120, 2, 0, SA1 },
	{ "v6-fragment", 1, "fd01::3", "fd02::3", 17, 1007, 2007, 90, 1, 0, SA2 },
	{ "v4-in-v6-tunnel", 0, "10.1.0.3", "10.6.0.1", 17, 1008, 2008, 60, 0, 0, SA2 },
	{ "v4-no-in-policy", 0, "10.1.0.4", "10.9.0.1", 17, 1009, 2009, 20, 0, 0, SA1 },
	{ "v4-in-template-other-sa", 0, "10.1.0.5", "10.10.0.1", 17, 1010, 2010, 20, 0, 0, SA5 },
	{ "v4-in-block", 0, "10.1.0.6", "10.11.0.1", 6, 1011, 443, 20, 0, 0, SA1 },
	{ "v4-block", 0, "10.1.0.7", "10.4.0.1", 17, 1012, 2012, 20, 0, 0, -1 },
	{ "v4-allow", 0, "10.1.0.8", "10.5.0.1", 17, 1013, 2013, 20, 0, 0, -1 },
	{ "v4-no-policy", 0, "10.7.0.1", "10.8.0.1", 17, 1014, 2014, 20, 0, 0, -1 },
	{ "v4-ike-between-peers", 0, "192.0.2.1", "192.0.2.3", 17, 500, 500, 40, 0, 0, -1 },
	{ "v4-port-policy-other-port", 0, "10.1.0.2", "10.3.0.1", 17, 1015, 4790, 20, 0, 0, -1 },
};
#define NSEED (sizeof(seeds) / sizeof(seeds[0]))

static void build_seed(struct frame *f, const struct seed *s)
{
	uint8_t *b = f->b, *ip = b + ETH, *l4, *nhp;
	uint32_t hl = s->proto == 6 ? 20 : 8, l4len = hl + s->payload, off, i, ps;
	uint32_t a[4];

	memset(f, 0, sizeof(*f));
	memcpy(b, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	if (!s->v6) {
		put16(b + 12, 0x0800);
		ip[0] = 0x45;
		put16(ip + 2, 20 + l4len);
		put16(ip + 4, 0x1234);
		put16(ip + 6, s->frag == 1 ? 0x2000 : s->frag == 2 ? 25 : 0x4000);
		ip[8] = 64;
		ip[9] = s->proto;
		addr_parse(0, s->src, a);
		memcpy(ip + 12, a, 4);
		addr_parse(0, s->dst, a);
		memcpy(ip + 16, a, 4);
		put16(ip + 10, fold(sum16(ip, 20, 0)));
		off = ETH + 20;
	} else {
		put16(b + 12, 0x86dd);
		ip[0] = 0x60;
		ip[7] = 64;
		addr_parse(1, s->src, a);
		memcpy(ip + 8, a, 16);
		addr_parse(1, s->dst, a);
		memcpy(ip + 24, a, 16);
		off = ETH + 40;
		nhp = ip + 6;
		if (s->ext) {
			/* hop-by-hop, then destination options; each 8 bytes
			 * with one PadN option of 4 */
			*nhp = 0;
			b[off] = 60;
			memcpy(b + off + 2, "\x01\x04", 2);
			memcpy(b + off + 10, "\x01\x04", 2);
			nhp = b + off + 8;
			off += 16;
		}
		if (s->frag) {
			*nhp = 44;
			nhp = b + off;
			put16(b + off + 2, s->frag == 2 ? 25 << 3 : 1);
			memcpy(b + off + 4, "\0\0\x56\x78", 4);
			off += 8;
		}
		*nhp = s->proto;
		put16(ip + 4, off - ETH - 40 + l4len);
	}
	l4 = b + off;
	for (i = 0; i < s->payload; i++)
		l4[hl + i] = (uint8_t)(i * 13 + 5);
	if (s->frag != 2) {
		if (s->proto == 58) {
			l4[0] = (uint8_t)s->sport;
			l4[1] = (uint8_t)s->dport;
		} else {
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
		}
		if (s->proto == 6)
			l4[12] = 5 << 4;
		if (s->proto == 17)
			put16(l4 + 4, l4len);
		if (!s->frag) {	/* a whole datagram: its checksum, as a host writes it */
			uint32_t n = s->v6 ? 16 : 4, c;
			const uint8_t *sa = s->v6 ? ip + 8 : ip + 12, *da = s->v6 ? ip + 24 : ip + 16;

			ps = sum16(sa, n, 0);
			ps = sum16(da, n, ps);
			ps += s->proto + l4len;
			c = fold(sum16(l4, l4len, ps));
			if (s->proto == 17 && c == 0)
				c = 0xffff;
			put16(l4 + (s->proto == 6 ? 16 : s->proto == 17 ? 6 : 2), c);
		}
	}
	f->len = off + l4len;
}

/* ---- a parse of our own, and the policies as XFRM would apply them ---- */

struct pinfo {
	int ok;			/* a packet this model is sure about */
	int v6;
	uint32_t src[4], dst[4];
	uint8_t proto;
	int ports;		/* sport/dport known */
	uint16_t sport, dport;
	int later;		/* a fragment after the first */
	uint32_t l3, l4;
	uint32_t esp_off, esp_end;	/* ESP (or NAT-T ESP) where present; end of IP */
};

/* Conservative: ok only for what parse.h reads the same way. */
static void pparse(const uint8_t *b, uint32_t len, struct pinfo *p)
{
	uint32_t l3 = ETH, type, iplen, off, n = 0, hl;
	uint8_t nh;

	memset(p, 0, sizeof(*p));
	if (len < ETH)
		return;
	type = get16(b + 12);
	if (type == 0x8100 || type == 0x88a8) {
		if (len < ETH + 4)
			return;
		type = get16(b + 16);
		l3 += 4;
	}
	p->l3 = l3;
	if (type == 0x0800) {
		if (len < l3 + 20 || b[l3] >> 4 != 4 || (b[l3] & 15) < 5)
			return;
		hl = (b[l3] & 15) * 4u;
		iplen = get16(b + l3 + 2);
		if (iplen < hl || l3 + iplen > len)
			return;
		memcpy(p->src, b + l3 + 12, 4);
		memcpy(p->dst, b + l3 + 16, 4);
		p->proto = b[l3 + 9];
		p->later = !!(get16(b + l3 + 6) & 0x1fff);
		off = l3 + hl;
	} else if (type == 0x86dd) {
		if (len < l3 + 40 || b[l3] >> 4 != 6)
			return;
		iplen = 40 + get16(b + l3 + 4);
		if (l3 + iplen > len)
			return;
		p->v6 = 1;
		memcpy(p->src, b + l3 + 8, 16);
		memcpy(p->dst, b + l3 + 24, 16);
		nh = b[l3 + 6];
		off = l3 + 40;
		while (nh == 0 || nh == 43 || nh == 60 || nh == 44) {
			if (++n > 6 || off > 512 || off + 8 > l3 + iplen)
				return;		/* parse.h: ext_bad; not modelled */
			if (nh == 44) {
				p->later = !!(get16(b + off + 2) & 0xfff8);
				nh = b[off];
				off += 8;
				if (p->later)
					break;
			} else {
				uint32_t step = ((uint32_t)b[off + 1] + 1) * 8;

				nh = b[off];
				off += step;
			}
		}
		if (!p->later && (nh == 0 || nh == 43 || nh == 60 || nh == 44))
			return;
		p->proto = nh;
	} else {
		return;
	}
	if (off > l3 + iplen)
		return;
	p->l4 = off;
	if (!p->later) {
		if (p->proto == 6 || p->proto == 17 || p->proto == 132) {
			if (off + 4 > l3 + iplen)
				return;		/* ports beyond the packet: not modelled */
			p->sport = (uint16_t)get16(b + off);
			p->dport = (uint16_t)get16(b + off + 2);
			p->ports = 1;
		} else if (p->proto == 1 || p->proto == 58) {
			if (off + 2 > l3 + iplen)
				return;
			p->sport = b[off];
			p->dport = b[off + 1];
			p->ports = 1;
		} else {
			p->ports = 1;	/* no ports to know */
		}
	}
	p->esp_off = 0;
	if (p->proto == 50)
		p->esp_off = off;
	else if (p->proto == 17 && p->ports && p->dport == 4500)
		p->esp_off = off + 8;
	p->esp_end = l3 + iplen;
	p->ok = 1;
}

static int prefix_has(int v6, const char *pfx, const uint32_t *a)
{
	char buf[64], *sl;
	uint32_t net[4];
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)net;
	int plen, i;

	snprintf(buf, sizeof(buf), "%s", pfx);
	sl = strchr(buf, '/');
	*sl = 0;
	plen = atoi(sl + 1);
	addr_parse(v6, buf, net);
	for (i = 0; i < plen; i++)
		if (((x[i / 8] ^ y[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

static int sa_endpoint(const struct pinfo *p, const uint32_t *a)
{
	size_t i;
	uint32_t x[4];

	for (i = 0; i < NSA; i++) {
		if (sas[i].v6 != p->v6)
			continue;
		addr_parse(p->v6, sas[i].src, x);
		if (!memcmp(x, a, 16))
			return 1;
		addr_parse(p->v6, sas[i].dst, x);
		if (!memcmp(x, a, 16))
			return 1;
	}
	return 0;
}

/* The policy for p: its index, -1 none, -2 not known (a later fragment
 * under a port-specific selector, or UDP 500/4500 between IKE peers,
 * which bypasses policy). */
static int pol_for(const struct pinfo *p)
{
	size_t i;

	if (p->proto == 17 && (!p->ports ||
			       p->sport == 500 || p->sport == 4500 || p->dport == 500 ||
			       p->dport == 4500) &&
	    sa_endpoint(p, p->src) && sa_endpoint(p, p->dst))
		return -2;
	for (i = 0; i < NPOL; i++) {
		const struct pol_def *d = &pols[i];

		if (d->v6 != p->v6 || !prefix_has(d->v6, d->src, p->src) ||
		    !prefix_has(d->v6, d->dst, p->dst))
			continue;
		if (d->proto) {
			if (p->later)
				return -2;
			if (p->proto != d->proto || !p->ports || p->dport != d->dport)
				continue;
		}
		return (int)i;
	}
	return -1;
}

/* ---- running ---- */

struct run {
	int err;
	uint32_t verdict;
	uint8_t out[OUT_MAX];
	uint32_t out_len;
	struct counted c;
};

static void run_prog(int tc, const struct frame *f, struct run *r, const char *what)
{
	struct __sk_buff ctx;
	struct xdp_md xctx, xout;
	struct counts before, after;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = f->len,
		    .data_out = r->out, .data_size_out = sizeof(r->out));

	memset(&ctx, 0, sizeof(ctx));
	memset(&xctx, 0, sizeof(xctx));
	if (tc) {
		ctx.ifindex = (uint32_t)ifindex;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	} else {
		xctx.data_end = f->len;
		xctx.ingress_ifindex = (uint32_t)ifindex;
		opts.ctx_in = &xctx;
		opts.ctx_size_in = sizeof(xctx);
		/* the frame comes back behind its metadata (rx_mark.h): where it starts */
		memset(&xout, 0, sizeof(xout));
		opts.ctx_out = &xout;
		opts.ctx_size_out = sizeof(xout);
	}
	counts_read(&before);
	r->err = bpf_prog_test_run_opts(tc ? tc_fd : xdp_fd, &opts) ? errno : 0;
	counts_read(&after);
	r->verdict = opts.retval;
	r->out_len = opts.data_size_out;
	if (!tc && !r->err && xout.data && xout.data <= r->out_len) {
		/* the metadata word is checked, then dropped from the frame: only
		 * an accepted, decrypted IPv6 packet may carry ESPX_RX_META */
		uint32_t meta = 0;

		if (xout.data == sizeof(meta))
			memcpy(&meta, r->out, sizeof(meta));
		if (meta != ESPX_RX_META || r->verdict != XDP_PASS)
			violation("metadata", "%s: %u bytes of metadata (0x%08x) with verdict %u",
				  what, xout.data, meta, r->verdict);
		r->out_len -= xout.data;
		memmove(r->out, r->out + xout.data, r->out_len);
	}
	if (r->err) {	/* refused by BPF_PROG_TEST_RUN (too short): nothing ran */
		r->c = counts_check(&before, &after, tc ? ESPX_DIR_OUT : ESPX_DIR_IN, 0, f->len, what);
		if (r->c.reason >= 0 || r->c.sa >= 0)
			violation("counters", "%s: counted although the run was refused (%s)", what,
				  strerror(r->err));
		return;
	}
	if (tc ? r->verdict != TC_ACT_OK && r->verdict != TC_ACT_SHOT &&
		 r->verdict != TC_ACT_REDIRECT
	       : r->verdict != XDP_PASS && r->verdict != XDP_DROP)
		violation("verdict", "%s: %s returned %u", what, tc ? "espx_tc_tx" : "espx_xdp_rx",
			  r->verdict);
	r->c = counts_check(&before, &after, tc ? ESPX_DIR_OUT : ESPX_DIR_IN,
			    tc ? r->verdict == TC_ACT_SHOT : r->verdict == XDP_DROP, f->len, what);
	sum_runs[tc]++;
	if (r->c.reason > 0)
		sum_reason[tc][r->c.reason]++;
	if (show_reason && r->c.reason == show_reason) {
		uint32_t i;

		fprintf(stderr, "SHOW %s %s (%s) %u bytes:", what, espx_drop_name((unsigned)show_reason),
			tc ? "out" : "in", f->len);
		for (i = 0; i < f->len; i++)
			fprintf(stderr, " %02x", f->b[i]);
		fprintf(stderr, "\n");
	}
}

static int changed(const struct frame *f, const struct run *r)
{
	return r->out_len != f->len || memcmp(r->out, f->b, f->len);
}

/* Mutations: 4 bytes each (op, offset, value). region: where op 4 aims
 * (the ESP part, or the L4 part of plaintext). */
static void mutate(struct frame *f, const uint8_t *m, size_t n, uint32_t region,
		   uint32_t region_len)
{
	uint32_t off, k;

	for (; n >= 4; m += 4, n -= 4) {
		off = (uint32_t)m[1] << 8 | m[2];
		switch (m[0] % 6) {
		case 0:
			if (f->len)
				f->b[off % f->len] ^= m[3];
			break;
		case 1:
			if (f->len)
				f->b[off % f->len] = m[3];
			break;
		case 2:
			f->len = off % (f->len + 1);
			break;
		case 3:
			for (k = 0; k < m[3] % 64u && f->len < FRAME_MAX; k++)
				f->b[f->len++] = m[3];
			break;
		case 4:
			if (region_len && region + region_len <= f->len)
				f->b[region + off % region_len] ^= m[3] ? m[3] : 0x80;
			break;
		case 5:
			if (f->len < FRAME_MAX && f->len) {
				off %= f->len;
				memmove(f->b + off + 1, f->b + off, f->len - off);
				f->b[off] = m[3];
				f->len++;
			}
			break;
		}
	}
}

/* A VLAN tag after the MAC addresses (receive parses one). */
static void add_vlan(struct frame *f)
{
	if (f->len < 12 || f->len + 4 > FRAME_MAX)
		return;
	memmove(f->b + 16, f->b + 12, f->len - 12);
	memcpy(f->b + 12, "\x81\x00\x00\x0a", 4);
	f->len += 4;
}

/* The plaintext check on receive: p passed unchanged. */
static void check_plain_in(const struct frame *f, const struct run *r, const char *what)
{
	struct pinfo p;
	int i;

	if (r->err || r->verdict != XDP_PASS || changed(f, r))
		return;
	pparse(f->b, f->len, &p);
	if (!p.ok || p.esp_off || p.proto == 50)
		return;		/* not plaintext as receive judges it */
	i = pol_for(&p);
	if (i < 0 || pols[i].in_act == NONE_ || pols[i].in_act == ALLOW)
		return;
	violation("plaintext-in", "%s: plaintext passed under the in policy %s -> %s (%s)", what,
		  pols[i].src, pols[i].dst, pols[i].in_act == BLOCK ? "block" : "protect");
}

/* The plaintext check on transmit. */
static void check_plain_out(const struct frame *f, const struct run *r, const char *what)
{
	struct pinfo p;
	int i;

	if (r->err || r->verdict == TC_ACT_SHOT || changed(f, r))
		return;
	pparse(f->b, f->len, &p);
	if (!p.ok)
		return;
	i = pol_for(&p);
	if (i < 0 || pols[i].out_act == ALLOW)
		return;
	violation("plaintext-out", "%s: left unchanged (verdict %u) under the out policy %s -> %s "
		  "(%s)", what, r->verdict, pols[i].src, pols[i].dst,
		  pols[i].out_act == BLOCK ? "block" : "protect");
}

/* A decrypted frame: which SA, and would XFRM's inbound check let its
 * inner packet in? */
static void check_inbound(const struct run *r, int sa, const char *what)
{
	struct pinfo p;
	int i, ok;

	pparse(r->out, r->out_len, &p);
	if (!p.ok)
		violation("inbound", "%s: decrypted into a frame that is not a whole IP packet", what);
	i = pol_for(&p);
	if (i == -2)
		return;
	if (i < 0 || pols[i].in_act == NONE_)
		ok = !sas[sa].tunnel;		/* no policy: transport only */
	else if (pols[i].in_act == BLOCK)
		ok = 0;
	else if (pols[i].in_act == ALLOW)
		ok = !sas[sa].tunnel;
	else
		ok = pols[i].in_sa == sa;
	if (!ok)
		violation("inbound", "%s: decrypted by SA 0x%x and passed, but its in policy (%s) "
			  "does not let it in", what, sas[sa].spi, i < 0 ? "none" : pols[i].dst);
}

/* Receive: the frame f, known (valid != NULL) to be a mutation of the
 * valid ESP frame valid, which decrypts into plain (+ its SA). */
static int rx_one(const struct frame *f, const struct frame *valid, const struct frame *plain,
		  int sa, unsigned mode, unsigned kind, const char *what)
{
	static struct run r;
	int dec;

	run_prog(0, f, &r, what);
	if (r.err) {
		outcome(mode, kind, 63, 0);
		return 0;
	}
	dec = r.verdict == XDP_PASS && changed(f, &r);
	outcome(mode, kind, r.c.reason < 0 ? 0 : (unsigned)r.c.reason, dec ? 1 : 2 + r.verdict % 2);
	sum_decrypted += dec;
	if (dec && r.c.sa < 0)
		violation("counters", "%s: decrypted, no SA counted it", what);
	if (!dec && r.verdict == XDP_PASS && r.c.sa >= 0)
		violation("counters", "%s: SA 0x%x counted a frame passed unchanged", what,
			  sas[r.c.sa].spi);
	if (!dec) {
		check_plain_in(f, &r, what);
		return 0;
	}
	if (valid) {
		struct pinfo p;

		/* the genuine ESP bytes, SPI to ICV, must all be there (a
		 * mutation may move them: a tag, IPv4 options inserted) */
		pparse(valid->b, valid->len, &p);
		if (!memmem(f->b, f->len, valid->b + p.esp_off, p.esp_end - p.esp_off))
			violation("auth", "%s: a frame whose ESP bytes were changed decrypted "
				  "(SA 0x%x)", what, sas[r.c.sa].spi);
		if (r.c.sa != sa)
			violation("auth", "%s: decrypted by SA 0x%x, sealed by 0x%x", what,
				  sas[r.c.sa].spi, sas[sa].spi);
		/* headers and ESP untouched (a mutation beyond the IP packet
		 * at most): exactly the plaintext that was sealed comes out */
		if (f->len >= p.esp_end && !memcmp(f->b, valid->b, p.esp_end) &&
		    (r.out_len != plain->len || memcmp(r.out, plain->b, plain->len)))
			violation("roundtrip", "%s: decrypted into %u bytes that are not the %u "
				  "sealed", what, r.out_len, plain->len);
	}
	check_inbound(&r, r.c.sa, what);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame f, plain, valid;
	static struct run r;
	unsigned mode, kind, flags;
	const struct seed *s;
	char what[96];
	struct pinfo p;

	cur_data = data;
	cur_size = size;
	if (size < 1)
		return 0;
	mode = data[0] % 5;
	if (mode <= 1) {	/* a raw frame */
		memset(&f, 0, sizeof(f));
		f.len = (uint32_t)(size - 1 > FRAME_MAX ? FRAME_MAX : size - 1);
		memcpy(f.b, data + 1, f.len);
		snprintf(what, sizeof(what), "raw frame to %s", mode ? "TC" : "XDP");
		if (mode == 0) {
			rx_one(&f, NULL, NULL, -1, mode, 0, what);
		} else {
			run_prog(1, &f, &r, what);
			outcome(mode, 0, r.c.reason < 0 ? 0 : (unsigned)r.c.reason,
				r.err ? 3 : r.verdict % 4);
			check_plain_out(&f, &r, what);
		}
		return 0;
	}
	if (size < 3)
		return 0;
	kind = data[1] % NSEED;
	flags = data[2];
	s = &seeds[kind];
	build_seed(&plain, s);
	data += 3;
	size -= 3;
	if (mode == 3 || mode == 4 || s->sa < 0) {	/* plaintext, mutated */
		f = plain;
		pparse(f.b, f.len, &p);
		if (flags & 1)
			add_vlan(&f);
		mutate(&f, data, size, p.l4, p.ok ? p.esp_end - p.l4 : 0);
		snprintf(what, sizeof(what), "plaintext %s to %s", s->name, mode == 4 ? "XDP" : "TC");
		if (mode == 4) {
			rx_one(&f, NULL, NULL, -1, mode, kind, what);
		} else {
			if (f.len < ETH)
				return 0;
			run_prog(1, &f, &r, what);
			outcome(mode, kind, r.c.reason < 0 ? 0 : (unsigned)r.c.reason,
				r.err ? 3 : r.verdict % 4);
			check_plain_out(&f, &r, what);
		}
		return 0;
	}
	/* mode 2: authentic ESP from espx_tc_tx */
	snprintf(what, sizeof(what), "seed %s through espx_tc_tx", s->name);
	run_prog(1, &plain, &r, what);
	if (r.err || r.verdict != TC_ACT_OK || !changed(&plain, &r)) {
		if (!r.err && r.verdict == TC_ACT_SHOT && r.c.reason == ESPX_DROP_CSUM_COLLISION)
			return 0;	/* 1 in 65536: the sender retries with a new number */
		violation("seed", "%s: verdict %u (%s), err %d: not encrypted", what, r.verdict,
			  r.c.reason < 0 ? "not counted" : espx_drop_name((unsigned)r.c.reason),
			  r.err);
	}
	if (r.c.sa != s->sa)
		violation("seed", "%s: counted by SA %d, its policy names SA %d", what, r.c.sa,
			  s->sa);
	if (r.out_len > FRAME_MAX)
		violation("seed", "%s: %u bytes out", what, r.out_len);
	memset(&valid, 0, sizeof(valid));
	memcpy(valid.b, r.out, r.out_len);
	valid.len = r.out_len;
	pparse(valid.b, valid.len, &p);
	if (!p.ok || !p.esp_off)
		violation("seed", "%s: the output is not ESP", what);
	f = valid;
	if (flags & 1) {
		add_vlan(&f);
		add_vlan(&valid);
		add_vlan(&plain);
		pparse(valid.b, valid.len, &p);
	}
	mutate(&f, data, size, p.esp_off, p.esp_end - p.esp_off);
	snprintf(what, sizeof(what), "ESP of %s%s, mutated", s->name, flags & 1 ? " tagged" : "");
	if (rx_one(&f, &valid, &plain, s->sa, mode, kind, what) && (flags & 2)) {
		snprintf(what, sizeof(what), "ESP of %s%s, again", s->name,
			 flags & 1 ? " tagged" : "");
		if (rx_one(&f, &valid, &plain, s->sa, mode, kind, what))
			violation("replay", "%s: the same ESP frame decrypted twice", what);
	}
	return 0;
}
