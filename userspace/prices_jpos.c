/* prices_jpos: finds where a JSON path sits in the source text, so that errors found after
 * jansson parsed the document (which keeps no positions) still point at a line and column.
 * Owns nothing; borrows the text. Runs on text jansson already accepted, but checks every bound
 * anyway and answers -1 when the text does not have the expected shape. */

#include <string.h>

#include "prices_int.h"
#include "hexdigit.h"

struct cur {
	const char *s;
	size_t len, pos;
};

static void ws(struct cur *c)
{
	while (c->pos < c->len && strchr(" \t\r\n", c->s[c->pos]) && c->s[c->pos])
		c->pos++;
}

static bool at(const struct cur *c, char ch)
{
	return c->pos < c->len && c->s[c->pos] == ch;
}

/* Past the string starting at the opening quote under the cursor. */
static bool skip_string(struct cur *c)
{
	if (!at(c, '"'))
		return false;
	for (c->pos++; c->pos < c->len; c->pos++) {
		if (c->s[c->pos] == '\\')
			c->pos++;
		else if (c->s[c->pos] == '"')
			return ++c->pos, true;
	}
	return false;
}

/* Past one value of any kind; containers are skipped by counting brackets, without recursion. */
static bool skip_value(struct cur *c)
{
	size_t depth = 0;

	ws(c);
	if (c->pos >= c->len)
		return false;
	if (at(c, '"'))
		return skip_string(c);
	if (!at(c, '{') && !at(c, '[')) {
		size_t start = c->pos;

		while (c->pos < c->len && !strchr(",}] \t\r\n", c->s[c->pos]))
			c->pos++;
		return c->pos > start;
	}
	while (c->pos < c->len) {
		char ch = c->s[c->pos];

		if (ch == '"') {
			if (!skip_string(c))
				return false;
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0)
				return ++c->pos, true;
		}
		c->pos++;
	}
	return false;
}

static long hex4(const struct cur *c, size_t p)
{
	long v = 0;

	if (p + 4 > c->len)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		int h = hex_digit_value(c->s[p + i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

static size_t utf8_put(unsigned long cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Whether the string under the cursor decodes to <key>. Leaves the cursor where it was. */
static bool string_equals(const struct cur *c, const char *key)
{
	size_t p = c->pos + 1, k = 0, klen = strlen(key);

	while (p < c->len && c->s[p] != '"') {
		char buf[4];
		size_t n = 1;

		if (c->s[p] != '\\') {
			buf[0] = c->s[p++];
		} else if (p + 1 >= c->len) {
			return false;
		} else if (c->s[p + 1] != 'u') {
			const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
			const char *e = strchr(from, c->s[p + 1]);

			if (!e || !c->s[p + 1])
				return false;
			buf[0] = to[e - from];
			p += 2;
		} else {
			long cp = hex4(c, p + 2), lo;

			if (cp < 0)
				return false;
			p += 6;
			if (cp >= 0xd800 && cp <= 0xdbff && p + 1 < c->len && c->s[p] == '\\' &&
			    c->s[p + 1] == 'u' && (lo = hex4(c, p + 2)) >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n = utf8_put((unsigned long)cp, buf);
		}
		if (k + n > klen || memcmp(key + k, buf, n) != 0)
			return false;
		k += n;
	}
	return p < c->len && k == klen;
}

long prices_jpos(const char *text, size_t len, const struct prices_jstep *path, size_t depth,
		 bool at_key)
{
	struct cur c = { .s = text, .len = len };

	if (!text)
		return -1;
	for (size_t i = 0; i < depth; i++) {
		ws(&c);
		if (path[i].key) {
			if (!at(&c, '{'))
				return -1;
			c.pos++;
			for (;;) {
				size_t kpos;
				bool match;

				ws(&c);
				if (!at(&c, '"'))
					return -1;
				kpos = c.pos;
				match = string_equals(&c, path[i].key);
				if (!skip_string(&c))
					return -1;
				ws(&c);
				if (!at(&c, ':'))
					return -1;
				c.pos++;
				if (match) {
					if (i + 1 == depth && at_key)
						return (long)kpos;
					break;
				}
				if (!skip_value(&c))
					return -1;
				ws(&c);
				if (!at(&c, ','))
					return -1;
				c.pos++;
			}
		} else {
			if (!at(&c, '['))
				return -1;
			c.pos++;
			for (size_t j = 0; j < path[i].index; j++) {
				if (!skip_value(&c))
					return -1;
				ws(&c);
				if (!at(&c, ','))
					return -1;
				c.pos++;
			}
		}
	}
	ws(&c);
	return c.pos < c.len ? (long)c.pos : -1;
}
