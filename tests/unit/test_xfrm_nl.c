// SPDX-License-Identifier: GPL-2.0
/* Decoding the kernel's XFRM netlink messages (user/platform/xfrm_nl.h) without a
 * kernel: messages are built here as the kernel builds them (xfrm_user.c
 * copy_to_user_state_extra / copy_to_user_tmpl) and decoded. An AES-GCM SA
 * must come out field by field with its key and replay state; the ECN,
 * DSCP and DF flags must reach it as espx's bits; anything espx does not
 * carry (CBC+HMAC, AH, marks, xfrm interfaces, offload, larval SAs, the
 * wildrecv/icmp/oseq-may-wrap flags) must come with a reason and without
 * key material; policies with one ESP template decode, socket and sub
 * policies are skipped. The replay window conversions must map the
 * kernel's bit layouts (legacy 32-bit: bit i = top - i; bitmap/ESN: bit
 * (s - 1) % W) to espx's (bit s % 4096) and back exactly. The ACQUIRE
 * the daemon raises for a datapath report must be what xfrm_add_acquire()
 * accepts and what the kernel's own would say (the packet's host selector,
 * the policy's index and selector, the template's reqid, proto ESP, the
 * addresses resolved in transport mode); a POLEXPIRE must decode. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include "platform/xfrm_nl.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, ok ? "" : ": ", ok ? "" : why);
	failed |= !ok;
}

static char buf[8192];

static struct nlmsghdr *sa_msg(int type, const char *aead_name, int key_bits, int icv_bits)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_usersa_info *p;

	nlh->nlmsg_type = (__u16)type;
	p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
	p->family = AF_INET;
	p->id.proto = IPPROTO_ESP;
	p->id.spi = htonl(0x1234);
	p->id.daddr.a4 = htonl(0x0a000002);
	p->saddr.a4 = htonl(0x0a000001);
	p->mode = XFRM_MODE_TUNNEL;
	p->reqid = 7;
	p->sel.family = AF_INET;
	p->sel.daddr.a4 = htonl(0xc0a80200);
	p->sel.prefixlen_d = 24;
	p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
	p->lft.soft_packet_limit = 100;
	p->lft.hard_packet_limit = 200;
	p->curlft.packets = 5;
	p->curlft.bytes = 500;
	p->curlft.add_time = 1700000000;
	if (aead_name) {
		char a[sizeof(struct xfrm_algo_aead) + 36];
		struct xfrm_algo_aead *al = (void *)a;
		int i;

		memset(a, 0, sizeof(a));
		snprintf(al->alg_name, sizeof(al->alg_name), "%s", aead_name);
		al->alg_key_len = (unsigned int)key_bits;
		al->alg_icv_len = (unsigned int)icv_bits;
		for (i = 0; i < (key_bits + 7) / 8; i++)
			al->alg_key[i] = (char)(i + 1);
		mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(*al) + (key_bits + 7) / 8, al);
	}
	return nlh;
}

static void put_esn(struct nlmsghdr *nlh, __u32 window, __u64 oseq, __u64 seq, __u32 bmp0)
{
	char b[sizeof(struct xfrm_replay_state_esn) + 8 * 4];
	struct xfrm_replay_state_esn *e = (void *)b;

	memset(b, 0, sizeof(b));
	e->bmp_len = (window + 31) / 32;
	e->replay_window = window;
	e->oseq = (__u32)oseq;
	e->oseq_hi = (__u32)(oseq >> 32);
	e->seq = (__u32)seq;
	e->seq_hi = (__u32)(seq >> 32);
	e->bmp[0] = bmp0;
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(*e) + e->bmp_len * 4, e);
}

static int espx_bit(const struct espx_sa *sa, __u64 s)
{
	return sa->replay[(s % ESPX_REPLAY_MAX) / 64] >> (s % 64) & 1;
}

static void test_gcm_sa(void)
{
	static struct xnl_sa s;
	struct nlmsghdr *nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	int ok;

	/* the kernel's window at 2^32 + 10 with numbers 2^32+10 and 2^32+8 seen:
	 * bits (s - 1) % 64 */
	put_esn(nlh, 64, 0x100000005ULL, 0x10000000aULL,
		(1U << ((0x10000000aULL - 1) % 64)) | (1U << ((0x100000008ULL - 1) % 64)));
	((struct xfrm_usersa_info *)mnl_nlmsg_get_payload(nlh))->flags = XFRM_STATE_ESN;
	check(xnl_sa_decode(nlh, &s) == 0, "gcm-decodes", "returned an error");
	check(!s.why[0], "gcm-carried", s.why);
	ok = s.key.family == AF_INET && s.key.spi == htonl(0x1234) &&
	     s.key.daddr[0] == htonl(0x0a000002) && !s.key.daddr[1] &&
	     s.sa.saddr[0] == htonl(0x0a000001) && s.sa.mode == ESPX_MODE_TUNNEL &&
	     s.sa.reqid == 7 && s.reqid == 7;
	check(ok, "gcm-ids", "key, addresses, mode or reqid wrong");
	ok = s.aes_key_len == 16 && s.aes_key[0] == 1 && s.aes_key[15] == 16 &&
	     s.sa.salt[0] == 17 && s.sa.salt[3] == 20 && s.sa.key_len == 16 && s.sa.icv_len == 16;
	check(ok, "gcm-key-salt-icv", "key/salt split or ICV wrong");
	ok = s.sa.sel.family == AF_INET && s.sa.sel.daddr[0] == htonl(0xc0a80200) &&
	     s.sa.sel.prefixlen_d == 24 && s.sa.lft.soft_packets == 100 &&
	     s.sa.lft.hard_packets == 200 && s.sa.lft.soft_bytes == ESPX_INF;
	check(ok, "gcm-selector-limits", "selector or lifetime limits wrong");
	ok = (s.sa.flags & ESPX_SA_F_ESN) && s.sa.replay_window == 64 && s.esn_attr &&
	     s.bmp_len == 2 && s.sa.oseq == 0x100000005ULL && s.sa.seq == 0x10000000aULL;
	check(ok, "gcm-esn-replay-state", "ESN flag, window or sequence numbers wrong");
	ok = espx_bit(&s.sa, 0x10000000aULL) && espx_bit(&s.sa, 0x100000008ULL) &&
	     !espx_bit(&s.sa, 0x100000009ULL) && !espx_bit(&s.sa, 0x100000007ULL);
	check(ok, "gcm-window-imported", "window bits not where espx looks");
	ok = s.k_packets == 5 && s.k_bytes == 500 && s.k_add_time == 1700000000;
	check(ok, "gcm-curlft", "kernel counters not kept");
	xnl_sa_wipe(&s);
}

static void declined(const char *name, struct nlmsghdr *nlh, const char *want)
{
	static struct xnl_sa s;
	char why[160];
	int ok;

	ok = xnl_sa_decode(nlh, &s) == 0 && strstr(s.why, want) && !s.aes_key_len &&
	     !s.aes_key[0];
	snprintf(why, sizeof(why), "why '%s', want '%s'; key len %zu", s.why, want, s.aes_key_len);
	check(ok, name, why);
}

/* An ESN replay state of bmp_len words (up to 256) with window w: the
 * kernel's verify_replay() allows w <= 32 * bmp_len, espx keeps 4096 bits. */
static void put_esn_raw(struct nlmsghdr *nlh, __u32 w, __u32 bmp_len)
{
	static char b[sizeof(struct xfrm_replay_state_esn) + 256 * 4];
	struct xfrm_replay_state_esn *e = (void *)b;

	memset(b, 0, sizeof(b));
	e->bmp_len = bmp_len;
	e->replay_window = w;
	e->seq = 100;
	e->bmp[0] = 1;
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(*e) + bmp_len * 4, e);
}

static void test_esn_windows(void)
{
	struct nlmsghdr *nlh;

	/* a window espx cannot keep: left to the kernel, not taken with the
	 * legacy field's window and without the kernel's numbers */
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	put_esn_raw(nlh, 8192, 256);
	((struct xfrm_usersa_info *)mnl_nlmsg_get_payload(nlh))->flags = XFRM_STATE_ESN;
	declined("declined-esn-window-8192", nlh, "ESN replay window above 4096");
	/* a window beyond its own bitmap (found by fuzz_xfrm_nl: the window
	 * conversions indexed the bitmap by (s - 1) % window) */
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	put_esn_raw(nlh, 1638400, 1);
	((struct xfrm_usersa_info *)mnl_nlmsg_get_payload(nlh))->flags = XFRM_STATE_ESN;
	declined("declined-esn-window-beyond-bitmap", nlh, "or malformed");
}

static void test_declined(void)
{
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	struct xfrm_mark m = { 5, 0xff };
	__u32 id = 3;

	nlh = sa_msg(XFRM_MSG_NEWSA, NULL, 0, 0);
	{
		char a[sizeof(struct xfrm_algo) + 16];
		struct xfrm_algo *al = (void *)a;

		memset(a, 0, sizeof(a));
		strcpy(al->alg_name, "cbc(aes)");
		al->alg_key_len = 128;
		mnl_attr_put(nlh, XFRMA_ALG_CRYPT, sizeof(a), a);
	}
	declined("declined-cbc", nlh, "cbc(aes)");
	declined("declined-gcm-wrong-name", sa_msg(XFRM_MSG_NEWSA, "rfc4543(gcm(aes))", 160, 128),
		 "rfc4543");
	declined("declined-gcm-icv-32", sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 32), "ICV");
	declined("declined-larval", sa_msg(XFRM_MSG_NEWSA, NULL, 0, 0), "larval");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	p = mnl_nlmsg_get_payload(nlh);
	p->id.proto = IPPROTO_AH;
	declined("declined-ah", nlh, "proto ah");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(m), &m);
	declined("declined-mark", nlh, "mark");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	mnl_attr_put(nlh, XFRMA_IF_ID, sizeof(id), &id);
	declined("declined-if-id", nlh, "if_id");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	{
		struct xfrm_user_offload o = { .ifindex = 2 };

		mnl_attr_put(nlh, XFRMA_OFFLOAD_DEV, sizeof(o), &o);
	}
	declined("declined-offload", nlh, "offloaded");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	p = mnl_nlmsg_get_payload(nlh);
	p->mode = XFRM_MODE_BEET;
	declined("declined-beet", nlh, "beet");
	{
		static struct xnl_sa z;

		nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
		p = mnl_nlmsg_get_payload(nlh);
		p->family = 99;
		check(xnl_sa_decode(nlh, &z) == -EINVAL, "malformed-family", "not refused");
		nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct xfrm_usersa_info) - 8);
		check(xnl_sa_decode(nlh, &z) == -EINVAL, "malformed-short", "not refused");
	}
}

/* The ECN/DSCP/DF flags reach the SA as the espx bits; af-unspec and
 * align4 are carried and change nothing; wildrecv, icmp, oseq-may-wrap and
 * unknown extra flags leave the SA to the kernel, without its key. */
static void test_flags(void)
{
	static struct xnl_sa s;
	struct nlmsghdr *nlh;
	struct xfrm_usersa_info *p;
	__u32 x;
	char why[160];
	int ok;

	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	p = mnl_nlmsg_get_payload(nlh);
	p->flags = XFRM_STATE_NOECN | XFRM_STATE_DECAP_DSCP | XFRM_STATE_NOPMTUDISC;
	x = XFRM_SA_XFLAG_DONT_ENCAP_DSCP;
	mnl_attr_put(nlh, XFRMA_SA_EXTRA_FLAGS, sizeof(x), &x);
	ok = !xnl_sa_decode(nlh, &s) && !s.why[0] && s.aes_key_len == 16 &&
	     s.sa.flags == (ESPX_SA_F_NOECN | ESPX_SA_F_DECAP_DSCP | ESPX_SA_F_NOPMTUDISC |
			    ESPX_SA_F_DONT_ENCAP_DSCP);
	snprintf(why, sizeof(why), "why '%s', flags %#x", s.why, s.sa.flags);
	check(ok, "flags-ecn-dscp-df-carried", why);
	xnl_sa_wipe(&s);

	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	p = mnl_nlmsg_get_payload(nlh);
	p->flags = XFRM_STATE_DECAP_DSCP;
	ok = !xnl_sa_decode(nlh, &s) && !s.why[0] && s.sa.flags == ESPX_SA_F_DECAP_DSCP;
	snprintf(why, sizeof(why), "why '%s', flags %#x", s.why, s.sa.flags);
	check(ok, "flags-decap-dscp-alone", why);
	xnl_sa_wipe(&s);

	/* strongSwan's and libreswan's tunnel SA: af-unspec, selector family 0 */
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	p = mnl_nlmsg_get_payload(nlh);
	p->flags = XFRM_STATE_AF_UNSPEC | XFRM_STATE_ALIGN4;
	memset(&p->sel, 0, sizeof(p->sel));
	x = 0;
	mnl_attr_put(nlh, XFRMA_SA_EXTRA_FLAGS, sizeof(x), &x);
	ok = !xnl_sa_decode(nlh, &s) && !s.why[0] && !s.sa.flags && !s.sa.sel.family &&
	     s.aes_key_len == 16;
	snprintf(why, sizeof(why), "why '%s', flags %#x, sel family %u", s.why, s.sa.flags,
		 s.sa.sel.family);
	check(ok, "flags-af-unspec-align4-carried", why);
	xnl_sa_wipe(&s);

	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	((struct xfrm_usersa_info *)mnl_nlmsg_get_payload(nlh))->flags =
		XFRM_STATE_NOECN | XFRM_STATE_WILDRECV;
	declined("flags-wildrecv-declined", nlh, "wildrecv");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	((struct xfrm_usersa_info *)mnl_nlmsg_get_payload(nlh))->flags = XFRM_STATE_ICMP;
	declined("flags-icmp-declined", nlh, "icmp");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	x = XFRM_SA_XFLAG_DONT_ENCAP_DSCP | XFRM_SA_XFLAG_OSEQ_MAY_WRAP;
	mnl_attr_put(nlh, XFRMA_SA_EXTRA_FLAGS, sizeof(x), &x);
	declined("flags-oseq-may-wrap-declined", nlh, "oseq-may-wrap");
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	x = 0x80;
	mnl_attr_put(nlh, XFRMA_SA_EXTRA_FLAGS, sizeof(x), &x);
	declined("flags-unknown-extra-declined", nlh, "extra-flag 0x80");
	/* a more basic reason is reported first */
	nlh = sa_msg(XFRM_MSG_NEWSA, "rfc4106(gcm(aes))", 160, 128);
	p = mnl_nlmsg_get_payload(nlh);
	p->id.proto = IPPROTO_AH;
	p->flags = XFRM_STATE_ICMP;
	declined("flags-reason-after-proto", nlh, "proto ah");
}

static void test_policy(void)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_userpolicy_info *u;
	struct xfrm_user_tmpl t;
	struct xnl_pol p;
	int ok;

	nlh->nlmsg_type = XFRM_MSG_NEWPOLICY;
	u = mnl_nlmsg_put_extra_header(nlh, sizeof(*u));
	u->sel.family = AF_INET;
	u->sel.saddr.a4 = htonl(0xc0a80100);
	u->sel.prefixlen_s = 24;
	u->priority = 100;
	u->index = 0x41;
	u->dir = XFRM_POLICY_OUT;
	memset(&t, 0, sizeof(t));
	t.family = AF_INET;
	t.id.proto = IPPROTO_ESP;
	t.id.daddr.a4 = htonl(0x0a000002);
	t.saddr.a4 = htonl(0x0a000001);
	t.reqid = 7;
	t.mode = XFRM_MODE_TUNNEL;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
	ok = !xnl_pol_decode(nlh, &p) && !p.skip && !p.why[0] && p.pol.dir == ESPX_POL_OUT &&
	     p.pol.priority == 100 && p.pol.index == 0x41 && (p.pol.flags & ESPX_POL_F_TMPL) &&
	     p.pol.tmpl.reqid == 7 && p.pol.tmpl.daddr[0] == htonl(0x0a000002) &&
	     p.pol.tmpl.mode == ESPX_MODE_TUNNEL && p.pol.sel.prefixlen_s == 24;
	check(ok, "policy-out-esp-template", p.why[0] ? p.why : "fields wrong");
	{	/* two templates in the one attribute, as the kernel sends a bundle */
		struct xfrm_user_tmpl two[2] = { t, t };

		nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*u));
		two[1].id.proto = IPPROTO_COMP;
		mnl_attr_put(nlh, XFRMA_TMPL, sizeof(two), two);
	}
	check(!xnl_pol_decode(nlh, &p) && strstr(p.why, "template"), "policy-bundle-declined", p.why);
	u->dir = XFRM_POLICY_MAX;	/* a socket policy */
	check(!xnl_pol_decode(nlh, &p) && p.skip, "policy-socket-skipped", "not skipped");
}

static void test_windows(void)
{
	__u64 r[ESPX_REPLAY_WORDS];
	struct xnl_ae ae, back;
	int ok = 1;
	__u64 s;

	/* legacy 32-bit state: top 1000, bits for 1000, 999, 990 */
	memset(&ae, 0, sizeof(ae));
	ae.seq = 1000;
	ae.window = 32;
	ae.bmp[0] = 1U << 0 | 1U << 1 | 1U << 10;
	xnl_window_to_espx(&ae, r);
	for (s = 960; s <= 1000; s++)
		ok &= ((r[(s % ESPX_REPLAY_MAX) / 64] >> (s % 64) & 1) == (s == 1000 || s == 999 || s == 990));
	check(ok, "window-legacy-to-espx", "bits differ");
	back = ae;
	xnl_window_from_espx(&back, 1000, r);
	check(back.seq == 1000 && back.bmp[0] == ae.bmp[0], "window-legacy-roundtrip", "bitmap differs");

	/* bitmap/ESN layout, window 128, around a 2^32 boundary */
	memset(&ae, 0, sizeof(ae));
	ae.esn_attr = 1;
	ae.window = 128;
	ae.bmp_len = 4;
	ae.seq = 0x100000010ULL;
	for (s = ae.seq - 127; s <= ae.seq; s += 3)
		ae.bmp[((s - 1) % 128) / 32] |= 1U << ((s - 1) % 32);
	xnl_window_to_espx(&ae, r);
	back = ae;
	memset(back.bmp, 0, sizeof(back.bmp));
	xnl_window_from_espx(&back, ae.seq, r);
	check(!memcmp(back.bmp, ae.bmp, sizeof(ae.bmp)), "window-esn-roundtrip", "bitmap differs");
}

static struct espx_acquire_event acq_event(int mode)
{
	struct espx_acquire_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = ESPX_EV_ACQUIRE;
	ev.dir = 1;
	ev.family = AF_INET;
	ev.saddr[0] = htonl(0xc0a80105);	/* 192.168.1.5 */
	ev.daddr[0] = htonl(0xc0a80209);	/* 192.168.2.9 */
	ev.proto = IPPROTO_TCP;
	ev.sport = htons(40000);
	ev.dport = htons(443);
	ev.pol_dir = ESPX_POL_OUT;
	ev.index = 0x49;			/* 8 * 9 + out */
	ev.priority = 375423;
	ev.sel.family = AF_INET;
	ev.sel.saddr[0] = htonl(0xc0a80100);
	ev.sel.daddr[0] = htonl(0xc0a80200);
	ev.sel.prefixlen_s = ev.sel.prefixlen_d = 24;
	ev.tmpl.family = AF_INET;
	ev.tmpl.mode = (__u8)mode;
	ev.tmpl.reqid = 7;
	if (mode == ESPX_MODE_TUNNEL) {
		ev.tmpl.saddr[0] = htonl(0x0a000001);
		ev.tmpl.daddr[0] = htonl(0x0a000002);
	}
	return ev;
}

static const struct xfrm_user_tmpl *acq_tmpl(const struct nlmsghdr *nlh, int *n)
{
	const struct nlattr *a;

	*n = 0;
	mnl_attr_for_each(a, nlh, sizeof(struct xfrm_user_acquire))
		if (mnl_attr_get_type(a) == XFRMA_TMPL) {
			*n = (int)(mnl_attr_get_payload_len(a) / sizeof(struct xfrm_user_tmpl));
			return mnl_attr_get_payload(a);
		}
	return NULL;
}

static void test_acquire(void)
{
	struct espx_acquire_event ev = acq_event(ESPX_MODE_TUNNEL);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	const struct xfrm_user_acquire *ua = mnl_nlmsg_get_payload(nlh);
	const struct xfrm_user_tmpl *t;
	int n, ok;

	check(!xnl_acquire_build(nlh, &ev) && nlh->nlmsg_type == XFRM_MSG_ACQUIRE &&
	      nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*ua)), "acquire-built", "no message");
	/* the packet as xfrm_init_tempsel() puts it: hosts, full port masks */
	ok = ua->sel.family == AF_INET && ua->sel.saddr.a4 == htonl(0xc0a80105) &&
	     ua->sel.daddr.a4 == htonl(0xc0a80209) && ua->sel.prefixlen_s == 32 &&
	     ua->sel.prefixlen_d == 32 && ua->sel.proto == IPPROTO_TCP &&
	     ua->sel.sport == htons(40000) && ua->sel.dport == htons(443) &&
	     ua->sel.sport_mask == 0xffff && ua->sel.dport_mask == 0xffff;
	check(ok, "acquire-packet-selector", "sel fields wrong");
	/* the policy: what verify_newpolicy_info() checks, and its identity */
	ok = ua->policy.index == 0x49 && ua->policy.dir == XFRM_POLICY_OUT &&
	     (ua->policy.index & 7) == ua->policy.dir && ua->policy.priority == 375423 &&
	     ua->policy.sel.family == AF_INET && ua->policy.sel.prefixlen_d == 24 &&
	     ua->policy.sel.daddr.a4 == htonl(0xc0a80200) &&
	     ua->policy.action == XFRM_POLICY_ALLOW && ua->policy.share == XFRM_SHARE_ANY &&
	     ua->policy.lft.hard_byte_limit == XFRM_INF;
	check(ok, "acquire-policy", "policy fields wrong");
	/* what strongSwan's process_acquire reads: id.proto and the reqid */
	t = acq_tmpl(nlh, &n);
	ok = t && n == 1 && t->reqid == 7 && t->id.proto == IPPROTO_ESP && ua->id.proto == IPPROTO_ESP &&
	     t->mode == XFRM_MODE_TUNNEL && t->family == AF_INET &&
	     t->id.daddr.a4 == htonl(0x0a000002) && t->saddr.a4 == htonl(0x0a000001) &&
	     ua->id.daddr.a4 == htonl(0x0a000002) && ua->saddr.a4 == htonl(0x0a000001) &&
	     !t->optional && t->ealgos == ~0U;
	check(ok, "acquire-tunnel-template", t ? "template fields wrong" : "no XFRMA_TMPL");

	/* transport mode: the SA's addresses are the packet's */
	ev = acq_event(ESPX_MODE_TRANSPORT);
	nlh = mnl_nlmsg_put_header(buf);
	ua = mnl_nlmsg_get_payload(nlh);
	t = !xnl_acquire_build(nlh, &ev) ? acq_tmpl(nlh, &n) : NULL;
	ok = t && t->mode == XFRM_MODE_TRANSPORT && t->id.daddr.a4 == htonl(0xc0a80209) &&
	     t->saddr.a4 == htonl(0xc0a80105) && ua->id.daddr.a4 == htonl(0xc0a80209) &&
	     ua->saddr.a4 == htonl(0xc0a80105);
	check(ok, "acquire-transport-resolved", "addresses not the packet's");

	/* IPv6, and a static policy without family: the kernel wants one */
	ev = acq_event(ESPX_MODE_TUNNEL);
	ev.family = AF_INET6;
	memset(ev.saddr, 0, 16);
	memset(ev.daddr, 0, 16);
	ev.saddr[0] = htonl(0x20010db8);
	ev.saddr[3] = htonl(1);
	ev.daddr[0] = htonl(0x20010db8);
	ev.daddr[3] = htonl(2);
	ev.sel.family = 0;
	ev.sel.prefixlen_s = ev.sel.prefixlen_d = 0;
	nlh = mnl_nlmsg_put_header(buf);
	ua = mnl_nlmsg_get_payload(nlh);
	ok = !xnl_acquire_build(nlh, &ev) && ua->sel.family == AF_INET6 &&
	     ua->sel.prefixlen_d == 128 && ua->sel.daddr.a6[3] == htonl(2) &&
	     ua->policy.sel.family == AF_INET6;
	check(ok, "acquire-ipv6-family-filled", "v6 selector wrong");

	ev = acq_event(ESPX_MODE_TUNNEL);
	ev.index = 0x48;	/* an "in" index: the kernel would say EINVAL */
	nlh = mnl_nlmsg_put_header(buf);
	check(xnl_acquire_build(nlh, &ev) == -EINVAL, "acquire-index-dir-mismatch-refused",
	      "built anyway");
	ev = acq_event(ESPX_MODE_TUNNEL);
	ev.type = ESPX_EV_SOFT;
	nlh = mnl_nlmsg_put_header(buf);
	check(xnl_acquire_build(nlh, &ev) == -EINVAL, "acquire-other-event-refused", "built anyway");
}

static void test_polexpire(void)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_user_polexpire *pe;
	struct espx_sel sel;
	uint32_t index = 0;
	uint8_t dir = 9;
	int hard = -1;

	nlh->nlmsg_type = XFRM_MSG_POLEXPIRE;
	pe = mnl_nlmsg_put_extra_header(nlh, sizeof(*pe));
	pe->pol.index = 0x52;
	pe->pol.dir = XFRM_POLICY_FWD;
	pe->pol.sel.family = AF_INET;
	pe->pol.sel.daddr.a4 = htonl(0x0a000002);
	pe->pol.sel.prefixlen_d = 32;
	pe->hard = 1;
	check(!xnl_polexpire_decode(nlh, &index, &dir, &sel, &hard) && index == 0x52 &&
	      dir == XFRM_POLICY_FWD && hard == 1 && sel.daddr[0] == htonl(0x0a000002) &&
	      sel.prefixlen_d == 32, "polexpire-hard-decoded", "fields wrong");
	pe->hard = 0;
	check(!xnl_polexpire_decode(nlh, &index, &dir, &sel, &hard) && hard == 0,
	      "polexpire-soft-decoded", "hard set");
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(pe->pol));
	check(xnl_polexpire_decode(nlh, &index, &dir, &sel, &hard) == -EINVAL,
	      "polexpire-short-refused", "decoded a truncated message");
}

static void test_expire(void)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_user_expire *ue;
	struct espx_sa_key key;
	int hard = -1;

	nlh->nlmsg_type = XFRM_MSG_EXPIRE;
	ue = mnl_nlmsg_put_extra_header(nlh, sizeof(*ue));
	memset(ue, 0, sizeof(*ue));
	ue->state.family = AF_INET6;
	ue->state.id.spi = htonl(0x1234);
	ue->state.id.daddr.a6[0] = htonl(0x20010db8);
	ue->state.id.daddr.a6[3] = htonl(2);
	ue->hard = 1;
	check(!xnl_expire_decode(nlh, &key, &hard) && hard == 1 && key.family == AF_INET6 &&
	      key.spi == htonl(0x1234) && key.daddr[0] == htonl(0x20010db8) &&
	      key.daddr[3] == htonl(2), "expire-hard-decoded", "fields wrong");
	ue->state.family = AF_INET;
	ue->state.id.daddr.a4 = htonl(0x0a000002);
	ue->hard = 0;
	check(!xnl_expire_decode(nlh, &key, &hard) && hard == 0 && key.family == AF_INET &&
	      key.daddr[0] == htonl(0x0a000002) && !key.daddr[1], "expire-soft-decoded-v4",
	      "fields wrong");
	ue->state.family = AF_UNSPEC;
	check(xnl_expire_decode(nlh, &key, &hard) == -EINVAL, "expire-bad-family-refused",
	      "decoded");
	ue->state.family = AF_INET;
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(ue->state));
	check(xnl_expire_decode(nlh, &key, &hard) == -EINVAL, "expire-short-refused",
	      "decoded a truncated message");
}

int main(void)
{
	test_gcm_sa();
	test_declined();
	test_esn_windows();
	test_flags();
	test_policy();
	test_windows();
	test_acquire();
	test_polexpire();
	test_expire();
	return failed;
}
