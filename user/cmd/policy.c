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
#include "cmd/show.h"
#include "cmd/subcmd.h"
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

static int policy_list(int argc, char **argv, int json)
{
	struct pol_table *t = NULL;
	__u32 dir, i;
	struct pw p;
	int err;

	if (argc > 0) {
		pr_warn("policy list: unexpected '%s'; it takes no filters (only -j)\n", argv[0]);
		return 2;
	}
	err = policy_read(&t);
	if (!err) {
		pw_init(&p, stdout, json);
		pw_arr_open(&p, NULL);
		for (dir = 0; dir < ESPX_POL__MAX; dir++)
			for (i = 0; i < t->n[dir]; i++)
				pol_print(&p, &t->p[dir][i]);
		pw_arr_close(&p);
		pw_end(&p);
	}
	free(t);
	return err ? 1 : 0;
}

int policy_cmd(int argc, char **argv, int json)
{
	static const struct obj_cmds cmds = {
		.obj = "policy",
		.add = policy_add,
		.del = policy_del,
		.list = policy_list,
		.flush = policy_flush,
		.usage = policy_usage,
		.no_update = "; delete the policy and add it again",
	};

	return obj_cmd_run(&cmds, argc, argv, json);
}
