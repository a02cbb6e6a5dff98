/* prices_parse: the state shared by the price-table parser's files (prices.c for providers and
 * models, prices_period.c for price periods, prices_pctx.c for the JSON path and error messages).
 * Internal to the prices module; owns nothing. */
#ifndef MODELUX_PRICES_PARSE_H
#define MODELUX_PRICES_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "prices_int.h"

#define PRICES_PATH_DEPTH 12
#define PRICES_MAX_LIST 64 /* aliases, prefixes, history entries per model */

#define PRICES_RATE_KEYS "input", "output", "cached_input", "cache_write", "reasoning"
#define PRICES_PERIOD_KEYS "from", "to", "note", "long_context", PRICES_RATE_KEYS

/* The document being validated and where in it we are, for messages. */
struct pctx {
	const char *text;
	size_t len;
	const char *fname;
	char *err;
	size_t errlen;
	int rc; /* -EINVAL, or -ENOMEM once memory ran out */
	struct prices_jstep path[PRICES_PATH_DEPTH];
	size_t depth; /* may exceed PRICES_PATH_DEPTH: steps past it are not recorded */
};

static inline void pctx_push_key(struct pctx *c, const char *key)
{
	if (c->depth < PRICES_PATH_DEPTH)
		c->path[c->depth] = (struct prices_jstep){ .key = key };
	c->depth++;
}

static inline void pctx_push_index(struct pctx *c, size_t i)
{
	if (c->depth < PRICES_PATH_DEPTH)
		c->path[c->depth] = (struct prices_jstep){ .index = i };
	c->depth++;
}

static inline void pctx_pop(struct pctx *c)
{
	c->depth--;
}

/* pctx_fail - "fname:line:col: path: message" for the current path (its key when <at_key>);
 * always returns false. */
__attribute__((format(printf, 3, 4))) bool pctx_fail(struct pctx *c, bool at_key,
						     const char *fmt, ...);
bool pctx_oom(struct pctx *c);
/* pctx_check_keys - every key of <obj> is in <allowed> (NULL-terminated). */
bool pctx_check_keys(struct pctx *c, json_t *obj, const char *const *allowed);
bool pctx_need_object(struct pctx *c, json_t *v);

/* pctx_get_date - <obj>[<key>] as "YYYY-MM-DD", to unix seconds at 00:00 UTC. */
bool pctx_get_date(struct pctx *c, json_t *obj, const char *key, bool required, int64_t *out);

/* prices_parse_periods - the model object's own period and its "history", sorted, checked for
 * overlaps, into <m>->periods. */
bool prices_parse_periods(struct pctx *c, json_t *obj, struct prices_model *m);

#endif
