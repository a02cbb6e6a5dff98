/* govern: the agent's hook (hook.h) for provider awareness, keys, the intercept log, policy and
 * budgets. Per exchange: the provider adapter reads the request and response as they pass
 * (llm.h), the API key is fingerprinted and classified sanctioned or shadow (apikey.h,
 * keyreg.h), the policy decides (policy.h) and the budgets reserve before the request leaves
 * (budget.h); at the end the cost is computed (prices.h) and one record goes to the log (ilog.h).
 * Owns the loaded tables, the fleet secret, the log and the budgets; reloads keep the old tables
 * when a new file is bad. */
#ifndef MODELUX_GOVERN_H
#define MODELUX_GOVERN_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "hook.h"

struct govern;

/* govern_new - load everything <cfg> names (state under cfg->state_dir by default). NULL with
 * <err> (file:line:col where a file is at fault) on failure. */
struct govern *govern_new(const struct mlx_config *cfg, char *err, size_t errlen);

/* govern_reload - load the tables of <cfg> anew; on any failure the old ones stay and <err> says
 * why (returns -EINVAL). */
int govern_reload(struct govern *g, const struct mlx_config *cfg, char *err, size_t errlen);

/* govern_hook - the hook to install (ctx = <g>). */
void govern_hook(struct govern *g, struct http_hook *out);

/* govern_status - counters and table versions for `modeluxctl status --json`. */
json_t *govern_status(struct govern *g);

/* govern_budgets_json - the budgets and their windows now, for `modeluxctl budgets`. */
json_t *govern_budgets_json(struct govern *g);

/* govern_flush - commit what the log holds (tests, shutdown). */
void govern_flush(struct govern *g);

void govern_free(struct govern *g);

/* The price table built into the agent (etc/prices.json at build time). */
extern const char mlx_prices_json[], mlx_prices_json_end[];

#endif
