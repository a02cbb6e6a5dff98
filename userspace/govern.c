/* govern: see govern.h. Tables (prices, sanctioned keys, policy, host tags) form one generation
 * that each exchange holds a reference to from its first event to its last, so a reload never
 * frees what an exchange in flight is using. */
#include "govern.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "apikey.h"
#include "budget.h"
#include "ilog.h"
#include "keyreg.h"
#include "llm.h"
#include "log.h"
#include "policy.h"
#include "prices.h"
#include "sens.h"
#include "tagmap.h"

#define GOV_MAX_TAGS 32
#define GOV_DEFAULT_MAX_OUTPUT 4096 /* budget reservation when a request names no max tokens */

struct gov_tables {
	atomic_int refs;
	struct prices *prices;
	struct keyreg *keys;
	struct policy *policy; /* NULL: no policy, everything allowed */
	char host_tags[512];
	struct tagmap *tag_map;  /* NULL: no tag_map file */
	char tags_locked[300];   /* ",a,b," names a request header may not set */
	uint32_t sens_mask;      /* content detectors to run (sensitivity =); 0: none */
	char payload_projects[256]; /* ",a,b," for a quick membership test */
	size_t payload_cap;
};

struct govern {
	pthread_mutex_t lock; /* guards <t> (the pointer) */
	struct gov_tables *t;
	uint8_t secret[APIKEY_SECRET_LEN];
	struct ilog *log;
	struct budget *budget; /* NULL: no budgets */
	char hostname[128];
	char keys_path[512];
	bool fail_closed; /* refuse requests while the log cannot be written */
	struct sens_db *sens; /* content detectors, compiled once (patterns are built in) */
	atomic_bool off;  /* govern = no: requests pass untouched and unrecorded */
	atomic_uint_fast64_t records, blocked, downgraded, budget_denied, shadow, leaks;
	atomic_uint_fast64_t sensitive, sens_errors; /* requests with PII/secrets found; scans failed */
};

/* Per exchange. */
struct gx {
	struct govern *g;
	struct gov_tables *t;
	struct llm_call *call;
	struct apikey_id key;
	bool has_key, sanctioned;
	struct apikey_scan scan;
	struct policy_tag tagv[GOV_MAX_TAGS];
	size_t ntags;
	char tagbuf[ILOG_TAGS_LEN];
	size_t tagbuf_used;
	bool decided;
	enum ilog_decision decision;
	int rule_index;
	char group[ILOG_GROUP_LEN], trace[ILOG_TRACE_LEN], model_sent[ILOG_MODEL_LEN];
	struct budget_resv resv;
	int64_t start_unix_ms;
	char error[ILOG_ERROR_LEN];
	struct llm_reply reply; /* a local answer's body lives until the exchange ends */
	struct llm_rewrite rw;
	/* payload retention (projects listed in payload_projects) */
	bool keep_payload;
	char *req_payload, *resp_payload;
	size_t req_payload_len, resp_payload_len, req_payload_total, resp_payload_total;
};

static struct gov_tables *tables_get(struct govern *g)
{
	struct gov_tables *t;

	pthread_mutex_lock(&g->lock);
	t = g->t;
	atomic_fetch_add(&t->refs, 1);
	pthread_mutex_unlock(&g->lock);
	return t;
}

static void tables_put(struct gov_tables *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	prices_free(t->prices);
	keyreg_free(t->keys);
	policy_free(t->policy);
	tagmap_free(t->tag_map);
	free(t);
}

static void path_or(char *out, size_t cap, const char *set, const char *state_dir,
		    const char *name)
{
	if (set[0])
		snprintf(out, cap, "%s", set);
	else
		snprintf(out, cap, "%s/%s", state_dir, name);
}

static struct gov_tables *tables_load(const struct mlx_config *cfg, const char *keys_path,
				      char *err, size_t errlen)
{
	struct gov_tables *t = calloc(1, sizeof(*t));
	char why[256];
	int rc;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&t->refs, 1);
	if (cfg->prices[0])
		rc = prices_load(cfg->prices, &t->prices, err, errlen);
	else
		rc = prices_parse(mlx_prices_json, (size_t)(mlx_prices_json_end - mlx_prices_json),
				  "prices.json (built in)", &t->prices, err, errlen);
	if (rc < 0)
		goto fail;
	t->keys = keyreg_load(keys_path, true, err, errlen);
	if (!t->keys)
		goto fail;
	if (cfg->policy[0]) {
		t->policy = policy_load_file(cfg->policy, err, errlen);
		if (!t->policy)
			goto fail;
	}
	if (cfg->tag_map[0]) {
		t->tag_map = tagmap_load_file(cfg->tag_map, err, errlen);
		if (!t->tag_map)
			goto fail;
	}
	snprintf(t->host_tags, sizeof(t->host_tags), "%s", cfg->tags);
	/* The computed tags are never the client's to set, whatever tags_locked says. */
	snprintf(t->tags_locked, sizeof(t->tags_locked), ",sensitivity,pii,secrets,%s,",
		 cfg->tags_locked);
	if (sens_kinds_parse(cfg->sensitivity, &t->sens_mask, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "sensitivity: %s", why);
		goto fail;
	}
	snprintf(t->payload_projects, sizeof(t->payload_projects), ",%s,", cfg->payload_projects);
	t->payload_cap = cfg->payload_cap;
	return t;
fail:
	tables_put(t);
	return NULL;
}

static int budgets_load(struct govern *g, const struct mlx_config *cfg, char *err, size_t errlen)
{
	struct budget_conf *conf = NULL;
	char db[512];

	if (!cfg->budgets[0])
		return 0;
	if (!budget_conf_load(cfg->budgets, NULL, &conf, err, errlen))
		return -EINVAL;
	if (g->budget)
		return budget_reload(g->budget, conf, time(NULL), err, errlen);
	snprintf(db, sizeof(db), "%s/budgets.db", cfg->state_dir);
	return budget_open(&g->budget, conf, &(struct budget_opts){ .db_path = db }, time(NULL), err,
			   errlen);
}

struct govern *govern_new(const struct mlx_config *cfg, char *err, size_t errlen)
{
	struct govern *g = calloc(1, sizeof(*g));
	char path[512];

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->fail_closed = cfg->fail_closed;
	atomic_init(&g->off, !cfg->govern);
	gethostname(g->hostname, sizeof(g->hostname) - 1);
	path_or(path, sizeof(path), cfg->fleet_secret, cfg->state_dir, "fleet.key");
	if (apikey_secret_load_or_create(path, g->secret, err, errlen) < 0)
		goto fail;
	path_or(g->keys_path, sizeof(g->keys_path), cfg->sanctioned_keys, cfg->state_dir,
		"sanctioned-keys");
	g->t = tables_load(cfg, g->keys_path, err, errlen);
	if (!g->t)
		goto fail;
	if (budgets_load(g, cfg, err, errlen) < 0)
		goto fail;
	if (sens_db_new(&g->sens, err, errlen) < 0)
		goto fail;
	path_or(path, sizeof(path), cfg->log_db, cfg->state_dir, "intercept.db");
	g->log = ilog_open(path, &(struct ilog_opts){ .host = g->hostname }, err, errlen);
	if (!g->log)
		goto fail;
	return g;
fail:
	govern_free(g);
	return NULL;
}

int govern_reload(struct govern *g, const struct mlx_config *cfg, char *err, size_t errlen)
{
	struct gov_tables *t = tables_load(cfg, g->keys_path, err, errlen), *old;

	if (!t)
		return -EINVAL;
	if (budgets_load(g, cfg, err, errlen) < 0) {
		tables_put(t);
		return -EINVAL;
	}
	pthread_mutex_lock(&g->lock);
	old = g->t;
	g->t = t;
	pthread_mutex_unlock(&g->lock);
	tables_put(old);
	atomic_store(&g->off, !cfg->govern);
	return 0;
}

void govern_flush(struct govern *g)
{
	if (g && g->log)
		ilog_flush_wait(g->log, 2000);
}

void govern_free(struct govern *g)
{
	if (!g)
		return;
	if (g->log)
		ilog_close(g->log, NULL);
	if (g->budget)
		budget_close(g->budget);
	sens_db_free(g->sens);
	tables_put(g->t);
	OPENSSL_cleanse(g->secret, sizeof(g->secret));
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* ---- tags --------------------------------------------------------------------------------- */

/* name_listed - whether <name> (<len> bytes) is one of the names in <list> (",a,b,"). */
static bool name_listed(const char *list, const char *name, size_t len)
{
	for (const char *p = strstr(list, ","); p && p[1]; p = strchr(p + 1, ',')) {
		if (strncmp(p + 1, name, len) == 0 && p[1 + len] == ',')
			return true;
	}
	return false;
}

/* Merge "k=v,k=v" lists into gx: later ones override earlier names. Names and values are
 * copied into tagbuf (an override takes new space; the buffer bounds it). Names listed in
 * <locked> (",a,b,"; NULL for none) are skipped: the header may not set them. */
static void tags_add(struct gx *x, const char *list, size_t len, const char *locked)
{
	const char *c = list, *end = list + len;

	while (c < end && x->ntags < GOV_MAX_TAGS) {
		const char *e = memchr(c, ',', (size_t)(end - c)), *eq;

		if (!e)
			e = end;
		while (c < e && (*c == ' ' || *c == '\t'))
			c++;
		eq = memchr(c, '=', (size_t)(e - c));
		if (eq && eq > c && locked && name_listed(locked, c, (size_t)(eq - c)))
			eq = NULL;
		if (eq && eq > c) {
			size_t nl = (size_t)(eq - c), vl = (size_t)(e - eq - 1);

			while (vl && (eq[vl] == ' ' || eq[vl] == '\t'))
				vl--;
			if (x->tagbuf_used + nl + vl + 2 <= sizeof(x->tagbuf)) {
				char *name = x->tagbuf + x->tagbuf_used, *val = name + nl + 1;
				size_t i;

				memcpy(name, c, nl);
				name[nl] = '\0';
				memcpy(val, eq + 1, vl);
				val[vl] = '\0';
				x->tagbuf_used += nl + vl + 2;
				for (i = 0; i < x->ntags && strcmp(x->tagv[i].name, name); i++)
					;
				if (i < x->ntags)
					x->tagv[i].value = val;
				else
					x->tagv[x->ntags++] = (struct policy_tag){ name, val };
			}
		}
		c = e + 1;
	}
}

/* tags_render - the request's tags as "k=v,k=v" into <out> (<cap> bytes), cut at a pair
 * boundary when they do not fit. Done once, for the record: the policy reads tagv. */
static void tags_render(const struct gx *x, char *out, size_t cap)
{
	size_t at = 0;

	for (size_t i = 0; i < x->ntags; i++) {
		size_t nl = strlen(x->tagv[i].name), vl = strlen(x->tagv[i].value);
		size_t need = (i ? 1 : 0) + nl + 1 + vl;

		if (at + need >= cap)
			break;
		if (i)
			out[at++] = ',';
		memcpy(out + at, x->tagv[i].name, nl);
		at += nl;
		out[at++] = '=';
		memcpy(out + at, x->tagv[i].value, vl);
		at += vl;
	}
	out[at] = '\0';
}

static const char *tag_value(const struct gx *x, const char *name)
{
	for (size_t i = 0; i < x->ntags; i++)
		if (strcmp(x->tagv[i].name, name) == 0)
			return x->tagv[i].value;
	return NULL;
}

/* ---- content sensitivity -------------------------------------------------------------------- */

/* Bytes of a request body the detectors look at: beyond this a crafted body could hold a worker
 * for tens of milliseconds (dense near-matches cost ~70 ms per MiB); real prompts are far
 * smaller, and base64 blobs (images, files) are skipped by the detectors anyway. */
#define GOV_SENS_SCAN_MAX (1u << 20)

/* One hyperscan scratch per thread, for the database it was made for. */
struct sens_tl {
	const struct sens_db *db;
	struct sens_scratch *scratch;
};

static pthread_key_t sens_tl_key;
static pthread_once_t sens_tl_once = PTHREAD_ONCE_INIT;
static bool sens_tl_ok;

static void sens_tl_free(void *p)
{
	struct sens_tl *t = p;

	sens_scratch_free(t->scratch);
	free(t);
}

static void sens_tl_make(void)
{
	sens_tl_ok = pthread_key_create(&sens_tl_key, sens_tl_free) == 0;
}

static struct sens_scratch *sens_scratch_of(const struct sens_db *db)
{
	struct sens_tl *t;
	char err[128];

	pthread_once(&sens_tl_once, sens_tl_make);
	if (!sens_tl_ok)
		return NULL;
	t = pthread_getspecific(sens_tl_key);
	if (t && t->db == db)
		return t->scratch;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || pthread_setspecific(sens_tl_key, t) != 0) {
			free(t);
			return NULL;
		}
	}
	sens_scratch_free(t->scratch);
	t->scratch = NULL;
	t->db = NULL;
	if (sens_scratch_new(db, &t->scratch, err, sizeof(err)) < 0)
		return NULL;
	t->db = db;
	return t->scratch;
}

/* tag_sensitivity - run the enabled detectors over the body and set the computed tags:
 * sensitivity (secret, pii or none), and pii / secrets naming what was found. A provider key
 * pasted in the prompt (found by the key scanner) is a secret too. They override any tag of the
 * same name from another source. */
static void tag_sensitivity(struct gx *x, const char *body, size_t len)
{
	uint32_t mask = x->t->sens_mask;
	struct sens_report rep;
	struct sens_scratch *scratch;
	char list[ILOG_TAGS_LEN], kinds[128];
	size_t at = 0;
	const char *level;

	if (!mask || !x->g->sens)
		return;
	scratch = sens_scratch_of(x->g->sens);
	if (!scratch || sens_scan(x->g->sens, scratch, mask, body,
				  len < GOV_SENS_SCAN_MAX ? len : GOV_SENS_SCAN_MAX, &rep) < 0) {
		atomic_fetch_add(&x->g->sens_errors, 1);
		return;
	}
	if (x->scan.nleaks && (mask & SENS_SECRET_MASK)) {
		rep.kinds |= SENS_SECRET;
		rep.count[sens_kind_index(SENS_SECRET)] += x->scan.nleaks;
	}
	level = sens_level(&rep);
	at += (size_t)snprintf(list + at, sizeof(list) - at, "sensitivity=%s", level);
	if (rep.kinds & SENS_PII_MASK) {
		sens_kinds_render(rep.kinds & SENS_PII_MASK, kinds, sizeof(kinds));
		at += (size_t)snprintf(list + at, sizeof(list) - at, ",pii=%s", kinds);
	}
	if (rep.kinds & SENS_SECRET) {
		size_t k = 0;

		kinds[0] = '\0';
		for (unsigned b = 0; b < SENS_NSECRETS; b++)
			if (rep.secrets & (1u << b))
				k += (size_t)snprintf(kinds + k, k < sizeof(kinds) ? sizeof(kinds) - k : 0,
						      "%s%s", k ? "+" : "",
						      sens_secret_name((enum sens_secret)(1u << b)));
		if (x->scan.nleaks)
			k += (size_t)snprintf(kinds + k, k < sizeof(kinds) ? sizeof(kinds) - k : 0,
					      "%sprovider_key", k ? "+" : "");
		if (at < sizeof(list))
			at += (size_t)snprintf(list + at, sizeof(list) - at, ",secrets=%s", kinds);
	}
	if (at >= sizeof(list))
		at = sizeof(list) - 1;
	if (rep.kinds)
		atomic_fetch_add(&x->g->sensitive, 1);
	tags_add(x, list, at, NULL);
}

/* ---- hook --------------------------------------------------------------------------------- */

static enum hook_verdict refuse(struct gx *x, int status, const char *code, const char *msg,
				struct hook_answer *ans);
static enum hook_verdict decide(struct gx *x, struct http_exchange *ex, const struct llm_info *in,
				const char *body, size_t len, struct hook_answer *ans,
				struct hook_rewrite *rw);

static enum hook_verdict on_request_head(void *ctx, struct http_exchange *ex,
					 struct hook_answer *ans)
{
	struct govern *g = ctx;
	struct gx *x;
	struct apikey_ref refs[4];
	const char *host = ex->authority && ex->authority[0] ? ex->authority : ex->sni;

	if (atomic_load_explicit(&g->off, memory_order_relaxed))
		return HOOK_FORWARD;
	x = calloc(1, sizeof(*x));
	if (!x)
		return HOOK_FORWARD;
	x->g = g;
	x->t = tables_get(g);
	x->rule_index = ILOG_RULE_NONE;
	x->start_unix_ms = unix_ms();
	ex->user = x;
	x->call = llm_call_new(host, ex->method, ex->path, ex->fields, ex->nfields);
	if (apikey_find(ex->path, ex->fields, ex->nfields, refs, 4) > 0 &&
	    apikey_identify(g->secret, &refs[0], &x->key) == 0) {
		x->has_key = true;
		x->sanctioned = keyreg_is_sanctioned(x->t->keys, x->key.fp);
		if (!x->sanctioned)
			atomic_fetch_add(&g->shadow, 1);
	}
	/* Precedence, lowest first: host tags, the tag map's group, user and exe rules, then the
	 * request header (except the names tags_locked reserves to the administrator). */
	tags_add(x, x->t->host_tags, strlen(x->t->host_tags), NULL);
	if (x->t->tag_map) {
		const char *lists[16];
		size_t n = tagmap_match(x->t->tag_map, ex->uid, ex->username, ex->exe, lists, 16);

		for (size_t i = 0; i < n; i++)
			tags_add(x, lists[i], strlen(lists[i]), NULL);
	}
	for (size_t i = 0; i < ex->nfields; i++)
		if (strcasecmp(ex->fields[i].name, "x-modelux-tags") == 0)
			tags_add(x, ex->fields[i].value, ex->fields[i].value_len,
				 x->t->tags_locked);
	{
		const char *proj = tag_value(x, "project");
		char probe[ILOG_TAGS_LEN + 2];

		snprintf(probe, sizeof(probe), ",%s,", proj ? proj : "");
		x->keep_payload = proj && proj[0] && strstr(x->t->payload_projects, probe);
	}
	if (g->fail_closed) {
		struct ilog_stats ls;

		ilog_stats(g->log, &ls);
		if (ls.failing) {
			/* Fail-closed: nothing leaves unrecorded. */
			snprintf(x->error, sizeof(x->error), "log_unavailable");
			return refuse(x, 503, "log_unavailable",
				      "modelux: the intercept log cannot be written; requests are "
				      "refused until it can (fail-closed)",
				      ans);
		}
	}
	/* Bodies carry the model and the prompt: decide once the whole request is here. Other
	 * methods are decided on their head, so the policy sees every request. */
	if (strcmp(ex->method, "POST") == 0 || strcmp(ex->method, "PUT") == 0)
		return HOOK_HOLD;
	return decide(x, ex, x->call ? llm_info(x->call) : NULL, NULL, 0, ans, NULL);
}

static const char *model_of(const struct llm_info *in)
{
	return in && in->model_requested && in->model_requested[0] ? in->model_requested : NULL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* local_hour_weekday - localtime_r per thread once a second: it takes a lock and checks the
 * time zone on every call, and the policy asks on every request. */
static void local_hour_weekday(time_t now, int *hour, int *weekday)
{
	static __thread time_t at = -1;
	static __thread int h, wd;

	if (now != at) {
		struct tm tm;

		localtime_r(&now, &tm);
		h = tm.tm_hour;
		wd = tm.tm_wday;
		at = now;
	}
	*hour = h;
	*weekday = wd;
}

static void fill_policy_input(struct gx *x, struct http_exchange *ex, const struct llm_info *in,
			      struct policy_input *pi)
{
	struct budget_status bs;
	time_t now = time(NULL);

	memset(pi, 0, sizeof(*pi));
	pi->tags = x->tagv;
	pi->ntags = x->ntags;
	pi->budget_used_pct = NAN;
	pi->budget_remaining_usd = NAN;
	if (x->g->budget) {
		struct budget_subject s = { tag_value(x, "project"), tag_value(x, "team"),
					    x->has_key ? x->key.fp : NULL, ex->username,
					    x->g->hostname };

		budget_status(x->g->budget, &s, now, &bs);
		if (bs.applying) {
			pi->has_budget = true;
			pi->budget_used_pct = bs.used_pct;
			pi->budget_remaining_usd = bs.remaining_usd;
		}
	}
	pi->provider = ex->provider;
	pi->model = model_of(in);
	pi->endpoint = in ? in->endpoint_name : NULL;
	pi->stream = in && in->stream;
	pi->max_tokens = in ? in->max_tokens : -1;
	pi->exe = ex->exe;
	pi->user = ex->username;
	pi->key_shadow = x->has_key && !x->sanctioned;
	pi->key_provider = x->has_key ? x->key.fmt->provider : NULL;
	local_hour_weekday(now, &pi->hour, &pi->weekday);
}

/* Answer with the provider's own error shape, so SDKs raise their usual exception. */
static enum hook_verdict refuse(struct gx *x, int status, const char *code, const char *msg,
				struct hook_answer *ans)
{
	if (!x->call || llm_call_error_reply(x->call, status, code, msg, &x->reply) < 0) {
		ans->status = status;
		ans->content_type = "text/plain; charset=utf-8";
		ans->body = msg;
		ans->body_len = strlen(msg);
		return HOOK_ANSWER;
	}
	ans->status = x->reply.status;
	ans->content_type = x->reply.content_type;
	ans->body = x->reply.body;
	ans->body_len = x->reply.body_len;
	/* SDKs retry 429s by default: a policy answer will not change on retry. */
	ans->extra_name = "x-should-retry";
	ans->extra_value = "false";
	return HOOK_ANSWER;
}


static enum hook_verdict reserve_budget(struct gx *x, struct http_exchange *ex,
					const struct llm_info *in, const char *model,
					struct hook_answer *ans)
{
	struct govern *g = x->g;
	struct prices_quote q;
	int64_t max_micro = 0;
	struct budget_subject s = { tag_value(x, "project"), tag_value(x, "team"),
				    x->has_key ? x->key.fp : NULL, ex->username, g->hostname };
	char msg[512], over[256];
	int rc;

	if (!g->budget)
		return HOOK_FORWARD;
	if (model && prices_lookup(x->t->prices, ex->provider, model, time(NULL), &q) == PRICES_KNOWN)
		prices_max_cost(&q, in ? in->request_text_bytes / 4 + 1 : 1,
				in && in->max_tokens > 0 ? (uint64_t)in->max_tokens
							 : GOV_DEFAULT_MAX_OUTPUT,
				&max_micro);
	rc = budget_reserve(g->budget, &s, max_micro, time(NULL), &x->resv);
	if (rc == 0)
		return HOOK_FORWARD;
	atomic_fetch_add(&g->budget_denied, 1);
	budget_over_format(&x->resv.over, over, sizeof(over));
	snprintf(msg, sizeof(msg), "modelux: budget exceeded: %s", over);
	x->decision = ILOG_DECISION_BLOCK;
	snprintf(x->trace, sizeof(x->trace), "%s", msg);
	snprintf(x->error, sizeof(x->error), "budget_exceeded");
	return refuse(x, 429, "budget_exceeded", msg, ans);
}

/* decide - the policy (and the budget reservation) for a request: from its body once it is whole
 * (<body>), or from its head alone for methods without one (<body> NULL: nothing to rewrite, so a
 * downgrade leaves it as it is). */
static enum hook_verdict decide(struct gx *x, struct http_exchange *ex, const struct llm_info *in,
				const char *body, size_t len, struct hook_answer *ans,
				struct hook_rewrite *rw)
{
	struct govern *g = x->g;
	struct policy_input pi;
	struct policy_decision d;
	const char *model;
	char err[256];

	model = model_of(in);
	if (model)
		snprintf(x->model_sent, sizeof(x->model_sent), "%s", model);
	/* Two models in one request (duplicate "model" members, or model= twice in a Realtime
	 * query): the provider may act on the one the policy did not see. */
	if (in && in->model_ambiguous) {
		x->decision = ILOG_DECISION_BLOCK;
		snprintf(x->error, sizeof(x->error), "ambiguous_model");
		snprintf(x->trace, sizeof(x->trace), "the request names its model more than once");
		return refuse(x, 400, "ambiguous_model",
			      "modelux: the request names its model more than once", ans);
	}
	if (!x->t->policy)
		return body || model ? reserve_budget(x, ex, in, model, ans) : HOOK_FORWARD;
	fill_policy_input(x, ex, in, &pi);
	policy_eval(x->t->policy, &pi, &d);
	x->decided = true;
	x->rule_index = d.rule_index;
	snprintf(x->group, sizeof(x->group), "%s", d.group ? d.group : "");
	snprintf(x->trace, sizeof(x->trace), "rule %d: %s -> %s: %s", d.rule_index,
		 d.rule_index >= 0 ? policy_rule_text(x->t->policy, d.rule_index) : "-",
		 d.group ? d.group : "-", d.reason);
	if (d.action == POLICY_BLOCK) {
		x->decision = ILOG_DECISION_BLOCK;
		atomic_fetch_add(&g->blocked, 1);
		snprintf(x->error, sizeof(x->error), "blocked_by_policy");
		char msg[POLICY_REASON_MAX + 32];

		snprintf(msg, sizeof(msg), "modelux: blocked by policy: %s", d.reason);
		return refuse(x, 403, "blocked_by_policy", msg, ans);
	}
	if (d.action == POLICY_DOWNGRADE && d.model && (body ? x->call != NULL : model != NULL)) {
		/* Without a body the model is in the query of a GET decided on its head (a
		 * Realtime session): nothing to rewrite, and letting it through would ignore the
		 * rule. */
		if (!body ||
		    llm_rewrite_model(x->call, body, len, d.model, &x->rw, err, sizeof(err)) < 0) {
			x->decision = ILOG_DECISION_BLOCK;
			snprintf(x->error, sizeof(x->error), "downgrade_failed");
			return refuse(x, 403, "blocked_by_policy",
				      body ? "modelux: the policy asks for another model, and the "
					     "request could not be rewritten"
					   : "modelux: the policy asks for another model, and this "
					     "request's model cannot be rewritten",
				      ans);
		}
		x->decision = ILOG_DECISION_DOWNGRADE;
		atomic_fetch_add(&g->downgraded, 1);
		snprintf(x->model_sent, sizeof(x->model_sent), "%s", d.model);
		if (reserve_budget(x, ex, in, d.model, ans) == HOOK_ANSWER)
			return HOOK_ANSWER;
		rw->body = x->rw.body;
		rw->body_len = x->rw.body_len;
		rw->path = x->rw.path;
		return HOOK_REWRITE;
	}
	x->decision = ILOG_DECISION_ALLOW;
	/* A request without a body names no model and costs nothing: no reservation. */
	return body || model ? reserve_budget(x, ex, in, model, ans) : HOOK_FORWARD;
}

static enum hook_verdict on_request_body(void *ctx, struct http_exchange *ex, const char *body,
					 size_t len, struct hook_answer *ans,
					 struct hook_rewrite *rw)
{
	struct gx *x = ex->user;
	const struct llm_info *in = NULL;

	(void)ctx;
	if (!x)
		return HOOK_FORWARD;
	if (x->call) {
		llm_request_body(x->call, body, len);
		in = llm_info(x->call);
	}
	/* init + feed + finish: the carried partial run is wiped at the end */
	apikey_scan_text(&x->scan, x->g->secret, body, len);
	if (x->keep_payload && len) {
		size_t k = len < x->t->payload_cap ? len : x->t->payload_cap;

		x->req_payload = malloc(k);
		if (x->req_payload) {
			memcpy(x->req_payload, body, k);
			x->req_payload_len = k;
		}
		x->req_payload_total = len;
	}
	if (x->scan.nleaks)
		atomic_fetch_add(&x->g->leaks, 1);
	tag_sensitivity(x, body, len);
	return decide(x, ex, in, body, len, ans, rw);
}

static void on_response_head(void *ctx, struct http_exchange *ex)
{
	struct gx *x = ex->user;

	(void)ctx;
	if (x && x->call)
		llm_response_head(x->call, ex->status, ex->resp_fields, ex->resp_nfields);
}

static void on_response_data(void *ctx, struct http_exchange *ex, const char *data, size_t len)
{
	struct gx *x = ex->user;

	(void)ctx;
	if (x && x->call)
		llm_response_data(x->call, data, len);
	if (x && x->keep_payload) {
		size_t room = x->t->payload_cap - x->resp_payload_len, k = len < room ? len : room;

		if (k && !x->resp_payload)
			x->resp_payload = malloc(x->t->payload_cap);
		if (k && x->resp_payload) {
			memcpy(x->resp_payload + x->resp_payload_len, data, k);
			x->resp_payload_len += k;
		}
		x->resp_payload_total += len;
	}
}

/* Usage as llm.h normalizes it (input counts cache reads and writes, output counts reasoning)
 * back to how the price table's provider counts. */
static int64_t cost_of(struct gx *x, const char *provider, const struct llm_info *in, bool *known)
{
	struct prices_quote q;
	struct prices_usage u;
	struct prices_cost c;
	const char *model = in->model_served && in->model_served[0] ? in->model_served : x->model_sent;

	*known = false;
	if (!model[0] ||
	    prices_lookup(x->t->prices, provider, model, time(NULL), &q) != PRICES_KNOWN)
		return 0;
	u.cached_input = in->usage.cached_input;
	u.cache_write = in->usage.cache_write;
	u.reasoning = in->usage.reasoning;
	u.input = in->usage.input;
	if (!q.acct.input_includes_cached)
		u.input -= in->usage.input >= u.cached_input + u.cache_write
				   ? u.cached_input + u.cache_write
				   : in->usage.input;
	u.output = in->usage.output;
	if (!q.acct.output_includes_reasoning)
		u.output -= in->usage.output >= u.reasoning ? u.reasoning : in->usage.output;
	if (prices_cost(&q, &u, &c) < 0)
		return 0;
	*known = true;
	return c.micro_usd;
}

static void on_response_end(void *ctx, struct http_exchange *ex, int reset)
{
	struct govern *g = ctx;
	struct gx *x = ex->user;
	const struct llm_info *in = NULL;
	struct ilog_record r;
	bool known = false;
	int64_t cost = 0;

	if (!x)
		return;
	ex->user = NULL;
	if (x->call) {
		llm_response_end(x->call, !reset);
		in = llm_info(x->call);
		cost = cost_of(x, ex->provider, in, &known);
	}
	if (x->resv.active) {
		if (in && (in->has_usage || in->usage_estimated))
			budget_settle(&x->resv, cost, time(NULL));
		else
			budget_release(&x->resv);
	}
	ilog_record_init(&r);
	r.start_ms = x->start_unix_ms;
	r.end_ms = unix_ms();
	r.flow_id = ex->flow_id;
	r.seq = ex->seq;
	r.pid = ex->pid;
	r.uid = ex->pid ? ex->uid : ILOG_UID_UNKNOWN;
	r.http_status = ex->status;
	r.key_state = !x->has_key ? ILOG_KEY_NONE
				  : x->sanctioned ? ILOG_KEY_SANCTIONED : ILOG_KEY_SHADOW;
	r.decision = x->decision;
	r.rule_index = x->rule_index;
	r.leaked_keys = x->scan.nleaks;
	r.total_ms = r.end_ms - r.start_ms;
	r.ttfb_ms = ex->ttfb_ms >= 0 ? ex->ttfb_ms : ILOG_UNKNOWN_MS;
	r.bytes_up = ex->req_body_bytes;
	r.bytes_down = ex->resp_body_bytes;
	ilog_set(r.exe, sizeof(r.exe), ex->exe);
	ilog_set(r.user, sizeof(r.user), ex->username);
	ilog_set(r.provider, sizeof(r.provider), ex->provider);
	{
		size_t plen = strcspn(ex->path ? ex->path : "", "?");
		char ep[ILOG_ENDPOINT_LEN];

		snprintf(ep, sizeof(ep), "%.*s", (int)plen, ex->path ? ex->path : "");
		ilog_set(r.endpoint, sizeof(r.endpoint), ep);
	}
	tags_render(x, r.tags, sizeof(r.tags));
	if (x->has_key) {
		ilog_set(r.key_fp, sizeof(r.key_fp), x->key.fp);
		ilog_set(r.key_last4, sizeof(r.key_last4), x->key.last4);
		ilog_set(r.key_format, sizeof(r.key_format), x->key.fmt->name);
	}
	ilog_set(r.rule_group, sizeof(r.rule_group), x->group);
	ilog_set(r.rule_trace, sizeof(r.rule_trace), x->trace);
	if (in) {
		r.stream = in->stream;
		r.estimated = in->usage_estimated;
		r.tokens_in = (int64_t)in->usage.input;
		r.tokens_out = (int64_t)in->usage.output;
		r.tokens_cached = (int64_t)in->usage.cached_input;
		r.tokens_cache_write = (int64_t)in->usage.cache_write;
		r.tokens_reasoning = (int64_t)in->usage.reasoning;
		ilog_set(r.model_requested, sizeof(r.model_requested), nz(in->model_requested));
		ilog_set(r.model_served, sizeof(r.model_served), nz(in->model_served));
		if (!x->error[0] && in->error_type && in->error_type[0])
			ilog_set(r.error, sizeof(r.error), in->error_type);
	}
	if (x->error[0])
		ilog_set(r.error, sizeof(r.error), x->error);
	else if (reset && !r.error[0])
		ilog_set(r.error, sizeof(r.error), "reset");
	r.price_known = known;
	r.cost_micro = cost;
	if (x->keep_payload) {
		struct ilog_payload pl = { x->req_payload, x->req_payload_len, x->resp_payload,
					   x->resp_payload_len, x->t->payload_cap };

		ilog_submit(g->log, &r, &pl);
	} else {
		ilog_submit(g->log, &r, NULL);
	}
	free(x->req_payload);
	free(x->resp_payload);
	atomic_fetch_add(&g->records, 1);
	llm_call_free(x->call);
	llm_reply_free(&x->reply);
	llm_rewrite_free(&x->rw);
	tables_put(x->t);
	free(x);
}

void govern_hook(struct govern *g, struct http_hook *out)
{
	*out = (struct http_hook){
		.request_head = on_request_head,
		.request_body = on_request_body,
		.response_head = on_response_head,
		.response_data = on_response_data,
		.response_end = on_response_end,
		.ctx = g,
	};
}

json_t *govern_status(struct govern *g)
{
	struct gov_tables *t = tables_get(g);
	struct ilog_stats ls;
	json_t *j;

	ilog_stats(g->log, &ls);
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:I, s:I, s:I, "
		      "s:{s:I, s:I, s:I, s:I, s:b, s:s}}",
		      "records", (json_int_t)atomic_load(&g->records), "blocked",
		      (json_int_t)atomic_load(&g->blocked), "downgraded",
		      (json_int_t)atomic_load(&g->downgraded), "budget_denied",
		      (json_int_t)atomic_load(&g->budget_denied), "shadow_key_requests",
		      (json_int_t)atomic_load(&g->shadow), "requests_with_leaked_keys",
		      (json_int_t)atomic_load(&g->leaks), "policy", t->policy != NULL, "budgets",
		      g->budget != NULL, "tag_map_rules", (json_int_t)tagmap_rules(t->tag_map),
		      "tag_map_unresolved_groups", (json_int_t)tagmap_unresolved_groups(t->tag_map),
		      "requests_with_sensitive_content", (json_int_t)atomic_load(&g->sensitive),
		      "sensitivity_scan_errors", (json_int_t)atomic_load(&g->sens_errors),
		      "log", "written", (json_int_t)ls.written, "dropped_queue_full",
		      (json_int_t)ls.dropped_queue_full, "dropped_disk", (json_int_t)ls.dropped_disk,
		      "write_errors", (json_int_t)ls.write_errors, "failing", ls.failing,
		      "last_error", ls.last_error);
	tables_put(t);
	return j;
}

json_t *govern_budgets_json(struct govern *g)
{
	struct budget_row *rows = NULL;
	size_t n = 0;
	json_t *j;

	if (!g->budget)
		return json_array();
	if (budget_list(g->budget, time(NULL), &rows, &n) < 0)
		return NULL;
	j = budget_rows_to_json(rows, n);
	free(rows);
	return j;
}
