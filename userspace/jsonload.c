/* jsonload: see jsonload.h. A recursive-descent reader over the whole buffer. Where jansson's
 * rules are stricter than RFC 8259 or merely particular, they are followed on purpose, so that
 * swapping one for the other changes nothing but speed:
 *  - strings must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing above
 *    U+10FFFF); raw control characters are refused; \u0000 is accepted (JSON_ALLOW_NUL) except
 *    in object keys; a \u surrogate must come as a proper high + low pair;
 *  - an integer outside int64 and a real that overflows a double are errors;
 *  - a later duplicate key replaces the earlier one;
 *  - nesting deeper than 2048 (jansson's JSON_PARSER_MAX_DEPTH, every value counting) is an
 *    error;
 *  - one NUL byte right after a number or true/false/null is skipped (a quirk of jansson's
 *    lexer, kept so the two agree on every input). */
#include "jsonload.h"
#include "utf8.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSONLOAD_MAX_DEPTH 2048
#define JSONLOAD_STACK_STR 1024 /* decoded strings up to this size need no allocation */

struct jl {
	const unsigned char *p, *end;
	unsigned depth;
};

static json_t *jl_value(struct jl *s);
static json_t *jl_scalar_or_container(struct jl *s);

static void jl_ws(struct jl *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}


static int hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}


/* jl_string - the string starting after the opening quote at s->p. Its bytes go to <out> (a
 * buffer of <cap>; a larger string is put in a malloc'd buffer returned in *<heap>). Sets *<len>.
 * Returns the bytes, or NULL on an error. */
static const char *jl_string(struct jl *s, char *out, size_t cap, char **heap, size_t *len)
{
	const unsigned char *p = s->p, *start = p, *end = s->end;
	unsigned char *o;
	size_t n = 0;

	*heap = NULL;
	/* Fast path: a run without escapes is returned in place. */
	while (p < end) {
		unsigned c = *p;

		if (c == '"') {
			s->p = p + 1;
			*len = (size_t)(p - start);
			return (const char *)start;
		}
		if (c == '\\')
			break;
		if (c < 0x20)
			return NULL;
		if (c < 0x80) {
			p++;
		} else {
			size_t k = utf8_char_len(p, (size_t)(end - p));

			if (!k)
				return NULL;
			p += k;
		}
	}
	if (p >= end)
		return NULL;
	/* Escapes: decode. The decoded form is never longer than the source, which ends at the
	 * first quote preceded by an even number of backslashes. */
	{
		const unsigned char *q = p;
		size_t bound;

		for (;;) {
			const unsigned char *b;

			q = memchr(q, '"', (size_t)(end - q));
			if (!q)
				return NULL;
			for (b = q; b > p && b[-1] == '\\'; b--)
				;
			if (((size_t)(q - b) & 1) == 0)
				break;
			q++;
		}
		bound = (size_t)(q - start);
		if (bound > cap) {
			*heap = malloc(bound);
			if (!*heap)
				return NULL;
			o = (unsigned char *)*heap;
		} else {
			o = (unsigned char *)out;
		}
	}
	memcpy(o, start, (size_t)(p - start));
	n = (size_t)(p - start);
	while (p < end) {
		unsigned c = *p;

		if (c == '"') {
			s->p = p + 1;
			*len = n;
			return (const char *)o;
		}
		if (c < 0x20)
			goto fail;
		if (c >= 0x80) {
			size_t k = utf8_char_len(p, (size_t)(end - p));

			if (!k)
				goto fail;
			memcpy(o + n, p, k);
			n += k;
			p += k;
			continue;
		}
		if (c != '\\') {
			o[n++] = (unsigned char)c;
			p++;
			continue;
		}
		if (end - p < 2)
			goto fail;
		switch (p[1]) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u': {
			uint32_t cp, lo;

			if (end - p < 6 || hex4(p + 2, &cp) < 0)
				goto fail;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto fail; /* a low surrogate first */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto fail;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n += utf8_put(o + n, cp);
			p += 6;
			continue;
		}
		default:
			goto fail;
		}
		p += 2;
	}
fail:
	free(*heap);
	*heap = NULL;
	return NULL;
}

static json_t *jl_number(struct jl *s)
{
	const unsigned char *p = s->p, *start = p, *end = s->end;
	bool real = false;
	char tmp[64], *buf = tmp, *stop;
	size_t n;
	json_t *v = NULL;

	if (p < end && *p == '-')
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return NULL;
	} else {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && *p == '.') {
		real = true;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - start);
	if (n >= sizeof(tmp)) {
		buf = malloc(n + 1);
		if (!buf)
			return NULL;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	if (!real) {
		long long i = strtoll(buf, &stop, 10);

		if (errno != ERANGE && stop == buf + n)
			v = json_integer((json_int_t)i);
	} else {
		/* strtod follows the locale's decimal point; JSON's is '.', and the agent never
		 * changes LC_NUMERIC from "C". */
		double d = strtod(buf, &stop);

		if (stop == buf + n && !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)))
			v = json_real(d);
	}
	if (buf != tmp)
		free(buf);
	if (v)
		s->p = p;
	return v;
}

static bool jl_word(struct jl *s, const char *w, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

static json_t *jl_object(struct jl *s)
{
	json_t *obj = json_object();
	char kbuf[JSONLOAD_STACK_STR], *heap;
	const char *key;
	size_t klen;

	if (!obj)
		return NULL;
	s->p++; /* '{' */
	jl_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return obj;
	}
	for (;;) {
		json_t *v;

		if (s->p >= s->end || *s->p != '"')
			goto fail;
		s->p++;
		key = jl_string(s, kbuf, sizeof(kbuf), &heap, &klen);
		if (!key)
			goto fail;
		if (memchr(key, '\0', klen)) { /* jansson refuses NUL in keys */
			free(heap);
			goto fail;
		}
		jl_ws(s);
		if (s->p >= s->end || *s->p != ':') {
			free(heap);
			goto fail;
		}
		s->p++;
		jl_ws(s);
		v = jl_value(s);
		if (!v || json_object_setn_new_nocheck(obj, key, klen, v) != 0) {
			free(heap);
			goto fail;
		}
		free(heap);
		jl_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			jl_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return obj;
		}
		goto fail;
	}
fail:
	json_decref(obj);
	return NULL;
}

static json_t *jl_array(struct jl *s)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	s->p++; /* '[' */
	jl_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return arr;
	}
	for (;;) {
		json_t *v = jl_value(s);

		if (!v || json_array_append_new(arr, v) != 0)
			goto fail;
		jl_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			jl_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return arr;
		}
		goto fail;
	}
fail:
	json_decref(arr);
	return NULL;
}

static json_t *jl_value(struct jl *s)
{
	json_t *v = NULL;

	if (s->p >= s->end)
		return NULL;
	/* Like jansson, every value counts towards the depth, scalars included. */
	if (s->depth >= JSONLOAD_MAX_DEPTH)
		return NULL;
	s->depth++;
	v = jl_scalar_or_container(s);
	s->depth--;
	return v;
}

static json_t *jl_scalar_or_container(struct jl *s)
{
	json_t *v = NULL;

	switch (*s->p) {
	case '{':
		return jl_object(s);
	case '[':
		return jl_array(s);
	case '"': {
		char buf[JSONLOAD_STACK_STR], *heap;
		const char *str;
		size_t len;

		s->p++;
		str = jl_string(s, buf, sizeof(buf), &heap, &len);
		if (str)
			v = json_stringn_nocheck(str, len);
		free(heap);
		return v;
	}
	case 't':
		v = jl_word(s, "true", 4) ? json_true() : NULL;
		break;
	case 'f':
		v = jl_word(s, "false", 5) ? json_false() : NULL;
		break;
	case 'n':
		v = jl_word(s, "null", 4) ? json_null() : NULL;
		break;
	default:
		v = jl_number(s);
		break;
	}
	/* jansson's lexer reads one byte past a number or a word and pushes it back; a NUL byte
	 * pushed back is lost, so one NUL right after them is skipped ("[1\0,2]" is [1,2]). */
	if (v && s->p < s->end && *s->p == '\0')
		s->p++;
	return v;
}

json_t *jsonload(const char *buf, size_t len, bool any)
{
	struct jl s = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0};
	json_t *v;

	jl_ws(&s);
	if (s.p >= s.end || (!any && *s.p != '{' && *s.p != '['))
		return NULL;
	v = jl_value(&s);
	if (!v)
		return NULL;
	jl_ws(&s);
	if (s.p != s.end) {
		json_decref(v);
		return NULL;
	}
	return v;
}
