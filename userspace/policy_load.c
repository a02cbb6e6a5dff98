/* policy_load: reads a policy file and compiles it — the top-level shape ("strategy", "groups",
 * "rules"), each rule's condition and group reference, the else rule — into a refcounted,
 * immutable struct policy. Every error names the file, line, column and the JSON path. The
 * parsed JSON stays in the policy's arena: compiled rules and groups point into it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_int.h"

static const char *const top_fields[] = {"strategy", "groups", "rules", "description", NULL};
static const char *const rule_fields[] = {"if", "then", "else", "description", NULL};

static const struct pj_value *load_member(const struct pj_value *obj, const char *key)
{
	for (uint32_t i = 0; i < obj->n; i++)
		if (strcmp(obj->members[i].key, key) == 0)
			return &obj->members[i].val;
	return NULL;
}

static bool load_unknown_field(const struct pol_src *src, const struct pj_member *f,
			       const char *where, const char *const *known, const char *list)
{
	const char *hint = pol_suggest(f->key, f->key_len, known);
	char q[64];

	pol_quote(q, sizeof(q), f->key, f->key_len);
	if (hint)
		return pol_fail(src, f->key_off + 1, where,
				"unknown field \"%s\" (did you mean \"%s\"?)", q, hint);
	return pol_fail(src, f->key_off + 1, where, "unknown field \"%s\" (fields: %s)", q, list);
}

static bool load_strategy(const struct pol_src *src, const struct pj_value *root)
{
	const struct pj_value *v = load_member(root, "strategy");
	char q[64];

	if (!v)
		return pol_fail(
		    src, root->off, NULL,
		    "missing \"strategy\": \"custom_rules\" (the only strategy supported)");
	if (v->type != PJ_STRING)
		return pol_fail(src, v->off, "strategy",
				"expected \"custom_rules\" (the only strategy supported), found %s",
				pj_type_name(v->type));
	if (strcmp(v->str, "custom_rules") != 0)
		return pol_fail(src, v->off + 1, "strategy",
				"unknown strategy \"%s\" (supported: custom_rules)",
				pol_quote(q, sizeof(q), v->str, v->n));
	return true;
}

static bool load_groups(const struct pol_src *src, const struct pj_value *v, struct policy *p)
{
	if (!v)
		return true; /* any reference will be reported as an unknown group */
	if (v->type != PJ_OBJECT)
		return pol_fail(src, v->off, "groups",
				"expected an object of \"@name\": { ... }, found %s",
				pj_type_name(v->type));
	if (v->n > POL_MAX_GROUPS)
		return pol_fail(src, v->off, "groups", "too many groups (at most %d)",
				POL_MAX_GROUPS);
	p->groups = arena_alloc(&p->arena, (v->n ? v->n : 1) * sizeof(*p->groups));
	if (!p->groups)
		return pol_fail(src, v->off, NULL, "out of memory");
	for (uint32_t i = 0; i < v->n; i++)
		if (!pol_compile_group(src, &v->members[i], &p->arena, &p->groups[i]))
			return false;
	p->ngroups = v->n;
	return true;
}

/* The group named by string <v> ("@cheap"), as an index into p->groups. */
static bool load_group_ref(const struct pol_src *src, const struct pj_value *v, const char *where,
			   struct policy *p, uint32_t *idx)
{
	const char **names;
	const char *hint;
	char q[64], at[POL_MAX_NAME + 1];

	if (v->type != PJ_STRING)
		return pol_fail(src, v->off, where,
				"expected a group name like \"@cheap\", found %s",
				pj_type_name(v->type));
	for (uint32_t i = 0; i < p->ngroups; i++) {
		if (strcmp(p->groups[i].name, v->str) == 0) {
			*idx = i;
			return true;
		}
	}
	pol_quote(q, sizeof(q), v->str, v->n);
	if (p->ngroups == 0)
		return pol_fail(src, v->off + 1, where,
				"unknown group \"%s\" (the policy defines no \"groups\")", q);
	names = arena_alloc(&p->arena, (p->ngroups + 1) * sizeof(*names));
	if (!names)
		return pol_fail(src, v->off, NULL, "out of memory");
	for (uint32_t i = 0; i < p->ngroups; i++)
		names[i] = p->groups[i].name;
	names[p->ngroups] = NULL;
	if (v->n > 0 && v->str[0] != '@' && v->n < POL_MAX_NAME) {
		snprintf(at, sizeof(at), "@%s", v->str);
		for (uint32_t i = 0; i < p->ngroups; i++)
			if (strcmp(names[i], at) == 0)
				return pol_fail(src, v->off + 1, where,
						"group names start with '@' (did you mean %s?)",
						at);
	}
	hint = pol_suggest(v->str, v->n, names);
	if (hint)
		return pol_fail(src, v->off + 1, where, "unknown group \"%s\" (did you mean %s?)",
				q, hint);
	return pol_fail(src, v->off + 1, where, "unknown group \"%s\" (not in \"groups\")", q);
}

static bool load_rule(const struct pol_src *src, const struct pj_value *rv, uint32_t i,
		      struct policy *p)
{
	const struct pj_member *mif = NULL, *mthen = NULL, *melse = NULL;
	struct pol_rule *r = &p->rules[i];
	char where[48];
	unsigned col;

	snprintf(where, sizeof(where), "rules[%u]", i);
	if (rv->type != PJ_OBJECT)
		return pol_fail(
		    src, rv->off, where,
		    "expected a rule object like {\"if\": \"...\", \"then\": \"@group\"}, "
		    "found %s",
		    pj_type_name(rv->type));
	for (uint32_t k = 0; k < rv->n; k++) {
		const struct pj_member *f = &rv->members[k];

		if (strcmp(f->key, "if") == 0)
			mif = f;
		else if (strcmp(f->key, "then") == 0)
			mthen = f;
		else if (strcmp(f->key, "else") == 0)
			melse = f;
		else if (strcmp(f->key, "description") != 0)
			return load_unknown_field(src, f, where, rule_fields,
						  "if, then, else, description");
		else if (f->val.type != PJ_STRING)
			return pol_fail(src, f->val.off, where,
					"description: expected a string, found %s",
					pj_type_name(f->val.type));
	}
	pol_line_col(src->text, src->len, rv->off, &r->line, &col);
	if (melse) {
		if (mif || mthen)
			return pol_fail(src, (mif ? mif : mthen)->key_off + 1, where,
					"the else rule has no \"if\" or \"then\": it is "
					"{\"else\": \"@group\"}");
		snprintf(where, sizeof(where), "rules[%u].else", i);
		r->text = "else";
		return load_group_ref(src, &melse->val, where, p, &r->group);
	}
	if (!mif)
		return pol_fail(src, rv->off, where,
				mthen
				    ? "missing \"if\": \"<condition>\" (or write the last rule as "
				      "{\"else\": \"@group\"})"
				    : "expected {\"if\": \"<condition>\", \"then\": \"@group\"} or "
				      "{\"else\": \"@group\"}");
	if (!mthen)
		return pol_fail(src, rv->off, where, "missing \"then\": \"@group\"");
	snprintf(where, sizeof(where), "rules[%u].if", i);
	if (mif->val.type != PJ_STRING)
		return pol_fail(src, mif->val.off, where,
				"expected a condition in a string, found %s",
				pj_type_name(mif->val.type));
	if (!pol_compile_expr(src, &mif->val, where, &p->arena, &r->expr))
		return false;
	r->text = mif->val.str;
	snprintf(where, sizeof(where), "rules[%u].then", i);
	return load_group_ref(src, &mthen->val, where, p, &r->group);
}

static bool load_rules(const struct pol_src *src, const struct pj_value *root,
		       const struct pj_value *v, struct policy *p)
{
	if (!v)
		return pol_fail(src, root->off, NULL,
				"missing \"rules\": [ {\"if\": ..., \"then\": ...}, ..., "
				"{\"else\": ...} ]");
	if (v->type != PJ_ARRAY)
		return pol_fail(src, v->off, "rules", "expected a list of rules, found %s",
				pj_type_name(v->type));
	if (v->n == 0)
		return pol_fail(src, v->off, "rules",
				"no rules: at least {\"else\": \"@group\"} is needed");
	if (v->n > POL_MAX_RULES)
		return pol_fail(src, v->off, "rules", "too many rules (at most %d)", POL_MAX_RULES);
	p->rules = arena_alloc(&p->arena, v->n * sizeof(*p->rules));
	if (!p->rules)
		return pol_fail(src, v->off, NULL, "out of memory");
	for (uint32_t i = 0; i < v->n; i++) {
		const struct pj_value *rv = &v->items[i];

		if (i > 0 && !p->rules[i - 1].expr.nodes) {
			char where[32];

			snprintf(where, sizeof(where), "rules[%u]", i);
			return pol_fail(src, rv->off, where,
					"never applies: it follows the else rule (rules[%u]), "
					"which must be last",
					i - 1);
		}
		if (!load_rule(src, rv, i, p))
			return false;
	}
	p->nrules = v->n;
	if (p->rules[v->n - 1].expr.nodes) {
		char where[32];

		snprintf(where, sizeof(where), "rules[%u]", v->n - 1);
		return pol_fail(src, v->items[v->n - 1].off, where,
				"the last rule must be {\"else\": \"@group\"}: it decides when no "
				"rule matches");
	}
	return true;
}

static bool load_policy(const struct pol_src *src, struct policy *p)
{
	struct pj_value root;

	if (!pj_parse(src, &p->arena, &root))
		return false;
	if (root.type != PJ_OBJECT)
		return pol_fail(src, root.off, NULL,
				"a policy is a JSON object: {\"strategy\": \"custom_rules\", "
				"\"groups\": {...}, \"rules\": [...]}");
	for (uint32_t i = 0; i < root.n; i++) {
		const struct pj_member *f = &root.members[i];

		if (strcmp(f->key, "strategy") != 0 && strcmp(f->key, "groups") != 0 &&
		    strcmp(f->key, "rules") != 0 && strcmp(f->key, "description") != 0)
			return load_unknown_field(src, f, NULL, top_fields,
						  "strategy, groups, rules, description");
		if (strcmp(f->key, "description") == 0 && f->val.type != PJ_STRING)
			return pol_fail(src, f->val.off, "description",
					"expected a string, found %s", pj_type_name(f->val.type));
	}
	if (!load_strategy(src, &root))
		return false;
	if (!load_groups(src, load_member(&root, "groups"), p))
		return false;
	return load_rules(src, &root, load_member(&root, "rules"), p);
}

struct policy *policy_load_buf(const char *name, const char *text, size_t len, char *err,
			       size_t errlen)
{
	struct pol_src src = {
	    .name = name ? name : "policy", .text = text, .len = len, .err = err, .errlen = errlen};
	struct policy *p;

	if (err && errlen)
		err[0] = '\0';
	if (!text && len) {
		pol_fail(&src, 0, NULL, "no text");
		return NULL;
	}
	if (!text)
		src.text = "";
	p = calloc(1, sizeof(*p));
	if (!p) {
		pol_fail(&src, 0, NULL, "out of memory");
		return NULL;
	}
	arena_init(&p->arena, POL_ARENA_CAP);
	p->refs = 1;
	p->name = arena_strdup(&p->arena, src.name);
	if (!p->name) {
		pol_fail(&src, 0, NULL, "out of memory");
		policy_free(p);
		return NULL;
	}
	if (!load_policy(&src, p)) {
		policy_free(p);
		return NULL;
	}
	return p;
}

struct policy *policy_load_file(const char *path, char *err, size_t errlen)
{
	struct policy *p = NULL;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > POLICY_MAX_BYTES) {
		snprintf(err, errlen, "%s: file too large (more than %d bytes)", path,
			 POLICY_MAX_BYTES);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 n < 0 ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		got += (size_t)n;
	}
	p = policy_load_buf(path, buf, got, err, errlen);
out:
	free(buf);
	close(fd);
	return p;
}

struct policy *policy_ref(struct policy *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void policy_free(struct policy *p)
{
	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	arena_release(&p->arena);
	free(p);
}

size_t policy_rule_count(const struct policy *p)
{
	return p ? p->nrules : 0;
}

const char *policy_rule_text(const struct policy *p, int idx)
{
	if (!p || idx < 0 || (uint32_t)idx >= p->nrules)
		return NULL;
	return p->rules[idx].text;
}
