/* policy_input: builds a struct policy_input from a JSON description of a request, for
 * `modeluxctl policy explain FILE --request JSON` and for tests. Strict like the policy itself
 * (unknown fields and wrong types are errors with line:col); the strings are copied into the
 * caller's struct policy_input_storage, the parse tree lives in a scratch arena. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy_int.h"

#define INPUT_ARENA_CAP ((size_t)16 << 20)

enum in_kind { IK_STR = 1, IK_BOOL, IK_NUM, IK_COUNT, IK_HOUR, IK_WEEKDAY };

struct in_field {
	const char *section, *name;
	uint8_t kind;
	size_t off; /* in struct policy_input */
};

#define IN_FIELD(sec, nm, kind, member)                                                            \
	{                                                                                          \
		sec, nm, kind, offsetof(struct policy_input, member)                               \
	}

static const struct in_field in_fields[] = {
    IN_FIELD("budget", "used_pct", IK_NUM, budget_used_pct),
    IN_FIELD("budget", "remaining_usd", IK_NUM, budget_remaining_usd),
    IN_FIELD("request", "provider", IK_STR, provider),
    IN_FIELD("request", "model", IK_STR, model),
    IN_FIELD("request", "endpoint", IK_STR, endpoint),
    IN_FIELD("request", "stream", IK_BOOL, stream),
    IN_FIELD("request", "max_tokens", IK_COUNT, max_tokens),
    IN_FIELD("process", "exe", IK_STR, exe),
    IN_FIELD("process", "user", IK_STR, user),
    IN_FIELD("key", "shadow", IK_BOOL, key_shadow),
    IN_FIELD("key", "provider", IK_STR, key_provider),
    IN_FIELD("time", "hour", IK_HOUR, hour),
    IN_FIELD("time", "weekday", IK_WEEKDAY, weekday),
};

static const char *const in_sections[] = {"tags", "budget", "request", "process",
					  "key",  "time",   NULL};

struct in_ctx {
	const struct pol_src *src;
	struct policy_input_storage *st;
	size_t used; /* bytes of st->strings */
	char where[96];
};

static const char *in_copy(struct in_ctx *c, const struct pj_value *v)
{
	char *d;

	if (v->n + 1 > sizeof(c->st->strings) - c->used) {
		pol_fail(c->src, v->off, NULL, "too much text (at most %zu bytes of strings)",
			 sizeof(c->st->strings));
		return NULL;
	}
	d = c->st->strings + c->used;
	memcpy(d, v->str, v->n + 1);
	c->used += v->n + 1;
	return d;
}

static bool in_tags(struct in_ctx *c, const struct pj_value *v, struct policy_input *in)
{
	if (v->type != PJ_OBJECT)
		return pol_fail(c->src, v->off, "tags",
				"expected an object of name: \"value\", found %s",
				pj_type_name(v->type));
	if (v->n > POLICY_INPUT_MAX_TAGS)
		return pol_fail(c->src, v->off, "tags", "too many tags (at most %d)",
				POLICY_INPUT_MAX_TAGS);
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pj_member *m = &v->members[i];
		struct pj_value name = {
		    .type = PJ_STRING, .off = m->key_off, .n = m->key_len, .str = m->key};
		struct policy_tag *t = &c->st->tags[i];

		snprintf(c->where, sizeof(c->where), "tags.%s", m->key);
		if (m->val.type != PJ_STRING && m->val.type != PJ_NULL)
			return pol_fail(c->src, m->val.off, c->where,
					"tag values are strings (or null), found %s",
					pj_type_name(m->val.type));
		t->name = in_copy(c, &name);
		t->value = m->val.type == PJ_STRING ? in_copy(c, &m->val) : NULL;
		if (!t->name || (m->val.type == PJ_STRING && !t->value))
			return false;
	}
	in->tags = c->st->tags;
	in->ntags = v->n;
	return true;
}

static bool in_whole(const struct pj_value *v, double lo, double hi)
{
	return v->type == PJ_NUMBER && v->num >= lo && v->num <= hi && floor(v->num) == v->num;
}

static bool in_value(struct in_ctx *c, const struct in_field *f, const struct pj_value *v,
		     struct policy_input *in)
{
	char *dst = (char *)in + f->off;
	int day;

	switch (f->kind) {
	case IK_STR:
		if (v->type == PJ_NULL) {
			*(const char **)dst = NULL;
			return true;
		}
		if (v->type != PJ_STRING)
			return pol_fail(c->src, v->off, c->where, "expected a string, found %s",
					pj_type_name(v->type));
		*(const char **)dst = in_copy(c, v);
		return *(const char **)dst != NULL;
	case IK_BOOL:
		if (v->type != PJ_BOOL)
			return pol_fail(c->src, v->off, c->where,
					"expected true or false, found %s", pj_type_name(v->type));
		*(bool *)dst = v->b;
		return true;
	case IK_NUM:
		if (v->type != PJ_NUMBER && v->type != PJ_NULL)
			return pol_fail(c->src, v->off, c->where, "expected a number, found %s",
					pj_type_name(v->type));
		*(double *)dst = v->type == PJ_NUMBER ? v->num : NAN;
		return true;
	case IK_COUNT:
		if (v->type == PJ_NULL) {
			*(int64_t *)dst = -1;
			return true;
		}
		if (!in_whole(v, 0, 1e15))
			return pol_fail(c->src, v->off, c->where,
					"expected a whole number of tokens (or null)");
		*(int64_t *)dst = (int64_t)v->num;
		return true;
	case IK_HOUR:
		if (!in_whole(v, 0, 23))
			return pol_fail(c->src, v->off, c->where, "expected an hour, 0..23");
		*(int *)dst = (int)v->num;
		return true;
	case IK_WEEKDAY:
		day = v->type == PJ_STRING ? pol_weekday(v->str, v->n)
		      : in_whole(v, 0, 6)  ? (int)v->num
					   : -1;
		if (day < 0)
			return pol_fail(c->src, v->off, c->where,
					"expected a weekday: 0..6 (0 = Sunday) or a name like "
					"\"mon\"");
		*(int *)dst = day;
		return true;
	}
	return false;
}

static bool in_section(struct in_ctx *c, const struct pj_member *sec, struct policy_input *in)
{
	const char *names[POL_ARRAY_SIZE(in_fields) + 1];
	size_t nn = 0;

	if (sec->val.type != PJ_OBJECT)
		return pol_fail(c->src, sec->val.off, sec->key, "expected an object, found %s",
				pj_type_name(sec->val.type));
	for (size_t k = 0; k < POL_ARRAY_SIZE(in_fields); k++)
		if (strcmp(in_fields[k].section, sec->key) == 0)
			names[nn++] = in_fields[k].name;
	names[nn] = NULL;
	for (uint32_t i = 0; i < sec->val.n; i++) {
		const struct pj_member *m = &sec->val.members[i];
		const struct in_field *f = NULL;
		const char *hint;

		for (size_t k = 0; k < POL_ARRAY_SIZE(in_fields) && !f; k++)
			if (strcmp(in_fields[k].section, sec->key) == 0 &&
			    strcmp(in_fields[k].name, m->key) == 0)
				f = &in_fields[k];
		snprintf(c->where, sizeof(c->where), "%s.%s", sec->key, m->key);
		if (!f) {
			hint = pol_suggest(m->key, m->key_len, names);
			return pol_fail(
			    c->src, m->key_off + 1, sec->key, "unknown field \"%s\"%s%s%s", m->key,
			    hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
		}
		if (!in_value(c, f, &m->val, in))
			return false;
	}
	return true;
}

static bool in_parse(struct in_ctx *c, struct arena *a, struct policy_input *in)
{
	struct pj_value root;

	if (!pj_parse(c->src, a, &root))
		return false;
	if (root.type != PJ_OBJECT)
		return pol_fail(c->src, root.off, NULL,
				"expected an object like {\"request\": {\"model\": \"gpt-4o\"}}");
	for (uint32_t i = 0; i < root.n; i++) {
		const struct pj_member *m = &root.members[i];
		const char *hint;

		if (strcmp(m->key, "tags") == 0) {
			if (!in_tags(c, &m->val, in))
				return false;
			continue;
		}
		if (strcmp(m->key, "budget") == 0)
			in->has_budget = true;
		hint = NULL;
		for (size_t k = 0; in_sections[k]; k++)
			if (strcmp(in_sections[k], m->key) == 0)
				hint = in_sections[k];
		if (!hint) {
			hint = pol_suggest(m->key, m->key_len, in_sections);
			return pol_fail(c->src, m->key_off + 1, NULL,
					"unknown section \"%s\"%s%s%s (sections: tags, budget, "
					"request, process, key, time)",
					m->key, hint ? " (did you mean \"" : "", hint ? hint : "",
					hint ? "\"?)" : "");
		}
		if (!in_section(c, m, in))
			return false;
	}
	return true;
}

int policy_input_from_json(const char *json, size_t len, struct policy_input_storage *st,
			   struct policy_input *in, char *err, size_t errlen)
{
	struct pol_src src = {.name = "request",
			      .text = json ? json : "",
			      .len = json ? len : 0,
			      .err = err,
			      .errlen = errlen};
	struct in_ctx c = {.src = &src, .st = st};
	struct arena a;
	struct tm tm;
	time_t now;
	bool ok;

	if (err && errlen)
		err[0] = '\0';
	if (!st || !in)
		return -EINVAL;
	memset(in, 0, sizeof(*in));
	in->budget_used_pct = NAN;
	in->budget_remaining_usd = NAN;
	in->max_tokens = -1;
	in->hour = -1;
	in->weekday = -1;
	arena_init(&a, INPUT_ARENA_CAP);
	ok = in_parse(&c, &a, in);
	arena_release(&a);
	if (!ok)
		return -EINVAL;
	/* Time not given: now, so that `policy explain` answers for this moment. */
	if (in->hour < 0 || in->weekday < 0) {
		now = time(NULL);
		if (localtime_r(&now, &tm)) {
			if (in->hour < 0)
				in->hour = tm.tm_hour;
			if (in->weekday < 0)
				in->weekday = tm.tm_wday;
		}
	}
	return 0;
}
