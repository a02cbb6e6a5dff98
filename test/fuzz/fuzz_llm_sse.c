/* fuzz_llm_sse: libFuzzer driver for the incremental SSE framing (llm_sse.c). Input: byte 0 picks
 * the data cap (bit 7 set: 1 MiB, else 0..127 bytes, so skipping is exercised), byte 1 seeds the
 * split points, the rest is the stream. Beyond "no crash" it checks that the events (type, data,
 * skipped, size) and the pending state are the same fed whole, fed in random pieces, and as a
 * plain line-by-line reference reading of the event-stream rules computes them; that kept data
 * never exceeds the cap and is NUL-terminated; and that event names stay within their cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/llm_sse.c"

struct fuzz_log {
	uint64_t hash;
	uint64_t n;
	size_t cap;
};

static void fuzz_mix(struct fuzz_log *l, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		l->hash ^= b[i];
		l->hash *= 1099511628211ull;
	}
}

static void fuzz_record(struct fuzz_log *l, const char *type, size_t type_len, bool skipped,
			const char *data, size_t data_len)
{
	unsigned char flag = skipped;

	fuzz_mix(l, &type_len, sizeof(type_len));
	fuzz_mix(l, type, type_len);
	fuzz_mix(l, &flag, 1);
	fuzz_mix(l, &data_len, sizeof(data_len));
	if (!skipped)
		fuzz_mix(l, data, data_len);
	l->n++;
}

static void fuzz_cb(void *ctx, const struct llm_sse_event *ev)
{
	struct fuzz_log *l = ctx;

	if (ev->type_len > LLM_SSE_TYPE_MAX || ev->type[ev->type_len] != '\0')
		abort();
	if (ev->skipped) {
		if (ev->data || ev->data_len <= l->cap)
			abort();
	} else if (!ev->data || ev->data_len > l->cap || ev->data[ev->data_len] != '\0') {
		abort();
	}
	fuzz_record(l, ev->type, ev->type_len, ev->skipped, ev->data, ev->data_len);
}

/* The event-stream rules read plainly: whole lines, then fields. Returns whether an unfinished
 * line or event was left at the end. */
static bool fuzz_reference(const char *in, size_t len, struct fuzz_log *l, char *data)
{
	char type[LLM_SSE_TYPE_MAX];
	size_t type_len = 0, data_len = 0, i = 0;
	bool has_data = false;

	if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len) {
		size_t start = i, end, name_len;
		const char *line, *value, *colon;
		size_t value_len;

		while (i < len && in[i] != '\r' && in[i] != '\n')
			i++;
		if (i == len)
			return true; /* an unterminated line */
		end = i;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			i++;
		i++;
		line = in + start;
		if (end == start) {
			if (has_data)
				fuzz_record(l, type, type_len, data_len > l->cap, data, data_len);
			has_data = false;
			data_len = 0;
			type_len = 0;
			continue;
		}
		if (line[0] == ':')
			continue;
		colon = memchr(line, ':', end - start);
		name_len = colon ? (size_t)(colon - line) : end - start;
		value = colon ? colon + 1 : line + (end - start);
		value_len = (size_t)(line + (end - start) - value);
		if (value_len && value[0] == ' ')
			value++, value_len--;
		if (name_len == 4 && memcmp(line, "data", 4) == 0) {
			if (has_data)
				data[data_len++] = '\n';
			memcpy(data + data_len, value, value_len);
			data_len += value_len;
			has_data = true;
		} else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
			type_len = value_len < LLM_SSE_TYPE_MAX ? value_len : LLM_SSE_TYPE_MAX;
			memcpy(type, value, type_len);
		}
	}
	/* a CR right at the end may still be the first half of a CRLF: nothing pending for that */
	return has_data;
}

static size_t fuzz_next(uint32_t *st, size_t max)
{
	*st = *st * 1103515245u + 12345u;
	return 1 + (*st >> 8) % max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char refbuf[1 << 21];
	struct fuzz_log whole = {14695981039346656037ull, 0, 0}, split, ref;
	struct llm_sse s1, s2;
	const char *in;
	size_t len, off = 0;
	uint32_t seed;
	bool ref_pending;

	if (size < 2 || size > (1 << 20))
		return 0;
	whole.cap = (data[0] & 0x80) ? (1u << 20) : (data[0] & 0x7f);
	seed = data[1];
	in = (const char *)data + 2;
	len = size - 2;
	split = ref = whole;

	llm_sse_init(&s1, whole.cap);
	llm_sse_feed(&s1, in, len, fuzz_cb, &whole);

	llm_sse_init(&s2, whole.cap);
	while (off < len) {
		size_t k = fuzz_next(&seed, len - off < 97 ? len - off : 97);

		llm_sse_feed(&s2, in + off, k, fuzz_cb, &split);
		off += k;
	}
	if (whole.hash != split.hash || whole.n != split.n ||
	    llm_sse_pending(&s1) != llm_sse_pending(&s2) || s1.events != whole.n ||
	    s2.events != split.n || s1.skipped_events != s2.skipped_events)
		abort();

	ref_pending = fuzz_reference(in, len, &ref, refbuf);
	if (ref.hash != whole.hash || ref.n != whole.n)
		abort();
	if (ref_pending != llm_sse_pending(&s1))
		abort();
	llm_sse_free(&s1);
	llm_sse_free(&s2);
	return 0;
}
