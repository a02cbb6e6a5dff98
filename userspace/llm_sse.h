/* llm_sse: incremental Server-Sent Events framing (the WHATWG "event stream" rules) for response
 * bodies that stream. Owns at most one event's data (capped); borrows the caller's input bytes.
 *
 * Bytes go in with any split; events come out through a callback, identical however the stream was
 * cut. Lines end in CRLF, LF or CR (a CR at the end of one piece and an LF at the start of the next
 * are one line end). A leading UTF-8 BOM is dropped; ":" lines are comments; "data" lines join with
 * LF; "event" names the event; "id", "retry" and unknown fields are ignored. A blank line
 * dispatches the event if it had at least one data line (a bare "event:" block is not dispatched,
 * as in the spec). An event whose data would exceed the cap is not kept: it is reported once, at
 * its blank line, as skipped with its size, and parsing carries on with the next event. An
 * unterminated event at the end of the stream is dropped (llm_sse_pending() tells whether one was).
 */
#ifndef MODELUX_LLM_SSE_H
#define MODELUX_LLM_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Event names longer than this are cut to it (no event type in use comes close). */
#define LLM_SSE_TYPE_MAX 64

struct llm_sse_event {
	const char *type; /* "event" field or "" (NUL-terminated; valid during the callback) */
	size_t type_len;
	const char *data; /* joined data lines, NUL-terminated; NULL when skipped */
	size_t data_len;  /* bytes of data (when skipped: what the data would have been) */
	bool skipped;	  /* over the cap (or out of memory): data not kept */
};

typedef void (*llm_sse_cb)(void *ctx, const struct llm_sse_event *ev);

enum llm_sse_state {
	LLM_SSE_LINE_START = 0,
	LLM_SSE_FIELD,	     /* reading a field name */
	LLM_SSE_VALUE_FIRST, /* just after ':' (one space is dropped) */
	LLM_SSE_VALUE,
	LLM_SSE_IGNORE, /* comment or ignored field: skip to the line end */
};

struct llm_sse {
	size_t cap; /* max data bytes of one event */
	char *data; /* current event's data, NUL-terminated */
	size_t data_len, data_alloc;
	size_t skipped_len; /* data size of an event being skipped */
	bool has_data, skipping;
	char type[LLM_SSE_TYPE_MAX + 1];
	size_t type_len;
	char field[8]; /* field name so far (longer names are not ones we keep) */
	size_t field_len;
	int field_kind; /* which field the current line's value goes to */
	enum llm_sse_state state;
	bool after_cr;	   /* the last byte was a CR: an LF next is the same line end */
	unsigned bom_seen; /* BOM bytes matched at the start; 3 once past it */
	uint64_t events, skipped_events;
};

/* llm_sse_init - empty parser keeping at most <cap> data bytes per event. */
void llm_sse_init(struct llm_sse *s, size_t cap);

/* llm_sse_feed - parse <len> bytes at <p>, calling <cb> for each complete event. */
void llm_sse_feed(struct llm_sse *s, const char *p, size_t len, llm_sse_cb cb, void *ctx);

/* llm_sse_pending - whether bytes of an unfinished event (or line) are waiting. */
bool llm_sse_pending(const struct llm_sse *s);

/* llm_sse_free - release the event buffer; the parser may be initialized again. */
void llm_sse_free(struct llm_sse *s);

#endif
