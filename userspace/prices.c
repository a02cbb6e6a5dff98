/* prices: loads and validates the price table (etc/prices.json, format in docs/prices.md) with
 * jansson: the document, providers, models and their name index (periods: prices_period.c).
 * Every error names the file, line and column and the JSON path of the offending value.
 * Owns the struct prices it builds (freed by prices_free); borrows the text while parsing. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "prices_parse.h"

#define MAX_PROVIDERS 256
#define MAX_MODELS 4096 /* per provider */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A provider/model/alias/prefix name: 1..PRICES_NAME_MAX-1 printable ASCII bytes, no blanks. */
static bool check_name(struct pctx *c, const char *s, bool at_key, const char *what)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PRICES_NAME_MAX)
		return pctx_fail(c, at_key, "%s must have 1 to %d characters", what,
				 PRICES_NAME_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return pctx_fail(c, at_key,
					 "%s may hold only printable ASCII without blanks", what);
	}
	if (strncasecmp(s, "models/", 7) == 0) /* lookups drop it: the name could never match */
		return pctx_fail(c, at_key, "%s must not start with \"models/\"", what);
	return true;
}

/* Provider names are those of the agent's configuration: [a-z0-9._-], up to 31 characters. */
static bool check_provider_name(struct pctx *c, const char *s, bool at_key)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31)
		return pctx_fail(c, at_key, "a provider name must have 1 to 31 characters");
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return pctx_fail(
			    c, at_key, "a provider name may hold only a-z, 0-9, '.', '_' and '-'");
	}
	return true;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return d;
}

/* A list of names ("aliases" or "prefixes") into a newly allocated array. */
static bool parse_names(struct pctx *c, json_t *obj, const char *key, char ***out, size_t *nout)
{
	json_t *arr = json_object_get(obj, key), *v;
	size_t i;
	bool ok = true;

	if (!arr)
		return true;
	pctx_push_key(c, key);
	if (!json_is_array(arr) || json_array_size(arr) > PRICES_MAX_LIST) {
		ok = pctx_fail(c, false, "must be an array of at most %d strings", PRICES_MAX_LIST);
	} else if (json_array_size(arr)) {
		*out = calloc(json_array_size(arr), sizeof(**out));
		if (!*out)
			ok = pctx_oom(c);
		json_array_foreach(arr, i, v) {
			if (!ok)
				break;
			pctx_push_index(c, i);
			if (!json_is_string(v))
				ok = pctx_fail(c, false, "must be a string");
			else if (!check_name(c, json_string_value(v), false, "a name"))
				ok = false;
			else if (!((*out)[i] = strdup(json_string_value(v))))
				ok = pctx_oom(c);
			else
				(*nout)++;
			pctx_pop(c);
		}
	}
	pctx_pop(c);
	return ok;
}

static bool parse_model(struct pctx *c, const char *name, json_t *obj, struct prices_model *m)
{
	static const char *const model_keys[] = { "aliases", "prefixes", "history",
						  PRICES_PERIOD_KEYS, NULL };

	if (!check_name(c, name, true, "a model name") || !pctx_need_object(c, obj) ||
	    !pctx_check_keys(c, obj, model_keys))
		return false;
	if (!(m->name = strdup(name)))
		return pctx_oom(c);
	return parse_names(c, obj, "aliases", &m->aliases, &m->naliases) &&
	       parse_names(c, obj, "prefixes", &m->prefixes, &m->nprefixes) &&
	       prices_parse_periods(c, obj, m);
}

static int cmp_name(const void *a, const void *b)
{
	const struct prices_name *x = a, *y = b;
	int r = strcmp(x->lname, y->lname);

	if (r)
		return r;
	if (x->model != y->model)
		return x->model < y->model ? -1 : 1;
	return x->alias < y->alias ? -1 : x->alias > y->alias;
}

/* Point the path at a model's name (alias < 0) or one of its aliases. */
static void push_name_path(struct pctx *c, const struct prices_model *m, int32_t alias)
{
	pctx_push_key(c, m->name);
	if (alias >= 0) {
		pctx_push_key(c, "aliases");
		pctx_push_index(c, (size_t)alias);
	}
}

/* Build the sorted name index and the prefix rules; names must be unique in any case. */
static bool index_provider(struct pctx *c, struct prices_provider *pv)
{
	size_t nnames = 0, nprefixes = 0, k = 0, j = 0;

	for (size_t i = 0; i < pv->nmodels; i++) {
		nnames += 1 + pv->models[i].naliases;
		nprefixes += pv->models[i].nprefixes;
	}
	pv->names = calloc(nnames ? nnames : 1, sizeof(*pv->names));
	pv->prefixes = calloc(nprefixes ? nprefixes : 1, sizeof(*pv->prefixes));
	if (!pv->names || !pv->prefixes)
		return pctx_oom(c);
	for (uint32_t i = 0; i < pv->nmodels; i++) {
		const struct prices_model *m = &pv->models[i];

		for (int32_t a = -1; a < (int32_t)m->naliases; a++) {
			pv->names[k] = (struct prices_name){
				.lname = lower_dup(a < 0 ? m->name : m->aliases[a]),
				.model = i,
				.alias = a,
			};
			if (!pv->names[k++].lname)
				return pctx_oom(c);
			pv->nnames = k;
		}
		for (size_t p = 0; p < m->nprefixes; p++) {
			pv->prefixes[j] = (struct prices_prefix){
				.lprefix = lower_dup(m->prefixes[p]),
				.model = i,
			};
			if (!pv->prefixes[j].lprefix)
				return pctx_oom(c);
			pv->prefixes[j].len = strlen(pv->prefixes[j].lprefix);
			pv->nprefixes = ++j;
		}
	}
	qsort(pv->names, pv->nnames, sizeof(*pv->names), cmp_name);
	for (size_t i = 1; i < pv->nnames; i++) {
		const struct prices_name *dup = &pv->names[i];

		if (strcmp(pv->names[i - 1].lname, dup->lname) == 0) {
			size_t depth = c->depth;

			push_name_path(c, &pv->models[dup->model], dup->alias);
			pctx_fail(c, dup->alias < 0, "name already used by model \"%s\"",
				  pv->models[pv->names[i - 1].model].name);
			c->depth = depth;
			return false;
		}
	}
	for (size_t a = 0; a < pv->nprefixes; a++) {
		for (size_t b = a + 1; b < pv->nprefixes; b++) {
			const struct prices_model *m = &pv->models[pv->prefixes[b].model];

			if (strcmp(pv->prefixes[a].lprefix, pv->prefixes[b].lprefix) != 0)
				continue;
			for (size_t p = 0; p < m->nprefixes; p++) {
				if (strcasecmp(m->prefixes[p], pv->prefixes[b].lprefix) == 0) {
					pctx_push_key(c, m->name);
					pctx_push_key(c, "prefixes");
					pctx_push_index(c, p);
					break;
				}
			}
			pctx_fail(c, false, "prefix already used by model \"%s\"",
				  pv->models[pv->prefixes[a].model].name);
			return false;
		}
	}
	return true;
}

static bool get_bool(struct pctx *c, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);
	bool ok;

	if (!v)
		return pctx_fail(c, false, "missing \"%s\"", key);
	pctx_push_key(c, key);
	ok = json_is_boolean(v) || pctx_fail(c, false, "must be true or false");
	*out = json_is_true(v);
	pctx_pop(c);
	return ok;
}

static bool parse_provider(struct pctx *c, const char *name, json_t *obj,
			   struct prices_provider *pv)
{
	static const char *const provider_keys[] = { "same_as", "accounting", "models", "note",
						     NULL };
	static const char *const acct_keys[] = { "input_includes_cached",
						 "output_includes_reasoning", "note", NULL };
	json_t *same_as, *acct, *models, *v;
	const char *mname;
	size_t i = 0;
	bool ok;

	if (!check_provider_name(c, name, true) || !pctx_need_object(c, obj) ||
	    !pctx_check_keys(c, obj, provider_keys))
		return false;
	if (!(pv->name = strdup(name)))
		return pctx_oom(c);
	same_as = json_object_get(obj, "same_as");
	acct = json_object_get(obj, "accounting");
	models = json_object_get(obj, "models");
	if (same_as) {
		pctx_push_key(c, "same_as");
		ok = json_is_string(same_as)
			     ? check_provider_name(c, json_string_value(same_as), false)
			     : pctx_fail(c, false, "must be a provider name");
		if (ok && (acct || models))
			ok = pctx_fail(c, false,
				       "a provider priced as another has no "
				       "\"accounting\" or \"models\"");
		if (ok && !(pv->same_as = strdup(json_string_value(same_as))))
			ok = pctx_oom(c);
		pctx_pop(c);
		return ok;
	}
	if (!acct || !models)
		return pctx_fail(c, false, "missing \"%s\"", acct ? "models" : "accounting");
	pctx_push_key(c, "accounting");
	ok = pctx_need_object(c, acct) && pctx_check_keys(c, acct, acct_keys) &&
	     get_bool(c, acct, "input_includes_cached", &pv->acct.input_includes_cached) &&
	     get_bool(c, acct, "output_includes_reasoning", &pv->acct.output_includes_reasoning);
	pctx_pop(c);
	if (!ok)
		return false;
	pctx_push_key(c, "models");
	if (!pctx_need_object(c, models) ||
	    (json_object_size(models) > MAX_MODELS &&
	     !pctx_fail(c, false, "more than %d models", MAX_MODELS))) {
		pctx_pop(c);
		return false;
	}
	pv->models = calloc(json_object_size(models) + 1, sizeof(*pv->models));
	if (!pv->models) {
		pctx_pop(c);
		return pctx_oom(c);
	}
	pv->nmodels = json_object_size(models);
	json_object_foreach(models, mname, v) {
		pctx_push_key(c, mname);
		ok = parse_model(c, mname, v, &pv->models[i++]);
		pctx_pop(c);
		if (!ok)
			break;
	}
	ok = ok && index_provider(c, pv);
	pctx_pop(c);
	return ok;
}

/* Resolve "same_as" (one level: the target must have its own models). */
static bool link_providers(struct pctx *c, struct prices *p)
{
	for (size_t i = 0; i < p->nproviders; i++) {
		struct prices_provider *pv = &p->providers[i];
		size_t t;

		pv->target = i;
		if (!pv->same_as)
			continue;
		for (t = 0; t < p->nproviders && strcmp(p->providers[t].name, pv->same_as); t++)
			;
		if (t == p->nproviders || p->providers[t].same_as) {
			bool ok;

			pctx_push_key(c, pv->name);
			pctx_push_key(c, "same_as");
			ok = pctx_fail(c, false, "must name a provider that has its own models");
			c->depth -= 2;
			return ok;
		}
		pv->target = t;
		pv->acct = p->providers[t].acct;
	}
	return true;
}

static bool parse_root(struct pctx *c, json_t *root, struct prices *p)
{
	static const char *const root_keys[] = { "as_of", "currency", "unit", "note", "providers",
						 NULL };
	json_t *as_of, *cur, *unit, *providers, *v;
	const char *name;
	int64_t t;
	size_t i = 0;
	bool ok = true;

	if (!pctx_need_object(c, root) || !pctx_check_keys(c, root, root_keys))
		return false;
	as_of = json_object_get(root, "as_of");
	if (!pctx_get_date(c, root, "as_of", true, &t))
		return false;
	snprintf(p->as_of, sizeof(p->as_of), "%s", json_string_value(as_of));
	cur = json_object_get(root, "currency");
	unit = json_object_get(root, "unit");
	if (cur && !(json_is_string(cur) && strcmp(json_string_value(cur), "USD") == 0)) {
		pctx_push_key(c, "currency");
		return pctx_fail(c, false, "must be \"USD\"");
	}
	if (unit && !(json_is_string(unit) &&
		      strcmp(json_string_value(unit), "per_million_tokens") == 0)) {
		pctx_push_key(c, "unit");
		return pctx_fail(c, false, "must be \"per_million_tokens\"");
	}
	providers = json_object_get(root, "providers");
	if (!providers)
		return pctx_fail(c, false, "missing \"providers\"");
	pctx_push_key(c, "providers");
	if (!pctx_need_object(c, providers) ||
	    (json_object_size(providers) > MAX_PROVIDERS &&
	     !pctx_fail(c, false, "more than %d providers", MAX_PROVIDERS)))
		return false;
	p->providers = calloc(json_object_size(providers) + 1, sizeof(*p->providers));
	if (!p->providers)
		return pctx_oom(c);
	p->nproviders = json_object_size(providers);
	json_object_foreach(providers, name, v) {
		pctx_push_key(c, name);
		ok = parse_provider(c, name, v, &p->providers[i++]);
		pctx_pop(c);
		if (!ok)
			return false;
	}
	return link_providers(c, p);
}

int prices_parse(const char *text, size_t len, const char *fname, struct prices **out, char *err,
		 size_t errlen)
{
	struct pctx c = { .text = text, .len = len, .fname = fname ? fname : "prices",
			  .err = err, .errlen = errlen, .rc = -EINVAL };
	struct prices *p;
	json_error_t jerr;
	json_t *root;
	bool ok;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > PRICES_MAX_BYTES) {
		pctx_fail(&c, false, "larger than %d bytes", PRICES_MAX_BYTES);
		return -EINVAL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (err && errlen) {
			if (jerr.line > 0)
				snprintf(err, errlen, "%s:%d:%d: %s", c.fname, jerr.line,
					 jerr.column > 0 ? jerr.column : 1, jerr.text);
			else
				snprintf(err, errlen, "%s: %s", c.fname, jerr.text);
		}
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	ok = p ? parse_root(&c, root, p) : pctx_oom(&c);
	json_decref(root);
	if (!ok) {
		prices_free(p);
		return c.rc;
	}
	*out = p;
	return 0;
}

int prices_load(const char *path, struct prices **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	const char *base = strrchr(path, '/');
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PRICES_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
				 PRICES_MAX_BYTES);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	rc = prices_parse(buf, got, base ? base + 1 : path, out, err, errlen);
	free(buf);
	return rc;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

void prices_free(struct prices *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nproviders; i++) {
		struct prices_provider *pv = &p->providers[i];

		for (size_t m = 0; m < pv->nmodels; m++) {
			free(pv->models[m].name);
			free_list(pv->models[m].aliases, pv->models[m].naliases);
			free_list(pv->models[m].prefixes, pv->models[m].nprefixes);
			free(pv->models[m].periods);
		}
		for (size_t n = 0; n < pv->nnames; n++)
			free(pv->names[n].lname);
		for (size_t n = 0; n < pv->nprefixes; n++)
			free(pv->prefixes[n].lprefix);
		free(pv->names);
		free(pv->prefixes);
		free(pv->models);
		free(pv->name);
		free(pv->same_as);
	}
	free(p->providers);
	free(p);
}
