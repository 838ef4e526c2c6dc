// SPDX-License-Identifier: GPL-2.0
/* `ip xfrm state` / `ip xfrm policy` syntax -> espx structs. No map I/O. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "common/util.h"
#include "model/xfrm_parse.h"

/* Walks the words of one command line. */
struct cur {
	int argc;
	char **argv;
	int i;
	const char *cmd;	/* "state add", for messages */
	struct xp_err *err;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct cur *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(c->err->msg, sizeof(c->err->msg), "%s: ", c->cmd);
	va_start(ap, fmt);
	vsnprintf(c->err->msg + n, sizeof(c->err->msg) - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *word(const struct cur *c)
{
	return c->argv[c->i];
}

static int is(const struct cur *c, const char *w)
{
	return !strcmp(word(c), w);
}

/* The value after the current word; NULL (and an error) at the end. */
static const char *value(struct cur *c, const char *what)
{
	const char *w = word(c);

	if (c->i + 1 >= c->argc) {
		fail(c, "'%s' needs %s", w, what);
		return NULL;
	}
	return c->argv[++c->i];
}

/* The next word, if it is there and in list (NULL-terminated). */
static int next_in(const struct cur *c, const char *const *list)
{
	int k;

	if (c->i + 1 >= c->argc)
		return 0;
	for (k = 0; list[k]; k++)
		if (!strcmp(c->argv[c->i + 1], list[k]))
			return 1;
	return 0;
}

/* Decimal, or hex with 0x: ip xfrm's octal for a leading 0 surprises more
 * than it helps, so "010" is ten. */
static int parse_u64(const char *s, uint64_t *v, uint64_t max)
{
	unsigned long long x;
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno || *end || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

static int num(struct cur *c, const char *what, uint64_t max, uint64_t *v)
{
	const char *name = word(c), *s = value(c, what);

	if (!s)
		return -EINVAL;
	if (parse_u64(s, v, max))
		return fail(c, "bad value '%s' for '%s': need 0..%llu (decimal, or hex with 0x)",
			    s, name, (unsigned long long)max);
	return 0;
}

static int num32(struct cur *c, const char *what, uint32_t max, uint32_t *v)
{
	uint64_t x;
	int err = num(c, what, max, &x);

	if (!err)
		*v = (uint32_t)x;
	return err;
}

int xp_parse_addr(const char *s, __u32 addr[4], __u8 *family)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int addr(struct cur *c, __u32 a[4], __u8 *family)
{
	const char *name = word(c), *s = value(c, "an address");

	if (!s)
		return -EINVAL;
	if (xp_parse_addr(s, a, family))
		return fail(c, "bad address '%s' for '%s': need an IPv4 or IPv6 address", s, name);
	return 0;
}

/* ADDR[/PLEN]; no length means one host, as ip xfrm reads it. */
static int prefix(struct cur *c, __u32 a[4], __u8 *family, __u8 *plen)
{
	const char *name = word(c), *s = value(c, "ADDR[/PLEN]");
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	uint64_t len;
	int max;

	if (!s)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (strlen(s) >= sizeof(buf) || xp_parse_addr(buf, a, family))
		return fail(c, "bad prefix '%s' for '%s': need ADDR[/PLEN], IPv4 or IPv6", s, name);
	max = *family == AF_INET ? 32 : 128;
	if (slash && parse_u64(slash + 1, &len, max))
		return fail(c, "bad prefix length in '%s' for '%s': need 0..%d", s, name, max);
	*plen = slash ? (__u8)len : (__u8)max;
	return 0;
}

static const struct {
	const char *name;
	__u8 proto;
} protos[] = {
	{ "icmp", 1 }, { "ipip", 4 }, { "tcp", 6 }, { "udp", 17 }, { "dccp", 33 },
	{ "ipv6", 41 }, { "gre", 47 }, { "esp", 50 }, { "ah", 51 }, { "ipv6-icmp", 58 },
	{ "icmpv6", 58 }, { "sctp", 132 }, { "udplite", 136 },
};

static int proto_parse(const char *s, __u8 *proto)
{
	uint64_t v;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(protos); k++) {
		if (!strcmp(s, protos[k].name)) {
			*proto = protos[k].proto;
			return 0;
		}
	}
	if (!strcmp(s, "any")) {
		*proto = 0;
		return 0;
	}
	if (parse_u64(s, &v, 255))
		return -EINVAL;
	*proto = (__u8)v;
	return 0;
}

const char *xp_proto_name(__u8 proto, char *buf, size_t n)
{
	size_t k;

	for (k = 0; k < ARRAY_SIZE(protos); k++)
		if (protos[k].proto == proto)
			return protos[k].name;
	snprintf(buf, n, "%u", proto);
	return buf;
}

const char *xp_dir_name(__u8 dir)
{
	switch (dir) {
	case ESPX_POL_IN: return "in";
	case ESPX_POL_OUT: return "out";
	case ESPX_POL_FWD: return "fwd";
	}
	return "?";
}

const char *xp_mode_name(__u8 mode)
{
	return mode == ESPX_MODE_TUNNEL ? "tunnel" : "transport";
}

/* Words ip xfrm has and espx does not; refused by name. */
struct unsupported {
	const char *word;
	const char *why;
};

static const struct unsupported state_unsupported[] = {
	{ "enc", "only aead '" XP_AEAD_NAME "' KEY ICVBITS is supported" },
	{ "auth", "only aead '" XP_AEAD_NAME "' KEY ICVBITS is supported" },
	{ "auth-trunc", "only aead '" XP_AEAD_NAME "' KEY ICVBITS is supported" },
	{ "comp", "no IPComp" },
	{ "mark", "no marks" },
	{ "output-mark", "no marks" },
	{ "if_id", "no xfrm interfaces" },
	{ "ctx", "no security contexts" },
	{ "coa", "no Mobile IPv6" },
	{ "seq", "no SADB sequence numbers (replay-seq sets the ESP one)" },
	{ "offload", "espx is itself the offload" },
	{ "tfcpad", "no TFC padding" },
	{ "dir", "SAs have no direction in espx" },
	{ "nat-keepalive-interval", "NAT keepalives are the IKE daemon's" },
	{ "pcpu-num", "no per-CPU SAs" },
	{ NULL, NULL }
};

static const struct unsupported policy_unsupported[] = {
	{ "ctx", "no security contexts" },
	{ "mark", "no marks" },
	{ "if_id", "no xfrm interfaces" },
	{ "flag", "no policy flags" },
	{ "offload", "espx is itself the offload" },
	{ "limit", "no policy lifetimes" },
	{ "dev", "selectors cannot name a device" },
	{ NULL, NULL }
};

static int refuse_or_unknown(struct cur *c, const struct unsupported *u, const char *expected)
{
	for (; u->word; u++)
		if (is(c, u->word))
			return fail(c, "'%s' is not supported by espx (%s)", u->word, u->why);
	return fail(c, "unknown word '%s'; expected %s", word(c), expected);
}

/* ---- selectors ---- */

struct sel_acc {
	__u8 fam_s, fam_d;
	int ports, icmp;
	int any;	/* some selector word was given */
};

/* 1: the word was a selector word (consumed), 0: not one, <0: error. */
static int sel_word(struct cur *c, struct espx_sel *sel, struct sel_acc *a)
{
	uint32_t v;
	int err;

	if (is(c, "src"))
		err = prefix(c, sel->saddr, &a->fam_s, &sel->prefixlen_s);
	else if (is(c, "dst"))
		err = prefix(c, sel->daddr, &a->fam_d, &sel->prefixlen_d);
	else if (is(c, "proto")) {
		const char *s = value(c, "a protocol");

		if (!s)
			return -EINVAL;
		if (proto_parse(s, &sel->proto))
			return fail(c, "bad protocol '%s' for 'proto': need a name (tcp, udp, icmp, ipv6-icmp, sctp, ...) or 0..255", s);
		err = 0;
	} else if (is(c, "sport") || is(c, "dport")) {
		int src = is(c, "sport");

		err = num32(c, "a port", 65535, &v);
		if (!err) {
			*(src ? &sel->sport : &sel->dport) = htons((__u16)v);
			*(src ? &sel->sport_mask : &sel->dport_mask) = 0xffff;
			a->ports = 1;
		}
	} else if (is(c, "type") || is(c, "code")) {
		/* ICMP type and code sit in the port fields, as in XFRM */
		int type = is(c, "type");

		err = num32(c, type ? "an ICMP type" : "an ICMP code", 255, &v);
		if (!err) {
			*(type ? &sel->sport : &sel->dport) = htons((__u16)v);
			*(type ? &sel->sport_mask : &sel->dport_mask) = 0xffff;
			a->icmp = 1;
		}
	} else if (is(c, "dev") || is(c, "key")) {
		return fail(c, "'%s' in a selector is not supported by espx", word(c));
	} else {
		return 0;
	}
	a->any = 1;
	return err ? err : 1;
}

static int sel_finish(struct cur *c, struct espx_sel *sel, const struct sel_acc *a)
{
	__u8 p = sel->proto;

	if (a->fam_s && a->fam_d && a->fam_s != a->fam_d)
		return fail(c, "selector src and dst are of different families (IPv4 and IPv6)");
	sel->family = a->fam_s ? a->fam_s : a->fam_d;
	if (a->ports && p != 6 && p != 17 && p != 33 && p != 132 && p != 136)
		return fail(c, "'sport'/'dport' need proto tcp, udp, dccp, sctp or udplite");
	if (a->icmp && p != 1 && p != 58)
		return fail(c, "'type'/'code' need proto icmp or ipv6-icmp");
	return 0;
}

/* ---- state ---- */

/* The ESP-or-nothing protocol word of an SA or template. */
static int xfrm_proto(struct cur *c)
{
	static const char *const others[] = { "ah", "comp", "route2", "hao", "ipsec-any", NULL };
	const char *s = value(c, "esp");
	int k;

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "esp"))
		return 0;
	for (k = 0; others[k]; k++)
		if (!strcmp(s, others[k]))
			return fail(c, "proto '%s' is not supported by espx (ESP only)", s);
	return fail(c, "bad proto '%s': need esp", s);
}

static int spi(struct cur *c, __u32 *spi_n)
{
	uint32_t v;
	int err = num32(c, "an SPI", 0xffffffffu, &v);

	if (err)
		return err;
	if (!v)
		return fail(c, "spi 0 is reserved: need 1..0xffffffff");
	*spi_n = htonl(v);
	return 0;
}

static int mode(struct cur *c, __u8 *m)
{
	const char *s = value(c, "transport or tunnel");

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "transport"))
		*m = ESPX_MODE_TRANSPORT;
	else if (!strcmp(s, "tunnel"))
		*m = ESPX_MODE_TUNNEL;
	else if (!strcmp(s, "beet") || !strcmp(s, "ro") || !strcmp(s, "in_trigger") ||
		 !strcmp(s, "iptfs"))
		return fail(c, "mode '%s' is not supported by espx (transport or tunnel)", s);
	else
		return fail(c, "bad mode '%s': need transport or tunnel", s);
	return 0;
}

static int aead(struct cur *c, struct xp_state *st)
{
	const char *name = value(c, "'" XP_AEAD_NAME "' KEY ICVBITS");
	uint8_t buf[ESPX_AES_MAX_KEY + ESPX_GCM_SALT_LEN];
	uint64_t icv;
	int n;

	if (!name)
		return -EINVAL;
	if (strcmp(name, XP_AEAD_NAME))
		return fail(c, "aead '%s' is not supported by espx: only '" XP_AEAD_NAME "'", name);
	if (!value(c, "KEY ICVBITS"))
		return -EINVAL;
	st->key_arg = c->i;
	/* never echo the key: messages say what is wrong, not what it was */
	if (strncmp(word(c), "0x", 2) && strncmp(word(c), "0X", 2))
		return fail(c, "aead key must be 0x followed by hex digits");
	n = hex_parse(word(c), buf, sizeof(buf));
	if (n != 20 && n != 28 && n != 36) {
		wipe(buf, sizeof(buf));
		if (n == -EINVAL)
			return fail(c, "aead key is not hex (need 0x and an even number of hex digits)");
		return fail(c, "aead key has the wrong length: need 40, 56 or 72 hex digits (AES-128/192/256 key, then 4 bytes of salt)");
	}
	st->aes_key_len = (size_t)n - ESPX_GCM_SALT_LEN;
	memcpy(st->aes_key, buf, st->aes_key_len);
	memcpy(st->sa.salt, buf + st->aes_key_len, ESPX_GCM_SALT_LEN);
	st->sa.key_len = (__u8)st->aes_key_len;
	wipe(buf, sizeof(buf));
	if (c->i + 1 >= c->argc)
		return fail(c, "aead needs ICVBITS after the key: 64, 96 or 128");
	c->i++;
	if (parse_u64(word(c), &icv, 128) || (icv != 64 && icv != 96 && icv != 128))
		return fail(c, "bad ICV length '%s': need 64, 96 or 128 (bits)", word(c));
	st->sa.icv_len = (__u8)(icv / 8);
	return 0;
}

static int encap_port(struct cur *c, const char *what, __u16 *port)
{
	const char *s = value(c, what);
	uint64_t v;

	if (!s)
		return -EINVAL;
	if (parse_u64(s, &v, 65535) || !v)
		return fail(c, "bad encap port '%s': need 1..65535", s);
	*port = htons((__u16)v);
	return 0;
}

/* encap espinudp SPORT DPORT OADDR */
static int encap(struct cur *c, struct espx_sa *sa)
{
	const char *type = value(c, "espinudp SPORT DPORT OADDR"), *oaddr;
	__u32 oa[4];
	__u8 f;
	int err;

	if (!type)
		return -EINVAL;
	if (!strcmp(type, "espinudp-nonike") || !strcmp(type, "espintcp"))
		return fail(c, "encap '%s' is not supported by espx (espinudp only)", type);
	if (strcmp(type, "espinudp"))
		return fail(c, "bad encap type '%s': need espinudp", type);
	if ((err = encap_port(c, "SPORT DPORT OADDR", &sa->encap_sport)) ||
	    (err = encap_port(c, "DPORT OADDR", &sa->encap_dport)))
		return err;
	/* OADDR (NAT-OA) only fixes transport-mode TCP/UDP checksums after
	 * NAT; espx checks it is an address and does not keep it. */
	if (!(oaddr = value(c, "OADDR")))
		return -EINVAL;
	if (xp_parse_addr(oaddr, oa, &f))
		return fail(c, "bad encap original address '%s': need an IPv4 or IPv6 address", oaddr);
	sa->flags |= ESPX_SA_F_ENCAP;
	return 0;
}

static const char *const limit_names[] = {
	"byte-soft", "byte-hard", "packet-soft", "packet-hard",
	"time-soft", "time-hard", "time-use-soft", "time-use-hard", NULL
};

static int limit(struct cur *c, struct espx_lft *lft)
{
	int any = 0, err;
	uint64_t v;

	while (next_in(c, limit_names)) {
		c->i++;
		if (!strncmp(word(c), "time-", 5))
			return fail(c, "'%s' is not supported by espx (no time lifetimes; the IKE daemon rekeys by time)",
				    word(c));
		if ((err = num(c, "a count", ~0ULL, &v)))
			return err;
		if (!strcmp(c->argv[c->i - 1], "byte-soft"))
			lft->soft_bytes = v;
		else if (!strcmp(c->argv[c->i - 1], "byte-hard"))
			lft->hard_bytes = v;
		else if (!strcmp(c->argv[c->i - 1], "packet-soft"))
			lft->soft_packets = v;
		else
			lft->hard_packets = v;
		any = 1;
	}
	if (!any)
		return fail(c, "'limit' needs byte-soft, byte-hard, packet-soft or packet-hard and a number%s%s%s",
			    c->i + 1 < c->argc ? ", not '" : "",
			    c->i + 1 < c->argc ? c->argv[c->i + 1] : "",
			    c->i + 1 < c->argc ? "'" : "");
	return 0;
}

/* `flag FLAG...`, as ip xfrm state spells them (XFRM_STATE_*). What espx
 * does with each:
 *  - esn, noecn, decap-dscp, nopmtudisc: set on the SA; the datapath honours
 *    them as the kernel does.
 *  - af-unspec: accepted, changes nothing. The kernel gives a selector
 *    without a family the SA's family unless af-unspec asks it to keep
 *    "any" (so a tunnel SA can carry IPv4 and IPv6: strongSwan and
 *    libreswan set it on every tunnel SA); espx always keeps a `state add`
 *    without sel at "any", and the daemon reads the selector after the
 *    kernel applied the flag.
 *  - align4: accepted, changes nothing: it aligns AH headers to 4 bytes
 *    instead of 8, and espx carries ESP only.
 *  - icmp: refused. The kernel then lets in ICMP errors from the tunnel
 *    whose embedded packet matches the SA's selector reversed; espx checks
 *    the error itself against the selector and would drop them.
 *  - wildrecv: refused. It lets a Mobile IPv6 SA receive with a wildcard
 *    address; espx finds SAs by their exact destination. */
static const struct xp_flag_name state_flags[] = {
	{ "noecn", ESPX_SA_F_NOECN, NULL },
	{ "decap-dscp", ESPX_SA_F_DECAP_DSCP, NULL },
	{ "nopmtudisc", ESPX_SA_F_NOPMTUDISC, NULL },
	{ "wildrecv", 0, "Mobile IPv6 wildcard receive; espx finds SAs by their destination" },
	{ "icmp", 0, "espx would drop ICMP errors that the kernel lets in by their embedded packet" },
	{ "af-unspec", 0, NULL },
	{ "align4", 0, NULL },
	{ "esn", ESPX_SA_F_ESN, NULL },
	{ NULL, 0, NULL }
};

/* `extra-flag EXTRA-FLAG...` (XFRM_SA_XFLAG_*). */
static const struct xp_flag_name state_extra_flags[] = {
	{ "dont-encap-dscp", ESPX_SA_F_DONT_ENCAP_DSCP, NULL },
	{ "oseq-may-wrap", 0, "espx never lets the output sequence number wrap (RFC 4303 3.3.3)" },
	{ NULL, 0, NULL }
};

const struct xp_flag_name *const xp_sa_flags = state_flags;
const struct xp_flag_name *const xp_sa_extra_flags = state_extra_flags;

/* The next word, if it is there and one of the names in t. */
static const struct xp_flag_name *next_flag(const struct cur *c, const struct xp_flag_name *t)
{
	if (c->i + 1 >= c->argc)
		return NULL;
	for (; t->name; t++)
		if (!strcmp(c->argv[c->i + 1], t->name))
			return t;
	return NULL;
}

/* Flag words from table t until the first word that is not one. */
static int flags(struct cur *c, const struct xp_flag_name *t, __u32 *f, const char *accepted)
{
	const char *kw = word(c);
	const struct xp_flag_name *n;
	int any = 0;

	while ((n = next_flag(c, t))) {
		c->i++;
		if (n->refused)
			return fail(c, "%s '%s' is not supported by espx (%s)", kw, n->name,
				    n->refused);
		*f |= n->flag;
		any = 1;
	}
	if (!any)
		return fail(c, "'%s' needs %s%s%s%s", kw, accepted,
			    c->i + 1 < c->argc ? " (not '" : "",
			    c->i + 1 < c->argc ? c->argv[c->i + 1] : "",
			    c->i + 1 < c->argc ? "')" : "");
	return 0;
}

/* `sel ...`: selector words until the first word that is not one. */
static int state_sel(struct cur *c, struct espx_sel *sel)
{
	struct sel_acc a = { 0 };
	int r, any = 0;

	while (c->i + 1 < c->argc) {
		c->i++;
		r = sel_word(c, sel, &a);
		if (r < 0)
			return r;
		if (!r) {
			c->i--;
			break;
		}
		any = 1;
	}
	if (!any)
		return fail(c, "'sel' needs src PREFIX, dst PREFIX and/or proto");
	return sel_finish(c, sel, &a);
}

enum state_seen {
	S_SRC = 1 << 0, S_DST = 1 << 1, S_PROTO = 1 << 2, S_SPI = 1 << 3,
	S_AEAD = 1 << 4, S_SEQ_HI = 1 << 5, S_MODE = 1 << 6, S_SEL = 1 << 7,
	S_ENCAP = 1 << 8, S_RW = 1 << 9,
};

static int state_missing(struct cur *c, unsigned int seen)
{
	if (!(seen & S_SRC))
		return fail(c, "missing 'src ADDR'");
	if (!(seen & S_DST))
		return fail(c, "missing 'dst ADDR'");
	if (!(seen & S_PROTO))
		return fail(c, "missing 'proto esp'");
	if (!(seen & S_SPI))
		return fail(c, "missing 'spi SPI'");
	if (!(seen & S_AEAD))
		return fail(c, "missing 'aead '" XP_AEAD_NAME "' KEY ICVBITS'");
	return 0;
}

/* Checks across words, once the line is read. */
static int state_check(struct cur *c, struct xp_state *st, unsigned int seen, __u8 fs, __u8 fd)
{
	struct espx_sa *sa = &st->sa;
	int err = state_missing(c, seen);

	if (err)
		return err;
	if (fs != fd)
		return fail(c, "src and dst are of different families (IPv4 and IPv6)");
	if ((sa->flags & ESPX_SA_F_ESN) && !sa->replay_window)
		return fail(c, "flag esn needs a replay-window above 0 (as the kernel requires)");
	if ((seen & S_SEQ_HI) && !(sa->flags & ESPX_SA_F_ESN))
		return fail(c, "replay-seq-hi and replay-oseq-hi need flag esn");
	if (sa->mode == ESPX_MODE_TRANSPORT && sa->sel.family && sa->sel.family != fd)
		return fail(c, "a transport-mode SA's selector must be of the SA's family");
	/* the datapath writes a zero UDP checksum, which IPv6 does not allow */
	if ((sa->flags & ESPX_SA_F_ENCAP) && fd == AF_INET6)
		return fail(c, "encap espinudp over IPv6 is not supported by espx (IPv4 only)");
	return 0;
}

/* One top-level word of `state add`. */
static int state_word(struct cur *c, struct xp_state *st, unsigned int *seen,
		      __u8 *fs, __u8 *fd, uint32_t seq[4])
{
	struct espx_sa *sa = &st->sa;
	static const struct {
		const char *w;
		unsigned int bit;
	} once[] = {
		{ "src", S_SRC }, { "dst", S_DST }, { "proto", S_PROTO }, { "spi", S_SPI },
		{ "aead", S_AEAD }, { "mode", S_MODE }, { "sel", S_SEL }, { "encap", S_ENCAP },
		{ "replay-window", S_RW },
	};
	uint32_t v;
	size_t k;
	int err;

	for (k = 0; k < ARRAY_SIZE(once); k++) {
		if (!is(c, once[k].w))
			continue;
		if (*seen & once[k].bit)
			return fail(c, "'%s' given twice", word(c));
		*seen |= once[k].bit;
	}
	if (is(c, "src"))
		return addr(c, sa->saddr, fs);
	if (is(c, "dst"))
		return addr(c, sa->daddr, fd);
	if (is(c, "proto"))
		return xfrm_proto(c);
	if (is(c, "spi"))
		return spi(c, &st->key.spi);
	if (is(c, "mode"))
		return mode(c, &sa->mode);
	if (is(c, "reqid"))
		return num32(c, "a reqid", 0xffffffffu, &sa->reqid);
	if (is(c, "replay-window")) {
		err = num32(c, "a window size", ESPX_REPLAY_MAX, &v);
		if (!err)
			sa->replay_window = (__u16)v;
		return err;
	}
	if (is(c, "replay-seq"))
		return num32(c, "a sequence number", 0xffffffffu, &seq[0]);
	if (is(c, "replay-oseq"))
		return num32(c, "a sequence number", 0xffffffffu, &seq[1]);
	if (is(c, "replay-seq-hi") || is(c, "replay-oseq-hi")) {
		int out = is(c, "replay-oseq-hi");

		*seen |= S_SEQ_HI;
		return num32(c, "a sequence number", 0xffffffffu, &seq[2 + out]);
	}
	if (is(c, "flag"))
		return flags(c, state_flags, &sa->flags,
			     "a flag: noecn, decap-dscp, nopmtudisc, af-unspec, align4 or esn");
	if (is(c, "extra-flag"))
		return flags(c, state_extra_flags, &sa->flags, "an extra flag: dont-encap-dscp");
	if (is(c, "aead"))
		return aead(c, st);
	if (is(c, "encap"))
		return encap(c, sa);
	if (is(c, "limit"))
		return limit(c, &sa->lft);
	if (is(c, "sel"))
		return state_sel(c, &sa->sel);
	if (is(c, "aes-driver")) {
		const char *s = value(c, "kernel or generic");

		if (!s)
			return -EINVAL;
		if (espx_aes_driver_parse(s, &st->driver))
			return fail(c, "bad aes-driver '%s': need kernel or generic", s);
		return 0;
	}
	if (is(c, "backend")) {
		const char *s = value(c, "auto, aead or bpf");

		if (!s)
			return -EINVAL;
		if (!strcmp(s, "auto"))
			sa->backend = ESPX_BACKEND_AUTO;
		else if (!strcmp(s, "aead"))
			sa->backend = ESPX_BACKEND_AEAD;
		else if (!strcmp(s, "bpf"))
			sa->backend = ESPX_BACKEND_BPF;
		else
			return fail(c, "bad backend '%s': need auto, aead or bpf", s);
		return 0;
	}
	return refuse_or_unknown(c, state_unsupported,
				 "src, dst, proto, spi, mode, reqid, replay-window, replay-seq, replay-oseq, replay-seq-hi, replay-oseq-hi, flag, extra-flag, aead, encap, limit, sel, aes-driver or backend");
}

int xp_parse_state_add(int argc, char **argv, struct xp_state *st, struct xp_err *err)
{
	struct cur c = { .argc = argc, .argv = argv, .cmd = "state add", .err = err };
	uint32_t seq[4] = { 0 };	/* seq, oseq, seq-hi, oseq-hi */
	unsigned int seen = 0;
	__u8 fs = 0, fd = 0;
	int e = 0;

	memset(st, 0, sizeof(*st));
	err->msg[0] = '\0';
	st->key_arg = -1;
	st->sa.mode = ESPX_MODE_TRANSPORT;
	st->sa.lft.soft_bytes = st->sa.lft.hard_bytes = ESPX_INF;
	st->sa.lft.soft_packets = st->sa.lft.hard_packets = ESPX_INF;
	for (c.i = 0; c.i < argc && !e; c.i++)
		e = state_word(&c, st, &seen, &fs, &fd, seq);
	if (!e)
		e = state_check(&c, st, seen, fs, fd);
	if (e) {
		int key_arg = st->key_arg;

		xp_state_wipe(st);
		st->key_arg = key_arg;	/* the caller still wipes the word */
		return e;
	}
	st->sa.family = fd;
	st->sa.seq = (__u64)seq[2] << 32 | seq[0];
	st->sa.oseq = (__u64)seq[3] << 32 | seq[1];
	memcpy(st->key.daddr, st->sa.daddr, sizeof(st->key.daddr));
	st->key.family = fd;
	return 0;
}

void xp_state_wipe(struct xp_state *st)
{
	wipe(st, sizeof(*st));
	st->key_arg = -1;
}

int xp_parse_state_id(int argc, char **argv, struct espx_sa_key *key, struct xp_err *err)
{
	struct cur c = { .argc = argc, .argv = argv, .cmd = "state del", .err = err };
	__u32 src[4];
	__u8 fs = 0, fd = 0;
	int have_spi = 0, have_proto = 0, e = 0;

	memset(key, 0, sizeof(*key));
	err->msg[0] = '\0';
	for (c.i = 0; c.i < argc && !e; c.i++) {
		if (is(&c, "dst"))
			e = addr(&c, key->daddr, &fd);
		else if (is(&c, "src"))		/* as the kernel: not part of the key */
			e = addr(&c, src, &fs);
		else if (is(&c, "proto"))
			e = xfrm_proto(&c), have_proto = 1;
		else if (is(&c, "spi"))
			e = spi(&c, &key->spi), have_spi = 1;
		else
			e = refuse_or_unknown(&c, state_unsupported, "dst, proto, spi (and src)");
	}
	if (e)
		return e;
	if (!fd)
		return fail(&c, "missing 'dst ADDR'");
	if (!have_proto)
		return fail(&c, "missing 'proto esp'");
	if (!have_spi)
		return fail(&c, "missing 'spi SPI'");
	if (fs && fs != fd)
		return fail(&c, "src and dst are of different families (IPv4 and IPv6)");
	key->family = fd;
	return 0;
}

int xp_parse_state_flush(int argc, char **argv, struct xp_err *err)
{
	struct cur c = { .argc = argc, .argv = argv, .cmd = "state flush", .err = err };
	int e = 0;

	err->msg[0] = '\0';
	for (c.i = 0; c.i < argc && !e; c.i++) {
		if (is(&c, "proto"))
			e = xfrm_proto(&c);
		else
			e = fail(&c, "unknown word '%s'; expected nothing or proto esp", word(&c));
	}
	return e;
}

/* ---- policies ---- */

static int level(struct cur *c, __u8 *optional)
{
	const char *s = value(c, "required or use");

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "required"))
		*optional = 0;
	else if (!strcmp(s, "use"))
		*optional = 1;
	else
		return fail(c, "bad level '%s': need required or use", s);
	return 0;
}

/* `tmpl ...`: template words until the first word that is not one. */
static int tmpl(struct cur *c, struct espx_tmpl *t)
{
	static const char *const words[] = {
		"src", "dst", "proto", "spi", "reqid", "mode", "level", NULL
	};
	__u8 fs = 0, fd = 0;
	int have_proto = 0, err = 0;

	t->mode = ESPX_MODE_TRANSPORT;
	while (!err && next_in(c, words)) {
		c->i++;
		if (is(c, "src"))
			err = addr(c, t->saddr, &fs);
		else if (is(c, "dst"))
			err = addr(c, t->daddr, &fd);
		else if (is(c, "proto"))
			err = xfrm_proto(c), have_proto = 1;
		else if (is(c, "spi"))
			err = spi(c, &t->spi);
		else if (is(c, "reqid"))
			err = num32(c, "a reqid", 0xffffffffu, &t->reqid);
		else if (is(c, "mode"))
			err = mode(c, &t->mode);
		else
			err = level(c, &t->optional);
	}
	if (err)
		return err;
	if (!have_proto)
		return fail(c, "'tmpl' needs proto esp");
	if (fs && fd && fs != fd)
		return fail(c, "tmpl src and dst are of different families (IPv4 and IPv6)");
	t->family = fs ? fs : fd;
	return 0;
}

static int is_zero(const __u32 a[4])
{
	return !(a[0] | a[1] | a[2] | a[3]);
}

int xp_tmpl_daddr(const struct espx_policy *p, __u32 daddr[4], __u8 *family)
{
	const struct espx_sel *s = &p->sel;

	if (p->tmpl.family && !is_zero(p->tmpl.daddr)) {
		memcpy(daddr, p->tmpl.daddr, 16);
		*family = p->tmpl.family;
		return 0;
	}
	if (p->tmpl.mode != ESPX_MODE_TRANSPORT ||
	    s->prefixlen_d != (s->family == AF_INET6 ? 128 : 32))
		return -EINVAL;
	memcpy(daddr, s->daddr, 16);
	*family = s->family;
	return 0;
}

static int policy_check(struct cur *c, struct xp_policy *p)
{
	struct espx_policy *pol = &p->pol;
	struct espx_tmpl *t = &pol->tmpl;
	__u32 d[4];
	__u8 f;

	if (!p->has_dir)
		return fail(c, "missing 'dir in|out|fwd'");
	if (!(pol->flags & ESPX_POL_F_TMPL))
		return 0;
	if (t->mode == ESPX_MODE_TUNNEL && (!t->family || is_zero(t->daddr)))
		return fail(c, "a tunnel template needs tmpl dst ADDR (and src ADDR)");
	if (t->mode == ESPX_MODE_TRANSPORT && t->family && t->family != pol->sel.family)
		return fail(c, "a transport template's addresses must be of the selector's family");
	if (xp_tmpl_daddr(pol, d, &f))
		return fail(c, "a transport template needs tmpl src/dst addresses, or a selector whose dst is one host (/%d)",
			    pol->sel.family == AF_INET6 ? 128 : 32);
	return 0;
}

/* One word of `policy add` (add != 0) or `policy del`. */
static int policy_word(struct cur *c, struct xp_policy *p, struct sel_acc *a, int add)
{
	struct espx_policy *pol = &p->pol;
	const char *s;
	int r = sel_word(c, &pol->sel, a);

	if (r)
		return r < 0 ? r : 0;
	if (is(c, "dir")) {
		if (!(s = value(c, "in, out or fwd")))
			return -EINVAL;
		if (!strcmp(s, "in"))
			pol->dir = ESPX_POL_IN;
		else if (!strcmp(s, "out"))
			pol->dir = ESPX_POL_OUT;
		else if (!strcmp(s, "fwd"))
			pol->dir = ESPX_POL_FWD;
		else
			return fail(c, "bad dir '%s': need in, out or fwd", s);
		p->has_dir = 1;
		return 0;
	}
	if (is(c, "index")) {
		p->has_index = 1;
		r = num32(c, "an index", 0xffffffffu, &pol->index);
		if (!r && !pol->index)
			return fail(c, "index 0 is reserved: need 1..0xffffffff");
		return r;
	}
	if (is(c, "ptype")) {
		if (!(s = value(c, "main")))
			return -EINVAL;
		if (!strcmp(s, "main"))
			return 0;
		if (!strcmp(s, "sub"))
			return fail(c, "ptype 'sub' is not supported by espx (main only)");
		return fail(c, "bad ptype '%s': need main", s);
	}
	if (add && is(c, "priority"))
		return num32(c, "a priority", 0xffffffffu, &pol->priority);
	if (add && is(c, "action")) {
		if (!(s = value(c, "allow or block")))
			return -EINVAL;
		if (!strcmp(s, "allow"))
			pol->action = ESPX_POL_ALLOW;
		else if (!strcmp(s, "block"))
			pol->action = ESPX_POL_BLOCK;
		else
			return fail(c, "bad action '%s': need allow or block", s);
		return 0;
	}
	if (add && is(c, "tmpl")) {
		if (pol->flags & ESPX_POL_F_TMPL)
			return fail(c, "a second 'tmpl' is not supported by espx (one ESP template per policy)");
		pol->flags |= ESPX_POL_F_TMPL;
		return tmpl(c, &pol->tmpl);
	}
	return refuse_or_unknown(c, policy_unsupported, add ?
		"src, dst, proto, sport, dport, type, code, dir, priority, index, action, ptype or tmpl" :
		"src, dst, proto, sport, dport, type, code, dir, index or ptype");
}

static int policy_parse(int argc, char **argv, struct xp_policy *p, struct xp_err *err, int add)
{
	struct cur c = { .argc = argc, .argv = argv, .err = err,
			 .cmd = add ? "policy add" : "policy del" };
	struct sel_acc a = { 0 };
	int e = 0;

	memset(p, 0, sizeof(*p));
	err->msg[0] = '\0';
	for (c.i = 0; c.i < argc && !e; c.i++)
		e = policy_word(&c, p, &a, add);
	if (e)
		return e;
	p->has_sel = a.any;
	if ((e = sel_finish(&c, &p->pol.sel, &a)))
		return e;
	/* no address: IPv4, as ip xfrm policy without -6 */
	if (!p->pol.sel.family)
		p->pol.sel.family = AF_INET;
	if (add)
		return policy_check(&c, p);
	if (p->has_index)
		return 0;
	if (!p->has_dir)
		return fail(&c, "missing 'dir in|out|fwd' (or name the policy by index)");
	if (!p->has_sel)
		return fail(&c, "name the policy by its selector (src/dst ...) and dir, or by index");
	return 0;
}

int xp_parse_policy_add(int argc, char **argv, struct xp_policy *p, struct xp_err *err)
{
	return policy_parse(argc, argv, p, err, 1);
}

int xp_parse_policy_del(int argc, char **argv, struct xp_policy *p, struct xp_err *err)
{
	return policy_parse(argc, argv, p, err, 0);
}
