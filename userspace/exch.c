/* exch: see exch.h. The hook sees the request head before anything is forwarded and the body
 * and response events as they pass; the log line is written when both sides are done. */
#include "exch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "conn.h"
#include "log.h"
#include "mitm.h"
#include "upconn.h"

static struct agent *agent_of(struct exch *ex)
{
	return ex->ag;
}

struct exch *exch_new(struct conn *front, int32_t fsid, uint64_t seq, const char *proto,
		      struct xhead *req)
{
	struct exch *ex = calloc(1, sizeof(*ex));

	if (!ex) {
		xhead_free(req);
		return NULL;
	}
	ex->front = front;
	ex->ag = front->w->ag;
	ex->fsid = fsid;
	ex->req = *req;
	memset(req, 0, sizeof(*req));
	ex->resp.content_length = -1;
	ex->front_proto = proto;
	ex->start_ms = mono_ms();
	ex->ttfb_ms = -1;
	ex->hx = (struct http_exchange){
	    .flow_id = front->id,
	    .seq = seq,
	    .provider =
		front->provider >= 0 ? front->snap->cfg.providers[front->provider].name : "",
	    .sni = front->sni.server_name,
	    .proto = proto,
	    .method = ex->req.method,
	    .path = ex->req.path,
	    .authority = ex->req.authority,
	    .fields = ex->req.fields,
	    .nfields = ex->req.nfields,
	    .pid = front->have_rec ? front->rec.tgid : 0,
	    .uid = front->have_rec ? front->rec.uid : 0,
	    .exe = front->exe ? front->exe : "",
	    .username = front->user ? front->user : "",
	};
	return ex;
}

void exch_kick_front(struct exch *ex)
{
	if (ex->front)
		mitm_kick(ex->front);
}

void exch_kick_up(struct exch *ex)
{
	if (ex->up)
		upconn_kick(ex->up);
}

void exch_start(struct exch *ex)
{
	struct agent *ag = agent_of(ex);
	struct hook_answer ans = {0};

	enum hook_verdict v = HOOK_FORWARD;

	atomic_fetch_add(&ag->stats.http_requests, 1);
	if (ag->hook.request_head)
		v = ag->hook.request_head(ag->hook.ctx, &ex->hx, &ans);
	if (v == HOOK_ANSWER) {
		exch_answer_hook(ex, &ans);
		return;
	}
	/* A WebSocket upgrade (OpenAI's Realtime API, for one) is carried as a tunnel: the head
	 * was decided like any request, the rest passes through. Any other protocol switch, or
	 * one the hook would need a body to decide, cannot be: forwarded without its hop-by-hop
	 * Upgrade it would reach the provider as a plain GET and fail obscurely; say so
	 * instead (and the record says so). */
	if (ex->req.upgrade) {
		static const char msg[] =
		    "modelux: only a WebSocket upgrade of an HTTP/1.1 GET can switch protocols "
		    "through the interception; the request was not sent\n";

		static const char with_body[] =
		    "modelux: a WebSocket upgrade carries no body (RFC 6455 section 4.1); the "
		    "request was not sent\n";

		if (!ex->req.websocket || ex->fsid || strcmp(ex->req.method, "GET") != 0 ||
		    v == HOOK_HOLD) {
			atomic_fetch_add(&ag->stats.http_upgrades_refused, 1);
			exch_answer(ex, 501, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
			return;
		}
		/* Sent on, a body would reach a provider that declines to switch as the start of
		 * another request, one no policy saw: refused. */
		if (ex->req.content_length != 0 || ex->req.chunked) {
			atomic_fetch_add(&ag->stats.http_upgrades_refused, 1);
			exch_answer(ex, 400, "text/plain; charset=utf-8", with_body,
				    sizeof(with_body) - 1);
			return;
		}
		ex->tunnel = true;
		atomic_fetch_add(&ag->stats.websocket_tunnels, 1);
	}
	if (v == HOOK_HOLD) {
		ex->held = true; /* exch_req_end decides */
		return;
	}
	upool_submit(ex->front->w->pool, ex);
}

static size_t hold_max(const struct agent *ag)
{
	return ag->hook.hold_max ? ag->hook.hold_max : (size_t)32 << 20;
}

/* The held request's body is whole: show it to the hook, then answer or forward it. */
static void release_held(struct exch *ex)
{
	struct agent *ag = agent_of(ex);
	struct hook_answer ans = {0};
	struct hook_rewrite rw = {0};
	enum hook_verdict v = HOOK_FORWARD;
	char *body = NULL;
	size_t len = ex->req_q.len, at = 0;

	ex->held = false;
	if (len && !(body = malloc(len))) {
		exch_answer(ex, 503, "text/plain", "modelux: out of memory\n", 23);
		return;
	}
	while (at < len) {
		size_t n;
		const char *p = bq_peek(&ex->req_q, &n);

		memcpy(body + at, p, n);
		bq_consume(&ex->req_q, n);
		at += n;
	}
	if (ag->hook.request_body)
		v = ag->hook.request_body(ag->hook.ctx, &ex->hx, body ? body : "", len, &ans, &rw);
	if (v == HOOK_ANSWER) {
		free(body);
		exch_answer_hook(ex, &ans);
		return;
	}
	if (v == HOOK_REWRITE) {
		if (rw.path && !(ex->path_override = strdup(rw.path))) {
			free(body);
			exch_answer(ex, 503, "text/plain", "modelux: out of memory\n", 23);
			return;
		}
		if (rw.path)
			ex->req.path = ex->hx.path = ex->path_override;
		if (rw.body) {
			free(body);
			body = NULL;
			if (!bq_append(&ex->req_q, rw.body, rw.body_len)) {
				exch_answer(ex, 503, "text/plain", "modelux: out of memory\n", 23);
				return;
			}
			len = rw.body_len;
		}
	}
	if (body && !bq_append(&ex->req_q, body, len)) {
		free(body);
		exch_answer(ex, 503, "text/plain", "modelux: out of memory\n", 23);
		return;
	}
	free(body);
	ex->req.content_length = (int64_t)len; /* now known, whatever the client's framing */
	ex->req_end = true;
	upool_submit(ex->front->w->pool, ex);
}

bool exch_req_data(struct exch *ex, const char *p, size_t n)
{
	struct agent *ag = agent_of(ex);

	if (ag && ag->hook.request_data)
		ag->hook.request_data(ag->hook.ctx, &ex->hx, p, n);
	ex->req_bytes += n;
	if (ex->local)
		return true; /* answered already: the body goes nowhere */
	if (ex->held && ex->req_q.len + n > hold_max(ag)) {
		ex->held = false;
		bq_clear(&ex->req_q);
		exch_answer(ex, 413, "text/plain; charset=utf-8",
			    "modelux: request body too large to inspect\n", 43);
		return true;
	}
	if (!bq_append(&ex->req_q, p, n))
		return false;
	if (ex->held) {
		/* We keep these bytes ourselves: the client may send more. */
		if (ex->front)
			mitm_credit(ex->front, ex->fsid, n);
		return true;
	}
	exch_kick_up(ex);
	return true;
}

void exch_req_end(struct exch *ex)
{
	if (ex->held) {
		release_held(ex);
		return;
	}
	ex->req_end = true;
	exch_kick_up(ex);
}

void exch_req_taken(struct exch *ex, size_t n)
{
	ex->req_taken += n;
	if (ex->front)
		mitm_credit(ex->front, ex->fsid, n);
}

void exch_resp_head(struct exch *ex, struct xhead *head)
{
	struct agent *ag = agent_of(ex);

	xhead_free(&ex->resp);
	ex->resp = *head;
	memset(head, 0, sizeof(*head));
	ex->resp_has_head = true;
	ex->hx.status = ex->resp.status;
	if (ex->ttfb_ms < 0)
		ex->ttfb_ms = mono_ms() - ex->start_ms;
	if (ag && ag->hook.response_head) {
		ex->hx.resp_fields = ex->resp.fields;
		ex->hx.resp_nfields = ex->resp.nfields;
		ag->hook.response_head(ag->hook.ctx, &ex->hx);
		ex->hx.resp_fields = NULL;
		ex->hx.resp_nfields = 0;
	}
	exch_kick_front(ex);
}

bool exch_resp_data(struct exch *ex, const char *p, size_t n)
{
	struct agent *ag = agent_of(ex);

	if (ag && ag->hook.response_data)
		ag->hook.response_data(ag->hook.ctx, &ex->hx, p, n);
	ex->resp_bytes += n;
	if (!ex->front)
		return true;
	if (!bq_append(&ex->resp_q, p, n))
		return false;
	exch_kick_front(ex);
	return true;
}

void exch_resp_end(struct exch *ex)
{
	ex->resp_end = true;
	exch_kick_front(ex);
}

void exch_resp_taken(struct exch *ex, size_t n)
{
	if (ex->up)
		upconn_credit(ex->up, ex->usid, n);
}

void exch_answer(struct exch *ex, int status, const char *content_type, const char *body,
		 size_t len)
{
	exch_answer_hook(
	    ex, &(struct hook_answer){
		    .status = status, .content_type = content_type, .body = body, .body_len = len});
}

void exch_answer_hook(struct exch *ex, const struct hook_answer *a)
{
	int status = a->status;
	const char *content_type = a->content_type ? a->content_type : "text/plain";
	const char *body = a->body ? a->body : "";
	size_t len = a->body_len;

	struct xhead h;

	if (ex->resp_head_sent) {
		ex->aborted = true;
		exch_kick_front(ex);
		return;
	}
	bq_clear(&ex->resp_q);
	ex->local = true;
	ex->resp_end = false;
	if (xhead_local_response(&h, status, content_type, len, a->extra_name, a->extra_value) <
		0 ||
	    !bq_append(&ex->resp_q, body, len)) {
		xhead_free(&h);
		ex->aborted = true;
		exch_kick_front(ex);
		return;
	}
	xhead_free(&ex->resp);
	ex->resp = h;
	ex->resp_has_head = true;
	ex->hx.status = status;
	if (ex->ttfb_ms < 0)
		ex->ttfb_ms = mono_ms() - ex->start_ms;
	ex->resp_end = true;
	ex->resp_bytes = len;
	exch_kick_front(ex);
}

void exch_fail(struct exch *ex, const char *why, const char *text)
{
	ex->end_note = why;
	if (ex->front)
		exch_answer(ex, 502, "text/plain; charset=utf-8", text, strlen(text));
}

/* Log one exchange. The path is cut at '?' so query-string secrets (?key=...) never reach logs. */
static void exch_finish(struct exch *ex, struct agent *ag, uint64_t flow_id)
{
	/* An open tunnel has no end of its own: whichever side closes ends it. */
	bool reset = ex->aborted || (!ex->resp_end && !ex->tunnel_open);
	const char *path = ex->req.path ? ex->req.path : "";
	size_t plen = strcspn(path, "?");

	ex->hx.ttfb_ms = ex->ttfb_ms;
	ex->hx.req_body_bytes = ex->req_bytes;
	ex->hx.resp_body_bytes = ex->resp_bytes;
	if (ag && ag->hook.response_end)
		ag->hook.response_end(ag->hook.ctx, &ex->hx, reset);
	/* Debug level: every request already has its durable record in the intercept log; at
	 * info the agent's own log keeps one line per connection (flow), not per request. */
	log_debug("http id=%llu.%llu proto=%s method=%s path=%.*s%s status=%d req_bytes=%llu "
		  "resp_bytes=%llu ttfb_ms=%lld dur_ms=%lld up=%s%s%s%s%s",
		  (unsigned long long)flow_id, (unsigned long long)ex->hx.seq, ex->front_proto,
		  ex->req.method ? ex->req.method : "", (int)plen, path,
		  path[plen] ? "?<redacted>" : "", ex->hx.status, (unsigned long long)ex->req_bytes,
		  (unsigned long long)ex->resp_bytes, (long long)ex->ttfb_ms,
		  (long long)(mono_ms() - ex->start_ms),
		  ex->local ? "local" : (ex->up_proto[0] ? ex->up_proto : "none"),
		  ex->up_reused ? " reused=1" : "", reset ? " end=reset" : "",
		  ex->end_note ? " note=" : "", ex->end_note ? ex->end_note : "");
	xhead_free(&ex->req);
	xhead_free(&ex->resp);
	free(ex->path_override);
	bq_clear(&ex->req_q);
	bq_clear(&ex->resp_q);
	free(ex);
}

void exch_front_detach(struct exch *ex, bool complete)
{
	struct agent *ag = agent_of(ex);
	uint64_t flow_id = ex->hx.flow_id;

	if (!complete)
		ex->aborted = true;
	ex->front = NULL;
	bq_clear(&ex->resp_q);
	if (ex->waiting)
		upool_unwait(ex);
	if (ex->up && !(ex->resp_end && ex->req_all_sent))
		upconn_cancel(ex->up, ex); /* detaches it */
	if (!ex->up)
		exch_finish(ex, ag, flow_id);
}

void exch_up_detach(struct exch *ex)
{
	ex->up = NULL;
	if (!ex->front)
		exch_finish(ex, ex->ag, ex->hx.flow_id);
}
