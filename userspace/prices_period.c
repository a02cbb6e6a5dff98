/* prices_period: validates the price periods of a model (dates, rates in USD per million tokens
 * converted to integer rate units, long-context tiers, history without overlaps). Owns the
 * periods array it gives the model; borrows the JSON. */

#include <errno.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <stdlib.h>
#include <string.h>

#include "prices_parse.h"

/* "YYYY-MM-DD" to unix seconds at 00:00 UTC. */
static bool parse_date(const char *s, int64_t *out)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d, dim;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	}
	y = (unsigned)atoi(s);
	m = (unsigned)atoi(s + 5);
	d = (unsigned)atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12)
		return false;
	dim = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d < 1 || d > dim)
		return false;
	*out = prices_days_from_civil(y, m, d) * 86400;
	return true;
}

bool pctx_get_date(struct pctx *c, json_t *obj, const char *key, bool required, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	bool ok;

	if (!v)
		return !required || pctx_fail(c, false, "missing \"%s\"", key);
	pctx_push_key(c, key);
	ok = (json_is_string(v) && parse_date(json_string_value(v), out)) ||
	     pctx_fail(c, false, "must be a date \"YYYY-MM-DD\"");
	pctx_pop(c);
	return ok;
}

/* Round <scaled> (0 <= scaled <= PRICES_RATE_MAX) to an integer rate; false when it is not
 * within 1/1000 of one, i.e. the price had more than six decimals (binary floating point makes
 * 0.01875 * 1e6 = 18750.000000000004, so an exact test would be wrong). */
static bool rate_of(double scaled, int64_t *out)
{
	int64_t r = (int64_t)(scaled + 0.5);
	double diff = scaled - (double)r;

	if (diff < -1e-3 || diff > 1e-3)
		return false;
	*out = r;
	return true;
}

/* A price in USD per million tokens, to rate units (micro-dollars per million tokens). */
static bool get_rate(struct pctx *c, json_t *obj, const char *key, bool required, int64_t *out,
		     bool *present)
{
	json_t *v = json_object_get(obj, key);
	double x, scaled;
	bool ok = true;

	if (present)
		*present = v != NULL;
	if (!v)
		return !required || pctx_fail(c, false, "missing \"%s\"", key);
	pctx_push_key(c, key);
	x = json_number_value(v);
	scaled = x * 1e6;
	if (!json_is_number(v) || !isfinite(x) || x < 0)
		ok = pctx_fail(c, false, "must be a non-negative number");
	else if (scaled > (double)PRICES_RATE_MAX)
		ok = pctx_fail(c, false, "must be at most %lld (USD per million tokens)",
			       PRICES_RATE_MAX / 1000000);
	else if (!rate_of(scaled, out))
		ok = pctx_fail(c, false, "more precise than 0.000001 USD per million tokens");
	pctx_pop(c);
	return ok;
}

/* input/output (required), cached_input and cache_write (default: input), reasoning (a number
 * or "output", the default). */
static bool parse_rates(struct pctx *c, json_t *obj, struct prices_rates *r)
{
	json_t *reasoning = json_object_get(obj, "reasoning");
	bool present;

	if (!get_rate(c, obj, "input", true, &r->input, NULL) ||
	    !get_rate(c, obj, "output", true, &r->output, NULL))
		return false;
	if (!get_rate(c, obj, "cached_input", false, &r->cached_input, &present))
		return false;
	if (!present)
		r->cached_input = r->input;
	if (!get_rate(c, obj, "cache_write", false, &r->cache_write, &present))
		return false;
	if (!present)
		r->cache_write = r->input;
	r->reasoning = r->output;
	if (json_is_string(reasoning)) {
		bool ok = strcmp(json_string_value(reasoning), "output") == 0;

		pctx_push_key(c, "reasoning");
		if (!ok)
			pctx_fail(c, false, "must be a number or \"output\"");
		pctx_pop(c);
		return ok;
	}
	return get_rate(c, obj, "reasoning", false, &r->reasoning, NULL);
}

static bool parse_period(struct pctx *c, json_t *obj, bool own_object, struct prices_period *pp)
{
	static const char *const period_keys[] = { PRICES_PERIOD_KEYS, NULL };
	static const char *const long_keys[] = { "above", PRICES_RATE_KEYS, NULL };
	json_t *lc;
	bool ok;

	if (own_object && (!pctx_need_object(c, obj) || !pctx_check_keys(c, obj, period_keys)))
		return false;
	pp->to = PRICES_OPEN_END;
	if (!pctx_get_date(c, obj, "from", true, &pp->from) ||
	    !pctx_get_date(c, obj, "to", false, &pp->to))
		return false;
	if (pp->to <= pp->from) {
		pctx_push_key(c, "to");
		pctx_fail(c, false, "must be after \"from\"");
		pctx_pop(c);
		return false;
	}
	if (!parse_rates(c, obj, &pp->base))
		return false;
	lc = json_object_get(obj, "long_context");
	if (!lc)
		return true;
	pctx_push_key(c, "long_context");
	ok = pctx_need_object(c, lc) && pctx_check_keys(c, lc, long_keys);
	if (ok) {
		json_t *above = json_object_get(lc, "above");

		if (!above) {
			ok = pctx_fail(c, false, "missing \"above\"");
		} else if (!json_is_integer(above) || json_integer_value(above) <= 0) {
			pctx_push_key(c, "above");
			ok = pctx_fail(c, false, "must be a positive integer (prompt tokens)");
			pctx_pop(c);
		} else {
			pp->long_above = (uint64_t)json_integer_value(above);
			ok = parse_rates(c, lc, &pp->longctx);
		}
	}
	pctx_pop(c);
	return ok;
}

/* Where a period came from, to point at it when periods overlap. */
struct period_src {
	struct prices_period p;
	long history; /* index in "history", -1 for the model's own (inline) period */
};

static int cmp_period_src(const void *a, const void *b)
{
	const struct period_src *x = a, *y = b;

	return x->p.from < y->p.from ? -1 : x->p.from > y->p.from;
}

bool prices_parse_periods(struct pctx *c, json_t *obj, struct prices_model *m)
{
	json_t *hist = json_object_get(obj, "history"), *v;
	struct period_src src[1 + PRICES_MAX_LIST];
	size_t n = 0, i;

	memset(src, 0, sizeof(src));
	src[n].history = -1;
	if (!parse_period(c, obj, false, &src[n++].p))
		return false;
	if (hist) {
		pctx_push_key(c, "history");
		if (!json_is_array(hist) || json_array_size(hist) > PRICES_MAX_LIST) {
			pctx_fail(c, false, "must be an array of at most %d periods",
				  PRICES_MAX_LIST);
			pctx_pop(c);
			return false;
		}
		json_array_foreach(hist, i, v) {
			bool ok;

			pctx_push_index(c, i);
			src[n].history = (long)i;
			ok = parse_period(c, v, true, &src[n++].p);
			pctx_pop(c);
			if (!ok) {
				pctx_pop(c);
				return false;
			}
		}
		pctx_pop(c);
	}
	qsort(src, n, sizeof(src[0]), cmp_period_src);
	for (i = 1; i < n; i++) {
		const struct period_src *a = &src[i - 1], *b = &src[i];
		/* Point at the earlier period's "to" when it has one, else at the later "from". */
		const struct period_src *at = a->p.to != PRICES_OPEN_END ? a : b;
		size_t depth = c->depth;

		if (a->p.to <= b->p.from)
			continue;
		if (at->history >= 0) {
			pctx_push_key(c, "history");
			pctx_push_index(c, (size_t)at->history);
		}
		if (at == a) {
			pctx_push_key(c, "to");
			pctx_fail(c, false, "period ends after the next period starts");
		} else {
			pctx_push_key(c, "from");
			pctx_fail(c, false,
				  "period starts while an earlier period with no "
				  "\"to\" is in effect");
		}
		c->depth = depth;
		return false;
	}
	m->periods = calloc(n, sizeof(*m->periods));
	if (!m->periods)
		return pctx_oom(c);
	for (i = 0; i < n; i++)
		m->periods[i] = src[i].p;
	m->nperiods = n;
	return true;
}
