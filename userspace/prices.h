/* prices: the LLM price table (etc/prices.json, format in docs/prices.md) and cost arithmetic in
 * integer micro-dollars. Owns the loaded table; a quote is a self-contained copy, so a table can be
 * freed (e.g. replaced on reload) while quotes taken from it are still in use. */
#ifndef MODELUX_PRICES_H
#define MODELUX_PRICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRICES_NAME_MAX 128      /* longest provider/model/alias/prefix name + 1 */
#define PRICES_MAX_BYTES (4 * 1024 * 1024)
#define PRICES_RATE_MAX 1000000000000LL /* $1,000,000 per million tokens, in rate units */
#define PRICES_OPEN_END INT64_MAX       /* <to> of a period with no end */

/* A price in micro-dollars per million tokens: 2.50 USD/Mtok = 2500000. The cost of one token
 * in pico-dollars has the same number. */
struct prices_rates {
	int64_t input;        /* non-cached input (prompt) tokens */
	int64_t output;       /* output (completion) tokens */
	int64_t cached_input; /* cache reads; = input when the table gives none */
	int64_t cache_write;  /* cache creation; = input when the table gives none */
	int64_t reasoning;    /* reasoning/thinking tokens; = output when the table says "output" */
};

/* Prices in effect during [from, to) (unix seconds, UTC days). */
struct prices_period {
	int64_t from, to;        /* to = PRICES_OPEN_END when open */
	struct prices_rates base;
	uint64_t long_above;     /* prompts of more than this many tokens use <longctx>; 0 = none */
	struct prices_rates longctx;
};

/* How a provider reports usage; applies to every model of the provider. */
struct prices_accounting {
	bool input_includes_cached;     /* input counts cache reads and writes (OpenAI, Gemini) */
	bool output_includes_reasoning; /* output counts reasoning tokens (OpenAI, Anthropic) */
};

enum prices_status {
	PRICES_KNOWN = 1,
	PRICES_UNKNOWN_PROVIDER,
	PRICES_UNKNOWN_MODEL,
	PRICES_NO_PRICE_AT_TIME, /* model known, but no period covers the time */
};

enum prices_match {
	PRICES_MATCH_NONE = 0,
	PRICES_MATCH_EXACT,    /* the model's name */
	PRICES_MATCH_ALIAS,    /* one of its aliases */
	PRICES_MATCH_SNAPSHOT, /* name or alias after removing a date/version suffix */
	PRICES_MATCH_PREFIX,   /* longest of the provider's prefix rules */
};

/* What a lookup found. Self-contained: no pointer into the table. */
struct prices_quote {
	enum prices_status status;
	enum prices_match match;
	char provider[PRICES_NAME_MAX]; /* table entry that priced it (after "same_as") */
	char model[PRICES_NAME_MAX];    /* canonical model name; "" unless the model is known */
	struct prices_accounting acct;
	struct prices_period period;    /* valid when status == PRICES_KNOWN */
};

/* Token counts exactly as the provider's usage reports them; <acct> says how they overlap. */
struct prices_usage {
	uint64_t input;        /* prompt_tokens, input_tokens, promptTokenCount */
	uint64_t output;       /* completion_tokens, output_tokens, candidatesTokenCount */
	uint64_t cached_input; /* cached_tokens, cache_read_input_tokens, cachedContentTokenCount */
	uint64_t cache_write;  /* cache_creation_input_tokens (Anthropic) */
	uint64_t reasoning;    /* reasoning_tokens, thoughtsTokenCount */
};

struct prices_cost {
	int64_t micro_usd;     /* total, rounded half up to a micro-dollar */
	/* tokens charged at each rate after accounting */
	uint64_t input, cached_input, cache_write, output, reasoning;
	bool long_context;     /* the long-context rates applied */
	bool clamped;          /* usage was inconsistent (e.g. cached > input) and was clamped */
};

struct prices;

/* prices_parse - load a table from JSON text; <fname> names it in messages such as
 * "prices.json:42:17: providers.openai.models[\"gpt-4o\"].input: must be a non-negative number".
 * Returns 0 and *out, or -EINVAL / -ENOMEM with the message in <err>. */
int prices_parse(const char *text, size_t len, const char *fname, struct prices **out, char *err,
		 size_t errlen);
int prices_load(const char *path, struct prices **out, char *err, size_t errlen);
void prices_free(struct prices *p);

/* The table's "as_of" date as written ("2025-11-25"). */
const char *prices_as_of(const struct prices *p);

/* prices_lookup - price <model> of <provider> at <when> (unix seconds). Provider names match
 * exactly but in any case; model matching, in order: exact name or alias (any case, a leading
 * "models/" ignored); the same after removing one snapshot suffix (-YYYY-MM-DD, -YYYYMMDD,
 * @YYYYMMDD, -NNNN, -NNN, -latest); the longest prefix rule. Never fails silently: <out>->status
 * says what is missing. Allocates nothing. */
enum prices_status prices_lookup(const struct prices *p, const char *provider, const char *model,
				 int64_t when, struct prices_quote *out);

/* prices_cost - the cost of <u> under <q> (see docs/prices.md "Cost"). Returns 0, -ENOENT when
 * <q> is not PRICES_KNOWN, or -ERANGE when the total exceeds INT64_MAX micro-dollars. */
int prices_cost(const struct prices_quote *q, const struct prices_usage *u,
		struct prices_cost *out);

/* prices_max_cost - an upper bound, in micro-dollars rounded up, for a request of <input_tokens>
 * (an estimate of the whole prompt) and at most <max_output_tokens> output tokens (reasoning
 * included): input at the dearest of input/cached/cache-write, output at the dearer of
 * output/reasoning, long-context rates when <input_tokens> is above the threshold.
 * Returns 0, -ENOENT or -ERANGE like prices_cost. */
int prices_max_cost(const struct prices_quote *q, uint64_t input_tokens,
		    uint64_t max_output_tokens, int64_t *micro_usd);

/* One row per provider alias ("same_as") and per model price period, in file order. */
struct prices_row {
	const char *provider;
	const char *same_as;   /* non-NULL for a provider priced as another; model fields NULL */
	const char *model;
	const char *const *aliases;
	size_t naliases;
	const char *const *prefixes;
	size_t nprefixes;
	const struct prices_period *period;
	struct prices_accounting acct;
};

/* prices_foreach - call <cb> for each row until it returns nonzero (which is returned). */
int prices_foreach(const struct prices *p, int (*cb)(void *ctx, const struct prices_row *row),
		   void *ctx);

/* prices_format_rate - a rate as USD per million tokens, without trailing zeros: "2.5",
 * "0.01875", "0". */
void prices_format_rate(int64_t rate, char *buf, size_t len);
/* prices_format_micro - micro-dollars as USD with six decimals: "0.012345". */
void prices_format_micro(int64_t micro_usd, char *buf, size_t len);
/* prices_format_day - "YYYY-MM-DD" of a unix time (UTC). */
void prices_format_day(int64_t t, char *buf, size_t len);

const char *prices_status_name(enum prices_status s);
const char *prices_match_name(enum prices_match m);

#endif
