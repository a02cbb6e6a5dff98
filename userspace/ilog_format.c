/* ilog_format: names of the log's enums, and records and keys as table lines and JSON objects for
 * modeluxctl. Strings come from other programs (exe paths, users, tags, models from request
 * bodies): table cells replace control bytes and invalid UTF-8 with '?', JSON strings replace
 * invalid UTF-8 with U+FFFD. Borrows the rows it formats; the JSON is the caller's. */
#include "ilog.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const ilog_decision_names[] = {"none", "allow", "downgrade", "block"};
static const char *const ilog_key_state_names[] = {"none", "sanctioned", "shadow"};

#define ILOG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *ilog_decision_name(enum ilog_decision d)
{
	return (unsigned)d < ILOG_NELEM(ilog_decision_names) ? ilog_decision_names[d] : "?";
}

bool ilog_decision_parse(const char *s, enum ilog_decision *out)
{
	for (unsigned i = 0; s && i < ILOG_NELEM(ilog_decision_names); i++) {
		if (strcmp(s, ilog_decision_names[i]) == 0) {
			*out = (enum ilog_decision)i;
			return true;
		}
	}
	return false;
}

const char *ilog_key_state_name(enum ilog_key_state st)
{
	return (unsigned)st < ILOG_NELEM(ilog_key_state_names) ? ilog_key_state_names[st] : "?";
}

bool ilog_key_state_parse(const char *s, enum ilog_key_state *out)
{
	for (unsigned i = 0; s && i < ILOG_NELEM(ilog_key_state_names); i++) {
		if (strcmp(s, ilog_key_state_names[i]) == 0) {
			*out = (enum ilog_key_state)i;
			return true;
		}
	}
	return false;
}


/* Appends <s> as a table cell of <width> characters (0 = as long as it is, no padding): control
 * bytes and invalid UTF-8 become '?', a longer value is cut and ends in '~'. */
static void ilog_cell(char *buf, size_t *off, size_t cap, const char *s, size_t width)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), chars = 0, o = *off;

	while (*p && (!width || chars < width) && o + 5 < cap) {
		size_t len = utf8_char_len(p, n);

		if (width && chars == width - 1 && p[len ? len : 1]) {
			buf[o++] = '~';
			chars++;
			break;
		}
		if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
			buf[o++] = '?';
			len = 1;
		} else {
			memcpy(buf + o, p, len);
			o += len;
		}
		p += len;
		n -= len;
		chars++;
	}
	while (chars < width && o + 1 < cap) {
		buf[o++] = ' ';
		chars++;
	}
	if (o < cap)
		buf[o] = '\0';
	*off = o;
}

/* Appends printf output; keeps <*off> at most cap - 1. */
static void ilog_cat(char *buf, size_t *off, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ilog_cat(char *buf, size_t *off, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < cap ? *off + (size_t)n : cap - 1;
}

/* "2024-05-01T12:00:00.123Z", or "-" for 0 and times gmtime cannot represent. */
static void ilog_time(int64_t ms, char *buf, size_t cap)
{
	time_t sec;
	int msec;
	struct tm tm;

	/* Years 1 to 9999 only: four digits, and no overflow below. */
	if (ms == 0 || ms < -62135596800000LL || ms > 253402300799999LL) {
		snprintf(buf, cap, "-");
		return;
	}
	sec = (time_t)(ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1); /* floor */
	msec = (int)(ms - (int64_t)sec * 1000);
	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, cap, "-");
		return;
	}
	/* The range check above bounds every field; the modulos tell the compiler so. */
	snprintf(buf, cap, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)msec % 1000u);
}

/* Micro-dollars as dollars with six decimals. */
static void ilog_money(int64_t micro, char *buf, size_t cap)
{
	uint64_t mag = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;

	snprintf(buf, cap, "%s%" PRIu64 ".%06" PRIu64, micro < 0 ? "-" : "", mag / 1000000,
		 mag % 1000000);
}

static const char *ilog_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

size_t ilog_row_header(char *buf, size_t cap)
{
	size_t off = 0;

	if (!cap)
		return 0;
	buf[0] = '\0';
	ilog_cat(buf, &off, cap,
		 "%-7s %-24s %-10s %-28s %3s %8s %8s %12s %6s %7s %-9s %-12s %-22s %s", "ID",
		 "TIME (UTC)", "PROVIDER", "MODEL", "ST", "IN", "OUT", "COST $", "TTFB", "TOTAL",
		 "DECISION", "USER", "KEY", "EXE");
	return off;
}

size_t ilog_row_format(const struct ilog_row *row, char *buf, size_t cap)
{
	const struct ilog_record *r = &row->rec;
	char t[32], cost[40], ttfb[24], model[2 * ILOG_MODEL_LEN + 4], key[40];
	size_t off = 0;

	if (!cap)
		return 0;
	buf[0] = '\0';
	ilog_time(r->start_ms, t, sizeof(t));
	if (r->price_known)
		ilog_money(r->cost_micro, cost, sizeof(cost));
	else
		snprintf(cost, sizeof(cost), "?");
	if (r->ttfb_ms >= 0)
		snprintf(ttfb, sizeof(ttfb), "%" PRId64, r->ttfb_ms);
	else
		snprintf(ttfb, sizeof(ttfb), "-");
	/* A downgrade shows both models. */
	if (r->model_served[0] && r->model_requested[0] &&
	    strcmp(r->model_served, r->model_requested) != 0)
		snprintf(model, sizeof(model), "%s>%s", r->model_requested, r->model_served);
	else
		snprintf(model, sizeof(model), "%s",
			 r->model_served[0] ? r->model_served : r->model_requested);
	if (r->key_fp[0])
		snprintf(key, sizeof(key), "%s:%.12s", ilog_key_state_name(r->key_state),
			 r->key_fp);
	else
		snprintf(key, sizeof(key), "-");

	ilog_cat(buf, &off, cap, "%-7" PRId64 " %-24s ", row->id, t);
	ilog_cell(buf, &off, cap, r->provider, 10);
	ilog_cat(buf, &off, cap, " ");
	ilog_cell(buf, &off, cap, model, 28);
	ilog_cat(buf, &off, cap, " %3d %8" PRId64 " %8" PRId64 " %11s%s %6s %7" PRId64 " %-9s ",
		 r->http_status, r->tokens_in, r->tokens_out, cost, r->estimated ? "~" : " ", ttfb,
		 r->total_ms, ilog_decision_name(r->decision));
	ilog_cell(buf, &off, cap, r->user, 12);
	ilog_cat(buf, &off, cap, " ");
	ilog_cell(buf, &off, cap, key, 22);
	ilog_cat(buf, &off, cap, " ");
	ilog_cell(buf, &off, cap, ilog_basename(r->exe), 0);
	if (r->stream)
		ilog_cat(buf, &off, cap, " stream");
	if (r->leaked_keys)
		ilog_cat(buf, &off, cap, " leaked_keys=%" PRIu32, r->leaked_keys);
	if (r->error[0]) {
		ilog_cat(buf, &off, cap, " error=");
		ilog_cell(buf, &off, cap, r->error, 0);
	}
	return off;
}

size_t ilog_key_header(char *buf, size_t cap)
{
	size_t off = 0;

	if (!cap)
		return 0;
	buf[0] = '\0';
	ilog_cat(buf, &off, cap, "%-16s %-10s %-10s %-5s %-16s %-24s %-24s %8s %12s  %s",
		 "FINGERPRINT", "PROVIDER", "STATE", "LAST4", "FORMAT", "FIRST SEEN (UTC)",
		 "LAST SEEN (UTC)", "REQUESTS", "SPEND $", "USED BY");
	return off;
}

size_t ilog_key_format(const struct ilog_key_row *k, char *buf, size_t cap)
{
	char first[32], last[32], spend[40], fp16[17];
	size_t off = 0;

	if (!cap)
		return 0;
	buf[0] = '\0';
	ilog_time(k->first_seen_ms, first, sizeof(first));
	ilog_time(k->last_seen_ms, last, sizeof(last));
	ilog_money(k->spend_micro, spend, sizeof(spend));
	/* 16 hex digits, enough for `modeluxctl log --key`; the JSON has all 64. */
	snprintf(fp16, sizeof(fp16), "%.16s", k->fingerprint);
	ilog_cell(buf, &off, cap, fp16, 16);
	ilog_cat(buf, &off, cap, " ");
	ilog_cell(buf, &off, cap, k->provider, 10);
	ilog_cat(buf, &off, cap, " %-10s ", ilog_key_state_name(k->state));
	ilog_cell(buf, &off, cap, k->last4, 5);
	ilog_cat(buf, &off, cap, " ");
	ilog_cell(buf, &off, cap, k->format, 16);
	ilog_cat(buf, &off, cap, " %-24s %-24s %8" PRIu64 " %11s%s  %zu", first, last, k->requests,
		 spend, k->unpriced ? "+" : " ", k->nusage);
	for (size_t i = 0; i < k->nusage; i++) {
		const struct ilog_key_usage *u = &k->usage[i];

		ilog_time(u->last_seen_ms, last, sizeof(last));
		ilog_cat(buf, &off, cap, "\n    host=");
		ilog_cell(buf, &off, cap, u->host, 0);
		ilog_cat(buf, &off, cap, " user=");
		ilog_cell(buf, &off, cap, u->user, 0);
		ilog_cat(buf, &off, cap, " exe=");
		ilog_cell(buf, &off, cap, u->exe, 0);
		ilog_cat(buf, &off, cap, " requests=%" PRIu64 " last_seen=%s", u->requests, last);
	}
	return off;
}

/* ---- JSON ---- */

/* A JSON string from <s> (<len> bytes), each invalid UTF-8 byte replaced by U+FFFD. */
static json_t *ilog_json_strn(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char small[3 * 512 + 1], *out = small;
	size_t o = 0, i = 0;
	json_t *j;

	while (i < len) {
		size_t n = utf8_char_len(p + i, len - i);

		if (!n)
			break;
		i += n;
	}
	if (i == len)
		return json_stringn(s, len);
	if (3 * len > sizeof(small) - 1 && !(out = malloc(3 * len + 1)))
		return NULL;
	for (i = 0; i < len;) {
		size_t n = utf8_char_len(p + i, len - i);

		if (n) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(out, o);
	if (out != small)
		free(out);
	return j;
}

static json_t *ilog_json_str(const char *s)
{
	return ilog_json_strn(s, strlen(s));
}

static json_t *ilog_json_time(int64_t ms)
{
	char t[32];

	ilog_time(ms, t, sizeof(t));
	return json_string(t);
}

/* Sets <key> of <obj> to <v>, remembering a failure (json_object_set_new frees <v> either way). */
static void ilog_jset(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		*ok = false;
}

static const char ilog_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *ilog_json_base64(const unsigned char *p, size_t len)
{
	size_t olen = (len + 2) / 3 * 4, o = 0;
	char *out = malloc(olen + 1);
	json_t *j;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);

		out[o++] = ilog_b64[v >> 18 & 63];
		out[o++] = ilog_b64[v >> 12 & 63];
		out[o++] = i + 1 < len ? ilog_b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? ilog_b64[v & 63] : '=';
	}
	j = json_stringn(out, o);
	free(out);
	return j;
}

/* {"len":N,"stored":M,"text":...} when the stored bytes are UTF-8, else "base64":... */
static json_t *ilog_json_payload(const void *data, size_t stored, uint64_t len)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	const unsigned char *p = data;
	size_t i = 0;

	if (!o)
		return NULL;
	ilog_jset(o, "len", json_integer((json_int_t)len), &ok);
	ilog_jset(o, "stored", json_integer((json_int_t)stored), &ok);
	while (i < stored) {
		size_t n = utf8_char_len(p + i, stored - i);

		if (!n)
			break;
		i += n;
	}
	if (i == stored)
		ilog_jset(o, "text", json_stringn(stored ? data : "", stored), &ok);
	else
		ilog_jset(o, "base64", ilog_json_base64(p, stored), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ilog_row_json(const struct ilog_row *row)
{
	const struct ilog_record *r = &row->rec;
	json_t *o = json_object(), *tok = json_object(), *rule = json_object(), *key;
	bool ok = o && tok && rule;

	if (!ok) {
		json_decref(o);
		json_decref(tok);
		json_decref(rule);
		return NULL;
	}
	ilog_jset(o, "id", json_integer(row->id), &ok);
	ilog_jset(o, "time", ilog_json_time(r->start_ms), &ok);
	ilog_jset(o, "start_ms", json_integer(r->start_ms), &ok);
	ilog_jset(o, "end_ms", json_integer(r->end_ms), &ok);
	ilog_jset(o, "flow_id", json_integer((json_int_t)r->flow_id), &ok);
	ilog_jset(o, "seq", json_integer((json_int_t)r->seq), &ok);
	ilog_jset(o, "host", ilog_json_str(r->host), &ok);
	ilog_jset(o, "pid", r->pid ? json_integer(r->pid) : json_null(), &ok);
	ilog_jset(o, "exe", ilog_json_str(r->exe), &ok);
	ilog_jset(o, "uid", r->uid != ILOG_UID_UNKNOWN ? json_integer(r->uid) : json_null(), &ok);
	ilog_jset(o, "user", ilog_json_str(r->user), &ok);
	ilog_jset(o, "provider", ilog_json_str(r->provider), &ok);
	ilog_jset(o, "endpoint", ilog_json_str(r->endpoint), &ok);
	ilog_jset(o, "model_requested", ilog_json_str(r->model_requested), &ok);
	ilog_jset(o, "model_served", ilog_json_str(r->model_served), &ok);
	ilog_jset(o, "tags", ilog_json_str(r->tags), &ok);
	if (r->key_fp[0]) {
		key = json_object();
		if (key) {
			ilog_jset(key, "fingerprint", ilog_json_str(r->key_fp), &ok);
			ilog_jset(key, "last4", ilog_json_str(r->key_last4), &ok);
			ilog_jset(key, "format", ilog_json_str(r->key_format), &ok);
			ilog_jset(key, "state", json_string(ilog_key_state_name(r->key_state)),
				  &ok);
		}
	} else {
		key = json_null();
	}
	ilog_jset(o, "key", key, &ok);
	ilog_jset(o, "http_status", json_integer(r->http_status), &ok);
	ilog_jset(o, "stream", json_boolean(r->stream), &ok);
	ilog_jset(tok, "in", json_integer(r->tokens_in), &ok);
	ilog_jset(tok, "out", json_integer(r->tokens_out), &ok);
	ilog_jset(tok, "cached", json_integer(r->tokens_cached), &ok);
	ilog_jset(tok, "cache_write", json_integer(r->tokens_cache_write), &ok);
	ilog_jset(tok, "reasoning", json_integer(r->tokens_reasoning), &ok);
	ilog_jset(o, "tokens", tok, &ok);
	ilog_jset(o, "estimated", json_boolean(r->estimated), &ok);
	ilog_jset(o, "price_known", json_boolean(r->price_known), &ok);
	ilog_jset(o, "cost_micro", r->price_known ? json_integer(r->cost_micro) : json_null(), &ok);
	ilog_jset(o, "ttfb_ms", r->ttfb_ms >= 0 ? json_integer(r->ttfb_ms) : json_null(), &ok);
	ilog_jset(o, "total_ms", json_integer(r->total_ms), &ok);
	ilog_jset(o, "bytes_up", json_integer((json_int_t)r->bytes_up), &ok);
	ilog_jset(o, "bytes_down", json_integer((json_int_t)r->bytes_down), &ok);
	ilog_jset(o, "decision", json_string(ilog_decision_name(r->decision)), &ok);
	ilog_jset(rule, "index", r->rule_index >= 0 ? json_integer(r->rule_index) : json_null(),
		  &ok);
	ilog_jset(rule, "group", ilog_json_str(r->rule_group), &ok);
	ilog_jset(rule, "trace", ilog_json_str(r->rule_trace), &ok);
	ilog_jset(o, "rule", rule, &ok);
	ilog_jset(o, "error", r->error[0] ? ilog_json_str(r->error) : json_null(), &ok);
	ilog_jset(o, "leaked_keys", json_integer(r->leaked_keys), &ok);
	if (row->has_payload) {
		json_t *p = json_object();

		if (p) {
			ilog_jset(
			    p, "request",
			    ilog_json_payload(row->request, row->request_stored, row->request_len),
			    &ok);
			ilog_jset(p, "response",
				  ilog_json_payload(row->response, row->response_stored,
						    row->response_len),
				  &ok);
		}
		ilog_jset(o, "payload", p, &ok);
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *ilog_key_json(const struct ilog_key_row *k)
{
	json_t *o = json_object(), *used = json_array();
	bool ok = o && used;

	if (!ok) {
		json_decref(o);
		json_decref(used);
		return NULL;
	}
	ilog_jset(o, "fingerprint", ilog_json_str(k->fingerprint), &ok);
	ilog_jset(o, "provider", ilog_json_str(k->provider), &ok);
	ilog_jset(o, "last4", ilog_json_str(k->last4), &ok);
	ilog_jset(o, "format", ilog_json_str(k->format), &ok);
	ilog_jset(o, "state", json_string(ilog_key_state_name(k->state)), &ok);
	ilog_jset(o, "first_seen", ilog_json_time(k->first_seen_ms), &ok);
	ilog_jset(o, "last_seen", ilog_json_time(k->last_seen_ms), &ok);
	ilog_jset(o, "first_seen_ms", json_integer(k->first_seen_ms), &ok);
	ilog_jset(o, "last_seen_ms", json_integer(k->last_seen_ms), &ok);
	ilog_jset(o, "requests", json_integer((json_int_t)k->requests), &ok);
	ilog_jset(o, "spend_micro", json_integer(k->spend_micro), &ok);
	ilog_jset(o, "unpriced_requests", json_integer((json_int_t)k->unpriced), &ok);
	for (size_t i = 0; ok && i < k->nusage; i++) {
		const struct ilog_key_usage *u = &k->usage[i];
		json_t *e = json_object();

		if (!e || json_array_append_new(used, e) < 0) {
			ok = false;
			break;
		}
		ilog_jset(e, "host", ilog_json_str(u->host), &ok);
		ilog_jset(e, "user", ilog_json_str(u->user), &ok);
		ilog_jset(e, "exe", ilog_json_str(u->exe), &ok);
		ilog_jset(e, "requests", json_integer((json_int_t)u->requests), &ok);
		ilog_jset(e, "first_seen_ms", json_integer(u->first_seen_ms), &ok);
		ilog_jset(e, "last_seen_ms", json_integer(u->last_seen_ms), &ok);
	}
	ilog_jset(o, "used_by", used, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
