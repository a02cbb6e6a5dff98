/* budget_list: what `modeluxctl budgets` shows: a snapshot of every budget's current window per
 * value, its JSON form (agent -> control socket -> modeluxctl) and an aligned text table.
 * Owns the row arrays it returns; borrows the engine under its lock for the snapshot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget_int.h"

static void fill_row(struct budget *b, const struct budget_def *d, const struct budget_entry *e,
		     int64_t now, struct budget_row *r)
{
	const struct budget_win *w = bwin_now(b, d->window, now);
	bool current = e != NULL && now < e->end;

	memset(r, 0, sizeof(*r));
	memcpy(r->name, d->name, sizeof(r->name));
	r->scope = d->scope;
	snprintf(r->value, sizeof(r->value), "%s", e ? e->value : d->match);
	r->window = d->window;
	r->window_start = current ? e->start : w->start;
	r->window_end = current ? e->end : w->end;
	r->start_utcoff = budget_tz_offset(b->rt.conf->tz, r->window_start);
	r->end_utcoff = budget_tz_offset(b->rt.conf->tz, r->window_end);
	r->cap_micro = d->cap_micro;
	r->spent_micro = current ? e->spent : 0;
	r->reserved_micro = current ? e->reserved : 0;
	int64_t used = budget_sat_add(r->spent_micro, r->reserved_micro);

	r->used_pct = d->cap_micro > 0 ? (double)used / (double)d->cap_micro : 1.0;
	r->soft_pct = d->soft_pct;
}

static int row_cmp(const void *a, const void *b)
{
	const struct budget_row *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

int budget_list(struct budget *b, int64_t now, struct budget_row **rows, size_t *nrows)
{
	struct budget_row *v;
	size_t n = 0, cap, *seen;

	*rows = NULL;
	*nrows = 0;
	now = now < BUDGET_T_MIN ? BUDGET_T_MIN : now > BUDGET_T_MAX ? BUDGET_T_MAX : now;
	pthread_mutex_lock(&b->lock);
	const struct budget_conf *c = b->rt.conf;

	cap = b->rt.nused + c->ndefs;
	v = calloc(cap ? cap : 1, sizeof(*v));
	seen = calloc(c->ndefs ? c->ndefs : 1, sizeof(*seen));
	if (v == NULL || seen == NULL) {
		pthread_mutex_unlock(&b->lock);
		free(v);
		free(seen);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->rt.nslots; i++) {
		const struct budget_entry *e = b->rt.slots[i];

		if (e == NULL)
			continue;
		fill_row(b, &c->defs[e->def], e, now, &v[n++]);
		seen[e->def]++;
	}
	for (size_t i = 0; i < c->ndefs; i++)
		if (!c->defs[i].wildcard || seen[i] == 0)
			fill_row(b, &c->defs[i], b->rt.exact[i], now, &v[n++]);
	pthread_mutex_unlock(&b->lock);
	free(seen);
	qsort(v, n, sizeof(*v), row_cmp);
	*rows = v;
	*nrows = n;
	return 0;
}

/* ---- JSON ---- */

static json_t *row_json(const struct budget_row *r)
{
	char from[40], to[40];

	budget_format_offset(r->window_start, r->start_utcoff, from, sizeof(from));
	budget_format_offset(r->window_end, r->end_utcoff, to, sizeof(to));
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:s, s:s, s:I, s:I, s:I,"
			 " s:f, s:f, s:f, s:f, s:f}",
			 "name", r->name, "scope", budget_scope_name(r->scope), "value", r->value,
			 "window", budget_window_name(r->window),
			 "window_start", (json_int_t)r->window_start,
			 "window_end", (json_int_t)r->window_end,
			 "start_utcoff", (int)r->start_utcoff, "end_utcoff", (int)r->end_utcoff,
			 "window_start_local", from, "window_end_local", to,
			 "cap_micro", (json_int_t)r->cap_micro,
			 "spent_micro", (json_int_t)r->spent_micro,
			 "reserved_micro", (json_int_t)r->reserved_micro,
			 "cap_usd", (double)r->cap_micro / 1e6,
			 "spent_usd", (double)r->spent_micro / 1e6,
			 "reserved_usd", (double)r->reserved_micro / 1e6,
			 "used_pct", r->used_pct, "soft_pct", r->soft_pct);
}

json_t *budget_rows_to_json(const struct budget_row *rows, size_t nrows)
{
	json_t *arr = json_array(), *doc;

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < nrows; i++)
		if (json_array_append_new(arr, row_json(&rows[i])) != 0) {
			json_decref(arr);
			return NULL;
		}
	doc = json_pack("{s:o}", "budgets", arr);
	return doc;
}

static bool get_str(const json_t *o, const char *key, char *out, size_t size)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static bool get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = json_integer_value(v);
	return true;
}

static bool get_num(const json_t *o, const char *key, double *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

bool budget_rows_from_json(const json_t *doc, struct budget_row **rows, size_t *nrows, char *err,
			   size_t errlen)
{
	const json_t *arr = json_object_get(doc, "budgets");
	struct budget_row *v;
	size_t n;

	*rows = NULL;
	*nrows = 0;
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "budgets: expected {\"budgets\": [...]}");
		return false;
	}
	n = json_array_size(arr);
	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "budgets: %s", strerror(ENOMEM));
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(arr, i);
		struct budget_row *r = &v[i];
		char scope[16], window[16];
		int64_t so, eo;

		if (!json_is_object(o) || !get_str(o, "name", r->name, sizeof(r->name)) ||
		    !get_str(o, "value", r->value, sizeof(r->value)) ||
		    !get_str(o, "scope", scope, sizeof(scope)) ||
		    !budget_scope_parse(scope, &r->scope) ||
		    !get_str(o, "window", window, sizeof(window)) ||
		    !budget_window_parse(window, &r->window) ||
		    !get_int(o, "window_start", BUDGET_T_MIN, BUDGET_T_MAX, &r->window_start) ||
		    !get_int(o, "window_end", BUDGET_T_MIN, BUDGET_T_MAX, &r->window_end) ||
		    !get_int(o, "start_utcoff", -26 * 3600, 26 * 3600, &so) ||
		    !get_int(o, "end_utcoff", -26 * 3600, 26 * 3600, &eo) ||
		    !get_int(o, "cap_micro", 0, BUDGET_MAX_MICRO, &r->cap_micro) ||
		    !get_int(o, "spent_micro", INT64_MIN, INT64_MAX, &r->spent_micro) ||
		    !get_int(o, "reserved_micro", INT64_MIN, INT64_MAX, &r->reserved_micro) ||
		    !get_num(o, "used_pct", &r->used_pct) || !get_num(o, "soft_pct", &r->soft_pct)) {
			free(v);
			snprintf(err, errlen, "budgets[%zu]: missing or malformed field", i);
			return false;
		}
		r->start_utcoff = (int32_t)so;
		r->end_utcoff = (int32_t)eo;
	}
	*rows = v;
	*nrows = n;
	return true;
}

/* ---- text table ---- */

enum { COL_NAME, COL_SCOPE, COL_VALUE, COL_WINDOW, COL_FROM, COL_TO, COL_CAP, COL_SPENT,
       COL_RESERVED, COL_USED, COL_STATE, NCOLS };

#define CELL_MAX 48

static const char *const headers[NCOLS] = { "NAME", "SCOPE", "VALUE", "WINDOW", "FROM", "TO",
					    "CAP_USD", "SPENT_USD", "RESERVED_USD", "USED",
					    "STATE" };

/* Values come from requests: keep cells printable and bounded. */
static void cell_text(const char *s, char *out)
{
	size_t o = 0, len = strlen(s);

	for (size_t i = 0; i < len && o < CELL_MAX - 1; i++) {
		if (len > CELL_MAX - 1 && o == CELL_MAX - 4) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];

		out[o++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
	}
	out[o] = '\0';
}

static void row_cells(const struct budget_row *r, char cells[NCOLS][CELL_MAX])
{
	int64_t used = budget_sat_add(r->spent_micro, r->reserved_micro);

	cell_text(r->name, cells[COL_NAME]);
	snprintf(cells[COL_SCOPE], CELL_MAX, "%s", budget_scope_name(r->scope));
	cell_text(r->value, cells[COL_VALUE]);
	snprintf(cells[COL_WINDOW], CELL_MAX, "%s", budget_window_name(r->window));
	budget_format_offset(r->window_start, r->start_utcoff, cells[COL_FROM], CELL_MAX);
	budget_format_offset(r->window_end, r->end_utcoff, cells[COL_TO], CELL_MAX);
	budget_usd_format(r->cap_micro, cells[COL_CAP], CELL_MAX);
	budget_usd_format(r->spent_micro, cells[COL_SPENT], CELL_MAX);
	budget_usd_format(r->reserved_micro, cells[COL_RESERVED], CELL_MAX);
	snprintf(cells[COL_USED], CELL_MAX, "%.1f%%", r->used_pct * 100.0);
	snprintf(cells[COL_STATE], CELL_MAX, "%s",
		 used >= r->cap_micro ? "over" : r->used_pct >= r->soft_pct ? "soft" : "ok");
}

char *budget_rows_table(const struct budget_row *rows, size_t nrows)
{
	size_t width[NCOLS];
	char cells[NCOLS][CELL_MAX];
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	for (int c = 0; c < NCOLS; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < nrows; i++) {
		row_cells(&rows[i], cells);
		for (int c = 0; c < NCOLS; c++)
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
	}
	f = open_memstream(&out, &outlen);
	if (f == NULL)
		return NULL;
	for (size_t i = 0; i <= nrows; i++) {
		if (i > 0)
			row_cells(&rows[i - 1], cells);
		for (int c = 0; c < NCOLS; c++) {
			const char *s = i == 0 ? headers[c] : cells[c];
			bool right = c == COL_CAP || c == COL_SPENT || c == COL_RESERVED ||
				     c == COL_USED;

			if (c == NCOLS - 1)
				fprintf(f, "%s", s);
			else
				fprintf(f, right ? "%*s  " : "%-*s  ", (int)width[c], s);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
