/* llm_anthropic: the Anthropic Messages wire format (also served by xAI and DeepSeek on their
 * /messages paths): requests, the message_start / content_block_* / message_delta /
 * message_stop / ping / error event stream, whole message bodies. Owns nothing; borrows the call
 * and the trees it is handed. */
#include <string.h>

#include "llm_int.h"

static bool an_is(json_t *str, const char *want)
{
	return json_is_string(str) && strcmp(json_string_value(str), want) == 0;
}

static uint32_t an_count_attachments(json_t *content)
{
	json_t *block;
	uint32_t n = 0;
	size_t i;

	json_array_foreach(content, i, block)
	{
		json_t *type = json_object_get(block, "type");

		if (an_is(type, "image") || an_is(type, "document"))
			n++;
		else if (an_is(type, "tool_result"))
			n += an_count_attachments(json_object_get(block, "content"));
	}
	return n;
}

static void an_request(struct llm_call *c, json_t *root)
{
	json_t *msgs = json_object_get(root, "messages"), *m;
	size_t i;

	c->info.n_messages = (uint32_t)json_array_size(msgs);
	json_array_foreach(msgs, i, m)
	{
		c->info.n_attachments += an_count_attachments(json_object_get(m, "content"));
	}
	c->info.max_tokens = llm_json_count(root, "max_tokens");
}

static int an_text(llm_text_cb cb, void *ctx, const char *role, json_t *str)
{
	if (!json_is_string(str))
		return 0;
	return cb(ctx, role, json_string_value(str), json_string_length(str));
}

/* A content field: a string or blocks (text, and tool results holding either again). */
static int an_content_text(llm_text_cb cb, void *ctx, const char *role, json_t *content, int depth)
{
	json_t *block;
	size_t i;
	int rc;

	if (json_is_string(content))
		return an_text(cb, ctx, role, content);
	json_array_foreach(content, i, block)
	{
		json_t *type = json_object_get(block, "type");

		if (an_is(type, "text"))
			rc = an_text(cb, ctx, role, json_object_get(block, "text"));
		else if (an_is(type, "tool_result") && depth == 0)
			rc = an_content_text(cb, ctx, "tool", json_object_get(block, "content"), 1);
		else
			rc = 0;
		if (rc)
			return rc;
	}
	return 0;
}

static int an_text_foreach(json_t *root, enum llm_endpoint ep, llm_text_cb cb, void *ctx)
{
	json_t *msgs = json_object_get(root, "messages"), *m, *role;
	size_t i;
	int rc;

	if ((rc = an_content_text(cb, ctx, "system", json_object_get(root, "system"), 0)))
		return rc;
	json_array_foreach(msgs, i, m)
	{
		role = json_object_get(m, "role");
		rc = an_content_text(cb, ctx,
				     json_is_string(role) ? json_string_value(role) : "user",
				     json_object_get(m, "content"), 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* Anthropic counts cache reads and writes apart from input_tokens; llm_usage.input holds all. */
static void an_report(struct llm_call *c, bool final)
{
	struct llm_usage u = {0};

	if (c->an_input > 0)
		u.input += (uint64_t)c->an_input;
	if (c->an_cache_read > 0) {
		u.input += (uint64_t)c->an_cache_read;
		u.cached_input = (uint64_t)c->an_cache_read;
	}
	if (c->an_cache_write > 0) {
		u.input += (uint64_t)c->an_cache_write;
		u.cache_write = (uint64_t)c->an_cache_write;
	}
	if (c->an_output > 0)
		u.output = (uint64_t)c->an_output;
	llm_usage_report(c, &u, final);
}

/* Take the counts a usage object has; the ones it lacks keep their earlier values (message_delta
 * carries cumulative counts, often only output_tokens). */
static bool an_usage(struct llm_call *c, json_t *usage)
{
	int64_t v;
	bool any = false;

	if (!json_is_object(usage))
		return false;
	if ((v = llm_json_count(usage, "input_tokens")) >= 0)
		c->an_input = v, any = true;
	if ((v = llm_json_count(usage, "output_tokens")) >= 0)
		c->an_output = v, any = true;
	if ((v = llm_json_count(usage, "cache_read_input_tokens")) >= 0)
		c->an_cache_read = v, any = true;
	if ((v = llm_json_count(usage, "cache_creation_input_tokens")) >= 0)
		c->an_cache_write = v, any = true;
	return any;
}

static void an_model(struct llm_call *c, json_t *msg)
{
	json_t *model = json_object_get(msg, "model");

	if (json_is_string(model))
		llm_set_json_string(&c->model_served, &c->info.model_served, model);
}

static void an_block_text(struct llm_call *c, json_t *b)
{
	llm_add_text(c, json_object_get(b, "text"));
	llm_add_text(c, json_object_get(b, "thinking"));
	llm_add_text(c, json_object_get(b, "partial_json"));
}

static void an_event(struct llm_call *c, const char *type, json_t *data)
{
	json_t *t = json_object_get(data, "type");

	if (json_is_string(t))
		type = json_string_value(t);
	if (strcmp(type, "message_start") == 0) {
		json_t *msg = json_object_get(data, "message");

		an_model(c, msg);
		if (an_usage(c, json_object_get(msg, "usage")))
			an_report(c, false);
	} else if (strcmp(type, "content_block_start") == 0) {
		an_block_text(c, json_object_get(data, "content_block"));
	} else if (strcmp(type, "content_block_delta") == 0) {
		an_block_text(c, json_object_get(data, "delta"));
	} else if (strcmp(type, "message_delta") == 0) {
		if (an_usage(c, json_object_get(data, "usage")))
			an_report(c, true);
	} else if (strcmp(type, "error") == 0) {
		llm_error_from_json(c, data);
	}
}

static void an_body(struct llm_call *c, json_t *root)
{
	json_t *content = json_object_get(root, "content"), *b;
	size_t i;

	if (llm_error_from_json(c, root))
		return;
	an_model(c, root);
	json_array_foreach(content, i, b)
	{
		llm_add_text(c, json_object_get(b, "text"));
		llm_add_text(c, json_object_get(b, "thinking"));
	}
	if (an_usage(c, json_object_get(root, "usage")))
		an_report(c, true);
}

const struct llm_dialect_ops llm_anthropic_ops = {
    .request = an_request,
    .text_foreach = an_text_foreach,
    .event = an_event,
    .body = an_body,
};
