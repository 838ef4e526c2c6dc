// SPDX-License-Identifier: GPL-2.0
/* The JSON writer (user/common/json.h) behind `espx ... -j`: exact text for
 * objects, arrays, numbers and strings, commas in the right places at every
 * depth, null, arrays one element per line, and string escaping (quotes, backslashes, control characters;
 * UTF-8 passed through). Scripts parse this output, so when python3 is
 * there it must also accept it and read back the same values. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/json.h"

#define PY "/usr/bin/python3"

static int failed;

static void check(int ok, const char *name, const char *got, const char *want)
{
	if (ok)
		printf("PASS %s\n", name);
	else
		printf("FAIL %s: got '%s', want '%s'\n", name, got, want);
	failed |= !ok;
}

/* Run fn on a writer over a memory stream, compare the text with want. */
static void expect(const char *name, void (*fn)(struct jw *), const char *want)
{
	struct jw w;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		printf("FAIL %s: open_memstream\n", name);
		failed = 1;
		return;
	}
	jw_init(&w, f);
	fn(&w);
	fclose(f);
	check(len == strlen(want) && !memcmp(buf, want, len), name, buf, want);
	free(buf);
}

static void empty_obj(struct jw *w)
{
	jw_obj_open(w, NULL);
	jw_obj_close(w);
	jw_end(w);
}

static void scalars(struct jw *w)
{
	jw_obj_open(w, NULL);
	jw_str(w, "s", "v");
	jw_u64(w, "u", UINT64_MAX);
	jw_int(w, "i", INT64_MIN);
	jw_int(w, "z", 0);
	jw_bool(w, "t", 1);
	jw_bool(w, "f", 0);
	jw_obj_close(w);
	jw_end(w);
}

static void nested(struct jw *w)
{
	jw_obj_open(w, NULL);
	jw_arr_open(w, "a");
	jw_u64(w, NULL, 1);
	jw_int(w, NULL, -2);
	jw_obj_open(w, NULL);
	jw_str(w, "k", "v");
	jw_obj_close(w);
	jw_arr_open(w, NULL);
	jw_arr_close(w);
	jw_obj_open(w, NULL);
	jw_obj_close(w);
	jw_arr_close(w);
	jw_obj_open(w, "o");
	jw_obj_close(w);
	jw_bool(w, "last", 1);
	jw_obj_close(w);
	jw_end(w);
}

static void top_array(struct jw *w)
{
	jw_arr_open(w, NULL);
	jw_str(w, NULL, "");
	jw_str(w, NULL, "x");
	jw_arr_close(w);
	jw_end(w);
}

static void quotes(struct jw *w)
{
	jw_str(w, NULL, "a\"b\\c\"\\");
}

static void controls(struct jw *w)
{
	jw_str(w, NULL, "\n\t\r\b\f\x01\x1f x\x7f");
}

static void utf8(struct jw *w)
{
	jw_str(w, NULL, "h\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");	/* hé € 𝄞 */
}

/* deeper than jw's 16 tracked levels: commas must still be right */
static void deep(struct jw *w)
{
	int i;

	jw_arr_open(w, NULL);
	for (i = 0; i < 20; i++)
		jw_arr_open(w, NULL);
	jw_u64(w, NULL, 1);
	jw_u64(w, NULL, 2);
	for (i = 0; i < 20; i++) {
		jw_arr_close(w);
		jw_u64(w, NULL, i);
	}
	jw_arr_close(w);
	jw_end(w);
}

/* everything at once, for python's parser */
static void all(struct jw *w)
{
	jw_obj_open(w, NULL);
	jw_str(w, "q", "a\"b\\c");
	jw_str(w, "c", "\n\t\x01\x1f\x7f");
	jw_str(w, "u", "h\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");
	jw_u64(w, "big", UINT64_MAX);
	jw_int(w, "neg", INT64_MIN);
	jw_arr_open(w, "l");
	jw_bool(w, NULL, 0);
	jw_obj_open(w, NULL);
	jw_obj_close(w);
	jw_arr_close(w);
	jw_obj_close(w);
	jw_end(w);
}

static void python_check(void)
{
	static const char prog[] =
		"import json,sys\n"
		"d = json.loads(sys.stdin.buffer.read().decode('utf-8'))\n"
		"want = {'q': 'a\"b\\\\c', 'c': '\\n\\t\\x01\\x1f\\x7f',\n"
		"        'u': 'h\\xe9 \\u20ac \\U0001d11e', 'big': 2**64 - 1,\n"
		"        'neg': -2**63, 'l': [False, {}]}\n"
		"sys.exit(0 if d == want else 1)\n";
	char cmd[sizeof(prog) + 64];
	struct jw w;
	FILE *p;
	int st;

	if (access(PY, X_OK)) {
		printf("SKIP json_python_parses: no %s\n", PY);
		return;
	}
	/* the program goes in the environment: no shell quoting to get wrong */
	if (setenv("ESPX_JSON_CHECK", prog, 1)) {
		printf("FAIL json_python_parses: setenv\n");
		failed = 1;
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s -c \"$ESPX_JSON_CHECK\"", PY);
	signal(SIGPIPE, SIG_IGN);	/* python may stop reading early */
	p = popen(cmd, "w");
	if (!p) {
		printf("FAIL json_python_parses: popen\n");
		failed = 1;
		return;
	}
	jw_init(&w, p);
	all(&w);
	st = pclose(p);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		printf("PASS json_python_parses\n");
	} else {
		printf("FAIL json_python_parses: python rejected it or read other values\n");
		failed = 1;
	}
}

/* espx check -j's shape: one element per line, null for the unknown */
static void lines(struct jw *w)
{
	jw_arr_open_lines(w, NULL);
	jw_obj_open(w, NULL);
	jw_null(w, "ok");
	jw_str(w, "since", NULL);
	jw_obj_close(w);
	jw_obj_open(w, NULL);
	jw_arr_open(w, "a");
	jw_u64(w, NULL, 1);
	jw_u64(w, NULL, 2);
	jw_arr_close(w);
	jw_obj_close(w);
	jw_arr_close(w);
	jw_end(w);
}

static void lines_empty(struct jw *w)
{
	jw_arr_open_lines(w, NULL);
	jw_arr_close(w);
	jw_end(w);
}

int main(void)
{
	expect("json_empty_object", empty_obj, "{}\n");
	expect("json_scalars", scalars,
	       "{\"s\":\"v\",\"u\":18446744073709551615,\"i\":-9223372036854775808,"
	       "\"z\":0,\"t\":true,\"f\":false}\n");
	expect("json_nested", nested,
	       "{\"a\":[1,-2,{\"k\":\"v\"},[],{}],\"o\":{},\"last\":true}\n");
	expect("json_top_array", top_array, "[\"\",\"x\"]\n");
	expect("json_escape_quotes", quotes, "\"a\\\"b\\\\c\\\"\\\\\"");
	expect("json_escape_controls", controls,
	       "\"\\u000a\\u0009\\u000d\\u0008\\u000c\\u0001\\u001f x\x7f\"");
	expect("json_utf8_passthrough", utf8,
	       "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\"");
	expect("json_deep_nesting", deep,
	       "[[[[[[[[[[[[[[[[[[[[[1,2],0],1],2],3],4],5],6],7],8],9],10],11],12],"
	       "13],14],15],16],17],18],19]\n");
	expect("json_lines", lines,
	       "[\n {\"ok\":null,\"since\":null},\n {\"a\":[1,2]}\n]\n");
	expect("json_lines_empty", lines_empty, "[\n]\n");
	python_check();
	return failed;
}
