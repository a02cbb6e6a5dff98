/* llm_openai: the OpenAI wire format (chat completions, legacy completions, responses,
 * embeddings), also spoken by Azure OpenAI and the OpenAI-compatible providers (Groq, Mistral,
 * xAI, OpenRouter, DeepSeek, Together, Perplexity, Gemini's and Cohere's compatibility paths).
 * Owns nothing; borrows the call and the jansson trees it is handed. */
#include <string.h>

#include "llm_int.h"

static bool oa_is(json_t *str, const char *want)
{
	return json_is_string(str) && strcmp(json_string_value(str), want) == 0;
}

static bool oa_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool oa_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool llm_openai_usage(json_t *usage, struct llm_usage *out)
{
	int64_t in, gen, cached, reasoning, write, v;

	if (!json_is_object(usage))
		return false;
	/* chat/completions/embeddings name them prompt/completion, responses input/output */
	in = llm_json_count(usage, "prompt_tokens");
	if (in < 0)
		in = llm_json_count(usage, "input_tokens");
	gen = llm_json_count(usage, "completion_tokens");
	if (gen < 0)
		gen = llm_json_count(usage, "output_tokens");
	if (in < 0 && gen < 0)
		return false;
	cached =
	    llm_json_count(llm_json_path(usage, "prompt_tokens_details", NULL), "cached_tokens");
	if (cached < 0)
		cached = llm_json_count(llm_json_path(usage, "input_tokens_details", NULL),
					"cached_tokens");
	v = llm_json_count(usage, "prompt_cache_hit_tokens"); /* DeepSeek */
	if (v > cached)
		cached = v;
	write = llm_json_count(llm_json_path(usage, "prompt_tokens_details", NULL),
			       "cache_write_tokens"); /* OpenRouter, for providers that bill it */
	reasoning = llm_json_count(llm_json_path(usage, "completion_tokens_details", NULL),
				   "reasoning_tokens");
	if (reasoning < 0)
		reasoning = llm_json_count(llm_json_path(usage, "output_tokens_details", NULL),
					   "reasoning_tokens");
	if (reasoning < 0)
		reasoning = llm_json_count(usage, "reasoning_tokens"); /* Perplexity */
	*out = (struct llm_usage){
	    .input = in > 0 ? (uint64_t)in : 0,
	    .output = gen > 0 ? (uint64_t)gen : 0,
	    .cached_input = cached > 0 ? (uint64_t)cached : 0,
	    .cache_write = write > 0 ? (uint64_t)write : 0,
	    .reasoning = reasoning > 0 ? (uint64_t)reasoning : 0,
	};
	return true;
}

/* ---- requests ---- */

static bool oa_attachment_type(json_t *type)
{
	static const char *const kinds[] = {"image_url",  "input_audio", "file", "input_image",
					    "input_file", "input_audio", "image"};

	if (!json_is_string(type))
		return false;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(json_string_value(type), kinds[i]) == 0)
			return true;
	return false;
}

static uint32_t oa_count_attachments(json_t *content)
{
	uint32_t n = 0;
	size_t i;
	json_t *part;

	json_array_foreach(content, i, part)
	{
		if (json_is_object(part) && oa_attachment_type(json_object_get(part, "type")))
			n++;
	}
	return n;
}

/* How many inputs a string-or-array field holds (a token array is one input). */
static uint32_t oa_count_inputs(json_t *v)
{
	if (json_is_string(v))
		return 1;
	if (!json_is_array(v))
		return 0;
	if (json_array_size(v) > 0 && json_is_number(json_array_get(v, 0)))
		return 1;
	return (uint32_t)json_array_size(v);
}

static void oa_request(struct llm_call *c, json_t *root)
{
	struct llm_info *in = &c->info;
	json_t *list, *item;
	int64_t max = -1;
	size_t i;

	switch (in->endpoint) {
	case LLM_EP_CHAT_COMPLETIONS:
		list = json_object_get(root, "messages");
		in->n_messages = (uint32_t)json_array_size(list);
		json_array_foreach(list, i, item)
		{
			in->n_attachments += oa_count_attachments(json_object_get(item, "content"));
		}
		max = llm_json_count(root, "max_completion_tokens");
		if (max < 0)
			max = llm_json_count(root, "max_tokens");
		break;
	case LLM_EP_COMPLETIONS:
		in->n_messages = oa_count_inputs(json_object_get(root, "prompt"));
		max = llm_json_count(root, "max_tokens");
		break;
	case LLM_EP_RESPONSES:
		list = json_object_get(root, "input");
		in->n_messages = oa_count_inputs(list);
		json_array_foreach(list, i, item)
		{
			in->n_attachments += oa_count_attachments(json_object_get(item, "content"));
			if (json_is_object(item) &&
			    oa_attachment_type(json_object_get(item, "type")))
				in->n_attachments++;
		}
		max = llm_json_count(root, "max_output_tokens");
		break;
	case LLM_EP_EMBEDDINGS:
		in->n_messages = oa_count_inputs(json_object_get(root, "input"));
		break;
	default:
		break;
	}
	in->max_tokens = max;
}

static int oa_text(llm_text_cb cb, void *ctx, const char *role, json_t *str)
{
	if (!json_is_string(str))
		return 0;
	return cb(ctx, role, json_string_value(str), json_string_length(str));
}

/* A content field: a string, or an array of parts whose "text" members are text. */
static int oa_content_text(llm_text_cb cb, void *ctx, const char *role, json_t *content)
{
	size_t i;
	json_t *part;
	int rc;

	if (json_is_string(content))
		return oa_text(cb, ctx, role, content);
	json_array_foreach(content, i, part)
	{
		if ((rc = oa_text(cb, ctx, role, json_object_get(part, "text"))))
			return rc;
	}
	return 0;
}

static int oa_tool_calls_text(llm_text_cb cb, void *ctx, const char *role, json_t *msg)
{
	json_t *calls = json_object_get(msg, "tool_calls"), *call;
	size_t i;
	int rc;

	json_array_foreach(calls, i, call)
	{
		if ((rc = oa_text(cb, ctx, role, llm_json_path(call, "function", "arguments"))))
			return rc;
	}
	return oa_text(cb, ctx, role, llm_json_path(msg, "function_call", "arguments"));
}

static const char *oa_role(json_t *item, const char *dflt)
{
	json_t *role = json_object_get(item, "role");

	return json_is_string(role) ? json_string_value(role) : dflt;
}

static int oa_text_foreach(json_t *root, enum llm_endpoint ep, llm_text_cb cb, void *ctx)
{
	json_t *list, *item;
	size_t i;
	int rc;

	switch (ep) {
	case LLM_EP_CHAT_COMPLETIONS:
		list = json_object_get(root, "messages");
		json_array_foreach(list, i, item)
		{
			const char *role = oa_role(item, "user");

			if ((rc = oa_content_text(cb, ctx, role, json_object_get(item, "content"))))
				return rc;
			if ((rc = oa_tool_calls_text(cb, ctx, role, item)))
				return rc;
		}
		return 0;
	case LLM_EP_COMPLETIONS:
		return oa_content_text(cb, ctx, "input", json_object_get(root, "prompt"));
	case LLM_EP_EMBEDDINGS:
		list = json_object_get(root, "input");
		if (json_is_array(list)) {
			json_array_foreach(list, i, item)
			{
				if ((rc = oa_text(cb, ctx, "input", item)))
					return rc;
			}
			return 0;
		}
		return oa_text(cb, ctx, "input", list);
	case LLM_EP_RESPONSES:
		if ((rc = oa_text(cb, ctx, "system", json_object_get(root, "instructions"))))
			return rc;
		list = json_object_get(root, "input");
		if (json_is_string(list))
			return oa_text(cb, ctx, "user", list);
		json_array_foreach(list, i, item)
		{
			json_t *type = json_object_get(item, "type");

			if (oa_is(type, "function_call_output"))
				rc = oa_text(cb, ctx, "tool", json_object_get(item, "output"));
			else if (oa_is(type, "function_call"))
				rc = oa_text(cb, ctx, "assistant",
					     json_object_get(item, "arguments"));
			else
				rc = oa_content_text(cb, ctx, oa_role(item, "user"),
						     json_object_get(item, "content"));
			if (rc)
				return rc;
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- responses ---- */

static void oa_model(struct llm_call *c, json_t *obj)
{
	json_t *model = json_object_get(obj, "model");

	if (json_is_string(model) &&
	    (!c->model_served || strcmp(c->model_served, json_string_value(model)) != 0))
		llm_set_json_string(&c->model_served, &c->info.model_served, model);
}

static void oa_usage(struct llm_call *c, json_t *usage)
{
	struct llm_usage u;

	if (llm_openai_usage(usage, &u))
		llm_usage_report(c, &u, true);
}

/* Generated text of one chat/completions choice, either a stream delta or a whole message. */
static void oa_choice_text(struct llm_call *c, json_t *m)
{
	json_t *calls = json_object_get(m, "tool_calls"), *call;
	size_t i;

	llm_add_text(c, json_object_get(m, "content"));
	llm_add_text(c, json_object_get(m, "reasoning_content")); /* DeepSeek */
	llm_add_text(c, json_object_get(m, "reasoning"));	  /* OpenRouter */
	llm_add_text(c, json_object_get(m, "refusal"));
	json_array_foreach(calls, i, call)
	{
		llm_add_text(c, llm_json_path(call, "function", "arguments"));
	}
	llm_add_text(c, llm_json_path(m, "function_call", "arguments"));
}

static void oa_choices(struct llm_call *c, json_t *root, const char *member)
{
	json_t *choices = json_object_get(root, "choices"), *ch;
	size_t i;

	json_array_foreach(choices, i, ch)
	{
		oa_choice_text(c, json_object_get(ch, member));
		llm_add_text(c, json_object_get(ch, "text")); /* legacy completions */
	}
}

static void oa_chat_chunk(struct llm_call *c, json_t *data)
{
	json_t *usage = json_object_get(data, "usage");

	llm_error_from_json(c, data);
	oa_model(c, data);
	/* null on every chunk but the last when include_usage is set */
	if (json_is_object(usage))
		oa_usage(c, usage);
	else
		oa_usage(c, llm_json_path(data, "x_groq", "usage")); /* Groq's own place */
	oa_choices(c, data, "delta");
}

/* Text of a Responses API output array (non-streaming). */
static void oa_responses_output(struct llm_call *c, json_t *output)
{
	json_t *item, *part;
	size_t i, j;

	json_array_foreach(output, i, item)
	{
		json_array_foreach(json_object_get(item, "content"), j, part)
		{
			llm_add_text(c, json_object_get(part, "text"));
		}
		json_array_foreach(json_object_get(item, "summary"), j, part)
		{
			llm_add_text(c, json_object_get(part, "text"));
		}
		llm_add_text(c, json_object_get(item, "arguments"));
	}
}

static void oa_responses_event(struct llm_call *c, const char *type, json_t *data)
{
	json_t *resp = json_object_get(data, "response");
	json_t *t = json_object_get(data, "type");

	if (json_is_string(t))
		type = json_string_value(t);
	if (strcmp(type, "error") == 0) {
		llm_error_from_json(c, data);
		return;
	}
	if (json_is_object(resp)) {
		oa_model(c, resp);
		if (strcmp(type, "response.completed") == 0 ||
		    strcmp(type, "response.incomplete") == 0 ||
		    strcmp(type, "response.failed") == 0)
			oa_usage(c, json_object_get(resp, "usage"));
		if (strcmp(type, "response.failed") == 0)
			llm_error_from_json(c, resp);
		return;
	}
	if (oa_has_suffix(type, ".delta") && !strstr(type, "audio"))
		llm_add_text(c, json_object_get(data, "delta"));
}

static void oa_event(struct llm_call *c, const char *type, json_t *data)
{
	json_t *t = json_object_get(data, "type");

	if (c->info.endpoint == LLM_EP_RESPONSES || oa_has_prefix(type, "response.") ||
	    (json_is_string(t) && oa_has_prefix(json_string_value(t), "response.")))
		oa_responses_event(c, type, data);
	else
		oa_chat_chunk(c, data);
}

static void oa_body(struct llm_call *c, json_t *root)
{
	/* a failed response may still carry usage: read on */
	llm_error_from_json(c, root);
	oa_model(c, root);
	oa_usage(c, json_object_get(root, "usage"));
	oa_choices(c, root, "message");
	oa_responses_output(c, json_object_get(root, "output"));
}

const struct llm_dialect_ops llm_openai_ops = {
    .request = oa_request,
    .text_foreach = oa_text_foreach,
    .event = oa_event,
    .body = oa_body,
};
