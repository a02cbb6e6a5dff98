/* test_llm_gemini: Gemini API wire samples through an llm_call: streamGenerateContent?alt=sse
 * with CRLF framing at every split point, running usageMetadata (thoughts, cached content and
 * tool-use prompt counts normalized), a stream cut before its last chunk, generateContent bodies,
 * streamGenerateContent without alt=sse (a JSON array, whole and cut), error bodies (plain, in an
 * array, mid-stream), and embedContent (no usage: estimated). */
#include "test_llm_util.h"

static const char gm_req[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Write a "
			     "haiku about the sea.\"}]}],\"generationConfig\":{\"maxOutputTokens\":"
			     "800,\"thinkingConfig\":{\"thinkingBudget\":512}}}";

#define GM_PATH "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

/* Shaped like generativelanguage.googleapis.com's alt=sse output (CRLF framing). */
static const char gm_sse[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Waves fold into foam,\"}],"
    "\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,"
    "\"totalTokenCount\": 400,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": "
    "9}],\"thoughtsTokenCount\": 385},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": "
    "\"mOhgaL2kDbOHz7IPqK3yqQo\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\\nsalt wind writes on "
    "shore\\u2014\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {"
    "\"promptTokenCount\": 9,\"totalTokenCount\": 405,\"thoughtsTokenCount\": 385},"
    "\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"mOhgaL2kDbOHz7IPqK3yqQo\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\\nthe tide erases.\"}],"
    "\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {"
    "\"promptTokenCount\": 9,\"candidatesTokenCount\": 17,\"totalTokenCount\": 415,"
    "\"cachedContentTokenCount\": 4,\"promptTokensDetails\": [{\"modality\": \"TEXT\","
    "\"tokenCount\": 9}],\"thoughtsTokenCount\": 385},\"modelVersion\": \"gemini-2.5-flash\","
    "\"responseId\": \"mOhgaL2kDbOHz7IPqK3yqQo\"}\r\n\r\n";

/* "Waves fold into foam," 21 + "\nsalt wind writes on shore—" 29 + "\nthe tide erases." 17 */
#define GM_TEXT_BYTES (21 + 29 + 17)

static struct exch gm_exch(void)
{
	return (struct exch){.host = "generativelanguage.googleapis.com",
			     .path = GM_PATH,
			     .req = gm_req,
			     .status = 200,
			     .ctype = "text/event-stream",
			     .resp = gm_sse};
}

static void test_sse_stream(void **state)
{
	struct exch e = gm_exch();
	struct llm_call *c = run(&e);
	const struct llm_info *in = llm_info(c);

	assert_int_equal(in->provider, LLM_PROVIDER_GEMINI);
	assert_string_equal(in->endpoint_name, "streamGenerateContent");
	assert_string_equal(in->model_requested, "gemini-2.5-flash");
	assert_string_equal(in->model_served, "gemini-2.5-flash");
	assert_true(in->stream);
	assert_int_equal(in->max_tokens, 800);
	assert_int_equal(in->n_messages, 1);
	/* output = candidates 17 + thoughts 385; reasoning = thoughts */
	assert_usage(in, 9, 402, 4, 0, 385);
	assert_false(in->usage_estimated);
	assert_int_equal(in->sse_events, 3);
	assert_int_equal(in->generated_text_bytes, GM_TEXT_BYTES);
	llm_call_free(c);
	check_every_split(&e);
}

static void test_sse_stream_cut(void **state)
{
	struct exch e = gm_exch();
	struct llm_call *c;

	/* cut after the second chunk: the running usage (9 in, 385 thoughts) is partial */
	e.resp_len = (size_t)(strstr(gm_sse, "data: {\"candidates\": [{\"content\": {\"parts\": "
					     "[{\"text\": \"\\nthe") -
			      gm_sse);
	e.cut = true;
	c = run(&e);
	assert_usage(llm_info(c), 9, 385, 0, 0, 385);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* cut inside the first chunk: estimated from the request ("Write a haiku about the
	 * sea." 28 bytes -> 7) */
	e.resp_len = 40;
	c = run(&e);
	assert_usage(llm_info(c), 7, 0, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* a stream that ended cleanly without a finishReason: its last usage stands */
	e.resp_len = (size_t)(strstr(gm_sse, "data: {\"candidates\": [{\"content\": {\"parts\": "
					     "[{\"text\": \"\\nthe") -
			      gm_sse);
	e.cut = false;
	c = run(&e);
	assert_usage(llm_info(c), 9, 385, 0, 0, 385);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_generate_content(void **state)
{
	struct exch e = {
	    .host = "generativelanguage.googleapis.com",
	    .path = "/v1beta/models/gemini-2.0-flash:generateContent",
	    .req = "{\"contents\":[{\"parts\":[{\"text\":\"Hi\"}]}],\"tools\":[{\"googleSearch\":{}"
		   "}]}",
	    .status = 200,
	    .ctype = "application/json; charset=UTF-8",
	    .resp =
		"{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n    "
		"      {\n            \"text\": \"Hello! How can I help you today?\\n\"\n          "
		"}\n        ],\n        \"role\": \"model\"\n      },\n      \"finishReason\": "
		"\"STOP\",\n      \"avgLogprobs\": -0.0093\n    }\n  ],\n  \"usageMetadata\": {\n"
		"    \"promptTokenCount\": 2,\n    \"candidatesTokenCount\": 10,\n    "
		"\"totalTokenCount\": 19,\n    \"toolUsePromptTokenCount\": 7,\n    "
		"\"promptTokensDetails\": [\n      {\n        \"modality\": \"TEXT\",\n        "
		"\"tokenCount\": 2\n      }\n    ]\n  },\n  \"modelVersion\": \"gemini-2.0-flash\","
		"\n  \"responseId\": \"abc\"\n}\n"};
	struct llm_call *c = run(&e);

	assert_false(llm_info(c)->stream);
	assert_false(llm_info(c)->sse);
	assert_string_equal(llm_info(c)->model_served, "gemini-2.0-flash");
	assert_usage(llm_info(c), 9, 10, 0, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	assert_int_equal(llm_info(c)->generated_text_bytes, 33);
	llm_call_free(c);
	check_every_split(&e);
}

/* streamGenerateContent without alt=sse answers a JSON array, streamed. */
static void test_json_array_stream(void **state)
{
	static const char arr[] =
	    "[{\n  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \"One\"}],\"role\": "
	    "\"model\"},\"index\": 0}],\n  \"usageMetadata\": {\"promptTokenCount\": 5,"
	    "\"totalTokenCount\": 5},\n  \"modelVersion\": \"gemini-2.0-flash\"\n}\n,\r\n"
	    "{\n  \"candidates\": [{\"content\": {\"parts\": [{\"text\": \" two "
	    "three\"}],\"role\": "
	    "\"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\n  \"usageMetadata\": {"
	    "\"promptTokenCount\": 5,\"candidatesTokenCount\": 3,\"totalTokenCount\": 8},\n  "
	    "\"modelVersion\": \"gemini-2.0-flash\"\n}\n]";
	struct exch e = {.host = "generativelanguage.googleapis.com",
			 .path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
			 .req = "{\"contents\":[{\"parts\":[{\"text\":\"Count\"}]}]}",
			 .status = 200,
			 .ctype = "application/json; charset=UTF-8",
			 .resp = arr};
	struct llm_call *c = run(&e);

	assert_false(llm_info(c)->sse);
	assert_usage(llm_info(c), 5, 3, 0, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	assert_int_equal(llm_info(c)->generated_text_bytes, 13);
	llm_call_free(c);
	check_every_split(&e);

	/* cut inside the second element: the first still counts */
	e.resp_len = (size_t)(strstr(arr, "two three") - arr);
	e.cut = true;
	c = run(&e);
	assert_usage(llm_info(c), 5, 1, 0, 0, 0); /* "One" -> 1 token */
	assert_true(llm_info(c)->usage_estimated);
	assert_string_equal(llm_info(c)->model_served, "gemini-2.0-flash");
	llm_call_free(c);
}

static void test_errors(void **state)
{
	struct exch e = gm_exch();
	struct llm_call *c;

	e.status = 400;
	e.ctype = "application/json; charset=UTF-8";
	e.resp =
	    "{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"API key not valid. Please "
	    "pass a valid API key.\",\n    \"status\": \"INVALID_ARGUMENT\",\n    \"details\": [\n"
	    "      {\n        \"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\",\n        "
	    "\"reason\": \"API_KEY_INVALID\",\n        \"domain\": \"googleapis.com\"\n      }\n"
	    "    ]\n  }\n}\n";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "INVALID_ARGUMENT");
	assert_string_equal(llm_info(c)->error_code, "400");
	assert_string_equal(llm_info(c)->error_message,
			    "API key not valid. Please pass a valid API key.");
	assert_false(llm_info(c)->has_usage);
	llm_call_free(c);

	/* errors of a non-SSE stream come inside an array */
	e.status = 429;
	e.resp =
	    "[{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"Resource has been "
	    "exhausted (e.g. check quota).\",\n    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n]";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "RESOURCE_EXHAUSTED");
	assert_string_equal(llm_info(c)->error_code, "429");
	llm_call_free(c);

	/* mid-stream */
	e.status = 200;
	e.ctype = "text/event-stream";
	e.resp =
	    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Partial\"}],\"role\":"
	    " \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9},"
	    "\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n"
	    "data: {\"error\": {\"code\": 500, \"message\": \"An internal error has occurred. "
	    "Please retry or report in https://developers.generativeai.google/guide/"
	    "troubleshooting\", \"status\": \"INTERNAL\"}}\r\n\r\n";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "INTERNAL");
	assert_usage(llm_info(c), 9, 2, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_embed_content(void **state)
{
	struct exch e = {
	    .host = "generativelanguage.googleapis.com",
	    .path = "/v1beta/models/text-embedding-004:embedContent",
	    .req = "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{"
		   "\"text\":\"What is the meaning of life?\"}]}}",
	    .status = 200,
	    .ctype = "application/json; charset=UTF-8",
	    .resp = "{\"embedding\":{\"values\":[0.013168523,-0.008711934,-0.046782676]}}"};
	struct llm_call *c = run(&e);

	assert_string_equal(llm_info(c)->model_requested, "text-embedding-004");
	assert_usage(llm_info(c), 7, 0, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sse_stream),	     cmocka_unit_test(test_sse_stream_cut),
	    cmocka_unit_test(test_generate_content), cmocka_unit_test(test_json_array_stream),
	    cmocka_unit_test(test_errors),	     cmocka_unit_test(test_embed_content),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
