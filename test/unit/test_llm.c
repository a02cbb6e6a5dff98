/* test_llm: unit tests for the llm core: provider by host, endpoint/dialect/model by path for
 * every provider, request reading (counts, max tokens, flags, duplicates, NUL, long names, refused
 * bodies), request text iteration, and the estimate rules (cut before the head, error statuses,
 * unbilled endpoints). Wire samples per provider are in test_llm_{openai,anthropic,gemini}.c. */
#include "test_llm_util.h"

static void test_provider_from_host(void **state)
{
	static const struct {
		const char *host;
		enum llm_provider want;
	} cases[] = {
	    {"api.openai.com", LLM_PROVIDER_OPENAI},
	    {"API.OpenAI.COM:443", LLM_PROVIDER_OPENAI},
	    {"api.openai.com.", LLM_PROVIDER_OPENAI},
	    {"myres.openai.azure.com", LLM_PROVIDER_AZURE_OPENAI},
	    {"a.b.openai.azure.com:443", LLM_PROVIDER_AZURE_OPENAI},
	    {"myres.cognitiveservices.azure.com", LLM_PROVIDER_AZURE_OPENAI},
	    {"openai.azure.com", LLM_PROVIDER_UNKNOWN},
	    {".openai.azure.com", LLM_PROVIDER_UNKNOWN},
	    {"evil-openai.azure.com", LLM_PROVIDER_UNKNOWN},
	    {"api.anthropic.com", LLM_PROVIDER_ANTHROPIC},
	    {"generativelanguage.googleapis.com", LLM_PROVIDER_GEMINI},
	    {"api.groq.com", LLM_PROVIDER_GROQ},
	    {"api.mistral.ai", LLM_PROVIDER_MISTRAL},
	    {"codestral.mistral.ai", LLM_PROVIDER_MISTRAL},
	    {"api.x.ai", LLM_PROVIDER_XAI},
	    {"openrouter.ai", LLM_PROVIDER_OPENROUTER},
	    {"api.deepseek.com", LLM_PROVIDER_DEEPSEEK},
	    {"api.together.xyz", LLM_PROVIDER_TOGETHER},
	    {"api.together.ai", LLM_PROVIDER_TOGETHER},
	    {"api.perplexity.ai", LLM_PROVIDER_PERPLEXITY},
	    {"api.cohere.com", LLM_PROVIDER_COHERE},
	    {"api.openai.com.evil.example", LLM_PROVIDER_UNKNOWN},
	    {"xapi.openai.com", LLM_PROVIDER_UNKNOWN},
	    {"[::1]:443", LLM_PROVIDER_UNKNOWN},
	    {"", LLM_PROVIDER_UNKNOWN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (llm_provider_from_host(cases[i].host) != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].host,
				 llm_provider_from_host(cases[i].host), cases[i].want);
	assert_int_equal(llm_provider_from_host(NULL), LLM_PROVIDER_UNKNOWN);
	assert_string_equal(llm_provider_name(LLM_PROVIDER_AZURE_OPENAI), "azure-openai");
	assert_string_equal(llm_provider_name(LLM_PROVIDER_UNKNOWN), "unknown");
}

/* Table rows leave the trailing flags out when they are false. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static void test_routes(void **state)
{
	static const struct {
		const char *host, *method, *path;
		enum llm_dialect dialect;
		const char *endpoint, *model;
		bool deployment, stream;
	} cases[] = {
	    {"api.openai.com", "POST", "/v1/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL, false, false},
	    {"api.openai.com", "POST", "/v1/responses", LLM_DIALECT_OPENAI, "responses", NULL},
	    {"api.openai.com", "POST", "/v1/embeddings", LLM_DIALECT_OPENAI, "embeddings", NULL},
	    {"api.openai.com", "POST", "/v1/completions", LLM_DIALECT_OPENAI, "completions", NULL},
	    {"api.openai.com", "GET", "/v1/models", LLM_DIALECT_OPENAI, "other", NULL},
	    {"api.openai.com", "GET", "/v1/chat/completions", LLM_DIALECT_OPENAI, "other", NULL},
	    {"api.openai.com", "POST", "/v1/responses/resp_1/cancel", LLM_DIALECT_OPENAI, "other",
	     NULL},
	    {"myres.openai.azure.com", "POST",
	     "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21",
	     LLM_DIALECT_OPENAI, "chat.completions", "gpt4o-prod", true},
	    {"myres.openai.azure.com", "POST",
	     "/openai/deployments/emb%2Dsmall/embeddings?api-version=2024-10-21",
	     LLM_DIALECT_OPENAI, "embeddings", "emb-small", true},
	    {"myres.openai.azure.com", "POST", "/openai/v1/responses", LLM_DIALECT_OPENAI,
	     "responses", NULL, true},
	    {"api.anthropic.com", "POST", "/v1/messages?beta=true", LLM_DIALECT_ANTHROPIC,
	     "messages", NULL},
	    {"api.anthropic.com", "POST", "/v1/messages/count_tokens", LLM_DIALECT_ANTHROPIC,
	     "count_tokens", NULL},
	    {"api.anthropic.com", "POST", "/v1/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"api.anthropic.com", "GET", "/v1/models", LLM_DIALECT_ANTHROPIC, "other", NULL},
	    {"generativelanguage.googleapis.com", "POST",
	     "/v1beta/models/gemini-2.0-flash:generateContent", LLM_DIALECT_GEMINI,
	     "generateContent", "gemini-2.0-flash"},
	    {"generativelanguage.googleapis.com", "POST",
	     "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", LLM_DIALECT_GEMINI,
	     "streamGenerateContent", "gemini-2.5-pro", false, true},
	    {"generativelanguage.googleapis.com", "POST",
	     "/v1beta/tunedModels/my%2Dtuned:countTokens", LLM_DIALECT_GEMINI, "count_tokens",
	     "my-tuned"},
	    {"generativelanguage.googleapis.com", "POST",
	     "/v1beta/models/text-embedding-004:embedContent", LLM_DIALECT_GEMINI, "embedContent",
	     "text-embedding-004"},
	    {"generativelanguage.googleapis.com", "POST",
	     "/v1/models/text-embedding-004:batchEmbedContents", LLM_DIALECT_GEMINI,
	     "batchEmbedContents", "text-embedding-004"},
	    {"generativelanguage.googleapis.com", "POST", "/v1beta/openai/chat/completions",
	     LLM_DIALECT_OPENAI, "chat.completions", NULL},
	    {"generativelanguage.googleapis.com", "GET", "/v1beta/models", LLM_DIALECT_GEMINI,
	     "other", NULL},
	    {"generativelanguage.googleapis.com", "POST", "/v1beta/files:upload",
	     LLM_DIALECT_GEMINI, "other", NULL},
	    {"api.groq.com", "POST", "/openai/v1/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"api.mistral.ai", "POST", "/v1/embeddings", LLM_DIALECT_OPENAI, "embeddings", NULL},
	    {"api.x.ai", "POST", "/v1/messages", LLM_DIALECT_ANTHROPIC, "messages", NULL},
	    {"api.x.ai", "POST", "/v1/responses", LLM_DIALECT_OPENAI, "responses", NULL},
	    {"openrouter.ai", "POST", "/api/v1/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"api.deepseek.com", "POST", "/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"api.deepseek.com", "POST", "/anthropic/v1/messages", LLM_DIALECT_ANTHROPIC,
	     "messages", NULL},
	    {"api.together.ai", "POST", "/v1/completions", LLM_DIALECT_OPENAI, "completions", NULL},
	    {"api.perplexity.ai", "POST", "/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"api.cohere.com", "POST", "/v2/chat", LLM_DIALECT_NONE, "other", NULL},
	    {"api.cohere.com", "POST", "/compatibility/v1/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"llm.internal:8080", "POST", "/v1/chat/completions", LLM_DIALECT_OPENAI,
	     "chat.completions", NULL},
	    {"llm.internal", "POST", "/v1/models/local-1:generateContent", LLM_DIALECT_GEMINI,
	     "generateContent", "local-1"},
	    {"llm.internal", "POST", "/generate", LLM_DIALECT_NONE, "other", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct llm_call *c =
		    llm_call_new(cases[i].host, cases[i].method, cases[i].path, NULL, 0);
		const struct llm_info *in = llm_info(c);

		if (in->dialect != cases[i].dialect ||
		    strcmp(in->endpoint_name, cases[i].endpoint) ||
		    in->is_deployment != cases[i].deployment || in->stream != cases[i].stream)
			fail_msg("%s %s: dialect %d endpoint %s deployment %d stream %d",
				 cases[i].host, cases[i].path, in->dialect, in->endpoint_name,
				 in->is_deployment, in->stream);
		assert_str_or_null(in->model_requested, cases[i].model);
		assert_string_equal(in->endpoint_name, llm_endpoint_name(in->endpoint));
		llm_call_free(c);
	}
}
#pragma GCC diagnostic pop

static void test_request_chat(void **state)
{
	static const char body[] =
	    "{\"model\":\"gpt-4o\",\"messages\":["
	    "{\"role\":\"developer\",\"content\":\"Be terse.\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0=\"}},"
	    "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklG\",\"format\":\"wav\"}},"
	    "{\"type\":\"file\",\"file\":{\"file_id\":\"file-abc\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"get\",\"arguments\":\"{\\\"q\\\":1}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"}],"
	    "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	    "\"max_tokens\":50,\"max_completion_tokens\":300,\"metadata\":{\"k\":\"v\"}}";
	struct llm_call *c =
	    llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	const struct llm_info *in = llm_info(c);
	struct text_log t = {0};

	assert_int_equal(llm_request_body(c, LIT(body)), 0);
	assert_true(in->request_parsed);
	assert_string_equal(in->model_requested, "gpt-4o");
	assert_false(in->model_ambiguous);
	assert_true(in->stream);
	assert_true(in->include_usage);
	assert_int_equal(in->max_tokens, 300); /* max_completion_tokens wins */
	assert_int_equal(in->n_messages, 4);
	assert_int_equal(in->n_attachments, 3);
	assert_int_equal(llm_request_text_foreach(c, text_log_cb, &t), 0);
	assert_string_equal(t.buf, "developer:Be terse.|user:What is this?|"
				   "assistant:{\"q\":1}|tool:42|");
	assert_int_equal(in->request_text_bytes, 9 + 13 + 7 + 2);

	/* a callback's nonzero return stops the walk and comes back */
	memset(&t, 0, sizeof(t));
	t.stop_after = 2;
	assert_int_equal(llm_request_text_foreach(c, text_log_cb, &t), 7);
	assert_int_equal(t.n, 2);

	/* every string, keys included */
	memset(&t, 0, sizeof(t));
	assert_int_equal(llm_request_strings_foreach(c, text_log_cb, &t), 0);
	assert_non_null(strstr(t.buf, "k:v|"));
	assert_non_null(strstr(t.buf, "key:metadata|"));
	assert_non_null(strstr(t.buf, "url:data:image/png;base64,iVBORw0=|"));

	assert_int_equal(llm_request_body(c, LIT(body)), -EALREADY);
	llm_request_forget(c);
	assert_int_equal(llm_request_text_foreach(c, text_log_cb, &t), -ENOENT);
	assert_int_equal(llm_request_strings_foreach(c, text_log_cb, &t), -ENOENT);
	assert_string_equal(in->model_requested, "gpt-4o"); /* what was read stays */
	llm_call_free(c);
}

static void test_request_other_endpoints(void **state)
{
	static const struct {
		const char *host, *path, *body;
		int64_t max_tokens;
		uint32_t n_messages, n_attachments;
		const char *text;
	} cases[] = {
	    {"api.openai.com", "/v1/responses",
	     "{\"model\":\"gpt-4.1\",\"instructions\":\"Be kind.\",\"input\":[{\"role\":\"user\","
	     "\"content\":[{\"type\":\"input_text\",\"text\":\"Describe\"},{\"type\":"
	     "\"input_image\",\"image_url\":\"https://example.com/"
	     "a.png\"},{\"type\":\"input_file\","
	     "\"file_id\":\"file-1\"}]},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":"
	     "\"f\","
	     "\"arguments\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\","
	     "\"output\":"
	     "\"done\"}],\"max_output_tokens\":500}",
	     500, 3, 2, "system:Be kind.|user:Describe|assistant:{}|tool:done|"},
	    {"api.openai.com", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}", -1,
	     1, 0, "user:Hello|"},
	    {"api.openai.com", "/v1/embeddings",
	     "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"bb\",\"ccc\"]}", -1, 3, 0,
	     "input:a|input:bb|input:ccc|"},
	    {"api.openai.com", "/v1/embeddings",
	     "{\"model\":\"text-embedding-3-small\",\"input\":[1,2,3]}", -1, 1, 0, ""},
	    {"api.together.xyz", "/v1/completions",
	     "{\"model\":\"meta-llama/Llama-3-8b-hf\",\"prompt\":\"Once\",\"max_tokens\":16}", 16,
	     1, 0, "input:Once|"},
	    {"api.anthropic.com", "/v1/messages",
	     "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":[{\"type\":\"text\","
	     "\"text\":\"Sys\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{"
	     "\"role\":"
	     "\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	     "\"media_type\":\"image/png\",\"data\":\"iVBO\"}},{\"type\":\"document\",\"source\":{"
	     "\"type\":\"url\",\"url\":\"https://example.com/a.pdf\"}},{\"type\":\"text\",\"text\":"
	     "\"Summarize\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
	     "\"t1\",\"name\":\"look\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
	     "\"tool_result\",\"tool_use_id\":\"t1\",\"content\":[{\"type\":\"text\",\"text\":"
	     "\"seen\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
	     "\"image/png\",\"data\":\"iVBO\"}}]}]}]}",
	     1024, 3, 3, "system:Sys|user:Summarize|tool:seen|"},
	    {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:generateContent",
	     "{\"system_instruction\":{\"parts\":[{\"text\":\"Sys\"}]},\"contents\":[{\"role\":"
	     "\"user\",\"parts\":[{\"text\":\"Look\"},{\"inline_data\":{\"mime_type\":\"image/"
	     "jpeg\","
	     "\"data\":\"/9j/\"}},{\"file_data\":{\"mime_type\":\"application/pdf\",\"file_uri\":"
	     "\"https://generativelanguage.googleapis.com/v1beta/files/"
	     "abc\"}}]},{\"role\":\"model\","
	     "\"parts\":[{\"text\":\"Ok\"}]}],\"generation_config\":{\"max_output_tokens\":256}}",
	     256, 2, 2, "system:Sys|user:Look|model:Ok|"},
	    {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:generateContent",
	     "{\"systemInstruction\":{\"parts\":[{\"text\":\"S\"}]},\"contents\":[{\"parts\":[{"
	     "\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":\"UklG\"}},{\"text\":\"Hi\"}]}],"
	     "\"generationConfig\":{\"maxOutputTokens\":64,\"thinkingConfig\":{\"thinkingBudget\":"
	     "0}}}",
	     64, 1, 1, "system:S|user:Hi|"},
	    {"generativelanguage.googleapis.com", "/v1beta/models/text-embedding-004:embedContent",
	     "{\"content\":{\"parts\":[{\"text\":\"embed me\"}]}}", -1, 1, 0, "input:embed me|"},
	    {"generativelanguage.googleapis.com",
	     "/v1beta/models/text-embedding-004:batchEmbedContents",
	     "{\"requests\":[{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{"
	     "\"text\":\"a\"}]}},{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{"
	     "\"text\":\"b\"}]}}]}",
	     -1, 2, 0, "input:a|input:b|"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct llm_call *c = llm_call_new(cases[i].host, "POST", cases[i].path, NULL, 0);
		const struct llm_info *in = llm_info(c);
		struct text_log t = {0};

		assert_int_equal(llm_request_body(c, cases[i].body, strlen(cases[i].body)), 0);
		if (in->max_tokens != cases[i].max_tokens ||
		    in->n_messages != cases[i].n_messages ||
		    in->n_attachments != cases[i].n_attachments)
			fail_msg("case %zu: max %lld msgs %u att %u", i, (long long)in->max_tokens,
				 in->n_messages, in->n_attachments);
		assert_int_equal(llm_request_text_foreach(c, text_log_cb, &t), 0);
		assert_string_equal(t.buf, cases[i].text);
		llm_call_free(c);
	}
}

static void test_request_model_sources(void **state)
{
	struct llm_call *c;
	char body[4096];

	/* duplicate keys: the last one is read (as jansson and most servers do) and flagged */
	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":\"gpt-4o-mini\",\"messages\":[],"
						 "\"m\\u006fdel\":\"gpt-4o\"}")),
			 0);
	assert_string_equal(llm_info(c)->model_requested, "gpt-4o");
	assert_true(llm_info(c)->model_ambiguous);
	llm_call_free(c);

	/* NUL inside strings is read, not refused; control characters are masked */
	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(
	    llm_request_body(c, LIT("{\"model\":\"gpt-4o\\u0000x\\n\",\"messages\":"
				    "[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}")),
	    0);
	assert_string_equal(llm_info(c)->model_requested, "gpt-4o?x?");
	assert_int_equal(llm_info(c)->request_text_bytes, 3);
	llm_call_free(c);

	/* a very long name is cut at LLM_STRING_CAP */
	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	memcpy(body, "{\"model\":\"", 10);
	memset(body + 10, 'm', 2000);
	memcpy(body + 2010, "\"}", 3);
	assert_int_equal(llm_request_body(c, body, strlen(body)), 0);
	assert_int_equal(strlen(llm_info(c)->model_requested), LLM_STRING_CAP);
	llm_call_free(c);

	/* a non-string model is no model */
	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":7}")), 0);
	assert_null(llm_info(c)->model_requested);
	llm_call_free(c);

	/* Gemini and Azure deployments: the path names the model, a body "model" does not */
	c = llm_call_new("generativelanguage.googleapis.com", "POST",
			 "/v1beta/models/gemini-2.0-flash:generateContent", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":\"gemini-ultra\",\"contents\":[]}")),
			 0);
	assert_string_equal(llm_info(c)->model_requested, "gemini-2.0-flash");
	llm_call_free(c);
	c = llm_call_new("res.openai.azure.com", "POST",
			 "/openai/deployments/prod/chat/completions?api-version=2024-10-21", NULL,
			 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":\"gpt-4o\",\"messages\":[]}")), 0);
	assert_string_equal(llm_info(c)->model_requested, "prod");
	assert_true(llm_info(c)->is_deployment);
	llm_call_free(c);

	/* Azure's v1 API: the body "model" is a deployment name */
	c = llm_call_new("res.openai.azure.com", "POST", "/openai/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":\"prod-4o\",\"messages\":[]}")), 0);
	assert_string_equal(llm_info(c)->model_requested, "prod-4o");
	assert_true(llm_info(c)->is_deployment);
	llm_call_free(c);
}

static void test_request_refused(void **state)
{
	struct http_field gz = fld("Content-Encoding", "gzip");
	struct http_field id = fld("content-encoding", " identity ");
	struct llm_call *c;

	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":")), -EBADMSG);
	assert_false(llm_info(c)->request_parsed);
	assert_int_equal(llm_info(c)->request_text_bytes, 9); /* the estimate's stand-in */
	llm_call_free(c);

	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("[{\"model\":\"x\"}]")), -EBADMSG);
	llm_call_free(c);

	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("{\"model\":\"\xff\"}")), -EBADMSG);
	llm_call_free(c);

	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", &gz, 1);
	assert_int_equal(llm_request_body(c, LIT("{}")), -ENOTSUP);
	llm_call_free(c);

	c = llm_call_new("api.openai.com", "POST", "/v1/chat/completions", &id, 1);
	assert_int_equal(llm_request_body(c, LIT("{}")), 0);
	llm_call_free(c);

	c = llm_call_new("api.openai.com", "POST", "/v1/audio/transcriptions", NULL, 0);
	assert_int_equal(llm_request_body(c, LIT("--b\r\nContent-Disposition: form-data\r\n")),
			 -EBADMSG);
	assert_string_equal(llm_info(c)->endpoint_name, "other");
	llm_call_free(c);
}

/* The estimate applies to billed endpoints with a 2xx or no answer, never to errors. */
static void test_estimate_rules(void **state)
{
	static const char req[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
				  "\"content\":\"0123456789\"}]}";
	struct exch e = {.host = "api.openai.com", .path = "/v1/chat/completions", .req = req};
	struct llm_call *c;

	/* cut before any response head: the request was sent, its input counts */
	e.status = 0;
	e.cut = true;
	c = run(&e);
	assert_usage(llm_info(c), 3, 0, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	assert_false(llm_info(c)->complete);
	llm_call_free(c);

	/* an error status bills nothing */
	e.status = 500;
	e.ctype = "text/html";
	e.resp = "<html>bad gateway</html>";
	e.cut = false;
	c = run(&e);
	assert_false(llm_info(c)->has_usage);
	assert_false(llm_info(c)->usage_estimated);
	assert_null(llm_info(c)->error_type);
	llm_call_free(c);

	/* a 200 with an unreadable body: all of it stands in for generated text */
	e.status = 200;
	e.ctype = "application/json";
	e.resp = "{\"choices\":[{\"message\":{\"content\":\"trunc";
	c = run(&e);
	assert_usage(llm_info(c), 3, 10, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* unbilled endpoints are not estimated */
	e.path = "/v1/models";
	e.method = "GET";
	e.req = NULL;
	e.resp = "{\"object\":\"list\",\"data\":[]}";
	c = run(&e);
	assert_false(llm_info(c)->has_usage);
	llm_call_free(c);
	e.host = "api.anthropic.com";
	e.method = "POST";
	e.path = "/v1/messages/count_tokens";
	e.resp = "{\"input_tokens\":14}";
	c = run(&e);
	assert_false(llm_info(c)->has_usage);
	llm_call_free(c);
}

/* Calls after the end change nothing; data before a head is ignored; limits only shrink. */
static void test_lifecycle(void **state)
{
	struct llm_call *c =
	    llm_call_new("api.openai.com", "POST", "/v1/chat/completions", NULL, 0);
	struct http_field ct = fld("Content-Type", "application/json");

	llm_response_data(c, LIT("{\"x\":1}"));
	assert_int_equal(llm_info(c)->response_bytes, 0);
	llm_response_head(c, 100, NULL, 0); /* interim: not the answer */
	assert_int_equal(llm_info(c)->status, 0);
	llm_call_set_limits(c, 1u << 30, 1u << 30); /* larger than the defaults: no effect */
	llm_response_head(c, 200, &ct, 1);
	llm_response_head(c, 500, &ct, 1); /* a second head is ignored */
	assert_int_equal(llm_info(c)->status, 200);
	llm_response_data(c, LIT("{\"model\":\"gpt-4o-2024-08-06\",\"usage\":{\"prompt_tokens\":1,"
				 "\"completion_tokens\":2}}"));
	llm_response_end(c, true);
	assert_usage(llm_info(c), 1, 2, 0, 0, 0);
	llm_response_data(c, LIT("more"));
	llm_response_end(c, false);
	assert_true(llm_info(c)->complete);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);
	llm_call_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_provider_from_host),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_request_chat),
	    cmocka_unit_test(test_request_other_endpoints),
	    cmocka_unit_test(test_request_model_sources),
	    cmocka_unit_test(test_request_refused),
	    cmocka_unit_test(test_estimate_rules),
	    cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
