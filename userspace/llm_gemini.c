/* llm_gemini: the Gemini API wire format (generateContent, streamGenerateContent with or without
 * alt=sse, countTokens, embedContent, batchEmbedContents): requests (camelCase or snake_case
 * fields, as the REST API accepts both), response chunks with usageMetadata. Owns nothing;
 * borrows the call and the trees it is handed. */
#include <string.h>

#include "llm_int.h"

/* obj[camel] or obj[snake]: the API takes either spelling. */
static json_t *gm_get(json_t *obj, const char *camel, const char *snake)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, camel) : NULL;

	return v ? v : (json_is_object(obj) ? json_object_get(obj, snake) : NULL);
}

static uint32_t gm_count_attachments(json_t *content)
{
	json_t *parts = json_object_get(content, "parts"), *p;
	uint32_t n = 0;
	size_t i;

	json_array_foreach(parts, i, p)
	{
		if (gm_get(p, "inlineData", "inline_data") || gm_get(p, "fileData", "file_data"))
			n++;
	}
	return n;
}

static void gm_request(struct llm_call *c, json_t *root)
{
	json_t *contents = json_object_get(root, "contents"), *item;
	json_t *gen = gm_get(root, "generationConfig", "generation_config");
	size_t i;

	if (!contents) /* countTokens may wrap a whole request */
		contents = json_object_get(
		    gm_get(root, "generateContentRequest", "generate_content_request"), "contents");
	switch (c->info.endpoint) {
	case LLM_EP_EMBED_CONTENT:
		item = json_object_get(root, "content");
		c->info.n_messages = item ? 1 : 0;
		c->info.n_attachments = gm_count_attachments(item);
		return;
	case LLM_EP_BATCH_EMBED_CONTENTS:
		c->info.n_messages = (uint32_t)json_array_size(json_object_get(root, "requests"));
		return;
	default:
		break;
	}
	c->info.n_messages = (uint32_t)json_array_size(contents);
	json_array_foreach(contents, i, item)
	{
		c->info.n_attachments += gm_count_attachments(item);
	}
	c->info.max_tokens = llm_json_count(
	    gen, json_object_get(gen, "maxOutputTokens") ? "maxOutputTokens" : "max_output_tokens");
}

static int gm_parts_text(llm_text_cb cb, void *ctx, const char *role, json_t *content)
{
	json_t *parts = json_object_get(content, "parts"), *p, *text;
	size_t i;
	int rc;

	json_array_foreach(parts, i, p)
	{
		text = json_object_get(p, "text");
		if (json_is_string(text) &&
		    (rc = cb(ctx, role, json_string_value(text), json_string_length(text))))
			return rc;
	}
	return 0;
}

static int gm_text_foreach(json_t *root, enum llm_endpoint ep, llm_text_cb cb, void *ctx)
{
	json_t *contents = json_object_get(root, "contents"), *item, *role;
	size_t i;
	int rc;

	if (ep == LLM_EP_EMBED_CONTENT)
		return gm_parts_text(cb, ctx, "input", json_object_get(root, "content"));
	if (ep == LLM_EP_BATCH_EMBED_CONTENTS) {
		json_array_foreach(json_object_get(root, "requests"), i, item)
		{
			rc = gm_parts_text(cb, ctx, "input", json_object_get(item, "content"));
			if (rc)
				return rc;
		}
		return 0;
	}
	rc = gm_parts_text(cb, ctx, "system",
			   gm_get(root, "systemInstruction", "system_instruction"));
	if (rc)
		return rc;
	json_array_foreach(contents, i, item)
	{
		role = json_object_get(item, "role");
		rc = gm_parts_text(cb, ctx, json_is_string(role) ? json_string_value(role) : "user",
				   item);
		if (rc)
			return rc;
	}
	return 0;
}

/* One response chunk (a whole body is a chunk too): served model, text, running usage. */
static void gm_chunk(struct llm_call *c, json_t *obj, bool whole)
{
	json_t *cands = json_object_get(obj, "candidates"), *cand, *p;
	json_t *meta = json_object_get(obj, "usageMetadata");
	json_t *model = json_object_get(obj, "modelVersion");
	size_t i, j;

	if (llm_error_from_json(c, obj))
		return;
	if (json_is_string(model))
		llm_set_json_string(&c->model_served, &c->info.model_served, model);
	json_array_foreach(cands, i, cand)
	{
		json_array_foreach(llm_json_path(cand, "content", "parts"), j, p)
		{
			llm_add_text(c, json_object_get(p, "text"));
		}
		if (json_is_string(json_object_get(cand, "finishReason")))
			c->gm_finished = true;
	}
	if (json_is_object(meta)) {
		int64_t prompt = llm_json_count(meta, "promptTokenCount");
		int64_t tool = llm_json_count(meta, "toolUsePromptTokenCount");
		int64_t cand_n = llm_json_count(meta, "candidatesTokenCount");
		int64_t thoughts = llm_json_count(meta, "thoughtsTokenCount");
		int64_t cached = llm_json_count(meta, "cachedContentTokenCount");
		struct llm_usage u = {0};

		if (prompt < 0 && cand_n < 0 && thoughts < 0)
			return;
		u.input = (uint64_t)(prompt > 0 ? prompt : 0) + (uint64_t)(tool > 0 ? tool : 0);
		u.output =
		    (uint64_t)(cand_n > 0 ? cand_n : 0) + (uint64_t)(thoughts > 0 ? thoughts : 0);
		u.reasoning = thoughts > 0 ? (uint64_t)thoughts : 0;
		u.cached_input = cached > 0 ? (uint64_t)cached : 0;
		llm_usage_report(c, &u, whole || c->gm_finished);
	}
}

static void gm_event(struct llm_call *c, const char *type, json_t *data)
{
	gm_chunk(c, data, false);
}

static void gm_body(struct llm_call *c, json_t *root)
{
	/* an element of a streamed JSON array is a chunk, not the whole answer */
	gm_chunk(c, root, c->info.endpoint != LLM_EP_STREAM_GENERATE_CONTENT);
}

const struct llm_dialect_ops llm_gemini_ops = {
    .request = gm_request,
    .text_foreach = gm_text_foreach,
    .event = gm_event,
    .body = gm_body,
};
