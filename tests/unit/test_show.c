// SPDX-License-Identifier: GPL-2.0
/* One printer per object (user/cmd/show.h), no root needed: fixed SAs and
 * policies give exactly the text `espx state list` / `espx policy list` /
 * `espx stats` print and exactly the JSON of -j, from the same printer. Scripts and
 * users read both, so every byte is pinned here. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "cmd/show.h"

enum what { SA, POL, STATS };

static const struct espx_sa_key *g_key;
static const struct espx_sa *g_sa;
static const struct espx_policy *g_pol;

static void expect(const char *name, enum what w, int json, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pw p;

	pw_init(&p, f, json);
	if (w == SA)
		sa_print(&p, g_key, g_sa);
	else if (w == STATS)
		sa_stats_print(&p, g_key, g_sa);
	else
		pol_print(&p, g_pol);
	pw_end(&p);
	fclose(f);
	check(len == strlen(want) && !memcmp(buf, want, len), name, "got\n%s\nwant\n%s", buf, want);
	free(buf);
}

static __u32 v4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void test_sa_v4(void)
{
	struct espx_sa_key k = { .family = AF_INET, .spi = htonl(0x1001) };
	struct espx_sa *sa = calloc(1, sizeof(*sa));

	k.daddr[0] = v4("10.88.0.2");
	sa->family = AF_INET;
	sa->saddr[0] = v4("10.88.0.1");
	sa->reqid = 5;
	sa->mode = ESPX_MODE_TUNNEL;
	sa->replay_window = 64;
	sa->seq = 3;
	sa->oseq = 0x10;
	sa->flags = ESPX_SA_F_ENCAP | ESPX_SA_F_SOFT_SENT;
	sa->key_len = 16;
	sa->icv_len = 16;
	sa->encap_sport = htons(4500);
	sa->encap_dport = htons(4501);
	sa->sel.family = AF_INET;
	sa->sel.saddr[0] = v4("10.9.0.0");
	sa->sel.prefixlen_s = 16;
	sa->sel.daddr[0] = v4("10.8.0.0");
	sa->sel.prefixlen_d = 16;
	sa->sel.proto = 1;
	sa->sel.sport = htons(8);
	sa->sel.sport_mask = 0xffff;
	sa->lft.soft_bytes = ESPX_INF;
	sa->lft.hard_bytes = 1048576;
	sa->lft.soft_packets = 1000;
	sa->lft.hard_packets = ESPX_INF;
	sa->bytes = 1500;
	sa->packets = 2;
	sa->replay_drops = 4;
	sa->integrity_failed = 5;
	g_key = &k;
	g_sa = sa;
	expect("sa_v4_text", SA, 0,
	       "src 10.88.0.1 dst 10.88.0.2\n"
	       "\tproto esp spi 0x00001001 reqid 5 mode tunnel\n"
	       "\treplay-window 64 seq 0x00000003 oseq 0x00000010\n"
	       "\taead rfc4106(gcm(aes)) <key not kept> 128\n"
	       "\tencap type espinudp sport 4500 dport 4501\n"
	       "\tsel src 10.9.0.0/16 dst 10.8.0.0/16 proto icmp type 8\n"
	       "\tlifetime config:\n"
	       "\t  limit: soft (INF)(bytes), hard 1048576(bytes)\n"
	       "\t  limit: soft 1000(packets), hard (INF)(packets)\n"
	       "\tlifetime current:\n"
	       "\t  1500(bytes), 2(packets)\n"
	       "\t  add - use -\n"
	       "\tstats:\n"
	       "\t  replay-window 64 replay 4 failed 5\n"
	       "\tespx: aes-128 backend bpf not-ready soft-expired\n");
	expect("sa_v4_json", SA, 1,
	       "{\"src\":\"10.88.0.1\",\"dst\":\"10.88.0.2\",\"family\":\"inet\",\"proto\":\"esp\","
	       "\"spi\":4097,\"reqid\":5,\"mode\":\"tunnel\",\"replay_window\":64,\"seq\":3,"
	       "\"oseq\":16,\"esn\":false,\"flags\":[],\"extra_flags\":[],"
	       "\"aead\":{\"name\":\"rfc4106(gcm(aes))\",\"key_bits\":128,\"icv_bits\":128},"
	       "\"encap\":{\"type\":\"espinudp\",\"sport\":4500,\"dport\":4501},"
	       "\"sel\":{\"family\":\"inet\",\"src\":\"10.9.0.0/16\",\"dst\":\"10.8.0.0/16\","
	       "\"proto\":\"icmp\",\"type\":8},"
	       "\"lifetime\":{\"byte_soft\":18446744073709551615,\"byte_hard\":1048576,"
	       "\"packet_soft\":1000,\"packet_hard\":18446744073709551615,\"packets\":2,"
	       "\"bytes\":1500,\"add_time_ns\":0,\"use_time_ns\":0},"
	       "\"stats\":{\"replay\":4,\"integrity_failed\":5},"
	       "\"backend\":\"bpf\",\"ready\":false,\"soft_expired\":true,\"hard_expired\":false}\n");
	expect("sa_stats_text", STATS, 0,
	       "SA dst 10.88.0.2 spi 0x00001001: 2 packets, 1500 bytes, last use -, replay 4, "
	       "integrity-failed 5, soft-expired\n");
	expect("sa_stats_json", STATS, 1,
	       "{\"dst\":\"10.88.0.2\",\"spi\":4097,\"packets\":2,\"bytes\":1500,"
	       "\"use_time_ns\":0,\"replay\":4,\"integrity_failed\":5,"
	       "\"soft_expired\":true,\"hard_expired\":false}\n");
	free(sa);
}

static void test_sa_v6_esn(void)
{
	struct espx_sa_key k = { .family = AF_INET6, .spi = htonl(4096) };
	struct espx_sa *sa = calloc(1, sizeof(*sa));

	inet_pton(AF_INET6, "2001:db8::2", k.daddr);
	sa->family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", sa->saddr);
	sa->mode = ESPX_MODE_TRANSPORT;
	sa->replay_window = 128;
	sa->oseq = 0x100000007ULL;
	sa->flags = ESPX_SA_F_ESN | ESPX_SA_F_READY | ESPX_SA_F_HARD_SENT;
	sa->key_len = 32;
	sa->icv_len = 12;
	sa->aead = 0x100000001ULL;	/* a context of the AEAD backend */
	sa->lft.soft_bytes = sa->lft.hard_bytes = ESPX_INF;
	sa->lft.soft_packets = sa->lft.hard_packets = ESPX_INF;
	g_key = &k;
	g_sa = sa;
	expect("sa_v6_esn_text", SA, 0,
	       "src 2001:db8::1 dst 2001:db8::2\n"
	       "\tproto esp spi 0x00001000 reqid 0 mode transport\n"
	       "\treplay-window 128 seq 0x0000000000000000 oseq 0x0000000100000007 flag esn\n"
	       "\taead rfc4106(gcm(aes)) <key not kept> 96\n"
	       "\tsel src any dst any\n"
	       "\tlifetime config:\n"
	       "\t  limit: soft (INF)(bytes), hard (INF)(bytes)\n"
	       "\t  limit: soft (INF)(packets), hard (INF)(packets)\n"
	       "\tlifetime current:\n"
	       "\t  0(bytes), 0(packets)\n"
	       "\t  add - use -\n"
	       "\tstats:\n"
	       "\t  replay-window 128 replay 0 failed 0\n"
	       "\tespx: aes-256 backend aead ready hard-expired\n");
	expect("sa_v6_esn_json_sel_any", SA, 1,
	       "{\"src\":\"2001:db8::1\",\"dst\":\"2001:db8::2\",\"family\":\"inet6\","
	       "\"proto\":\"esp\",\"spi\":4096,\"reqid\":0,\"mode\":\"transport\","
	       "\"replay_window\":128,\"seq\":0,\"oseq\":4294967303,\"esn\":true,"
	       "\"flags\":[\"esn\"],\"extra_flags\":[],"
	       "\"aead\":{\"name\":\"rfc4106(gcm(aes))\",\"key_bits\":256,\"icv_bits\":96},"
	       "\"sel\":{\"family\":\"any\",\"src\":\"any\",\"dst\":\"any\",\"proto\":\"any\"},"
	       "\"lifetime\":{\"byte_soft\":18446744073709551615,"
	       "\"byte_hard\":18446744073709551615,\"packet_soft\":18446744073709551615,"
	       "\"packet_hard\":18446744073709551615,\"packets\":0,\"bytes\":0,"
	       "\"add_time_ns\":0,\"use_time_ns\":0},"
	       "\"stats\":{\"replay\":0,\"integrity_failed\":0},"
	       "\"backend\":\"aead\",\"ready\":true,\"soft_expired\":false,\"hard_expired\":true}\n");
	free(sa);
}

static void test_policy(void)
{
	struct espx_policy p = { 0 };

	p.sel.family = AF_INET;
	p.sel.saddr[0] = v4("10.1.0.0");
	p.sel.prefixlen_s = 16;
	p.sel.daddr[0] = v4("10.2.0.0");
	p.sel.prefixlen_d = 16;
	p.sel.proto = 17;
	p.sel.dport = htons(53);
	p.sel.dport_mask = 0xffff;
	p.dir = ESPX_POL_OUT;
	p.priority = 7;
	p.index = 9;
	p.flags = ESPX_POL_F_TMPL;
	p.tmpl.family = AF_INET;
	p.tmpl.saddr[0] = v4("10.88.0.1");
	p.tmpl.daddr[0] = v4("10.88.0.2");
	p.tmpl.reqid = 5;
	p.tmpl.mode = ESPX_MODE_TUNNEL;
	p.sa.family = AF_INET;
	p.sa.daddr[0] = v4("10.88.0.2");
	p.sa.spi = htonl(0x1001);
	g_pol = &p;
	expect("policy_tmpl_sa_text", POL, 0,
	       "src 10.1.0.0/16 dst 10.2.0.0/16 proto udp dport 53\n"
	       "\tdir out priority 7 index 9 action allow ptype main\n"
	       "\ttmpl src 10.88.0.1 dst 10.88.0.2\n"
	       "\t\tproto esp spi 0x00000000 reqid 5 mode tunnel level required\n"
	       "\tsa dst 10.88.0.2 spi 0x00001001\n");
	expect("policy_tmpl_sa_json", POL, 1,
	       "{\"family\":\"inet\",\"src\":\"10.1.0.0/16\",\"dst\":\"10.2.0.0/16\","
	       "\"proto\":\"udp\",\"dport\":53,\"dir\":\"out\",\"priority\":7,\"index\":9,"
	       "\"action\":\"allow\",\"tmpl\":{\"src\":\"10.88.0.1\",\"dst\":\"10.88.0.2\","
	       "\"proto\":\"esp\",\"spi\":0,\"reqid\":5,\"mode\":\"tunnel\",\"level\":\"required\"},"
	       "\"sa\":{\"spi\":4097,\"dst\":\"10.88.0.2\"}}\n");
	/* transport template, level use, no SA */
	memset(&p.tmpl, 0, sizeof(p.tmpl));
	p.tmpl.mode = ESPX_MODE_TRANSPORT;
	p.tmpl.optional = 1;
	memset(&p.sa, 0, sizeof(p.sa));
	expect("policy_use_no_sa_text", POL, 0,
	       "src 10.1.0.0/16 dst 10.2.0.0/16 proto udp dport 53\n"
	       "\tdir out priority 7 index 9 action allow ptype main\n"
	       "\ttmpl\n"
	       "\t\tproto esp spi 0x00000000 reqid 0 mode transport level use\n"
	       "\tsa none (level use: passed in the clear)\n");
	expect("policy_use_no_sa_json", POL, 1,
	       "{\"family\":\"inet\",\"src\":\"10.1.0.0/16\",\"dst\":\"10.2.0.0/16\","
	       "\"proto\":\"udp\",\"dport\":53,\"dir\":\"out\",\"priority\":7,\"index\":9,"
	       "\"action\":\"allow\",\"tmpl\":{\"proto\":\"esp\",\"spi\":0,\"reqid\":0,"
	       "\"mode\":\"transport\",\"level\":\"use\"},\"sa\":{\"spi\":0,\"dst\":\"\"}}\n");
	/* block, no template, IPv6 ICMP type/code */
	memset(&p, 0, sizeof(p));
	p.sel.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:5::", p.sel.saddr);
	p.sel.prefixlen_s = 48;
	p.sel.prefixlen_d = 0;
	p.sel.proto = 58;
	p.sel.sport = htons(128);
	p.sel.sport_mask = 0xffff;
	p.sel.dport = htons(0);
	p.sel.dport_mask = 0xffff;
	p.dir = ESPX_POL_FWD;
	p.action = ESPX_POL_BLOCK;
	p.index = 66;
	expect("policy_block_v6_icmp_text", POL, 0,
	       "src 2001:db8:5::/48 dst ::/0 proto ipv6-icmp type 128 code 0\n"
	       "\tdir fwd priority 0 index 66 action block ptype main\n");
	expect("policy_block_v6_icmp_json", POL, 1,
	       "{\"family\":\"inet6\",\"src\":\"2001:db8:5::/48\",\"dst\":\"::/0\","
	       "\"proto\":\"ipv6-icmp\",\"type\":128,\"code\":0,\"dir\":\"fwd\",\"priority\":0,"
	       "\"index\":66,\"action\":\"block\"}\n");
}

int main(void)
{
	test_sa_v4();
	test_sa_v6_esn();
	test_policy();
	return failed;
}
