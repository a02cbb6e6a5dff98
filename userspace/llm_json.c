/* llm_json: JSON helpers for the llm module: counts and strings out of jansson trees, the owned
 * string copies llm_info points to, and two byte-level scanners over raw bodies (the elements of a
 * possibly cut top-level array; the top-level members of an object, for the model rewrite). Owns
 * nothing but the strings it copies; borrows the trees and buffers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hexdigit.h"
#include "jsonload.h"
#include "llm_int.h"

/* JSON numbers beyond 2^53 are not exact in most parsers; no token count comes near. */
#define LLM_COUNT_MAX (INT64_C(1) << 53)

int64_t llm_json_count(json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0)
			return -1;
		return n > LLM_COUNT_MAX ? LLM_COUNT_MAX : (int64_t)n;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		if (!(d >= 0) || !isfinite(d))
			return -1;
		return d > (double)LLM_COUNT_MAX ? LLM_COUNT_MAX : (int64_t)d;
	}
	return -1;
}

json_t *llm_json_path(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, a) : NULL;

	if (b)
		v = json_is_object(v) ? json_object_get(v, b) : NULL;
	return v;
}

bool llm_json_true(json_t *obj, const char *key)
{
	return json_is_object(obj) && json_is_true(json_object_get(obj, key));
}

void llm_set_string(char **slot, const char **pub, const char *s, size_t len)
{
	char *copy;

	free(*slot);
	*slot = NULL;
	*pub = NULL;
	if (!s)
		return;
	if (len > LLM_STRING_CAP) {
		len = LLM_STRING_CAP;
		/* do not end inside a UTF-8 sequence */
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	copy = malloc(len + 1);
	if (!copy)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		copy[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
	}
	copy[len] = '\0';
	*slot = copy;
	*pub = copy;
}

void llm_set_json_string(char **slot, const char **pub, json_t *str)
{
	if (json_is_string(str))
		llm_set_string(slot, pub, json_string_value(str), json_string_length(str));
}

void llm_add_text(struct llm_call *c, json_t *str)
{
	if (json_is_string(str))
		c->info.generated_text_bytes += json_string_length(str);
}

/* ---- byte-level scanning ---- */

static size_t llm_skip_ws(const char *b, size_t len, size_t i)
{
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
		i++;
	return i;
}

/* <i> at a '"': the offset after the closing quote, or 0 when the string does not end. */
static size_t llm_skip_string(const char *b, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (b[i] == '\\')
			i++;
		else if (b[i] == '"')
			return i + 1;
	}
	return 0;
}

/* <i> at the start of a value: the offset after it, or 0 when it does not end within <len>.
 * Brackets are only counted, not matched: callers parse what they take with jansson. */
static size_t llm_skip_value(const char *b, size_t len, size_t i)
{
	size_t depth = 0;

	if (i >= len)
		return 0;
	if (b[i] == '"')
		return llm_skip_string(b, len, i);
	if (b[i] != '{' && b[i] != '[') {
		size_t start = i;

		while (i < len && !strchr(",]} \t\r\n", b[i]))
			i++;
		/* a scalar at the very end may still be growing */
		return (i > start && i < len) ? i : 0;
	}
	while (i < len) {
		switch (b[i]) {
		case '"':
			i = llm_skip_string(b, len, i);
			if (!i)
				return 0;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return i + 1;
			break;
		default:
			break;
		}
		i++;
	}
	return 0;
}

int llm_json_array_each(const char *buf, size_t len, void (*cb)(void *ctx, json_t *el), void *ctx)
{
	size_t i = llm_skip_ws(buf, len, 0);
	int n = 0;

	if (i >= len || buf[i] != '[')
		return -1;
	i = llm_skip_ws(buf, len, i + 1);
	while (i < len && buf[i] != ']') {
		size_t end = llm_skip_value(buf, len, i);
		json_t *el;

		if (!end)
			break;
		el = jsonload(buf + i, end - i, true);
		if (!el)
			break;
		cb(ctx, el);
		json_decref(el);
		n++;
		i = llm_skip_ws(buf, len, end);
		if (i < len && buf[i] == ',')
			i = llm_skip_ws(buf, len, i + 1);
		else
			break;
	}
	return n;
}

/* Whether the JSON string body b[start..end) (between its quotes) decodes to the ASCII <key>. */
static bool llm_key_equals(const char *b, size_t start, size_t end, const char *key)
{
	size_t k = 0, klen = strlen(key);

	for (size_t i = start; i < end; i++) {
		char ch = b[i];

		if (ch == '\\') {
			if (++i >= end)
				return false;
			switch (b[i]) {
			case 'u': {
				long v = hex4_at(b, end, i + 1);

				if (v <= 0 || v >= 0x80)
					return false; /* the key is ASCII */
				ch = (char)v;
				i += 4;
				break;
			}
			case 'b':
				ch = '\b';
				break;
			case 'f':
				ch = '\f';
				break;
			case 'n':
				ch = '\n';
				break;
			case 'r':
				ch = '\r';
				break;
			case 't':
				ch = '\t';
				break;
			default:
				ch = b[i]; /* \" \\ \/ */
				break;
			}
		}
		if (k >= klen || key[k] != ch)
			return false;
		k++;
	}
	return k == klen;
}

int llm_json_members(const char *buf, size_t len, const char *key, struct llm_span *spans,
		     size_t max)
{
	size_t i = llm_skip_ws(buf, len, 0);
	int found = 0;

	if (i >= len || buf[i] != '{')
		return -EBADMSG;
	i = llm_skip_ws(buf, len, i + 1);
	if (i < len && buf[i] == '}')
		return 0;
	for (;;) {
		size_t kend, vstart, vend;

		if (i >= len || buf[i] != '"')
			return -EBADMSG;
		kend = llm_skip_string(buf, len, i);
		if (!kend)
			return -EBADMSG;
		vstart = llm_skip_ws(buf, len, kend);
		if (vstart >= len || buf[vstart] != ':')
			return -EBADMSG;
		vstart = llm_skip_ws(buf, len, vstart + 1);
		vend = llm_skip_value(buf, len, vstart);
		if (!vend) {
			/* a scalar that ends the buffer is complete only if the object is not */
			return -EBADMSG;
		}
		if (llm_key_equals(buf, i + 1, kend - 1, key)) {
			if ((size_t)found < max)
				spans[found] = (struct llm_span){vstart, vend - vstart};
			found++;
		}
		i = llm_skip_ws(buf, len, vend);
		if (i < len && buf[i] == '}')
			return found;
		if (i >= len || buf[i] != ',')
			return -EBADMSG;
		i = llm_skip_ws(buf, len, i + 1);
	}
}
