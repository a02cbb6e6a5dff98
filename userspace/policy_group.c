/* policy_group: groups ("@name": what a request routed there may become) — compiling one from
 * its JSON object, with every mistake that can be seen at load reported there (a downgrade that
 * can never apply or leads outside the group, an empty list, a misplaced '*'), and deciding,
 * without allocating, whether a request is allowed, downgraded or blocked by it. Name patterns
 * are exact names or have one '*' at the start and/or the end. */
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

static const char *const group_fields[] = {
    "models", "providers", "downgrade", "block", "require_sanctioned_key", "description", NULL};

struct gc {
	const struct pol_src *src;
	struct arena *a;
	const char *gname;
	char where[160];
};

static const char *gc_where(struct gc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *gc_where(struct gc *c, const char *fmt, ...)
{
	int n = snprintf(c->where, sizeof(c->where), "groups.%s", c->gname);
	va_list ap;

	if (n > 0 && (size_t)n < sizeof(c->where)) {
		va_start(ap, fmt);
		vsnprintf(c->where + n, sizeof(c->where) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return c->where;
}

/* Byte <k> of the decoded string <v>, as a source offset. */
static size_t gc_at(const struct gc *c, const struct pj_value *v, size_t k)
{
	return pj_string_offset(c->src->text, c->src->len, v, k);
}

bool pol_pattern_match(const struct pol_pattern *p, const char *s, size_t n)
{
	switch (p->kind) {
	case PP_EXACT:
		return n == p->lit_len && memcmp(s, p->lit, n) == 0;
	case PP_PREFIX:
		return n >= p->lit_len && memcmp(s, p->lit, p->lit_len) == 0;
	case PP_SUFFIX:
		return n >= p->lit_len && memcmp(s + n - p->lit_len, p->lit, p->lit_len) == 0;
	case PP_CONTAINS:
		return memmem(s, n, p->lit, p->lit_len) != NULL;
	case PP_ANY:
		return true;
	}
	return false;
}

static bool group_match_any(const struct pol_pattern *ps, uint32_t n, const char *s, size_t len)
{
	for (uint32_t i = 0; i < n; i++)
		if (pol_pattern_match(&ps[i], s, len))
			return true;
	return false;
}

/* True when every name that <specific> matches is also matched by <general>. */
static bool group_covers(const struct pol_pattern *general, const struct pol_pattern *specific)
{
	const struct pol_pattern *g = general, *s = specific;

	if (g->kind == PP_ANY || s->kind == PP_EXACT)
		return pol_pattern_match(g, s->lit, s->lit_len);
	if (s->kind == PP_ANY)
		return false;
	switch (g->kind) {
	case PP_PREFIX:
		return s->kind == PP_PREFIX && pol_pattern_match(g, s->lit, s->lit_len);
	case PP_SUFFIX:
		return s->kind == PP_SUFFIX && pol_pattern_match(g, s->lit, s->lit_len);
	case PP_CONTAINS:
		return pol_pattern_match(g, s->lit, s->lit_len);
	}
	return false;
}

/* A name or pattern from string <v>: no control characters or spaces, '*' only at the ends. */
static bool gc_pattern(struct gc *c, const struct pj_value *v, const char *where, bool glob,
		       struct pol_pattern *p)
{
	const char *s = v->str;
	size_t n = v->n, lo = 0, hi = n;

	if (n == 0)
		return pol_fail(c->src, v->off, where, "empty name");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7f)
			return pol_fail(c->src, gc_at(c, v, i), where,
					"names contain no spaces or control characters");
		if (ch == '*' && (!glob || (i != 0 && i != n - 1)))
			return pol_fail(c->src, gc_at(c, v, i), where,
					glob ? "'*' is allowed only at the start or the end of a "
					       "name"
					     : "a target model is a name, not a pattern");
	}
	p->text = s;
	if (n == 1 && s[0] == '*') {
		p->kind = PP_ANY;
	} else {
		if (s[0] == '*')
			lo = 1;
		if (s[n - 1] == '*')
			hi = n - 1;
		if (hi <= lo)
			return pol_fail(c->src, gc_at(c, v, 1), where,
					"'**' matches nothing useful: "
					"use '*'");
		p->kind = lo && hi < n ? PP_CONTAINS
			  : lo	       ? PP_SUFFIX
			  : hi < n     ? PP_PREFIX
				       : PP_EXACT;
	}
	p->lit = s + lo;
	p->lit_len = (uint32_t)(hi - lo);
	return true;
}

/* A non-empty list of patterns, and its "a, b*" form for reasons. */
static bool gc_list(struct gc *c, const struct pj_member *m, struct pol_pattern **out,
		    uint32_t *nout, const char **text)
{
	const struct pj_value *v = &m->val;
	struct pol_pattern *ps;
	size_t tlen = 0;
	char *t;

	if (v->type != PJ_ARRAY)
		return pol_fail(c->src, v->off, gc_where(c, ".%s", m->key),
				"expected a list of names, e.g. [\"gpt-4o-mini\"], found %s",
				pj_type_name(v->type));
	if (v->n == 0)
		return pol_fail(c->src, v->off, gc_where(c, ".%s", m->key),
				"an empty list allows nothing: leave %s out to allow any, or use "
				"\"block\"",
				m->key);
	if (v->n > POL_MAX_LIST)
		return pol_fail(c->src, v->off, gc_where(c, ".%s", m->key),
				"too many names (at most %d)", POL_MAX_LIST);
	ps = arena_alloc(c->a, v->n * sizeof(*ps));
	if (!ps)
		return pol_fail(c->src, v->off, NULL, "out of memory");
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pj_value *it = &v->items[i];
		const char *where = gc_where(c, ".%s[%u]", m->key, i);

		if (it->type != PJ_STRING)
			return pol_fail(c->src, it->off, where, "expected a string, found %s",
					pj_type_name(it->type));
		if (!gc_pattern(c, it, where, true, &ps[i]))
			return false;
		tlen += it->n + 2;
	}
	t = arena_alloc(c->a, tlen + 1);
	if (!t)
		return pol_fail(c->src, v->off, NULL, "out of memory");
	tlen = 0;
	for (uint32_t i = 0; i < v->n; i++)
		tlen += (size_t)sprintf(t + tlen, "%s%s", i ? ", " : "", ps[i].text);
	*out = ps;
	*nout = v->n;
	*text = t;
	return true;
}

/* Exact names first, then longer literal parts, then file order: the most specific entry wins
 * whatever order a JSON object happens to list them in. */
static bool group_more_specific(const struct pol_downgrade *x, const struct pol_downgrade *y)
{
	if ((x->from.kind == PP_EXACT) != (y->from.kind == PP_EXACT))
		return x->from.kind == PP_EXACT;
	if (x->from.kind == PP_ANY || y->from.kind == PP_ANY)
		return y->from.kind == PP_ANY && x->from.kind != PP_ANY;
	return x->from.lit_len > y->from.lit_len;
}

static bool gc_downgrade(struct gc *c, const struct pj_member *m, struct pol_group *g)
{
	const struct pj_value *v = &m->val;
	struct pol_downgrade *d;

	if (v->type != PJ_OBJECT)
		return pol_fail(c->src, v->off, gc_where(c, ".downgrade"),
				"expected an object of model -> cheaper model, e.g. "
				"{\"gpt-4o\": \"gpt-4o-mini\"}, found %s",
				pj_type_name(v->type));
	if (g->nmodels == 0)
		return pol_fail(c->src, m->key_off + 1, gc_where(c, ".downgrade"),
				"downgrade needs \"models\": without a model list every model is "
				"allowed and nothing is ever downgraded");
	d = arena_alloc(c->a, (v->n ? v->n : 1) * sizeof(*d));
	if (!d)
		return pol_fail(c->src, v->off, NULL, "out of memory");
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pj_member *e = &v->members[i];
		struct pj_value key = {
		    .type = PJ_STRING, .off = e->key_off, .n = e->key_len, .str = e->key};
		const char *where = gc_where(c, ".downgrade.%s", e->key);
		struct pol_pattern to;
		struct pol_downgrade cur;
		uint32_t k;

		if (!gc_pattern(c, &key, where, true, &cur.from))
			return false;
		for (k = 0; k < g->nmodels; k++)
			if (group_covers(&g->models[k], &cur.from))
				return pol_fail(c->src, e->key_off + 1, where,
						"never applies: %s already allows it (by \"%s\")",
						c->gname, g->models[k].text);
		if (e->val.type != PJ_STRING)
			return pol_fail(c->src, e->val.off, where,
					"expected the name of the model to use instead, found %s",
					pj_type_name(e->val.type));
		if (!gc_pattern(c, &e->val, where, false, &to))
			return false;
		if (!group_match_any(g->models, g->nmodels, to.lit, to.lit_len))
			return pol_fail(c->src, e->val.off + 1, where,
					"downgrade target '%s' is not allowed by %s's models (%s)",
					to.text, c->gname, g->models_text);
		cur.to = to.text;
		/* Insertion keeps equal entries in file order. */
		for (k = i; k > 0 && group_more_specific(&cur, &d[k - 1]); k--)
			d[k] = d[k - 1];
		d[k] = cur;
	}
	g->downgrades = d;
	g->ndowngrades = v->n;
	return true;
}

static bool gc_name(struct gc *c, const struct pj_member *m)
{
	if (m->key_len < 2 || m->key[0] != '@')
		return pol_fail(c->src, m->key_off + 1, "groups",
				"a group name starts with '@', e.g. \"@cheap\"");
	if (m->key_len >= POL_MAX_NAME)
		return pol_fail(c->src, m->key_off + 1, "groups",
				"group name too long (at most %d characters)", POL_MAX_NAME - 1);
	for (uint32_t i = 1; i < m->key_len; i++) {
		char ch = m->key[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return pol_fail(c->src, m->key_off + 1 + i, "groups",
					"a group name has letters, digits, '-', '_' and '.' after "
					"the '@'");
	}
	return true;
}

bool pol_compile_group(const struct pol_src *src, const struct pj_member *m, struct arena *a,
		       struct pol_group *g)
{
	struct gc c = {.src = src, .a = a, .gname = m->key};
	const struct pj_value *v = &m->val;
	const struct pj_member *block = NULL, *downgrade = NULL;
	char *reason;

	memset(g, 0, sizeof(*g));
	if (!gc_name(&c, m))
		return false;
	g->name = m->key;
	g->off = m->key_off + 1;
	if (v->type != PJ_OBJECT)
		return pol_fail(src, v->off, gc_where(&c, "%s", ""),
				"expected an object describing the group, found %s",
				pj_type_name(v->type));
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pj_member *f = &v->members[i];
		const char *hint;

		if (strcmp(f->key, "models") == 0) {
			struct pol_pattern *ps;

			if (!gc_list(&c, f, &ps, &g->nmodels, &g->models_text))
				return false;
			g->models = ps;
		} else if (strcmp(f->key, "providers") == 0) {
			struct pol_pattern *ps;

			if (!gc_list(&c, f, &ps, &g->nproviders, &g->providers_text))
				return false;
			g->providers = ps;
		} else if (strcmp(f->key, "downgrade") == 0) {
			downgrade = f; /* checked against "models", wherever that is */
		} else if (strcmp(f->key, "block") == 0) {
			if (f->val.type != PJ_STRING || f->val.n == 0)
				return pol_fail(src, f->val.off, gc_where(&c, ".block"),
						"expected the reason for blocking (a non-empty "
						"string)");
			if (f->val.n > POL_MAX_BLOCK_MSG)
				return pol_fail(src, f->val.off, gc_where(&c, ".block"),
						"reason too long (at most %d bytes)",
						POL_MAX_BLOCK_MSG);
			for (uint32_t k = 0; k < f->val.n; k++)
				if ((unsigned char)f->val.str[k] < 0x20)
					return pol_fail(
					    src, gc_at(&c, &f->val, k), gc_where(&c, ".block"),
					    "the reason must be one line without control "
					    "characters");
			block = f;
			g->block = f->val.str;
		} else if (strcmp(f->key, "require_sanctioned_key") == 0) {
			if (f->val.type != PJ_BOOL)
				return pol_fail(
				    src, f->val.off, gc_where(&c, ".require_sanctioned_key"),
				    "expected true or false, found %s", pj_type_name(f->val.type));
			g->require_sanctioned_key = f->val.b;
		} else if (strcmp(f->key, "description") == 0) {
			if (f->val.type != PJ_STRING)
				return pol_fail(src, f->val.off, gc_where(&c, ".description"),
						"expected a string, found %s",
						pj_type_name(f->val.type));
		} else {
			hint = pol_suggest(f->key, f->key_len, group_fields);
			return pol_fail(src, f->key_off + 1, gc_where(&c, "%s", ""),
					"unknown field \"%s\"%s%s%s (fields: models, providers, "
					"downgrade, block, require_sanctioned_key, description)",
					f->key, hint ? " (did you mean " : "", hint ? hint : "",
					hint ? "?)" : "");
		}
	}
	reason = arena_alloc(a, strlen(g->name) + sizeof("allowed by "));
	if (!reason)
		return pol_fail(src, m->key_off, NULL, "out of memory");
	g->allow_reason_len = (uint32_t)sprintf(reason, "allowed by %s", g->name);
	g->allow_reason = reason;
	if (block && (g->nmodels || g->nproviders || downgrade || g->require_sanctioned_key))
		return pol_fail(src, block->key_off + 1, gc_where(&c, ".block"),
				"a blocking group allows nothing: drop \"block\" or the other "
				"fields (models, providers, downgrade, require_sanctioned_key)");
	return !downgrade || gc_downgrade(&c, downgrade, g);
}

void pol_group_decide(const struct pol_group *g, const struct policy_input *in,
		      struct policy_decision *out, struct pol_out *trace)
{
	struct pol_out r;
	size_t n;

	pol_out_init(&r, out->reason, sizeof(out->reason));
	out->model = NULL;
	if (trace)
		pol_out_fmt(trace, "group %s:\n", g->name);
	if (g->block) {
		out->action = POLICY_BLOCK;
		pol_out_str(&r, g->block);
		if (trace)
			pol_out_str(trace, "  blocks every request\n");
		goto done;
	}
	if (g->require_sanctioned_key) {
		if (trace)
			pol_out_fmt(trace, "  require_sanctioned_key: the key is %s\n",
				    in->key_shadow ? "a shadow key" : "sanctioned");
		if (in->key_shadow) {
			out->action = POLICY_BLOCK;
			pol_out_str(&r, g->name);
			pol_out_str(&r, " requires a sanctioned API key; this request uses an "
					"unregistered (shadow) key");
			goto done;
		}
	}
	if (g->nproviders) {
		bool ok = in->provider && group_match_any(g->providers, g->nproviders, in->provider,
							  strlen(in->provider));

		if (trace) {
			pol_out_str(trace, "  provider ");
			pol_out_quoted(trace, in->provider);
			pol_out_str(trace, ok ? ": in [" : ": not in [");
			pol_out_str(trace, g->providers_text);
			pol_out_str(trace, "]\n");
		}
		if (!ok) {
			out->action = POLICY_BLOCK;
			pol_out_str(&r, "provider ");
			pol_out_sanitized(&r, in->provider ? in->provider : "(unknown)");
			pol_out_str(&r, " is not allowed in ");
			pol_out_str(&r, g->name);
			pol_out_str(&r, " (allowed: ");
			pol_out_str(&r, g->providers_text);
			pol_out_str(&r, ")");
			goto done;
		}
	} else if (trace) {
		pol_out_str(trace, "  provider: any allowed\n");
	}
	if (g->nmodels && in->model) {
		n = strlen(in->model);
		if (trace) {
			pol_out_str(trace, "  model ");
			pol_out_quoted(trace, in->model);
		}
		if (!group_match_any(g->models, g->nmodels, in->model, n)) {
			if (trace) {
				pol_out_str(trace, ": not in [");
				pol_out_str(trace, g->models_text);
				pol_out_str(trace, "]\n");
			}
			for (uint32_t i = 0; i < g->ndowngrades; i++) {
				const struct pol_downgrade *d = &g->downgrades[i];

				if (!pol_pattern_match(&d->from, in->model, n))
					continue;
				out->action = POLICY_DOWNGRADE;
				out->model = d->to;
				pol_out_str(&r, "model ");
				pol_out_sanitized(&r, in->model);
				pol_out_str(&r, " is not allowed in ");
				pol_out_str(&r, g->name);
				pol_out_str(&r, "; downgraded to ");
				pol_out_str(&r, d->to);
				if (trace) {
					pol_out_str(trace, "  downgrade \"");
					pol_out_str(trace, d->from.text);
					pol_out_str(trace, "\" -> ");
					pol_out_str(trace, d->to);
					pol_out_str(trace, "\n");
				}
				goto done;
			}
			if (trace && g->ndowngrades)
				pol_out_str(trace, "  no downgrade entry matches\n");
			out->action = POLICY_BLOCK;
			pol_out_str(&r, "model ");
			pol_out_sanitized(&r, in->model);
			pol_out_str(&r, " is not allowed in ");
			pol_out_str(&r, g->name);
			pol_out_str(&r, " (allowed: ");
			pol_out_str(&r, g->models_text);
			pol_out_str(&r, ")");
			goto done;
		}
		if (trace) {
			pol_out_str(trace, ": in [");
			pol_out_str(trace, g->models_text);
			pol_out_str(trace, "]\n");
		}
	} else if (trace) {
		pol_out_str(trace, g->nmodels ? "  model: the request names none (allowed)\n"
					      : "  model: any allowed\n");
	}
	out->action = POLICY_ALLOW;
	pol_out_mem(&r, g->allow_reason, g->allow_reason_len);
done:
	pol_out_ellipsis(&r);
}
