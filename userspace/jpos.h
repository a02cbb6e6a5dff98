/* jpos: positions of JSON paths in a document's text, for configuration messages, and
 * exact decimal reading of a number's text. Owns nothing; borrows the text. */
#ifndef MODELUX_JPOS_H
#define MODELUX_JPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JPATH_MAX 12

struct jpath_part {
	const char *key; /* member name, or NULL for an array element */
	size_t index;
};

struct jpath {
	size_t n;
	struct jpath_part part[JPATH_MAX];
};

/* jpos_find - offset in <text> of the value at the first <depth> parts of <path> (of the
 * member's key instead when <want_key>), or -1. <text> should be JSON that jansson accepted
 * with JSON_REJECT_DUPLICATES; on anything else it returns -1 or some offset within <len>. */
long jpos_find(const char *text, size_t len, const struct jpath *path, size_t depth,
		bool want_key);

/* jpos_value_len - length of the value starting at <off>. */
size_t jpos_value_len(const char *text, size_t len, size_t off);

/* jpos_linecol - 1-based line and column (in characters) of byte <off>. */
void jpos_linecol(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

/* jpos_format - "$.budgets[1].cap_usd" for the first <depth> parts of <path>. */
void jpos_format(const struct jpath *path, size_t depth, char *buf, size_t size);

/* jpos_quote - <s> for a message: at most 48 bytes, quotes, backslashes and control bytes
 * written as \xNN. */
void jpos_quote(const char *s, char *buf, size_t size);

/* jpos_decimal_micro - the JSON number text [num, num+len) times 10^6, exactly, if it is an
 * integer in [0, <max>]; else false with the reason in <why>. */
bool jpos_decimal_micro(const char *num, size_t len, int64_t max, int64_t *out, const char **why);

#endif
