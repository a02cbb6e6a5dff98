/* test_xhead: the proxy's neutral message head: which fields cross between protocols (hop-by-hop,
 * framing, Host, Expect and x-modelux-* do not), how bodies are re-framed (a response with both
 * Content-Length and Transfer-Encoding leaves with one framing), and HTTP/2 heads to HTTP/1.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xhead.h"

#define LIT(s) s, sizeof(s) - 1

static void parse(const char *wire, size_t len, enum h1_kind kind, struct h1_head *h)
{
	char err[256] = "";

	if (h1_parse_head(wire, len, kind, h, err, sizeof(err)) <= 0)
		fail_msg("parse failed: %s", err);
}

static void test_h1_request_to_h1_and_h2(void **state)
{
	static const char wire[] = "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
				   "Host: api.openai.com\r\n"
				   "Connection: keep-alive, X-Hop\r\n"
				   "X-Hop: 1\r\n"
				   "Keep-Alive: timeout=5\r\n"
				   "Expect: 100-continue\r\n"
				   "Authorization: Bearer sk-test\r\n"
				   "X-Modelux-Tags: team=support\r\n"
				   "Content-Length: 5\r\n"
				   "\r\n";
	struct h1_head *h = malloc(sizeof(*h));
	struct http_field f[16];
	char out[1024], digits[24], err[128];
	struct xhead x;
	int n;

	(void)state;
	parse(LIT(wire), H1_REQUEST, h);
	assert_int_equal(xhead_from_h1_request(&x, h, err, sizeof(err)), 0);
	free(h);
	assert_string_equal(x.method, "POST");
	assert_string_equal(x.authority, "api.openai.com");
	assert_string_equal(x.path, "/v1/chat/completions?x=1");
	assert_int_equal(x.content_length, 5);
	assert_true(x.expect_continue);
	/* kept: authorization and the agent's own field (the hook reads it); names lowercased */
	assert_int_equal(x.nfields, 2);
	assert_string_equal(x.fields[0].name, "authorization");
	assert_non_null(xhead_field(&x, "x-modelux-tags"));
	assert_null(xhead_field(&x, "x-hop"));

	n = xhead_write_h1_request(&x, true, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
				 "Host: api.openai.com\r\n"
				 "authorization: Bearer sk-test\r\n"
				 "Content-Length: 5\r\n\r\n");
	n = xhead_h2_fields(&x, f, 16, digits);
	assert_int_equal(n, 2); /* authorization, content-length; never x-modelux-* */
	assert_string_equal(f[1].name, "content-length");
	assert_string_equal(f[1].value, "5");
	xhead_free(&x);
}

static void test_response_with_both_framings_is_reframed(void **state)
{
	static const char wire[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/event-stream\r\n"
				   "Content-Length: 100\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "\r\n";
	struct h1_head *h = malloc(sizeof(*h));
	char out[512], err[128];
	struct xhead x;
	int n;

	(void)state;
	parse(LIT(wire), H1_RESPONSE, h);
	assert_int_equal(xhead_from_h1_response(&x, h, err, sizeof(err)), 0);
	free(h);
	assert_int_equal(x.status, 200);
	assert_int_equal(x.content_length, -1); /* chunked wins (RFC 9112 6.3) */
	n = xhead_write_h1_response(&x, H1_FRAMING_CHUNKED, false, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
	assert_null(strstr(out, "Content-Length"));
	assert_null(strstr(out, "content-length"));
	xhead_free(&x);
}

/* A WebSocket upgrade keeps asking for one on the next hop (and only that hop-by-hop pair),
 * its Sec-WebSocket-* fields go through, and the 101 says Upgrade, not close. */
static void test_websocket_upgrade(void **state)
{
	static const char req[] = "GET /v1/realtime?model=m HTTP/1.1\r\n"
				  "Host: api.openai.com\r\n"
				  "Connection: Upgrade, X-Hop\r\n"
				  "X-Hop: 1\r\n"
				  "Upgrade: websocket\r\n"
				  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				  "Sec-WebSocket-Version: 13\r\n"
				  "\r\n";
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				   "\r\n";
	struct h1_head *h = malloc(sizeof(*h));
	char out[1024], err[128];
	struct xhead x;
	int n;

	(void)state;
	parse(LIT(req), H1_REQUEST, h);
	assert_int_equal(xhead_from_h1_request(&x, h, err, sizeof(err)), 0);
	assert_true(x.upgrade && x.websocket);
	n = xhead_write_h1_request(&x, false, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "GET /v1/realtime?model=m HTTP/1.1\r\n"
				 "Host: api.openai.com\r\n"
				 "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				 "sec-websocket-version: 13\r\n"
				 "Connection: Upgrade\r\n"
				 "Upgrade: websocket\r\n\r\n");
	xhead_free(&x);

	parse(LIT(resp), H1_RESPONSE, h);
	assert_int_equal(xhead_from_h1_response(&x, h, err, sizeof(err)), 0);
	free(h);
	n = xhead_write_h1_response(&x, H1_FRAMING_NONE, true, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
				 "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				 "Connection: Upgrade\r\n"
				 "Upgrade: websocket\r\n\r\n");
	xhead_free(&x);
}

static void test_h2_request_to_h1(void **state)
{
	struct http_field fields[] = {
		{ "cookie", "a=1", 6, 3 },
		{ "content-type", "application/json", 12, 16 },
		{ "cookie", "b=2", 6, 3 },
	};
	struct h2_head h = {
		.method = "POST", .method_len = 4, .scheme = "https", .scheme_len = 5,
		.authority = "api.anthropic.com", .authority_len = 17,
		.path = "/v1/messages", .path_len = 12,
		.fields = fields, .nfields = 3, .end_stream = false,
	};
	char out[512], err[128];
	struct xhead x;
	int n;

	(void)state;
	assert_int_equal(xhead_from_h2_request(&x, &h, err, sizeof(err)), 0);
	assert_int_equal(x.content_length, -1); /* a body of unknown length follows */
	n = xhead_write_h1_request(&x, true, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "POST /v1/messages HTTP/1.1\r\n"
				 "Host: api.anthropic.com\r\n"
				 "cookie: a=1; b=2\r\n"
				 "content-type: application/json\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n");
	xhead_free(&x);

	/* a host field that disagrees with :authority is refused */
	fields[0] = (struct http_field){ "host", "evil.example", 4, 12 };
	assert_int_equal(xhead_from_h2_request(&x, &h, err, sizeof(err)), -EINVAL);
}

static void test_head_and_local_answers(void **state)
{
	struct xhead x;
	char out[512];
	int n;

	(void)state;
	assert_int_equal(xhead_local_response(&x, 502, "text/plain", 12, NULL, NULL), 0);
	/* HEAD / 304: Content-Length describes, no Transfer-Encoding */
	n = xhead_write_h1_response(&x, H1_FRAMING_VERBATIM, true, out, sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 502 Bad Gateway\r\n"
				 "content-type: text/plain\r\n"
				 "x-modelux: local\r\n"
				 "content-length: 12\r\n"
				 "Connection: close\r\n\r\n");
	xhead_free(&x);
	assert_string_equal(xhead_reason(429), "Too Many Requests");
	assert_string_equal(xhead_reason(599), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h1_request_to_h1_and_h2),
		cmocka_unit_test(test_response_with_both_framings_is_reframed),
		cmocka_unit_test(test_h2_request_to_h1),
		cmocka_unit_test(test_websocket_upgrade),
		cmocka_unit_test(test_head_and_local_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
