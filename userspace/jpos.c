/* jpos: where a JSON path ($.budgets[1].cap_usd) points in the text of a document that
 * jansson has already accepted, so configuration errors can name a line and column, and the raw
 * text of a number can be read exactly. jansson keeps no positions for values; this scanner
 * walks the text once along the path. Owns nothing; borrows the text. */
#include <stdio.h>
#include <string.h>

#include "jpos.h"
#include "hexdigit.h"
#include "utf8.h"

static size_t skip_ws(const char *t, size_t len, size_t p)
{
	while (p < len && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r'))
		p++;
	return p;
}

/* <p> at the opening quote; returns the offset after the closing one (or <len>). */
static size_t skip_string(const char *t, size_t len, size_t p)
{
	for (p++; p < len; p++) {
		if (t[p] == '\\')
			p++;
		else if (t[p] == '"')
			return p + 1;
	}
	return len;
}

/* Any value, nested ones without recursion: brackets are counted outside strings. */
static size_t skip_value(const char *t, size_t len, size_t p)
{
	size_t depth = 0;

	if (p >= len)
		return len;
	if (t[p] != '"' && t[p] != '{' && t[p] != '[') {
		while (p < len && !strchr(",]} \t\r\n", t[p]))
			p++;
		return p;
	}
	do {
		if (t[p] == '"') {
			p = skip_string(t, len, p);
			continue;
		}
		if (t[p] == '{' || t[p] == '[')
			depth++;
		else if (t[p] == '}' || t[p] == ']')
			depth--;
		p++;
	} while (p < len && depth > 0);
	return p;
}

/* Does the JSON string at <p> decode to exactly <key>? Decodes escapes as jansson does. */
static bool string_equals(const char *t, size_t len, size_t p, const char *key)
{
	size_t klen = strlen(key), k = 0;
	char u[4];

	for (p++; p < len && t[p] != '"'; p++) {
		if (t[p] != '\\') {
			if (k >= klen || key[k++] != t[p])
				return false;
			continue;
		}
		if (++p >= len)
			return false;
		char c = t[p];
		size_t n = 1;

		switch (c) {
		case 'b': u[0] = '\b'; break;
		case 'f': u[0] = '\f'; break;
		case 'n': u[0] = '\n'; break;
		case 'r': u[0] = '\r'; break;
		case 't': u[0] = '\t'; break;
		case 'u': {
			long cp, lo;

			if ((cp = hex4_at(t, len, p + 1)) < 0)
				return false;
			p += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && p + 2 < len && t[p + 1] == '\\' &&
			    t[p + 2] == 'u' && (lo = hex4_at(t, len, p + 3)) >= 0xDC00 &&
			    lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			n = utf8_put((unsigned char *)u, (uint32_t)cp);
			break;
		}
		default: u[0] = c; break; /* '"', '\\', '/' */
		}
		if (k + n > klen || memcmp(key + k, u, n) != 0)
			return false;
		k += n;
	}
	return k == klen;
}

long jpos_find(const char *text, size_t len, const struct jpath *path, size_t depth,
		bool want_key)
{
	size_t p = skip_ws(text, len, 0);

	if (depth > path->n)
		depth = path->n;
	for (size_t i = 0; i < depth; i++) {
		const struct jpath_part *part = &path->part[i];
		bool last = i + 1 == depth;

		if (part->key != NULL) {
			if (p >= len || text[p] != '{')
				return -1;
			p = skip_ws(text, len, p + 1);
			for (;;) {
				if (p >= len || text[p] != '"')
					return -1;
				size_t key_at = p;
				bool match = string_equals(text, len, p, part->key);

				p = skip_ws(text, len, skip_string(text, len, p));
				if (p >= len || text[p] != ':')
					return -1;
				p = skip_ws(text, len, p + 1);
				if (match) {
					if (last && want_key)
						return (long)key_at;
					break;
				}
				p = skip_ws(text, len, skip_value(text, len, p));
				if (p >= len || text[p] != ',')
					return -1;
				p = skip_ws(text, len, p + 1);
			}
		} else {
			if (p >= len || text[p] != '[')
				return -1;
			p = skip_ws(text, len, p + 1);
			for (size_t k = 0; k < part->index; k++) {
				if (p >= len || text[p] == ']')
					return -1;
				p = skip_ws(text, len, skip_value(text, len, p));
				if (p >= len || text[p] != ',')
					return -1;
				p = skip_ws(text, len, p + 1);
			}
			if (p >= len || text[p] == ']')
				return -1;
		}
	}
	return p < len ? (long)p : -1;
}

size_t jpos_value_len(const char *text, size_t len, size_t off)
{
	return off < len ? skip_value(text, len, off) - off : 0;
}

void jpos_linecol(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			c++; /* columns count characters, not UTF-8 continuation bytes */
		}
	}
	*line = l;
	*col = c;
}

/* Keys that are not plain identifiers are shown as ["..."] with unprintable bytes escaped. */
static bool ident(const char *k)
{
	if (!*k)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (p > k && *p >= '0' && *p <= '9')))
			return false;
	return true;
}

void jpos_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < size; p++) {
		if (p - (const unsigned char *)s >= 48) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (*p < 0x20 || *p == 0x7F || *p == '"' || *p == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o < size ? o : size - 1] = '\0';
}

void jpos_format(const struct jpath *path, size_t depth, char *buf, size_t size)
{
	size_t o = 0;
	char q[64];

	if (depth > path->n)
		depth = path->n;
	o += (size_t)snprintf(buf, size, "$");
	for (size_t i = 0; i < depth && o < size; i++) {
		const struct jpath_part *part = &path->part[i];

		if (part->key == NULL) {
			o += (size_t)snprintf(buf + o, size - o, "[%zu]", part->index);
		} else if (ident(part->key)) {
			o += (size_t)snprintf(buf + o, size - o, ".%s", part->key);
		} else {
			jpos_quote(part->key, q, sizeof(q));
			o += (size_t)snprintf(buf + o, size - o, "[\"%s\"]", q);
		}
	}
}

bool jpos_decimal_micro(const char *num, size_t len, int64_t max, int64_t *out, const char **why)
{
	char digits[40];
	size_t nd = 0, zeros = 0, p = 0;
	long exp10 = 0;
	bool neg = false;

	if (p < len && num[p] == '-') {
		neg = true;
		p++;
	}
	bool frac = false;

	for (; p < len; p++) {
		char c = num[p];

		if (c == '.' && !frac) {
			frac = true;
			continue;
		}
		if (c < '0' || c > '9')
			break;
		if (frac)
			exp10--;
		if (c == '0') {
			if (nd > 0)
				zeros++; /* deferred: only significant if a nonzero digit follows */
			continue;
		}
		if (nd + zeros + 1 > sizeof(digits)) {
			*why = "too many significant digits";
			return false;
		}
		while (zeros > 0) {
			digits[nd++] = '0';
			zeros--;
		}
		digits[nd++] = c;
	}
	exp10 += (long)zeros;
	if (p < len && (num[p] == 'e' || num[p] == 'E')) {
		long e = 0;
		int sign = 1;

		p++;
		if (p < len && (num[p] == '+' || num[p] == '-'))
			sign = num[p++] == '-' ? -1 : 1;
		for (; p < len && num[p] >= '0' && num[p] <= '9'; p++)
			if (e < 100000)
				e = e * 10 + (num[p] - '0');
		exp10 += sign * e;
	}
	if (p != len) {
		*why = "not a number";
		return false;
	}
	if (nd == 0) {
		*out = 0;
		return true;
	}
	if (neg) {
		*why = "must not be negative";
		return false;
	}
	long scale = exp10 + 6; /* micro-units */

	if (scale < 0) {
		*why = "has more than 6 decimal places (the unit is one micro-dollar)";
		return false;
	}
	if ((long)nd + scale > 18) {
		*why = "is too large";
		return false;
	}
	int64_t v = 0;

	for (size_t i = 0; i < nd; i++)
		v = v * 10 + (digits[i] - '0');
	for (long i = 0; i < scale; i++)
		v *= 10;
	if (v > max) {
		*why = "is too large";
		return false;
	}
	*out = v;
	return true;
}
