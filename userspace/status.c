/* status: see status.h. */
#include "status.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "govern.h"

#define MODELUX_VERSION "0.1.0"

struct target_ctx {
	json_t *list;
	const struct mlx_config *cfg;
	int64_t now;
};

static const char *provider_name(const struct mlx_config *cfg, uint16_t id)
{
	return id && id <= cfg->nproviders ? cfg->providers[id - 1].name : "?";
}

static void add_target(const struct target_entry *e, void *arg)
{
	struct target_ctx *tc = arg;
	char addr[64];

	json_array_append_new(
	    tc->list,
	    json_pack("{s:s, s:s, s:s, s:s, s:I}", "addr", addr_format(e->addr, addr, sizeof(addr)),
		      "provider", provider_name(tc->cfg, e->provider_id), "name", e->name, "source",
		      e->source == TARGET_SRC_DNS ? "dns" : "resolver", "expires_in_s",
		      (json_int_t)((e->expires_ms - tc->now) / 1000)));
}

static json_t *recent_flows(struct agent *ag)
{
	json_t *a = json_array();
	size_t i;

	pthread_mutex_lock(&ag->recent_lock);
	for (i = 0; i < ag->recent_count; i++) {
		size_t k = (ag->recent_next + AGENT_RECENT - 1 - i) % AGENT_RECENT;
		const struct flow_summary *f = &ag->recent[k];

		json_array_append_new(
		    a,
		    json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:s}",
			      "id", (json_int_t)f->id, "kind", flow_kind_names[f->kind], "provider",
			      f->provider, "sni", f->sni, "dst", f->dst, "pid", (int)f->pid, "exe",
			      f->exe, "user", f->user, "bytes_up", (json_int_t)f->bytes_up,
			      "bytes_down", (json_int_t)f->bytes_down, "start_unix_ms",
			      (json_int_t)f->start_unix_ms, "dur_ms", (json_int_t)f->dur_ms, "end",
			      f->end));
	}
	pthread_mutex_unlock(&ag->recent_lock);
	return a;
}

char *status_json(struct agent *ag)
{
	static const char *stat_names[] = MLX_STAT_NAMES;
	struct cfg_snap *snap = agent_snap_acquire(ag);
	const struct mlx_config *cfg = &snap->cfg;
	struct target_ctx tc = {.list = json_array(), .cfg = cfg, .now = mono_ms()};
	uint64_t bs[MLX_STAT_MAX] = {0};
	json_t *root, *kinds = json_object(), *bpf = json_object();
	char *out;
	int i;

	targets_foreach(&ag->targets, add_target, &tc);
	for (i = 0; i < FLOW_KIND_MAX; i++)
		json_object_set_new(kinds, flow_kind_names[i],
				    json_integer(atomic_load(&ag->stats.flows[i])));
	if (ag->attached)
		mlx_bpf_stats(&ag->bpf, bs);
	for (i = 0; i < MLX_STAT_MAX; i++)
		json_object_set_new(bpf, stat_names[i], json_integer(bs[i]));

	root = json_pack(
	    "{s:s, s:i, s:I, s:s, s:i, s:{s:b, s:s, s:s, s:i, s:b, s:b, s:I, s:i},"
	    " s:{s:b, s:i, s:I, s:I, s:I, s:b, s:I, s:I},"
	    " s:{s:I, s:I, s:I, s:I, s:o},"
	    " s:{s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o},"
	    " s:o, s:{s:I, s:I}}",
	    "version", MODELUX_VERSION, "pid", (int)getpid(), "uptime_s",
	    (json_int_t)((unix_ms() - ag->started_unix_ms) / 1000), "config",
	    ag->cfg_path[0] ? ag->cfg_path : "(embedded defaults)", "workers", (int)ag->nworkers,
	    "attach", "attached", ag->attached, "cgroup", ag->bpf.cgroup_path, "scope", cfg->scope,
	    "programs", (int)ag->bpf.nlinks, "fail_closed", cfg->fail_closed, "pinned",
	    ag->bpf.pinned, "netns_cookie", (json_int_t)ag->netns_cookie, "listen_port",
	    (int)cfg->listen_port, "dns", "snoop", ag->snooping, "nfqueue", (int)cfg->nfqueue_num,
	    "packets", (json_int_t)ag->snoop.packets, "answers", (json_int_t)ag->snoop.answers,
	    "malformed", (json_int_t)ag->snoop.malformed, "resolver", ag->resolving, "queries_sent",
	    (json_int_t)ag->resolver.sent, "queries_answered", (json_int_t)ag->resolver.answered,
	    "targets", "count", (json_int_t)ag->targets.count, "learned_total",
	    (json_int_t)ag->targets.learned_total, "expired_total",
	    (json_int_t)ag->targets.expired_total, "apply_errors",
	    (json_int_t)ag->targets.apply_errors, "list", tc.list, "flows", "active",
	    (json_int_t)atomic_load(&ag->stats.active), "accepted",
	    (json_int_t)atomic_load(&ag->stats.accepted), "by_kind", kinds, "bytes_up",
	    (json_int_t)atomic_load(&ag->stats.bytes_up), "bytes_down",
	    (json_int_t)atomic_load(&ag->stats.bytes_down), "no_origdst",
	    (json_int_t)atomic_load(&ag->stats.no_origdst), "origdst_sockopt",
	    (json_int_t)atomic_load(&ag->stats.origdst_sockopt), "origdst_map",
	    (json_int_t)atomic_load(&ag->stats.origdst_map), "upstream_fail",
	    (json_int_t)atomic_load(&ag->stats.upstream_fail), "peek_timeouts",
	    (json_int_t)atomic_load(&ag->stats.peek_timeouts), "refused_full",
	    (json_int_t)atomic_load(&ag->stats.refused_full), "recent", recent_flows(ag), "bpf",
	    bpf, "reloads", "ok", (json_int_t)atomic_load(&ag->stats.reloads), "failed",
	    (json_int_t)atomic_load(&ag->stats.reload_failures));
	agent_snap_release(snap);
	if (root)
		json_object_set_new(
		    root, "intercept",
		    json_pack(
			"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"enabled", ag->certmint != NULL, "flows",
			(json_int_t)atomic_load(&ag->stats.intercepted), "http_requests",
			(json_int_t)atomic_load(&ag->stats.http_requests), "http_upgrades_refused",
			(json_int_t)atomic_load(&ag->stats.http_upgrades_refused),
			"websocket_tunnels", (json_int_t)atomic_load(&ag->stats.websocket_tunnels),
			"http_errors", (json_int_t)atomic_load(&ag->stats.http_errors),
			"upstream_verify_fail",
			(json_int_t)atomic_load(&ag->stats.upstream_verify_fail), "pinned_refusals",
			(json_int_t)atomic_load(&ag->stats.pinned_refusals), "pinned_spliced",
			(json_int_t)atomic_load(&ag->stats.pinned_spliced), "upstream_resumed",
			(json_int_t)atomic_load(&ag->stats.upstream_resumed), "upstream_conns",
			(json_int_t)atomic_load(&ag->stats.upstream_conns), "upstream_conns_h2",
			(json_int_t)atomic_load(&ag->stats.upstream_conns_h2), "upstream_reused",
			(json_int_t)atomic_load(&ag->stats.upstream_reused)));
	if (root && ag->gov)
		json_object_set_new(root, "governance", govern_status(ag->gov));
	if (!root)
		return NULL;
	out = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	return out;
}

struct text {
	char *buf;
	size_t len, cap;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->buf)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < t->cap - t->len) {
			t->len += n;
			return;
		}
		char *nb = realloc(t->buf, t->cap * 2 + n);

		if (!nb) {
			free(t->buf);
			t->buf = NULL;
			return;
		}
		t->buf = nb;
		t->cap = t->cap * 2 + n;
	}
}

char *status_prometheus(struct agent *ag, size_t *len)
{
	static const char *stat_names[] = MLX_STAT_NAMES;
	struct text t = {.buf = malloc(4096), .cap = 4096};
	uint64_t bs[MLX_STAT_MAX] = {0};
	int i;

	emit(&t, "# HELP modelux_flows_total Finished intercepted flows by kind.\n"
		 "# TYPE modelux_flows_total counter\n");
	for (i = 0; i < FLOW_KIND_MAX; i++)
		emit(&t, "modelux_flows_total{kind=\"%s\"} %llu\n", flow_kind_names[i],
		     (unsigned long long)atomic_load(&ag->stats.flows[i]));
	emit(&t, "# TYPE modelux_flows_active gauge\nmodelux_flows_active %lld\n",
	     (long long)atomic_load(&ag->stats.active));
	emit(&t,
	     "# TYPE modelux_bytes_total counter\n"
	     "modelux_bytes_total{direction=\"up\"} %llu\n"
	     "modelux_bytes_total{direction=\"down\"} %llu\n",
	     (unsigned long long)atomic_load(&ag->stats.bytes_up),
	     (unsigned long long)atomic_load(&ag->stats.bytes_down));
	emit(&t, "# TYPE modelux_targets gauge\nmodelux_targets %zu\n", ag->targets.count);
	emit(&t,
	     "# TYPE modelux_targets_learned_total counter\nmodelux_targets_learned_total %llu\n",
	     (unsigned long long)ag->targets.learned_total);
	emit(&t, "# TYPE modelux_dns_answers_total counter\nmodelux_dns_answers_total %llu\n",
	     (unsigned long long)ag->snoop.answers);
	emit(&t,
	     "# TYPE modelux_upstream_failures_total counter\n"
	     "modelux_upstream_failures_total %llu\n",
	     (unsigned long long)atomic_load(&ag->stats.upstream_fail));
	emit(&t,
	     "# TYPE modelux_intercepted_total counter\nmodelux_intercepted_total %llu\n"
	     "# TYPE modelux_http_requests_total counter\nmodelux_http_requests_total %llu\n",
	     (unsigned long long)atomic_load(&ag->stats.intercepted),
	     (unsigned long long)atomic_load(&ag->stats.http_requests));
	emit(&t,
	     "# HELP modelux_upstream_connections_total Pooled provider connections opened.\n"
	     "# TYPE modelux_upstream_connections_total counter\n"
	     "modelux_upstream_connections_total{proto=\"h2\"} %llu\n"
	     "modelux_upstream_connections_total{proto=\"http/1.1\"} %llu\n"
	     "# HELP modelux_upstream_reused_total Requests sent on an already used provider "
	     "connection.\n# TYPE modelux_upstream_reused_total counter\n"
	     "modelux_upstream_reused_total %llu\n",
	     (unsigned long long)atomic_load(&ag->stats.upstream_conns_h2),
	     (unsigned long long)(atomic_load(&ag->stats.upstream_conns) -
				  atomic_load(&ag->stats.upstream_conns_h2)),
	     (unsigned long long)atomic_load(&ag->stats.upstream_reused));
	emit(&t, "# TYPE modelux_attached gauge\nmodelux_attached %d\n", ag->attached ? 1 : 0);
	if (ag->attached)
		mlx_bpf_stats(&ag->bpf, bs);
	emit(&t, "# HELP modelux_bpf_events_total Counters kept by the kernel programs.\n"
		 "# TYPE modelux_bpf_events_total counter\n");
	for (i = 0; i < MLX_STAT_MAX; i++)
		emit(&t, "modelux_bpf_events_total{event=\"%s\"} %llu\n", stat_names[i],
		     (unsigned long long)bs[i]);
	if (t.buf)
		*len = t.len;
	return t.buf;
}
