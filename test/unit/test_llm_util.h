/* test_llm_util: helpers shared by the test_llm*.c binaries: run one exchange through an llm_call
 * with the response split as asked, compare two llm_info results field by field, and check that
 * every split point of a response gives the same result as feeding it whole. */
#ifndef MODELUX_TEST_LLM_UTIL_H
#define MODELUX_TEST_LLM_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

#define LIT(s) s, sizeof(s) - 1

struct exch {
	const char *host, *method, *path;
	const char *req;	  /* request body (NUL-terminated) or NULL */
	int status;		  /* 0: no response head at all */
	const char *ctype;	  /* response Content-Type or NULL */
	const char *cenc;	  /* response Content-Encoding or NULL */
	const char *resp;	  /* response body */
	size_t resp_len;	  /* 0: strlen(resp) */
	bool cut;		  /* llm_response_end(complete=false) */
	size_t sse_cap, json_cap; /* 0: defaults */
};

static size_t exch_resp_len(const struct exch *e)
{
	return e->resp_len ? e->resp_len : (e->resp ? strlen(e->resp) : 0);
}

static struct http_field fld(const char *name, const char *value)
{
	return (struct http_field){name, value, strlen(name), strlen(value)};
}

/* Feed the response in pieces of <piece> bytes (0: at once), or split once at <at> when
 * <piece> is SIZE_MAX. */
static struct llm_call *run_split(const struct exch *e, size_t piece, size_t at)
{
	struct http_field rf[2];
	size_t nrf = 0, len = exch_resp_len(e);
	struct http_field qf = fld("Content-Type", "application/json");
	struct llm_call *c = llm_call_new(e->host, e->method ? e->method : "POST", e->path, &qf, 1);

	assert_non_null(c);
	llm_call_set_limits(c, e->sse_cap, e->json_cap);
	if (e->req)
		llm_request_body(c, e->req, strlen(e->req));
	if (e->status) {
		if (e->ctype)
			rf[nrf++] = fld("content-type", e->ctype);
		if (e->cenc)
			rf[nrf++] = fld("Content-Encoding", e->cenc);
		llm_response_head(c, e->status, rf, nrf);
		if (piece == SIZE_MAX) {
			llm_response_data(c, e->resp, at);
			llm_response_data(c, e->resp + at, len - at);
		} else if (piece == 0) {
			llm_response_data(c, e->resp, len);
		} else {
			for (size_t off = 0; off < len; off += piece)
				llm_response_data(c, e->resp + off,
						  len - off < piece ? len - off : piece);
		}
	}
	llm_response_end(c, !e->cut);
	return c;
}

static struct llm_call *run(const struct exch *e)
{
	return run_split(e, 0, 0);
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want) {
		if (got)
			fail_msg("got \"%s\", want NULL", got);
		return;
	}
	if (!got)
		fail_msg("got NULL, want \"%s\"", want);
	assert_string_equal(got, want);
}

static void assert_info_equal(const struct llm_info *a, const struct llm_info *b)
{
	assert_int_equal(a->provider, b->provider);
	assert_int_equal(a->dialect, b->dialect);
	assert_int_equal(a->endpoint, b->endpoint);
	assert_str_or_null(a->model_requested, b->model_requested);
	assert_str_or_null(a->model_served, b->model_served);
	assert_int_equal(a->stream, b->stream);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->sse, b->sse);
	assert_int_equal(a->usage.input, b->usage.input);
	assert_int_equal(a->usage.output, b->usage.output);
	assert_int_equal(a->usage.cached_input, b->usage.cached_input);
	assert_int_equal(a->usage.cache_write, b->usage.cache_write);
	assert_int_equal(a->usage.reasoning, b->usage.reasoning);
	assert_int_equal(a->has_usage, b->has_usage);
	assert_int_equal(a->usage_estimated, b->usage_estimated);
	assert_str_or_null(a->error_type, b->error_type);
	assert_str_or_null(a->error_code, b->error_code);
	assert_str_or_null(a->error_message, b->error_message);
	assert_int_equal(a->generated_text_bytes, b->generated_text_bytes);
	assert_int_equal(a->response_bytes, b->response_bytes);
	assert_int_equal(a->sse_events, b->sse_events);
	assert_int_equal(a->oversized_events, b->oversized_events);
	assert_int_equal(a->body_truncated, b->body_truncated);
	assert_int_equal(a->body_undecodable, b->body_undecodable);
}

/* The response split at every byte position, and fed one byte at a time, gives what feeding it
 * whole gives. */
static void check_every_split(const struct exch *e)
{
	struct llm_call *whole = run(e), *c;
	size_t len = exch_resp_len(e);

	for (size_t at = 1; at < len; at++) {
		c = run_split(e, SIZE_MAX, at);
		assert_info_equal(llm_info(c), llm_info(whole));
		llm_call_free(c);
	}
	for (size_t piece = 1; piece <= 7; piece++) {
		c = run_split(e, piece, 0);
		assert_info_equal(llm_info(c), llm_info(whole));
		llm_call_free(c);
	}
	llm_call_free(whole);
}

static void assert_usage(const struct llm_info *in, uint64_t input, uint64_t output,
			 uint64_t cached, uint64_t cache_write, uint64_t reasoning)
{
	assert_true(in->has_usage);
	assert_int_equal(in->usage.input, input);
	assert_int_equal(in->usage.output, output);
	assert_int_equal(in->usage.cached_input, cached);
	assert_int_equal(in->usage.cache_write, cache_write);
	assert_int_equal(in->usage.reasoning, reasoning);
}

/* Collects request text parts as "role:text|" */
struct text_log {
	char buf[4096];
	size_t len;
	int stop_after; /* return nonzero after this many parts (0: never) */
	int n;
};

static int text_log_cb(void *ctx, const char *role, const char *text, size_t len)
{
	struct text_log *t = ctx;
	int w =
	    snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s:%.*s|", role, (int)len, text);

	if (w > 0)
		t->len += (size_t)w;
	if (t->len >= sizeof(t->buf))
		t->len = sizeof(t->buf) - 1;
	t->n++;
	return (t->stop_after && t->n >= t->stop_after) ? 7 : 0;
}

#endif
