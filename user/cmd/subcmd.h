/* SPDX-License-Identifier: GPL-2.0 */
/* The add|del|list|flush|help words shared by `espx state` and `espx
 * policy`: one table per object, one dispatch. */
#ifndef ESPX_SUBCMD_H
#define ESPX_SUBCMD_H

#include <stdio.h>

struct obj_cmds {
	const char *obj;		/* "state", "policy": for messages */
	int (*add)(int argc, char **argv);
	int (*del)(int argc, char **argv);
	int (*list)(int argc, char **argv, int json);
	int (*flush)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *no_update;		/* why `update` is refused */
};

/* argv[1] is the word (default list); exit code 0, 1 or 2 (usage). */
int obj_cmd_run(const struct obj_cmds *c, int argc, char **argv, int json);

#endif
