/* test_llm_openai: OpenAI-format wire samples through an llm_call: chat streams with and without
 * include_usage (every split point, LF and CRLF), cut streams (estimated), non-streaming chat with
 * reasoning tokens, the Responses API streamed and whole, embeddings, Azure deployments, Groq's
 * x_groq usage, DeepSeek cache hits and reasoning_content, OpenRouter, error bodies and a
 * mid-stream error, gzip bodies, an undecodable encoding, and the size caps. */
#include <zlib.h>

#include "test_llm_util.h"

/* Shaped like api.openai.com's answer to the request below (ids shortened). */
static const char chat_req[] =
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"user\",\"content\":\"Say hello in three words.\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true}}";

#define CHUNK_HEAD                                                                                 \
	"data: "                                                                                   \
	"{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\"," \
	"\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\","     \
	"\"system_fingerprint\":\"fp_fc9f1d7035\","

static const char chat_sse[] = CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,"
    "\"finish_reason\":null}],\"usage\":null}\n\n" CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there, \\u00e9l\\u00e8ve!\"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":null}\n\n" CHUNK_HEAD
    "\"choices\":[],\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":6,"
    "\"total_tokens\":30,\"prompt_tokens_details\":{\"cached_tokens\":16,\"audio_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

/* "Hello" + " there, élève!" (é and è are two bytes each) */
#define CHAT_TEXT_BYTES (5 + 16)

static struct exch chat_exch(void)
{
	return (struct exch){.host = "api.openai.com",
			     .path = "/v1/chat/completions",
			     .req = chat_req,
			     .status = 200,
			     .ctype = "text/event-stream; charset=utf-8",
			     .resp = chat_sse};
}

static void test_chat_stream_usage(void **state)
{
	struct exch e = chat_exch();
	struct llm_call *c = run(&e);
	const struct llm_info *in = llm_info(c);

	assert_int_equal(in->provider, LLM_PROVIDER_OPENAI);
	assert_string_equal(in->provider_name, "openai");
	assert_string_equal(in->endpoint_name, "chat.completions");
	assert_string_equal(in->model_requested, "gpt-4o");
	assert_string_equal(in->model_served, "gpt-4o-2024-08-06");
	assert_true(in->stream);
	assert_true(in->include_usage);
	assert_true(in->sse);
	assert_usage(in, 24, 6, 16, 0, 0);
	assert_false(in->usage_estimated);
	assert_int_equal(in->sse_events, 6);
	assert_int_equal(in->oversized_events, 0);
	assert_int_equal(in->generated_text_bytes, CHAT_TEXT_BYTES);
	assert_int_equal(in->response_bytes, sizeof(chat_sse) - 1);
	assert_null(in->error_type);
	llm_call_free(c);
	check_every_split(&e);
}

/* The same stream with CRLF line ends reads the same. */
static void test_chat_stream_crlf(void **state)
{
	struct exch e = chat_exch();
	char crlf[sizeof(chat_sse) * 2];
	size_t n = 0;
	struct llm_call *a, *b;

	for (const char *p = chat_sse; *p; p++) {
		if (*p == '\n')
			crlf[n++] = '\r';
		crlf[n++] = *p;
	}
	crlf[n] = '\0';
	a = run(&e);
	e.resp = crlf;
	b = run(&e);
	assert_usage(llm_info(b), 24, 6, 16, 0, 0);
	assert_int_equal(llm_info(b)->sse_events, llm_info(a)->sse_events);
	assert_int_equal(llm_info(b)->generated_text_bytes, llm_info(a)->generated_text_bytes);
	llm_call_free(a);
	llm_call_free(b);
}

/* Without include_usage OpenAI sends no usage: estimated from the text seen. */
static void test_chat_stream_without_usage(void **state)
{
	struct exch e = chat_exch();
	const char *end = strstr(chat_sse, CHUNK_HEAD "\"choices\":[],");
	char sse[sizeof(chat_sse)];
	struct llm_call *c;

	memcpy(sse, chat_sse, (size_t)(end - chat_sse));
	strcpy(sse + (end - chat_sse), "data: [DONE]\n\n");
	e.resp = sse;
	c = run(&e);
	/* input: "You are terse." + "Say hello in three words." = 14 + 25 bytes -> 10 tokens */
	assert_usage(llm_info(c), 10, (CHAT_TEXT_BYTES + 3) / 4, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	assert_true(llm_info(c)->complete);
	llm_call_free(c);
}

/* Cut after the second chunk, and cut in the middle of the usage chunk. */
static void test_chat_stream_cut(void **state)
{
	struct exch e = chat_exch();
	const char *third = strstr(chat_sse + 1, CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":"
							    "{\"content\":\" there");
	const char *usage = strstr(chat_sse, "\"usage\":{");
	struct llm_call *c;

	e.resp_len = (size_t)(third - chat_sse);
	e.cut = true;
	c = run(&e);
	assert_usage(llm_info(c), 10, 2, 0, 0, 0); /* "Hello": 5 bytes -> 2 */
	assert_true(llm_info(c)->usage_estimated);
	assert_false(llm_info(c)->complete);
	assert_string_equal(llm_info(c)->model_served, "gpt-4o-2024-08-06");
	llm_call_free(c);

	e.resp_len = (size_t)(usage - chat_sse) + 20;
	c = run(&e);
	assert_usage(llm_info(c), 10, (CHAT_TEXT_BYTES + 3) / 4, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* cut right after the usage chunk: the usage is the provider's, not an estimate */
	e.resp_len = (size_t)(strstr(chat_sse, "data: [DONE]") - chat_sse);
	c = run(&e);
	assert_usage(llm_info(c), 24, 6, 16, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_chat_whole_reasoning(void **state)
{
	static const char resp[] =
	    "{\n  \"id\": \"chatcmpl-AzA\",\n  \"object\": \"chat.completion\",\n  \"created\": "
	    "1739000000,\n  \"model\": \"o3-mini-2025-01-31\",\n  \"choices\": [\n    {\n      "
	    "\"index\": 0,\n      \"message\": {\n        \"role\": \"assistant\",\n        "
	    "\"content\": \"42\",\n        \"refusal\": null,\n        \"annotations\": []\n      "
	    "},\n"
	    "      \"finish_reason\": \"stop\"\n    }\n  ],\n  \"usage\": {\n    "
	    "\"prompt_tokens\": "
	    "13,\n    \"completion_tokens\": 210,\n    \"total_tokens\": 223,\n    "
	    "\"prompt_tokens_details\": {\n      \"cached_tokens\": 0,\n      \"audio_tokens\": 0\n"
	    "    },\n    \"completion_tokens_details\": {\n      \"reasoning_tokens\": 192,\n      "
	    "\"audio_tokens\": 0,\n      \"accepted_prediction_tokens\": 0,\n      "
	    "\"rejected_prediction_tokens\": 0\n    }\n  },\n  \"service_tier\": \"default\"\n}\n";
	struct exch e = {
	    .host = "api.openai.com",
	    .path = "/v1/chat/completions",
	    .req = "{\"model\":\"o3-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
		   "\"?\"}],\"reasoning_effort\":\"high\",\"max_completion_tokens\":4000}",
	    .status = 200,
	    .ctype = "application/json",
	    .resp = resp};
	struct llm_call *c = run(&e);

	assert_string_equal(llm_info(c)->model_served, "o3-mini-2025-01-31");
	assert_int_equal(llm_info(c)->max_tokens, 4000);
	assert_false(llm_info(c)->sse);
	assert_usage(llm_info(c), 13, 210, 0, 0, 192);
	assert_false(llm_info(c)->usage_estimated);
	assert_int_equal(llm_info(c)->generated_text_bytes, 2);
	llm_call_free(c);
	check_every_split(&e);
}

static const char responses_sse[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":"
    "\"resp_67c9fdcecf488190\",\"object\":\"response\",\"created_at\":1741290958,\"status\":"
    "\"in_progress\",\"error\":null,\"instructions\":\"You are a helpful assistant.\","
    "\"max_output_tokens\":null,\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],\"usage\":null,"
    "\"metadata\":{}}}\n\n"
    "event: response.in_progress\n"
    "data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":"
    "\"resp_67c9fdcecf488190\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":"
    "\"gpt-4.1-2025-04-14\",\"output\":[],\"usage\":null}}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,"
    "\"item\":{\"id\":\"msg_67c9fdcf37fc\",\"type\":\"message\",\"status\":\"in_progress\","
    "\"role\":\"assistant\",\"content\":[]}}\n\n"
    "event: response.content_part.added\n"
    "data: {\"type\":\"response.content_part.added\",\"sequence_number\":3,\"item_id\":"
    "\"msg_67c9fdcf37fc\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
    "\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":"
    "\"msg_67c9fdcf37fc\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":"
    "\"msg_67c9fdcf37fc\",\"output_index\":0,\"content_index\":0,\"delta\":\" there!\"}\n\n"
    "event: response.output_text.done\n"
    "data: {\"type\":\"response.output_text.done\",\"sequence_number\":6,\"item_id\":"
    "\"msg_67c9fdcf37fc\",\"output_index\":0,\"content_index\":0,\"text\":\"Hi there!\"}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":7,\"response\":{\"id\":"
    "\"resp_67c9fdcecf488190\",\"object\":\"response\",\"status\":\"completed\",\"error\":null,"
    "\"model\":\"gpt-4.1-2025-04-14\",\"output\":[{\"id\":\"msg_67c9fdcf37fc\",\"type\":"
    "\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
    "\"output_text\",\"text\":\"Hi there!\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":"
    "37,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":11,"
    "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":48}}}\n\n";

static void test_responses_stream(void **state)
{
	struct exch e = {.host = "api.openai.com",
			 .path = "/v1/responses",
			 .req = "{\"model\":\"gpt-4.1\",\"instructions\":\"You are a helpful "
				"assistant.\",\"input\":\"Hello!\",\"stream\":true}",
			 .status = 200,
			 .ctype = "text/event-stream; charset=utf-8",
			 .resp = responses_sse};
	struct llm_call *c = run(&e);
	const struct llm_info *in = llm_info(c);

	assert_string_equal(in->endpoint_name, "responses");
	assert_string_equal(in->model_served, "gpt-4.1-2025-04-14");
	assert_usage(in, 37, 11, 0, 0, 0);
	assert_false(in->usage_estimated);
	assert_int_equal(in->generated_text_bytes, 9);
	assert_int_equal(in->sse_events, 8);
	assert_null(in->error_message);
	llm_call_free(c);
	check_every_split(&e);

	/* cut before response.completed */
	e.resp_len = (size_t)(strstr(responses_sse, "event: response.completed") - responses_sse);
	e.cut = true;
	c = run(&e);
	/* "You are a helpful assistant." + "Hello!" = 28 + 6 -> 9; "Hi there!" 9 -> 3 */
	assert_usage(llm_info(c), 9, 3, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_responses_whole_and_failed(void **state)
{
	struct exch e = {
	    .host = "api.openai.com",
	    .path = "/v1/responses",
	    .req = "{\"model\":\"o4-mini\",\"input\":\"Why?\",\"reasoning\":{\"effort\":"
		   "\"medium\"}}",
	    .status = 200,
	    .ctype = "application/json",
	    .resp = "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1746000000,"
		    "\"status\":\"completed\",\"error\":null,\"incomplete_details\":null,"
		    "\"model\":\"o4-mini-2025-04-16\",\"output\":[{\"id\":\"rs_1\",\"type\":"
		    "\"reasoning\",\"summary\":[]},{\"id\":\"msg_1\",\"type\":\"message\","
		    "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"
		    "\"Because.\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":75,"
		    "\"input_tokens_details\":{\"cached_tokens\":64},\"output_tokens\":1186,"
		    "\"output_tokens_details\":{\"reasoning_tokens\":1024},\"total_tokens\":"
		    "1261}}"};
	struct llm_call *c = run(&e);

	assert_string_equal(llm_info(c)->model_served, "o4-mini-2025-04-16");
	assert_usage(llm_info(c), 75, 1186, 64, 0, 1024);
	assert_null(llm_info(c)->error_type); /* "error": null is no error */
	assert_int_equal(llm_info(c)->generated_text_bytes, 8);
	llm_call_free(c);

	/* a streamed failure: response.failed with its error, then the usage it carries */
	e.ctype = "text/event-stream";
	e.resp =
	    "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":3,"
	    "\"response\":{\"id\":\"resp_2\",\"status\":\"failed\",\"model\":\"o4-mini-2025-04-"
	    "16\","
	    "\"error\":{\"code\":\"server_error\",\"message\":\"The model failed.\"},\"usage\":{"
	    "\"input_tokens\":75,\"output_tokens\":3,\"total_tokens\":78}}}\n\n";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_code, "server_error");
	assert_string_equal(llm_info(c)->error_message, "The model failed.");
	assert_usage(llm_info(c), 75, 3, 0, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* the stream-level error event */
	e.resp = "event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\",\"message\":"
		 "\"Something went wrong\",\"param\":null,\"sequence_number\":1}\n\n";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "error");
	assert_string_equal(llm_info(c)->error_code, "ERR_SOMETHING");
	assert_string_equal(llm_info(c)->error_message, "Something went wrong");
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_embeddings(void **state)
{
	struct exch e = {
	    .host = "api.mistral.ai",
	    .path = "/v1/embeddings",
	    .req = "{\"model\":\"mistral-embed\",\"input\":[\"a\",\"bb\"]}",
	    .status = 200,
	    .ctype = "application/json",
	    .resp = "{\"id\":\"emb-1\",\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
		    "\"embedding\":[-0.016,0.027],\"index\":0},{\"object\":\"embedding\","
		    "\"embedding\":[0.1,-2e-3],\"index\":1}],\"model\":\"mistral-embed\","
		    "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7,\"completion_tokens\":0}}"};
	struct llm_call *c = run(&e);

	assert_int_equal(llm_info(c)->provider, LLM_PROVIDER_MISTRAL);
	assert_int_equal(llm_info(c)->n_messages, 2);
	assert_usage(llm_info(c), 7, 0, 0, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_azure_deployment(void **state)
{
	struct exch e = {
	    .host = "contoso.openai.azure.com",
	    .path = "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
	    .req = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":20}",
	    .status = 200,
	    .ctype = "application/json",
	    .resp =
		"{\"choices\":[{\"content_filter_results\":{\"hate\":{\"filtered\":false,"
		"\"severity\":\"safe\"}},\"finish_reason\":\"stop\",\"index\":0,\"logprobs\":null,"
		"\"message\":{\"content\":\"Hello!\",\"refusal\":null,\"role\":\"assistant\"}}],"
		"\"created\":1740000000,\"id\":\"chatcmpl-Az\",\"model\":\"gpt-4o-2024-11-20\","
		"\"object\":\"chat.completion\",\"prompt_filter_results\":[{\"prompt_index\":0,"
		"\"content_filter_results\":{}}],\"system_fingerprint\":\"fp_b705f0c291\","
		"\"usage\":{"
		"\"completion_tokens\":2,\"completion_tokens_details\":{\"reasoning_tokens\":0},"
		"\"prompt_tokens\":8,\"prompt_tokens_details\":{\"cached_tokens\":0},"
		"\"total_tokens\":10}}"};
	struct llm_call *c = run(&e);

	assert_int_equal(llm_info(c)->provider, LLM_PROVIDER_AZURE_OPENAI);
	assert_string_equal(llm_info(c)->model_requested, "gpt-4o-prod");
	assert_true(llm_info(c)->is_deployment);
	assert_string_equal(llm_info(c)->model_served, "gpt-4o-2024-11-20");
	assert_int_equal(llm_info(c)->max_tokens, 20);
	assert_usage(llm_info(c), 8, 2, 0, 0, 0);
	llm_call_free(c);
}

static void test_groq_x_groq_usage(void **state)
{
	struct exch e = {
	    .host = "api.groq.com",
	    .path = "/openai/v1/chat/completions",
	    .req = "{\"model\":\"llama-3.3-70b-versatile\",\"messages\":[{\"role\":\"user\","
		   "\"content\":\"Hi\"}],\"stream\":true}",
	    .status = 200,
	    .ctype = "text/event-stream",
	    .resp =
		"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
		"\"model\":\"llama-3.3-70b-versatile\",\"system_fingerprint\":\"fp_1\",\"choices\":"
		"[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hey\"},\"logprobs\":"
		"null,\"finish_reason\":null}],\"x_groq\":{\"id\":\"req_01\"}}\n\n"
		"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
		"\"model\":\"llama-3.3-70b-versatile\",\"system_fingerprint\":\"fp_1\",\"choices\":"
		"[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
		"\"x_groq\":{\"id\":\"req_01\",\"usage\":{\"queue_time\":0.02,\"prompt_tokens\":40,"
		"\"prompt_time\":0.002,\"completion_tokens\":5,\"completion_time\":0.02,"
		"\"total_tokens\":45,\"total_time\":0.022}}}\n\n"
		"data: [DONE]\n\n"};
	struct llm_call *c = run(&e);

	assert_int_equal(llm_info(c)->provider, LLM_PROVIDER_GROQ);
	assert_usage(llm_info(c), 40, 5, 0, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);
	check_every_split(&e);
}

static void test_deepseek_and_openrouter(void **state)
{
	struct exch e = {
	    .host = "api.deepseek.com",
	    .path = "/chat/completions",
	    .req = "{\"model\":\"deepseek-reasoner\",\"messages\":[{\"role\":\"user\",\"content\":"
		   "\"9.11 or 9.8?\"}]}",
	    .status = 200,
	    .ctype = "application/json",
	    .resp =
		"{\"id\":\"a1\",\"object\":\"chat.completion\",\"created\":1,\"model\":"
		"\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
		"\"assistant\",\"content\":\"9.8\",\"reasoning_content\":\"Compare decimals.\"},"
		"\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":20,"
		"\"completion_tokens\":100,\"total_tokens\":120,\"prompt_tokens_details\":{"
		"\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":80},"
		"\"prompt_cache_hit_tokens\":16,\"prompt_cache_miss_tokens\":4},"
		"\"system_fingerprint\":\"fp_1\"}"};
	struct llm_call *c = run(&e);

	assert_usage(llm_info(c), 20, 100, 16, 0, 80);
	assert_int_equal(llm_info(c)->generated_text_bytes, 3 + 17);
	llm_call_free(c);

	e.host = "openrouter.ai";
	e.path = "/api/v1/chat/completions";
	e.req = "{\"model\":\"anthropic/claude-3.5-sonnet\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"Hi\"}],\"stream\":true}";
	e.ctype = "text/event-stream";
	e.resp =
	    ": OPENROUTER PROCESSING\n\n"
	    "data: {\"id\":\"gen-1\",\"provider\":\"Anthropic\",\"model\":"
	    "\"anthropic/claude-3.5-sonnet\",\"object\":\"chat.completion.chunk\",\"created\":1,"
	    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\","
	    "\"reasoning\":\"hm\"},\"finish_reason\":null}]}\n\n"
	    "data: {\"id\":\"gen-1\",\"provider\":\"Anthropic\",\"model\":"
	    "\"anthropic/claude-3.5-sonnet\",\"object\":\"chat.completion.chunk\",\"created\":1,"
	    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
	    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,"
	    "\"total_tokens\":13,\"cost\":0.000087,\"prompt_tokens_details\":{\"cached_tokens\":"
	    "0,\"cache_write_tokens\":3},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}"
	    "\n\ndata: [DONE]\n\n";
	c = run(&e);
	assert_int_equal(llm_info(c)->provider, LLM_PROVIDER_OPENROUTER);
	assert_string_equal(llm_info(c)->model_served, "anthropic/claude-3.5-sonnet");
	assert_usage(llm_info(c), 9, 4, 0, 3, 1);
	assert_int_equal(llm_info(c)->generated_text_bytes, 4);
	llm_call_free(c);
}

/* Not an LLM call: a successful answer is not read (nothing in it is billed), an error is. */
static void test_other_endpoint_bodies(void **state)
{
	struct exch ok = {.host = "api.openai.com", .method = "GET", .path = "/v1/models",
			  .status = 200, .ctype = "application/json",
			  .resp = "{\"object\":\"list\",\"model\":\"gpt-4o\",\"error\":{\"message\":\"x\"}}"};
	struct exch err = {.host = "api.openai.com", .method = "GET", .path = "/v1/models",
			   .status = 404, .ctype = "application/json",
			   .resp = "{\"error\":{\"message\":\"Not found\",\"type\":"
				   "\"invalid_request_error\",\"code\":\"unknown_url\"}}"};
	struct llm_call *c = run(&ok);

	assert_int_equal(llm_info(c)->endpoint, LLM_EP_OTHER);
	assert_null(llm_info(c)->model_served);
	assert_null(llm_info(c)->error_message);
	assert_false(llm_info(c)->has_usage);
	assert_int_equal(llm_info(c)->response_bytes, strlen(ok.resp));
	llm_call_free(c);
	c = run(&err);
	assert_string_equal(llm_info(c)->error_code, "unknown_url");
	assert_string_equal(llm_info(c)->error_message, "Not found");
	llm_call_free(c);
}

static void test_error_bodies(void **state)
{
	struct exch e = {
	    .host = "api.openai.com",
	    .path = "/v1/chat/completions",
	    .req = chat_req,
	    .status = 401,
	    .ctype = "application/json; charset=utf-8",
	    .resp = "{\n    \"error\": {\n        \"message\": \"Incorrect API key provided: "
		    "sk-proj-********************abcd. You can find your API key at "
		    "https://platform.openai.com/account/api-keys.\",\n        \"type\": "
		    "\"invalid_request_error\",\n        \"param\": null,\n        \"code\": "
		    "\"invalid_api_key\"\n    }\n}\n"};
	struct llm_call *c = run(&e);

	/* a streaming request answered with a plain JSON error: not read as SSE */
	assert_false(llm_info(c)->sse);
	assert_string_equal(llm_info(c)->error_type, "invalid_request_error");
	assert_string_equal(llm_info(c)->error_code, "invalid_api_key");
	assert_non_null(strstr(llm_info(c)->error_message, "Incorrect API key provided"));
	assert_false(llm_info(c)->has_usage);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);

	e.status = 429;
	e.resp = "{\"error\":{\"message\":\"Rate limit reached for gpt-4o\",\"type\":\"tokens\","
		 "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "tokens");
	assert_string_equal(llm_info(c)->error_code, "rate_limit_exceeded");
	llm_call_free(c);

	/* {"error": "text"} from some compatible servers */
	e.host = "api.together.xyz";
	e.status = 400;
	e.resp = "{\"error\":\"model not found\"}";
	c = run(&e);
	assert_null(llm_info(c)->error_type);
	assert_string_equal(llm_info(c)->error_message, "model not found");
	llm_call_free(c);
}

static void test_mid_stream_error(void **state)
{
	struct exch e = chat_exch();

	e.resp =
	    CHUNK_HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello world\"},"
		       "\"finish_reason\":null}],\"usage\":null}\n\n"
		       "data: {\"error\":{\"message\":\"The server had an error while processing "
		       "your request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,"
		       "\"code\":null}}\n\n";
	struct llm_call *c = run(&e);

	assert_string_equal(llm_info(c)->error_type, "server_error");
	assert_null(llm_info(c)->error_code);
	assert_true(llm_info(c)->usage_estimated);
	assert_usage(llm_info(c), 10, 3, 0, 0, 0);
	llm_call_free(c);
}

/* gzip of <in> into <out>; returns its size. */
static size_t gzip(const char *in, size_t len, unsigned char *out, size_t cap, int wbits)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	deflateEnd(&zs);
	return zs.total_out;
}

static void test_compressed(void **state)
{
	static unsigned char gz[8192];
	struct exch e = chat_exch();
	struct llm_call *c;

	e.resp_len = gzip(chat_sse, sizeof(chat_sse) - 1, gz, sizeof(gz), 16 + MAX_WBITS);
	e.resp = (const char *)gz;
	e.cenc = "gzip";
	c = run(&e);
	assert_usage(llm_info(c), 24, 6, 16, 0, 0);
	assert_int_equal(llm_info(c)->sse_events, 6);
	assert_int_equal(llm_info(c)->response_bytes, e.resp_len);
	assert_false(llm_info(c)->body_undecodable);
	llm_call_free(c);
	check_every_split(&e);

	e.resp_len = gzip(chat_sse, sizeof(chat_sse) - 1, gz, sizeof(gz), MAX_WBITS);
	e.cenc = "Deflate";
	c = run(&e);
	assert_usage(llm_info(c), 24, 6, 16, 0, 0);
	llm_call_free(c);

	/* corrupt gzip: unread, estimated from the bytes that came */
	gz[12] ^= 0xff;
	gz[13] ^= 0xff;
	e.cenc = "gzip";
	c = run(&e);
	assert_true(llm_info(c)->body_undecodable);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* an encoding we do not decode */
	e.cenc = "br";
	e.resp = "\x1b\x2a\x00\xf8";
	e.resp_len = 4;
	c = run(&e);
	assert_true(llm_info(c)->body_undecodable);
	assert_int_equal(llm_info(c)->sse_events, 0);
	assert_usage(llm_info(c), 10, 1, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_caps(void **state)
{
	struct exch e = chat_exch();
	struct llm_call *c;

	/* every chunk is over 250 bytes but "[DONE]": all skipped and counted as text */
	e.sse_cap = 250;
	c = run(&e);
	assert_int_equal(llm_info(c)->sse_events, 6);
	assert_int_equal(llm_info(c)->oversized_events, 5);
	assert_true(llm_info(c)->usage_estimated);
	assert_true(llm_info(c)->usage.output > 300);
	llm_call_free(c);
	check_every_split(&e);

	/* a JSON body over its cap is not kept */
	e = (struct exch){.host = "api.openai.com",
			  .path = "/v1/chat/completions",
			  .req = "{\"model\":\"gpt-4o\",\"messages\":[]}",
			  .status = 200,
			  .ctype = "application/json",
			  .resp =
			      "{\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
			      "\"completion_tokens\":1}}",
			  .json_cap = 32};
	c = run(&e);
	assert_true(llm_info(c)->body_truncated);
	assert_null(llm_info(c)->model_served);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

/* OpenAI's Realtime API: the model from the upgrade's query, then, after the 101, the
 * provider's WebSocket frames: the served model from session.created, each response.done's usage
 * summed, an error event recorded, and a session cut inside a response marked estimated. */
static size_t ws_text(char *out, const char *json)
{
	size_t n = strlen(json), i = 0;

	out[i++] = (char)0x81;
	if (n < 126) {
		out[i++] = (char)n;
	} else {
		out[i++] = 126;
		out[i++] = (char)(n >> 8);
		out[i++] = (char)(n & 0xff);
	}
	memcpy(out + i, json, n);
	return i + n;
}

static void test_realtime(void **state)
{
	static const char *const events[] = {
	    "{\"type\":\"session.created\",\"event_id\":\"e1\",\"session\":{\"model\":"
	    "\"gpt-realtime-2025-08-28\"}}",
	    "{\"type\":\"response.created\",\"response\":{\"id\":\"r1\"}}",
	    "{\"type\":\"response.output_text.delta\",\"delta\":\"Simu\"}",
	    "{\"type\":\"response.done\",\"response\":{\"id\":\"r1\",\"usage\":{\"total_tokens\":22,"
	    "\"input_tokens\":10,\"output_tokens\":12,\"input_token_details\":{\"cached_tokens\":4,"
	    "\"text_tokens\":10,\"audio_tokens\":0}}}}",
	    "{\"type\":\"response.created\",\"response\":{\"id\":\"r2\"}}",
	    "{\"type\":\"response.done\",\"response\":{\"id\":\"r2\",\"usage\":{\"input_tokens\":30,"
	    "\"output_tokens\":5}}}",
	    "{\"type\":\"error\",\"event_id\":\"e9\",\"error\":{\"type\":\"invalid_request_error\","
	    "\"code\":\"invalid_value\",\"message\":\"Unsupported event type.\"}}",
	    "{\"type\":\"response.created\",\"response\":{\"id\":\"r3\"}}",
	};
	char *wire = malloc(4096);
	size_t n = 0, upto_done = 0;
	struct llm_call *c;
	const struct llm_info *in;

	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		n += ws_text(wire + n, events[i]);
		if (i == 6)
			upto_done = n;
	}
	struct exch e = {.host = "api.openai.com",
			 .method = "GET",
			 .path = "/v1/realtime?foo=1&model=gpt-realtime",
			 .status = 101,
			 .resp = wire,
			 .resp_len = upto_done};
	c = run(&e);
	in = llm_info(c);
	assert_int_equal(in->endpoint, LLM_EP_REALTIME);
	assert_string_equal(in->endpoint_name, "realtime");
	assert_string_equal(in->model_requested, "gpt-realtime");
	assert_string_equal(in->model_served, "gpt-realtime-2025-08-28");
	assert_int_equal(in->status, 101);
	assert_usage(in, 40, 17, 4, 0, 0);
	assert_false(in->usage_estimated);
	assert_string_equal(in->error_type, "invalid_request_error");
	llm_call_free(c);
	check_every_split(&e);

	/* cut inside the third response: the two finished ones, marked as a lower bound */
	e.resp_len = n;
	e.cut = true;
	c = run(&e);
	in = llm_info(c);
	assert_usage(in, 40, 17, 4, 0, 0);
	assert_true(in->usage_estimated);
	llm_call_free(c);
	free(wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chat_stream_usage),
	    cmocka_unit_test(test_chat_stream_crlf),
	    cmocka_unit_test(test_chat_stream_without_usage),
	    cmocka_unit_test(test_chat_stream_cut),
	    cmocka_unit_test(test_chat_whole_reasoning),
	    cmocka_unit_test(test_responses_stream),
	    cmocka_unit_test(test_responses_whole_and_failed),
	    cmocka_unit_test(test_embeddings),
	    cmocka_unit_test(test_azure_deployment),
	    cmocka_unit_test(test_groq_x_groq_usage),
	    cmocka_unit_test(test_deepseek_and_openrouter),
	    cmocka_unit_test(test_error_bodies),
	    cmocka_unit_test(test_other_endpoint_bodies),
	    cmocka_unit_test(test_mid_stream_error),
	    cmocka_unit_test(test_compressed),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_realtime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
