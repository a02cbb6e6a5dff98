/* fuzz_budget_conf: libFuzzer driver for the budgets file parser (budget_conf.c) and the JSON
 * position finder it relies on (jpos.c). Input: the file's bytes. Beyond "no crash":
 * on failure the message starts with "fuzz.json:LINE:COL: " inside the input and nothing is
 * returned; on success every budget is well-formed (name charset, unique names, enums, exact
 * caps within range that agree with jansson's double, soft_pct in (0, 1], the per-request
 * bound), the position finder points at each budget's name and cap in the text, and printing
 * the result and parsing it again gives the same budgets. Build:
 *   make O=build-h FUZZ_LIBS_fuzz_budget_conf=-ljansson build-h/fuzz/fuzz_budget_conf */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/budget_conf.c"
#include "../../userspace/jpos.c"
#include "../../userspace/utf8.c"
#include "../../userspace/budget_tz.c"

#define FNAME "fuzz.json"

static void check_failure(const uint8_t *data, size_t size, const char *err,
			  const struct budget_conf *c)
{
	unsigned line, col, lines = 1;
	int n = 0;

	if (c != NULL)
		__builtin_trap();
	if (sscanf(err, FNAME ":%u:%u: %n", &line, &col, &n) != 2 || n == 0)
		__builtin_trap();
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (line < 1 || line > lines || col < 1 || col > size + 1)
		__builtin_trap();
}

/* The locator must find budgets[i].<key> and its text must decode to <want> (a string) or to
 * a number equal to <num>. */
static void check_located(const char *text, size_t len, size_t i, const char *key,
			  const char *want, double num)
{
	struct jpath p = { 3, { { "budgets", 0 }, { NULL, i }, { key, 0 } } };
	long off = jpos_find(text, len, &p, 3, false);
	json_error_t jerr;

	if (off < 0)
		__builtin_trap();
	size_t vlen = jpos_value_len(text, len, (size_t)off);
	json_t *v = json_loadb(text + off, vlen, JSON_DECODE_ANY, &jerr);

	if (v == NULL)
		__builtin_trap();
	if (want != NULL && (!json_is_string(v) || strcmp(json_string_value(v), want) != 0))
		__builtin_trap();
	if (want == NULL && (!json_is_number(v) || json_number_value(v) != num))
		__builtin_trap();
	json_decref(v);
}

static char *print_conf(const struct budget_conf *c)
{
	json_t *arr = json_array();
	char cap[40];

	for (size_t i = 0; i < c->ndefs; i++) {
		const struct budget_def *d = &c->defs[i];

		budget_usd_format(d->cap_micro, cap, sizeof(cap));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "name",
						     d->name, "scope", budget_scope_name(d->scope),
						     "match", d->match, "window",
						     budget_window_name(d->window), "cap_usd", "CAP",
						     "soft_pct", d->soft_pct));
	}
	json_t *root = json_pack("{s:s, s:o}", "time_zone", budget_tz_name(c->tz), "budgets", arr);
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);

	json_decref(root);
	/* caps go in as exact decimal text, not through a double: replace the placeholders */
	size_t cap_total = strlen(text) + c->ndefs * 40 + 1, o = 0, k = 0;
	char *out = malloc(cap_total);

	for (const char *p = text; *p;) {
		if (strncmp(p, "\"CAP\"", 5) == 0) {
			budget_usd_format(c->defs[k++].cap_micro, cap, sizeof(cap));
			o += (size_t)sprintf(out + o, "%s", cap);
			p += 5;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	free(text);
	return out;
}

static void check_success(const char *text, size_t len, const struct budget_conf *c)
{
	if (c == NULL || c->tz == NULL || c->ndefs > BUDGET_MAX_DEFS)
		__builtin_trap();
	for (size_t i = 0; i < c->ndefs; i++) {
		const struct budget_def *d = &c->defs[i];

		if (!name_ok(d->name) || (unsigned)d->scope >= BUDGET_SCOPE_COUNT ||
		    (unsigned)d->window >= BUDGET_WINDOW_COUNT ||
		    !value_ok(d->match, strlen(d->match)) ||
		    d->wildcard != (strcmp(d->match, "*") == 0) || d->cap_micro < 0 ||
		    d->cap_micro > BUDGET_MAX_MICRO || !(d->soft_pct > 0 && d->soft_pct <= 1))
			__builtin_trap();
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->defs[j].name, d->name) == 0)
				__builtin_trap();
		check_located(text, len, i, "name", d->name, 0);
		/* the exact cap and jansson's double agree to the double's precision */
		struct jpath p = { 3, { { "budgets", 0 }, { NULL, i }, { "cap_usd", 0 } } };
		long off = jpos_find(text, len, &p, 3, false);
		json_error_t jerr;
		json_t *v = off < 0 ? NULL : json_loadb(text + off,
							jpos_value_len(text, len, (size_t)off),
							JSON_DECODE_ANY, &jerr);

		if (v == NULL || !json_is_number(v))
			__builtin_trap();
		double usd = json_number_value(v);

		json_decref(v);
		if (fabs(usd * 1e6 - (double)d->cap_micro) > 1e-6 * fabs(usd * 1e6) + 0.5)
			__builtin_trap();
	}
	struct conf_parser cp = { text, len, FNAME, NULL, 0, { 0 } };

	if (!check_apply_bound(&cp, c))
		__builtin_trap();
}

static bool same_defs(const struct budget_conf *a, const struct budget_conf *b)
{
	if (a->ndefs != b->ndefs || strcmp(budget_tz_name(a->tz), budget_tz_name(b->tz)) != 0)
		return false;
	for (size_t i = 0; i < a->ndefs; i++) {
		const struct budget_def *x = &a->defs[i], *y = &b->defs[i];

		if (strcmp(x->name, y->name) || x->scope != y->scope || strcmp(x->match, y->match) ||
		    x->wildcard != y->wildcard || x->window != y->window ||
		    x->cap_micro != y->cap_micro || x->soft_pct != y->soft_pct)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct budget_conf *c = NULL, *again = NULL;
	char err[512];

	if (size > 64 * 1024)
		return 0;
	if (!budget_conf_parse((const char *)data, size, FNAME, NULL, &c, err, sizeof(err))) {
		check_failure(data, size, err, c);
		return 0;
	}
	check_success((const char *)data, size, c);
	char *text = print_conf(c);

	if (!budget_conf_parse(text, strlen(text), FNAME, NULL, &again, err, sizeof(err)))
		__builtin_trap();
	if (!same_defs(c, again))
		__builtin_trap();
	free(text);
	budget_conf_free(again);
	budget_conf_free(c);
	return 0;
}
