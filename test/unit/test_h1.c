/* test_h1: unit tests for the HTTP/1.1 head parser, the body state machine and the serializers:
 * tables of valid and invalid heads (each refusal with its exact message), every split point,
 * smuggling shapes, streaming of partial chunks, pipelining, and write-then-parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

/* A literal with its exact length, so inputs may contain NUL bytes. */
#define LIT(s) s, sizeof(s) - 1

static void assert_span(struct h1_span s, const char *want)
{
	if (!want) {
		assert_null(s.p);
		assert_int_equal(s.len, 0);
		return;
	}
	assert_non_null(s.p);
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("span \"%.*s\" != \"%s\"", (int)s.len, s.p, want);
}

static struct h1_span span_of(const char *s)
{
	return (struct h1_span){s, strlen(s)};
}

/* ---- captured traffic ---- */

/* Captured on 127.0.0.1 with a relay logging both directions between curl 7.88.1 and
 * `python3 -m http.server` (Python 3.11.7): curl http://127.0.0.1:18081/hello.json
 * -H 'Accept: application/json' */
static const char real_curl_get[] = "GET /hello.json HTTP/1.1\r\n"
				    "Host: 127.0.0.1:18081\r\n"
				    "User-Agent: curl/7.88.1\r\n"
				    "Accept: application/json\r\n"
				    "\r\n";
static const char real_pyserver_200[] = "HTTP/1.0 200 OK\r\n"
					"Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
					"Date: Tue, 24 Nov 2026 19:45:52 GMT\r\n"
					"Content-type: application/json\r\n"
					"Content-Length: 38\r\n"
					"Last-Modified: Tue, 24 Nov 2026 19:45:51 GMT\r\n"
					"\r\n"
					"{\"model\":\"gpt-4o-mini\",\"stream\":true}\n";
/* Same relay: curl -X POST .../v1/chat/completions -H 'Content-Type: application/json'
 * -H 'Authorization: Bearer sk-test-not-a-key' --data '{...}' (a dummy key), and the 501
 * http.server answers to POST. */
static const char real_curl_post[] =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: 127.0.0.1:18081\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer sk-test-not-a-key\r\n"
    "Content-Length: 81\r\n"
    "\r\n"
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"stream\":true}";
static const char real_pyserver_501[] =
    "HTTP/1.0 501 Unsupported method ('POST')\r\n"
    "Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
    "Date: Tue, 24 Nov 2026 19:45:52 GMT\r\n"
    "Connection: close\r\n"
    "Content-Type: text/html;charset=utf-8\r\n"
    "Content-Length: 357\r\n"
    "\r\n"
    "<!DOCTYPE HTML>\n"
    "<html lang=\"en\">\n"
    "    <head>\n"
    "        <meta charset=\"utf-8\">\n"
    "        <title>Error response</title>\n"
    "    </head>\n"
    "    <body>\n"
    "        <h1>Error response</h1>\n"
    "        <p>Error code: 501</p>\n"
    "        <p>Message: Unsupported method ('POST').</p>\n"
    "        <p>Error code explanation: 501 - Server does not support this operation.</p>\n"
    "    </body>\n"
    "</html>\n";

/* ---- body helpers ---- */

/* Collects delivered payload into a capped buffer and counts callback calls. */
struct sink {
	char *buf;
	size_t cap, len;
	size_t calls;
	size_t stop_after; /* return -ECANCELED once this many bytes arrived (0: never) */
};

static int sink_cb(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	assert_true(len > 0);
	assert_true(len <= s->cap - s->len);
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->calls++;
	if (s->stop_after && s->len >= s->stop_after)
		return -ECANCELED;
	return 0;
}

/* Feed <len> bytes in pieces of <step> (0: all at once); returns total consumed or the error. */
static long feed_steps(struct h1_body *b, const char *buf, size_t len, size_t step, struct sink *s,
		       char *err, size_t errlen)
{
	size_t off = 0;

	if (step == 0)
		step = len ? len : 1;
	while (off < len && !h1_body_done(b)) {
		size_t n = len - off < step ? len - off : step;
		int rc = h1_body_feed(b, buf + off, n, sink_cb, s, err, errlen);

		if (rc < 0)
			return rc;
		assert_true((size_t)rc <= n);
		off += (size_t)rc;
		if ((size_t)rc < n)
			assert_true(h1_body_done(b));
	}
	return (long)off;
}

/* ---- valid heads ---- */

struct valid_case {
	enum h1_kind kind;
	const char *in;
	int head_len; /* 0: the whole input */
	int version;
	const char *method, *target; /* requests */
	enum h1_target_form form;
	int status; /* responses */
	const char *reason;
	size_t nheaders;
	int64_t content_length;
	bool chunked, keep_alive, expect, upgrade;
	const char *host;
};

static const struct valid_case valid_cases[] = {
    {H1_REQUEST, "GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", 0, 11, "GET", "/",
     H1_TARGET_ORIGIN, 0, NULL, 1, -1, false, true, false, false, "api.openai.com"},
    {H1_REQUEST,
     "POST /v1/messages?beta=true HTTP/1.1\r\nhost: api.anthropic.com:443\r\n"
     "content-length: 12\r\nx-api-key: k\r\n\r\n",
     0, 11, "POST", "/v1/messages?beta=true", H1_TARGET_ORIGIN, 0, NULL, 3, 12, false, true, false,
     false, "api.anthropic.com:443"},
    /* OWS around the value is not part of it; inner whitespace is. */
    {H1_REQUEST, "GET /a HTTP/1.1\r\nHost: \t h \t \r\nX:  a  b \r\n\r\n", 0, 11, "GET", "/a",
     H1_TARGET_ORIGIN, 0, NULL, 2, -1, false, true, false, false, "h"},
    {H1_REQUEST, "PUT /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", 0, 11, "PUT",
     "/u", H1_TARGET_ORIGIN, 0, NULL, 2, -1, true, true, false, false, "x"},
    {H1_REQUEST, "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, 11, "GET",
     "http://example.com/x", H1_TARGET_ABSOLUTE, 0, NULL, 1, -1, false, true, false, false,
     "example.com"},
    {H1_REQUEST, "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n", 0, 11,
     "CONNECT", "api.openai.com:443", H1_TARGET_AUTHORITY, 0, NULL, 1, -1, false, true, false,
     false, "api.openai.com:443"},
    {H1_REQUEST, "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", 0, 11, "CONNECT",
     "[::1]:8443", H1_TARGET_AUTHORITY, 0, NULL, 1, -1, false, true, false, false, "[::1]:8443"},
    {H1_REQUEST, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 0, 11, "OPTIONS", "*", H1_TARGET_ASTERISK,
     0, NULL, 1, -1, false, true, false, false, "h"},
    /* HTTP/1.0: no Host needed, close by default, keep-alive on request. */
    {H1_REQUEST, "GET / HTTP/1.0\r\n\r\n", 0, 10, "GET", "/", H1_TARGET_ORIGIN, 0, NULL, 0, -1,
     false, false, false, false, NULL},
    {H1_REQUEST, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, 10, "GET", "/",
     H1_TARGET_ORIGIN, 0, NULL, 1, -1, false, true, false, false, NULL},
    {H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n", 0, 11, "GET",
     "/", H1_TARGET_ORIGIN, 0, NULL, 2, -1, false, false, false, false, "h"},
    {H1_REQUEST,
     "GET / HTTP/1.1\r\nHost: h\r\nConnection: , ,Upgrade\r\nUpgrade: websocket\r\n\r\n", 0, 11,
     "GET", "/", H1_TARGET_ORIGIN, 0, NULL, 3, -1, false, true, false, true, "h"},
    /* Expect is a list, and is ignored in HTTP/1.0 (RFC 9110 section 10.1.1). */
    {H1_REQUEST,
     "POST /f HTTP/1.1\r\nHost: h\r\nExpect: foo, 100-Continue\r\nContent-Length: 3\r\n\r\n", 0, 11,
     "POST", "/f", H1_TARGET_ORIGIN, 0, NULL, 3, 3, false, true, true, false, "h"},
    {H1_REQUEST, "POST /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 0, 10,
     "POST", "/f", H1_TARGET_ORIGIN, 0, NULL, 2, 3, false, false, false, false, NULL},
    /* Empty lines before a request line are skipped; the head length counts them. */
    {H1_REQUEST, "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 11, "GET", "/", H1_TARGET_ORIGIN,
     0, NULL, 1, -1, false, true, false, false, "h"},
    /* An empty Host is what RFC 9112 section 3.2 asks for when there is no authority. */
    {H1_REQUEST, "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, 11, "GET", "/", H1_TARGET_ORIGIN, 0, NULL, 1,
     -1, false, true, false, false, ""},
    {H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xc3\xa9\r\nX-E:\r\n\r\nBODY", 47, 11,
     "GET", "/", H1_TARGET_ORIGIN, 0, NULL, 3, -1, false, true, false, false, "h"},
    {H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0000000000000000000000042\r\n\r\n",
     0, 11, "GET", "/", H1_TARGET_ORIGIN, 0, NULL, 2, 42, false, true, false, false, "h"},
    {H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", 0, 11,
     "GET", "/", H1_TARGET_ORIGIN, 0, NULL, 2, INT64_MAX, false, true, false, false, "h"},

    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 38, 11, NULL, NULL, 0, 200,
     "OK", 1, 2, false, true, false, false, NULL},
    {H1_RESPONSE, "HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n", 0, 11, NULL, NULL, 0, 200,
     "", 1, -1, true, true, false, false, NULL},
    /* No SP after the code: tolerated, reason empty. */
    {H1_RESPONSE, "HTTP/1.1 204\r\n\r\n", 0, 11, NULL, NULL, 0, 204, "", 0, -1, false, true, false,
     false, NULL},
    {H1_RESPONSE, "HTTP/1.1 404 Not  Found \t\r\nConnection: close\r\n\r\n", 0, 11, NULL, NULL, 0,
     404, "Not  Found \t", 1, -1, false, false, false, false, NULL},
    {H1_RESPONSE, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0, 10,
     NULL, NULL, 0, 200, "OK", 2, 0, false, true, false, false, NULL},
    {H1_RESPONSE,
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, 11,
     NULL, NULL, 0, 101, "Switching Protocols", 2, -1, false, true, false, true, NULL},
    {H1_RESPONSE, "HTTP/1.1 100 Continue\r\n\r\n", 0, 11, NULL, NULL, 0, 100, "Continue", 0, -1,
     false, true, false, false, NULL},
    /* A response with both: chunked wins, no reuse of the connection (RFC 9112 section 6.3). */
    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
     11, NULL, NULL, 0, 200, "OK", 2, -1, true, false, false, false, NULL},
    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n", 0,
     11, NULL, NULL, 0, 200, "OK", 2, -1, true, false, false, false, NULL},
    /* Host means nothing in a response. */
    {H1_RESPONSE, "HTTP/1.1 599 x\r\nHost: a\r\nHost: b, c\r\n\r\n", 0, 11, NULL, NULL, 0, 599, "x",
     2, -1, false, true, false, false, NULL},
    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nExpect: 100-continue\r\n\r\n", 0, 11, NULL, NULL, 0, 200,
     "OK", 1, -1, false, true, false, false, NULL},
};

static void check_valid(const struct valid_case *c, const struct h1_head *h, int rc, size_t len)
{
	size_t want = c->head_len ? (size_t)c->head_len : len;

	assert_int_equal(rc, want);
	assert_int_equal(h->head_len, want);
	assert_int_equal(h->kind, c->kind);
	assert_int_equal(h->version, c->version);
	assert_span(h->method, c->method);
	assert_span(h->target, c->target);
	assert_int_equal(h->target_form, c->form);
	assert_int_equal(h->status, c->status);
	assert_span(h->reason, c->reason);
	assert_int_equal(h->nheaders, c->nheaders);
	assert_int_equal(h->content_length, c->content_length);
	assert_int_equal(h->chunked, c->chunked);
	assert_int_equal(h->keep_alive, c->keep_alive);
	assert_int_equal(h->expect_100_continue, c->expect);
	assert_int_equal(h->upgrade, c->upgrade);
	assert_span(h->host, c->host);
}

static int collect_cb(void *ctx, const char *data, size_t len)
{
	char *out = ctx;

	strncat(out, data, len);
	return 0;
}

/* Which Upgrade asks for WebSocket (exch.c tunnels only that), and the client side's tunnel
 * body after a 101: every byte through until the end of the connection. */
static void upgrade_websocket(void **state)
{
	static const struct {
		const char *upgrade_field; /* NULL: no Upgrade field */
		bool websocket;
	} cases[] = {
	    {"websocket", true}, {"WebSocket", true}, {"h2c", false},
	    {"foo/2, websocket", true}, {"websocketx", false}, {NULL, false},
	};
	char req[256], err[200], got[64] = "";
	struct h1_head h;
	struct h1_body b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "GET /v1/realtime HTTP/1.1\r\nHost: h\r\n%s%s%s\r\n",
			 cases[i].upgrade_field ? "Upgrade: " : "",
			 cases[i].upgrade_field ? cases[i].upgrade_field : "",
			 cases[i].upgrade_field ? "\r\n" : "");
		assert_int_equal(h1_parse_head(req, strlen(req), H1_REQUEST, &h, err, sizeof(err)),
				 (int)strlen(req));
		assert_int_equal(h.upgrade, cases[i].upgrade_field != NULL);
		assert_int_equal(h.upgrade_websocket, cases[i].websocket);
	}
	h1_body_init_tunnel(&b);
	assert_false(h1_body_done(&b));
	assert_int_equal(h1_body_feed(&b, "\x81\x02hi", 4, collect_cb, got, err, sizeof(err)), 4);
	assert_int_equal(h1_body_feed(&b, "GET / HTTP/1.1\r\n", 16, collect_cb, got, err,
				      sizeof(err)),
			 16);
	assert_string_equal(got, "\x81\x02hiGET / HTTP/1.1\r\n");
	assert_false(h1_body_done(&b));
	assert_int_equal(h1_body_eof(&b, err, sizeof(err)), 0);
	assert_true(h1_body_done(&b));
}

static void valid_heads(void **state)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *c = &valid_cases[i];
		struct h1_head h;
		char err[200] = "";
		int rc;

		print_message("valid %zu\n", i);
		rc = h1_parse_head(c->in, strlen(c->in), c->kind, &h, err, sizeof(err));
		if (rc < 0)
			fail_msg("case %zu: %d %s", i, rc, err);
		check_valid(c, &h, rc, strlen(c->in));
	}
}

static void header_spans_and_find(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-One: 1\r\nx-one: 2\r\n"
				 "Empty:   \r\nTabbed:\tv\tw\t\r\n\r\n";
	struct h1_head h;
	const struct h1_header *f;

	assert_int_equal(h1_parse_head(LIT(in), H1_REQUEST, &h, NULL, 0), sizeof(in) - 1);
	assert_int_equal(h.nheaders, 5);
	assert_span(h.headers[1].name, "X-One");
	assert_span(h.headers[1].value, "1");
	assert_span(h.headers[3].name, "Empty");
	assert_span(h.headers[3].value, "");
	assert_span(h.headers[4].value, "v\tw");
	f = h1_header_find(&h, "X-ONE");
	assert_ptr_equal(f, &h.headers[1]); /* the first of the two */
	assert_ptr_equal(h1_header_find(&h, "tabbed"), &h.headers[4]);
	assert_null(h1_header_find(&h, "X-On"));
	assert_null(h1_header_find(&h, "X-One2"));
	/* Spans are zero-copy: they point into the caller's buffer. */
	assert_ptr_equal(h.method.p, in);
	assert_ptr_equal(h.headers[0].value.p, in + 22);
}

/* ---- invalid heads ---- */

struct invalid_case {
	enum h1_kind kind;
	const char *in;
	size_t len;
	int rc;
	const char *msg;
};

#define BAD(kind, s, rc, msg)                                                                      \
	{                                                                                          \
		kind, s, sizeof(s) - 1, rc, msg                                                    \
	}
#define REQ H1_REQUEST
#define RSP H1_RESPONSE
#define EB -EBADMSG

static const struct invalid_case invalid_cases[] = {
    /* request line */
    BAD(REQ, "get\x01 / HTTP/1.1\r\n", EB, "invalid character 0x01 in method at offset 3"),
    BAD(REQ, " GET / HTTP/1.1\r\n", EB, "invalid character 0x20 in method at offset 0"),
    BAD(REQ, "GET\r\n", EB, "unexpected end of line in method at offset 3"),
    BAD(REQ, "GET\n", EB, "bare LF line ending at offset 3"),
    BAD(REQ, "GET\t/ HTTP/1.1\r\n", EB, "invalid character 0x09 in method at offset 3"),
    BAD(REQ, "GET  / HTTP/1.1\r\n", EB, "empty request target at offset 4"),
    BAD(REQ, "GET /a\x7f HTTP/1.1\r\n", EB, "invalid character 0x7f in request target at offset 6"),
    BAD(REQ, "GET /caf\xc3\xa9 HTTP/1.1\r\n", EB,
	"invalid character 0xc3 in request target at offset 8"),
    BAD(REQ, "GET /\x00 HTTP/1.1\r\n", EB, "invalid character 0x00 in request target at offset 5"),
    BAD(REQ, "GET /\r\n", EB, "unexpected end of line in request target at offset 5"),
    BAD(REQ, "GET / HTTP/2.0\r\n", EB, "unsupported HTTP version at offset 6"),
    BAD(REQ, "GET / HTTP/1.2\r\n", EB, "unsupported HTTP version at offset 6"),
    BAD(REQ, "GET / http/1.1\r\n", EB, "unsupported HTTP version at offset 6"),
    BAD(REQ, "GET / HTTP/1.10\r\n", EB, "unsupported HTTP version at offset 6"),
    BAD(REQ, "GET / HTTP/1.1 \r\n", EB, "invalid character 0x20 after HTTP version at offset 14"),
    BAD(REQ, "GET / HTTP/1.1\n", EB, "bare LF line ending at offset 14"),
    BAD(REQ, "GET / HTTP/1.1\rX", EB, "CR not followed by LF at offset 14"),
    BAD(REQ, "\r\n\rGET", EB, "CR not followed by LF at offset 2"),
    BAD(REQ, "\nGET / HTTP/1.1\r\n", EB, "bare LF line ending at offset 0"),
    BAD(REQ, "CONNECT /x HTTP/1.1\r\n", EB, "CONNECT target is not host:port at offset 8"),
    BAD(REQ, "CONNECT api.openai.com HTTP/1.1\r\n", EB,
	"CONNECT target is not host:port at offset 8"),
    BAD(REQ, "CONNECT a:b HTTP/1.1\r\n", EB, "CONNECT target is not host:port at offset 8"),
    BAD(REQ, "CONNECT user@a:1 HTTP/1.1\r\n", EB, "CONNECT target is not host:port at offset 8"),
    BAD(REQ, "GET * HTTP/1.1\r\n", EB, "asterisk-form target without OPTIONS at offset 4"),
    BAD(REQ, "GET a/b HTTP/1.1\r\n", EB, "invalid request target at offset 4"),
    BAD(REQ, "GET 1http://x/ HTTP/1.1\r\n", EB, "invalid request target at offset 4"),
    BAD(REQ, "GET :x HTTP/1.1\r\n", EB, "invalid request target at offset 4"),
    /* field lines */
    BAD(REQ, "GET / HTTP/1.1\r\nHost : h\r\n", EB,
	"whitespace before colon in field line at offset 20"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost\t: h\r\n", EB,
	"whitespace before colon in field line at offset 20"),
    BAD(REQ, "GET / HTTP/1.1\r\n Host: h\r\n", EB,
	"obs-fold or whitespace at start of field line at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", EB,
	"obs-fold or whitespace at start of field line at offset 31"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", EB,
	"obs-fold or whitespace at start of field line at offset 31"),
    BAD(REQ,
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00"
	"b\r\n\r\n",
	EB, "invalid character 0x00 in field value at offset 29"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n", EB,
	"bare LF line ending at offset 29"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", EB,
	"CR not followed by LF at offset 29"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[31m\r\n\r\n", EB,
	"invalid character 0x1b in field value at offset 28"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n", EB,
	"invalid character 0x7f in field value at offset 28"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\n\r\n", EB, "bare LF line ending at offset 23"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\n\n", EB, "bare LF line ending at offset 25"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\n\rX", EB, "CR not followed by LF at offset 25"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", EB,
	"field line without colon at offset 32"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", EB, "empty field name at offset 25"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", EB,
	"invalid character 0x28 in field name at offset 26"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX\x00: v\r\n\r\n", EB,
	"invalid character 0x00 in field name at offset 26"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX\xe9: v\r\n\r\n", EB,
	"invalid character 0xe9 in field name at offset 26"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nX\n: v\r\n\r\n", EB, "bare LF line ending at offset 26"),
    /* framing: the request smuggling shapes */
    BAD(REQ,
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", EB,
	"Transfer-Encoding with Content-Length in a request at offset 45"),
    BAD(REQ,
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", EB,
	"Content-Length with Transfer-Encoding in a request at offset 54"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", EB,
	"duplicate Content-Length at offset 45"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", EB,
	"duplicate Content-Length at offset 45"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", EB,
	"invalid Content-Length value at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", EB,
	"invalid Content-Length value at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", EB,
	"invalid Content-Length value at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", EB,
	"invalid Content-Length value at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", EB,
	"invalid Content-Length value at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", EB,
	"invalid Content-Length value at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", EB,
	"Content-Length too large at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", EB,
	"Content-Length too large at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ,
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
	"chunked\r\n\r\n",
	EB, "duplicate Transfer-Encoding at offset 54"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", EB,
	"whitespace before colon in field line at offset 43"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x00\r\n\r\n", EB,
	"invalid character 0x00 in field value at offset 52"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 26"),
    BAD(REQ, "POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n chunked\r\n\r\n", EB,
	"obs-fold or whitespace at start of field line at offset 32"),
    BAD(REQ, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", EB,
	"Transfer-Encoding in an HTTP/1.0 message at offset 17"),
    /* Host */
    BAD(REQ, "GET / HTTP/1.1\r\nX: y\r\n\r\n", EB, "missing Host in HTTP/1.1 request at offset 22"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", EB, "duplicate Host at offset 25"),
    BAD(REQ, "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", EB, "duplicate Host at offset 25"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: []\r\n\r\n", EB, "invalid Host value at offset 16"),
    BAD(REQ, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, a=b\r\n\r\n", EB,
	"invalid Connection option at offset 25"),
    /* status line */
    BAD(RSP, "HTTP/1.1 20 OK\r\n", EB, "invalid status code at offset 9"),
    BAD(RSP, "HTTP/1.1 2000 OK\r\n", EB, "invalid status code at offset 9"),
    BAD(RSP, "HTTP/1.1 abc OK\r\n", EB, "invalid status code at offset 9"),
    BAD(RSP, "HTTP/1.1 099 OK\r\n", EB, "status code 99 out of range at offset 9"),
    BAD(RSP, "HTTP/1.1 600 OK\r\n", EB, "status code 600 out of range at offset 9"),
    BAD(RSP, "HTTP/1.1  200 OK\r\n", EB, "invalid status code at offset 9"),
    BAD(RSP, "HTTP/1.1\t200 OK\r\n", EB, "invalid character 0x09 in status line at offset 8"),
    BAD(RSP, "HTTP/1.1 200 O\x00K\r\n", EB, "invalid character 0x00 in reason phrase at offset 14"),
    BAD(RSP, "HTTP/1.1 200 OK\n\r\n", EB, "bare LF line ending at offset 15"),
    BAD(RSP, "HTTP/1.1 200x\r\n", EB, "invalid character 0x78 after reason phrase at offset 12"),
    BAD(RSP, "HTTP/2 200\r\n", EB, "unsupported HTTP version at offset 0"),
    BAD(RSP, "ICY 200 OK\r\n", EB, "unsupported HTTP version at offset 0"),
    BAD(RSP, "\r\nHTTP/1.1 200 OK\r\n", EB, "unsupported HTTP version at offset 0"),
    BAD(RSP, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", EB,
	"duplicate Content-Length at offset 36"),
    BAD(RSP, "HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n", EB,
	"invalid Content-Length value at offset 17"),
    BAD(RSP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 17"),
    BAD(RSP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", EB,
	"Transfer-Encoding other than chunked at offset 17"),
    BAD(RSP, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", EB,
	"Transfer-Encoding in an HTTP/1.0 message at offset 17"),
};

static void invalid_heads(void **state)
{
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		const struct invalid_case *c = &invalid_cases[i];
		struct h1_head h;
		char err[200] = "";
		int rc;

		rc = h1_parse_head(c->in, c->len, c->kind, &h, err, sizeof(err));
		if (rc != c->rc || strcmp(err, c->msg) != 0)
			fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, rc, err, c->rc,
				 c->msg);
		/* The same error with everything after the offending byte cut away, as long as
		 * the cut keeps the byte: the parser decides as soon as it can. */
		if (c->len > 1) {
			rc = h1_parse_head(c->in, c->len - 1, c->kind, &h, err, sizeof(err));
			assert_true(rc == 0 || rc == c->rc);
		}
	}
}

static void caps(void **state)
{
	static char big[H1_MAX_HEAD + 64];
	char err[200];
	struct h1_head h;
	size_t off;
	int rc;

	/* One long field: fits with the cap exactly, refused one byte beyond. */
	off = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
	memset(big + off, 'a', H1_MAX_HEAD - off - 4);
	memcpy(big + H1_MAX_HEAD - 4, "\r\n\r\n", 4);
	assert_int_equal(h1_parse_head(big, H1_MAX_HEAD, H1_REQUEST, &h, err, sizeof(err)),
			 H1_MAX_HEAD);
	assert_int_equal(h1_parse_head(big, H1_MAX_HEAD + 10, H1_REQUEST, &h, err, sizeof(err)),
			 H1_MAX_HEAD);
	memset(big + off, 'a', H1_MAX_HEAD - off - 3);
	memcpy(big + H1_MAX_HEAD - 3, "\r\n\r\n", 4);
	/* Up to the cap, the parser still waits; one byte more and it gives up. */
	assert_int_equal(h1_parse_head(big, H1_MAX_HEAD, H1_REQUEST, &h, err, sizeof(err)), 0);
	rc = h1_parse_head(big, H1_MAX_HEAD + 1, H1_REQUEST, &h, err, sizeof(err));
	assert_int_equal(rc, -E2BIG);
	assert_string_equal(err, "head larger than 65536 bytes at offset 65536");

	/* 128 fields are fine, the 129th is refused as soon as its first byte is seen. */
	off = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 1; i < H1_MAX_HEADERS; i++)
		off += (size_t)sprintf(big + off, "X%d: %d\r\n", i, i);
	memcpy(big + off, "\r\n", 2);
	assert_int_equal(h1_parse_head(big, off + 2, H1_REQUEST, &h, err, sizeof(err)), off + 2);
	assert_int_equal(h.nheaders, H1_MAX_HEADERS);
	memcpy(big + off, "Y", 1);
	rc = h1_parse_head(big, off + 1, H1_REQUEST, &h, err, sizeof(err));
	assert_int_equal(rc, -E2BIG);
	snprintf(big + H1_MAX_HEAD, 64, "more than 128 header fields at offset %zu", off);
	assert_string_equal(err, big + H1_MAX_HEAD);

	/* No error buffer at all is allowed, and a tiny one is truncated, not overrun. */
	assert_int_equal(h1_parse_head(LIT("GET\n"), H1_REQUEST, &h, NULL, 0), -EBADMSG);
	memset(err, 'z', sizeof(err));
	assert_int_equal(h1_parse_head(LIT("GET\n"), H1_REQUEST, &h, err, 5), -EBADMSG);
	assert_string_equal(err, "bare");
	assert_int_equal(err[5], 'z');
	assert_int_equal(h1_parse_head(LIT("GET / HTTP/1.1\r\n\r\n"), 7, &h, err, sizeof(err)),
			 -EBADMSG);
	assert_string_equal(err, "unknown message kind at offset 0");
}

/* ---- incremental parsing ---- */

static void every_split_point(void **state)
{
	static const struct {
		enum h1_kind kind;
		const char *in;
	} msgs[] = {
	    {H1_REQUEST, real_curl_get},
	    {H1_REQUEST, real_curl_post},
	    {H1_RESPONSE, real_pyserver_200},
	    {H1_RESPONSE, real_pyserver_501},
	    {H1_REQUEST, "\r\nPOST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			 "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello"},
	    {H1_RESPONSE, "HTTP/1.1 200\r\nContent-Type: text/event-stream\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n"},
	    /* an error: every prefix either waits or reports the same */
	    {H1_REQUEST,
	     "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"},
	};

	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		const char *in = msgs[m].in;
		size_t len = strlen(in);
		struct h1_head full, part;
		char ferr[200] = "", perr[200] = "";
		int rf = h1_parse_head(in, len, msgs[m].kind, &full, ferr, sizeof(ferr));

		assert_int_not_equal(rf, 0);
		for (size_t cut = 0; cut <= len; cut++) {
			int rp = h1_parse_head(in, cut, msgs[m].kind, &part, perr, sizeof(perr));

			if (rf > 0 && cut < (size_t)rf) {
				assert_int_equal(rp, 0);
				continue;
			}
			if (rp == 0 && rf < 0)
				continue;
			assert_int_equal(rp, rf);
			if (rf < 0) {
				assert_string_equal(perr, ferr);
				continue;
			}
			/* Same result field by field, spans at the same places. */
			assert_int_equal(part.head_len, full.head_len);
			assert_int_equal(part.nheaders, full.nheaders);
			assert_memory_equal(part.headers, full.headers,
					    full.nheaders * sizeof(full.headers[0]));
			assert_true(part.method.p == full.method.p &&
				    part.target.p == full.target.p &&
				    part.reason.p == full.reason.p && part.host.p == full.host.p);
			assert_int_equal(part.status, full.status);
			assert_int_equal(part.content_length, full.content_length);
			assert_int_equal(part.chunked, full.chunked);
			assert_int_equal(part.keep_alive, full.keep_alive);
			assert_int_equal(part.expect_100_continue, full.expect_100_continue);
		}
	}
}

/* ---- bodies ---- */

static void body_init_head(struct h1_body *b, enum h1_kind kind, const char *head,
			   const char *req_method, struct h1_head *h)
{
	char err[200] = "";
	int rc = h1_parse_head(head, strlen(head), kind, h, err, sizeof(err));

	if (rc <= 0)
		fail_msg("head: %d %s", rc, err);
	h1_body_init(b, h, req_method, req_method ? strlen(req_method) : 0);
}

static void framing_decisions(void **state)
{
	static const struct {
		enum h1_kind kind;
		const char *head;
		const char *req_method;
		enum h1_body_mode mode;
		bool done;
	} cases[] = {
	    {H1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", NULL, H1_BODY_NONE, true},
	    {H1_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", NULL,
	     H1_BODY_LENGTH, true},
	    {H1_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n", NULL,
	     H1_BODY_LENGTH, false},
	    {H1_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", NULL,
	     H1_BODY_CHUNKED, false},
	    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", H1_BODY_NONE,
	     true},
	    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD",
	     H1_BODY_NONE, true},
	    {H1_RESPONSE, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "DELETE",
	     H1_BODY_NONE, true},
	    {H1_RESPONSE, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET",
	     H1_BODY_NONE, true},
	    {H1_RESPONSE, "HTTP/1.1 100 Continue\r\n\r\n", "POST", H1_BODY_NONE, true},
	    {H1_RESPONSE, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", "GET", H1_BODY_NONE,
	     true},
	    {H1_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "GET",
	     H1_BODY_TUNNEL, false},
	    {H1_RESPONSE, "HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", H1_BODY_TUNNEL,
	     false},
	    {H1_RESPONSE, "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", "CONNECT",
	     H1_BODY_LENGTH, false},
	    {H1_RESPONSE, "HTTP/1.1 200 OK\r\n\r\n", "GET", H1_BODY_UNTIL_CLOSE, false},
	    {H1_RESPONSE, "HTTP/1.1 200 OK\r\n\r\n", NULL, H1_BODY_UNTIL_CLOSE, false},
	    /* methods are case-sensitive: "head" is not HEAD */
	    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "head", H1_BODY_LENGTH,
	     false},
	    {H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", H1_BODY_LENGTH,
	     true},
	    {H1_RESPONSE,
	     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
	     H1_BODY_CHUNKED, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h1_head h;
		struct h1_body b;

		print_message("framing %zu\n", i);
		body_init_head(&b, cases[i].kind, cases[i].head, cases[i].req_method, &h);
		assert_int_equal(b.mode, cases[i].mode);
		assert_int_equal(h1_body_done(&b), cases[i].done);
		if (cases[i].done) /* nothing is consumed: what follows is the next message */
			assert_int_equal(h1_body_feed(&b, "HTTP", 4, NULL, NULL, NULL, 0), 0);
	}
}

static const char chunked_sample[] = "5\r\nhello\r\n"
				     "1;name=value;q=\"a;b\"\r\n,\r\n"
				     "00000a \t;ext\r\n worldwide\r\n"
				     "A\r\n0123456789\r\n"
				     "0\r\n"
				     "Trailer-One: x\r\nT2:\r\n"
				     "\r\n";
static const char chunked_payload[] = "hello, worldwide0123456789";

static void chunked_bytewise_equals_whole(void **state)
{
	char whole[64], step[64], err[200];

	for (size_t stepsz = 0; stepsz <= 7; stepsz++) {
		struct sink s = {stepsz ? step : whole, sizeof(whole), 0, 0, 0};
		struct h1_body b;
		struct h1_head h;
		char msg[256];
		long rc;

		body_init_head(&b, H1_REQUEST,
			       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			       NULL, &h);
		/* followed by the next pipelined message, which must not be consumed */
		snprintf(msg, sizeof(msg), "%sGET / HTTP/1.1\r\n", chunked_sample);
		rc = feed_steps(&b, msg, strlen(msg), stepsz, &s, err, sizeof(err));
		if (rc < 0)
			fail_msg("step %zu: %ld %s", stepsz, rc, err);
		assert_int_equal(rc, sizeof(chunked_sample) - 1);
		assert_true(h1_body_done(&b));
		assert_int_equal(s.len, strlen(chunked_payload));
		assert_memory_equal(s.buf, chunked_payload, s.len);
		assert_int_equal(b.payload, s.len);
		assert_int_equal(b.offset, sizeof(chunked_sample) - 1);
		assert_int_equal(h1_body_feed(&b, "x", 1, sink_cb, &s, err, sizeof(err)), 0);
		assert_int_equal(h1_body_eof(&b, err, sizeof(err)), 0);
	}
}

static void partial_chunk_streams(void **state)
{
	const size_t big = 1 << 20;
	char *msg = malloc(big + 64), *out = malloc(big);
	struct sink s = {out, big, 0, 0, 0};
	struct h1_body b;
	struct h1_head h;
	char err[200];
	size_t hdr;
	int rc;

	assert_non_null(msg);
	assert_non_null(out);
	body_init_head(&b, H1_RESPONSE,
		       "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       "POST", &h);
	hdr = (size_t)sprintf(msg, "%zx\r\n", big);
	for (size_t i = 0; i < big; i++)
		msg[hdr + i] = (char)('a' + i % 26);
	memcpy(msg + hdr + big, "\r\n0\r\n\r\n", 7);

	/* Only the size line and 100 bytes of a 1 MiB chunk: those bytes come out now. */
	rc = h1_body_feed(&b, msg, hdr + 100, sink_cb, &s, err, sizeof(err));
	assert_int_equal(rc, hdr + 100);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.len, 100);
	assert_memory_equal(out, msg + hdr, 100);
	assert_false(h1_body_done(&b));
	/* An SSE event split in the middle arrives as it comes. */
	rc = h1_body_feed(&b, msg + hdr + 100, 1, sink_cb, &s, err, sizeof(err));
	assert_int_equal(rc, 1);
	assert_int_equal(s.len, 101);
	rc = h1_body_feed(&b, msg + hdr + 101, big - 101 + 7, sink_cb, &s, err, sizeof(err));
	assert_int_equal(rc, big - 101 + 7);
	assert_true(h1_body_done(&b));
	assert_int_equal(s.len, big);
	assert_memory_equal(out, msg + hdr, big);
	free(msg);
	free(out);
}

struct body_error_case {
	const char *in;
	size_t len;
	int rc;
	const char *msg;
};

#define BODY_BAD(s, rc, msg)                                                                       \
	{                                                                                          \
		s, sizeof(s) - 1, rc, msg                                                          \
	}

static const struct body_error_case body_errors[] = {
    BODY_BAD("\r\n", EB, "missing chunk size at offset 0"),
    BODY_BAD("x\r\n", EB, "invalid character 0x78 in chunk size at offset 0"),
    BODY_BAD(";a\r\n", EB, "invalid character 0x3b in chunk size at offset 0"),
    BODY_BAD(" 5\r\n", EB, "invalid character 0x20 in chunk size at offset 0"),
    BODY_BAD("-5\r\n", EB, "invalid character 0x2d in chunk size at offset 0"),
    BODY_BAD("0x5\r\n", EB, "invalid character 0x78 in chunk size at offset 1"),
    BODY_BAD("5g\r\n", EB, "invalid character 0x67 in chunk size at offset 1"),
    BODY_BAD("5 \r\n", EB, "whitespace after chunk size at offset 2"),
    BODY_BAD("5 x\r\n", EB, "invalid character 0x78 in chunk size at offset 2"),
    BODY_BAD("5\n", EB, "bare LF line ending at offset 1"),
    BODY_BAD("5\rx", EB, "CR not followed by LF at offset 2"),
    BODY_BAD("5;a\nb\r\n", EB, "bare LF line ending at offset 3"),
    BODY_BAD("5;a\x00\r\n", EB, "invalid character 0x00 in chunk extension at offset 3"),
    BODY_BAD("5;a\rb\r\n", EB, "CR not followed by LF at offset 4"),
    BODY_BAD("8000000000000000\r\n", EB, "chunk size too large at offset 15"),
    BODY_BAD("fffffffffffffffff\r\n", EB, "chunk size too large at offset 15"),
    BODY_BAD("5\r\nhelloX\r\n", EB, "missing CRLF after chunk data at offset 8"),
    BODY_BAD("5\r\nhello\rX", EB, "missing CRLF after chunk data at offset 9"),
    BODY_BAD("5\r\nhello\n", EB, "missing CRLF after chunk data at offset 8"),
    BODY_BAD("0\r\nX : y\r\n\r\n", EB, "whitespace before colon in trailer line at offset 4"),
    BODY_BAD("0\r\nX\r\n\r\n", EB, "trailer line without colon at offset 4"),
    BODY_BAD("0\r\n y: z\r\n\r\n", EB,
	     "obs-fold or whitespace at start of trailer line at offset 3"),
    BODY_BAD("0\r\nX: a\x00\r\n\r\n", EB,
	     "invalid character 0x00 in trailer field value at offset 7"),
    BODY_BAD("0\r\nX: a\nb\r\n\r\n", EB, "bare LF line ending at offset 7"),
    BODY_BAD("0\r\nX: a\rb\r\n\r\n", EB, "CR not followed by LF at offset 8"),
    BODY_BAD("0\r\n(: a\r\n\r\n", EB, "invalid character 0x28 in trailer field name at offset 3"),
    BODY_BAD("0\r\nX(: a\r\n\r\n", EB, "invalid character 0x28 in trailer field name at offset 4"),
    BODY_BAD("0\r\n\n", EB, "bare LF line ending at offset 3"),
    BODY_BAD("0\r\n\rX", EB, "CR not followed by LF at offset 4"),
};

static void chunked_errors(void **state)
{
	for (size_t i = 0; i < sizeof(body_errors) / sizeof(body_errors[0]); i++) {
		const struct body_error_case *c = &body_errors[i];

		/* At once and one byte at a time: the same error at the same offset. */
		for (size_t step = 0; step <= 1; step++) {
			char out[64], err[200] = "";
			struct sink s = {out, sizeof(out), 0, 0, 0};
			struct h1_body b;
			struct h1_head h;
			long rc;

			body_init_head(&b, H1_RESPONSE,
				       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
				       "GET", &h);
			rc = feed_steps(&b, c->in, c->len, step, &s, err, sizeof(err));
			if (rc != c->rc || strcmp(err, c->msg) != 0)
				fail_msg("case %zu step %zu: got %ld \"%s\", want %d \"%s\"", i,
					 step, rc, err, c->rc, c->msg);
			/* A failed body stays failed. */
			assert_int_equal(
			    h1_body_feed(&b, "0\r\n\r\n", 5, NULL, NULL, err, sizeof(err)),
			    -EBADMSG);
			assert_false(h1_body_done(&b));
		}
	}
}

static void chunked_caps(void **state)
{
	static char buf[H1_MAX_TRAILER + 256];
	struct h1_body b;
	struct h1_head h;
	char err[200];
	size_t n;
	int rc;

	/* A chunk-size line of exactly the cap passes; one more byte is refused. */
	body_init_head(&b, H1_REQUEST,
		       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", NULL,
		       &h);
	memset(buf, '0', H1_MAX_CHUNK_LINE - 2);
	buf[H1_MAX_CHUNK_LINE - 2] = '1';
	memcpy(buf + H1_MAX_CHUNK_LINE - 1, "\r\nx\r\n0\r\n\r\n", 10);
	rc = h1_body_feed(&b, buf, H1_MAX_CHUNK_LINE + 9, NULL, NULL, err, sizeof(err));
	assert_int_equal(rc, H1_MAX_CHUNK_LINE + 9);
	assert_true(h1_body_done(&b));

	body_init_head(&b, H1_REQUEST,
		       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", NULL,
		       &h);
	memcpy(buf, "1;", 2);
	memset(buf + 2, 'e', H1_MAX_CHUNK_LINE);
	rc = h1_body_feed(&b, buf, H1_MAX_CHUNK_LINE + 2, NULL, NULL, err, sizeof(err));
	assert_int_equal(rc, -E2BIG);
	assert_string_equal(err, "chunk-size line longer than 4096 bytes at offset 4096");

	/* Trailer section: the cap counts every byte after the last-chunk line. */
	body_init_head(&b, H1_REQUEST,
		       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", NULL,
		       &h);
	n = (size_t)sprintf(buf, "0\r\nX: ");
	memset(buf + n, 'v', H1_MAX_TRAILER - 7);
	n += H1_MAX_TRAILER - 7;
	memcpy(buf + n, "\r\n\r\n", 4);
	rc = h1_body_feed(&b, buf, n + 4, NULL, NULL, err, sizeof(err));
	assert_int_equal(rc, n + 4);
	assert_true(h1_body_done(&b));
	body_init_head(&b, H1_REQUEST,
		       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", NULL,
		       &h);
	buf[n - 1] = 'v';
	memcpy(buf + n, "v\r\n\r\n", 5);
	rc = h1_body_feed(&b, buf, n + 5, NULL, NULL, err, sizeof(err));
	assert_int_equal(rc, -E2BIG);
	assert_string_equal(err, "trailer section larger than 16384 bytes at offset 16387");
}

static void length_and_eof(void **state)
{
	char out[64], err[200];
	struct sink s = {out, sizeof(out), 0, 0, 0};
	struct h1_body b;
	struct h1_head h;

	/* Content-Length: stops exactly at the end, leaving the next message. */
	body_init_head(&b, H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", &h);
	assert_int_equal(h1_body_feed(&b, "he", 2, sink_cb, &s, err, sizeof(err)), 2);
	assert_int_equal(h1_body_feed(&b, "lloHTTP/1.1", 11, sink_cb, &s, err, sizeof(err)), 3);
	assert_true(h1_body_done(&b));
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(h1_body_eof(&b, err, sizeof(err)), 0);

	/* Truncated bodies are errors at close. */
	body_init_head(&b, H1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", &h);
	assert_int_equal(h1_body_feed(&b, "he", 2, NULL, NULL, err, sizeof(err)), 2);
	assert_int_equal(h1_body_eof(&b, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "connection closed with 3 body bytes missing at offset 2");
	body_init_head(&b, H1_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		       "GET", &h);
	assert_int_equal(h1_body_feed(&b, "5\r\nhello\r\n", 10, NULL, NULL, err, sizeof(err)), 10);
	assert_int_equal(h1_body_eof(&b, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "connection closed inside chunked body at offset 10");

	/* Until close: everything is payload, the close ends it cleanly. */
	s.len = 0;
	body_init_head(&b, H1_RESPONSE, "HTTP/1.0 200 OK\r\n\r\n", "GET", &h);
	assert_int_equal(h1_body_feed(&b, "data: 1\n\n", 9, sink_cb, &s, err, sizeof(err)), 9);
	assert_int_equal(h1_body_feed(&b, "HTTP/1.1 200", 12, sink_cb, &s, err, sizeof(err)), 12);
	assert_false(h1_body_done(&b));
	assert_int_equal(h1_body_eof(&b, err, sizeof(err)), 0);
	assert_true(h1_body_done(&b));
	assert_int_equal(s.len, 21);

	/* The callback can stop the body; the error comes back and the body stays failed. */
	s.len = 0;
	s.stop_after = 3;
	body_init_head(&b, H1_REQUEST,
		       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", NULL,
		       &h);
	assert_int_equal(
	    h1_body_feed(&b, "5\r\nhello\r\n0\r\n\r\n", 15, sink_cb, &s, err, sizeof(err)),
	    -ECANCELED);
	assert_int_equal(h1_body_feed(&b, "0\r\n\r\n", 5, sink_cb, &s, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "body already failed at offset 8");
	assert_int_equal(h1_body_eof(&b, err, sizeof(err)), -EBADMSG);
}

static void pipelined_requests(void **state)
{
	static const char two[] = "POST /v1/embeddings HTTP/1.1\r\nHost: api.openai.com\r\n"
				  "Content-Length: 11\r\n\r\n{\"input\":1}"
				  "\r\n" /* stray CRLF some clients add after a body */
				  "POST /v1/chat HTTP/1.1\r\nHost: api.openai.com\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
				  "GET /third HTTP/1.1\r\n";
	char out[64], err[200];
	struct sink s = {out, sizeof(out), 0, 0, 0};
	struct h1_head h;
	struct h1_body b;
	size_t off = 0;
	int rc;

	rc = h1_parse_head(LIT(two), H1_REQUEST, &h, err, sizeof(err));
	assert_true(rc > 0);
	assert_span(h.target, "/v1/embeddings");
	off += (size_t)rc;
	h1_body_init(&b, &h, NULL, 0);
	rc = h1_body_feed(&b, two + off, sizeof(two) - 1 - off, sink_cb, &s, err, sizeof(err));
	assert_int_equal(rc, 11);
	assert_true(h1_body_done(&b));
	assert_memory_equal(out, "{\"input\":1}", 11);
	off += (size_t)rc;

	rc = h1_parse_head(two + off, sizeof(two) - 1 - off, H1_REQUEST, &h, err, sizeof(err));
	assert_true(rc > 0);
	assert_span(h.target, "/v1/chat");
	assert_true(h.chunked);
	off += (size_t)rc;
	s.len = 0;
	h1_body_init(&b, &h, NULL, 0);
	rc = h1_body_feed(&b, two + off, sizeof(two) - 1 - off, sink_cb, &s, err, sizeof(err));
	assert_int_equal(rc, 12);
	assert_int_equal(s.len, 2);
	off += (size_t)rc;

	/* The third is incomplete: the parser waits. */
	assert_int_equal(
	    h1_parse_head(two + off, sizeof(two) - 1 - off, H1_REQUEST, &h, err, sizeof(err)), 0);
	assert_memory_equal(two + off, "GET /third", 10);
}

static void expect_continue_flow(void **state)
{
	static const char req[] = "POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				  "Content-Length: 4\r\n\r\n";
	static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
				   "Content-Length: 2\r\n\r\nok";
	struct h1_head h, r;
	struct h1_body b;
	int rc;

	rc = h1_parse_head(LIT(req), H1_REQUEST, &h, NULL, 0);
	assert_int_equal(rc, sizeof(req) - 1);
	assert_true(h.expect_100_continue);
	/* The interim response has no body; the final one follows right after it. */
	rc = h1_parse_head(LIT(resp), H1_RESPONSE, &r, NULL, 0);
	assert_int_equal(rc, 25);
	h1_body_init(&b, &r, h.method.p, h.method.len);
	assert_true(h1_body_done(&b));
	rc = h1_parse_head(resp + 25, sizeof(resp) - 1 - 25, H1_RESPONSE, &r, NULL, 0);
	assert_true(rc > 0);
	assert_int_equal(r.status, 200);
	h1_body_init(&b, &r, h.method.p, h.method.len);
	assert_int_equal(b.mode, H1_BODY_LENGTH);
}

static void real_traffic(void **state)
{
	char out[512], err[200];
	struct sink s = {out, sizeof(out), 0, 0, 0};
	struct h1_head q, r;
	struct h1_body b;
	int rc;

	rc = h1_parse_head(LIT(real_curl_get), H1_REQUEST, &q, err, sizeof(err));
	assert_int_equal(rc, sizeof(real_curl_get) - 1);
	assert_span(q.method, "GET");
	assert_span(q.target, "/hello.json");
	assert_span(q.host, "127.0.0.1:18081");
	assert_span(h1_header_find(&q, "user-agent")->value, "curl/7.88.1");
	assert_true(q.keep_alive);

	rc = h1_parse_head(LIT(real_pyserver_200), H1_RESPONSE, &r, err, sizeof(err));
	assert_true(rc > 0);
	assert_int_equal(r.version, 10);
	assert_int_equal(r.status, 200);
	assert_false(r.keep_alive); /* HTTP/1.0 without keep-alive */
	assert_int_equal(r.content_length, 38);
	h1_body_init(&b, &r, q.method.p, q.method.len);
	assert_int_equal(h1_body_feed(&b, real_pyserver_200 + rc,
				      sizeof(real_pyserver_200) - 1 - rc, sink_cb, &s, err,
				      sizeof(err)),
			 38);
	assert_true(h1_body_done(&b));
	assert_memory_equal(out, "{\"model\":\"gpt-4o-mini\",\"stream\":true}\n", 38);

	rc = h1_parse_head(LIT(real_curl_post), H1_REQUEST, &q, err, sizeof(err));
	assert_true(rc > 0);
	assert_int_equal(q.content_length, 81);
	assert_span(h1_header_find(&q, "authorization")->value, "Bearer sk-test-not-a-key");
	s.len = 0;
	h1_body_init(&b, &q, NULL, 0);
	assert_int_equal(h1_body_feed(&b, real_curl_post + rc, sizeof(real_curl_post) - 1 - rc,
				      sink_cb, &s, err, sizeof(err)),
			 81);
	assert_true(h1_body_done(&b));

	rc = h1_parse_head(LIT(real_pyserver_501), H1_RESPONSE, &r, err, sizeof(err));
	assert_true(rc > 0);
	assert_int_equal(r.status, 501);
	assert_span(r.reason, "Unsupported method ('POST')");
	assert_false(r.keep_alive);
	s.len = 0;
	h1_body_init(&b, &r, q.method.p, q.method.len);
	assert_int_equal(h1_body_feed(&b, real_pyserver_501 + rc,
				      sizeof(real_pyserver_501) - 1 - rc, sink_cb, &s, err,
				      sizeof(err)),
			 357);
	assert_true(h1_body_done(&b));
}

/* ---- serialization ---- */

static bool span_same(struct h1_span a, struct h1_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void assert_same_head(const struct h1_head *a, const struct h1_head *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->status, b->status);
	assert_true(span_same(a->method, b->method));
	assert_true(span_same(a->target, b->target));
	assert_int_equal(a->target_form, b->target_form);
	assert_true(span_same(a->reason, b->reason));
	assert_int_equal(a->nheaders, b->nheaders);
	for (size_t i = 0; i < a->nheaders; i++) {
		assert_true(span_same(a->headers[i].name, b->headers[i].name));
		assert_true(span_same(a->headers[i].value, b->headers[i].value));
	}
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->chunked, b->chunked);
	assert_int_equal(a->expect_100_continue, b->expect_100_continue);
	assert_int_equal(a->upgrade, b->upgrade);
	assert_true(span_same(a->host, b->host));
	assert_int_equal(a->host.p == NULL, b->host.p == NULL);
}

static void round_trips(void **state)
{
	char out[H1_MAX_HEAD];

	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *c = &valid_cases[i];
		struct h1_head h, again;
		int n, rc;

		if (c->version != 11)
			continue; /* the writer speaks HTTP/1.1 only */
		assert_true(h1_parse_head(c->in, strlen(c->in), c->kind, &h, NULL, 0) > 0);
		if (c->kind == H1_REQUEST)
			n = h1_write_request_head(out, sizeof(out), h.method, h.target, h.headers,
						  h.nheaders, NULL);
		else
			n = h1_write_response_head(out, sizeof(out), h.status, h.reason, h.headers,
						   h.nheaders, NULL);
		assert_true(n > 0);
		rc = h1_parse_head(out, (size_t)n, c->kind, &again, NULL, 0);
		assert_int_equal(rc, n);
		assert_same_head(&h, &again);
		assert_int_equal(h.keep_alive, again.keep_alive);
	}
}

static void write_exact_bytes(void **state)
{
	static const char in[] =
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
	    "Connection: keep-alive, X-Trace\r\nKeep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\n"
	    "X-Trace: abc\r\nx-trace: def\r\nTransfer-Encoding: chunked\r\n"
	    "Authorization: Bearer k\r\nContent-Type: application/json\r\n\r\n";
	const struct h1_header close_hdr = {span_of("Connection"), span_of("close")};
	struct h1_write_opts o = {.framing = H1_FRAMING_LENGTH,
				  .content_length = 42,
				  .strip_hop_by_hop = true,
				  .extra = &close_hdr,
				  .nextra = 1};
	struct h1_head h, again;
	char out[1024];
	int n;

	assert_true(h1_parse_head(LIT(in), H1_REQUEST, &h, NULL, 0) > 0);
	n = h1_write_request_head(out, sizeof(out), h.method, h.target, h.headers, h.nheaders, &o);
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "POST /v1/chat/completions HTTP/1.1\r\n"
				 "Host: api.openai.com\r\n"
				 "Authorization: Bearer k\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: 42\r\n"
				 "Connection: close\r\n"
				 "\r\n");
	assert_int_equal(h1_parse_head(out, (size_t)n, H1_REQUEST, &again, NULL, 0), n);
	assert_int_equal(again.content_length, 42);
	assert_false(again.keep_alive);

	/* Re-framed as chunked, without stripping: Connection stays, old TE is replaced. */
	o = (struct h1_write_opts){.framing = H1_FRAMING_CHUNKED};
	n = h1_write_response_head(out, sizeof(out), 200, span_of("OK"), h.headers + 1, 1, &o);
	out[n] = 0;
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Trace\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n");
	/* NONE drops framing fields from the list; an empty reason keeps its SP. */
	o = (struct h1_write_opts){.framing = H1_FRAMING_NONE};
	n = h1_write_response_head(out, sizeof(out), 204, span_of(""), h.headers, h.nheaders, &o);
	out[n] = 0;
	assert_null(strstr(out, "Transfer-Encoding"));
	assert_memory_equal(out, "HTTP/1.1 204 \r\nHost:", 20);
	/* VERBATIM keeps Content-Length but strip still drops Transfer-Encoding. */
	o = (struct h1_write_opts){.framing = H1_FRAMING_VERBATIM, .strip_hop_by_hop = true};
	n = h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/"), h.headers,
				  h.nheaders, &o);
	out[n] = 0;
	assert_null(strstr(out, "Transfer-Encoding"));
	assert_null(strstr(out, "X-Trace"));
	assert_null(strstr(out, "x-trace"));
	assert_non_null(strstr(out, "Authorization: Bearer k\r\n"));
}

static void write_rejects_injection(void **state)
{
	struct h1_header bad[] = {
	    {span_of("X"), span_of("a\r\nInjected: 1")},
	};
	struct h1_header badname[] = {
	    {span_of("X Y"), span_of("v")},
	};
	struct h1_header nul[] = {
	    {span_of("X"), {"a\0b", 3}},
	};
	struct h1_write_opts o = {.framing = H1_FRAMING_NONE, .extra = bad, .nextra = 1};
	struct h1_write_opts bogus = {.framing = 0};
	char out[256];

	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/"), bad, 1, NULL),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/"), badname, 1, NULL),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/"), nul, 1, NULL),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/"), NULL, 0, &o),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/"), NULL, 0, &bogus),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("G T"), span_of("/"), NULL, 0, NULL),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of("/ x"), NULL, 0, NULL),
	    -EINVAL);
	assert_int_equal(
	    h1_write_request_head(out, sizeof(out), span_of("GET"), span_of(""), NULL, 0, NULL),
	    -EINVAL);
	assert_int_equal(h1_write_response_head(out, sizeof(out), 99, span_of("x"), NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(h1_write_response_head(out, sizeof(out), 600, span_of("x"), NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(
	    h1_write_response_head(out, sizeof(out), 200, span_of("O\r\nK"), NULL, 0, NULL),
	    -EINVAL);
}

static void write_enospc(void **state)
{
	const struct h1_header hdrs[] = {
	    {span_of("Host"), span_of("api.openai.com")},
	    {span_of("Content-Type"), span_of("text/event-stream")},
	};
	const struct h1_header extra = {span_of("Connection"), span_of("close")};
	struct h1_write_opts o = {
	    .framing = H1_FRAMING_LENGTH, .content_length = 1234, .extra = &extra, .nextra = 1};
	char full[256], out[256];
	int n, m;

	/* Every capacity short of the full length fails cleanly and writes nothing past it. */
	n = h1_write_request_head(full, sizeof(full), span_of("POST"), span_of("/v1/x"), hdrs, 2,
				  &o);
	assert_true(n > 0);
	for (int cap = 0; cap <= n; cap++) {
		memset(out, 'Z', sizeof(out));
		m = h1_write_request_head(out, (size_t)cap, span_of("POST"), span_of("/v1/x"), hdrs,
					  2, &o);
		assert_int_equal(m, cap == n ? n : -ENOSPC);
		assert_int_equal(out[cap], 'Z');
	}
	assert_memory_equal(out, full, (size_t)n);
	n = h1_write_response_head(full, sizeof(full), 200, span_of("OK"), hdrs, 2, &o);
	for (int cap = 0; cap <= n; cap++) {
		memset(out, 'Z', sizeof(out));
		m = h1_write_response_head(out, (size_t)cap, 200, span_of("OK"), hdrs, 2, &o);
		assert_int_equal(m, cap == n ? n : -ENOSPC);
		assert_int_equal(out[cap], 'Z');
	}
	for (int cap = 0; cap < 10; cap++)
		assert_int_equal(h1_write_chunk(out, (size_t)cap, "hello", 5), -ENOSPC);
	assert_int_equal(h1_write_chunk(out, 10, "hello", 5), 10);
	assert_memory_equal(out, "5\r\nhello\r\n", 10);
	for (int cap = 0; cap < 5; cap++)
		assert_int_equal(h1_write_last_chunk(out, (size_t)cap), -ENOSPC);
	assert_int_equal(h1_write_last_chunk(out, 5), 5);
	assert_memory_equal(out, "0\r\n\r\n", 5);
}

static void chunk_writer_round_trip(void **state)
{
	static char wire[1 << 18];
	static char payload[1 << 17], got[1 << 17];
	struct sink s = {got, sizeof(got), 0, 0, 0};
	const size_t sizes[] = {1, 15, 16, 255, 256, 4096, 65535, 60000};
	struct h1_body b;
	struct h1_head h;
	size_t off = 0, p = 0;
	char err[200];
	int n;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i * 7);
	assert_int_equal(h1_write_chunk(wire, sizeof(wire), "x", 0), 0); /* never an end marker */
	assert_int_equal(h1_write_chunk(wire, 64, "abc", 3), 8);
	assert_memory_equal(wire, "3\r\nabc\r\n", 8);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = h1_write_chunk(wire + off, sizeof(wire) - off, payload + p, sizes[i]);
		assert_true(n > 0);
		off += (size_t)n;
		p += sizes[i];
	}
	off += (size_t)h1_write_last_chunk(wire + off, sizeof(wire) - off);
	body_init_head(&b, H1_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		       "POST", &h);
	assert_int_equal(feed_steps(&b, wire, off, 777, &s, err, sizeof(err)), off);
	assert_true(h1_body_done(&b));
	assert_int_equal(s.len, p);
	assert_memory_equal(got, payload, p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_heads),
	    cmocka_unit_test(upgrade_websocket),
	    cmocka_unit_test(header_spans_and_find),
	    cmocka_unit_test(invalid_heads),
	    cmocka_unit_test(caps),
	    cmocka_unit_test(every_split_point),
	    cmocka_unit_test(framing_decisions),
	    cmocka_unit_test(chunked_bytewise_equals_whole),
	    cmocka_unit_test(partial_chunk_streams),
	    cmocka_unit_test(chunked_errors),
	    cmocka_unit_test(chunked_caps),
	    cmocka_unit_test(length_and_eof),
	    cmocka_unit_test(pipelined_requests),
	    cmocka_unit_test(expect_continue_flow),
	    cmocka_unit_test(real_traffic),
	    cmocka_unit_test(round_trips),
	    cmocka_unit_test(write_exact_bytes),
	    cmocka_unit_test(write_rejects_injection),
	    cmocka_unit_test(write_enospc),
	    cmocka_unit_test(chunk_writer_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
