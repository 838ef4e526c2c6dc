/* SPDX-License-Identifier: GPL-2.0 */
/* One printer for text and JSON, iproute2's print_*(PRINT_ANY, key, fmt,
 * value) pattern (include/json_print.h there): an object's printer makes
 * one call per field, and the mode chosen at pw_init decides whether the
 * field is written as text (fmt, where the call's type has PRINT_FP) or as
 * a JSON member (key, where it has PRINT_JSON). Fields only one form has
 * use PRINT_FP or PRINT_JSON; objects and arrays open and close in JSON
 * only. */
#ifndef ESPX_PRINT_H
#define ESPX_PRINT_H

#include <stdio.h>
#include "common/json.h"

enum pw_type {
	PRINT_FP = 1,
	PRINT_JSON = 2,
	PRINT_ANY = PRINT_FP | PRINT_JSON,
};

struct pw {
	struct jw w;
	FILE *f;
	int json;
};

void pw_init(struct pw *p, FILE *f, int json);
/* JSON structure; nothing in text. key NULL inside arrays / at the top. */
void pw_obj_open(struct pw *p, const char *key);
void pw_obj_close(struct pw *p);
void pw_arr_open(struct pw *p, const char *key);
void pw_arr_close(struct pw *p);
/* JSON: a newline after the top-level value; text: nothing. */
void pw_end(struct pw *p);

void pw_str(struct pw *p, enum pw_type t, const char *key, const char *fmt, const char *val);
void pw_uint(struct pw *p, enum pw_type t, const char *key, const char *fmt, unsigned int val);
void pw_u64(struct pw *p, enum pw_type t, const char *key, const char *fmt,
	    unsigned long long val);
void pw_bool(struct pw *p, enum pw_type t, const char *key, const char *fmt, int val);
/* Text only, printf-like. */
void pw_text(struct pw *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
