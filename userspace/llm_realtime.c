/* llm_realtime: OpenAI's Realtime API as it passes through a WebSocket tunnel (exch.h). The
 * provider's side of the session is JSON text events (wsframe.c gives them whole):
 * session.created / session.updated say the model, response.created opens a response and
 * response.done closes it with that response's usage, and "error" events are recorded like any
 * provider error. The session's usage is the sum over its responses, reported after each. */
#include <string.h>

#include "jsonload.h"
#include "llm_int.h"

/* realtime_usage - a Realtime usage object: input_tokens and output_tokens (text and audio
 * together), input_token_details.cached_tokens. False when it has no counts. */
static bool realtime_usage(json_t *usage, struct llm_usage *u)
{
	int64_t in = llm_json_count(usage, "input_tokens");
	int64_t out = llm_json_count(usage, "output_tokens");
	int64_t cached =
	    llm_json_count(llm_json_path(usage, "input_token_details", NULL), "cached_tokens");

	if (in < 0 || out < 0)
		return false;
	*u = (struct llm_usage){.input = (uint64_t)in, .output = (uint64_t)out};
	if (cached > 0)
		u->cached_input = (uint64_t)cached < u->input ? (uint64_t)cached : u->input;
	return true;
}

void llm_realtime_message(void *ctx, int opcode, const char *p, size_t len, bool compressed)
{
	struct llm_call *c = ctx;
	const char *type;
	struct llm_usage u;
	json_t *root;

	if (compressed) {
		/* permessage-deflate was negotiated: the events are not read (the record says the
		 * body could not be decoded, and its usage is what came before, if anything). */
		c->info.body_undecodable = true;
		return;
	}
	if (opcode != 1)
		return;
	/* Most events are deltas (audio ones large); only these say something the record keeps,
	 * and each names its type in full. */
	if (!memmem(p, len, "response.done", 13) && !memmem(p, len, "response.created", 16) &&
	    !memmem(p, len, "session.created", 15) && !memmem(p, len, "session.updated", 15) &&
	    !memmem(p, len, "\"error\"", 7))
		return;
	root = jsonload(p, len, false);
	type = json_string_value(json_object_get(root, "type"));
	if (!json_is_object(root) || !type) {
		json_decref(root);
		return;
	}
	if (strcmp(type, "session.created") == 0 || strcmp(type, "session.updated") == 0) {
		json_t *model = llm_json_path(root, "session", "model");

		if (json_is_string(model) &&
		    (!c->model_served || strcmp(c->model_served, json_string_value(model)) != 0))
			llm_set_json_string(&c->model_served, &c->info.model_served, model);
	} else if (strcmp(type, "response.created") == 0) {
		c->rt_open++;
	} else if (strcmp(type, "response.done") == 0) {
		if (c->rt_open)
			c->rt_open--;
		if (realtime_usage(llm_json_path(root, "response", "usage"), &u)) {
			c->rt_usage.input += u.input;
			c->rt_usage.output += u.output;
			c->rt_usage.cached_input += u.cached_input;
			llm_usage_report(c, &c->rt_usage, true);
		}
	} else if (strcmp(type, "error") == 0) {
		llm_error_from_json(c, root);
	}
	json_decref(root);
}
