/* SPDX-License-Identifier: GPL-2.0 */
/* Output for listings: text by default, the same fields as JSON with -j
 * (iproute2's print_* pattern, reduced to what espx needs). */
#ifndef ESPX_JSON_H
#define ESPX_JSON_H

#include <stdint.h>
#include <stdio.h>

struct jw {
	FILE *f;
	int depth;
	int first[16];	/* no comma before the next member at this depth */
	int lines[16];	/* jw_arr_open_lines: each element on a line of its own */
};

void jw_init(struct jw *w, FILE *f);
void jw_obj_open(struct jw *w, const char *key);	/* key NULL inside arrays / at top */
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w, const char *key);
/* An array whose elements each start on a new line after one space, and
 * whose ']' does too (espx check -j: one item per line). */
void jw_arr_open_lines(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *val);	/* val NULL: null */
void jw_u64(struct jw *w, const char *key, uint64_t val);
void jw_int(struct jw *w, const char *key, int64_t val);
void jw_bool(struct jw *w, const char *key, int val);
void jw_null(struct jw *w, const char *key);
void jw_end(struct jw *w);	/* newline after the top-level value */

#endif
