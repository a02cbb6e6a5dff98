/* prices_pctx: the price-table parser's error messages: the JSON path being validated as text,
 * and its line and column found in the source (jansson keeps no positions after parsing).
 * Owns nothing; borrows the parse context. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jpos.h"
#include "prices_parse.h"

_Static_assert(PRICES_PATH_DEPTH <= JPATH_MAX, "a prices path must fit a jpos path");

static bool is_ident(const char *k)
{
	if (!*k || !((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
		return false;
	for (; *k; k++) {
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	}
	return true;
}

/* The path as text: providers.openai.models["gpt-4o"].history[0].input. Keys that are not
 * identifiers are quoted, with anything unprintable escaped, and cut after 60 bytes. */
static void path_text(const struct pctx *c, char *buf, size_t len)
{
	size_t n = 0, depth = c->depth < PRICES_PATH_DEPTH ? c->depth : PRICES_PATH_DEPTH;

#define OUT(...)                                                                   \
	do {                                                                       \
		if (n < len)                                                       \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);      \
	} while (0)
	buf[0] = '\0';
	for (size_t i = 0; i < depth; i++) {
		const char *k = c->path[i].key;

		if (!k) {
			OUT("[%zu]", c->path[i].index);
		} else if (is_ident(k)) {
			OUT("%s%s", i ? "." : "", k);
		} else {
			size_t kl = strlen(k);

			OUT("[\"");
			for (size_t j = 0; j < kl && j < 60; j++) {
				unsigned char ch = (unsigned char)k[j];

				if (ch == '"' || ch == '\\')
					OUT("\\%c", ch);
				else if (ch < 0x20 || ch >= 0x7f)
					OUT("\\x%02x", ch);
				else
					OUT("%c", ch);
			}
			OUT("%s\"]", kl > 60 ? "..." : "");
		}
	}
#undef OUT
}

bool pctx_fail(struct pctx *c, bool at_key, const char *fmt, ...)
{
	char path[512], where[64] = "";
	size_t depth = c->depth < PRICES_PATH_DEPTH ? c->depth : PRICES_PATH_DEPTH;
	struct jpath jp = {.n = depth};
	long off;
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return false;
	for (size_t i = 0; i < depth; i++)
		jp.part[i] = (struct jpath_part){c->path[i].key, c->path[i].index};
	off = jpos_find(c->text, c->len, &jp, depth, at_key && depth > 0);
	if (off >= 0) {
		unsigned line, col;

		jpos_linecol(c->text, c->len, (size_t)off, &line, &col);
		snprintf(where, sizeof(where), ":%u:%u", line, col);
	}
	path_text(c, path, sizeof(path));
	n = snprintf(c->err, c->errlen, "%s%s: %s%s", c->fname, where, path, *path ? ": " : "");
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

bool pctx_oom(struct pctx *c)
{
	c->rc = -ENOMEM;
	return pctx_fail(c, false, "out of memory");
}

bool pctx_check_keys(struct pctx *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (!allowed[i]) {
			char list[256];
			size_t n = 0;

			list[0] = '\0';
			for (i = 0; allowed[i] && n < sizeof(list); i++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
						      i ? ", " : "", allowed[i]);
			pctx_push_key(c, key);
			pctx_fail(c, true, "unknown key (expected one of: %s)", list);
			pctx_pop(c);
			return false;
		}
	}
	return true;
}

bool pctx_need_object(struct pctx *c, json_t *v)
{
	return json_is_object(v) || pctx_fail(c, false, "must be an object");
}
