// SPDX-License-Identifier: GPL-2.0
/* `espx policy add|del|list|flush` (policy.h): the words, the change
 * (model/pol_table.h) and its publication (platform/pol_store.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cmd/policy.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "model/pol_table.h"
#include "model/xfrm_parse.h"
#include "platform/datapath.h"
#include "platform/pol_store.h"

void policy_usage(FILE *f)
{
	fprintf(f,
		"Usage: espx policy add SELECTOR dir { in | out | fwd } [ priority N ] [ index N ]\n"
		"                       [ action { allow | block } ] [ ptype main ]\n"
		"                       [ tmpl [ src ADDR ] [ dst ADDR ] proto esp [ spi SPI ] [ reqid N ]\n"
		"                              [ mode { transport | tunnel } ] [ level { required | use } ] ]\n"
		"       espx policy { del | delete } { SELECTOR dir DIR | index N }\n"
		"       espx policy { list | show } [ -j ]\n"
		"       espx policy flush\n"
		"SELECTOR := [ src PREFIX ] [ dst PREFIX ] [ proto P [ sport N ] [ dport N ] ]\n");
}

static int change_add(struct pol_table *t, void *arg)
{
	return pol_insert(t, arg);
}

static int policy_add(int argc, char **argv)
{
	struct xp_policy p;
	struct xp_err perr;

	if (xp_parse_policy_add(argc, argv, &p, &perr)) {
		pr_warn("%s\n", perr.msg);
		return 2;
	}
	/* configuration may come before `espx attach` */
	if (espx_load())
		return 1;
	return policy_change(change_add, &p.pol) ? 1 : 0;
}

static int change_del(struct pol_table *t, void *arg)
{
	return pol_remove(t, arg);
}

static int policy_del(int argc, char **argv)
{
	struct xp_policy q;
	struct xp_err perr;

	if (xp_parse_policy_del(argc, argv, &q, &perr)) {
		pr_warn("%s\n", perr.msg);
		return 2;
	}
	return policy_change(change_del, &q) ? 1 : 0;
}

static int change_flush(struct pol_table *t, void *arg)
{
	memset(t->n, 0, sizeof(t->n));
	return 0;
}

static int policy_flush(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[0], "ptype") && !strcmp(argv[1], "main"))
		argc = 0;
	if (argc) {
		pr_warn("policy flush: unexpected '%s'; expected nothing or ptype main\n", argv[0]);
		return 2;
	}
	return policy_change(change_flush, NULL) ? 1 : 0;
}

/* ---- listing ---- */

static int is_icmp(__u8 proto)
{
	return proto == 1 || proto == 58;
}

static void pol_text(const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	const struct espx_tmpl *t = &p->tmpl;
	char buf[INET6_ADDRSTRLEN + 8], pn[8];

	prefix_str(s->saddr, s->family, s->prefixlen_s, buf, sizeof(buf));
	printf("src %s ", buf);
	prefix_str(s->daddr, s->family, s->prefixlen_d, buf, sizeof(buf));
	printf("dst %s", buf);
	if (s->proto)
		printf(" proto %s", xp_proto_name(s->proto, pn, sizeof(pn)));
	if (s->sport_mask)
		printf(" %s %u", is_icmp(s->proto) ? "type" : "sport", ntohs(s->sport));
	if (s->dport_mask)
		printf(" %s %u", is_icmp(s->proto) ? "code" : "dport", ntohs(s->dport));
	printf("\n\tdir %s priority %u index %u action %s ptype main\n", xp_dir_name(p->dir),
	       p->priority, p->index, p->action == ESPX_POL_BLOCK ? "block" : "allow");
	if (!(p->flags & ESPX_POL_F_TMPL))
		return;
	printf("\ttmpl");
	if (t->family && !addr_is_zero(t->saddr))
		printf(" src %s", addr_str(t->saddr, t->family, buf, sizeof(buf)));
	if (t->family && !addr_is_zero(t->daddr))
		printf(" dst %s", addr_str(t->daddr, t->family, buf, sizeof(buf)));
	printf("\n\t\tproto esp spi 0x%08x reqid %u mode %s level %s\n", ntohl(t->spi), t->reqid,
	       xp_mode_name(t->mode), t->optional ? "use" : "required");
	if (p->sa.spi)
		printf("\tsa dst %s spi 0x%08x\n",
		       addr_str(p->sa.daddr, p->sa.family, buf, sizeof(buf)), ntohl(p->sa.spi));
	else
		printf("\tsa none (%s)\n", t->optional ? "level use: passed in the clear" :
		       "no usable SA: packets are dropped");
}

static void tmpl_json(struct jw *w, const struct espx_tmpl *t)
{
	char buf[INET6_ADDRSTRLEN];

	jw_obj_open(w, "tmpl");
	if (t->family && !addr_is_zero(t->saddr))
		jw_str(w, "src", addr_str(t->saddr, t->family, buf, sizeof(buf)));
	if (t->family && !addr_is_zero(t->daddr))
		jw_str(w, "dst", addr_str(t->daddr, t->family, buf, sizeof(buf)));
	jw_str(w, "proto", "esp");
	jw_u64(w, "spi", ntohl(t->spi));
	jw_u64(w, "reqid", t->reqid);
	jw_str(w, "mode", xp_mode_name(t->mode));
	jw_str(w, "level", t->optional ? "use" : "required");
	jw_obj_close(w);
}

static void pol_json(struct jw *w, const struct espx_policy *p)
{
	const struct espx_sel *s = &p->sel;
	char buf[INET6_ADDRSTRLEN + 8], pn[8];

	jw_obj_open(w, NULL);
	jw_str(w, "family", s->family == AF_INET6 ? "inet6" : "inet");
	prefix_str(s->saddr, s->family, s->prefixlen_s, buf, sizeof(buf));
	jw_str(w, "src", buf);
	prefix_str(s->daddr, s->family, s->prefixlen_d, buf, sizeof(buf));
	jw_str(w, "dst", buf);
	jw_str(w, "proto", s->proto ? xp_proto_name(s->proto, pn, sizeof(pn)) : "any");
	if (s->sport_mask)
		jw_u64(w, is_icmp(s->proto) ? "type" : "sport", ntohs(s->sport));
	if (s->dport_mask)
		jw_u64(w, is_icmp(s->proto) ? "code" : "dport", ntohs(s->dport));
	jw_str(w, "dir", xp_dir_name(p->dir));
	jw_u64(w, "priority", p->priority);
	jw_u64(w, "index", p->index);
	jw_str(w, "action", p->action == ESPX_POL_BLOCK ? "block" : "allow");
	if (p->flags & ESPX_POL_F_TMPL) {
		tmpl_json(w, &p->tmpl);
		/* the SA the datapath uses; spi 0: none */
		jw_obj_open(w, "sa");
		jw_u64(w, "spi", ntohl(p->sa.spi));
		jw_str(w, "dst", p->sa.spi ? addr_str(p->sa.daddr, p->sa.family, buf,
							 sizeof(buf)) : "");
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

static int policy_list(int argc, char **argv, int json)
{
	struct pol_table *t = NULL;
	__u32 dir, i;
	struct jw w;
	int err;

	if (argc > 0) {
		pr_warn("policy list: unexpected '%s'; it takes no filters (only -j)\n", argv[0]);
		return 2;
	}
	err = policy_read(&t);
	if (!err) {
		jw_init(&w, stdout);
		if (json)
			jw_arr_open(&w, NULL);
		for (dir = 0; dir < ESPX_POL__MAX; dir++)
			for (i = 0; i < t->n[dir]; i++) {
				if (json)
					pol_json(&w, &t->p[dir][i]);
				else
					pol_text(&t->p[dir][i]);
			}
		if (json) {
			jw_arr_close(&w);
			jw_end(&w);
		}
	}
	free(t);
	return err ? 1 : 0;
}

int policy_cmd(int argc, char **argv, int json)
{
	const char *sub = argc > 1 ? argv[1] : "list";

	argc -= 2;
	argv += 2;
	if (argc < 0)
		argc = 0;
	if (!strcmp(sub, "add"))
		return policy_add(argc, argv);
	if (!strcmp(sub, "del") || !strcmp(sub, "delete"))
		return policy_del(argc, argv);
	if (!strcmp(sub, "list") || !strcmp(sub, "show"))
		return policy_list(argc, argv, json);
	if (!strcmp(sub, "flush"))
		return policy_flush(argc, argv);
	if (!strcmp(sub, "help")) {
		policy_usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "update")) {
		pr_warn("policy update is not supported; delete the policy and add it again\n");
		return 2;
	}
	pr_warn("policy: unknown command '%s'; expected add, del, list or flush\n", sub);
	return 2;
}
