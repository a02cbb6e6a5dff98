/* fuzz_ilog_format: libFuzzer driver for the intercept log's output side (table lines and JSON of
 * records and keys), whose strings come from other programs. Input: 112 bytes of numbers, then
 * NUL-separated fields (host, exe, user, provider, endpoint, models, tags, key fields, rule,
 * error, usage hosts/users/exes), then the request and response payloads. Beyond "no crash" it
 * checks: table output is terminated, its length is returned, it holds no control byte (key
 * output: only the '\n' between usage lines, exactly one per usage entry) and is valid UTF-8, also
 * when cut by a small buffer; the JSON always serializes and parses back, a string field that was
 * valid UTF-8 comes back byte for byte, any other comes back as valid UTF-8 of at least the valid
 * bytes' length; a payload comes back as its exact text or as base64 that decodes to its bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/ilog_format.c"
#include "../../userspace/utf8.c"

#define FUZZ_NUM 112

struct fuzz_nums {
	int64_t start_ms, cost_micro, ttfb_ms, total_ms, tokens_in, tokens_out;
	int64_t id, first_seen, last_seen, spend;
	uint32_t pid, uid, leaked, status, dec, state, flags, rule;
};
_Static_assert(sizeof(struct fuzz_nums) <= FUZZ_NUM, "numbers fit the prefix");

static bool fuzz_utf8_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t l = utf8_char_len((const unsigned char *)s + i, n - i);

		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* Next NUL-separated piece of the input; empty when exhausted. */
static const char *fuzz_next(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *start = *p, *nul;

	if (start >= end) {
		*len = 0;
		return "";
	}
	nul = memchr(start, 0, (size_t)(end - start));
	*len = nul ? (size_t)(nul - start) : (size_t)(end - start);
	*p = nul ? nul + 1 : end;
	return (const char *)start;
}

/* Copies a piece into a field (at most cap - 1 bytes; may cut a UTF-8 sequence: fine). */
static void fuzz_field(char *dst, size_t cap, const uint8_t **p, const uint8_t *end)
{
	size_t len;
	const char *s = fuzz_next(p, end, &len);

	if (len > cap - 1)
		len = cap - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

/* Returns the number of '\n' (at most <newlines>). */
static size_t fuzz_check_table(const char *buf, size_t n, size_t cap, size_t newlines)
{
	size_t nl = 0;

	if (n >= cap || strlen(buf) != n || !fuzz_utf8_ok(buf, n))
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n')
			nl++;
		else if (c < 0x20 || c == 0x7f)
			abort();
	}
	if (nl > newlines)
		abort();
	return nl;
}

static int fuzz_b64_val(char c)
{
	const char *p = strchr(ilog_b64, c);

	return c && p ? (int)(p - ilog_b64) : -1;
}

/* The payload object must hold <data> exactly, as text or as base64. */
static void fuzz_check_payload(json_t *o, const void *data, size_t len)
{
	json_t *text = json_object_get(o, "text"), *b64 = json_object_get(o, "base64");

	if ((size_t)json_integer_value(json_object_get(o, "stored")) != len)
		abort();
	if (text) {
		if (json_string_length(text) != len ||
		    (len && memcmp(json_string_value(text), data, len) != 0))
			abort();
		return;
	}
	if (!b64 || fuzz_utf8_ok(data, len))
		abort();
	{
		const char *s = json_string_value(b64);
		size_t sl = json_string_length(b64), o2 = 0;
		unsigned char *out = malloc(sl / 4 * 3 + 3);

		if (sl % 4)
			abort();
		for (size_t i = 0; i < sl; i += 4) {
			int v[4];

			for (int k = 0; k < 4; k++)
				v[k] = s[i + k] == '=' ? 0 : fuzz_b64_val(s[i + k]);
			if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
				abort();
			out[o2++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
			if (s[i + 2] != '=')
				out[o2++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
			if (s[i + 3] != '=')
				out[o2++] = (unsigned char)(v[2] << 6 | v[3]);
		}
		if (o2 != len || memcmp(out, data, len) != 0)
			abort();
		free(out);
	}
}

static void fuzz_check_str(json_t *obj, const char *key, const char *in)
{
	json_t *v = json_object_get(obj, key);
	size_t n = strlen(in);

	if (!json_is_string(v))
		abort();
	if (fuzz_utf8_ok(in, n)) {
		if (json_string_length(v) != n || memcmp(json_string_value(v), in, n) != 0)
			abort();
	} else if (!fuzz_utf8_ok(json_string_value(v), json_string_length(v)) ||
		   json_string_length(v) < n) {
		abort();
	}
}

static json_t *fuzz_roundtrip(json_t *j)
{
	json_error_t je;
	char *s;
	json_t *back;

	if (!j)
		abort();
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		abort();
	back = json_loads(s, JSON_ALLOW_NUL, &je); /* payload text may hold U+0000 */
	free(s);
	if (!back)
		abort();
	return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[4096], keybuf[1 << 16];
	struct fuzz_nums nums = {0};
	struct ilog_row row;
	struct ilog_key_row key;
	struct ilog_key_usage usage[3];
	struct ilog_record *r = &row.rec;
	const uint8_t *p = data + (size < FUZZ_NUM ? size : FUZZ_NUM), *end = data + size;
	size_t n, small, rlen, plen;
	const char *payload;
	json_t *j;

	memcpy(&nums, data, size < sizeof(nums) ? size : sizeof(nums));
	memset(&row, 0, sizeof(row));
	memset(&key, 0, sizeof(key));
	memset(usage, 0, sizeof(usage));
	row.id = nums.id;
	r->start_ms = nums.start_ms;
	r->end_ms = (int64_t)((uint64_t)nums.start_ms + (uint64_t)nums.total_ms);
	r->cost_micro = nums.cost_micro;
	r->ttfb_ms = nums.ttfb_ms;
	r->total_ms = nums.total_ms;
	r->tokens_in = nums.tokens_in;
	r->tokens_out = nums.tokens_out;
	r->pid = nums.pid;
	r->uid = nums.uid;
	r->leaked_keys = nums.leaked;
	r->http_status = (int)nums.status;
	r->decision = (enum ilog_decision)(nums.dec % 5); /* 4: out of range on purpose */
	r->key_state = (enum ilog_key_state)(nums.state % 4);
	r->stream = nums.flags & 1;
	r->price_known = nums.flags & 2;
	r->estimated = nums.flags & 4;
	r->rule_index = (int32_t)nums.rule;
	fuzz_field(r->host, sizeof(r->host), &p, end);
	fuzz_field(r->exe, sizeof(r->exe), &p, end);
	fuzz_field(r->user, sizeof(r->user), &p, end);
	fuzz_field(r->provider, sizeof(r->provider), &p, end);
	fuzz_field(r->endpoint, sizeof(r->endpoint), &p, end);
	fuzz_field(r->model_requested, sizeof(r->model_requested), &p, end);
	fuzz_field(r->model_served, sizeof(r->model_served), &p, end);
	fuzz_field(r->tags, sizeof(r->tags), &p, end);
	fuzz_field(r->key_fp, sizeof(r->key_fp), &p, end);
	fuzz_field(r->key_last4, sizeof(r->key_last4), &p, end);
	fuzz_field(r->key_format, sizeof(r->key_format), &p, end);
	fuzz_field(r->rule_group, sizeof(r->rule_group), &p, end);
	fuzz_field(r->rule_trace, sizeof(r->rule_trace), &p, end);
	fuzz_field(r->error, sizeof(r->error), &p, end);
	for (int i = 0; i < 3; i++) {
		fuzz_field(usage[i].host, sizeof(usage[i].host), &p, end);
		fuzz_field(usage[i].user, sizeof(usage[i].user), &p, end);
		fuzz_field(usage[i].exe, sizeof(usage[i].exe), &p, end);
		usage[i].last_seen_ms = (int64_t)((uint64_t)nums.last_seen - (uint64_t)i);
		usage[i].requests = (uint64_t)i * nums.pid;
	}
	payload = fuzz_next(&p, end, &rlen);
	row.has_payload = nums.flags & 8;
	row.request = payload;
	row.request_stored = rlen;
	row.request_len = rlen + nums.pid;
	row.response = p;
	row.response_stored = plen = (size_t)(end - p);
	row.response_len = plen;

	/* Table line: full buffer, then cut short. */
	n = ilog_row_format(&row, line, sizeof(line));
	fuzz_check_table(line, n, sizeof(line), 0);
	small = 1 + nums.flags % 64;
	n = ilog_row_format(&row, line, small);
	fuzz_check_table(line, n, small, 0);
	n = ilog_row_header(line, sizeof(line));
	fuzz_check_table(line, n, sizeof(line), 0);

	/* JSON of the record. */
	{
		json_t *back = fuzz_roundtrip(ilog_row_json(&row));

		fuzz_check_str(back, "host", r->host);
		fuzz_check_str(back, "exe", r->exe);
		fuzz_check_str(back, "user", r->user);
		fuzz_check_str(back, "model_served", r->model_served);
		fuzz_check_str(back, "tags", r->tags);
		if (json_is_null(json_object_get(back, "key")) != !r->key_fp[0])
			abort();
		if (json_is_null(json_object_get(back, "cost_micro")) != !r->price_known)
			abort();
		if (row.has_payload) {
			json_t *pl = json_object_get(back, "payload");

			fuzz_check_payload(json_object_get(pl, "request"), payload, rlen);
			fuzz_check_payload(json_object_get(pl, "response"), row.response, plen);
		}
		json_decref(back);
	}

	/* A key built from the same fields. */
	memcpy(key.fingerprint, r->key_fp, sizeof(key.fingerprint));
	memcpy(key.provider, r->provider, sizeof(key.provider));
	memcpy(key.last4, r->key_last4, sizeof(key.last4));
	memcpy(key.format, r->key_format, sizeof(key.format));
	key.state = r->key_state;
	key.first_seen_ms = nums.first_seen;
	key.last_seen_ms = nums.last_seen;
	key.spend_micro = nums.spend;
	key.requests = nums.uid;
	key.unpriced = nums.leaked;
	key.nusage = nums.status % 4;
	key.usage = usage;
	n = ilog_key_format(&key, keybuf, sizeof(keybuf));
	if (fuzz_check_table(keybuf, n, sizeof(keybuf), key.nusage) != key.nusage)
		abort(); /* the buffer holds every usage line */
	n = ilog_key_format(&key, line, small);
	fuzz_check_table(line, n, small, key.nusage);
	j = fuzz_roundtrip(ilog_key_json(&key));
	fuzz_check_str(j, "fingerprint", key.fingerprint);
	if (json_array_size(json_object_get(j, "used_by")) != key.nusage)
		abort();
	for (size_t i = 0; i < key.nusage; i++)
		fuzz_check_str(json_array_get(json_object_get(j, "used_by"), i), "exe",
			       usage[i].exe);
	json_decref(j);

	/* Names parse back to their values. */
	{
		enum ilog_decision d;
		enum ilog_key_state s;

		if (r->decision <= ILOG_DECISION_BLOCK &&
		    (!ilog_decision_parse(ilog_decision_name(r->decision), &d) || d != r->decision))
			abort();
		if (r->key_state <= ILOG_KEY_SHADOW &&
		    (!ilog_key_state_parse(ilog_key_state_name(r->key_state), &s) ||
		     s != r->key_state))
			abort();
	}
	return 0;
}
