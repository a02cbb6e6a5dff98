/* fuzz_prices: libFuzzer driver for the price-table parser, the JSON position finder, lookup and
 * cost. Input: the JSON text. Beyond "no crash" it checks: a rejected table leaves a NUL-terminated
 * message that starts with the file name and a position inside the text; an accepted table finds
 * every model it lists by its own name and aliases at the start of each of its periods; and the
 * budget bound prices_max_cost() is never below the real cost of a request within it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/prices.c"
#include "../../userspace/jpos.c"
#include "../../userspace/utf8.c"
#include "../../userspace/prices_lookup.c"
#include "../../userspace/prices_pctx.c"
#include "../../userspace/prices_period.c"

static void check_error(const char *err, size_t errlen, const char *text, size_t len)
{
	unsigned line = 0, col = 0, lines = 1;

	if (!memchr(err, '\0', errlen) || strncmp(err, "f.json", 6) != 0 || strlen(err) < 8)
		abort();
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (sscanf(err, "f.json:%u:%u:", &line, &col) == 2 &&
	    (line == 0 || line > lines || col == 0))
		abort();
}

static void check_quote(const struct prices *p, const char *provider, const char *name,
			const struct prices_row *row)
{
	struct prices_quote q;
	const struct prices_period *pd = row->period;

	if (prices_lookup(p, provider, name, pd->from, &q) != PRICES_KNOWN)
		abort();
	if (strcmp(q.model, row->model) != 0 || q.period.from != pd->from || q.period.to != pd->to)
		abort();
	if (q.match != PRICES_MATCH_EXACT && q.match != PRICES_MATCH_ALIAS)
		abort();
	/* A consistent request: cached within input, reasoning within output. */
	for (uint64_t scale = 1; scale <= 1000000007; scale *= 1000) {
		struct prices_usage u = { .input = 3 * scale, .cached_input = scale,
					  .cache_write = scale / 2, .output = 2 * scale,
					  .reasoning = scale / 3 };
		uint64_t prompt = q.acct.input_includes_cached
				      ? u.input
				      : u.input + u.cached_input + u.cache_write;
		uint64_t out = q.acct.output_includes_reasoning ? u.output : u.output + u.reasoning;
		struct prices_cost c;
		int64_t max;
		int rc = prices_cost(&q, &u, &c), mrc = prices_max_cost(&q, prompt, out, &max);

		if (rc == -ERANGE && mrc != -ERANGE)
			abort();
		if (rc == 0 && mrc == 0 && (c.micro_usd < 0 || c.micro_usd > max || c.clamped))
			abort();
	}
}

static int check_row(void *ctx, const struct prices_row *row)
{
	const struct prices *p = ctx;

	if (row->same_as) {
		struct prices_quote q;

		if (row->model ||
		    prices_lookup(p, row->provider, "x", 0, &q) == PRICES_UNKNOWN_PROVIDER)
			abort();
		return 0;
	}
	if (!row->period || row->period->to <= row->period->from)
		abort();
	check_quote(p, row->provider, row->model, row);
	for (size_t i = 0; i < row->naliases; i++)
		check_quote(p, row->provider, row->aliases[i], row);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	const char *text = (const char *)buf;
	struct prices *p = NULL;
	char err[512];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = prices_parse(text, size, "f.json", &p, err, sizeof(err));
	if (rc < 0) {
		if (p)
			abort();
		check_error(err, sizeof(err), text, size);
		return 0;
	}
	if (!p || strlen(prices_as_of(p)) != 10)
		abort();
	prices_foreach(p, check_row, p);
	prices_free(p);
	return 0;
}
