// SPDX-License-Identifier: GPL-2.0
/* Writes the seed corpus of fuzz_xfrm_nl: well-formed datagrams of every
 * XFRM message the daemon reads, laid out as the kernel sends them
 * (xfrm_user.c: copy_to_user_state_extra, copy_to_user_tmpl, build_aevent,
 * build_expire, build_polexpire; the uapi structs of linux/xfrm.h), and a
 * few datagrams of several messages. Keys are a fixed test pattern.
 * Usage: gen_nl_seeds DIR   (make fuzz-seeds: DIR = tests/fuzz/corpus/xfrm_nl) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/udp.h>

#include "platform/xfrm_nl.h"

static const char *dir;
static char dg[16384];		/* the datagram being built */
static size_t dglen;

/* A new message at the end of the datagram. */
static struct nlmsghdr *msg(int type, int flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(dg + dglen);

	nlh->nlmsg_type = (__u16)type;
	nlh->nlmsg_flags = (__u16)flags;
	nlh->nlmsg_seq = 0;
	return nlh;
}

static void end(struct nlmsghdr *nlh)
{
	dglen += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void save(const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(dg, 1, dglen, f) != dglen || fclose(f)) {
		fprintf(stderr, "gen_nl_seeds: writing %s: %s\n", path, strerror(errno));
		exit(1);
	}
	dglen = 0;
}

static void put_aead(struct nlmsghdr *nlh, const char *name, int key_bits, int icv_bits)
{
	char a[sizeof(struct xfrm_algo_aead) + 36];
	struct xfrm_algo_aead *al = (void *)a;
	int i;

	memset(a, 0, sizeof(a));
	snprintf(al->alg_name, sizeof(al->alg_name), "%s", name);
	al->alg_key_len = (unsigned int)key_bits;
	al->alg_icv_len = (unsigned int)icv_bits;
	for (i = 0; i < (key_bits + 7) / 8; i++)
		al->alg_key[i] = (char)(0xa0 + i);
	mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(*al) + (key_bits + 7) / 8, al);
}

static void put_esn(struct nlmsghdr *nlh, __u32 window, __u64 oseq, __u64 seq)
{
	char b[sizeof(struct xfrm_replay_state_esn) + 128 * 4];
	struct xfrm_replay_state_esn *e = (void *)b;

	memset(b, 0, sizeof(b));
	e->bmp_len = (window + 31) / 32;
	e->replay_window = window;
	e->oseq = (__u32)oseq;
	e->oseq_hi = (__u32)(oseq >> 32);
	e->seq = (__u32)seq;
	e->seq_hi = (__u32)(seq >> 32);
	if (e->bmp_len)
		e->bmp[0] = 0x5;
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(*e) + e->bmp_len * 4, e);
}

static void put_legacy_replay(struct nlmsghdr *nlh, __u32 oseq, __u32 seq, __u32 bitmap)
{
	struct xfrm_replay_state r = { .oseq = oseq, .seq = seq, .bitmap = bitmap };

	mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof(r), &r);
}

static void sel4(struct xfrm_selector *s, const char *src, int ps, const char *dst, int pd)
{
	s->family = AF_INET;
	inet_pton(AF_INET, src, &s->saddr.a4);
	inet_pton(AF_INET, dst, &s->daddr.a4);
	s->prefixlen_s = (__u8)ps;
	s->prefixlen_d = (__u8)pd;
}

static void sel6(struct xfrm_selector *s, const char *src, int ps, const char *dst, int pd)
{
	s->family = AF_INET6;
	inet_pton(AF_INET6, src, s->saddr.a6);
	inet_pton(AF_INET6, dst, s->daddr.a6);
	s->prefixlen_s = (__u8)ps;
	s->prefixlen_d = (__u8)pd;
}

/* An SA message as copy_to_user_state_extra() fills it. */
static struct nlmsghdr *sa(int type, int family, int mode, __u8 flags)
{
	struct nlmsghdr *nlh = msg(type, 0);
	struct xfrm_usersa_info *p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));

	p->family = (__u16)family;
	p->id.proto = IPPROTO_ESP;
	p->id.spi = htonl(0x1000 + (unsigned int)type);
	if (family == AF_INET6) {
		inet_pton(AF_INET6, "fd00::2", p->id.daddr.a6);
		inet_pton(AF_INET6, "fd00::1", p->saddr.a6);
	} else {
		inet_pton(AF_INET, "192.0.2.2", &p->id.daddr.a4);
		inet_pton(AF_INET, "192.0.2.1", &p->saddr.a4);
	}
	p->mode = (__u8)mode;
	p->reqid = 7;
	p->flags = flags;
	p->replay_window = 32;
	if (mode == XFRM_MODE_TUNNEL) {
		if (family == AF_INET6)
			sel6(&p->sel, "fd01::", 64, "fd02::", 64);
		else
			sel4(&p->sel, "10.1.0.0", 16, "10.2.0.0", 16);
	}
	p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
	p->lft.soft_packet_limit = 100000;
	p->lft.hard_packet_limit = 200000;
	p->curlft.packets = 5;
	p->curlft.bytes = 500;
	p->curlft.add_time = 1700000000;
	return nlh;
}

static void sa_seeds(void)
{
	struct nlmsghdr *nlh;
	struct xfrm_encap_tmpl enc = { .encap_type = UDP_ENCAP_ESPINUDP,
				       .encap_sport = htons(4500), .encap_dport = htons(4500) };
	__u32 extra = XFRM_SA_XFLAG_DONT_ENCAP_DSCP;

	nlh = sa(XFRM_MSG_NEWSA, AF_INET, XFRM_MODE_TRANSPORT, 0);
	put_aead(nlh, "rfc4106(gcm(aes))", 160, 128);
	put_legacy_replay(nlh, 10, 9, 0x3);
	end(nlh);
	save("newsa-v4-gcm128-transport");

	nlh = sa(XFRM_MSG_NEWSA, AF_INET6, XFRM_MODE_TUNNEL, XFRM_STATE_ESN | XFRM_STATE_NOECN);
	put_aead(nlh, "rfc4106(gcm(aes))", 288, 96);
	put_esn(nlh, 128, 0x100000005ULL, 0x100000003ULL);
	end(nlh);
	save("newsa-v6-gcm256-esn-tunnel");

	nlh = sa(XFRM_MSG_UPDSA, AF_INET, XFRM_MODE_TUNNEL, XFRM_STATE_DECAP_DSCP);
	put_aead(nlh, "rfc4106(gcm(aes))", 224, 64);
	mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(enc), &enc);
	mnl_attr_put(nlh, XFRMA_SA_EXTRA_FLAGS, sizeof(extra), &extra);
	end(nlh);
	save("updsa-v4-gcm192-encap");

	/* CBC + HMAC: left to the kernel */
	nlh = sa(XFRM_MSG_NEWSA, AF_INET, XFRM_MODE_TUNNEL, 0);
	{
		char a[sizeof(struct xfrm_algo) + 16], t[sizeof(struct xfrm_algo_auth) + 32];
		struct xfrm_algo *c = (void *)a;
		struct xfrm_algo_auth *h = (void *)t;

		memset(a, 0, sizeof(a));
		memset(t, 0, sizeof(t));
		snprintf(c->alg_name, sizeof(c->alg_name), "cbc(aes)");
		c->alg_key_len = 128;
		snprintf(h->alg_name, sizeof(h->alg_name), "hmac(sha256)");
		h->alg_key_len = 256;
		h->alg_trunc_len = 128;
		mnl_attr_put(nlh, XFRMA_ALG_CRYPT, sizeof(a), a);
		mnl_attr_put(nlh, XFRMA_ALG_AUTH_TRUNC, sizeof(t), t);
	}
	end(nlh);
	save("newsa-v4-cbc-hmac");

	/* larval SA (ACQUIRE answered by the IKE daemon's GETSPI) with a mark */
	nlh = sa(XFRM_MSG_NEWSA, AF_INET, XFRM_MODE_TUNNEL, 0);
	{
		struct xfrm_mark m = { .v = 1, .m = 0xff };

		mnl_attr_put(nlh, XFRMA_MARK, sizeof(m), &m);
	}
	end(nlh);
	save("newsa-larval-mark");

	nlh = msg(XFRM_MSG_DELSA, 0);
	{
		struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

		inet_pton(AF_INET, "192.0.2.2", &id->daddr.a4);
		id->spi = htonl(0x1010);
		id->family = AF_INET;
		id->proto = IPPROTO_ESP;
	}
	end(nlh);
	save("delsa");

	nlh = msg(XFRM_MSG_EXPIRE, 0);
	{
		struct xfrm_user_expire *ue = mnl_nlmsg_put_extra_header(nlh, sizeof(*ue));

		ue->state.family = AF_INET6;
		inet_pton(AF_INET6, "fd00::2", ue->state.id.daddr.a6);
		ue->state.id.spi = htonl(0x1010);
		ue->state.id.proto = IPPROTO_ESP;
		ue->hard = 1;
	}
	end(nlh);
	save("expire-hard-v6");
}

static struct nlmsghdr *policy(int type, int dir, int action, int tmpl_mode)
{
	struct nlmsghdr *nlh = msg(type, 0);
	struct xfrm_userpolicy_info *u = mnl_nlmsg_put_extra_header(nlh, sizeof(*u));

	sel4(&u->sel, "10.1.0.0", 16, "10.2.0.0", 16);
	u->lft.soft_byte_limit = u->lft.hard_byte_limit = XFRM_INF;
	u->lft.soft_packet_limit = u->lft.hard_packet_limit = XFRM_INF;
	u->priority = 100;
	u->index = 8 * 5 + (unsigned int)dir;
	u->dir = (__u8)dir;
	u->action = (__u8)action;
	u->share = XFRM_SHARE_ANY;
	if (tmpl_mode >= 0) {
		struct xfrm_user_tmpl t;

		memset(&t, 0, sizeof(t));
		t.family = AF_INET;
		t.id.proto = IPPROTO_ESP;
		if (tmpl_mode == XFRM_MODE_TUNNEL) {
			inet_pton(AF_INET, "192.0.2.2", &t.id.daddr.a4);
			inet_pton(AF_INET, "192.0.2.1", &t.saddr.a4);
		}
		t.reqid = 7;
		t.mode = (__u8)tmpl_mode;
		t.aalgos = t.ealgos = t.calgos = ~0U;
		mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
	}
	return nlh;
}

static void policy_seeds(void)
{
	struct nlmsghdr *nlh;

	end(policy(XFRM_MSG_NEWPOLICY, XFRM_POLICY_OUT, XFRM_POLICY_ALLOW, XFRM_MODE_TUNNEL));
	save("newpolicy-out-tunnel");

	end(policy(XFRM_MSG_UPDPOLICY, XFRM_POLICY_IN, XFRM_POLICY_ALLOW, XFRM_MODE_TRANSPORT));
	save("updpolicy-in-transport");

	end(policy(XFRM_MSG_NEWPOLICY, XFRM_POLICY_FWD, XFRM_POLICY_BLOCK, -1));
	save("newpolicy-fwd-block");

	nlh = policy(XFRM_MSG_NEWPOLICY, XFRM_POLICY_OUT, XFRM_POLICY_ALLOW, XFRM_MODE_TUNNEL);
	{
		struct xfrm_userpolicy_type pt = { .type = XFRM_POLICY_TYPE_SUB };

		mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(pt), &pt);
	}
	end(nlh);
	save("newpolicy-sub");

	nlh = msg(XFRM_MSG_DELPOLICY, 0);
	{
		struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

		sel4(&id->sel, "10.1.0.0", 16, "10.2.0.0", 16);
		id->dir = XFRM_POLICY_OUT;
	}
	end(nlh);
	save("delpolicy-by-selector");

	nlh = msg(XFRM_MSG_DELPOLICY, 0);
	{
		struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

		id->index = 8 * 5 + XFRM_POLICY_IN;
		id->dir = XFRM_POLICY_IN;
	}
	end(nlh);
	save("delpolicy-by-index");

	nlh = msg(XFRM_MSG_POLEXPIRE, 0);
	{
		struct xfrm_user_polexpire *pe = mnl_nlmsg_put_extra_header(nlh, sizeof(*pe));

		sel6(&pe->pol.sel, "fd01::", 64, "fd02::", 64);
		pe->pol.index = 8 * 9 + XFRM_POLICY_OUT;
		pe->pol.dir = XFRM_POLICY_OUT;
		pe->hard = 1;
	}
	end(nlh);
	save("polexpire-hard");
}

static void other_seeds(void)
{
	struct espx_acquire_event ev;
	struct nlmsghdr *nlh;
	struct xfrm_aevent_id *id;
	struct xfrm_lifetime_cur lt = { .bytes = 1000, .packets = 10, .add_time = 1700000000 };

	/* NEWAE, the GETAE answer (build_aevent) */
	nlh = msg(XFRM_MSG_NEWAE, 0);
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	inet_pton(AF_INET, "192.0.2.2", &id->sa_id.daddr.a4);
	id->sa_id.spi = htonl(0x1010);
	id->sa_id.family = AF_INET;
	id->sa_id.proto = IPPROTO_ESP;
	id->flags = XFRM_AE_RVAL | XFRM_AE_LVAL;
	put_esn(nlh, 1024, 0x200000010ULL, 0x20000000cULL);
	mnl_attr_put(nlh, XFRMA_LTIME_VAL, sizeof(lt), &lt);
	end(nlh);
	save("newae-esn");

	nlh = msg(XFRM_MSG_NEWAE, 0);
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->sa_id.family = AF_INET;
	id->sa_id.proto = IPPROTO_ESP;
	put_legacy_replay(nlh, 100, 90, 0xf0f0f0f0);
	mnl_attr_put(nlh, XFRMA_LTIME_VAL, sizeof(lt), &lt);
	end(nlh);
	save("newae-legacy");

	/* an ACQUIRE as espx itself raises it (the daemon ignores them) */
	memset(&ev, 0, sizeof(ev));
	ev.type = ESPX_EV_ACQUIRE;
	ev.family = AF_INET;
	inet_pton(AF_INET, "10.1.0.5", ev.saddr);
	inet_pton(AF_INET, "10.2.0.6", ev.daddr);
	ev.proto = IPPROTO_UDP;
	ev.sport = htons(1000);
	ev.dport = htons(53);
	ev.index = 8 * 5 + XFRM_POLICY_OUT;
	ev.tmpl.mode = ESPX_MODE_TUNNEL;
	ev.tmpl.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.2", ev.tmpl.daddr);
	ev.tmpl.reqid = 7;
	nlh = msg(0, 0);
	if (xnl_acquire_build(nlh, &ev)) {
		fprintf(stderr, "gen_nl_seeds: xnl_acquire_build refused the event\n");
		exit(1);
	}
	end(nlh);
	save("acquire");

	end(msg(XFRM_MSG_FLUSHSA, 0));
	end(msg(XFRM_MSG_FLUSHPOLICY, 0));
	save("flush-sa-policy");

	/* a dump answer: several entries and NLMSG_DONE */
	nlh = policy(XFRM_MSG_NEWPOLICY, XFRM_POLICY_OUT, XFRM_POLICY_ALLOW, XFRM_MODE_TUNNEL);
	nlh->nlmsg_flags = NLM_F_MULTI;
	end(nlh);
	nlh = policy(XFRM_MSG_NEWPOLICY, XFRM_POLICY_IN, XFRM_POLICY_ALLOW, XFRM_MODE_TUNNEL);
	nlh->nlmsg_flags = NLM_F_MULTI;
	((struct xfrm_userpolicy_info *)mnl_nlmsg_get_payload(nlh))->index = 8 * 2 + 0;
	end(nlh);
	nlh = sa(XFRM_MSG_NEWSA, AF_INET, XFRM_MODE_TUNNEL, 0);
	nlh->nlmsg_flags = NLM_F_MULTI;
	put_aead(nlh, "rfc4106(gcm(aes))", 160, 128);
	end(nlh);
	end(msg(NLMSG_DONE, NLM_F_MULTI));
	save("dump-multi");

	/* an error answer */
	nlh = msg(NLMSG_ERROR, 0);
	{
		struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

		e->error = -ENOENT;
		e->msg.nlmsg_type = XFRM_MSG_GETAE;
		e->msg.nlmsg_len = sizeof(e->msg);
	}
	end(nlh);
	save("error");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_nl_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	sa_seeds();
	policy_seeds();
	other_seeds();
	return 0;
}
