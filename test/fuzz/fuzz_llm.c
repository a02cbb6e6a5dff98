/* fuzz_llm: libFuzzer driver for a whole llm_call (llm*.c): request routing and body reading,
 * response framing (SSE or JSON, gzip or not), the three wire formats, the estimate, rewrites and
 * error answers, and a Realtime session's WebSocket frames after a 101. Input: byte 0 picks the
 * request line, byte 1 the response (bit 0 complete, bits
 * 1-2 Content-Type, bit 3 gzip, bit 4 small caps, bits 5-7 status), byte 2 seeds the split points,
 * bytes 3-4 the request body length (little endian), then the request body, then the response.
 * Beyond "no crash" it checks that the result is the same whatever the response split; that every
 * reported string is NUL-terminated, capped and free of control characters; that text iteration
 * adds up to request_text_bytes; that a rewritten body is the original with only "model" changed
 * (and a rewritten path reads back as the new model); and that our error answers are JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/llm.c"
#include "../../userspace/llm_anthropic.c"
#include "../../userspace/llm_error.c"
#include "../../userspace/llm_gemini.c"
#include "../../userspace/llm_inflate.c"
#include "../../userspace/llm_json.c"
#include "../../userspace/jsonload.c"
#include "../../userspace/llm_openai.c"
#include "../../userspace/llm_realtime.c"
#include "../../userspace/llm_rewrite.c"
#include "../../userspace/llm_route.c"
#include "../../userspace/llm_sse.c"
#include "../../userspace/utf8.c"
#include "../../userspace/wsframe.c"

static const struct {
	const char *host, *method, *path;
} fuzz_routes[] = {
    {"api.openai.com", "POST", "/v1/chat/completions"},
    {"api.openai.com", "POST", "/v1/responses"},
    {"api.openai.com", "POST", "/v1/embeddings"},
    {"api.openai.com", "POST", "/v1/completions"},
    {"res.openai.azure.com", "POST", "/openai/deployments/dep-1/chat/completions?api-version=1"},
    {"res.openai.azure.com", "POST", "/openai/v1/responses"},
    {"api.anthropic.com", "POST", "/v1/messages"},
    {"api.anthropic.com", "POST", "/v1/messages/count_tokens"},
    {"generativelanguage.googleapis.com", "POST",
     "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"},
    {"generativelanguage.googleapis.com", "POST",
     "/v1beta/models/gemini-2.0-flash:generateContent"},
    {"generativelanguage.googleapis.com", "POST", "/v1beta/models/text-embedding-004:embedContent"},
    {"api.groq.com", "POST", "/openai/v1/chat/completions"},
    {"api.x.ai", "POST", "/v1/messages"},
    {"openrouter.ai", "POST", "/api/v1/chat/completions"},
    {"api.cohere.com", "POST", "/v2/chat"},
    {"api.openai.com", "GET", "/v1/models"},
    {"api.openai.com", "GET", "/v1/realtime?model=gpt-realtime"},
};

static const char *const fuzz_ctypes[] = {NULL, "text/event-stream", "application/json",
					  "text/html"};
static const int fuzz_statuses[] = {200, 200, 101, 400, 429, 500, 0, 201};

struct fuzz_input {
	size_t route;
	unsigned flags;
	uint32_t seed;
	const char *req, *resp;
	size_t req_len, resp_len;
};

static size_t fuzz_next(uint32_t *st, size_t max)
{
	*st = *st * 1103515245u + 12345u;
	return 1 + (*st >> 8) % max;
}

static struct llm_call *fuzz_run(const struct fuzz_input *in, bool split)
{
	struct http_field rf[2];
	size_t nrf = 0;
	int status = fuzz_statuses[in->flags >> 5 & 7];
	const char *ctype = fuzz_ctypes[in->flags >> 1 & 3];
	struct llm_call *c =
	    llm_call_new(fuzz_routes[in->route].host, fuzz_routes[in->route].method,
			 fuzz_routes[in->route].path, NULL, 0);
	uint32_t seed = in->seed;

	if (!c)
		abort();
	if (in->flags & 16)
		llm_call_set_limits(c, 64, 256);
	llm_request_body(c, in->req, in->req_len);
	if (status) {
		if (ctype)
			rf[nrf++] = (struct http_field){"Content-Type", ctype, 12, strlen(ctype)};
		if (in->flags & 8)
			rf[nrf++] = (struct http_field){"Content-Encoding", "gzip", 16, 4};
		llm_response_head(c, status, rf, nrf);
		if (!split) {
			llm_response_data(c, in->resp, in->resp_len);
		} else {
			for (size_t off = 0; off < in->resp_len;) {
				size_t k = fuzz_next(
				    &seed, in->resp_len - off < 61 ? in->resp_len - off : 61);

				llm_response_data(c, in->resp + off, k);
				off += k;
			}
		}
	}
	llm_response_end(c, in->flags & 1);
	return c;
}

static bool fuzz_str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void fuzz_check_string(const char *s)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	if (n > LLM_STRING_CAP)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static void fuzz_same_info(const struct llm_info *a, const struct llm_info *b)
{
	if (a->provider != b->provider || a->endpoint != b->endpoint || a->dialect != b->dialect ||
	    !fuzz_str_same(a->model_requested, b->model_requested) ||
	    !fuzz_str_same(a->model_served, b->model_served) ||
	    !fuzz_str_same(a->error_type, b->error_type) ||
	    !fuzz_str_same(a->error_code, b->error_code) ||
	    !fuzz_str_same(a->error_message, b->error_message) ||
	    memcmp(&a->usage, &b->usage, sizeof(a->usage)) != 0 || a->has_usage != b->has_usage ||
	    a->usage_estimated != b->usage_estimated ||
	    a->generated_text_bytes != b->generated_text_bytes || a->sse_events != b->sse_events ||
	    a->oversized_events != b->oversized_events || a->body_truncated != b->body_truncated ||
	    a->body_undecodable != b->body_undecodable || a->response_bytes != b->response_bytes)
		abort();
}

static int fuzz_sum_text(void *ctx, const char *role, const char *text, size_t len)
{
	uint64_t *sum = ctx;

	if (!role || (len && !text))
		abort();
	*sum += len;
	return 0;
}

static void fuzz_check_rewrite(const struct llm_call *c, const struct fuzz_input *in)
{
	static const char model[] = "fuzz-model-1";
	struct llm_rewrite rw;
	char err[256];
	int rc = llm_rewrite_model(c, in->req, in->req_len, model, &rw, err, sizeof(err));

	if (rc < 0) {
		if (rw.body || rw.path || err[0] == '\0')
			abort();
		return;
	}
	if (rw.body) {
		json_t *orig = json_loadb(in->req, in->req_len, JSON_ALLOW_NUL, NULL);
		json_t *now = json_loadb(rw.body, rw.body_len, JSON_ALLOW_NUL, NULL);

		if (!orig || !now || strlen(rw.body) > rw.body_len)
			abort();
		if (json_object_set_new(orig, "model", json_string(model)) != 0 ||
		    !json_equal(orig, now))
			abort();
		json_decref(orig);
		json_decref(now);
	}
	if (rw.path) {
		struct llm_call *again =
		    llm_call_new(fuzz_routes[in->route].host, "POST", rw.path, NULL, 0);

		if (!again || !fuzz_str_same(llm_info(again)->model_requested, model))
			abort();
		llm_call_free(again);
	}
	if (!rw.body && !rw.path)
		abort();
	llm_rewrite_free(&rw);
}

static void fuzz_check_replies(const struct llm_call *c)
{
	struct llm_reply r;

	for (int sse = 0; sse < 2; sse++) {
		json_t *j;
		const char *p;
		size_t len;

		if (llm_error_reply(llm_info(c)->dialect, sse,
				    llm_info(c)->endpoint == LLM_EP_RESPONSES, 403,
				    "blocked_by_policy", "fuzz \"msg\"\n", &r) != 0)
			abort();
		p = r.body;
		len = r.body_len;
		if (strcmp(r.content_type, "text/event-stream") == 0) {
			const char *d = strstr(p, "data: ");

			if (!d || len < 2 || memcmp(p + len - 2, "\n\n", 2) != 0)
				abort();
			len -= (size_t)(d + 6 - p) + 2;
			p = d + 6;
		}
		j = json_loadb(p, len, 0, NULL);
		if (!json_is_object(j))
			abort();
		json_decref(j);
		llm_reply_free(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct llm_call *a, *b;
	const struct llm_info *ia;
	uint64_t sum = 0;

	if (size < 5 || size > (1 << 20))
		return 0;
	in.route = data[0] % (sizeof(fuzz_routes) / sizeof(fuzz_routes[0]));
	in.flags = data[1];
	in.seed = data[2];
	in.req_len = (size_t)data[3] | (size_t)data[4] << 8;
	if (in.req_len > size - 5)
		in.req_len = size - 5;
	in.req = (const char *)data + 5;
	in.resp = in.req + in.req_len;
	in.resp_len = size - 5 - in.req_len;

	a = fuzz_run(&in, false);
	b = fuzz_run(&in, true);
	ia = llm_info(a);
	fuzz_same_info(ia, llm_info(b));

	if (!ia->provider_name || !ia->endpoint_name)
		abort();
	fuzz_check_string(ia->model_requested);
	fuzz_check_string(ia->model_served);
	fuzz_check_string(ia->error_type);
	fuzz_check_string(ia->error_code);
	fuzz_check_string(ia->error_message);
	if ((ia->usage_estimated && !ia->has_usage) || ia->oversized_events > ia->sse_events ||
	    (!ia->sse && ia->sse_events))
		abort();
	if (ia->request_parsed) {
		if (llm_request_text_foreach(a, fuzz_sum_text, &sum) != 0 ||
		    sum != ia->request_text_bytes)
			abort();
		if (llm_request_strings_foreach(a, fuzz_sum_text, &sum) != 0)
			abort();
		fuzz_check_rewrite(a, &in);
	}
	fuzz_check_replies(a);
	llm_call_free(a);
	llm_call_free(b);
	return 0;
}
