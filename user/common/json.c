// SPDX-License-Identifier: GPL-2.0
/* The one JSON writer (json.h). */
#include <inttypes.h>
#include "common/json.h"

void jw_init(struct jw *w, FILE *f)
{
	w->f = f;
	w->depth = 0;
	w->first[0] = 1;
	w->lines[0] = 0;
}

static void jw_escaped(struct jw *w, const char *s);

static void jw_sep(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	if (w->lines[w->depth])
		fputs("\n ", w->f);
	w->first[w->depth] = 0;
	if (key) {
		jw_escaped(w, key);
		fputc(':', w->f);
	}
}

static void jw_escaped(struct jw *w, const char *s)
{
	fputc('"', w->f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(w->f, "\\%c", c);
		else if (c < 0x20)
			fprintf(w->f, "\\u%04x", c);
		else
			fputc(c, w->f);
	}
	fputc('"', w->f);
}

static void jw_push(struct jw *w, const char *key, char open, int lines)
{
	jw_sep(w, key);
	fputc(open, w->f);
	if (w->depth < 15)
		w->depth++;
	w->first[w->depth] = 1;
	w->lines[w->depth] = lines;
}

void jw_obj_open(struct jw *w, const char *key)
{
	jw_push(w, key, '{', 0);
}

void jw_arr_open(struct jw *w, const char *key)
{
	jw_push(w, key, '[', 0);
}

void jw_arr_open_lines(struct jw *w, const char *key)
{
	jw_push(w, key, '[', 1);
}

void jw_obj_close(struct jw *w)
{
	fputc('}', w->f);
	if (w->depth)
		w->depth--;
}

void jw_arr_close(struct jw *w)
{
	if (w->lines[w->depth])
		fputc('\n', w->f);
	fputc(']', w->f);
	if (w->depth)
		w->depth--;
}

void jw_str(struct jw *w, const char *key, const char *val)
{
	jw_sep(w, key);
	if (val)
		jw_escaped(w, val);
	else
		fputs("null", w->f);
}

void jw_u64(struct jw *w, const char *key, uint64_t val)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRIu64, val);
}

void jw_int(struct jw *w, const char *key, int64_t val)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRId64, val);
}

void jw_bool(struct jw *w, const char *key, int val)
{
	jw_sep(w, key);
	fputs(val ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	jw_sep(w, key);
	fputs("null", w->f);
}

void jw_end(struct jw *w)
{
	fputc('\n', w->f);
}
