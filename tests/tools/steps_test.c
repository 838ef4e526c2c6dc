// SPDX-License-Identifier: GPL-2.0
/* Fixture tables for the datapath's steps, run through BPF_PROG_TEST_RUN on
 * the test programs of bpf/espx_steps_test.bpf.c (the production steps of
 * bpf/lib/, this object's own maps). Each fixture: a packet in, the maps it
 * needs, and what must come out: the verdict, the step result (counters.h:
 * 0 go on, STEP_PASS(reason), -ESPX_DROP_x), the step that gave it, and
 * where it matters the packet out. Prints PLAN, then PASS/FAIL per fixture.
 *   steps_test [DEV]   DEV: a device whose MTU the "too big" fixtures
 *                      exceed (1400; tests/test_bpf_steps.sh makes it)
 * Exit 0 if all passed; 2 (with a SKIP line) if BPF_PROG_TEST_RUN itself
 * is unavailable. */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx_steps_test.skel.h"
#include "../../bpf/espx_steps_test.h"
#include "espx_drop.h"
#include "espx_policy.h"

#define STEP_PASS(r)	(0x100 | (r))
#define STEP_REDIRECT	0x200
#define DROP(x)		(-ESPX_DROP_##x)
#define MTU		1400
#define ICV		16

static struct espx_steps_test *skel;
static int failed, dev_ifindex;

/* ---- packets ---- */

struct pkt {
	uint8_t b[2048];
	uint32_t len;
	uint32_t l3;		/* IP header */
	uint32_t l4;		/* upper-layer header */
};

static uint32_t a4(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static void a6(const char *s, uint32_t *a)
{
	inet_pton(AF_INET6, s, a);
}

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t s)
{
	uint32_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* What a fixture's packet is. */
struct spec {
	int v6;				/* 0: IPv4 */
	const char *src, *dst;
	uint8_t proto;			/* 6, 17, 1, 50 */
	uint16_t sport, dport;		/* also ICMP type/code */
	uint32_t payload;		/* bytes after the L4 header */
	uint16_t frag;			/* IPv4: frag_off (host order); IPv6: a fragment header
					 * with (offset << 3 | M), if FRAG6 is set */
	uint32_t frag_id;
	int df, ihl, version, len_delta, trunc;
	const uint8_t *ext;		/* IPv6 extension headers before L4, 0-ended (0 = hop-by-hop
					 * is written as 255 here) */
	uint32_t spi, seq;		/* proto 50, or UDP 4500 with natt */
	int natt;			/* UDP 4500 carrying ESP */
	int eth_type;			/* a non-IP Ethernet type */
};
#define FRAG6	0x8000

static void build(struct pkt *p, const struct spec *s)
{
	uint8_t *b = p->b, *ip, *l4;
	uint32_t l4len, hl, i, off, o;
	uint16_t v;

	memset(p, 0, sizeof(*p));
	memcpy(b, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	if (s->eth_type) {
		b[12] = s->eth_type >> 8;
		b[13] = s->eth_type & 0xff;
		p->len = 60;
		return;
	}
	b[12] = s->v6 ? 0x86 : 0x08;
	b[13] = s->v6 ? 0xdd : 0x00;
	ip = b + 14;
	p->l3 = 14;
	if (s->proto == 6)
		hl = 20;
	else if (s->proto == 17)
		hl = 8;
	else if (s->proto == 1 || s->proto == 58)
		hl = 8;
	else
		hl = 16;	/* ESP header */
	if (s->proto == 17 && s->natt)
		hl = 8 + 16;
	l4len = hl + s->payload;
	if (!s->v6) {
		ip[0] = (uint8_t)((s->version ? s->version : 4) << 4 | (s->ihl ? s->ihl : 5));
		v = htons((uint16_t)(20 + l4len + s->len_delta));
		memcpy(ip + 2, &v, 2);
		v = htons((uint16_t)s->frag_id);
		memcpy(ip + 4, &v, 2);
		v = htons((uint16_t)(s->frag | (s->df ? 0x4000 : 0)));
		memcpy(ip + 6, &v, 2);
		ip[8] = 64;
		ip[9] = s->proto;
		*(uint32_t *)(ip + 12) = a4(s->src);
		*(uint32_t *)(ip + 16) = a4(s->dst);
		v = htons(fold(sum16(ip, 20, 0)));
		memcpy(ip + 10, &v, 2);
		off = 34;
	} else {
		uint8_t *nhp = ip + 6, t;

		ip[0] = (uint8_t)((s->version ? s->version : 6) << 4);
		ip[7] = 64;
		a6(s->src, (uint32_t *)(ip + 8));
		a6(s->dst, (uint32_t *)(ip + 24));
		off = 54;
		for (i = 0; s->ext && s->ext[i]; i++) {
			t = s->ext[i] == 255 ? 0 : s->ext[i];
			*nhp = t;
			nhp = b + off;
			b[off + 1] = 0;		/* 8 bytes */
			off += 8;
		}
		if (s->frag & FRAG6) {
			*nhp = 44;
			nhp = b + off;
			v = htons((uint16_t)(s->frag & 0x7fff));
			memcpy(b + off + 2, &v, 2);
			o = htonl(s->frag_id);
			memcpy(b + off + 4, &o, 4);
			off += 8;
		}
		*nhp = s->proto;
		v = htons((uint16_t)(off - 54 + l4len + s->len_delta));
		memcpy(ip + 4, &v, 2);
	}
	p->l4 = off;
	l4 = b + off;
	for (i = 0; i < s->payload; i++)
		l4[hl + i] = (uint8_t)(i * 7 + 1);
	if (s->proto == 6 || s->proto == 17) {
		v = htons(s->sport);
		memcpy(l4, &v, 2);
		v = htons(s->dport);
		memcpy(l4 + 2, &v, 2);
	}
	if (s->proto == 6)
		l4[12] = 5 << 4;
	if (s->proto == 17) {
		v = htons((uint16_t)l4len);
		memcpy(l4 + 4, &v, 2);
	}
	if (s->proto == 1 || s->proto == 58) {
		l4[0] = (uint8_t)s->sport;
		l4[1] = (uint8_t)s->dport;
	}
	if (s->proto == 50 || s->natt) {
		uint8_t *esp = l4 + (s->natt ? 8 : 0);

		o = htonl(s->spi);
		memcpy(esp, &o, 4);
		o = htonl(s->seq);
		memcpy(esp + 4, &o, 4);
	}
	/* a complete TCP/UDP checksum: tx_l4_csum must leave it as it is */
	if ((s->proto == 6 || s->proto == 17) && !s->natt && !(s->frag & 0x1fff)) {
		uint32_t ps = 0, n = s->v6 ? 16 : 4;
		uint8_t *sa = s->v6 ? b + 22 : b + 26, *da = s->v6 ? b + 38 : b + 30;
		uint16_t c;

		ps = sum16(sa, n, ps);
		ps = sum16(da, n, ps);
		ps += s->proto + l4len;
		c = fold(sum16(l4, l4len, ps));
		if (s->proto == 17 && c == 0)
			c = 0xffff;
		v = htons(c);
		memcpy(l4 + (s->proto == 6 ? 16 : 6), &v, 2);
	}
	p->len = off + l4len;
	if (s->trunc)
		p->len = (uint32_t)s->trunc;
}

/* ---- maps ---- */

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void clear_map(struct bpf_map *m, size_t ksz)
{
	uint8_t key[256], next[256];
	int fd = fd_of(m);

	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, ksz);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

/* espx_config written as user space writes it: every change to the policy
 * tables is a new generation (the datapath caches verdicts per generation,
 * bpf/lib/verdict_cache.h). Half 0 stays the live one. */
static void cfg_commit(struct espx_config *cfg)
{
	static uint32_t gen;
	uint32_t zero = 0;

	gen += 2;
	cfg->active = gen;
	bpf_map_update_elem(fd_of(skel->maps.espx_config), &zero, cfg, BPF_ANY);
}

static void reset_maps(void)
{
	struct espx_config cfg = { 0 };

	clear_map(skel->maps.espx_sa, sizeof(struct espx_sa_key));
	clear_map(skel->maps.espx_policy_hash, sizeof(struct espx_pol_hash_key));
	clear_map(skel->maps.espx_ike, sizeof(struct espx_ike_key));
	clear_map(skel->maps.espx_seg, sizeof(uint32_t));
	clear_map(skel->maps.espx_frag, 64);
	cfg_commit(&cfg);
}

static void addr_of(const char *s, int v6, uint32_t *a)
{
	memset(a, 0, 16);
	if (v6)
		a6(s, a);
	else
		a[0] = a4(s);
}

/* An SA, usable (READY) unless flags say otherwise; no crypto context:
 * these fixtures stop before the encryption. */
struct sa_spec {
	int v6;
	const char *src, *dst;		/* outer addresses */
	uint32_t spi;
	int tunnel;
	uint32_t flags;
	uint16_t sport, dport;		/* NAT-T */
	uint16_t window;
	uint64_t seq, oseq;
	int not_ready;
};

static struct espx_sa_key sa_add(const struct sa_spec *s)
{
	struct espx_sa *sa = calloc(1, sizeof(*sa));
	struct espx_sa_key k = { 0 };

	addr_of(s->dst, s->v6, k.daddr);
	k.spi = htonl(s->spi);
	k.family = s->v6 ? AF_INET6 : AF_INET;
	sa->flags = s->flags | (s->not_ready ? 0 : ESPX_SA_F_READY);
	sa->key_len = 16;
	sa->icv_len = ICV;
	sa->mode = s->tunnel ? ESPX_MODE_TUNNEL : ESPX_MODE_TRANSPORT;
	sa->family = k.family;
	sa->replay_window = s->window;
	sa->encap_sport = htons(s->sport);
	sa->encap_dport = htons(s->dport);
	addr_of(s->src, s->v6, sa->saddr);
	addr_of(s->dst, s->v6, sa->daddr);
	sa->lft.soft_bytes = sa->lft.hard_bytes = ESPX_INF;
	sa->lft.soft_packets = sa->lft.hard_packets = ESPX_INF;
	sa->seq = s->seq;
	sa->oseq = s->oseq;
	if (bpf_map_update_elem(fd_of(skel->maps.espx_sa), &k, sa, BPF_ANY))
		fprintf(stderr, "adding SA %s: %s\n", s->dst, strerror(errno));
	free(sa);
	return k;
}

enum pol_kind { POL_NONE, POL_ALLOW, POL_BLOCK, POL_TMPL, POL_TMPL_OPT };

/* A host-to-host policy (src, dst, any protocol), hashed, of direction dir; with a
 * template, resolved to the SA sa (spi 0: none resolved). */
static void pol_add(int dir, int v6, const char *src, const char *dst, enum pol_kind kind,
		    const struct espx_sa_key *sa)
{
	struct espx_pol_hash_key k = { 0 };
	struct espx_policy p = { 0 };
	struct espx_config cfg;
	uint32_t zero = 0, c, fam = !!v6;

	if (kind == POL_NONE)
		return;
	addr_of(src, v6, k.saddr);
	addr_of(dst, v6, k.daddr);
	k.family = v6 ? AF_INET6 : AF_INET;
	k.dir = (uint8_t)dir;
	k.prefixlen_s = k.prefixlen_d = v6 ? 128 : 32;
	p.sel.family = k.family;
	p.sel.prefixlen_s = p.sel.prefixlen_d = v6 ? 128 : 32;
	memcpy(p.sel.saddr, k.saddr, 16);
	memcpy(p.sel.daddr, k.daddr, 16);
	p.dir = (uint8_t)dir;
	p.index = 8;
	p.action = kind == POL_BLOCK ? ESPX_POL_BLOCK : ESPX_POL_ALLOW;
	p.flags = ESPX_POL_F_HASH;
	if (kind == POL_TMPL || kind == POL_TMPL_OPT) {
		p.flags |= ESPX_POL_F_TMPL;
		p.tmpl.optional = kind == POL_TMPL_OPT;
		if (sa)
			p.sa = *sa;
	}
	bpf_map_update_elem(fd_of(skel->maps.espx_policy_hash), &k, &p, BPF_ANY);
	bpf_map_lookup_elem(fd_of(skel->maps.espx_config), &zero, &cfg);
	cfg.nhash[0][dir]++;
	for (c = 0; c < cfg.ncls[0][dir][fam]; c++)	/* its class: host to host */
		if (cfg.cls[0][dir][fam][c].prefixlen_d == k.prefixlen_d)
			break;
	if (c == cfg.ncls[0][dir][fam]) {
		cfg.cls[0][dir][fam][c].prefixlen_d = k.prefixlen_d;
		cfg.cls[0][dir][fam][c].prefixlen_s = k.prefixlen_s;
		memset(cfg.cls[0][dir][fam][c].dmask, 0xff, v6 ? 16 : 4);
		memset(cfg.cls[0][dir][fam][c].smask, 0xff, v6 ? 16 : 4);
		cfg.ncls[0][dir][fam]++;
	}
	cfg_commit(&cfg);
}

static void ike_add(int v6, const char *local, const char *remote)
{
	struct espx_ike_key k = { 0 };
	uint32_t one = 1;

	addr_of(local, v6, k.local);
	addr_of(remote, v6, k.remote);
	k.family = v6 ? AF_INET6 : AF_INET;
	bpf_map_update_elem(fd_of(skel->maps.espx_ike), &k, &one, BPF_ANY);
}

/* ---- running ---- */

struct run {
	int err;			/* test_run's own errno */
	uint32_t retval;
	struct espx_step_out o;
	struct pkt out;
};

static void run_prog(struct bpf_program *prog, const struct pkt *in, struct run *r,
		     uint32_t gso_segs)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)dev_ifindex, .gso_segs = gso_segs };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->b, .data_size_in = in->len,
		    .data_out = r->out.b, .data_size_out = sizeof(r->out.b));
	uint32_t zero = 0;
	int tc = bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS;

	memset(r, 0, sizeof(*r));
	if (tc && (dev_ifindex || gso_segs)) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		r->err = errno;
	r->retval = opts.retval;
	r->out.len = opts.data_size_out;
	bpf_map_lookup_elem(fd_of(skel->maps.espx_step_out), &zero, &r->o);
}

static char why[512];

static int bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return 1;
}

static void result(const char *name, int fail)
{
	if (fail) {
		printf("FAIL %s: %s\n", name, why);
		failed = 1;
	} else {
		printf("PASS %s\n", name);
	}
}

static const char *res_name(int r)
{
	static char bufs[2][64];
	static int n;
	char *buf = bufs[n++ & 1];	/* two in one message */

	if (r < 0)
		snprintf(buf, sizeof(bufs[0]), "drop %s", espx_drop_name((unsigned)-r));
	else if (r == 0)
		snprintf(buf, sizeof(bufs[0]), "go on");
	else if (r == STEP_REDIRECT)
		snprintf(buf, sizeof(bufs[0]), "redirect");
	else if (r & 0x100)
		snprintf(buf, sizeof(bufs[0]), "pass %s", espx_drop_name((unsigned)r & 0xff));
	else
		snprintf(buf, sizeof(bufs[0]), "%d", r);
	return buf;
}

/* the run ended with result want in step step, verdict verdict */
static int expect(const struct run *r, int want, uint32_t step, uint32_t verdict)
{
	if (r->err)
		return bad("BPF_PROG_TEST_RUN: %s", strerror(r->err));
	if (r->o.ret != want)
		return bad("result %s, want %s", res_name(r->o.ret), res_name(want));
	if (step && r->o.step != step)
		return bad("ended in step %u, want %u", r->o.step, step);
	if (r->retval != verdict)
		return bad("verdict %u, want %u", r->retval, verdict);
	return 0;
}

/* ---- parse.h ---- */

static const uint8_t ext_hop_dst[] = { 255, 60, 0 };
static const uint8_t ext_seven[] = { 255, 60, 60, 60, 60, 60, 60, 0 };
static const uint8_t ext_routing[] = { 43, 0 };

struct parse_fx {
	const char *name;
	struct spec s;
	int ret;			/* 0 parsed, -1 not */
	uint8_t proto, frag, later, ext, ext_bad, noports;
	uint32_t l4_off;
	uint16_t sport, dport;
};

static const struct parse_fx parse_fx[] = {
	{ "parse-v4-udp", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17, .sport = 1000,
	  .dport = 53, .payload = 20 },
	  .ret = 0, .proto = 17, .l4_off = 34, .sport = 1000, .dport = 53 },
	{ "parse-v4-icmp-type-code", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 1,
	  .sport = 8, .dport = 0, .payload = 8 },
	  .ret = 0, .proto = 1, .l4_off = 34, .sport = 8, .dport = 0 },
	{ "parse-v4-ihl-too-small", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
	  .ihl = 4, .payload = 8 }, .ret = -1 },
	{ "parse-v4-wrong-version", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
	  .version = 6, .payload = 8 }, .ret = -1 },
	{ "parse-v4-tot-len-below-header", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
	  .len_delta = -20, .payload = 0 }, .ret = -1 },
	{ "parse-v4-truncated-header", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
	  .payload = 8, .trunc = 30 }, .ret = -1 },
	{ "parse-v4-ports-cut-off", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 6,
	  .payload = 8, .trunc = 36 },
	  .ret = 0, .proto = 6, .noports = 1, .l4_off = 34 },
	{ "parse-v4-first-fragment", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
	  .sport = 1, .dport = 2, .frag = 0x2000, .payload = 8 },
	  .ret = 0, .proto = 17, .frag = 1, .l4_off = 34, .sport = 1, .dport = 2 },
	{ "parse-v4-later-fragment", { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
	  .frag = 10, .payload = 8 },
	  .ret = 0, .proto = 17, .frag = 1, .later = 1, .noports = 1, .l4_off = 34 },
	{ "parse-not-ip", { .eth_type = 0x0806 }, .ret = -1 },
	{ "parse-v6-tcp", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 6, .sport = 22,
	  .dport = 40000, .payload = 4 },
	  .ret = 0, .proto = 6, .l4_off = 54, .sport = 22, .dport = 40000 },
	{ "parse-v6-truncated-header", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 6,
	  .payload = 4, .trunc = 50 }, .ret = -1 },
	{ "parse-v6-ext-hop-dst", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 17,
	  .sport = 7, .dport = 9, .payload = 4, .ext = ext_hop_dst },
	  .ret = 0, .proto = 17, .ext = 1, .l4_off = 70, .sport = 7, .dport = 9 },
	{ "parse-v6-ext-routing-then-fragment", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2",
	  .proto = 17, .sport = 7, .dport = 9, .payload = 4, .ext = ext_routing,
	  .frag = FRAG6 | 1, .frag_id = 5 },
	  .ret = 0, .proto = 17, .frag = 1, .ext = 1, .l4_off = 70, .sport = 7, .dport = 9 },
	{ "parse-v6-later-fragment", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 17,
	  .payload = 4, .frag = FRAG6 | (100 << 3), .frag_id = 5 },
	  .ret = 0, .proto = 17, .frag = 1, .later = 1, .ext = 1, .noports = 1, .l4_off = 62 },
	{ "parse-v6-too-many-ext", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 17,
	  .payload = 4, .ext = ext_seven },
	  .ret = 0, .proto = 60, .ext = 1, .ext_bad = 1, .noports = 1 },
	{ "parse-v6-ext-cut-off", { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 17,
	  .payload = 4, .ext = ext_hop_dst, .trunc = 66 },
	  .ret = 0, .proto = 60, .ext = 1, .ext_bad = 1, .noports = 1 },
};

static int check_parse(const struct parse_fx *f)
{
	struct pkt p;
	struct run r;

	build(&p, &f->s);
	run_prog(skel->progs.t_parse, &p, &r, 0);
	if (r.err)
		return bad("BPF_PROG_TEST_RUN: %s", strerror(r.err));
	if (r.o.ret != f->ret)
		return bad("parse returned %d, want %d", r.o.ret, f->ret);
	if (f->ret)
		return 0;
	if (r.o.proto != f->proto || r.o.frag != f->frag || r.o.later != f->later ||
	    r.o.ext != f->ext || r.o.ext_bad != f->ext_bad || r.o.noports != f->noports)
		return bad("proto %u frag %u later %u ext %u ext_bad %u noports %u, want %u %u %u %u %u %u",
			   r.o.proto, r.o.frag, r.o.later, r.o.ext, r.o.ext_bad, r.o.noports,
			   f->proto, f->frag, f->later, f->ext, f->ext_bad, f->noports);
	if (f->l4_off && r.o.l4_off != f->l4_off)
		return bad("upper layer at %u, want %u", r.o.l4_off, f->l4_off);
	if (!f->noports && (ntohs(r.o.sport) != f->sport || ntohs(r.o.dport) != f->dport))
		return bad("ports %u/%u, want %u/%u", ntohs(r.o.sport), ntohs(r.o.dport),
			   f->sport, f->dport);
	if (r.o.len != p.len - 14 - (f->s.trunc ? p.len - (uint32_t)f->s.trunc : 0) &&
	    !f->s.trunc)
		return bad("IP length %u, want %u", r.o.len, p.len - 14);
	return 0;
}

/* ---- selector.h ---- */

struct sel_fx {
	const char *name;
	struct spec s;
	const char *sd, *ss;		/* selector addresses */
	uint8_t pd, ps, proto;
	uint16_t dport, dmask, sport, smask;
	int match;
};

static const struct sel_fx sel_fx[] = {
	{ "selector-v4-subnets", { .src = "10.1.2.3", .dst = "10.9.8.7", .proto = 6, .sport = 5,
	  .dport = 80, .payload = 4 }, "10.9.0.0", "10.1.2.0", 16, 24, 0, 0, 0, 0, 0, 1 },
	{ "selector-v4-dst-outside", { .src = "10.1.2.3", .dst = "10.10.8.7", .proto = 6,
	  .payload = 4 }, "10.9.0.0", "10.1.2.0", 16, 24, 0, 0, 0, 0, 0, 0 },
	{ "selector-v4-proto-port", { .src = "10.1.2.3", .dst = "10.9.8.7", .proto = 6, .sport = 5,
	  .dport = 443, .payload = 4 }, "10.9.8.7", "0.0.0.0", 32, 0, 6, 443, 0xffff, 0, 0, 1 },
	{ "selector-v4-other-port", { .src = "10.1.2.3", .dst = "10.9.8.7", .proto = 6, .sport = 5,
	  .dport = 80, .payload = 4 }, "10.9.8.7", "0.0.0.0", 32, 0, 6, 443, 0xffff, 0, 0, 0 },
	{ "selector-v4-other-proto", { .src = "10.1.2.3", .dst = "10.9.8.7", .proto = 17,
	  .dport = 443, .payload = 4 }, "10.9.8.7", "0.0.0.0", 32, 0, 6, 0, 0, 0, 0, 0 },
	{ "selector-v4-icmp-type", { .src = "10.1.2.3", .dst = "10.9.8.7", .proto = 1, .sport = 8,
	  .payload = 4 }, "0.0.0.0", "0.0.0.0", 0, 0, 1, 0, 0, 8, 0xffff, 1 },
	{ "selector-v6-prefix", { .v6 = 1, .src = "fd00:1::5", .dst = "fd00:2::9", .proto = 17,
	  .payload = 4 }, "fd00:2::", "fd00:1::", 64, 48, 0, 0, 0, 0, 0, 1 },
	{ "selector-v6-prefix-odd-bits", { .v6 = 1, .src = "fd00:1::5", .dst = "fd00:2:8000::9",
	  .proto = 17, .payload = 4 }, "fd00:2::", "::", 33, 0, 0, 0, 0, 0, 0, 0 },
};

static int check_sel(const struct sel_fx *f)
{
	struct espx_step_in in = { 0 };
	uint32_t zero = 0;
	struct pkt p;
	struct run r;

	in.sel.family = f->s.v6 ? AF_INET6 : AF_INET;
	addr_of(f->sd, f->s.v6, in.sel.daddr);
	addr_of(f->ss, f->s.v6, in.sel.saddr);
	in.sel.prefixlen_d = f->pd;
	in.sel.prefixlen_s = f->ps;
	in.sel.proto = f->proto;
	in.sel.dport = htons(f->dport);
	in.sel.dport_mask = htons(f->dmask);
	in.sel.sport = htons(f->sport);
	in.sel.sport_mask = htons(f->smask);
	bpf_map_update_elem(fd_of(skel->maps.espx_step_in), &zero, &in, BPF_ANY);
	build(&p, &f->s);
	run_prog(skel->progs.t_selector, &p, &r, 0);
	if (r.err)
		return bad("BPF_PROG_TEST_RUN: %s", strerror(r.err));
	if (r.o.ret != f->match)
		return bad("match %d, want %d", r.o.ret, f->match);
	return 0;
}

/* ---- replay.h: one SA, numbers in order ---- */

struct replay_fx {
	const char *name;
	uint32_t seq_lo;
	int ret;
	uint64_t seq64;
};

/* window 64, no ESN, nothing seen yet */
static const struct replay_fx replay_fx[] = {
	{ "replay-first", 1, 0, 1 },
	{ "replay-duplicate", 1, DROP(REPLAY), 1 },
	{ "replay-in-order", 2, 0, 2 },
	{ "replay-gap-ahead", 5, 0, 5 },
	{ "replay-late-in-window", 3, 0, 3 },
	{ "replay-late-duplicate", 3, DROP(REPLAY), 3 },
	{ "replay-advance-far", 200, 0, 200 },
	{ "replay-left-edge-kept", 137, 0, 137 },
	{ "replay-too-old", 136, DROP(REPLAY_OLD), 136 },
	{ "replay-zero", 0, DROP(REPLAY_OLD), 0 },
	{ "replay-advance-a-lap", 5 + 4096, 0, 5 + 4096 },
	/* bit 2 was set a lap ago; the slide must have cleared it */
	{ "replay-slide-clears-old-bits", 2 + 4096, 0, 2 + 4096 },
	{ "replay-duplicate-after-slide", 5 + 4096, DROP(REPLAY), 5 + 4096 },
};

/* ESN, window 32, highest accepted 2^32 + 10: numbers just below 2^32
 * belong to the previous block, small ones to this one */
static const struct replay_fx replay_esn_fx[] = {
	{ "replay-esn-previous-block", 0xfffffff0u, 0, 0xfffffff0ull },
	{ "replay-esn-same-block", 0x20, 0, 0x100000020ull },
	{ "replay-esn-duplicate", 0x20, DROP(REPLAY), 0x100000020ull },
};

static int check_replay(const struct replay_fx *f, const struct espx_sa_key *k)
{
	struct espx_step_in in = { 0 };
	uint32_t zero = 0;
	struct pkt p = { .len = 60 };
	struct run r;

	in.sa = *k;
	in.seq_lo = f->seq_lo;
	bpf_map_update_elem(fd_of(skel->maps.espx_step_in), &zero, &in, BPF_ANY);
	run_prog(skel->progs.t_replay, &p, &r, 0);
	if (r.err)
		return bad("BPF_PROG_TEST_RUN: %s", strerror(r.err));
	if (r.o.ret != f->ret)
		return bad("%s, want %s", res_name(r.o.ret), res_name(f->ret));
	if (r.o.seq != f->seq64)
		return bad("inferred %#llx, want %#llx", (unsigned long long)r.o.seq,
			   (unsigned long long)f->seq64);
	if (r.retval != (uint32_t)(f->ret ? TC_ACT_SHOT : TC_ACT_OK))
		return bad("verdict %u", r.retval);
	return 0;
}

/* ---- esp_rx.h: rx_classify, the SA, rx_check ---- */

static const struct spec rx_udp = { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
				    .sport = 1000, .dport = 2000, .payload = 40 };

static const struct sa_spec rx_sa = { .src = "10.0.0.1", .dst = "10.0.0.2", .spi = 0x100,
				      .tunnel = 1, .window = 64 };

static struct spec esp_to(uint32_t spi, uint32_t seq)
{
	struct spec s = { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 50, .spi = spi,
			  .seq = seq, .payload = 64 };
	return s;
}

/* run t_rx on s: result want from step step, counted over count_len
 * (0: the IP length) */
static int rx_case(const struct spec *s, int want, uint32_t step, uint32_t count_len)
{
	struct pkt p;
	struct run r;

	build(&p, s);
	run_prog(skel->progs.t_rx, &p, &r, 0);
	if (expect(&r, want, step, want < 0 ? XDP_DROP : XDP_PASS))
		return 1;
	if (!count_len)
		count_len = p.len - 14;
	if ((want < 0 || (want & 0xff)) && r.o.count_len != count_len)
		return bad("counted over %u bytes, want %u", r.o.count_len, count_len);
	return 0;
}

static int rx_found(const struct spec *s, uint32_t esp_off, uint32_t spi, int encap)
{
	struct pkt p;
	struct run r;

	build(&p, s);
	run_prog(skel->progs.t_rx, &p, &r, 0);
	if (expect(&r, 0, 3, XDP_PASS))
		return 1;
	if (r.o.esp_off != esp_off || r.o.spi != htonl(spi) || r.o.encap != encap)
		return bad("ESP at %u spi %#x encap %u, want %u %#x %d", r.o.esp_off,
			   ntohl(r.o.spi), r.o.encap, esp_off, spi, encap);
	return 0;
}

static void rx_fixtures(void)
{
	struct spec s;
	struct sa_spec a;

	reset_maps();
	sa_add(&rx_sa);
	a = rx_sa;
	a.spi = 0x200;
	a.flags = ESPX_SA_F_ENCAP;
	sa_add(&a);
	a = rx_sa;
	a.spi = 0x300;
	a.not_ready = 1;
	sa_add(&a);
	a = rx_sa;
	a.spi = 0x400;
	a.window = 32;
	a.seq = 100;
	sa_add(&a);
	a = rx_sa;
	a.v6 = 1;
	a.src = "fd00::1";
	a.dst = "fd00::2";
	sa_add(&a);

	s = (struct spec){ .eth_type = 0x0806 };
	result("rx-not-ip-passes", rx_case(&s, STEP_PASS(0), 1, 0));
	result("rx-plain-no-policy-passes", rx_case(&rx_udp, STEP_PASS(0), 1, 0));
	s = rx_udp;
	s.len_delta = 100;
	{
		struct pkt p;

		build(&p, &s);
		result("rx-truncated", rx_case(&s, DROP(TRUNCATED), 1, p.len));
	}
	s = esp_to(0x999, 1);
	result("rx-esp-unknown-spi-to-kernel", rx_case(&s, STEP_PASS(ESPX_DROP_NO_SA), 2, 0));
	s = esp_to(0x100, 1);
	result("rx-esp-v4-found", rx_found(&s, 34, 0x100, 0));
	s.v6 = 1;
	s.src = "fd00::1";
	s.dst = "fd00::2";
	result("rx-esp-v6-found", rx_found(&s, 54, 0x100, 0));
	s = esp_to(0x200, 1);
	s.proto = 17;
	s.natt = 1;
	s.sport = s.dport = 4500;
	s.payload = 48;
	result("rx-natt-found", rx_found(&s, 42, 0x200, 1));
	s = rx_udp;
	s.sport = s.dport = 4500;
	s.payload = 1;
	result("rx-natt-keepalive-not-esp", rx_case(&s, STEP_PASS(0), 1, 0));
	s = rx_udp;
	s.sport = s.dport = 500;
	ike_add(0, "10.0.0.2", "10.0.0.1");
	result("rx-ike-between-peers-bypasses", rx_case(&s, STEP_PASS(ESPX_DROP_BYPASS), 1, 0));
	s = esp_to(0x300, 1);
	result("rx-sa-not-ready", rx_case(&s, DROP(NO_CTX), 3, 0));
	s = esp_to(0x200, 1);
	result("rx-natt-sa-plain-esp", rx_case(&s, DROP(MALFORMED), 3, 0));
	s = esp_to(0x100, 1);
	s.payload = 10;
	result("rx-esp-too-short", rx_case(&s, DROP(TRUNCATED), 3, 0));
	s = esp_to(0x400, 50);
	result("rx-replay-left-of-window", rx_case(&s, DROP(REPLAY_OLD), 3, 0));
	s = esp_to(0x400, 101);
	result("rx-replay-new-number", rx_case(&s, 0, 3, 0));
	s = esp_to(0x100, 1);
	s.frag = 0x2000;
	result("rx-fragmented-esp-ours", rx_case(&s, DROP(ESP_FRAGMENT), 1, 0));
	s.frag = 10;	/* its datagram's first fragment was refused */
	result("rx-fragmented-esp-ours-later", rx_case(&s, DROP(ESP_FRAGMENT), 1, 0));
	s = esp_to(0x999, 1);
	s.frag = 0x2000;
	result("rx-fragmented-esp-kernels", rx_case(&s, STEP_PASS(ESPX_DROP_FRAGMENT), 1, 0));
	pol_add(ESPX_POL_IN, 0, "10.0.0.1", "10.0.0.2", POL_TMPL, NULL);
	result("rx-plaintext-on-protected", rx_case(&rx_udp, DROP(PLAINTEXT), 1, 0));
	reset_maps();
	pol_add(ESPX_POL_IN, 0, "10.0.0.1", "10.0.0.2", POL_TMPL_OPT, NULL);
	result("rx-plaintext-optional-template", rx_case(&rx_udp, STEP_PASS(0), 1, 0));
	reset_maps();
	pol_add(ESPX_POL_IN, 0, "10.0.0.1", "10.0.0.2", POL_BLOCK, NULL);
	result("rx-plaintext-blocked", rx_case(&rx_udp, DROP(POLICY_BLOCK), 1, 0));
}

/* ---- esp_tx.h: tx_classify, tx_policy, the SA, tx_layout, tx_encap ---- */

static const struct spec tx_udp = { .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 17,
				    .sport = 1000, .dport = 2000, .payload = 100 };
static const struct spec tx_udp6 = { .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .proto = 17,
				     .sport = 1000, .dport = 2000, .payload = 100 };
static const struct sa_spec tun4 = { .src = "192.0.2.1", .dst = "192.0.2.2", .spi = 0x1000,
				     .tunnel = 1 };
static const struct sa_spec tun6 = { .v6 = 1, .src = "2001:db8::1", .dst = "2001:db8::2",
				     .spi = 0x1006, .tunnel = 1 };

/* maps for one fixture: an out policy for the packet's addresses, and
 * (sa not NULL) the SA it resolves to */
static void tx_setup(const struct spec *s, enum pol_kind kind, const struct sa_spec *sa)
{
	struct espx_sa_key k = { 0 };

	reset_maps();
	if (sa)
		k = sa_add(sa);
	pol_add(ESPX_POL_OUT, s->v6, s->src, s->dst, kind, sa ? &k : NULL);
}

static int tx_run(const struct spec *s, struct pkt *p, struct run *r, uint32_t gso)
{
	build(p, s);
	run_prog(skel->progs.t_tx, p, r, gso);
	return 0;
}

static int tx_case(const struct spec *s, int want, uint32_t step, uint32_t count_len)
{
	struct pkt p;
	struct run r;
	uint32_t verdict = want < 0 ? TC_ACT_SHOT : want == STEP_REDIRECT ? TC_ACT_REDIRECT :
			   TC_ACT_OK;

	tx_run(s, &p, &r, 0);
	if (expect(&r, want, step, verdict))
		return 1;
	if (!count_len)
		count_len = p.len - 14;
	if ((want < 0 || (want & 0xff)) && r.o.count_len != count_len)
		return bad("counted over %u bytes, want %u", r.o.count_len, count_len);
	if (want > 0 && want != STEP_REDIRECT &&
	    (r.out.len != p.len || memcmp(r.out.b, p.b, p.len)))
		return bad("a passed packet was changed");
	return 0;
}

/* The packet out of tx_encap, against the packet in: every header field
 * espx writes, the payload moved intact, the trailer. */
static int check_encap(const struct pkt *in, const struct spec *ps, const struct sa_spec *sa,
		       const struct run *r, uint64_t seq)
{
	const uint8_t *o = r->out.b, *t;
	int tunnel = sa->tunnel, natt = !!(sa->flags & ESPX_SA_F_ENCAP);
	uint32_t payload = tunnel ? in->len - 14 : in->len - in->l4;
	uint32_t pad = (4 - ((payload + 2) & 3)) & 3, i;
	uint32_t late = (ps->proto == 6 || ps->proto == 17) && !ps->frag ? 2 : 0;
	uint32_t hdrs = (tunnel ? (sa->v6 ? 40 : 20) : 0) + (natt ? 8 : 0);
	uint32_t esp_off = (tunnel ? 14 : in->l4) + hdrs;
	uint32_t esp_len = 16 + payload + pad + 2 + ICV, ip_len = esp_off + esp_len - 14;
	uint8_t proto = natt ? 17 : 50, nh;
	uint32_t addr[4];
	uint64_t iv;

	if (r->out.len != esp_off + esp_len + late)
		return bad("%u bytes out, want %u", r->out.len, esp_off + esp_len + late);
	if (memcmp(o, in->b, 12))
		return bad("Ethernet addresses changed");
	if (tunnel ? (o[12] != (sa->v6 ? 0x86 : 0x08) || o[13] != (sa->v6 ? 0xdd : 0x00))
		   : memcmp(o + 12, in->b + 12, 2))
		return bad("Ethernet type %02x%02x", o[12], o[13]);
	if (tunnel && !sa->v6) {
		addr_of(sa->src, 0, addr);
		if (o[14] != 0x45 || be16(o + 16) != ip_len || o[22] != 64 ||
		    o[23] != proto || memcmp(o + 26, addr, 4))
			return bad("outer IPv4 header");
		addr_of(sa->dst, 0, addr);
		if (memcmp(o + 30, addr, 4) || fold(sum16(o + 14, 20, 0)))
			return bad("outer IPv4 destination or checksum");
		if ((o[20] & 0x40) != (ps->v6 ? 0x40 : in->b[20] & 0x40))
			return bad("outer DF %d", !!(o[20] & 0x40));
	} else if (tunnel) {
		if (o[14] >> 4 != 6 || be16(o + 18) != ip_len - 40 || o[20] != proto ||
		    o[21] != 64)
			return bad("outer IPv6 header");
		addr_of(sa->src, 1, addr);
		if (memcmp(o + 22, addr, 16))
			return bad("outer IPv6 source");
		addr_of(sa->dst, 1, addr);
		if (memcmp(o + 38, addr, 16))
			return bad("outer IPv6 destination");
	} else if (!ps->v6) {
		if (be16(o + 16) != ip_len || o[23] != proto || fold(sum16(o + 14, 20, 0)) ||
		    memcmp(o + 14, in->b + 14, 2) || memcmp(o + 18, in->b + 18, 5) ||
		    memcmp(o + 26, in->b + 26, 8))
			return bad("transport IPv4 header");
	} else {
		if (be16(o + 18) != ip_len - 40 || o[20] != proto ||
		    memcmp(o + 14, in->b + 14, 4) || memcmp(o + 21, in->b + 21, 33))
			return bad("transport IPv6 header");
	}
	if (natt) {
		t = o + esp_off - 8;
		if (be16(t) != sa->sport || be16(t + 2) != sa->dport ||
		    be16(t + 4) != 8 + esp_len || t[6] || t[7])
			return bad("NAT-T UDP header");
	}
	t = o + esp_off;
	iv = 0;
	for (i = 0; i < 8; i++)
		iv = iv << 8 | t[8 + i];
	if ((uint32_t)(t[0] << 24 | t[1] << 16 | t[2] << 8 | t[3]) != sa->spi ||
	    (uint32_t)(t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7]) != (uint32_t)seq || iv != seq)
		return bad("ESP header (SPI, sequence number, IV)");
	if (memcmp(t + 16, in->b + (tunnel ? 14 : in->l4), payload))
		return bad("payload not moved intact (or its L4 checksum changed)");
	t += 16 + payload;
	nh = tunnel ? (ps->v6 ? 41 : 4) : ps->proto;
	for (i = 0; i < pad; i++)
		if (t[i] != i + 1)
			return bad("padding byte %u is %u", i, t[i]);
	if (t[pad] != pad || t[pad + 1] != nh)
		return bad("trailer pad length %u next header %u, want %u %u", t[pad], t[pad + 1],
			   pad, nh);
	return 0;
}

static int tx_encap_case(const struct spec *s, const struct sa_spec *sa)
{
	struct pkt p;
	struct run r;

	tx_setup(s, POL_TMPL, sa);
	tx_run(s, &p, &r, 0);
	if (expect(&r, 0, 5, TC_ACT_OK))
		return 1;
	return check_encap(&p, s, sa, &r, sa->oseq + 1);
}

/* The "too big" answer (icmp.h): type, code, MTU, addresses turned
 * around, the quote, a valid checksum; back to this device's own MAC. */
static int tx_too_big_case(const struct spec *s, const struct sa_spec *sa, uint32_t mtu)
{
	const uint8_t *o, *m;
	uint32_t ps, n;
	struct pkt p;
	struct run r;

	tx_setup(s, POL_TMPL, sa);
	tx_run(s, &p, &r, 0);
	if (expect(&r, DROP(MTU), 4, TC_ACT_REDIRECT))
		return 1;
	if (r.o.too_big != mtu)
		return bad("tells MTU %u, want %u", r.o.too_big, mtu);
	o = r.out.b;
	if (memcmp(o, p.b + 6, 6) || memcmp(o + 6, p.b, 6))
		return bad("Ethernet addresses not swapped");
	if (!s->v6) {
		m = o + 34;
		if (r.out.len != 34 + 68 || o[23] != 1 || memcmp(o + 26, p.b + 30, 4) ||
		    memcmp(o + 30, p.b + 26, 4) || fold(sum16(o + 14, 20, 0)))
			return bad("ICMP's IPv4 header (%u bytes out)", r.out.len);
		if (m[0] != 3 || m[1] != 4 || be16(m + 6) != mtu ||
		    fold(sum16(m, 68, 0)) || memcmp(m + 8, p.b + 14, 60))
			return bad("ICMP fragmentation needed message");
		return 0;
	}
	m = o + 54;
	if (r.out.len != 54 + 88 || o[20] != 58 || memcmp(o + 22, p.b + 38, 16) ||
	    memcmp(o + 38, p.b + 22, 16))
		return bad("ICMPv6's IPv6 header (%u bytes out)", r.out.len);
	n = (uint32_t)(m[4] << 24 | m[5] << 16 | m[6] << 8 | m[7]);
	ps = sum16(o + 22, 32, 0) + 58 + 88;
	if (m[0] != 2 || m[1] || n != mtu || fold(sum16(m, 88, ps)) || memcmp(m + 8, p.b + 14, 80))
		return bad("ICMPv6 packet too big message");
	return 0;
}

static void tx_fixtures(void)
{
	struct sa_spec a, tr4, tr6;
	struct spec s;
	struct pkt p;
	struct run r;

	tx_setup(&tx_udp, POL_NONE, NULL);
	result("tx-no-policy-passes", tx_case(&tx_udp, STEP_PASS(0), 2, 0));
	tx_setup(&tx_udp, POL_BLOCK, NULL);
	result("tx-policy-block", tx_case(&tx_udp, DROP(POLICY_BLOCK), 2, 0));
	tx_setup(&tx_udp, POL_ALLOW, NULL);
	result("tx-policy-allow-passes", tx_case(&tx_udp, STEP_PASS(0), 2, 0));
	tx_setup(&tx_udp, POL_TMPL, NULL);
	result("tx-template-without-sa", tx_case(&tx_udp, DROP(NO_SA_OUT), 2, 0));
	tx_setup(&tx_udp, POL_TMPL_OPT, NULL);
	result("tx-optional-template-without-sa", tx_case(&tx_udp, STEP_PASS(0), 2, 0));
	tx_setup(&tx_udp, POL_TMPL, &tun4);
	bpf_map_delete_elem(fd_of(skel->maps.espx_sa), &(struct espx_sa_key){
		.daddr = { a4("192.0.2.2") }, .spi = htonl(0x1000), .family = AF_INET });
	result("tx-resolved-sa-gone", tx_case(&tx_udp, DROP(NO_SA_OUT), 3, 0));

	s = tx_udp;
	s.sport = s.dport = 500;
	tx_setup(&s, POL_TMPL, &tun4);
	result("tx-ike-port-not-peers-protected", tx_case(&s, 0, 5, 0) ? 1 : 0);
	ike_add(0, "10.0.0.1", "10.0.0.2");
	result("tx-ike-between-peers-bypasses", tx_case(&s, STEP_PASS(ESPX_DROP_BYPASS), 2, 0));
	tx_setup(&tx_udp, POL_TMPL, &tun4);
	{
		struct espx_config cfg;
		uint32_t zero = 0;

		bpf_map_lookup_elem(fd_of(skel->maps.espx_config), &zero, &cfg);
		cfg.guard_until = ~0ULL;
		bpf_map_update_elem(fd_of(skel->maps.espx_config), &zero, &cfg, BPF_ANY);
	}
	result("tx-transition-guard", tx_case(&tx_udp, DROP(GUARD), 2, 0));

	s = tx_udp;
	s.ihl = 4;
	tx_setup(&s, POL_BLOCK, NULL);
	build(&p, &s);
	result("tx-malformed-under-policies", tx_case(&s, DROP(MALFORMED), 1, p.len));
	tx_setup(&s, POL_NONE, NULL);
	result("tx-malformed-no-policies-passes", tx_case(&s, STEP_PASS(0), 1, 0));
	s = tx_udp6;
	s.ext = ext_seven;
	tx_setup(&s, POL_TMPL, &tun6);
	result("tx-v6-ext-chain-not-walked", tx_case(&s, DROP(EXTHDR), 1, 0));

	/* fragments: the first decides, the rest of its datagram follows */
	s = tx_udp;
	s.sport = s.dport = 500;
	s.frag = 0x2000;
	s.frag_id = 77;
	tx_setup(&s, POL_BLOCK, NULL);
	ike_add(0, "10.0.0.1", "10.0.0.2");
	result("tx-fragment-first-ike-bypass", tx_case(&s, STEP_PASS(ESPX_DROP_BYPASS), 2, 0));
	s.frag = 20;
	result("tx-fragment-later-follows-first", tx_case(&s, STEP_PASS(0), 2, 0));
	s.frag_id = 78;
	result("tx-fragment-later-other-datagram", tx_case(&s, DROP(POLICY_BLOCK), 2, 0));
	tr4 = (struct sa_spec){ .src = "10.0.0.1", .dst = "10.0.0.2", .spi = 0x2000 };
	s = tx_udp;
	s.frag = 0x2000;
	tx_setup(&s, POL_TMPL, &tr4);
	result("tx-fragment-transport-mode", tx_case(&s, DROP(MTU), 4, 0));
	tx_setup(&s, POL_TMPL, &tun4);
	build(&p, &s);
	run_prog(skel->progs.t_tx, &p, &r, 0);
	result("tx-fragment-tunnel-mode",
	       expect(&r, 0, 5, TC_ACT_OK) || check_encap(&p, &s, &tun4, &r, 1));

	/* the SA and the layout */
	a = tun4;
	a.not_ready = 1;
	tx_setup(&tx_udp, POL_TMPL, &a);
	result("tx-sa-not-ready", tx_case(&tx_udp, DROP(NO_SA_OUT), 4, 0));
	a = tun4;
	a.flags = ESPX_SA_F_HARD_SENT;
	tx_setup(&tx_udp, POL_TMPL, &a);
	result("tx-sa-hard-expired", tx_case(&tx_udp, DROP(HARD_LIMIT), 4, 0));
	tx_setup(&tx_udp, POL_TMPL, &tun4);
	tx_run(&tx_udp, &p, &r, 2);
	result("tx-gso-without-segmenter", expect(&r, DROP(GSO), 4, TC_ACT_SHOT));
	{
		uint32_t k = (uint32_t)dev_ifindex, v = 77;

		bpf_map_update_elem(fd_of(skel->maps.espx_seg), &k, &v, BPF_ANY);
	}
	tx_run(&tx_udp, &p, &r, 2);
	result("tx-gso-to-segmenter", expect(&r, STEP_REDIRECT, 4, TC_ACT_REDIRECT) ||
	       (r.o.redirect != 77 && bad("redirected to %u, want 77", r.o.redirect)));
	tr6 = (struct sa_spec){ .v6 = 1, .src = "fd00::1", .dst = "fd00::2", .spi = 0x2006 };
	s = tx_udp6;
	s.ext = ext_hop_dst;
	tx_setup(&s, POL_TMPL, &tr6);
	result("tx-transport-v6-ext-headers", tx_case(&s, DROP(EXTHDR), 4, 0));
	reset_maps();
	{
		struct espx_sa_key k = sa_add(&tr6);

		pol_add(ESPX_POL_OUT, 0, tx_udp.src, tx_udp.dst, POL_TMPL, &k);
	}
	result("tx-transport-family-mismatch", tx_case(&tx_udp, DROP(SELECTOR), 4, 0));
	a = tun4;
	a.oseq = 0xffffffffULL;
	tx_setup(&tx_udp, POL_TMPL, &a);
	result("tx-seq-overflow", tx_case(&tx_udp, DROP(SEQ_OVERFLOW), 5, 0));
	a.flags = ESPX_SA_F_ESN;
	tx_setup(&tx_udp, POL_TMPL, &a);
	result("tx-esn-crosses-2^32", tx_encap_case(&tx_udp, &a));

	/* path MTU (the device's is MTU): too big once encapsulated */
	s = tx_udp;
	s.payload = MTU - 28;
	s.df = 1;
	result("tx-too-big-v4-df-icmp", tx_too_big_case(&s, &tun4, MTU - (20 + 16 + ICV + 7)));
	s.df = 0;
	tx_setup(&s, POL_TMPL, &tun4);
	tx_run(&s, &p, &r, 0);
	result("tx-too-big-v4-no-df-dropped", expect(&r, DROP(MTU), 4, TC_ACT_SHOT) ||
	       (r.o.too_big && bad("would tell MTU %u", r.o.too_big)));
	s = tx_udp6;
	s.payload = MTU - 48;
	result("tx-too-big-v6-icmpv6", tx_too_big_case(&s, &tun6, MTU - (40 + 16 + ICV + 7)));
	s.payload = MTU - (40 + 16 + ICV + 7) - 48;	/* the MTU that answer tells */
	result("tx-fits-just", tx_encap_case(&s, &tun6));

	/* encapsulation layouts: family x mode, NAT-T, padding 0..3 */
	result("tx-v4-tunnel", tx_encap_case(&tx_udp, &tun4));
	result("tx-v6-tunnel", tx_encap_case(&tx_udp6, &tun6));
	result("tx-v4-in-v6-tunnel", tx_encap_case(&tx_udp, &tun6));
	result("tx-v6-in-v4-tunnel", tx_encap_case(&tx_udp6, &tun4));
	result("tx-v4-transport", tx_encap_case(&tx_udp, &tr4));
	result("tx-v6-transport", tx_encap_case(&tx_udp6, &tr6));
	a = tun4;
	a.flags = ESPX_SA_F_ENCAP;
	a.sport = 4500;
	a.dport = 4501;
	result("tx-v4-tunnel-natt", tx_encap_case(&tx_udp, &a));
	a = tr4;
	a.flags = ESPX_SA_F_ENCAP;
	a.sport = 4500;
	a.dport = 4500;
	result("tx-v4-transport-natt", tx_encap_case(&tx_udp, &a));
	s = tx_udp;
	s.proto = 6;
	result("tx-v4-tunnel-tcp", tx_encap_case(&s, &tun4));
	s.proto = 1;
	s.sport = 8;
	result("tx-v4-tunnel-icmp", tx_encap_case(&s, &tun4));
	s = tx_udp;
	s.df = 1;
	s.payload = 101;
	result("tx-v4-tunnel-pad1-df", tx_encap_case(&s, &tun4));
	s.payload = 102;
	result("tx-v4-tunnel-pad0", tx_encap_case(&s, &tun4));
	s.payload = 103;
	result("tx-v4-tunnel-pad3", tx_encap_case(&s, &tun4));
	a = tun4;
	a.oseq = 41;
	result("tx-sequence-continues", tx_encap_case(&tx_udp, &a));
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define N_RX 20
#define N_TX 43

int main(int argc, char **argv)
{
	struct espx_sa_key k;
	struct sa_spec a;
	size_t i;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: %s DEV   (DEV: a device with MTU %d)\n", argv[0], MTU);
		return 1;
	}
	dev_ifindex = (int)if_nametoindex(argv[1]);
	if (!dev_ifindex) {
		fprintf(stderr, "device %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	skel = espx_steps_test__open();
	/* the SA set-up programs are in the object for their BTF only */
	if (skel) {
		bpf_program__set_autoload(skel->progs.espx_sa_crypto_init, false);
		bpf_program__set_autoload(skel->progs.espx_sa_ghash_init, false);
		bpf_program__set_autoload(skel->progs.espx_sa_sync, false);
	}
	if (!skel || espx_steps_test__load(skel)) {
		err = errno;
		printf("FAIL steps-load: loading espx_steps_test.bpf.o: %s\n", strerror(err));
		return 1;
	}
	/* BPF_PROG_TEST_RUN itself: a run of the parse program on a packet */
	{
		struct pkt p;
		struct run r;

		build(&p, &rx_udp);
		run_prog(skel->progs.t_parse, &p, &r, 0);
		if (r.err == EOPNOTSUPP || r.err == ENOTSUP || r.err == ENOSYS) {
			printf("SKIP steps: BPF_PROG_TEST_RUN unavailable: %s\n", strerror(r.err));
			espx_steps_test__destroy(skel);
			return 2;
		}
	}
	printf("PLAN %zu\n", N(parse_fx) + N(sel_fx) + N(replay_fx) + N(replay_esn_fx) + N_RX + N_TX);
	for (i = 0; i < N(parse_fx); i++)
		result(parse_fx[i].name, check_parse(&parse_fx[i]));
	for (i = 0; i < N(sel_fx); i++)
		result(sel_fx[i].name, check_sel(&sel_fx[i]));
	reset_maps();
	a = (struct sa_spec){ .src = "10.0.0.1", .dst = "10.0.0.2", .spi = 0x77, .tunnel = 1,
			      .window = 64 };
	k = sa_add(&a);
	for (i = 0; i < N(replay_fx); i++)
		result(replay_fx[i].name, check_replay(&replay_fx[i], &k));
	a.flags = ESPX_SA_F_ESN;
	a.window = 32;
	a.seq = (1ULL << 32) + 10;
	k = sa_add(&a);
	for (i = 0; i < N(replay_esn_fx); i++)
		result(replay_esn_fx[i].name, check_replay(&replay_esn_fx[i], &k));
	rx_fixtures();
	tx_fixtures();
	espx_steps_test__destroy(skel);
	return failed;
}
