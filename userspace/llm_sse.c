/* llm_sse: incremental Server-Sent Events framing. Owns one event's data buffer; borrows the input.
 * A byte-level state machine, so where the input is split never changes what comes out: the only
 * state carried between pieces is the current line's field, a pending CR and the event so far. */
#include "llm_sse.h"

#include <stdlib.h>
#include <string.h>

enum {
	SSE_FIELD_OTHER = 0,
	SSE_FIELD_DATA = 1,
	SSE_FIELD_EVENT = 2,
};

/* A buffer this large is released after its event, so idle streams hold little memory. */
#define SSE_KEEP_MAX 65536

static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

void llm_sse_init(struct llm_sse *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
}

void llm_sse_free(struct llm_sse *s)
{
	free(s->data);
	s->data = NULL;
	s->data_len = s->data_alloc = 0;
}

bool llm_sse_pending(const struct llm_sse *s)
{
	return s->state != LLM_SSE_LINE_START || s->has_data || s->skipping ||
	       (s->bom_seen > 0 && s->bom_seen < 3);
}

static int sse_field_kind(const struct llm_sse *s)
{
	if (s->field_len == 4 && memcmp(s->field, "data", 4) == 0)
		return SSE_FIELD_DATA;
	if (s->field_len == 5 && memcmp(s->field, "event", 5) == 0)
		return SSE_FIELD_EVENT;
	return SSE_FIELD_OTHER;
}

/* Stop keeping the current event: it is over the cap (or memory ran out). */
static void sse_start_skipping(struct llm_sse *s, size_t more)
{
	s->skipping = true;
	s->skipped_len = s->data_len + more;
	s->data_len = 0;
}

static void sse_append_data(struct llm_sse *s, const char *p, size_t n)
{
	size_t want;

	if (s->skipping) {
		s->skipped_len += n;
		return;
	}
	if (n > s->cap - s->data_len) {
		sse_start_skipping(s, n);
		return;
	}
	want = s->data_len + n + 1;
	if (want > s->data_alloc) {
		size_t alloc = s->data_alloc ? s->data_alloc : 256;
		char *d;

		while (alloc < want)
			alloc *= 2;
		if (alloc > s->cap + 1)
			alloc = s->cap + 1;
		d = realloc(s->data, alloc);
		if (!d) {
			sse_start_skipping(s, n);
			return;
		}
		s->data = d;
		s->data_alloc = alloc;
	}
	memcpy(s->data + s->data_len, p, n);
	s->data_len += n;
}

static void sse_append_type(struct llm_sse *s, const char *p, size_t n)
{
	size_t room = LLM_SSE_TYPE_MAX - s->type_len;

	if (n > room)
		n = room;
	memcpy(s->type + s->type_len, p, n);
	s->type_len += n;
}

/* A field line begins its value: data lines after the first are joined with LF; a new event name
 * replaces the previous one. */
static void sse_begin_value(struct llm_sse *s)
{
	s->field_kind = sse_field_kind(s);
	if (s->field_kind == SSE_FIELD_DATA) {
		if (s->has_data)
			sse_append_data(s, "\n", 1);
		s->has_data = true;
	} else if (s->field_kind == SSE_FIELD_EVENT) {
		s->type_len = 0;
	}
}

static void sse_dispatch(struct llm_sse *s, llm_sse_cb cb, void *ctx)
{
	struct llm_sse_event ev;

	if (!s->has_data && !s->skipping) {
		s->type_len = 0;
		return;
	}
	s->type[s->type_len] = '\0';
	ev.type = s->type;
	ev.type_len = s->type_len;
	ev.skipped = s->skipping;
	if (s->skipping) {
		ev.data = NULL;
		ev.data_len = s->skipped_len;
		s->skipped_events++;
	} else {
		if (s->data)
			s->data[s->data_len] = '\0';
		ev.data = s->data ? s->data : "";
		ev.data_len = s->data_len;
	}
	s->events++;
	cb(ctx, &ev);

	s->data_len = 0;
	s->skipped_len = 0;
	s->has_data = false;
	s->skipping = false;
	s->type_len = 0;
	if (s->data_alloc > SSE_KEEP_MAX)
		llm_sse_free(s);
}

static void sse_end_line(struct llm_sse *s, llm_sse_cb cb, void *ctx)
{
	switch (s->state) {
	case LLM_SSE_LINE_START:
		sse_dispatch(s, cb, ctx);
		break;
	case LLM_SSE_FIELD:
		/* a field name without a colon: the field with an empty value */
		sse_begin_value(s);
		break;
	default:
		break;
	}
	s->state = LLM_SSE_LINE_START;
	s->field_len = 0;
	s->field_kind = SSE_FIELD_OTHER;
}

/* Bytes up to (not including) the next CR or LF. */
static size_t sse_run(const char *p, size_t len)
{
	const char *lf = memchr(p, '\n', len);
	const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : len);

	if (cr)
		return (size_t)(cr - p);
	return lf ? (size_t)(lf - p) : len;
}

static void sse_parse(struct llm_sse *s, const char *p, size_t len, llm_sse_cb cb, void *ctx)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)p[i];
		size_t run;

		if (s->after_cr) {
			s->after_cr = false;
			if (ch == '\n') {
				i++;
				continue;
			}
		}
		if (ch == '\r' || ch == '\n') {
			sse_end_line(s, cb, ctx);
			s->after_cr = ch == '\r';
			i++;
			continue;
		}
		switch (s->state) {
		case LLM_SSE_LINE_START:
			if (ch == ':') {
				s->state = LLM_SSE_IGNORE;
				i++;
			} else {
				s->state = LLM_SSE_FIELD;
				s->field_len = 0;
			}
			break;
		case LLM_SSE_FIELD:
			if (ch == ':') {
				sse_begin_value(s);
				s->state = LLM_SSE_VALUE_FIRST;
			} else if (s->field_len < sizeof(s->field)) {
				s->field[s->field_len++] = (char)ch;
			}
			/* a name longer than the buffer is none we keep: it stays unmatched */
			i++;
			break;
		case LLM_SSE_VALUE_FIRST:
			s->state = LLM_SSE_VALUE;
			if (ch == ' ')
				i++;
			break;
		case LLM_SSE_VALUE:
			run = sse_run(p + i, len - i);
			if (s->field_kind == SSE_FIELD_DATA)
				sse_append_data(s, p + i, run);
			else if (s->field_kind == SSE_FIELD_EVENT)
				sse_append_type(s, p + i, run);
			i += run;
			break;
		case LLM_SSE_IGNORE:
			i += sse_run(p + i, len - i);
			break;
		}
	}
}

void llm_sse_feed(struct llm_sse *s, const char *p, size_t len, llm_sse_cb cb, void *ctx)
{
	/* The BOM is only a BOM at the very start of the stream; a partial match that fails is
	 * ordinary input and is replayed as such. */
	while (s->bom_seen < 3 && len > 0) {
		if ((unsigned char)*p == sse_bom[s->bom_seen]) {
			s->bom_seen++;
			p++;
			len--;
			continue;
		}
		unsigned matched = s->bom_seen;

		s->bom_seen = 3;
		sse_parse(s, (const char *)sse_bom, matched, cb, ctx);
	}
	sse_parse(s, p, len, cb, ctx);
}
