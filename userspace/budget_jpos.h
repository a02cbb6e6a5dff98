/* budget_jpos: positions of JSON paths in a document's text, for configuration messages, and
 * exact decimal reading of a number's text. Owns nothing; borrows the text. */
#ifndef MODELUX_BUDGET_JPOS_H
#define MODELUX_BUDGET_JPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BJPATH_MAX 6

struct bjpath_part {
	const char *key; /* member name, or NULL for an array element */
	size_t index;
};

struct bjpath {
	size_t n;
	struct bjpath_part part[BJPATH_MAX];
};

/* bjpos_find - offset in <text> of the value at the first <depth> parts of <path> (of the
 * member's key instead when <want_key>), or -1. <text> should be JSON that jansson accepted
 * with JSON_REJECT_DUPLICATES; on anything else it returns -1 or some offset within <len>. */
long bjpos_find(const char *text, size_t len, const struct bjpath *path, size_t depth,
		bool want_key);

/* bjpos_value_len - length of the value starting at <off>. */
size_t bjpos_value_len(const char *text, size_t len, size_t off);

/* bjpos_linecol - 1-based line and column (in characters) of byte <off>. */
void bjpos_linecol(const char *text, size_t len, size_t off, unsigned *line, unsigned *col);

/* bjpos_format - "$.budgets[1].cap_usd" for the first <depth> parts of <path>. */
void bjpos_format(const struct bjpath *path, size_t depth, char *buf, size_t size);

/* bjpos_quote - <s> for a message: at most 48 bytes, quotes, backslashes and control bytes
 * written as \xNN. */
void bjpos_quote(const char *s, char *buf, size_t size);

/* bjpos_decimal_micro - the JSON number text [num, num+len) times 10^6, exactly, if it is an
 * integer in [0, <max>]; else false with the reason in <why>. */
bool bjpos_decimal_micro(const char *num, size_t len, int64_t max, int64_t *out, const char **why);

#endif
