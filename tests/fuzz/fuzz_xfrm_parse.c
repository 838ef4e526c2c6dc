// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness: the `ip xfrm` grammar (user/model/xfrm_parse.c), every
 * entry point espx's commands call with words from the command line.
 *
 * Input: one line of text, split into words at blanks (single quotes group,
 * as tests/unit/test_xfrm_parse.c splits). "state add ...", "state del ...",
 * "state flush ...", "policy add ...", "policy del ..." go to that parser
 * with the words after the command, as user/cmd/ passes them; any other
 * line goes to all five. Besides the sanitizers, it aborts when a result
 * breaks what xfrm_parse.h promises:
 *  - a refusal has a message, and the message never repeats the key word;
 *  - a refused `state add` leaves no key material in the result;
 *  - an accepted SA has a GCM key of 16/24/32 bytes, an ICV of 8/12/16, a
 *    window within ESPX_REPLAY_MAX, matching key and SA addresses;
 *  - an accepted policy has a direction, and one with a template passes
 *    xp_tmpl_daddr (policy_check promised it).
 * Nothing here prints key bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/xfrm_parse.h"

#define MAX_WORDS 256

struct line {
	char *buf;
	char *argv[MAX_WORDS + 1];
	int argc;
};

static int blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Words of data (NUL bytes end a word too), in l->buf (freed by the caller). */
static void split(struct line *l, const uint8_t *data, size_t size)
{
	char *p, *end, *out;
	int quoted = 0;

	l->buf = malloc(size + 1);
	if (!l->buf)
		abort();
	memcpy(l->buf, data, size);
	l->buf[size] = '\0';
	p = out = l->buf;
	end = l->buf + size;
	l->argc = 0;
	while (p < end && l->argc < MAX_WORDS) {
		while (p < end && (blank(*p) || !*p))
			p++;
		if (p >= end)
			break;
		l->argv[l->argc++] = out;
		for (; p < end && *p && (quoted || !blank(*p)); p++) {
			if (*p == '\'')
				quoted = !quoted;
			else
				*out++ = *p;
		}
		if (p < end)
			p++;
		*out++ = '\0';	/* out never passes p: the word fits */
	}
	l->argv[l->argc] = NULL;
}

static void bug(const char *what, const char *msg)
{
	fprintf(stderr, "fuzz_xfrm_parse: %s%s%s\n", what, msg ? ": " : "", msg ? msg : "");
	abort();
}

static int hexword(const char *w)
{
	size_t n = strlen(w);

	return n >= 12 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') &&
	       strspn(w + 2, "0123456789abcdefABCDEF") == n - 2;
}

/* Is argv[k] in no other word? (A message may echo another word.) */
static int unique(int argc, char **argv, int k)
{
	int i;

	for (i = 0; i < argc; i++)
		if (i != k && strstr(argv[i], argv[k]))
			return 0;
	return 1;
}

static void check_refusal(const struct xp_err *err, int argc, char **argv, int key_arg)
{
	if (!err->msg[0])
		bug("refused without a message", NULL);
	if (!memchr(err->msg, '\0', sizeof(err->msg)))
		bug("message not terminated", NULL);
	/* the key word, if it looks like a key (0x and 10 hex digits or
	 * more: no fixed text of a message has that) */
	if (key_arg >= 0 && key_arg < argc && hexword(argv[key_arg]) &&
	    unique(argc, argv, key_arg) && strstr(err->msg, argv[key_arg]))
		bug("the message repeats the key word", NULL);
}

static int zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void state_add(int argc, char **argv)
{
	static struct xp_state st;
	struct xp_err err;
	int fam;

	if (xp_parse_state_add(argc, argv, &st, &err)) {
		check_refusal(&err, argc, argv, st.key_arg);
		if (st.aes_key_len || !zero(st.aes_key, sizeof(st.aes_key)) ||
		    !zero(st.sa.salt, sizeof(st.sa.salt)))
			bug("key material left after a refusal", NULL);
		return;
	}
	fam = st.sa.family;
	if (fam != AF_INET && fam != AF_INET6)
		bug("accepted SA without a family", NULL);
	if (st.aes_key_len != 16 && st.aes_key_len != 24 && st.aes_key_len != 32)
		bug("accepted SA with a key length other than 16/24/32", NULL);
	if (st.sa.key_len != st.aes_key_len)
		bug("sa.key_len differs from the key's length", NULL);
	if (st.sa.icv_len != 8 && st.sa.icv_len != 12 && st.sa.icv_len != 16)
		bug("accepted SA with an ICV other than 8/12/16 bytes", NULL);
	if (st.sa.replay_window > ESPX_REPLAY_MAX)
		bug("accepted SA with a window above ESPX_REPLAY_MAX", NULL);
	if ((st.sa.flags & ESPX_SA_F_ESN) && !st.sa.replay_window)
		bug("accepted ESN SA without a window", NULL);
	if (!st.key.spi || st.key.family != fam || memcmp(st.key.daddr, st.sa.daddr, 16))
		bug("SA key and SA disagree", NULL);
	if (st.key_arg < 0 || st.key_arg >= argc)
		bug("accepted SA without the key word's index", NULL);
	xp_state_wipe(&st);
}

static void state_del(int argc, char **argv)
{
	struct espx_sa_key key;
	struct xp_err err;

	if (xp_parse_state_id(argc, argv, &key, &err))
		check_refusal(&err, argc, argv, -1);
	else if (!key.spi || (key.family != AF_INET && key.family != AF_INET6))
		bug("accepted SA id without an SPI or family", NULL);
}

static void state_flush(int argc, char **argv)
{
	struct xp_err err;

	if (xp_parse_state_flush(argc, argv, &err))
		check_refusal(&err, argc, argv, -1);
}

static void policy(int argc, char **argv, int add)
{
	struct xp_policy p;
	struct xp_err err;
	__u32 d[4];
	__u8 f;
	int r = add ? xp_parse_policy_add(argc, argv, &p, &err) :
		      xp_parse_policy_del(argc, argv, &p, &err);

	if (r) {
		check_refusal(&err, argc, argv, -1);
		return;
	}
	if (p.pol.sel.family != AF_INET && p.pol.sel.family != AF_INET6)
		bug("accepted policy without a selector family", NULL);
	if (p.pol.sel.prefixlen_s > 128 || p.pol.sel.prefixlen_d > 128)
		bug("accepted policy with a prefix length above 128", NULL);
	if (add && !p.has_dir)
		bug("accepted policy without a direction", NULL);
	if (add && (p.pol.flags & ESPX_POL_F_TMPL) && xp_tmpl_daddr(&p.pol, d, &f))
		bug("accepted template without a destination", NULL);
	if (!add && !p.has_index && !(p.has_dir && p.has_sel))
		bug("accepted policy del that names no policy", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line l;
	char **av;
	int ac;

	split(&l, data, size);
	av = l.argv + 2;
	ac = l.argc - 2;
	if (l.argc >= 2 && !strcmp(l.argv[0], "state") && !strcmp(l.argv[1], "add")) {
		state_add(ac, av);
	} else if (l.argc >= 2 && !strcmp(l.argv[0], "state") &&
		   (!strcmp(l.argv[1], "del") || !strcmp(l.argv[1], "delete"))) {
		state_del(ac, av);
	} else if (l.argc >= 2 && !strcmp(l.argv[0], "state") && !strcmp(l.argv[1], "flush")) {
		state_flush(ac, av);
	} else if (l.argc >= 2 && !strcmp(l.argv[0], "policy") && !strcmp(l.argv[1], "add")) {
		policy(ac, av, 1);
	} else if (l.argc >= 2 && !strcmp(l.argv[0], "policy") &&
		   (!strcmp(l.argv[1], "del") || !strcmp(l.argv[1], "delete"))) {
		policy(ac, av, 0);
	} else {
		state_add(l.argc, l.argv);
		state_del(l.argc, l.argv);
		state_flush(l.argc, l.argv);
		policy(l.argc, l.argv, 1);
		policy(l.argc, l.argv, 0);
	}
	free(l.buf);
	return 0;
}
