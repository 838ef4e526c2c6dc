// SPDX-License-Identifier: GPL-2.0
/* `ip xfrm` syntax parsing (user/model/xfrm_parse.h), no root needed.
 * Lines that real users paste (iproute2 manual, kernel selftests such as
 * pmtu.sh and xfrm_policy.sh, strongSwan/libreswan set-ups) must give the
 * exact structs the datapath reads; every line espx cannot honour must be
 * refused with a message naming the word, and no message may ever contain
 * key material. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "model/xfrm_parse.h"

#include "check.h"

#define K128 "0x0123456789012345678901234567890123456789"
#define K192 "0x000102030405060708090a0b0c0d0e0f1011121314151617deadbeef"
#define K256 "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fcafebabe"
#define AEAD "aead 'rfc4106(gcm(aes))' "
#define ID4 "src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 "

/* Split a line into words as the shell would (single quotes only). */
struct words {
	char buf[1024];
	char *argv[64];
	int argc;
};

static void split(struct words *w, const char *line)
{
	char *p = w->buf, *out = w->buf;
	int quoted = 0;

	snprintf(w->buf, sizeof(w->buf), "%s", line);
	w->argc = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		w->argv[w->argc++] = out;
		for (; *p && (quoted || *p != ' '); p++) {
			if (*p == '\'')
				quoted = !quoted;
			else
				*out++ = *p;
		}
		if (*p)
			p++;
		*out++ = '\0';
	}
	w->argv[w->argc] = NULL;
}

/* Does a message repeat (part of) any key used here? */
static int leaks_key(const char *msg)
{
	static const char *const keys[] = {
		K128 + 2, K192 + 2, K256 + 2, "0123456789abcdef", "mysecretpassword", "01234567"
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strstr(msg, keys[i]))
			return 1;
	return 0;
}

static struct xp_state st;

static int state_ok(const char *name, const char *line)
{
	struct xp_err err;
	struct words w;

	split(&w, line);
	if (xp_parse_state_add(w.argc, w.argv, &st, &err)) {
		check(0, name, "refused '%s': %s", line, err.msg);
		return 0;
	}
	check(1, name, "%s", "");
	return 1;
}

static void state_bad(const char *name, const char *line, const char *want)
{
	struct xp_err err;
	struct words w;
	int r;

	split(&w, line);
	r = xp_parse_state_add(w.argc, w.argv, &st, &err);
	if (!r)
		check(0, name, "accepted '%s'", line);
	else if (!strstr(err.msg, want))
		check(0, name, "message '%s' does not say '%s'", err.msg, want);
	else if (leaks_key(err.msg))
		check(0, name, "message shows the key: %s", err.msg);
	else if (st.aes_key_len || st.aes_key[0] || st.sa.salt[0])
		check(0, name, "key material left in the result after a refusal");
	else
		check(1, name, "%s", "");
}

static __u32 ip4(const char *s)
{
	__u32 a = 0;

	inet_pton(AF_INET, s, &a);
	return a;
}

static int ip6_eq(const __u32 *a, const char *s)
{
	__u32 b[4];

	inet_pton(AF_INET6, s, b);
	return !memcmp(a, b, 16);
}

static int all_inf(const struct espx_lft *l)
{
	return l->soft_bytes == ESPX_INF && l->hard_bytes == ESPX_INF &&
	       l->soft_packets == ESPX_INF && l->hard_packets == ESPX_INF;
}

static void state_good(void)
{
	static const __u8 k128[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x23, 0x45,
				       0x67, 0x89, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01 };
	static const __u8 salt128[4] = { 0x23, 0x45, 0x67, 0x89 };
	static const __u8 salt256[4] = { 0xca, 0xfe, 0xba, 0xbe };
	int i, ok;

	/* tools/testing/selftests/net/pmtu.sh */
	if (state_ok("state_pmtu_sh_line",
		     "src 10.0.1.1 dst 10.0.1.2 spi 0x1000 proto esp aead 'rfc4106(gcm(aes))' "
		     K128 " 128 mode tunnel")) {
		check(st.key.family == AF_INET && st.key.daddr[0] == ip4("10.0.1.2") &&
		      !st.key.daddr[1] && st.key.spi == htonl(0x1000),
		      "state_pmtu_key", "key family %u spi %08x", st.key.family, ntohl(st.key.spi));
		check(st.sa.family == AF_INET && st.sa.saddr[0] == ip4("10.0.1.1") &&
		      st.sa.daddr[0] == ip4("10.0.1.2") && st.sa.mode == ESPX_MODE_TUNNEL,
		      "state_pmtu_addrs_mode", "mode %u", st.sa.mode);
		check(st.aes_key_len == 16 && st.sa.key_len == 16 &&
		      !memcmp(st.aes_key, k128, 16) && !memcmp(st.sa.salt, salt128, 4),
		      "state_pmtu_key_salt_split", "key_len %zu", st.aes_key_len);
		check(st.sa.icv_len == 16, "state_pmtu_icv", "icv_len %u", st.sa.icv_len);
		check(all_inf(&st.sa.lft) && !st.sa.replay_window && !st.sa.flags &&
		      !st.sa.reqid && !st.sa.seq && !st.sa.oseq && !st.sa.sel.family &&
		      st.driver == ESPX_AES_KERNEL,
		      "state_defaults", "lifetimes INF, window 0, no flags, any selector");
		check(st.key_arg == 10, "state_key_arg", "key_arg %d", st.key_arg);
	}

	if (state_ok("state_ipv6_aes256_sel",
		     "src 2001:db8::1 dst 2001:db8::2 proto esp spi 4096 reqid 7 mode transport "
		     AEAD K256 " 96 sel src 2001:db8::1/128 dst 2001:db8::2 proto tcp dport 443")) {
		check(st.key.family == AF_INET6 && ip6_eq(st.key.daddr, "2001:db8::2") &&
		      ip6_eq(st.sa.saddr, "2001:db8::1") && st.key.spi == htonl(4096),
		      "state_ipv6_key", "family %u", st.key.family);
		check(st.aes_key_len == 32 && st.aes_key[31] == 0x1f &&
		      !memcmp(st.sa.salt, salt256, 4) && st.sa.icv_len == 12 && st.sa.reqid == 7 &&
		      st.sa.mode == ESPX_MODE_TRANSPORT,
		      "state_ipv6_aes256_icv96", "key %zu icv %u", st.aes_key_len, st.sa.icv_len);
		check(st.sa.sel.family == AF_INET6 && st.sa.sel.prefixlen_s == 128 &&
		      st.sa.sel.prefixlen_d == 128 && ip6_eq(st.sa.sel.daddr, "2001:db8::2") &&
		      st.sa.sel.proto == 6 && st.sa.sel.dport == htons(443) &&
		      st.sa.sel.dport_mask == 0xffff && !st.sa.sel.sport_mask,
		      "state_ipv6_selector", "sel family %u proto %u", st.sa.sel.family,
		      st.sa.sel.proto);
	}

	if (state_ok("state_esn",
		     "src 192.0.2.1 dst 192.0.2.2 proto esp spi 0xc0ffee replay-window 128 flag esn "
		     "replay-seq 0x10 replay-seq-hi 2 replay-oseq 5 replay-oseq-hi 1 "
		     AEAD K192 " 64")) {
		check(st.sa.flags == ESPX_SA_F_ESN && st.sa.replay_window == 128,
		      "state_esn_flag_window", "flags %x window %u", st.sa.flags,
		      st.sa.replay_window);
		check(st.sa.seq == (2ULL << 32 | 0x10) && st.sa.oseq == (1ULL << 32 | 5),
		      "state_esn_seq_hi", "seq %llx oseq %llx", (unsigned long long)st.sa.seq,
		      (unsigned long long)st.sa.oseq);
		check(st.aes_key_len == 24 && st.sa.icv_len == 8 && st.sa.key_len == 24,
		      "state_aes192_icv64", "key %zu icv %u", st.aes_key_len, st.sa.icv_len);
	}

	/* the ECN/DSCP/DF flags, as iproute2 spells them */
	if (state_ok("state_flags_ecn_dscp_df",
		     ID4 AEAD K128 " 128 mode tunnel flag noecn decap-dscp nopmtudisc "
		     "extra-flag dont-encap-dscp reqid 3"))
		check(st.sa.flags == (ESPX_SA_F_NOECN | ESPX_SA_F_DECAP_DSCP | ESPX_SA_F_NOPMTUDISC |
				      ESPX_SA_F_DONT_ENCAP_DSCP) && st.sa.reqid == 3,
		      "state_flags_ecn_dscp_df_set", "flags %x reqid %u", st.sa.flags, st.sa.reqid);
	if (state_ok("state_flags_each_once", ID4 AEAD K128 " 128 flag decap-dscp"))
		check(st.sa.flags == ESPX_SA_F_DECAP_DSCP, "state_flag_decap_dscp_only", "flags %x",
		      st.sa.flags);
	/* flag words may repeat, as ip xfrm allows; flag lists end at the next word */
	if (state_ok("state_flags_two_lists",
		     ID4 "replay-window 32 flag esn " AEAD K128 " 128 flag noecn esn"))
		check(st.sa.flags == (ESPX_SA_F_ESN | ESPX_SA_F_NOECN) && st.sa.replay_window == 32,
		      "state_flags_two_lists_merged", "flags %x", st.sa.flags);
	/* af-unspec (strongSwan and libreswan on every tunnel SA) and align4
	 * (AH only) change nothing espx does: accepted, no bit, and a state
	 * without sel still takes any inner family */
	if (state_ok("state_flag_af_unspec_align4",
		     ID4 AEAD K128 " 128 mode tunnel flag af-unspec align4"))
		check(!st.sa.flags && !st.sa.sel.family, "state_flag_af_unspec_align4_no_effect",
		      "flags %x sel family %u", st.sa.flags, st.sa.sel.family);
	if (state_ok("state_flag_af_unspec_esn",
		     ID4 "replay-window 64 flag af-unspec esn " AEAD K128 " 128 mode tunnel"))
		check(st.sa.flags == ESPX_SA_F_ESN, "state_flag_af_unspec_esn_bits", "flags %x",
		      st.sa.flags);

	/* NAT-T as strongSwan installs it */
	if (state_ok("state_encap",
		     "src 198.51.100.10 dst 203.0.113.5 proto esp spi 0xcafe0001 reqid 2 mode tunnel "
		     "replay-window 32 flag esn " AEAD K128 " 128 encap espinudp 4500 4501 0.0.0.0"))
		check(st.sa.flags == (ESPX_SA_F_ESN | ESPX_SA_F_ENCAP) &&
		      st.sa.encap_sport == htons(4500) && st.sa.encap_dport == htons(4501),
		      "state_encap_ports", "flags %x sport %u", st.sa.flags, ntohs(st.sa.encap_sport));
	/* the datapath cannot give ESP in UDP over IPv6 a checksum: refused */
	state_bad("state_encap_ipv6_refused",
		  "src 2001:db8::a dst 2001:db8::b proto esp spi 9 " AEAD K128
		  " 128 encap espinudp 4500 4500 ::", "over IPv6");

	if (state_ok("state_limits",
		     ID4 AEAD K128 " 128 limit byte-soft 1000 limit byte-hard 2000 "
		     "limit packet-soft 10 packet-hard 0x20"))
		check(st.sa.lft.soft_bytes == 1000 && st.sa.lft.hard_bytes == 2000 &&
		      st.sa.lft.soft_packets == 10 && st.sa.lft.hard_packets == 32,
		      "state_limits_values", "%llu %llu %llu %llu",
		      (unsigned long long)st.sa.lft.soft_bytes,
		      (unsigned long long)st.sa.lft.hard_bytes,
		      (unsigned long long)st.sa.lft.soft_packets,
		      (unsigned long long)st.sa.lft.hard_packets);
	if (state_ok("state_one_limit", ID4 AEAD K128 " 128 limit packet-hard 5"))
		check(st.sa.lft.hard_packets == 5 && st.sa.lft.soft_packets == ESPX_INF &&
		      st.sa.lft.soft_bytes == ESPX_INF, "state_unset_limits_inf", "%s", "");

	if (state_ok("state_aes_driver", ID4 AEAD K128 " 128 aes-driver generic"))
		check(st.driver == ESPX_AES_GENERIC, "state_aes_driver_generic", "driver %d",
		      st.driver);
	if (state_ok("state_backend_default", ID4 AEAD K128 " 128"))
		check(st.sa.backend == ESPX_BACKEND_AUTO, "state_backend_default_auto", "backend %d",
		      st.sa.backend);
	if (state_ok("state_backend_aead", ID4 AEAD K128 " 128 backend aead"))
		check(st.sa.backend == ESPX_BACKEND_AEAD, "state_backend_aead_set", "backend %d",
		      st.sa.backend);
	if (state_ok("state_backend_bpf", ID4 AEAD K128 " 128 backend bpf"))
		check(st.sa.backend == ESPX_BACKEND_BPF, "state_backend_bpf_set", "backend %d",
		      st.sa.backend);
	if (state_ok("state_any_order",
		     AEAD K128 " 128 spi 256 proto esp dst 10.0.0.2 mode tunnel src 10.0.0.1"))
		check(st.key.spi == htonl(256) && st.key.daddr[0] == ip4("10.0.0.2") &&
		      st.sa.mode == ESPX_MODE_TUNNEL, "state_any_order_fields", "spi %08x",
		      ntohl(st.key.spi));
	if (state_ok("state_upper_hex_key",
		     ID4 "aead rfc4106(gcm(aes)) 0X0123456789ABCDEF0123456789ABCDEF01234567 128"))
		check(st.aes_key[0] == 0x01 && st.aes_key[7] == 0xef && st.sa.salt[3] == 0x67,
		      "state_upper_hex_key_bytes", "%s", "");
	if (state_ok("state_sel_icmp",
		     ID4 AEAD K128 " 128 sel src 10.0.0.0/8 dst 10.1.0.0/16 proto icmp type 8 code 0"))
		check(st.sa.sel.proto == 1 && st.sa.sel.sport == htons(8) &&
		      st.sa.sel.sport_mask == 0xffff && st.sa.sel.dport_mask == 0xffff &&
		      st.sa.sel.prefixlen_s == 8 && st.sa.sel.prefixlen_d == 16,
		      "state_sel_icmp_type_code", "%s", "");
	/* tunnel: IPv6 inside IPv4 is fine */
	state_ok("state_tunnel_v6_in_v4",
		 ID4 AEAD K128 " 128 mode tunnel sel src 2001:db8:1::/48 dst 2001:db8:2::/48");
	state_ok("state_replay_window_max", ID4 AEAD K128 " 128 replay-window 4096");

	/* the key is wiped from the result when a later word is refused */
	ok = 1;
	state_bad("state_refused_after_key_is_wiped", ID4 AEAD K128 " 128 enc cbc(aes) 0x00",
		  "'enc'");
	for (i = 0; i < (int)sizeof(st.aes_key); i++)
		ok &= !st.aes_key[i];
	check(ok, "state_refusal_zeroes_key", "%s", "key bytes left");
}

static void state_refused(void)
{
	/* tools/testing/selftests/net/xfrm_policy.sh */
	state_bad("state_bad_auth_trunc",
		  "src 10.0.1.1 dst 10.0.1.2 spi 0x1 proto esp auth-trunc 'hmac(sha1)' "
		  "0x0123456789012345678901234567890123456789 96 enc 'cbc(aes)' "
		  "0x0123456789012345678901234567890123456789012345678901234567890123 mode tunnel",
		  "'auth-trunc'");
	state_bad("state_bad_auth", ID4 "auth 'hmac(sha256)' 0x00 enc 'cbc(aes)' 0x00", "'auth'");
	state_bad("state_bad_ccm", ID4 "aead 'rfc4309(ccm(aes))' " K128 " 128",
		  "'rfc4309(ccm(aes))'");
	state_bad("state_bad_chacha", ID4 "aead 'rfc7539esp(chacha20,poly1305)' " K128 " 128",
		  "rfc7539esp(chacha20,poly1305)");
	state_bad("state_bad_gcm_no_rfc4106", ID4 "aead 'gcm(aes)' " K128 " 128", "'gcm(aes)'");
	state_bad("state_bad_proto_ah", "src 192.0.2.1 dst 192.0.2.2 proto ah spi 1 " AEAD K128
		  " 128", "'ah'");
	state_bad("state_bad_proto_comp", "src 192.0.2.1 dst 192.0.2.2 proto comp spi 1", "'comp'");
	state_bad("state_bad_proto_other", "src 192.0.2.1 dst 192.0.2.2 proto tcp spi 1", "'tcp'");
	state_bad("state_bad_mode_beet", ID4 AEAD K128 " 128 mode beet", "'beet'");
	state_bad("state_bad_mode_value", ID4 AEAD K128 " 128 mode sideways", "'sideways'");
	/* flags espx cannot honour as the kernel does, wherever they stand */
	state_bad("state_bad_flag_wildrecv", ID4 AEAD K128 " 128 flag wildrecv", "'wildrecv'");
	state_bad("state_bad_flag_icmp_after_esn",
		  ID4 AEAD K128 " 128 replay-window 32 flag esn icmp", "'icmp'");
	state_bad("state_bad_flag_wildrecv_says_why", ID4 AEAD K128 " 128 flag noecn wildrecv",
		  "Mobile IPv6");
	state_bad("state_bad_extra_flag_oseq_may_wrap",
		  ID4 AEAD K128 " 128 extra-flag oseq-may-wrap", "'oseq-may-wrap'");
	state_bad("state_bad_extra_flag_unknown", ID4 AEAD K128 " 128 extra-flag bogus",
		  "'bogus'");
	state_bad("state_bad_extra_flag_missing", ID4 AEAD K128 " 128 extra-flag", "'extra-flag'");
	/* a state flag is not an extra flag, nor the other way round */
	state_bad("state_bad_extra_flag_noecn", ID4 AEAD K128 " 128 extra-flag noecn", "'noecn'");
	state_bad("state_bad_flag_dont_encap_dscp", ID4 AEAD K128 " 128 flag dont-encap-dscp",
		  "'dont-encap-dscp'");
	state_bad("state_bad_flag_unknown", ID4 AEAD K128 " 128 flag bogus", "'bogus'");
	state_bad("state_bad_flag_missing", ID4 AEAD K128 " 128 flag", "'flag'");
	state_bad("state_bad_output_mark", ID4 AEAD K128 " 128 output-mark 5", "'output-mark'");
	state_bad("state_bad_offload", ID4 AEAD K128 " 128 offload dev eth0 dir out", "'offload'");
	state_bad("state_bad_mark", ID4 AEAD K128 " 128 mark 7", "'mark'");
	state_bad("state_bad_if_id", ID4 AEAD K128 " 128 if_id 3", "'if_id'");
	state_bad("state_bad_ctx", ID4 AEAD K128 " 128 ctx system_u", "'ctx'");
	state_bad("state_bad_tfcpad", ID4 AEAD K128 " 128 tfcpad 100", "'tfcpad'");
	state_bad("state_bad_espintcp", ID4 AEAD K128 " 128 encap espintcp 4500 4500 0.0.0.0",
		  "'espintcp'");
	state_bad("state_bad_nonike", ID4 AEAD K128 " 128 encap espinudp-nonike 4500 4500 0.0.0.0",
		  "'espinudp-nonike'");
	state_bad("state_bad_encap_short", ID4 AEAD K128 " 128 encap espinudp 4500 4500", "OADDR");
	state_bad("state_bad_encap_port", ID4 AEAD K128 " 128 encap espinudp 70000 4500 0.0.0.0",
		  "'70000'");
	state_bad("state_bad_encap_dport", ID4 AEAD K128 " 128 encap espinudp 4500 0 0.0.0.0",
		  "encap port '0'");
	state_bad("state_bad_encap_oaddr", ID4 AEAD K128 " 128 encap espinudp 4500 4500 nowhere",
		  "'nowhere'");
	state_bad("state_bad_time_limit", ID4 AEAD K128 " 128 limit time-soft 3600", "'time-soft'");
	state_bad("state_bad_limit_word", ID4 AEAD K128 " 128 limit bytes 10", "'bytes'");
	state_bad("state_bad_limit_value", ID4 AEAD K128 " 128 limit byte-soft lots", "'lots'");
	state_bad("state_bad_sel_dev", ID4 AEAD K128 " 128 sel src 10.0.0.0/8 dev eth0", "'dev'");
	state_bad("state_bad_sel_empty", ID4 AEAD K128 " 128 sel", "'sel'");
	state_bad("state_bad_sel_plen", ID4 AEAD K128 " 128 sel src 10.0.0.0/33", "10.0.0.0/33");
	state_bad("state_bad_sel_families", ID4 AEAD K128 " 128 mode tunnel sel src 10.0.0.0/8 dst ::/0",
		  "different families");
	state_bad("state_bad_sel_port_no_proto", ID4 AEAD K128 " 128 sel sport 80", "'sport'");
	state_bad("state_bad_sel_port_icmp", ID4 AEAD K128 " 128 sel proto icmp dport 80", "'dport'");
	state_bad("state_bad_sel_proto", ID4 AEAD K128 " 128 sel proto nosuch", "'nosuch'");
	state_bad("state_bad_transport_sel_family",
		  ID4 AEAD K128 " 128 sel src 2001:db8::/32", "selector");
	state_bad("state_bad_unknown_word", ID4 AEAD K128 " 128 frobnicate", "'frobnicate'");
	state_bad("state_bad_update_word", ID4 AEAD K128 " 128 seq 5", "'seq'");
	state_bad("state_bad_spi_zero", "src 192.0.2.1 dst 192.0.2.2 proto esp spi 0 " AEAD K128
		  " 128", "spi 0");
	state_bad("state_bad_spi_big", "src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1ffffffff "
		  AEAD K128 " 128", "'0x1ffffffff'");
	state_bad("state_bad_spi_text", "src 192.0.2.1 dst 192.0.2.2 proto esp spi abc " AEAD K128
		  " 128", "'abc'");
	state_bad("state_bad_spi_negative", "src 192.0.2.1 dst 192.0.2.2 proto esp spi -1 " AEAD
		  K128 " 128", "'-1'");
	state_bad("state_bad_spi_no_value", "src 192.0.2.1 dst 192.0.2.2 proto esp spi", "'spi' needs");
	state_bad("state_bad_spi_twice", ID4 "spi 5 " AEAD K128 " 128", "'spi' given twice");
	state_bad("state_missing_spi", "src 192.0.2.1 dst 192.0.2.2 proto esp " AEAD K128 " 128",
		  "'spi");
	state_bad("state_missing_proto", "src 192.0.2.1 dst 192.0.2.2 spi 5 " AEAD K128 " 128",
		  "'proto esp'");
	state_bad("state_missing_src", "dst 192.0.2.2 proto esp spi 5 " AEAD K128 " 128", "'src");
	state_bad("state_missing_dst", "src 192.0.2.2 proto esp spi 5 " AEAD K128 " 128", "'dst");
	state_bad("state_missing_aead", ID4 "mode tunnel", "aead");
	state_bad("state_bad_families", "src 192.0.2.1 dst 2001:db8::2 proto esp spi 5 " AEAD K128
		  " 128", "different families");
	state_bad("state_bad_address", "src 192.0.2.1 dst 10.0.0.300 proto esp spi 5 " AEAD K128
		  " 128", "'10.0.0.300'");
	state_bad("state_bad_esn_no_window", ID4 AEAD K128 " 128 flag esn", "replay-window");
	state_bad("state_bad_window_big", ID4 AEAD K128 " 128 replay-window 5000", "'5000'");
	state_bad("state_bad_seq_hi_no_esn", ID4 AEAD K128 " 128 replay-window 32 replay-seq-hi 1",
		  "replay-seq-hi");
	state_bad("state_bad_key_string", ID4 "aead 'rfc4106(gcm(aes))' mysecretpassword 128",
		  "0x");
	state_bad("state_bad_key_odd", ID4 AEAD "0x0123456789012345678901234567890123456789a 128",
		  "not hex");
	state_bad("state_bad_key_chars", ID4 AEAD "0x0123456789012345678901234567890123456g89 128",
		  "not hex");
	state_bad("state_bad_key_no_salt", ID4 AEAD "0x0123456789abcdef0123456789abcdef 128",
		  "wrong length");
	state_bad("state_bad_key_too_long", ID4 AEAD K256 "00 128", "wrong length");
	state_bad("state_bad_icv", ID4 AEAD K128 " 32", "'32'");
	state_bad("state_bad_icv_text", ID4 AEAD K128 " full", "'full'");
	state_bad("state_bad_icv_missing", ID4 AEAD K128, "ICVBITS");
	state_bad("state_bad_aead_missing_key", ID4 "aead 'rfc4106(gcm(aes))'", "KEY");
	state_bad("state_bad_aes_driver", ID4 AEAD K128 " 128 aes-driver fast", "'fast'");
	state_bad("state_bad_backend", ID4 AEAD K128 " 128 backend aesni",
		  "bad backend 'aesni': need auto, aead or bpf");
}

static void state_id(void)
{
	struct espx_sa_key key;
	struct xp_err err;
	struct words w;
	int r;

	split(&w, "src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1000");
	r = xp_parse_state_id(w.argc, w.argv, &key, &err);
	check(!r && key.family == AF_INET6 && ip6_eq(key.daddr, "2001:db8::2") &&
	      key.spi == htonl(0x1000), "state_del_ipv6", "%s", err.msg);
	split(&w, "dst 10.0.0.2 proto esp spi 7");
	r = xp_parse_state_id(w.argc, w.argv, &key, &err);
	check(!r && key.family == AF_INET && key.daddr[0] == ip4("10.0.0.2") && !key.daddr[1],
	      "state_del_ipv4", "%s", err.msg);
	split(&w, "dst 10.0.0.2 proto esp");
	r = xp_parse_state_id(w.argc, w.argv, &key, &err);
	check(r && strstr(err.msg, "'spi"), "state_del_missing_spi", "%s", err.msg);
	split(&w, "dst 10.0.0.2 proto ah spi 7");
	r = xp_parse_state_id(w.argc, w.argv, &key, &err);
	check(r && strstr(err.msg, "'ah'"), "state_del_proto_ah", "%s", err.msg);
	split(&w, "dst 10.0.0.2 proto esp spi 7 reqid 1");
	r = xp_parse_state_id(w.argc, w.argv, &key, &err);
	check(r && strstr(err.msg, "'reqid'"), "state_del_extra_word", "%s", err.msg);
	split(&w, "proto esp");
	r = xp_parse_state_flush(w.argc, w.argv, &err);
	check(!r, "state_flush_proto_esp", "%s", err.msg);
	split(&w, "proto ah");
	r = xp_parse_state_flush(w.argc, w.argv, &err);
	check(r && strstr(err.msg, "'ah'"), "state_flush_proto_ah", "%s", err.msg);
}

static struct xp_policy pol;

static int policy_ok(const char *name, const char *line, int del)
{
	struct xp_err err;
	struct words w;
	int r;

	split(&w, line);
	r = del ? xp_parse_policy_del(w.argc, w.argv, &pol, &err) :
		  xp_parse_policy_add(w.argc, w.argv, &pol, &err);
	check(!r, name, "refused '%s': %s", line, err.msg);
	return !r;
}

static void policy_bad(const char *name, const char *line, const char *want, int del)
{
	struct xp_err err;
	struct words w;
	int r;

	split(&w, line);
	r = del ? xp_parse_policy_del(w.argc, w.argv, &pol, &err) :
		  xp_parse_policy_add(w.argc, w.argv, &pol, &err);
	if (!r)
		check(0, name, "accepted '%s'", line);
	else
		check(strstr(err.msg, want) != NULL, name, "message '%s' does not say '%s'",
		      err.msg, want);
}

static void policy_good(void)
{
	const struct espx_policy *p = &pol.pol;
	__u32 d[4];
	__u8 f;

	if (policy_ok("policy_tunnel_out",
		      "src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 2000 ptype main "
		      "tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode tunnel", 0)) {
		check(p->sel.family == AF_INET && p->sel.prefixlen_s == 16 &&
		      p->sel.prefixlen_d == 16 && p->sel.saddr[0] == ip4("10.1.0.0") &&
		      p->sel.daddr[0] == ip4("10.2.0.0") && !p->sel.proto,
		      "policy_tunnel_selector", "family %u", p->sel.family);
		check(p->dir == ESPX_POL_OUT && p->priority == 2000 && p->action == ESPX_POL_ALLOW &&
		      p->flags == ESPX_POL_F_TMPL && !p->index,
		      "policy_tunnel_dir_priority", "dir %u prio %u", p->dir, p->priority);
		check(p->tmpl.family == AF_INET && p->tmpl.mode == ESPX_MODE_TUNNEL &&
		      p->tmpl.reqid == 1 && p->tmpl.saddr[0] == ip4("192.0.2.1") &&
		      p->tmpl.daddr[0] == ip4("192.0.2.2") && !p->tmpl.spi && !p->tmpl.optional,
		      "policy_tunnel_tmpl", "mode %u reqid %u", p->tmpl.mode, p->tmpl.reqid);
		check(!xp_tmpl_daddr(p, d, &f) && f == AF_INET && d[0] == ip4("192.0.2.2"),
		      "policy_tunnel_tmpl_daddr", "%s", "");
	}
	if (policy_ok("policy_fwd_index_spi",
		      "src 10.2.0.0/16 dst 10.1.0.0/16 dir fwd index 42 tmpl src 192.0.2.2 "
		      "dst 192.0.2.1 proto esp spi 0x100 mode tunnel", 0))
		check(p->dir == ESPX_POL_FWD && pol.has_index && p->index == 42 &&
		      p->tmpl.spi == htonl(0x100), "policy_fwd_fields", "%s", "");
	if (policy_ok("policy_ipv6_transport_host",
		      "src 2001:db8::1/128 dst 2001:db8::2/128 proto udp sport 500 dir out "
		      "tmpl proto esp level use", 0)) {
		check(p->sel.family == AF_INET6 && p->sel.proto == 17 && p->sel.sport == htons(500) &&
		      p->sel.sport_mask == 0xffff && p->tmpl.optional && !p->tmpl.family &&
		      p->tmpl.mode == ESPX_MODE_TRANSPORT,
		      "policy_ipv6_transport_fields", "%s", "");
		check(!xp_tmpl_daddr(p, d, &f) && f == AF_INET6 && ip6_eq(d, "2001:db8::2"),
		      "policy_transport_daddr_from_selector", "%s", "");
	}
	if (policy_ok("policy_block", "src 0.0.0.0/0 dst 10.9.9.9/32 dir in action block", 0))
		check(p->action == ESPX_POL_BLOCK && !p->flags && p->dir == ESPX_POL_IN,
		      "policy_block_fields", "%s", "");
	/* pmtu.sh without its mark: no selector means IPv4 any, as ip does */
	if (policy_ok("policy_no_selector",
		      "dir out tmpl src 10.0.1.1 dst 10.0.1.2 proto esp mode tunnel", 0))
		check(p->sel.family == AF_INET && !p->sel.prefixlen_s && !p->sel.prefixlen_d,
		      "policy_no_selector_any_ipv4", "family %u", p->sel.family);
	if (policy_ok("policy_icmp", "src 10.0.0.1 dst 10.0.0.2 proto icmp type 8 code 0 dir in", 0))
		check(p->sel.proto == 1 && p->sel.sport == htons(8) && p->sel.sport_mask == 0xffff &&
		      p->sel.dport_mask == 0xffff && p->sel.prefixlen_d == 32,
		      "policy_icmp_type_code", "%s", "");
	policy_ok("policy_tunnel_tmpl_dst_only",
		  "src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl dst 192.0.2.2 proto esp mode tunnel", 0);
	policy_ok("policy_transport_tmpl_addrs",
		  "src 10.0.0.0/24 dst 10.0.1.0/24 dir out tmpl src 10.0.0.1 dst 10.0.1.1 proto esp", 0);
	if (policy_ok("policy_del_selector", "src 10.1.0.0/16 dst 10.2.0.0/16 dir out", 1))
		check(pol.has_sel && pol.has_dir && !pol.has_index && p->sel.prefixlen_d == 16,
		      "policy_del_selector_fields", "%s", "");
	if (policy_ok("policy_del_index", "dir out index 9", 1))
		check(pol.has_index && p->index == 9 && !pol.has_sel, "policy_del_index_fields",
		      "%s", "");
	policy_ok("policy_del_index_only", "index 9", 1);
}

static void policy_refused(void)
{
	policy_bad("policy_bad_no_dir", "src 10.0.0.0/8 dst 10.1.0.0/16", "'dir", 0);
	policy_bad("policy_bad_dir", "src 10.0.0.0/8 dir sideways", "'sideways'", 0);
	policy_bad("policy_bad_tmpl_ah", "src 10.0.0.1 dst 10.0.0.2 dir out tmpl proto ah", "'ah'", 0);
	policy_bad("policy_bad_tmpl_no_proto", "src 10.0.0.1 dst 10.0.0.2 dir out tmpl mode transport",
		   "proto esp", 0);
	policy_bad("policy_bad_second_tmpl",
		   "src 10.0.0.1 dst 10.0.0.2 dir out tmpl proto esp tmpl proto esp",
		   "second 'tmpl'", 0);
	policy_bad("policy_bad_tunnel_no_addrs",
		   "src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl proto esp mode tunnel",
		   "tunnel template", 0);
	policy_bad("policy_bad_transport_not_host",
		   "src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl proto esp", "transport template", 0);
	policy_bad("policy_bad_tmpl_families",
		   "dir out tmpl src 10.0.0.1 dst 2001:db8::1 proto esp mode tunnel",
		   "different families", 0);
	policy_bad("policy_bad_level", "src 10.0.0.1 dst 10.0.0.2 dir out tmpl proto esp level maybe",
		   "'maybe'", 0);
	policy_bad("policy_bad_mark", "src 10.0.0.1 dst 10.0.0.2 dir out mark 10", "'mark'", 0);
	policy_bad("policy_bad_ptype_sub", "src 10.0.0.1 dst 10.0.0.2 dir out ptype sub", "'sub'", 0);
	policy_bad("policy_bad_flag", "src 10.0.0.1 dst 10.0.0.2 dir out flag localok", "'flag'", 0);
	policy_bad("policy_bad_ctx", "src 10.0.0.1 dst 10.0.0.2 dir out ctx x", "'ctx'", 0);
	policy_bad("policy_bad_limit", "src 10.0.0.1 dst 10.0.0.2 dir out limit byte-soft 1",
		   "'limit'", 0);
	policy_bad("policy_bad_if_id", "src 10.0.0.1 dst 10.0.0.2 dir out if_id 1", "'if_id'", 0);
	policy_bad("policy_bad_dev", "src 10.0.0.1 dst 10.0.0.2 dev eth0 dir out", "'dev'", 0);
	policy_bad("policy_bad_action", "src 10.0.0.1 dst 10.0.0.2 dir out action drop", "'drop'", 0);
	policy_bad("policy_bad_unknown", "src 10.0.0.1 dst 10.0.0.2 dir out bogus", "'bogus'", 0);
	policy_bad("policy_bad_priority", "src 10.0.0.1 dst 10.0.0.2 dir out priority -1", "'-1'", 0);
	policy_bad("policy_bad_index_zero", "src 10.0.0.1 dst 10.0.0.2 dir out index 0", "index 0", 0);
	policy_bad("policy_bad_families", "src 10.0.0.0/8 dst 2001:db8::/32 dir out",
		   "different families", 0);
	policy_bad("policy_bad_port_icmp", "src 10.0.0.1 dst 10.0.0.2 proto icmp sport 80 dir out",
		   "'sport'", 0);
	policy_bad("policy_bad_prefix", "src 10.0.0.0/8x dir out", "10.0.0.0/8x", 0);
	policy_bad("policy_bad_prefix_v6", "src 2001:db8::/129 dir out", "2001:db8::/129", 0);
	policy_bad("policy_del_no_dir", "src 10.0.0.1 dst 10.0.0.2", "'dir", 1);
	policy_bad("policy_del_nothing", "dir out", "selector", 1);
	policy_bad("policy_del_tmpl", "src 10.0.0.1 dst 10.0.0.2 dir out tmpl proto esp", "'tmpl'", 1);
	policy_bad("policy_del_priority", "src 10.0.0.1 dst 10.0.0.2 dir out priority 5",
		   "'priority'", 1);
}

int main(void)
{
	state_good();
	state_refused();
	state_id();
	policy_good();
	policy_refused();
	return failed;
}
