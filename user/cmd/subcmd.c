// SPDX-License-Identifier: GPL-2.0
/* The add|del|list|flush|help dispatch of object commands (subcmd.h). */
#include <string.h>
#include "cmd/subcmd.h"
#include "common/log.h"

int obj_cmd_run(const struct obj_cmds *c, int argc, char **argv, int json)
{
	const char *sub = argc > 1 ? argv[1] : "list";

	argc -= 2;
	argv += 2;
	if (argc < 0)
		argc = 0;
	if (!strcmp(sub, "add"))
		return c->add(argc, argv);
	if (!strcmp(sub, "del") || !strcmp(sub, "delete"))
		return c->del(argc, argv);
	if (!strcmp(sub, "list") || !strcmp(sub, "show"))
		return c->list(argc, argv, json);
	if (!strcmp(sub, "flush"))
		return c->flush(argc, argv);
	if (!strcmp(sub, "help")) {
		c->usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "update")) {
		pr_warn("%s update is not supported%s\n", c->obj, c->no_update);
		return 2;
	}
	pr_warn("%s: unknown command '%s'; expected add, del, list or flush\n", c->obj, sub);
	return 2;
}
