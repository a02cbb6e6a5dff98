/* policy_json: a small strict JSON reader that remembers where every value and key starts, so
 * that policy errors can name the line and column of the offending character (jansson keeps no
 * positions for values). Builds an immutable tree in the caller's arena; borrows the source text
 * only while parsing. Strings are decoded, validated UTF-8, NUL-terminated and NUL-free. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "hexdigit.h"

#define PJ_MAX_ITEMS 65536  /* of one array */
#define PJ_MAX_MEMBERS 4096 /* of one object; duplicates are looked for pairwise */
#define PJ_MAX_NUMBER 64    /* characters of one number */

struct pj_parser {
	const struct pol_src *src;
	const char *s;
	size_t len, pos;
	struct arena *a;
	unsigned depth;
};

static bool pj_fail(struct pj_parser *p, size_t at, const char *msg)
{
	return pol_fail(p->src, at, NULL, "invalid JSON: %s", msg);
}

static void pj_skip_ws(struct pj_parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* An escape at s[at] == '\\': its code point and raw length, or false with the error offset. */
static bool pj_escape(const char *s, size_t len, size_t at, unsigned long *cp, size_t *raw,
		      const char **why)
{
	long hi, lo;

	if (at + 1 >= len) {
		*why = "unterminated string";
		return false;
	}
	*raw = 2;
	switch (s[at + 1]) {
	case '"':
		*cp = '"';
		return true;
	case '\\':
		*cp = '\\';
		return true;
	case '/':
		*cp = '/';
		return true;
	case 'b':
		*cp = '\b';
		return true;
	case 'f':
		*cp = '\f';
		return true;
	case 'n':
		*cp = '\n';
		return true;
	case 'r':
		*cp = '\r';
		return true;
	case 't':
		*cp = '\t';
		return true;
	case 'u':
		break;
	default:
		*why = "invalid escape (use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)";
		return false;
	}
	hi = hex4_at(s, len, at + 2);
	if (hi < 0) {
		*why = "\\u needs four hex digits";
		return false;
	}
	*raw = 6;
	if (hi == 0) {
		*why = "\\u0000 is not allowed";
		return false;
	}
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		*why = "unpaired surrogate in \\u escape";
		return false;
	}
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (at + 7 >= len || s[at + 6] != '\\' || s[at + 7] != 'u' ||
		    (lo = hex4_at(s, len, at + 8)) < 0xdc00 || lo > 0xdfff) {
			*why = "unpaired surrogate in \\u escape";
			return false;
		}
		*cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
		*raw = 12;
		return true;
	}
	*cp = (unsigned long)hi;
	return true;
}

/* Walk the string whose opening quote is at p->pos: validate it and, when <dst> is given, decode
 * into it. Sets *n to the decoded length and leaves p->pos after the closing quote. */
static bool pj_walk_string(struct pj_parser *p, char *dst, size_t *n)
{
	size_t i = p->pos + 1, out = 0;

	for (;;) {
		unsigned char c;

		if (i >= p->len)
			return pj_fail(p, p->pos, "unterminated string");
		c = (unsigned char)p->s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return pj_fail(p, i,
				       c == '\n' ? "unterminated string (a newline in a string "
						   "must be written \\n)"
						 : "control character in string (escape it)");
		if (c == '\\') {
			unsigned long cp;
			size_t raw;
			const char *why;

			if (!pj_escape(p->s, p->len, i, &cp, &raw, &why))
				return pj_fail(p, i, why);
			if (dst)
				out += utf8_put((unsigned char *)dst + out, (uint32_t)cp);
			else
				out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
			i += raw;
		} else {
			size_t l = utf8_char_len((const unsigned char *)p->s + i, p->len - i);

			if (l == 0)
				return pj_fail(p, i, "invalid UTF-8 in string");
			if (dst)
				memcpy(dst + out, p->s + i, l);
			out += l;
			i += l;
		}
	}
	*n = out;
	if (dst) {
		dst[out] = '\0';
		p->pos = i + 1;
	}
	return true;
}

static bool pj_string(struct pj_parser *p, const char **str, uint32_t *n)
{
	size_t start = p->pos, len;
	char *d;

	if (!pj_walk_string(p, NULL, &len))
		return false;
	d = arena_alloc(p->a, len + 1);
	if (!d)
		return pol_fail(p->src, start, NULL, "out of memory");
	p->pos = start;
	pj_walk_string(p, d, &len);
	*str = d;
	*n = (uint32_t)len;
	return true;
}

static bool pj_number(struct pj_parser *p, struct pj_value *v)
{
	size_t i = p->pos;
	char tmp[PJ_MAX_NUMBER + 1], *end;

	if (i < p->len && p->s[i] == '-')
		i++;
	if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
		return pj_fail(p, p->pos, "invalid number");
	if (p->s[i] == '0' && i + 1 < p->len && p->s[i + 1] >= '0' && p->s[i + 1] <= '9')
		return pj_fail(p, p->pos, "numbers must not have leading zeros");
	while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
		i++;
	if (i < p->len && p->s[i] == '.') {
		i++;
		if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
			return pj_fail(p, i, "expected a digit after '.'");
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		i++;
		if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
			return pj_fail(p, i, "expected a digit in the exponent");
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	if (i - p->pos > PJ_MAX_NUMBER)
		return pj_fail(p, p->pos, "number too long");
	memcpy(tmp, p->s + p->pos, i - p->pos);
	tmp[i - p->pos] = '\0';
	errno = 0;
	v->num = strtod(tmp, &end);
	if (errno == ERANGE && (v->num > 1 || v->num < -1))
		return pj_fail(p, p->pos, "number out of range");
	v->type = PJ_NUMBER;
	p->pos = i;
	return true;
}

static bool pj_literal(struct pj_parser *p, const char *word, struct pj_value *v, uint8_t type,
		       bool b)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return pj_fail(p, p->pos,
			       "expected a value (string, number, object, array, "
			       "true, false or null)");
	v->type = type;
	v->b = b;
	p->pos += n;
	return true;
}

static bool pj_value(struct pj_parser *p, struct pj_value *v);

/* Grow the scratch vector <*vec> of <size>-byte elements to hold one more than <n>. */
static bool pj_grow(void **vec, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return true;
	*cap = *cap ? *cap * 2 : 8;
	nv = realloc(*vec, *cap * size);
	if (!nv)
		return false;
	*vec = nv;
	return true;
}

/* Move a scratch vector into the arena. */
static void *pj_settle(struct pj_parser *p, void *vec, size_t n, size_t size)
{
	void *d = arena_alloc(p->a, n * size);

	if (d)
		memcpy(d, vec, n * size);
	return d;
}

static bool pj_array(struct pj_parser *p, struct pj_value *v)
{
	struct pj_value *items = NULL;
	size_t n = 0, cap = 0, open = p->pos;
	bool ok = false;

	p->pos++;
	pj_skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		v->type = PJ_ARRAY;
		return true;
	}
	for (;;) {
		if (n == PJ_MAX_ITEMS) {
			pj_fail(p, open, "array too long");
			goto out;
		}
		if (!pj_grow((void **)&items, &cap, n, sizeof(*items))) {
			pol_fail(p->src, open, NULL, "out of memory");
			goto out;
		}
		if (!pj_value(p, &items[n]))
			goto out;
		n++;
		pj_skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']')
			break;
		pj_fail(p, p->pos, "expected ',' or ']' after an array item");
		goto out;
	}
	p->pos++;
	v->items = pj_settle(p, items, n, sizeof(*items));
	if (!v->items) {
		pol_fail(p->src, open, NULL, "out of memory");
		goto out;
	}
	v->type = PJ_ARRAY;
	v->n = (uint32_t)n;
	ok = true;
out:
	free(items);
	return ok;
}

static bool pj_object(struct pj_parser *p, struct pj_value *v)
{
	struct pj_member *m = NULL;
	size_t n = 0, cap = 0, open = p->pos;
	bool ok = false;

	p->pos++;
	pj_skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		v->type = PJ_OBJECT;
		return true;
	}
	for (;;) {
		struct pj_member *cur;

		if (n == PJ_MAX_MEMBERS) {
			pj_fail(p, open, "object has too many members");
			goto out;
		}
		if (!pj_grow((void **)&m, &cap, n, sizeof(*m))) {
			pol_fail(p->src, open, NULL, "out of memory");
			goto out;
		}
		cur = &m[n];
		pj_skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"') {
			pj_fail(p, p->pos, "expected a string key (in double quotes)");
			goto out;
		}
		cur->key_off = (uint32_t)p->pos;
		if (!pj_string(p, &cur->key, &cur->key_len))
			goto out;
		for (size_t i = 0; i < n; i++) {
			if (m[i].key_len == cur->key_len &&
			    memcmp(m[i].key, cur->key, cur->key_len) == 0) {
				unsigned line, col;
				char q[64];

				pol_line_col(p->s, p->len, m[i].key_off, &line, &col);
				pol_fail(p->src, cur->key_off, NULL,
					 "duplicate key \"%s\" (first at line %u, column %u)",
					 pol_quote(q, sizeof(q), cur->key, cur->key_len), line,
					 col);
				goto out;
			}
		}
		pj_skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':') {
			pj_fail(p, p->pos, "expected ':' after an object key");
			goto out;
		}
		p->pos++;
		if (!pj_value(p, &cur->val))
			goto out;
		n++;
		pj_skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}')
			break;
		pj_fail(p, p->pos, "expected ',' or '}' after an object member");
		goto out;
	}
	p->pos++;
	v->members = pj_settle(p, m, n, sizeof(*m));
	if (!v->members) {
		pol_fail(p->src, open, NULL, "out of memory");
		goto out;
	}
	v->type = PJ_OBJECT;
	v->n = (uint32_t)n;
	ok = true;
out:
	free(m);
	return ok;
}

static bool pj_value(struct pj_parser *p, struct pj_value *v)
{
	bool ok;

	memset(v, 0, sizeof(*v));
	pj_skip_ws(p);
	v->off = (uint32_t)p->pos;
	if (p->pos >= p->len)
		return pj_fail(p, p->pos, "unexpected end of input, expected a value");
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		if (p->depth >= POL_MAX_JSON_DEPTH)
			return pj_fail(p, p->pos, "nested too deeply");
		p->depth++;
		ok = p->s[p->pos] == '{' ? pj_object(p, v) : pj_array(p, v);
		p->depth--;
		return ok;
	case '"':
		if (!pj_string(p, &v->str, &v->n))
			return false;
		v->type = PJ_STRING;
		return true;
	case 't':
		return pj_literal(p, "true", v, PJ_BOOL, true);
	case 'f':
		return pj_literal(p, "false", v, PJ_BOOL, false);
	case 'n':
		return pj_literal(p, "null", v, PJ_NULL, false);
	case '\'':
		return pj_fail(p, p->pos, "strings need double quotes");
	default:
		if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return pj_number(p, v);
		return pj_fail(p, p->pos,
			       "expected a value (string, number, object, array, true, "
			       "false or null)");
	}
}

bool pj_parse(const struct pol_src *src, struct arena *a, struct pj_value *root)
{
	struct pj_parser p = {.src = src, .s = src->text, .len = src->len, .a = a};

	if (src->len > POLICY_MAX_BYTES)
		return pol_fail(src, 0, NULL, "file too large (more than %d bytes)",
				POLICY_MAX_BYTES);
	/* A UTF-8 byte order mark is tolerated: some editors write one. */
	if (p.len >= 3 && memcmp(p.s, "\xef\xbb\xbf", 3) == 0)
		p.pos = 3;
	if (!pj_value(&p, root))
		return false;
	pj_skip_ws(&p);
	if (p.pos < p.len)
		return pj_fail(&p, p.pos, "unexpected text after the end of the document");
	return true;
}

size_t pj_string_offset(const char *text, size_t len, const struct pj_value *v, size_t decoded)
{
	size_t raw = v->off + 1, out = 0;

	while (out < decoded && raw < len && text[raw] != '"') {
		if (text[raw] == '\\') {
			unsigned long cp;
			size_t step;
			const char *why;

			if (!pj_escape(text, len, raw, &cp, &step, &why))
				break;
			out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
			if (out > decoded) /* inside the escape's character: point at the escape */
				break;
			raw += step;
		} else {
			raw++;
			out++;
		}
	}
	return raw;
}

const char *pj_type_name(int type)
{
	switch (type) {
	case PJ_NULL:
		return "null";
	case PJ_BOOL:
		return "a boolean";
	case PJ_NUMBER:
		return "a number";
	case PJ_STRING:
		return "a string";
	case PJ_ARRAY:
		return "an array";
	case PJ_OBJECT:
		return "an object";
	}
	return "a value";
}
