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
#include "hexdigit.h"
#include "jsonload.h"
#include "utf8.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSONLOAD_MAX_DEPTH 2048
/* Strings with escapes are decoded into one scratch buffer used as a stack (a key stays there
 * while its value is read), not into buffers on the C stack: nesting may go 2048 deep, and the
 * recursion's frames must stay small. Offsets, not pointers, because the buffer may move. */
struct jl {
	const unsigned char *p, *end;
	unsigned depth;
	unsigned char *sbuf;
	size_t scap, sused;
};

/* A string read by jl_string: in the input itself, or at <off> in the scratch buffer. */
struct jl_str {
	const char *inplace; /* NULL: in the scratch buffer */
	size_t off, len;
};

static const char *jl_str_ptr(const struct jl *s, const struct jl_str *t)
{
	return t->inplace ? t->inplace : (const char *)s->sbuf + t->off;
}

static json_t *jl_value(struct jl *s);
static json_t *jl_scalar_or_container(struct jl *s);

static void jl_ws(struct jl *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}


/* jl_string - the string starting after the opening quote at s->p, into *<t>: in place when it
 * has no escapes, else decoded onto the scratch stack (the caller pops it by restoring
 * s->sused). Returns false on an error. */
static bool jl_string(struct jl *s, struct jl_str *t)
{
	const unsigned char *p = s->p, *start = p, *end = s->end;
	unsigned char *o;
	size_t n;

	/* Fast path: a run without escapes is returned in place. */
	while (p < end) {
		unsigned c = *p;

		if (c == '"') {
			s->p = p + 1;
			*t = (struct jl_str){(const char *)start, 0, (size_t)(p - start)};
			return true;
		}
		if (c == '\\')
			break;
		if (c < 0x20)
			return false;
		if (c < 0x80) {
			p++;
		} else {
			size_t k = utf8_char_len(p, (size_t)(end - p));

			if (!k)
				return false;
			p += k;
		}
	}
	if (p >= end)
		return false;
	/* Escapes: decode. The decoded form is never longer than the source, which ends at the
	 * first quote preceded by an even number of backslashes. */
	{
		const unsigned char *q = p;
		size_t bound;

		for (;;) {
			const unsigned char *b;

			q = memchr(q, '"', (size_t)(end - q));
			if (!q)
				return false;
			for (b = q; b > p && b[-1] == '\\'; b--)
				;
			if (((size_t)(q - b) & 1) == 0)
				break;
			q++;
		}
		bound = (size_t)(q - start);
		if (s->scap - s->sused < bound) {
			size_t cap = s->scap ? s->scap : 4096;
			unsigned char *nb;

			while (cap - s->sused < bound)
				cap *= 2;
			nb = realloc(s->sbuf, cap);
			if (!nb)
				return false;
			s->sbuf = nb;
			s->scap = cap;
		}
	}
	o = s->sbuf + s->sused;
	memcpy(o, start, (size_t)(p - start));
	n = (size_t)(p - start);
	while (p < end) {
		unsigned c = *p;

		if (c == '"') {
			s->p = p + 1;
			*t = (struct jl_str){NULL, s->sused, n};
			s->sused += n;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			size_t k = utf8_char_len(p, (size_t)(end - p));

			if (!k)
				return false;
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
			return false;
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
			long cp, lo;

			if ((cp = hex4_at((const char *)p, (size_t)(end - p), 2)) < 0)
				return false;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return false; /* a low surrogate first */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 8 || p[6] != '\\' || p[7] != 'u' ||
				    (lo = hex4_at((const char *)p, (size_t)(end - p), 8)) < 0xdc00 ||
				    lo > 0xdfff)
					return false;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n += utf8_put(o + n, (uint32_t)cp);
			p += 6;
			continue;
		}
		default:
			return false;
		}
		p += 2;
	}
	return false;
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

/* jl_eat - consume <c> if it is the next byte. */
static bool jl_eat(struct jl *s, char c)
{
	if (s->p < s->end && *s->p == (unsigned char)c) {
		s->p++;
		return true;
	}
	return false;
}

/* jl_after_member - after a member or element: 1 for another (',' read), 0 for the end
 * (<close> read), -1 for anything else. */
static int jl_after_member(struct jl *s, char close)
{
	jl_ws(s);
	if (jl_eat(s, ',')) {
		jl_ws(s);
		return 1;
	}
	return jl_eat(s, close) ? 0 : -1;
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

	if (!obj)
		return NULL;
	s->p++; /* '{' */
	jl_ws(s);
	if (jl_eat(s, '}'))
		return obj;
	for (;;) {
		size_t mark = s->sused;
		struct jl_str key;
		json_t *v;
		int rc;

		if (!jl_eat(s, '"') || !jl_string(s, &key))
			goto fail;
		/* jansson refuses NUL in keys */
		if (memchr(jl_str_ptr(s, &key), '\0', key.len))
			goto fail;
		jl_ws(s);
		if (!jl_eat(s, ':'))
			goto fail;
		jl_ws(s);
		v = jl_value(s);
		if (!v)
			goto fail;
		/* the key's bytes may have moved with the scratch buffer: look them up now */
		rc = json_object_setn_new_nocheck(obj, jl_str_ptr(s, &key), key.len, v);
		s->sused = mark;
		if (rc != 0)
			goto fail;
		switch (jl_after_member(s, '}')) {
		case 1:
			continue;
		case 0:
			return obj;
		default:
			goto fail;
		}
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
	if (jl_eat(s, ']'))
		return arr;
	for (;;) {
		json_t *v = jl_value(s);

		if (!v || json_array_append_new(arr, v) != 0)
			goto fail;
		switch (jl_after_member(s, ']')) {
		case 1:
			continue;
		case 0:
			return arr;
		default:
			goto fail;
		}
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
		size_t mark = s->sused;
		struct jl_str str;

		s->p++;
		if (jl_string(s, &str))
			v = json_stringn_nocheck(jl_str_ptr(s, &str), str.len);
		s->sused = mark;
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
	struct jl s = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0, NULL, 0, 0};
	json_t *v = NULL;

	jl_ws(&s);
	if (s.p < s.end && (any || *s.p == '{' || *s.p == '['))
		v = jl_value(&s);
	if (v) {
		jl_ws(&s);
		if (s.p != s.end) {
			json_decref(v);
			v = NULL;
		}
	}
	free(s.sbuf);
	return v;
}
