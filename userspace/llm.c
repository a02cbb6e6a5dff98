/* llm: one call's life: request head and body in, response head and body (SSE or JSON, decoded)
 * through, usage settled at the end (estimated when the provider's own count never came). Owns
 * the llm_call and all it keeps; borrows each function's arguments for that call only. The wire
 * formats themselves live in llm_openai.c, llm_anthropic.c and llm_gemini.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonload.h"
#include "llm_int.h"

static const struct llm_dialect_ops *llm_ops(const struct llm_call *c)
{
	switch (c->info.dialect) {
	case LLM_DIALECT_OPENAI:
		return &llm_openai_ops;
	case LLM_DIALECT_ANTHROPIC:
		return &llm_anthropic_ops;
	case LLM_DIALECT_GEMINI:
		return &llm_gemini_ops;
	default:
		return NULL;
	}
}

const struct http_field *llm_field_find(const struct http_field *f, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; f && i < n; i++)
		if (f[i].name_len == len && strncasecmp(f[i].name, name, len) == 0)
			return &f[i];
	return NULL;
}

struct llm_call *llm_call_new(const char *host, const char *method, const char *path,
			      const struct http_field *fields, size_t nfields)
{
	struct llm_call *c = calloc(1, sizeof(*c));
	const struct http_field *ce;

	if (!c)
		return NULL;
	c->path = strdup(path ? path : "");
	if (!c->path) {
		free(c);
		return NULL;
	}
	c->info.provider = llm_provider_from_host(host);
	c->info.provider_name = llm_provider_name(c->info.provider);
	c->info.max_tokens = -1;
	c->an_input = c->an_output = c->an_cache_read = c->an_cache_write = -1;
	c->sse_cap = LLM_SSE_EVENT_CAP;
	c->json_cap = LLM_JSON_BODY_CAP;
	llm_route(c, method ? method : "", c->path);
	c->info.endpoint_name = llm_endpoint_name(c->info.endpoint);

	/* A compressed request body is rare and would have to be recompressed after a rewrite:
	 * it is left unread. */
	ce = llm_field_find(fields, nfields, "content-encoding");
	if (ce && llm_coding_parse(ce->value, ce->value_len) != LLM_CODING_IDENTITY)
		c->request_unreadable = true;
	return c;
}

void llm_call_set_limits(struct llm_call *c, size_t sse_event_cap, size_t json_body_cap)
{
	if (c->body_kind != LLM_BODY_NONE)
		return;
	if (sse_event_cap && sse_event_cap < c->sse_cap)
		c->sse_cap = sse_event_cap;
	if (json_body_cap && json_body_cap < c->json_cap)
		c->json_cap = json_body_cap;
}

static int llm_count_text(void *ctx, const char *role, const char *text, size_t len)
{
	uint64_t *sum = ctx;

	*sum += len;
	return 0;
}

int llm_request_body(struct llm_call *c, const char *body, size_t len)
{
	const struct llm_dialect_ops *ops = llm_ops(c);
	struct llm_span spans[2];
	json_t *root, *v;

	if (c->request_fed)
		return -EALREADY;
	c->request_fed = true;
	if (c->request_unreadable)
		return -ENOTSUP;
	if (len > LLM_REQUEST_BODY_CAP)
		return -E2BIG;
	/* NUL is allowed inside strings: the providers accept it, so refusing it here would let a
	 * body slip past unread. */
	root = jsonload(body, len, false);
	if (!root) {
		c->info.request_text_bytes = len; /* the estimate's stand-in for an unread body */
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		c->info.request_text_bytes = len;
		return -EBADMSG;
	}
	c->info.request_parsed = true;
	/* jansson keeps the last of duplicate keys; a provider might take the first. */
	if (llm_json_members(body, len, "model", spans, 2) > 1)
		c->info.model_ambiguous = true;
	if (!c->model_from_path)
		llm_set_json_string(&c->model_requested, &c->info.model_requested,
				    json_object_get(root, "model"));
	if (llm_json_true(root, "stream"))
		c->info.stream = true;
	v = json_object_get(root, "stream_options");
	c->info.include_usage = llm_json_true(v, "include_usage");
	if (ops) {
		ops->request(c, root);
		ops->text_foreach(root, c->info.endpoint, llm_count_text,
				  &c->info.request_text_bytes);
	}
	c->req = root;
	return 0;
}

static bool llm_is_event_stream(const struct http_field *ct)
{
	static const char want[] = "text/event-stream";

	return ct && ct->value_len >= sizeof(want) - 1 &&
	       strncasecmp(ct->value, want, sizeof(want) - 1) == 0;
}

void llm_response_head(struct llm_call *c, int status, const struct http_field *fields,
		       size_t nfields)
{
	const struct http_field *ct = llm_field_find(fields, nfields, "content-type");
	const struct http_field *ce = llm_field_find(fields, nfields, "content-encoding");
	enum llm_coding coding =
	    ce ? llm_coding_parse(ce->value, ce->value_len) : LLM_CODING_IDENTITY;

	/* A 101 is the answer to a WebSocket upgrade (a tunnel, see exch.h): what follows is
	 * WebSocket frames, not read here. Other 1xx heads are interim, not the answer. */
	if (status == 101 && c->body_kind == LLM_BODY_NONE && !c->ended) {
		c->info.status = status;
		c->body_kind = LLM_BODY_IGNORE;
		if (c->info.endpoint == LLM_EP_REALTIME) {
			/* Its events say the model and each response's usage (llm_realtime.c). */
			c->body_kind = LLM_BODY_WEBSOCKET;
			wsframe_init(&c->ws, c->json_cap);
		}
		return;
	}
	if (c->body_kind != LLM_BODY_NONE || c->ended || (status >= 100 && status < 200))
		return;
	c->info.status = status;
	/* A successful answer from an endpoint that is not an LLM call (models list, files, a
	 * health check...) carries no usage and is not billed: nothing in it to read. Its errors
	 * are still read, for the record's error fields. */
	if (c->info.endpoint == LLM_EP_OTHER && status >= 200 && status < 300) {
		c->body_kind = LLM_BODY_IGNORE;
		return;
	}
	if (coding == LLM_CODING_UNKNOWN) {
		c->body_kind = LLM_BODY_IGNORE;
		c->info.body_undecodable = true;
		return;
	}
	if (coding != LLM_CODING_IDENTITY) {
		c->inflate = llm_inflate_new(coding);
		if (!c->inflate) {
			c->body_kind = LLM_BODY_IGNORE;
			c->info.body_undecodable = true;
			return;
		}
	}
	/* Without a Content-Type, a successful answer to a streaming request is taken as SSE. */
	if (ct ? llm_is_event_stream(ct) : (c->info.stream && status >= 200 && status < 300)) {
		c->body_kind = LLM_BODY_SSE;
		c->info.sse = true;
		llm_sse_init(&c->sse, c->sse_cap);
	} else {
		c->body_kind = LLM_BODY_JSON;
	}
}

static void llm_on_event(void *ctx, const struct llm_sse_event *ev)
{
	struct llm_call *c = ctx;
	const struct llm_dialect_ops *ops = llm_ops(c);
	json_t *root;

	if (ev->skipped) {
		/* too large to keep: most likely a long generated text, so it counts as one */
		c->info.generated_text_bytes += ev->data_len;
		return;
	}
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
		return;
	if (ev->type_len == 4 && memcmp(ev->type, "ping", 4) == 0)
		return;
	root = jsonload(ev->data, ev->data_len, false);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	if (ops)
		ops->event(c, ev->type, root);
	else
		llm_error_from_json(c, root);
	json_decref(root);
}

static void llm_sink(void *ctx, const char *p, size_t len)
{
	struct llm_call *c = ctx;

	c->decoded_bytes += len;
	if (c->body_kind == LLM_BODY_SSE) {
		llm_sse_feed(&c->sse, p, len, llm_on_event, c);
		c->info.sse_events = c->sse.events;
		c->info.oversized_events = c->sse.skipped_events;
		return;
	}
	if (c->body_kind != LLM_BODY_JSON || c->info.body_truncated)
		return;
	if (len > c->json_cap - c->body_len) {
		c->info.body_truncated = true;
		free(c->body);
		c->body = NULL;
		c->body_len = c->body_alloc = 0;
		return;
	}
	if (c->body_len + len > c->body_alloc) {
		size_t alloc = c->body_alloc ? c->body_alloc : 4096;
		char *b;

		while (alloc < c->body_len + len)
			alloc *= 2;
		if (alloc > c->json_cap)
			alloc = c->json_cap;
		b = realloc(c->body, alloc);
		if (!b) {
			c->info.body_truncated = true;
			return;
		}
		c->body = b;
		c->body_alloc = alloc;
	}
	memcpy(c->body + c->body_len, p, len);
	c->body_len += len;
}

void llm_response_data(struct llm_call *c, const char *data, size_t len)
{
	if (c->ended || len == 0 || c->body_kind == LLM_BODY_NONE)
		return;
	c->info.response_bytes += len;
	if (c->body_kind == LLM_BODY_IGNORE || c->info.body_undecodable)
		return;
	if (c->body_kind == LLM_BODY_WEBSOCKET) {
		c->decoded_bytes += len;
		if (wsframe_feed(&c->ws, data, len, llm_realtime_message, c) < 0)
			c->info.body_undecodable = true;
		return;
	}
	if (!c->inflate) {
		llm_sink(c, data, len);
		return;
	}
	/* A corrupt stream keeps what decoded before the damage; the rest is not read. */
	if (llm_inflate_feed(c->inflate, data, len, llm_sink, c) < 0)
		c->info.body_undecodable = true;
}

static void llm_on_element(void *ctx, json_t *el)
{
	struct llm_call *c = ctx;
	const struct llm_dialect_ops *ops = llm_ops(c);

	if (!json_is_object(el))
		return;
	if (ops)
		ops->body(c, el);
	else
		llm_error_from_json(c, el);
}

/* Parse the kept JSON body. False when nothing of it could be read. */
static bool llm_parse_body(struct llm_call *c)
{
	json_t *root;
	size_t i;

	if (c->info.body_truncated || c->body_len == 0)
		return false;
	root = jsonload(c->body, c->body_len, true);
	if (root) {
		if (json_is_array(root)) {
			/* Gemini's streamGenerateContent without alt=sse: an array of chunks */
			json_t *el;

			json_array_foreach(root, i, el)
			{
				llm_on_element(c, el);
			}
		} else {
			llm_on_element(c, root);
		}
		json_decref(root);
		return true;
	}
	/* a cut array still gives its complete elements */
	return llm_json_array_each(c->body, c->body_len, llm_on_element, c) > 0;
}

static bool llm_endpoint_billed(enum llm_endpoint ep)
{
	return ep != LLM_EP_OTHER && ep != LLM_EP_COUNT_TOKENS;
}

static uint64_t llm_tokens_of(uint64_t bytes)
{
	return (bytes + LLM_BYTES_PER_TOKEN - 1) / LLM_BYTES_PER_TOKEN;
}

/* See "Estimates" in llm.h. */
static void llm_settle_usage(struct llm_call *c, bool body_unread)
{
	struct llm_info *in = &c->info;
	struct llm_usage u = in->usage;
	uint64_t out_est;

	if (in->status != 0 && (in->status < 200 || in->status >= 300))
		return;
	if (c->usage_final)
		return;
	/* Gemini repeats its running usage on every chunk: a stream that ended normally (not
	 * cut, no error) carried the last of it. */
	if (in->complete && c->usage_partial && in->dialect == LLM_DIALECT_GEMINI &&
	    !in->error_type && !in->error_message)
		return;
	if (!llm_endpoint_billed(in->endpoint))
		return;
	if (body_unread)
		in->generated_text_bytes += c->decoded_bytes;
	out_est = llm_tokens_of(in->generated_text_bytes);
	if (!c->usage_partial || u.input == 0)
		u.input = llm_tokens_of(in->request_text_bytes);
	if (u.output < out_est)
		u.output = out_est;
	in->usage = u;
	in->has_usage = true;
	in->usage_estimated = true;
}

void llm_response_end(struct llm_call *c, bool complete)
{
	bool unread = false;

	if (c->ended)
		return;
	c->ended = true;
	c->info.complete = complete;
	if (c->body_kind == LLM_BODY_JSON) {
		unread = !llm_parse_body(c) && c->decoded_bytes > 0;
	} else if (c->body_kind == LLM_BODY_IGNORE) {
		/* not decoded at all: the raw size stands in */
		unread = c->info.response_bytes > 0;
		c->decoded_bytes = c->info.response_bytes;
	} else if (c->info.body_undecodable && c->decoded_bytes == 0) {
		unread = c->info.response_bytes > 0; /* corrupt from its first byte: the same */
		c->decoded_bytes = c->info.response_bytes;
	}
	free(c->body);
	c->body = NULL;
	c->body_len = c->body_alloc = 0;
	llm_sse_free(&c->sse);
	llm_inflate_free(c->inflate);
	c->inflate = NULL;
	if (c->body_kind == LLM_BODY_WEBSOCKET) {
		wsframe_free(&c->ws);
		/* A session cut while a response was under way: its tokens were never reported,
		 * so the usage is that of the finished responses, a lower bound. */
		if (c->rt_open || c->info.body_undecodable)
			c->info.usage_estimated = c->info.has_usage;
	}
	llm_settle_usage(c, unread);
}

void llm_usage_report(struct llm_call *c, const struct llm_usage *u, bool final)
{
	c->info.usage = *u;
	c->info.has_usage = true;
	c->usage_partial = true;
	if (final)
		c->usage_final = true;
}

const struct llm_info *llm_info(const struct llm_call *c)
{
	return &c->info;
}

int llm_request_text_foreach(const struct llm_call *c, llm_text_cb cb, void *ctx)
{
	const struct llm_dialect_ops *ops = llm_ops(c);

	if (!c->req)
		return -ENOENT;
	if (!ops)
		return 0;
	return ops->text_foreach(c->req, c->info.endpoint, cb, ctx);
}

static int llm_walk_strings(json_t *v, const char *name, llm_text_cb cb, void *ctx)
{
	const char *key;
	json_t *el;
	size_t i;
	int rc;

	if (json_is_string(v))
		return cb(ctx, name, json_string_value(v), json_string_length(v));
	if (json_is_array(v)) {
		json_array_foreach(v, i, el)
		{
			if ((rc = llm_walk_strings(el, name, cb, ctx)))
				return rc;
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, el)
		{
			if ((rc = cb(ctx, "key", key, strlen(key))))
				return rc;
			if ((rc = llm_walk_strings(el, key, cb, ctx)))
				return rc;
		}
	}
	return 0;
}

int llm_request_strings_foreach(const struct llm_call *c, llm_text_cb cb, void *ctx)
{
	if (!c->req)
		return -ENOENT;
	return llm_walk_strings(c->req, "", cb, ctx);
}

void llm_request_forget(struct llm_call *c)
{
	json_decref(c->req);
	c->req = NULL;
}

void llm_call_free(struct llm_call *c)
{
	if (!c)
		return;
	json_decref(c->req);
	free(c->path);
	free(c->model_requested);
	free(c->model_served);
	free(c->error_type);
	free(c->error_code);
	free(c->error_message);
	free(c->body);
	llm_sse_free(&c->sse);
	llm_inflate_free(c->inflate);
	if (c->body_kind == LLM_BODY_WEBSOCKET)
		wsframe_free(&c->ws);
	free(c);
}
