/* llm_error: provider error shapes, both ways: reading the error a provider sent (OpenAI
 * {"error":{"message","type","code"}}, Anthropic {"type":"error","error":{"type","message"}},
 * Gemini {"error":{"code","message","status"}}, the Responses stream's {"type":"error",...}) and
 * writing our own block answers in each provider's shape so its SDKs raise their usual
 * exception. Owns the reply bodies it builds (freed by llm_reply_free); borrows the rest. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_int.h"

static void llm_error_code(struct llm_call *c, json_t *code)
{
	char num[32];

	if (json_is_string(code)) {
		llm_set_json_string(&c->error_code, &c->info.error_code, code);
	} else if (json_is_integer(code)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(code));
		llm_set_string(&c->error_code, &c->info.error_code, num, strlen(num));
	}
}

bool llm_error_from_json(struct llm_call *c, json_t *root)
{
	json_t *err = json_object_get(root, "error"), *type, *msg;

	if (json_is_object(err)) {
		type = json_object_get(err, "type"); /* OpenAI, Anthropic */
		if (!json_is_string(type))
			type = json_object_get(err, "status"); /* Gemini */
		msg = json_object_get(err, "message");
		if (!json_is_string(type) && !json_is_string(msg) && !json_object_get(err, "code"))
			return false;
		llm_set_json_string(&c->error_type, &c->info.error_type, type);
		llm_set_json_string(&c->error_message, &c->info.error_message, msg);
		llm_error_code(c, json_object_get(err, "code"));
		return true;
	}
	if (json_is_string(err)) {
		/* some compatible providers answer {"error":"text"} */
		llm_set_json_string(&c->error_message, &c->info.error_message, err);
		return true;
	}
	type = json_object_get(root, "type");
	msg = json_object_get(root, "message");
	if (json_is_string(type) && strcmp(json_string_value(type), "error") == 0 &&
	    json_is_string(msg)) {
		/* Responses API stream: {"type":"error","code":...,"message":...,"param":...} */
		llm_set_json_string(&c->error_message, &c->info.error_message, msg);
		llm_error_code(c, json_object_get(root, "code"));
		llm_set_json_string(&c->error_type, &c->info.error_type, type);
		return true;
	}
	return false;
}

/* ---- our own answers ---- */

static const char *llm_anthropic_type(int status)
{
	switch (status) {
	case 400:
		return "invalid_request_error";
	case 401:
		return "authentication_error";
	case 402:
		return "billing_error";
	case 403:
		return "permission_error";
	case 404:
		return "not_found_error";
	case 413:
		return "request_too_large";
	case 429:
		return "rate_limit_error";
	case 504:
		return "timeout_error";
	case 529:
		return "overloaded_error";
	default:
		return status >= 500 ? "api_error" : "invalid_request_error";
	}
}

static const char *llm_rpc_status(int status)
{
	switch (status) {
	case 400:
		return "INVALID_ARGUMENT";
	case 401:
		return "UNAUTHENTICATED";
	case 403:
		return "PERMISSION_DENIED";
	case 404:
		return "NOT_FOUND";
	case 409:
		return "ABORTED";
	case 429:
		return "RESOURCE_EXHAUSTED";
	case 499:
		return "CANCELLED";
	case 501:
		return "UNIMPLEMENTED";
	case 503:
		return "UNAVAILABLE";
	case 504:
		return "DEADLINE_EXCEEDED";
	default:
		return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
	}
}

/* A JSON string of <s>; bytes that are not valid UTF-8 become '?'. */
static json_t *llm_json_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *llm_error_json(enum llm_dialect dialect, bool sse, bool responses, int status,
			      const char *code, const char *message)
{
	json_t *msg = llm_json_text(message);
	json_t *jcode = code ? llm_json_text(code) : json_null();
	char reason[64];
	size_t n = 0;

	if (!msg || !jcode) {
		json_decref(msg);
		json_decref(jcode);
		return NULL;
	}
	switch (dialect) {
	case LLM_DIALECT_ANTHROPIC:
		json_decref(jcode);
		return json_pack("{s:s, s:{s:s, s:o}}", "type", "error", "error", "type",
				 llm_anthropic_type(status), "message", msg);
	case LLM_DIALECT_GEMINI:
		json_decref(jcode);
		for (const char *p = code ? code : "blocked"; *p && n < sizeof(reason) - 1; p++)
			reason[n++] =
			    isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
		reason[n] = '\0';
		return json_pack("{s:{s:i, s:o, s:s, s:[{s:s, s:s, s:s}]}}", "error", "code",
				 status, "message", msg, "status", llm_rpc_status(status),
				 "details", "@type", "type.googleapis.com/google.rpc.ErrorInfo",
				 "reason", reason, "domain", "modelux");
	default:
		if (sse && responses)
			return json_pack("{s:s, s:o, s:o, s:n, s:i}", "type", "error", "code",
					 jcode, "message", msg, "param", "sequence_number", 0);
		return json_pack("{s:{s:o, s:s, s:n, s:o}}", "error", "message", msg, "type",
				 "modelux_policy", "param", "code", jcode);
	}
}

int llm_error_reply(enum llm_dialect dialect, bool as_sse, bool responses, int status,
		    const char *code, const char *message, struct llm_reply *out)
{
	json_t *j;
	char *text;
	size_t len;
	bool sse = as_sse && dialect != LLM_DIALECT_GEMINI;

	memset(out, 0, sizeof(*out));
	if (status < 400 || status > 599 || !message)
		return -EINVAL;
	j = llm_error_json(dialect, sse, responses, status, code, message);
	if (!j)
		return -ENOMEM;
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (sse) {
		const char *prefix = (dialect == LLM_DIALECT_ANTHROPIC || responses)
					 ? "event: error\ndata: "
					 : "data: ";
		size_t plen = strlen(prefix);
		char *framed = malloc(plen + len + 3);

		if (!framed) {
			free(text);
			return -ENOMEM;
		}
		memcpy(framed, prefix, plen);
		memcpy(framed + plen, text, len);
		memcpy(framed + plen + len, "\n\n", 3);
		free(text);
		text = framed;
		len += plen + 2;
		out->status = 200;
		out->content_type = "text/event-stream";
	} else {
		out->status = status;
		out->content_type = dialect == LLM_DIALECT_GEMINI
					? "application/json; charset=UTF-8"
					: "application/json";
	}
	out->body = text;
	out->body_len = len;
	if (dialect != LLM_DIALECT_GEMINI) {
		out->extra_name = "x-should-retry";
		out->extra_value = "false";
	}
	return 0;
}

int llm_call_error_reply(const struct llm_call *c, int status, const char *code,
			 const char *message, struct llm_reply *out)
{
	return llm_error_reply(c->info.dialect, false, c->info.endpoint == LLM_EP_RESPONSES, status,
			       code, message, out);
}

void llm_reply_free(struct llm_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}
