/* ctl_gov: the governance commands of modeluxctl: the intercept log (log), the key inventory
 * (keys, keys sanction/revoke), the price table (prices), policies (policy check/explain) and
 * budgets (budgets). Reads the agent's files directly where it can (the log is read-only and
 * works while the agent writes); asks the running agent for what only it knows (budgets). */
#include "ctl_gov.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "ctlsock.h"
#include "govern.h"
#include "ilog.h"
#include "keyreg.h"
#include "policy.h"
#include "prices.h"

static void state_path(char *out, size_t cap, const char *set, const struct mlx_config *cfg,
		       const char *name)
{
	if (set[0])
		snprintf(out, cap, "%s", set);
	else
		snprintf(out, cap, "%s/%s", cfg->state_dir, name);
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return true;
	return false;
}

static const char *opt_value(int argc, char **argv, const char *flag)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return argv[i + 1];
	return NULL;
}

/* ---- log ---- */

struct print_ctx {
	bool json;
};

static int print_row(void *ctx, const struct ilog_row *row)
{
	struct print_ctx *p = ctx;
	char line[4096];

	if (p->json) {
		json_t *j = ilog_row_json(row);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (s)
			puts(s);
		free(s);
		json_decref(j);
		return 0;
	}
	ilog_row_format(row, line, sizeof(line));
	puts(line);
	return 0;
}

static int cmd_log(const struct mlx_config *cfg, int argc, char **argv)
{
	struct ilog_filter f = { 0 };
	struct print_ctx p = { .json = has_flag(argc, argv, "--json") };
	char path[512], err[512], line[1024];
	const char *v;

	state_path(path, sizeof(path), cfg->log_db, cfg, "intercept.db");
	f.provider = opt_value(argc, argv, "--provider");
	f.model = opt_value(argc, argv, "--model");
	f.key_prefix = opt_value(argc, argv, "--key");
	f.user = opt_value(argc, argv, "--user");
	f.exe = opt_value(argc, argv, "--exe");
	f.decision = opt_value(argc, argv, "--decision");
	f.with_payload = has_flag(argc, argv, "--payload");
	f.limit = 50;
	if ((v = opt_value(argc, argv, "-n")))
		f.limit = (uint32_t)strtoul(v, NULL, 10);
	if ((v = opt_value(argc, argv, "--since")))
		f.since_ms = (int64_t)(time(NULL) - strtol(v, NULL, 10)) * 1000;
	if (!p.json) {
		ilog_row_header(line, sizeof(line));
		puts(line);
	}
	if (ilog_query(path, &f, print_row, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "modeluxctl: log: %s\n", err);
		return 1;
	}
	return 0;
}

/* ---- keys ---- */

struct keys_ctx {
	bool json;
	struct keyreg *reg;
	json_t *arr;
};

static int print_key(void *ctx, const struct ilog_key_row *k)
{
	struct keys_ctx *p = ctx;
	char buf[16384];
	bool sanctioned = p->reg && keyreg_is_sanctioned(p->reg, k->fingerprint);

	if (p->json) {
		json_t *j = ilog_key_json(k);

		if (j) {
			/* the registry now, which may differ from the state last seen */
			json_object_set_new(j, "sanctioned_now", json_boolean(sanctioned));
			json_array_append_new(p->arr, j);
		}
		return 0;
	}
	ilog_key_format(k, buf, sizeof(buf));
	puts(buf);
	return 0;
}

static int reload_agent(const char *sock)
{
	char *out = ctl_request(sock, "reload");
	int ok = out && strstr(out, "\"ok\": true") ? 0 : (out && strstr(out, "\"ok\":true") ? 0 : 1);

	free(out);
	return ok;
}

static int cmd_keys(const struct mlx_config *cfg, const char *sock, int argc, char **argv)
{
	char path[512], reg_path[512], err[512], line[1024];
	struct keys_ctx p = { .json = has_flag(argc, argv, "--json") };
	struct ilog_key_filter f = { 0 };
	int rc;

	state_path(reg_path, sizeof(reg_path), cfg->sanctioned_keys, cfg, "sanctioned-keys");
	if (argc >= 2 && (strcmp(argv[1], "sanction") == 0 || strcmp(argv[1], "revoke") == 0)) {
		bool sanction = strcmp(argv[1], "sanction") == 0;

		if (argc < 3) {
			fprintf(stderr, "usage: modeluxctl keys %s FINGERPRINT%s\n", argv[1],
				sanction ? " [PROVIDER [LABEL]]" : "");
			return 2;
		}
		rc = sanction ? keyreg_sanction(reg_path, argv[2], argc > 3 ? argv[3] : NULL,
						argc > 4 ? argv[4] : NULL, err, sizeof(err))
			      : keyreg_revoke(reg_path, argv[2], err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "modeluxctl: keys %s: %s\n", argv[1], err);
			return 1;
		}
		printf("%s %s in %s\n", sanction ? "sanctioned" : "revoked", argv[2], reg_path);
		if (reload_agent(sock))
			printf("(the agent was not reloaded: it applies the change on its next reload)\n");
		return 0;
	}
	state_path(path, sizeof(path), cfg->log_db, cfg, "intercept.db");
	p.reg = keyreg_load(reg_path, true, err, sizeof(err));
	f.provider = opt_value(argc, argv, "--provider");
	f.state = opt_value(argc, argv, "--state");
	if (p.json)
		p.arr = json_array();
	else {
		ilog_key_header(line, sizeof(line));
		puts(line);
	}
	rc = ilog_keys(path, &f, print_key, &p, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "modeluxctl: keys: %s\n", err);
	if (p.json && rc >= 0) {
		char *s = json_dumps(p.arr, JSON_INDENT(2));

		if (s)
			puts(s);
		free(s);
	}
	json_decref(p.arr);
	keyreg_free(p.reg);
	return rc < 0 ? 1 : 0;
}

/* ---- prices ---- */

static int print_price(void *ctx, const struct prices_row *r)
{
	json_t *arr = ctx;
	char in[32], out[32], cin[32], cw[32], rs[32], from[16], to[16];

	if (r->same_as) {
		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:s}", "provider", r->provider,
							     "same_as", r->same_as));
		else
			printf("%-14s priced as %s\n", r->provider, r->same_as);
		return 0;
	}
	prices_format_rate(r->period->base.input, in, sizeof(in));
	prices_format_rate(r->period->base.output, out, sizeof(out));
	prices_format_rate(r->period->base.cached_input, cin, sizeof(cin));
	prices_format_rate(r->period->base.cache_write, cw, sizeof(cw));
	prices_format_rate(r->period->base.reasoning, rs, sizeof(rs));
	prices_format_day(r->period->from, from, sizeof(from));
	if (r->period->to == PRICES_OPEN_END)
		snprintf(to, sizeof(to), "-");
	else
		prices_format_day(r->period->to, to, sizeof(to));
	if (arr)
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "provider",
				   r->provider, "model", r->model, "input", in, "output", out,
				   "cached_input", cin, "cache_write", cw, "reasoning", rs, "from",
				   from, "to", to));
	else
		printf("%-14s %-34s %9s %9s %9s %9s %9s  %s..%s\n", r->provider, r->model, in, out,
		       cin, cw, rs, from, to);
	return 0;
}

static int cmd_prices(const struct mlx_config *cfg, int argc, char **argv)
{
	struct prices *p = NULL;
	char err[512];
	json_t *arr = has_flag(argc, argv, "--json") ? json_array() : NULL;
	int rc;

	if (cfg->prices[0])
		rc = prices_load(cfg->prices, &p, err, sizeof(err));
	else
		rc = prices_parse(mlx_prices_json, (size_t)(mlx_prices_json_end - mlx_prices_json),
				  "prices.json (built in)", &p, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "modeluxctl: prices: %s\n", err);
		return 1;
	}
	if (!arr) {
		printf("price table %s, as of %s (USD per million tokens)\n",
		       cfg->prices[0] ? cfg->prices : "built in", prices_as_of(p));
		printf("%-14s %-34s %9s %9s %9s %9s %9s  %s\n", "PROVIDER", "MODEL", "INPUT",
		       "OUTPUT", "CACHED", "CACHE_WR", "REASON", "VALID");
	}
	prices_foreach(p, print_price, arr);
	if (arr) {
		char *s = json_dumps(json_pack("{s:s, s:o}", "as_of", prices_as_of(p), "models", arr),
				     JSON_INDENT(2));

		if (s)
			puts(s);
		free(s);
	}
	prices_free(p);
	return 0;
}

/* ---- policy ---- */

static int cmd_policy(int argc, char **argv)
{
	struct policy *p;
	char err[1024];

	if (argc < 3 || (strcmp(argv[1], "check") && strcmp(argv[1], "explain"))) {
		fprintf(stderr, "usage: modeluxctl policy check FILE\n"
				"       modeluxctl policy explain FILE --request JSON\n");
		return 2;
	}
	p = policy_load_file(argv[2], err, sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (strcmp(argv[1], "check") == 0) {
		printf("%s: policy OK (%zu rules)\n", argv[2], policy_rule_count(p));
	} else {
		const char *req = opt_value(argc, argv, "--request");
		static struct policy_input_storage st;
		struct policy_input in;
		static char buf[65536];

		if (!req) {
			fprintf(stderr, "modeluxctl: policy explain needs --request JSON\n");
			policy_free(p);
			return 2;
		}
		if (policy_input_from_json(req, strlen(req), &st, &in, err, sizeof(err)) < 0) {
			fprintf(stderr, "modeluxctl: --request: %s\n", err);
			policy_free(p);
			return 1;
		}
		policy_explain(p, &in, buf, sizeof(buf));
		fputs(buf, stdout);
	}
	policy_free(p);
	return 0;
}

/* ---- budgets ---- */

static int cmd_budgets(const char *sock, int argc, char **argv)
{
	char *out = ctl_request(sock, "budgets"), err[256];
	struct budget_row *rows = NULL;
	size_t n = 0;
	json_t *doc;
	char *table;

	if (!out) {
		fprintf(stderr, "modeluxctl: cannot reach the agent at %s: %s\n", sock,
			strerror(errno));
		return 1;
	}
	if (has_flag(argc, argv, "--json")) {
		fputs(out, stdout);
		free(out);
		return 0;
	}
	doc = json_loads(out, 0, NULL);
	free(out);
	if (json_is_array(doc) && json_array_size(doc) == 0) {
		printf("no budgets configured\n");
		json_decref(doc);
		return 0;
	}
	if (!doc || !budget_rows_from_json(doc, &rows, &n, err, sizeof(err))) {
		fprintf(stderr, "modeluxctl: budgets: bad answer from the agent\n");
		json_decref(doc);
		return 1;
	}
	table = budget_rows_table(rows, n);
	if (table)
		fputs(table, stdout);
	free(table);
	free(rows);
	json_decref(doc);
	return 0;
}

int ctl_gov_main(const struct mlx_config *cfg, const char *sock, int argc, char **argv)
{
	if (strcmp(argv[0], "log") == 0)
		return cmd_log(cfg, argc, argv);
	if (strcmp(argv[0], "keys") == 0)
		return cmd_keys(cfg, sock, argc, argv);
	if (strcmp(argv[0], "prices") == 0)
		return cmd_prices(cfg, argc, argv);
	if (strcmp(argv[0], "policy") == 0)
		return cmd_policy(argc, argv);
	if (strcmp(argv[0], "budgets") == 0)
		return cmd_budgets(sock, argc, argv);
	return -1;
}
