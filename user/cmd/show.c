// SPDX-License-Identifier: GPL-2.0
/* One printer per object, text and JSON (show.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include "cmd/show.h"
#include "common/util.h"
#include "model/pol_table.h"
#include "model/xfrm_parse.h"

static int is_icmp(__u8 proto)
{
	return proto == 1 || proto == 58;
}

void sel_print(struct pw *p, const struct espx_sel *s, int unset_any)
{
	char buf[INET6_ADDRSTRLEN + 8], pn[8];
	int any = unset_any && !s->family;

	pw_str(p, PRINT_JSON, "family", NULL,
	       s->family == AF_INET6 ? "inet6" : any ? "any" : "inet");
	pw_str(p, PRINT_ANY, "src", "src %s ",
	       any ? "any" : prefix_str(s->saddr, s->family, s->prefixlen_s, buf, sizeof(buf)));
	pw_str(p, PRINT_ANY, "dst", "dst %s",
	       any ? "any" : prefix_str(s->daddr, s->family, s->prefixlen_d, buf, sizeof(buf)));
	pw_str(p, PRINT_JSON, "proto", NULL,
	       s->proto ? xp_proto_name(s->proto, pn, sizeof(pn)) : "any");
	if (s->proto)
		pw_str(p, PRINT_FP, NULL, " proto %s", xp_proto_name(s->proto, pn, sizeof(pn)));
	if (s->sport_mask)
		pw_uint(p, PRINT_ANY, is_icmp(s->proto) ? "type" : "sport",
			is_icmp(s->proto) ? " type %u" : " sport %u", ntohs(s->sport));
	if (s->dport_mask)
		pw_uint(p, PRINT_ANY, is_icmp(s->proto) ? "code" : "dport",
			is_icmp(s->proto) ? " code %u" : " dport %u", ntohs(s->dport));
}

/* The SA's flags of one ip xfrm table: text "flag noecn decap-dscp" (title
 * once, before the first), JSON an array of names. */
static void flags_print(struct pw *p, const char *key, const char *title,
			const struct xp_flag_name *t, __u32 flags)
{
	int any = 0;

	pw_arr_open(p, key);
	for (; t->name; t++) {
		if (!t->flag || !(flags & t->flag))
			continue;
		pw_str(p, PRINT_JSON, NULL, NULL, t->name);
		pw_text(p, "%s %s", any ? "" : title, t->name);
		any = 1;
	}
	pw_arr_close(p);
}

/* A lifetime limit: text "(INF)" or the number, JSON the number. */
static void limit_print(struct pw *p, const char *key, const char *fmt, __u64 v)
{
	char buf[24];

	if (v == ESPX_INF)
		snprintf(buf, sizeof(buf), "(INF)");
	else
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	pw_str(p, PRINT_FP, NULL, fmt, buf);
	pw_u64(p, PRINT_JSON, key, NULL, v);
}

void sa_print(struct pw *p, const struct espx_sa_key *key, const struct espx_sa *sa)
{
	char a[INET6_ADDRSTRLEN], t[24];
	int esn = !!(sa->flags & ESPX_SA_F_ESN);

	pw_obj_open(p, NULL);
	pw_str(p, PRINT_ANY, "src", "src %s ", addr_str(sa->saddr, sa->family, a, sizeof(a)));
	pw_str(p, PRINT_ANY, "dst", "dst %s\n", addr_str(key->daddr, key->family, a, sizeof(a)));
	pw_str(p, PRINT_JSON, "family", NULL, key->family == AF_INET6 ? "inet6" : "inet");
	pw_str(p, PRINT_JSON, "proto", NULL, "esp");
	pw_uint(p, PRINT_ANY, "spi", "\tproto esp spi 0x%08x", ntohl(key->spi));
	pw_uint(p, PRINT_ANY, "reqid", " reqid %u", sa->reqid);
	pw_str(p, PRINT_ANY, "mode", " mode %s\n", xp_mode_name(sa->mode));
	pw_uint(p, PRINT_ANY, "replay_window", "\treplay-window %u ", sa->replay_window);
	pw_u64(p, PRINT_ANY, "seq", esn ? "seq 0x%016llx" : "seq 0x%08llx", sa->seq);
	pw_u64(p, PRINT_ANY, "oseq", esn ? " oseq 0x%016llx" : " oseq 0x%08llx", sa->oseq);
	pw_bool(p, PRINT_JSON, "esn", NULL, esn);
	flags_print(p, "flags", " flag", xp_sa_flags, sa->flags);
	flags_print(p, "extra_flags", " extra_flag", xp_sa_extra_flags, sa->flags);
	pw_text(p, "\n");

	pw_obj_open(p, "aead");
	pw_str(p, PRINT_JSON, "name", NULL, XP_AEAD_NAME);
	pw_uint(p, PRINT_JSON, "key_bits", NULL, sa->key_len * 8);
	pw_uint(p, PRINT_ANY, "icv_bits", "\taead " XP_AEAD_NAME " <key not kept> %u\n",
		sa->icv_len * 8);
	pw_obj_close(p);
	if (sa->flags & ESPX_SA_F_ENCAP) {
		pw_obj_open(p, "encap");
		pw_str(p, PRINT_ANY, "type", "\tencap type %s", "espinudp");
		pw_uint(p, PRINT_ANY, "sport", " sport %u", ntohs(sa->encap_sport));
		pw_uint(p, PRINT_ANY, "dport", " dport %u\n", ntohs(sa->encap_dport));
		pw_obj_close(p);
	}
	pw_obj_open(p, "sel");
	pw_text(p, "\tsel ");
	sel_print(p, &sa->sel, 1);
	pw_obj_close(p);

	pw_obj_open(p, "lifetime");
	pw_text(p, "\n\tlifetime config:\n");
	limit_print(p, "byte_soft", "\t  limit: soft %s(bytes)", sa->lft.soft_bytes);
	limit_print(p, "byte_hard", ", hard %s(bytes)\n", sa->lft.hard_bytes);
	limit_print(p, "packet_soft", "\t  limit: soft %s(packets)", sa->lft.soft_packets);
	limit_print(p, "packet_hard", ", hard %s(packets)\n", sa->lft.hard_packets);
	pw_text(p, "\tlifetime current:\n");
	pw_u64(p, PRINT_JSON, "packets", NULL, sa->packets);
	pw_u64(p, PRINT_ANY, "bytes", "\t  %llu(bytes), ", sa->bytes);
	pw_u64(p, PRINT_FP, NULL, "%llu(packets)\n", sa->packets);
	pw_str(p, PRINT_FP, NULL, "\t  add %s ", boot_time_str(sa->add_time, t, sizeof(t)));
	pw_u64(p, PRINT_JSON, "add_time_ns", NULL, sa->add_time);
	pw_str(p, PRINT_FP, NULL, "use %s\n", boot_time_str(sa->use_time, t, sizeof(t)));
	pw_u64(p, PRINT_JSON, "use_time_ns", NULL, sa->use_time);
	pw_obj_close(p);

	pw_obj_open(p, "stats");
	pw_uint(p, PRINT_FP, NULL, "\tstats:\n\t  replay-window %u", sa->replay_window);
	pw_u64(p, PRINT_ANY, "replay", " replay %llu", sa->replay_drops);
	pw_u64(p, PRINT_ANY, "integrity_failed", " failed %llu\n", sa->integrity_failed);
	pw_obj_close(p);

	pw_uint(p, PRINT_FP, NULL, "\tespx: aes-%u", sa->key_len * 8);
	/* who seals and opens: the kernel's AEAD through espx_aead, or espx's GCM */
	pw_str(p, PRINT_ANY, "backend", " backend %s", sa->aead ? "aead" : "bpf");
	pw_bool(p, PRINT_JSON, "ready", NULL, !!(sa->flags & ESPX_SA_F_READY));
	pw_text(p, "%s", sa->flags & ESPX_SA_F_READY ? " ready" : " not-ready");
	pw_bool(p, PRINT_JSON, "soft_expired", NULL, !!(sa->flags & ESPX_SA_F_SOFT_SENT));
	pw_text(p, "%s", sa->flags & ESPX_SA_F_SOFT_SENT ? " soft-expired" : "");
	pw_bool(p, PRINT_JSON, "hard_expired", NULL, !!(sa->flags & ESPX_SA_F_HARD_SENT));
	pw_text(p, "%s\n", sa->flags & ESPX_SA_F_HARD_SENT ? " hard-expired" : "");
	pw_obj_close(p);
}

static void tmpl_print(struct pw *p, const struct espx_tmpl *t)
{
	char buf[INET6_ADDRSTRLEN];

	pw_obj_open(p, "tmpl");
	pw_text(p, "\ttmpl");
	if (t->family && !addr_is_zero(t->saddr))
		pw_str(p, PRINT_ANY, "src", " src %s", addr_str(t->saddr, t->family, buf, sizeof(buf)));
	if (t->family && !addr_is_zero(t->daddr))
		pw_str(p, PRINT_ANY, "dst", " dst %s", addr_str(t->daddr, t->family, buf, sizeof(buf)));
	pw_str(p, PRINT_ANY, "proto", "\n\t\tproto %s", "esp");
	pw_uint(p, PRINT_ANY, "spi", " spi 0x%08x", ntohl(t->spi));
	pw_uint(p, PRINT_ANY, "reqid", " reqid %u", t->reqid);
	pw_str(p, PRINT_ANY, "mode", " mode %s", xp_mode_name(t->mode));
	pw_str(p, PRINT_ANY, "level", " level %s\n", t->optional ? "use" : "required");
	pw_obj_close(p);
}

void pol_print(struct pw *p, const struct espx_policy *pol)
{
	char buf[INET6_ADDRSTRLEN];

	pw_obj_open(p, NULL);
	sel_print(p, &pol->sel, 0);
	pw_str(p, PRINT_ANY, "dir", "\n\tdir %s", xp_dir_name(pol->dir));
	pw_uint(p, PRINT_ANY, "priority", " priority %u", pol->priority);
	pw_uint(p, PRINT_ANY, "index", " index %u", pol->index);
	pw_str(p, PRINT_ANY, "action", " action %s ptype main\n",
	       pol->action == ESPX_POL_BLOCK ? "block" : "allow");
	if (pol->flags & ESPX_POL_F_TMPL) {
		tmpl_print(p, &pol->tmpl);
		/* the SA the datapath uses; spi 0: none */
		pw_obj_open(p, "sa");
		pw_uint(p, PRINT_JSON, "spi", NULL, ntohl(pol->sa.spi));
		pw_str(p, PRINT_JSON, "dst", NULL, pol->sa.spi ?
		       addr_str(pol->sa.daddr, pol->sa.family, buf, sizeof(buf)) : "");
		if (pol->sa.spi)
			pw_text(p, "\tsa dst %s spi 0x%08x\n",
				addr_str(pol->sa.daddr, pol->sa.family, buf, sizeof(buf)),
				ntohl(pol->sa.spi));
		else
			pw_text(p, "\tsa none (%s)\n", pol->tmpl.optional ?
				"level use: passed in the clear" : "no usable SA: packets are dropped");
		pw_obj_close(p);
	}
	pw_obj_close(p);
}

void sa_stats_print(struct pw *p, const struct espx_sa_key *key, const struct espx_sa *sa)
{
	char a[INET6_ADDRSTRLEN], t[32];

	pw_obj_open(p, NULL);
	pw_str(p, PRINT_ANY, "dst", "SA dst %s", addr_str(key->daddr, key->family, a, sizeof(a)));
	pw_uint(p, PRINT_ANY, "spi", " spi 0x%08x", ntohl(key->spi));
	pw_u64(p, PRINT_ANY, "packets", ": %llu packets", sa->packets);
	pw_u64(p, PRINT_ANY, "bytes", ", %llu bytes", sa->bytes);
	pw_str(p, PRINT_FP, NULL, ", last use %s", boot_time_str(sa->use_time, t, sizeof(t)));
	pw_u64(p, PRINT_JSON, "use_time_ns", NULL, sa->use_time);
	pw_u64(p, PRINT_ANY, "replay", ", replay %llu", sa->replay_drops);
	pw_u64(p, PRINT_ANY, "integrity_failed", ", integrity-failed %llu", sa->integrity_failed);
	pw_bool(p, PRINT_JSON, "soft_expired", NULL, !!(sa->flags & ESPX_SA_F_SOFT_SENT));
	pw_text(p, "%s", sa->flags & ESPX_SA_F_SOFT_SENT ? ", soft-expired" : "");
	pw_bool(p, PRINT_JSON, "hard_expired", NULL, !!(sa->flags & ESPX_SA_F_HARD_SENT));
	pw_text(p, "%s\n", sa->flags & ESPX_SA_F_HARD_SENT ? ", hard-expired" : "");
	pw_obj_close(p);
}
