/* prices_lookup: finds the price of (provider, model, time) in a loaded table and turns token
 * counts into integer micro-dollars. Borrows the table; a quote is a copy. No allocation.
 *
 * Arithmetic: a rate is micro-dollars per million tokens, so tokens x rate is a cost in
 * pico-dollars (1e-12 USD). Each kind of token is multiplied exactly in 128-bit integers, the
 * products are summed, and only the total is rounded: half up to a micro-dollar for costs,
 * up for the budget bound. 2^64 tokens at the largest rate stay far inside 128 bits, so the only
 * overflow is a total above INT64_MAX micro-dollars, reported as -ERANGE. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prices_int.h"

#define PICO_PER_MICRO 1000000u

typedef unsigned __int128 u128;

int64_t prices_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void prices_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* Length of <s> without one snapshot suffix, or <n> when it has none. */
static size_t strip_snapshot(const char *s, size_t n)
{
	const char *t;

	/* -YYYY-MM-DD */
	if (n > 11 && (t = s + n - 11)[0] == '-' && all_digits(t + 1, 4) && t[5] == '-' &&
	    all_digits(t + 6, 2) && t[8] == '-' && all_digits(t + 9, 2))
		return n - 11;
	/* -YYYYMMDD, @YYYYMMDD */
	if (n > 9 && ((t = s + n - 9)[0] == '-' || t[0] == '@') && all_digits(t + 1, 8))
		return n - 9;
	if (n > 7 && memcmp(s + n - 7, "-latest", 7) == 0)
		return n - 7;
	/* -NNNN (e.g. Mistral's -2411, OpenAI's -0613), -NNN (Gemini's -002) */
	if (n > 5 && s[n - 5] == '-' && all_digits(s + n - 4, 4))
		return n - 5;
	if (n > 4 && s[n - 4] == '-' && all_digits(s + n - 3, 3))
		return n - 4;
	return n;
}

static int cmp_key_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct prices_name *)elem)->lname);
}

static const struct prices_name *find_name(const struct prices_provider *pv, const char *lname)
{
	if (!pv->nnames)
		return NULL;
	return bsearch(lname, pv->names, pv->nnames, sizeof(*pv->names), cmp_key_name);
}

static const struct prices_prefix *find_prefix(const struct prices_provider *pv,
					       const char *lname, size_t n)
{
	const struct prices_prefix *best = NULL;

	for (size_t i = 0; i < pv->nprefixes; i++) {
		const struct prices_prefix *r = &pv->prefixes[i];

		if (r->len <= n && memcmp(lname, r->lprefix, r->len) == 0 &&
		    (!best || r->len > best->len))
			best = r;
	}
	return best;
}

enum prices_status prices_lookup(const struct prices *p, const char *provider, const char *model,
				 int64_t when, struct prices_quote *out)
{
	const struct prices_provider *pv = NULL;
	const struct prices_name *nm;
	const struct prices_model *m;
	char lname[PRICES_NAME_MAX];
	uint32_t model_idx;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->status = PRICES_UNKNOWN_PROVIDER;
	for (size_t i = 0; p && provider && i < p->nproviders; i++) {
		if (strcasecmp(p->providers[i].name, provider) == 0) {
			pv = &p->providers[p->providers[i].target];
			break;
		}
	}
	if (!pv)
		return out->status;
	snprintf(out->provider, sizeof(out->provider), "%s", pv->name);
	out->acct = pv->acct;
	out->status = PRICES_UNKNOWN_MODEL;
	if (!model)
		return out->status;
	if (strncmp(model, "models/", 7) == 0) /* Gemini resource names */
		model += 7;
	n = strlen(model);
	if (n == 0 || n >= sizeof(lname))
		return out->status;
	for (size_t i = 0; i <= n; i++) {
		char ch = model[i];

		lname[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}

	if ((nm = find_name(pv, lname))) {
		out->match = nm->alias < 0 ? PRICES_MATCH_EXACT : PRICES_MATCH_ALIAS;
		model_idx = nm->model;
	} else {
		size_t stripped = strip_snapshot(lname, n);
		const struct prices_prefix *pr;

		if (stripped < n) {
			char c = lname[stripped];

			lname[stripped] = '\0';
			nm = find_name(pv, lname);
			lname[stripped] = c;
		}
		if (nm) {
			out->match = PRICES_MATCH_SNAPSHOT;
			model_idx = nm->model;
		} else if ((pr = find_prefix(pv, lname, n))) {
			out->match = PRICES_MATCH_PREFIX;
			model_idx = pr->model;
		} else {
			return out->status;
		}
	}
	m = &pv->models[model_idx];
	snprintf(out->model, sizeof(out->model), "%s", m->name);
	out->status = PRICES_NO_PRICE_AT_TIME;
	for (size_t i = 0; i < m->nperiods; i++) {
		if (m->periods[i].from <= when && when < m->periods[i].to) {
			out->period = m->periods[i];
			out->status = PRICES_KNOWN;
			break;
		}
	}
	return out->status;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int to_micro(u128 pico, bool round_up, int64_t *out)
{
	u128 micro = (pico + (round_up ? PICO_PER_MICRO - 1 : PICO_PER_MICRO / 2)) / PICO_PER_MICRO;

	if (micro > (u128)INT64_MAX)
		return -ERANGE;
	*out = (int64_t)micro;
	return 0;
}

int prices_cost(const struct prices_quote *q, const struct prices_usage *u,
		struct prices_cost *out)
{
	const struct prices_rates *r;
	u128 prompt, pico;

	memset(out, 0, sizeof(*out));
	if (!q || q->status != PRICES_KNOWN)
		return -ENOENT;
	/* Whole prompt size, for the long-context threshold. */
	prompt = q->acct.input_includes_cached ? (u128)u->input
					       : (u128)u->input + u->cached_input + u->cache_write;
	out->long_context = q->period.long_above && prompt > q->period.long_above;
	r = out->long_context ? &q->period.longctx : &q->period.base;

	out->cached_input = u->cached_input;
	out->cache_write = u->cache_write;
	out->input = u->input;
	if (q->acct.input_includes_cached) {
		/* input counts the cached tokens too: charge them once, at their own rates. */
		if ((u128)u->cached_input + u->cache_write > u->input) {
			out->clamped = true;
			out->cached_input = min_u64(u->cached_input, u->input);
			out->cache_write = min_u64(u->cache_write, u->input - out->cached_input);
		}
		out->input = u->input - out->cached_input - out->cache_write;
	}
	out->output = u->output;
	out->reasoning = u->reasoning;
	if (q->acct.output_includes_reasoning) {
		if (u->reasoning > u->output) {
			out->clamped = true;
			out->reasoning = u->output;
		}
		out->output = u->output - out->reasoning;
	}
	pico = (u128)out->input * (uint64_t)r->input +
	       (u128)out->cached_input * (uint64_t)r->cached_input +
	       (u128)out->cache_write * (uint64_t)r->cache_write +
	       (u128)out->output * (uint64_t)r->output +
	       (u128)out->reasoning * (uint64_t)r->reasoning;
	return to_micro(pico, false, &out->micro_usd);
}

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;

	return m > c ? m : c;
}

int prices_max_cost(const struct prices_quote *q, uint64_t input_tokens,
		    uint64_t max_output_tokens, int64_t *micro_usd)
{
	const struct prices_rates *r;
	int64_t in_rate, out_rate;

	*micro_usd = 0;
	if (!q || q->status != PRICES_KNOWN)
		return -ENOENT;
	r = q->period.long_above && input_tokens > q->period.long_above ? &q->period.longctx
									 : &q->period.base;
	in_rate = max3(r->input, r->cached_input, r->cache_write);
	out_rate = r->output > r->reasoning ? r->output : r->reasoning;
	return to_micro((u128)input_tokens * (uint64_t)in_rate +
				(u128)max_output_tokens * (uint64_t)out_rate,
			true, micro_usd);
}

const char *prices_as_of(const struct prices *p)
{
	return p ? p->as_of : "";
}

int prices_foreach(const struct prices *p, int (*cb)(void *ctx, const struct prices_row *row),
		   void *ctx)
{
	for (size_t i = 0; p && i < p->nproviders; i++) {
		const struct prices_provider *pv = &p->providers[i];
		struct prices_row row = { .provider = pv->name, .acct = pv->acct };
		int rc;

		if (pv->same_as) {
			row.same_as = pv->same_as;
			if ((rc = cb(ctx, &row)))
				return rc;
			continue;
		}
		for (size_t m = 0; m < pv->nmodels; m++) {
			const struct prices_model *md = &pv->models[m];

			row.model = md->name;
			row.aliases = (const char *const *)md->aliases;
			row.naliases = md->naliases;
			row.prefixes = (const char *const *)md->prefixes;
			row.nprefixes = md->nprefixes;
			for (size_t k = 0; k < md->nperiods; k++) {
				row.period = &md->periods[k];
				if ((rc = cb(ctx, &row)))
					return rc;
			}
		}
	}
	return 0;
}

void prices_format_rate(int64_t rate, char *buf, size_t len)
{
	char frac[8];
	int n;

	if (rate < 0)
		rate = 0;
	n = snprintf(frac, sizeof(frac), "%06lld", (long long)(rate % 1000000));
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(buf, len, "%lld%s%s", (long long)(rate / 1000000), n ? "." : "", frac);
}

void prices_format_micro(int64_t micro_usd, char *buf, size_t len)
{
	uint64_t a = micro_usd < 0 ? 0 - (uint64_t)micro_usd : (uint64_t)micro_usd;

	snprintf(buf, len, "%s%llu.%06llu", micro_usd < 0 ? "-" : "",
		 (unsigned long long)(a / 1000000), (unsigned long long)(a % 1000000));
}

void prices_format_day(int64_t t, char *buf, size_t len)
{
	int64_t days = t >= 0 ? t / 86400 : -((-(t + 1)) / 86400) - 1, y;
	unsigned m, d;

	if (t == PRICES_OPEN_END) {
		snprintf(buf, len, "-");
		return;
	}
	prices_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02u-%02u", (long long)y, m, d);
}

const char *prices_status_name(enum prices_status s)
{
	switch (s) {
	case PRICES_KNOWN:
		return "known";
	case PRICES_UNKNOWN_PROVIDER:
		return "unknown-provider";
	case PRICES_UNKNOWN_MODEL:
		return "unknown-model";
	case PRICES_NO_PRICE_AT_TIME:
		return "no-price-at-time";
	}
	return "invalid";
}

const char *prices_match_name(enum prices_match m)
{
	switch (m) {
	case PRICES_MATCH_NONE:
		return "none";
	case PRICES_MATCH_EXACT:
		return "exact";
	case PRICES_MATCH_ALIAS:
		return "alias";
	case PRICES_MATCH_SNAPSHOT:
		return "snapshot";
	case PRICES_MATCH_PREFIX:
		return "prefix";
	}
	return "invalid";
}
