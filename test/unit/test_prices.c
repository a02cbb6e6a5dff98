/* test_prices: the price table through its public API: the shipped etc/prices.json, every kind
 * of error with its position and JSON path, model matching (aliases, snapshot suffixes, prefixes,
 * effective dates), and cost arithmetic (accounting per provider family, rounding, overflow).
 * Run from the repository root (it reads etc/prices.json). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prices.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SHIPPED "etc/prices.json"

/* Unix time of 00:00:00 UTC on a day. */
static int64_t day(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };

	return (int64_t)timegm(&tm);
}

static const char TABLE[] =
	"{\n"
	" \"as_of\": \"2025-11-25\",\n"
	" \"providers\": {\n"
	"  \"openai\": {\n"
	"   \"accounting\": {\"input_includes_cached\": true, \"output_includes_reasoning\": true},\n"
	"   \"models\": {\n"
	"    \"gpt-4o\": {\"aliases\": [\"gpt-4o-2024-08-06\"], \"from\": \"2024-10-02\", \"input\": 2.5,"
	"     \"cached_input\": 1.25, \"output\": 10,\n"
	"     \"history\": [{\"from\": \"2024-05-13\", \"to\": \"2024-10-02\", \"input\": 5, \"output\": 15}]},\n"
	"    \"gpt-4o-mini\": {\"from\": \"2024-07-18\", \"input\": 0.15, \"cached_input\": 0.075, \"output\": 0.6},\n"
	"    \"o3\": {\"from\": \"2025-06-10\", \"input\": 2, \"cached_input\": 0.5, \"output\": 8, \"reasoning\": \"output\",\n"
	"     \"history\": [{\"from\": \"2025-04-16\", \"to\": \"2025-06-10\", \"input\": 10, \"cached_input\": 2.5, \"output\": 40}]},\n"
	"    \"ft:gpt-4o-mini\": {\"prefixes\": [\"ft:gpt-4o-mini-\"], \"from\": \"2024-07-23\", \"input\": 0.3, \"output\": 1.2},\n"
	"    \"ft:gpt-4o\": {\"prefixes\": [\"ft:gpt-4o-\"], \"from\": \"2024-08-20\", \"input\": 3.75, \"output\": 15},\n"
	"    \"thinker\": {\"from\": \"2020-01-01\", \"input\": 1, \"output\": 2, \"reasoning\": 3.5},\n"
	"    \"tiny\": {\"from\": \"2020-01-01\", \"input\": 0.000001, \"output\": 0.000001},\n"
	"    \"huge\": {\"from\": \"2020-01-01\", \"input\": 1000000, \"output\": 1000000},\n"
	"    \"old\": {\"from\": \"2020-01-01\", \"to\": \"2021-01-01\", \"input\": 1, \"output\": 1}\n"
	"   }\n"
	"  },\n"
	"  \"azure-openai\": {\"same_as\": \"openai\"},\n"
	"  \"anthropic\": {\n"
	"   \"accounting\": {\"input_includes_cached\": false, \"output_includes_reasoning\": true},\n"
	"   \"models\": {\n"
	"    \"claude-sonnet-4-5\": {\"from\": \"2025-09-29\", \"input\": 3, \"cached_input\": 0.3, \"cache_write\": 3.75,"
	"     \"output\": 15, \"long_context\": {\"above\": 200000, \"input\": 6, \"cached_input\": 0.6,"
	"     \"cache_write\": 7.5, \"output\": 22.5}},\n"
	"    \"claude-3-5-sonnet\": {\"aliases\": [\"claude-3-5-sonnet-v2\"], \"from\": \"2024-06-20\", \"input\": 3, \"output\": 15}\n"
	"   }\n"
	"  },\n"
	"  \"gemini\": {\n"
	"   \"accounting\": {\"input_includes_cached\": true, \"output_includes_reasoning\": false},\n"
	"   \"models\": {\n"
	"    \"gemini-2.5-pro\": {\"prefixes\": [\"gemini-2.5-pro-preview-\"], \"from\": \"2025-06-17\", \"input\": 1.25,"
	"     \"cached_input\": 0.125, \"output\": 10,"
	"     \"long_context\": {\"above\": 200000, \"input\": 2.5, \"cached_input\": 0.25, \"output\": 15}},\n"
	"    \"gemini-1.5-pro\": {\"from\": \"2024-10-01\", \"input\": 1.25, \"output\": 5}\n"
	"   }\n"
	"  },\n"
	"  \"xai\": {\n"
	"   \"accounting\": {\"input_includes_cached\": true, \"output_includes_reasoning\": false},\n"
	"   \"models\": {\"grok-3-mini\": {\"from\": \"2025-04-09\", \"input\": 0.3, \"cached_input\": 0.075, \"output\": 0.5}}\n"
	"  }\n"
	" }\n"
	"}\n";

static struct prices *table;

static int load_table(void **state)
{
	char err[512];
	int rc = prices_parse(TABLE, strlen(TABLE), "t.json", &table, err, sizeof(err));

	if (rc)
		fprintf(stderr, "TABLE: %s\n", err);
	return rc;
}

static int free_table(void **state)
{
	prices_free(table);
	table = NULL;
	return 0;
}

#define NOW day(2025, 11, 25)

/* ---- errors ---- */

#define HEAD                                                                                   \
	"{\"as_of\": \"2025-01-01\", \"providers\": {\"p\": {\"accounting\": "                   \
	"{\"input_includes_cached\": true, \"output_includes_reasoning\": true}, \"models\": {"
#define M(x) HEAD x "}}}}"
#define OK1 "\"from\": \"2024-01-01\", \"input\": 1, \"output\": 2"

static void test_parse_errors(void **state)
{
	static const struct {
		const char *doc, *err;
	} cases[] = {
		{ M("\"m\": {\"from\": \"2024-01-01\", \"input\": -1, \"output\": 2}"),
		  "t.json:1:175: providers.p.models.m.input: must be a non-negative number" },
		{ M("\"m\": {\"from\": \"2024-01-01\", \"input\": \"2.5\", \"output\": 2}"),
		  "t.json:1:175: providers.p.models.m.input: must be a non-negative number" },
		{ M("\"m\": {\"from\": \"2024-01-01\", \"input\": 1}"),
		  "t.json:1:143: providers.p.models.m: missing \"output\"" },
		{ M("\"m\": {\"from\": \"2024-01-01\", \"input\": 1, \"outptu\": 2}"),
		  "t.json:1:178: providers.p.models.m.outptu: unknown key (expected one of: aliases, "
		  "prefixes, history, from, to, note, long_context, input, output, cached_input, "
		  "cache_write, reasoning)" },
		{ M("\"m\": {\"from\": \"2024-02-30\", \"input\": 1, \"output\": 2}"),
		  "t.json:1:152: providers.p.models.m.from: must be a date \"YYYY-MM-DD\"" },
		{ M("\"m\": {\"input\": 1, \"output\": 2}"),
		  "t.json:1:143: providers.p.models.m: missing \"from\"" },
		{ M("\"m\": {\"from\": \"2024-01-01\", \"to\": \"2024-01-01\", \"input\": 1, \"output\": 2}"),
		  "t.json:1:172: providers.p.models.m.to: must be after \"from\"" },
		{ M("\"m\": {\"from\": \"2024-06-01\", \"input\": 1, \"output\": 2, \"history\": [{\"from\": "
		    "\"2024-01-01\", \"to\": \"2024-06-02\", \"input\": 1, \"output\": 2}]}"),
		  "t.json:1:232: providers.p.models.m.history[0].to: period ends after the next period "
		  "starts" },
		{ M("\"m\": {\"from\": \"2024-06-01\", \"input\": 1, \"output\": 2, \"history\": [{\"from\": "
		    "\"2024-07-01\", \"input\": 1, \"output\": 2}]}"),
		  "t.json:1:212: providers.p.models.m.history[0].from: period starts while an earlier "
		  "period with no \"to\" is in effect" },
		{ M("\"m\": {" OK1 "}, \"n\": {\"aliases\": [\"x\", \"M\"], " OK1 "}"),
		  "t.json:1:215: providers.p.models.n.aliases[1]: name already used by model \"m\"" },
		{ M("\"m\": {\"prefixes\": [\"m-\"], " OK1 "}, \"n\": {\"prefixes\": [\"a-\", \"M-\"], " OK1
		    "}"),
		  "t.json:1:237: providers.p.models.n.prefixes[1]: prefix already used by model \"m\"" },
		{ M("\"m\": {" OK1 ", \"reasoning\": \"input\"}"),
		  "t.json:1:204: providers.p.models.m.reasoning: must be a number or \"output\"" },
		{ M("\"m\": {" OK1 ", \"long_context\": {\"input\": 2, \"output\": 4}}"),
		  "t.json:1:207: providers.p.models.m.long_context: missing \"above\"" },
		{ M("\"m\": {" OK1 ", \"long_context\": {\"above\": 0, \"input\": 2, \"output\": 4}}"),
		  "t.json:1:217: providers.p.models.m.long_context.above: must be a positive integer "
		  "(prompt tokens)" },
		{ M("\"m\": {\"from\": \"2024-01-01\", \"input\": 0.0000001, \"output\": 2}"),
		  "t.json:1:175: providers.p.models.m.input: more precise than 0.000001 USD per "
		  "million tokens" },
		{ M("\"m\": {\"from\": \"2024-01-01\", \"input\": 2000000, \"output\": 2}"),
		  "t.json:1:175: providers.p.models.m.input: must be at most 1000000 (USD per million "
		  "tokens)" },
		{ M("\"m\": {" OK1 ", \"history\": {}}"),
		  "t.json:1:202: providers.p.models.m.history: must be an array of at most 64 "
		  "periods" },
		{ M("\"m\": {" OK1 ", \"history\": [{\"from\": \"2023-01-01\", \"to\": \"2023-06-01\", "
		    "\"input\": 1, \"output\": 2}, {\"from\": \"2022-01-01\", \"to\": \"2023-01-01\", "
		    "\"input\": true, \"output\": 2}]}"),
		  "t.json:1:324: providers.p.models.m.history[1].input: must be a non-negative "
		  "number" },
		{ M("\"gpt 4\": {" OK1 "}"),
		  "t.json:1:138: providers.p.models[\"gpt 4\"]: a model name may hold only printable "
		  "ASCII without blanks" },
		/* The key is written with an escape: still found in the text. */
		{ M("\"m\\u00e9\": {" OK1 "}"),
		  "t.json:1:138: providers.p.models[\"m\\xc3\\xa9\"]: a model name may hold only "
		  "printable ASCII without blanks" },
		{ M("\"m\": {\"aliases\": \"x\", " OK1 "}"),
		  "t.json:1:155: providers.p.models.m.aliases: must be an array of at most 64 "
		  "strings" },
		{ M("\"m\": {\"aliases\": [\"x\", 3], " OK1 "}"),
		  "t.json:1:161: providers.p.models.m.aliases[1]: must be a string" },
		{ M("\"m\": {" OK1 "}, \"m\": {}"), "t.json:1:194: duplicate object key near '\"m\"'" },
		{ "{\"as_of\": \"2025-01-01\", \"providers\": {\"q\": {\"same_as\": \"p\"}}}",
		  "t.json:1:56: providers.q.same_as: must name a provider that has its own models" },
		{ "{\"as_of\": \"2025-01-01\", \"providers\": {\"p\": {\"same_as\": \"q\", \"models\": {}}}}",
		  "t.json:1:56: providers.p.same_as: a provider priced as another has no "
		  "\"accounting\" or \"models\"" },
		{ "{\"as_of\": \"2025-01-01\", \"providers\": {\"Open AI\": {\"same_as\": \"p\"}}}",
		  "t.json:1:39: providers[\"Open AI\"]: a provider name may hold only a-z, 0-9, '.', "
		  "'_' and '-'" },
		{ "{\"as_of\": \"2025-01-01\", \"providers\": {\"p\": {\"models\": {}}}}",
		  "t.json:1:44: providers.p: missing \"accounting\"" },
		{ "{\"as_of\": \"2025-01-01\", \"providers\": {\"p\": {\"accounting\": "
		  "{\"input_includes_cached\": 1, \"output_includes_reasoning\": true}, \"models\": {}}}}",
		  "t.json:1:85: providers.p.accounting.input_includes_cached: must be true or false" },
		{ "[]", "t.json:1:1: must be an object" },
		{ "{\"providers\": {}}", "t.json:1:1: missing \"as_of\"" },
		{ "{\"as_of\": \"2025-01-01\", \"currency\": \"EUR\", \"providers\": {}}",
		  "t.json:1:37: currency: must be \"USD\"" },
		{ "{\"as_of\": \"2025-01-01\",\n \"providers\": {\n  \"p\": 1\n }\n}",
		  "t.json:3:8: providers.p: must be an object" },
		{ "{\"as_of\": \"2025-01-01\",\n \"providers\": {,}\n}",
		  "t.json:2:16: string or '}' expected near ','" },
		{ "", "t.json:1:1: '[' or '{' expected near end of file" },
	};
	char err[512];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct prices *p = (struct prices *)1;

		memset(err, 0, sizeof(err));
		assert_int_equal(prices_parse(cases[i].doc, strlen(cases[i].doc), "t.json", &p, err,
					      sizeof(err)),
				 -EINVAL);
		assert_null(p);
		assert_string_equal(err, cases[i].err);
	}
}

static void test_parse_minimal_and_defaults(void **state)
{
	static const char doc[] = M("\"m\": {" OK1 "}");
	struct prices *p;
	struct prices_quote q;
	char err[256];

	assert_int_equal(prices_parse(doc, strlen(doc), "t.json", &p, err, sizeof(err)), 0);
	assert_string_equal(prices_as_of(p), "2025-01-01");
	assert_int_equal(prices_lookup(p, "p", "m", NOW, &q), PRICES_KNOWN);
	/* Absent cache prices are the input price; reasoning defaults to the output price. */
	assert_int_equal(q.period.base.input, 1000000);
	assert_int_equal(q.period.base.cached_input, 1000000);
	assert_int_equal(q.period.base.cache_write, 1000000);
	assert_int_equal(q.period.base.output, 2000000);
	assert_int_equal(q.period.base.reasoning, 2000000);
	assert_int_equal(q.period.long_above, 0);
	assert_int_equal(q.period.to, PRICES_OPEN_END);
	assert_int_equal(q.period.from, day(2024, 1, 1));
	prices_free(p);
}

static void test_load_files(void **state)
{
	struct prices *p;
	char err[256];

	assert_int_equal(prices_load("/nonexistent/prices.json", &p, err, sizeof(err)), -ENOENT);
	assert_null(p);
	assert_string_equal(err, "/nonexistent/prices.json: No such file or directory");
	assert_int_equal(prices_load(SHIPPED, &p, err, sizeof(err)), 0);
	prices_free(p);
}

/* ---- lookup ---- */

static void test_lookup_matching(void **state)
{
	static const struct {
		const char *provider, *model;
		enum prices_status status;
		enum prices_match match;
		const char *as_provider, *as_model;
	} cases[] = {
		{ "openai", "gpt-4o", PRICES_KNOWN, PRICES_MATCH_EXACT, "openai", "gpt-4o" },
		{ "OpenAI", "GPT-4o", PRICES_KNOWN, PRICES_MATCH_EXACT, "openai", "gpt-4o" },
		{ "openai", "gpt-4o-2024-08-06", PRICES_KNOWN, PRICES_MATCH_ALIAS, "openai", "gpt-4o" },
		{ "openai", "gpt-4o-2024-11-20", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT, "openai",
		  "gpt-4o" },
		{ "openai", "gpt-4o-mini-2024-07-18", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT, "openai",
		  "gpt-4o-mini" },
		{ "openai", "gpt-4o-latest", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT, "openai", "gpt-4o" },
		{ "openai", "gpt-4o-0613", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT, "openai", "gpt-4o" },
		{ "openai", "o3-2025-04-16", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT, "openai", "o3" },
		{ "openai", "ft:gpt-4o-mini-2024-07-18:acme::9xyz", PRICES_KNOWN, PRICES_MATCH_PREFIX,
		  "openai", "ft:gpt-4o-mini" },
		{ "openai", "ft:gpt-4o-2024-08-06:acme::9xyz", PRICES_KNOWN, PRICES_MATCH_PREFIX,
		  "openai", "ft:gpt-4o" },
		{ "openai", "models/gpt-4o", PRICES_KNOWN, PRICES_MATCH_EXACT, "openai", "gpt-4o" },
		{ "azure-openai", "gpt-4o-mini", PRICES_KNOWN, PRICES_MATCH_EXACT, "openai",
		  "gpt-4o-mini" },
		{ "anthropic", "claude-sonnet-4-5-20250929", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT,
		  "anthropic", "claude-sonnet-4-5" },
		{ "anthropic", "claude-3-5-sonnet-v2@20241022", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT,
		  "anthropic", "claude-3-5-sonnet" },
		{ "gemini", "models/gemini-1.5-pro-002", PRICES_KNOWN, PRICES_MATCH_SNAPSHOT, "gemini",
		  "gemini-1.5-pro" },
		{ "gemini", "gemini-2.5-pro-preview-06-05", PRICES_KNOWN, PRICES_MATCH_PREFIX,
		  "gemini", "gemini-2.5-pro" },
		/* Never guessed: no implicit prefix matching, no cross-provider fallback. */
		{ "openai", "gpt-4o-audio-preview", PRICES_UNKNOWN_MODEL, PRICES_MATCH_NONE, "openai",
		  "" },
		{ "openai", "gpt-4", PRICES_UNKNOWN_MODEL, PRICES_MATCH_NONE, "openai", "" },
		{ "openai", "claude-sonnet-4-5", PRICES_UNKNOWN_MODEL, PRICES_MATCH_NONE, "openai",
		  "" },
		{ "openai", "", PRICES_UNKNOWN_MODEL, PRICES_MATCH_NONE, "openai", "" },
		{ "openai", "-2024-08-06", PRICES_UNKNOWN_MODEL, PRICES_MATCH_NONE, "openai", "" },
		{ "cohere", "command-r", PRICES_UNKNOWN_PROVIDER, PRICES_MATCH_NONE, "", "" },
		{ "", "gpt-4o", PRICES_UNKNOWN_PROVIDER, PRICES_MATCH_NONE, "", "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct prices_quote q;

		assert_int_equal(prices_lookup(table, cases[i].provider, cases[i].model, NOW, &q),
				 cases[i].status);
		assert_int_equal(q.status, cases[i].status);
		assert_int_equal(q.match, cases[i].match);
		assert_string_equal(q.provider, cases[i].as_provider);
		assert_string_equal(q.model, cases[i].as_model);
	}
}

static void test_lookup_limits(void **state)
{
	char longname[300];
	struct prices_quote q;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(prices_lookup(table, "openai", longname, NOW, &q), PRICES_UNKNOWN_MODEL);
	assert_int_equal(prices_lookup(table, "openai", NULL, NOW, &q), PRICES_UNKNOWN_MODEL);
	assert_int_equal(prices_lookup(table, NULL, "gpt-4o", NOW, &q), PRICES_UNKNOWN_PROVIDER);
	assert_int_equal(prices_lookup(NULL, "openai", "gpt-4o", NOW, &q), PRICES_UNKNOWN_PROVIDER);
	assert_int_equal(prices_lookup(table, "azure-openai", "gpt-4o", NOW, &q), PRICES_KNOWN);
	assert_true(q.acct.input_includes_cached);
	assert_true(q.acct.output_includes_reasoning);
}

static void test_lookup_dates(void **state)
{
	struct prices_quote q;

	/* o3: 10/40 from 2025-04-16, cut to 2/8 on 2025-06-10 (from inclusive, to exclusive). */
	assert_int_equal(prices_lookup(table, "openai", "o3", day(2025, 4, 15), &q),
			 PRICES_NO_PRICE_AT_TIME);
	assert_string_equal(q.model, "o3");
	assert_int_equal(prices_lookup(table, "openai", "o3", day(2025, 4, 16), &q), PRICES_KNOWN);
	assert_int_equal(q.period.base.input, 10000000);
	assert_int_equal(prices_lookup(table, "openai", "o3", day(2025, 6, 10) - 1, &q),
			 PRICES_KNOWN);
	assert_int_equal(q.period.base.output, 40000000);
	assert_int_equal(q.period.to, day(2025, 6, 10));
	assert_int_equal(prices_lookup(table, "openai", "o3", day(2025, 6, 10), &q), PRICES_KNOWN);
	assert_int_equal(q.period.base.input, 2000000);
	assert_int_equal(q.period.base.output, 8000000);
	assert_int_equal(q.period.to, PRICES_OPEN_END);
	/* The alias follows its model's history. */
	assert_int_equal(prices_lookup(table, "openai", "gpt-4o-2024-08-06", day(2024, 9, 1), &q),
			 PRICES_KNOWN);
	assert_int_equal(q.period.base.input, 5000000);
	/* An ended model. */
	assert_int_equal(prices_lookup(table, "openai", "old", day(2020, 12, 31), &q),
			 PRICES_KNOWN);
	assert_int_equal(prices_lookup(table, "openai", "old", day(2021, 1, 1), &q),
			 PRICES_NO_PRICE_AT_TIME);
	/* A quote not known cannot be priced: never silently zero. */
	struct prices_usage u = { .input = 10, .output = 10 };
	struct prices_cost c;
	int64_t max;

	assert_int_equal(prices_cost(&q, &u, &c), -ENOENT);
	assert_int_equal(c.micro_usd, 0);
	assert_int_equal(prices_max_cost(&q, 10, 10, &max), -ENOENT);
	assert_int_equal(prices_cost(NULL, &u, &c), -ENOENT);
}

/* ---- cost ---- */

static struct prices_cost cost_of(const char *provider, const char *model, struct prices_usage u)
{
	struct prices_quote q;
	struct prices_cost c;

	assert_int_equal(prices_lookup(table, provider, model, NOW, &q), PRICES_KNOWN);
	assert_int_equal(prices_cost(&q, &u, &c), 0);
	return c;
}

static void test_cost_openai_accounting(void **state)
{
	/* prompt_tokens 1000 of which 400 cached; completion_tokens 500 of which 200 reasoning:
	 * 600 x 0.15 + 400 x 0.075 + 300 x 0.6 + 200 x 0.6 = 420 micro-dollars. */
	struct prices_cost c = cost_of("openai", "gpt-4o-mini",
				       (struct prices_usage){ .input = 1000, .cached_input = 400,
							      .output = 500, .reasoning = 200 });

	assert_int_equal(c.micro_usd, 420);
	assert_int_equal(c.input, 600);
	assert_int_equal(c.cached_input, 400);
	assert_int_equal(c.output, 300);
	assert_int_equal(c.reasoning, 200);
	assert_false(c.clamped);
	assert_false(c.long_context);

	/* A reasoning price of its own (3.5 vs output 2): 600 x 2 + 400 x 3.5 = 2600. */
	c = cost_of("openai", "thinker",
		    (struct prices_usage){ .output = 1000, .reasoning = 400 });
	assert_int_equal(c.micro_usd, 2600);

	/* Inconsistent usage is clamped, never negative, never double-charged. */
	c = cost_of("openai", "gpt-4o-mini",
		    (struct prices_usage){ .input = 100, .cached_input = 150, .output = 10,
					   .reasoning = 50 });
	assert_true(c.clamped);
	assert_int_equal(c.input, 0);
	assert_int_equal(c.cached_input, 100);
	assert_int_equal(c.output, 0);
	assert_int_equal(c.reasoning, 10);
	assert_int_equal(c.micro_usd, (100 * 75000 + 10 * 600000 + 500000) / 1000000);
}

static void test_cost_anthropic_accounting(void **state)
{
	/* input_tokens excludes cache reads and writes: 1000 x 3 + 2000 x 0.3 + 3000 x 3.75 +
	 * 100 x 15 = 16350 micro-dollars. */
	struct prices_cost c = cost_of("anthropic", "claude-sonnet-4-5",
				       (struct prices_usage){ .input = 1000, .cached_input = 2000,
							      .cache_write = 3000, .output = 100 });

	assert_int_equal(c.micro_usd, 16350);
	assert_int_equal(c.input, 1000);
	assert_false(c.clamped);
	/* The prompt is input + cache reads + writes: 200000 is not above the threshold ... */
	c = cost_of("anthropic", "claude-sonnet-4-5",
		    (struct prices_usage){ .input = 100000, .cached_input = 100000 });
	assert_false(c.long_context);
	assert_int_equal(c.micro_usd, 330000);
	/* ... 200001 is: every rate doubles. 100000 x 6 + 100001 x 0.6 = 660000.6 -> 660001. */
	c = cost_of("anthropic", "claude-sonnet-4-5",
		    (struct prices_usage){ .input = 100000, .cached_input = 100001 });
	assert_true(c.long_context);
	assert_int_equal(c.micro_usd, 660001);
}

static void test_cost_gemini_and_xai_accounting(void **state)
{
	/* Gemini: promptTokenCount includes the cache; thoughts are outside candidates:
	 * 800 x 1.25 + 200 x 0.125 + 100 x 10 + 300 x 10 = 5025. */
	struct prices_cost c = cost_of("gemini", "gemini-2.5-pro",
				       (struct prices_usage){ .input = 1000, .cached_input = 200,
							      .output = 100, .reasoning = 300 });

	assert_int_equal(c.micro_usd, 5025);
	assert_int_equal(c.output, 100);
	assert_int_equal(c.reasoning, 300);
	/* Long context from promptTokenCount alone: 200001 x 2.5 + 10 x 15 = 500152.5 -> 500153. */
	c = cost_of("gemini", "gemini-2.5-pro", (struct prices_usage){ .input = 200001, .output = 10 });
	assert_true(c.long_context);
	assert_int_equal(c.micro_usd, 500153);
	c = cost_of("gemini", "gemini-2.5-pro", (struct prices_usage){ .input = 200000 });
	assert_false(c.long_context);
	assert_int_equal(c.micro_usd, 250000);
	/* xAI: reasoning beside completion: 100 x 0.3 + 10 x 0.5 + 1000 x 0.5 = 535. */
	c = cost_of("xai", "grok-3-mini",
		    (struct prices_usage){ .input = 100, .output = 10, .reasoning = 1000 });
	assert_int_equal(c.micro_usd, 535);
	assert_false(c.clamped);
}

static void test_cost_rounding(void **state)
{
	/* "tiny" costs 1 pico-dollar per token: the total rounds half up, once. */
	static const struct {
		uint64_t in, out;
		int64_t micro;
	} cases[] = {
		{ 0, 0, 0 },
		{ 499999, 0, 0 },
		{ 500000, 0, 1 },
		{ 250000, 250000, 1 }, /* rounded as a total, not per kind (which would give 0) */
		{ 1499999, 0, 1 },
		{ 1500000, 0, 2 },
		{ 2000000, 0, 2 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct prices_cost c = cost_of("openai", "tiny",
					       (struct prices_usage){ .input = cases[i].in,
								      .output = cases[i].out });

		assert_int_equal(c.micro_usd, cases[i].micro);
	}
}

static void test_cost_overflow(void **state)
{
	struct prices_quote q;
	struct prices_cost c;
	struct prices_usage u = { .input = UINT64_MAX, .output = UINT64_MAX };
	unsigned __int128 pico = (unsigned __int128)UINT64_MAX * 2;
	int64_t max;

	/* The largest token counts at the smallest rate: exact. */
	assert_int_equal(prices_lookup(table, "openai", "tiny", NOW, &q), PRICES_KNOWN);
	assert_int_equal(prices_cost(&q, &u, &c), 0);
	assert_true(c.micro_usd == (int64_t)((pico + 500000) / 1000000));
	/* At the largest rate: the last total that fits, and the first that does not. */
	assert_int_equal(prices_lookup(table, "openai", "huge", NOW, &q), PRICES_KNOWN);
	u = (struct prices_usage){ .input = 9223372036854ull };
	assert_int_equal(prices_cost(&q, &u, &c), 0);
	assert_true(c.micro_usd == 9223372036854000000ll);
	u.input++;
	assert_int_equal(prices_cost(&q, &u, &c), -ERANGE);
	u = (struct prices_usage){ .input = UINT64_MAX, .output = UINT64_MAX,
				   .cached_input = UINT64_MAX };
	assert_int_equal(prices_cost(&q, &u, &c), -ERANGE);
	assert_int_equal(prices_max_cost(&q, UINT64_MAX, UINT64_MAX, &max), -ERANGE);
	assert_int_equal(prices_max_cost(&q, 9223372036854ull, 0, &max), 0);
	assert_true(max == 9223372036854000000ll);
	assert_int_equal(prices_max_cost(&q, 9223372036855ull, 0, &max), -ERANGE);
}

static void test_max_cost(void **state)
{
	struct prices_quote q;
	int64_t max;

	/* Input at the dearest input rate (cache write 3.75), output at 15:
	 * 1000 x 3.75 + 1000 x 15 = 18750. */
	assert_int_equal(prices_lookup(table, "anthropic", "claude-sonnet-4-5", NOW, &q),
			 PRICES_KNOWN);
	assert_int_equal(prices_max_cost(&q, 1000, 1000, &max), 0);
	assert_int_equal(max, 18750);
	/* Above the threshold: long-context rates (7.5 and 22.5). */
	assert_int_equal(prices_max_cost(&q, 200001, 1000, &max), 0);
	assert_int_equal(max, (200001 * 7500000ll + 1000 * 22500000ll + 999999) / 1000000);
	/* Reasoning dearer than output counts as the output rate. */
	assert_int_equal(prices_lookup(table, "openai", "thinker", NOW, &q), PRICES_KNOWN);
	assert_int_equal(prices_max_cost(&q, 0, 1000, &max), 0);
	assert_int_equal(max, 3500);
	/* Rounded up: one pico-dollar is one micro-dollar of budget. */
	assert_int_equal(prices_lookup(table, "openai", "tiny", NOW, &q), PRICES_KNOWN);
	assert_int_equal(prices_max_cost(&q, 1, 0, &max), 0);
	assert_int_equal(max, 1);
	assert_int_equal(prices_max_cost(&q, 0, 0, &max), 0);
	assert_int_equal(max, 0);
	/* The bound is never below the real cost of a request within it. */
	assert_int_equal(prices_lookup(table, "openai", "gpt-4o-mini", NOW, &q), PRICES_KNOWN);
	for (uint64_t cached = 0; cached <= 1000; cached += 250) {
		struct prices_usage u = { .input = 1000, .cached_input = cached, .output = 77,
					  .reasoning = 33 };
		struct prices_cost c;

		assert_int_equal(prices_cost(&q, &u, &c), 0);
		assert_int_equal(prices_max_cost(&q, 1000, 77, &max), 0);
		assert_true(c.micro_usd <= max);
	}
}

/* ---- listing and formatting ---- */

struct rows {
	size_t n, same_as, stop_at;
	char first[64];
};

static int count_row(void *ctx, const struct prices_row *row)
{
	struct rows *r = ctx;

	if (r->n == 0)
		snprintf(r->first, sizeof(r->first), "%s/%s", row->provider, row->model);
	r->n++;
	if (row->same_as) {
		r->same_as++;
		assert_string_equal(row->provider, "azure-openai");
		assert_string_equal(row->same_as, "openai");
		assert_null(row->model);
	} else {
		assert_non_null(row->period);
		assert_non_null(row->model);
	}
	return r->stop_at && r->n == r->stop_at ? 42 : 0;
}

static void test_foreach(void **state)
{
	struct rows r = { 0 };

	/* 9 openai models + 2 history periods, azure, 2 anthropic, 2 gemini, 1 xai. */
	assert_int_equal(prices_foreach(table, count_row, &r), 0);
	assert_int_equal(r.n, 11 + 1 + 2 + 2 + 1);
	assert_int_equal(r.same_as, 1);
	assert_string_equal(r.first, "openai/gpt-4o");
	r = (struct rows){ .stop_at = 3 };
	assert_int_equal(prices_foreach(table, count_row, &r), 42);
	assert_int_equal(r.n, 3);
}

static void test_format(void **state)
{
	static const struct {
		int64_t rate;
		const char *text;
	} rates[] = {
		{ 2500000, "2.5" }, { 18750, "0.01875" }, { 0, "0" }, { 1, "0.000001" },
		{ 1000000000000, "1000000" }, { 10000000, "10" }, { -3, "0" },
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		prices_format_rate(rates[i].rate, buf, sizeof(buf));
		assert_string_equal(buf, rates[i].text);
	}
	prices_format_micro(420, buf, sizeof(buf));
	assert_string_equal(buf, "0.000420");
	prices_format_micro(12345678, buf, sizeof(buf));
	assert_string_equal(buf, "12.345678");
	prices_format_micro(-5, buf, sizeof(buf));
	assert_string_equal(buf, "-0.000005");
	prices_format_micro(INT64_MIN, buf, sizeof(buf));
	assert_string_equal(buf, "-9223372036854.775808");
	prices_format_day(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01");
	prices_format_day(day(2025, 6, 10) + 86399, buf, sizeof(buf));
	assert_string_equal(buf, "2025-06-10");
	prices_format_day(day(2024, 2, 29), buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29");
	prices_format_day(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31");
	prices_format_day(PRICES_OPEN_END, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	assert_string_equal(prices_status_name(PRICES_UNKNOWN_MODEL), "unknown-model");
	assert_string_equal(prices_match_name(PRICES_MATCH_SNAPSHOT), "snapshot");
}

/* ---- the shipped table ---- */

static int check_shipped_row(void *ctx, const struct prices_row *row)
{
	size_t *n = ctx;
	const struct prices_period *p = row->period;

	(*n)++;
	if (row->same_as)
		return 0;
	/* Sane list prices: output is never cheaper than cached input, and cache reads are never
	 * dearer than plain input. */
	assert_true(p->base.input >= p->base.cached_input);
	assert_true(p->base.output >= 0 && p->base.output <= 600 * 1000000ll);
	assert_true(p->from >= day(2022, 1, 1));
	if (p->long_above) {
		assert_true(p->longctx.input >= p->base.input);
		assert_true(p->longctx.output >= p->base.output);
	}
	return 0;
}

static void test_shipped_table(void **state)
{
	static const struct {
		const char *provider, *model, *as_model;
		int64_t input, output;
	} spot[] = {
		{ "openai", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06", 2500000, 10000000 },
		{ "openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini", 150000, 600000 },
		{ "openai", "gpt-5-2025-08-07", "gpt-5", 1250000, 10000000 },
		{ "azure-openai", "gpt-4.1-mini", "gpt-4.1-mini", 400000, 1600000 },
		{ "anthropic", "claude-3-5-sonnet-20241022", "claude-3-5-sonnet", 3000000, 15000000 },
		{ "anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", 3000000, 15000000 },
		{ "gemini", "gemini-1.5-pro-002", "gemini-1.5-pro", 1250000, 5000000 },
		{ "gemini", "models/gemini-2.5-flash", "gemini-2.5-flash", 300000, 2500000 },
		{ "groq", "llama-3.3-70b-versatile", "llama-3.3-70b-versatile", 590000, 790000 },
		{ "mistral", "mistral-large-latest", "mistral-large", 2000000, 6000000 },
		{ "mistral", "mistral-small-2506", "mistral-small", 100000, 300000 },
		{ "xai", "grok-4-0709", "grok-4", 3000000, 15000000 },
		{ "deepseek", "deepseek-chat", "deepseek-chat", 280000, 420000 },
	};
	static const char *const providers[] = { "openai",  "azure-openai", "anthropic", "gemini",
						 "groq",    "mistral",      "xai",       "deepseek" };
	struct prices *p;
	struct prices_quote q;
	char err[512];
	size_t rows = 0;

	assert_int_equal(prices_load(SHIPPED, &p, err, sizeof(err)), 0);
	assert_int_equal(strlen(prices_as_of(p)), 10);
	for (size_t i = 0; i < ARRAY_SIZE(spot); i++) {
		assert_int_equal(prices_lookup(p, spot[i].provider, spot[i].model, NOW, &q),
				 PRICES_KNOWN);
		assert_string_equal(q.model, spot[i].as_model);
		assert_int_equal(q.period.base.input, spot[i].input);
		assert_int_equal(q.period.base.output, spot[i].output);
	}
	for (size_t i = 0; i < ARRAY_SIZE(providers); i++)
		assert_int_not_equal(prices_lookup(p, providers[i], "x", NOW, &q),
				     PRICES_UNKNOWN_PROVIDER);
	/* Accounting per family as documented. */
	prices_lookup(p, "anthropic", "claude-haiku-4-5", NOW, &q);
	assert_false(q.acct.input_includes_cached);
	assert_true(q.acct.output_includes_reasoning);
	prices_lookup(p, "gemini", "gemini-2.5-pro", NOW, &q);
	assert_true(q.acct.input_includes_cached);
	assert_false(q.acct.output_includes_reasoning);
	assert_int_equal(q.period.long_above, 200000);
	prices_lookup(p, "xai", "grok-3-mini", NOW, &q);
	assert_false(q.acct.output_includes_reasoning);
	/* DeepSeek's price history. */
	assert_int_equal(prices_lookup(p, "deepseek", "deepseek-chat", day(2025, 9, 10), &q),
			 PRICES_KNOWN);
	assert_int_equal(q.period.base.input, 560000);
	assert_int_equal(prices_foreach(p, check_shipped_row, &rows), 0);
	assert_true(rows > 80);
	prices_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_minimal_and_defaults),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_lookup_matching),
		cmocka_unit_test(test_lookup_limits),
		cmocka_unit_test(test_lookup_dates),
		cmocka_unit_test(test_cost_openai_accounting),
		cmocka_unit_test(test_cost_anthropic_accounting),
		cmocka_unit_test(test_cost_gemini_and_xai_accounting),
		cmocka_unit_test(test_cost_rounding),
		cmocka_unit_test(test_cost_overflow),
		cmocka_unit_test(test_max_cost),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_shipped_table),
	};

	return cmocka_run_group_tests(tests, load_table, free_table);
}
