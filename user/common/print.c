// SPDX-License-Identifier: GPL-2.0
/* One printer for text and JSON (print.h). */
#include <stdarg.h>
#include "common/print.h"

void pw_init(struct pw *p, FILE *f, int json)
{
	p->f = f;
	p->json = json;
	jw_init(&p->w, f);
}

void pw_obj_open(struct pw *p, const char *key)
{
	if (p->json)
		jw_obj_open(&p->w, key);
}

void pw_obj_close(struct pw *p)
{
	if (p->json)
		jw_obj_close(&p->w);
}

void pw_arr_open(struct pw *p, const char *key)
{
	if (p->json)
		jw_arr_open(&p->w, key);
}

void pw_arr_close(struct pw *p)
{
	if (p->json)
		jw_arr_close(&p->w);
}

void pw_end(struct pw *p)
{
	if (p->json)
		jw_end(&p->w);
}

/* Which form this call writes: 1 JSON, 0 text, -1 none. */
static int form(const struct pw *p, enum pw_type t, const char *fmt)
{
	if (p->json)
		return t & PRINT_JSON ? 1 : -1;
	return (t & PRINT_FP) && fmt ? 0 : -1;
}

void pw_str(struct pw *p, enum pw_type t, const char *key, const char *fmt, const char *val)
{
	switch (form(p, t, fmt)) {
	case 1: jw_str(&p->w, key, val); break;
	case 0: fprintf(p->f, fmt, val); break;
	}
}

void pw_uint(struct pw *p, enum pw_type t, const char *key, const char *fmt, unsigned int val)
{
	switch (form(p, t, fmt)) {
	case 1: jw_u64(&p->w, key, val); break;
	case 0: fprintf(p->f, fmt, val); break;
	}
}

void pw_u64(struct pw *p, enum pw_type t, const char *key, const char *fmt,
	    unsigned long long val)
{
	switch (form(p, t, fmt)) {
	case 1: jw_u64(&p->w, key, val); break;
	case 0: fprintf(p->f, fmt, val); break;
	}
}

void pw_bool(struct pw *p, enum pw_type t, const char *key, const char *fmt, int val)
{
	switch (form(p, t, fmt)) {
	case 1: jw_bool(&p->w, key, val); break;
	case 0: fprintf(p->f, fmt, val ? "true" : "false"); break;
	}
}

void pw_text(struct pw *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
}
