/* test_llm_anthropic: Anthropic Messages wire samples through an llm_call: the event stream
 * (message_start, ping, content_block_*, message_delta, message_stop) at every split point, LF and
 * CRLF, cache read/creation counts normalized into input, cumulative message_delta usage, thinking
 * and tool-use deltas, a stream cut after message_start (input reported, output estimated), an
 * overloaded error mid-stream, whole messages and error bodies, and xAI's messages path. */
#include "test_llm_util.h"

static const char msg_req[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"stream\":true,\"system\":[{\"type\":"
    "\"text\",\"text\":\"You are a pirate.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello, Claude\"}]}";

/* Shaped like the documented stream of api.anthropic.com (ids shortened). */
static const char msg_sse[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"
    "\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
    "\"input_tokens\":25,\"cache_creation_input_tokens\":1000,\"cache_read_input_tokens\":2000,"
    "\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Ahoy\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\", matey! What be ye needin'?\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

#define MSG_TEXT_BYTES (4 + 28)

static struct exch msg_exch(void)
{
	return (struct exch){.host = "api.anthropic.com",
			     .path = "/v1/messages",
			     .req = msg_req,
			     .status = 200,
			     .ctype = "text/event-stream; charset=utf-8",
			     .resp = msg_sse};
}

static void test_stream(void **state)
{
	struct exch e = msg_exch();
	struct llm_call *c = run(&e);
	const struct llm_info *in = llm_info(c);

	assert_int_equal(in->provider, LLM_PROVIDER_ANTHROPIC);
	assert_int_equal(in->dialect, LLM_DIALECT_ANTHROPIC);
	assert_string_equal(in->endpoint_name, "messages");
	assert_string_equal(in->model_requested, "claude-sonnet-4-5");
	assert_string_equal(in->model_served, "claude-sonnet-4-5-20250929");
	assert_true(in->stream);
	assert_int_equal(in->max_tokens, 1024);
	assert_int_equal(in->n_messages, 1);
	/* input = 25 uncached + 2000 read + 1000 written */
	assert_usage(in, 3025, 15, 2000, 1000, 0);
	assert_false(in->usage_estimated);
	assert_int_equal(in->sse_events, 8);
	assert_int_equal(in->generated_text_bytes, MSG_TEXT_BYTES);
	llm_call_free(c);
	check_every_split(&e);
}

static void test_stream_crlf(void **state)
{
	struct exch e = msg_exch();
	char crlf[sizeof(msg_sse) * 2];
	size_t n = 0;
	struct llm_call *c;

	for (const char *p = msg_sse; *p; p++) {
		if (*p == '\n')
			crlf[n++] = '\r';
		crlf[n++] = *p;
	}
	crlf[n] = '\0';
	e.resp = crlf;
	c = run(&e);
	assert_usage(llm_info(c), 3025, 15, 2000, 1000, 0);
	assert_int_equal(llm_info(c)->sse_events, 8);
	assert_int_equal(llm_info(c)->generated_text_bytes, MSG_TEXT_BYTES);
	llm_call_free(c);
	check_every_split(&e);
}

/* Newer streams repeat the input counts in message_delta, cumulatively: they replace. */
static void test_cumulative_message_delta(void **state)
{
	struct exch e = msg_exch();

	e.resp =
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
	    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-opus-4-1-20250805\","
	    "\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":"
	    "{\"input_tokens\":410,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":"
	    "90,\"output_tokens\":77,\"server_tool_use\":{\"web_search_requests\":1}}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	struct llm_call *c = run(&e);

	assert_usage(llm_info(c), 500, 77, 90, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

static void test_thinking_and_tools(void **state)
{
	struct exch e = msg_exch();

	e.resp =
	    "event: message_start\n"
	    "data: "
	    "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\","
	    "\"usage\":{\"input_tokens\":50,\"output_tokens\":3}}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	    "\"thinking\",\"thinking\":\"\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"thinking_delta\",\"thinking\":\"Let me check.\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMO"
	    "YPn\"}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
	    "\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}\n\n";
	e.cut = true;
	struct llm_call *c = run(&e);

	/* thinking 13 + tool JSON 17 = 30 bytes -> 8 tokens; the signature is not text */
	assert_int_equal(llm_info(c)->generated_text_bytes, 13 + 17);
	assert_usage(llm_info(c), 50, 8, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
}

/* Cut after message_start: the input it reported stands, the output is estimated. */
static void test_cut_after_message_start(void **state)
{
	struct exch e = msg_exch();
	struct llm_call *c;

	e.resp_len = (size_t)(strstr(msg_sse, "event: content_block_stop") - msg_sse);
	e.cut = true;
	c = run(&e);
	assert_usage(llm_info(c), 3025, (MSG_TEXT_BYTES + 3) / 4, 2000, 1000, 0);
	assert_true(llm_info(c)->usage_estimated);
	assert_false(llm_info(c)->complete);
	llm_call_free(c);

	/* a stream that ended "normally" without message_delta is still short of its usage */
	e.cut = false;
	c = run(&e);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);

	/* cut inside message_start: nothing reported, all estimated; input from the request
	 * text ("You are a pirate." 17 + "Hello, Claude" 13 = 30 -> 8) */
	e.resp_len = 100;
	e.cut = true;
	c = run(&e);
	assert_usage(llm_info(c), 8, 0, 0, 0, 0);
	assert_true(llm_info(c)->usage_estimated);
	assert_null(llm_info(c)->model_served);
	llm_call_free(c);
}

static void test_error_mid_stream(void **state)
{
	struct exch e = msg_exch();
	char sse[sizeof(msg_sse) + 256];
	size_t head = (size_t)(strstr(msg_sse, "event: content_block_stop") - msg_sse);
	struct llm_call *c;

	memcpy(sse, msg_sse, head);
	strcpy(sse + head, "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": "
			   "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n");
	e.resp = sse;
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "overloaded_error");
	assert_string_equal(llm_info(c)->error_message, "Overloaded");
	assert_usage(llm_info(c), 3025, (MSG_TEXT_BYTES + 3) / 4, 2000, 1000, 0);
	assert_true(llm_info(c)->usage_estimated);
	llm_call_free(c);
	check_every_split(&e);
}

static void test_whole_message_and_errors(void **state)
{
	struct exch e = {
	    .host = "api.anthropic.com",
	    .path = "/v1/messages",
	    .req =
		"{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":64,\"messages\":[{\"role\":"
		"\"user\",\"content\":\"Hi\"}]}",
	    .status = 200,
	    .ctype = "application/json",
	    .resp = "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\",\"role\":"
		    "\"assistant\",\"model\":\"claude-3-5-haiku-20241022\",\"content\":[{\"type\":"
		    "\"text\",\"text\":\"Hi! How can I help?\"}],\"stop_reason\":\"end_turn\","
		    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":8,"
		    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
		    "\"output_tokens\":12,\"service_tier\":\"standard\"}}"};
	struct llm_call *c = run(&e);

	assert_false(llm_info(c)->stream);
	assert_string_equal(llm_info(c)->model_served, "claude-3-5-haiku-20241022");
	assert_usage(llm_info(c), 8, 12, 0, 0, 0);
	assert_false(llm_info(c)->usage_estimated);
	assert_int_equal(llm_info(c)->generated_text_bytes, 19);
	llm_call_free(c);
	check_every_split(&e);

	e.status = 529;
	e.resp = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
		 "\"Overloaded\"},\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}";
	c = run(&e);
	assert_string_equal(llm_info(c)->error_type, "overloaded_error");
	assert_string_equal(llm_info(c)->error_message, "Overloaded");
	assert_false(llm_info(c)->has_usage);
	llm_call_free(c);

	/* a streaming request refused before the stream: plain JSON, read as such */
	e.req = msg_req;
	e.status = 400;
	e.ctype = "application/json";
	e.resp = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
		 "\"max_tokens: 100000 > 64000, which is the maximum allowed\"}}";
	c = run(&e);
	assert_false(llm_info(c)->sse);
	assert_string_equal(llm_info(c)->error_type, "invalid_request_error");
	llm_call_free(c);
}

static void test_xai_messages(void **state)
{
	struct exch e = msg_exch();
	struct llm_call *c;

	e.host = "api.x.ai";
	c = run(&e);
	assert_int_equal(llm_info(c)->provider, LLM_PROVIDER_XAI);
	assert_int_equal(llm_info(c)->dialect, LLM_DIALECT_ANTHROPIC);
	assert_usage(llm_info(c), 3025, 15, 2000, 1000, 0);
	llm_call_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_stream_crlf),
	    cmocka_unit_test(test_cumulative_message_delta),
	    cmocka_unit_test(test_thinking_and_tools),
	    cmocka_unit_test(test_cut_after_message_start),
	    cmocka_unit_test(test_error_mid_stream),
	    cmocka_unit_test(test_whole_message_and_errors),
	    cmocka_unit_test(test_xai_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
