/* test_llm_rewrite: model rewrites (body bytes identical but for the model values, escaped keys,
 * duplicates, nested and look-alike "model" text left alone, refusals with their messages; Gemini
 * and Azure paths) and our provider-shaped error answers (valid JSON in each provider's shape,
 * SSE framings, statuses, escaping, and read back by the llm parser as the provider's error). */
#include <jansson.h>

#include "test_llm_util.h"

static char err[256];

static void expect_replace(const char *body, const char *model, int want_n, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	int n = llm_json_replace_model(body, strlen(body), model, &out, &len, err, sizeof(err));

	assert_int_equal(n, want_n);
	if (!want) {
		assert_null(out);
		return;
	}
	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_string_equal(out, want);
	free(out);
}

static void test_replace_model(void **state)
{
	expect_replace("{\"model\":\"gpt-4o\",\"messages\":[]}", "gpt-4o-mini", 1,
		       "{\"model\":\"gpt-4o-mini\",\"messages\":[]}");
	/* whitespace, order and every other byte kept */
	expect_replace("{\n  \"messages\" : [ {\"role\":\"user\",\"content\":\"hi\"} ],\n  "
		       "\"model\" :\t\"gpt-4o\" ,\n  \"stream\": true\n}\n",
		       "o3", 1,
		       "{\n  \"messages\" : [ {\"role\":\"user\",\"content\":\"hi\"} ],\n  "
		       "\"model\" :\t\"o3\" ,\n  \"stream\": true\n}\n");
	/* an escaped key is the same key; an escaped value is replaced whole */
	expect_replace("{\"m\\u006Fdel\":\"gpt\\u002d4o\\\"x\"}", "gpt-4o-mini", 1,
		       "{\"m\\u006Fdel\":\"gpt-4o-mini\"}");
	/* nested "model" members and "model" inside strings are not the request's model */
	expect_replace("{\"metadata\":{\"model\":\"keep\"},\"messages\":[{\"role\":\"user\","
		       "\"content\":\"{\\\"model\\\":\\\"keep\\\"}\"}],\"model\":\"gpt-4o\","
		       "\"tools\":[{\"model\":\"keep\"}]}",
		       "gpt-4.1-nano", 1,
		       "{\"metadata\":{\"model\":\"keep\"},\"messages\":[{\"role\":\"user\","
		       "\"content\":\"{\\\"model\\\":\\\"keep\\\"}\"}],\"model\":\"gpt-4.1-nano\","
		       "\"tools\":[{\"model\":\"keep\"}]}");
	/* every duplicate is replaced, whatever the server would have read */
	expect_replace("{\"model\":\"a\",\"x\":1,\"model\":\"b\"}", "c", 2,
		       "{\"model\":\"c\",\"x\":1,\"model\":\"c\"}");
	/* a non-string value is replaced too */
	expect_replace("{\"model\":null}", "claude-3-5-haiku-latest", 1,
		       "{\"model\":\"claude-3-5-haiku-latest\"}");
	expect_replace("{\"model\":{\"a\":[1,2,{\"b\":\"}\"}]},\"z\":0}", "m", 1,
		       "{\"model\":\"m\",\"z\":0}");
	/* keys that only look alike */
	expect_replace("{\"Model\":\"a\",\"models\":\"b\",\"mode\":\"c\"}", "x", 0, NULL);
	expect_replace("{}", "x", 0, NULL);
	/* names with '/' and ':' are fine in a body */
	expect_replace("{\"model\":\"a\"}", "meta-llama/Llama-3.3-70B:free", 1,
		       "{\"model\":\"meta-llama/Llama-3.3-70B:free\"}");
}

static void test_replace_refused(void **state)
{
	static const char *const bad_models[] = {"", "a\"b", "a\\b", "a\nb", "caf\xc3\xa9"};
	char *out = (char *)1;
	size_t len = 1;
	char longname[300];

	for (size_t i = 0; i < sizeof(bad_models) / sizeof(bad_models[0]); i++) {
		assert_int_equal(llm_json_replace_model(LIT("{\"model\":\"a\"}"), bad_models[i],
							&out, &len, err, sizeof(err)),
				 -EINVAL);
		assert_null(out);
		assert_non_null(strstr(err, "model name must be"));
	}
	memset(longname, 'a', 257);
	longname[257] = '\0';
	assert_int_equal(llm_json_replace_model(LIT("{\"model\":\"a\"}"), longname, &out, &len, err,
						sizeof(err)),
			 -EINVAL);
	longname[256] = '\0';
	assert_int_equal(llm_json_replace_model(LIT("{\"model\":\"a\"}"), longname, &out, &len, err,
						sizeof(err)),
			 1);
	free(out);

	assert_int_equal(
	    llm_json_replace_model(LIT("[{\"model\":\"a\"}]"), "x", &out, &len, err, sizeof(err)),
	    -EBADMSG);
	assert_string_equal(err, "request body is not a JSON object");
	assert_int_equal(
	    llm_json_replace_model(LIT("{\"model\":\"a\""), "x", &out, &len, err, sizeof(err)),
	    -EBADMSG);
	assert_int_equal(
	    llm_json_replace_model(LIT("{\"model\":\"a\"} x"), "x", &out, &len, err, sizeof(err)),
	    -EBADMSG);
	assert_null(out);
}

/* Rewritten bodies parse to the original with only "model" changed. */
static void test_replace_semantics(void **state)
{
	static const char body[] =
	    "{\"model\":\"claude-opus-4-1\",\"max_tokens\":1024,\"system\":\"s\\u00e9\\n\","
	    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"\\ud83d\\ude00 "
	    "model\"}]}],\"metadata\":{\"user_id\":\"u1\"}}";
	json_t *a = json_loads(body, 0, NULL), *b;
	char *out;
	size_t len;

	assert_int_equal(llm_json_replace_model(LIT(body), "claude-3-5-haiku-latest", &out, &len,
						err, sizeof(err)),
			 1);
	b = json_loadb(out, len, 0, NULL);
	assert_non_null(b);
	json_object_set_new(a, "model", json_string("claude-3-5-haiku-latest"));
	assert_true(json_equal(a, b));
	assert_int_equal(len, sizeof(body) - 1 - strlen("claude-opus-4-1") +
				  strlen("claude-3-5-haiku-latest"));
	json_decref(a);
	json_decref(b);
	free(out);
}

static void test_rewrite_call(void **state)
{
	static const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[]}";
	struct llm_rewrite rw;
	struct llm_call *c;

	/* OpenAI-style: a body */
	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT(body)), 0);
	assert_int_equal(llm_rewrite_model(c, LIT(body), "gpt-4o-mini", &rw, err, sizeof(err)), 0);
	assert_string_equal(rw.body, "{\"model\":\"gpt-4o-mini\",\"messages\":[]}");
	assert_int_equal(rw.body_len, strlen(rw.body));
	assert_null(rw.path);
	llm_rewrite_free(&rw);
	assert_int_equal(llm_rewrite_model(c, LIT("{\"messages\":[]}"), "x", &rw, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "request body has no \"model\"");
	assert_null(rw.body);
	assert_int_equal(llm_rewrite_model(c, NULL, 0, "x", &rw, err, sizeof(err)), -EINVAL);
	llm_call_free(c);

	/* Gemini: the path, query kept */
	c = llm_call_new("generativelanguage.googleapis.com", "POST",
			 "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=K", NULL,
			 0);
	assert_int_equal(llm_rewrite_model(c, LIT("{\"contents\":[]}"), "gemini-2.5-flash", &rw,
					   err, sizeof(err)),
			 0);
	assert_string_equal(rw.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
				     "&key=K");
	assert_null(rw.body);
	llm_rewrite_free(&rw);
	assert_int_equal(
	    llm_rewrite_model(c, NULL, 0, "models/gemini-2.0-flash-lite", &rw, err, sizeof(err)),
	    0);
	assert_string_equal(rw.path, "/v1beta/models/gemini-2.0-flash-lite:streamGenerateContent?"
				     "alt=sse&key=K");
	llm_rewrite_free(&rw);
	assert_int_equal(llm_rewrite_model(c, NULL, 0, "a/b", &rw, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "[A-Za-z0-9._-]"));
	assert_int_equal(llm_rewrite_model(c, NULL, 0, "a:b", &rw, err, sizeof(err)), -EINVAL);
	assert_null(rw.path);
	llm_call_free(c);

	/* Azure: the deployment segment, and a body "model" if there is one */
	c = llm_call_new("contoso.openai.azure.com", "POST",
			 "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21",
			 NULL, 0);
	assert_int_equal(llm_rewrite_model(c, LIT("{\"messages\":[]}"), "gpt4o-mini-prod", &rw, err,
					   sizeof(err)),
			 0);
	assert_string_equal(rw.path, "/openai/deployments/gpt4o-mini-prod/chat/completions?"
				     "api-version=2024-10-21");
	assert_null(rw.body);
	llm_rewrite_free(&rw);
	assert_int_equal(llm_rewrite_model(c, LIT(body), "mini", &rw, err, sizeof(err)), 0);
	assert_string_equal(rw.path, "/openai/deployments/mini/chat/completions?"
				     "api-version=2024-10-21");
	assert_string_equal(rw.body, "{\"model\":\"mini\",\"messages\":[]}");
	llm_rewrite_free(&rw);
	llm_call_free(c);

	/* Anthropic */
	c = llm_call_new("api.anthropic.com", "POST", "/v1/messages", NULL, 0);
	assert_int_equal(llm_rewrite_model(c,
					   LIT("{\"max_tokens\":5,\"model\":\"claude-opus-4-1\"}"),
					   "claude-3-5-haiku-latest", &rw, err, sizeof(err)),
			 0);
	assert_string_equal(rw.body, "{\"max_tokens\":5,\"model\":\"claude-3-5-haiku-latest\"}");
	llm_rewrite_free(&rw);
	llm_call_free(c);
}

/* Parse <r>'s JSON (after "data: " for SSE) and check the common parts. */
static json_t *reply_json(const struct llm_reply *r, const char *prefix)
{
	json_t *j;
	size_t plen = strlen(prefix);

	assert_int_equal(r->body_len, strlen(r->body));
	assert_memory_equal(r->body, prefix, plen);
	if (strcmp(r->content_type, "text/event-stream") == 0) {
		assert_true(r->body_len > plen + 2);
		assert_memory_equal(r->body + r->body_len - 2, "\n\n", 2);
		j = json_loadb(r->body + plen, r->body_len - plen - 2, 0, NULL);
	} else {
		j = json_loadb(r->body, r->body_len, 0, NULL);
	}
	assert_non_null(j);
	return j;
}

static const char *jstr(json_t *j, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		j = json_object_get(j, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(j, path));
}

static void test_error_replies(void **state)
{
	static const char msg[] = "Blocked by policy \"no-gpt-5\": use gpt-4o-mini.\n(caf\xc3\xa9)";
	struct llm_reply r;
	json_t *j;

	assert_int_equal(
	    llm_error_reply(LLM_DIALECT_OPENAI, false, false, 403, "blocked_by_policy", msg, &r),
	    0);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.extra_name, "x-should-retry");
	assert_string_equal(r.extra_value, "false");
	j = reply_json(&r, "{");
	assert_string_equal(jstr(j, "error.message"), msg);
	assert_string_equal(jstr(j, "error.type"), "modelux_policy");
	assert_string_equal(jstr(j, "error.code"), "blocked_by_policy");
	assert_true(json_is_null(json_object_get(json_object_get(j, "error"), "param")));
	json_decref(j);
	llm_reply_free(&r);

	assert_int_equal(
	    llm_error_reply(LLM_DIALECT_OPENAI, true, false, 429, "budget_exceeded", msg, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/event-stream");
	j = reply_json(&r, "data: ");
	assert_string_equal(jstr(j, "error.code"), "budget_exceeded");
	json_decref(j);
	llm_reply_free(&r);

	assert_int_equal(
	    llm_error_reply(LLM_DIALECT_OPENAI, true, true, 403, "blocked_by_policy", msg, &r), 0);
	j = reply_json(&r, "event: error\ndata: ");
	assert_string_equal(jstr(j, "type"), "error");
	assert_string_equal(jstr(j, "code"), "blocked_by_policy");
	assert_string_equal(jstr(j, "message"), msg);
	json_decref(j);
	llm_reply_free(&r);

	assert_int_equal(
	    llm_error_reply(LLM_DIALECT_ANTHROPIC, false, false, 429, "budget_exceeded", msg, &r),
	    0);
	assert_int_equal(r.status, 429);
	j = reply_json(&r, "{");
	assert_string_equal(jstr(j, "type"), "error");
	assert_string_equal(jstr(j, "error.type"), "rate_limit_error");
	assert_string_equal(jstr(j, "error.message"), msg);
	json_decref(j);
	llm_reply_free(&r);

	assert_int_equal(llm_error_reply(LLM_DIALECT_ANTHROPIC, true, false, 403, NULL, msg, &r),
			 0);
	j = reply_json(&r, "event: error\ndata: ");
	assert_string_equal(jstr(j, "error.type"), "permission_error");
	json_decref(j);
	llm_reply_free(&r);

	/* Gemini has no SSE form: always the status answer */
	assert_int_equal(
	    llm_error_reply(LLM_DIALECT_GEMINI, true, false, 403, "blocked-by policy", msg, &r), 0);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.content_type, "application/json; charset=UTF-8");
	assert_null(r.extra_name);
	j = reply_json(&r, "{");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
			 403);
	assert_string_equal(jstr(j, "error.status"), "PERMISSION_DENIED");
	assert_string_equal(jstr(j, "error.message"), msg);
	json_t *info = json_array_get(json_object_get(json_object_get(j, "error"), "details"), 0);
	assert_string_equal(jstr(info, "reason"), "BLOCKED_BY_POLICY");
	assert_string_equal(jstr(info, "domain"), "modelux");
	assert_string_equal(jstr(info, "@type"), "type.googleapis.com/google.rpc.ErrorInfo");
	json_decref(j);
	llm_reply_free(&r);

	/* invalid UTF-8 in a message still gives valid JSON */
	assert_int_equal(
	    llm_error_reply(LLM_DIALECT_NONE, false, false, 500, "x", "bad \xff byte", &r), 0);
	j = reply_json(&r, "{");
	assert_string_equal(jstr(j, "error.message"), "bad ? byte");
	json_decref(j);
	llm_reply_free(&r);

	assert_int_equal(llm_error_reply(LLM_DIALECT_OPENAI, false, false, 200, "x", "m", &r),
			 -EINVAL);
	assert_int_equal(llm_error_reply(LLM_DIALECT_OPENAI, false, false, 600, "x", "m", &r),
			 -EINVAL);
	assert_int_equal(llm_error_reply(LLM_DIALECT_OPENAI, false, false, 403, "x", NULL, &r),
			 -EINVAL);
	assert_null(r.body);
}

/* Our answers, fed back as a provider response, read as that provider's error. */
static void test_error_replies_read_back(void **state)
{
	static const struct {
		const char *host, *path;
		int status;
		const char *want_type;
	} cases[] = {
	    {"api.openai.com", "/v1/chat/completions", 403, "modelux_policy"},
	    {"api.openai.com", "/v1/responses", 403, "modelux_policy"},
	    {"api.anthropic.com", "/v1/messages", 429, "rate_limit_error"},
	    {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:generateContent",
	     403, "PERMISSION_DENIED"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct llm_call *c = llm_call_new(cases[i].host, "POST", cases[i].path, NULL, 0);
		struct llm_reply r;
		struct http_field ct;
		struct llm_call *back;

		assert_int_equal(llm_call_error_reply(c, cases[i].status, "blocked_by_policy",
						      "Denied by modelux.", &r),
				 0);
		assert_int_equal(r.status, cases[i].status);
		back = llm_call_new(cases[i].host, "POST", cases[i].path, NULL, 0);
		ct = fld("content-type", r.content_type);
		llm_response_head(back, r.status, &ct, 1);
		llm_response_data(back, r.body, r.body_len);
		llm_response_end(back, true);
		assert_string_equal(llm_info(back)->error_type, cases[i].want_type);
		assert_string_equal(llm_info(back)->error_message, "Denied by modelux.");
		assert_false(llm_info(back)->has_usage);
		llm_call_free(back);

		/* and the SSE forms, where there is one */
		llm_reply_free(&r);
		assert_int_equal(llm_error_reply(llm_info(c)->dialect, true,
						 llm_info(c)->endpoint == LLM_EP_RESPONSES,
						 cases[i].status, "blocked_by_policy",
						 "Denied by modelux.", &r),
				 0);
		back = llm_call_new(cases[i].host, "POST", cases[i].path, NULL, 0);
		ct = fld("content-type", r.content_type);
		llm_response_head(back, r.status, &ct, 1);
		llm_response_data(back, r.body, r.body_len);
		llm_response_end(back, true);
		assert_string_equal(llm_info(back)->error_message, "Denied by modelux.");
		llm_call_free(back);
		llm_reply_free(&r);
		llm_call_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replace_model),
	    cmocka_unit_test(test_replace_refused),
	    cmocka_unit_test(test_replace_semantics),
	    cmocka_unit_test(test_rewrite_call),
	    cmocka_unit_test(test_error_replies),
	    cmocka_unit_test(test_error_replies_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
