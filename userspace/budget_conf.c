/* budget_conf: the budgets file (JSON, format in docs/budgets.md) into struct budget_conf.
 * Owns the result (defs array and zone); borrows jansson for syntax, jpos for positions
 * and exact decimals, budget_tz for the zone. Every error names file:line:col and the JSON path. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "budget_int.h"
#include "jpos.h"

#define CONF_MAX_BYTES (4 << 20)
#define SOFT_PCT_DEFAULT 0.8

static const char *const scope_names[BUDGET_SCOPE_COUNT] = { "project", "team", "key", "user",
							      "host" };
static const char *const window_names[BUDGET_WINDOW_COUNT] = { "daily", "weekly", "monthly" };

const char *budget_scope_name(enum budget_scope s)
{
	return (unsigned)s < BUDGET_SCOPE_COUNT ? scope_names[s] : "?";
}

const char *budget_window_name(enum budget_window w)
{
	return (unsigned)w < BUDGET_WINDOW_COUNT ? window_names[w] : "?";
}

bool budget_scope_parse(const char *s, enum budget_scope *out)
{
	for (unsigned i = 0; i < BUDGET_SCOPE_COUNT; i++)
		if (strcmp(s, scope_names[i]) == 0) {
			*out = (enum budget_scope)i;
			return true;
		}
	return false;
}

bool budget_window_parse(const char *s, enum budget_window *out)
{
	for (unsigned i = 0; i < BUDGET_WINDOW_COUNT; i++)
		if (strcmp(s, window_names[i]) == 0) {
			*out = (enum budget_window)i;
			return true;
		}
	return false;
}

void budget_usd_format(int64_t micro, char *buf, size_t size)
{
	uint64_t a = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
	char frac[8];
	int n;

	snprintf(frac, sizeof(frac), "%06u", (unsigned)(a % 1000000));
	for (n = 6; n > 2 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, size, "%s%llu.%s", micro < 0 ? "-" : "", (unsigned long long)(a / 1000000),
		 frac);
}

void budget_conf_free(struct budget_conf *conf)
{
	if (conf == NULL)
		return;
	if (conf->tz)
		budget_tz_free(conf->tz);
	free(conf->defs);
	free(conf);
}

struct conf_parser {
	const char *text;
	size_t len;
	const char *fname;
	char *err;
	size_t errlen;
	struct jpath path;
};

/* Report at the value (or key, with <at_key>) the current path points to. When the path cannot
 * be found the nearest enclosing value that can is used. */
__attribute__((format(printf, 3, 4))) static bool fail_at(struct conf_parser *cp, bool at_key,
							  const char *fmt, ...)
{
	char where[160];
	unsigned line = 1, col = 1;
	va_list ap;
	int n;

	for (size_t depth = cp->path.n + 1; depth-- > 0;) {
		long off = jpos_find(cp->text, cp->len, &cp->path, depth,
				      at_key && depth == cp->path.n);

		if (off >= 0) {
			jpos_linecol(cp->text, cp->len, (size_t)off, &line, &col);
			break;
		}
	}
	jpos_format(&cp->path, cp->path.n, where, sizeof(where));
	if (cp->err == NULL || cp->errlen == 0)
		return false;
	n = snprintf(cp->err, cp->errlen, "%s:%u:%u: %s: ", cp->fname, line, col, where);
	if (n >= 0 && (size_t)n < cp->errlen) {
		va_start(ap, fmt);
		vsnprintf(cp->err + n, cp->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static void path_push_key(struct conf_parser *cp, const char *key)
{
	cp->path.part[cp->path.n].key = key;
	cp->path.part[cp->path.n].index = 0;
	cp->path.n++;
}

static void path_push_index(struct conf_parser *cp, size_t index)
{
	cp->path.part[cp->path.n].key = NULL;
	cp->path.part[cp->path.n].index = index;
	cp->path.n++;
}

static void path_pop(struct conf_parser *cp)
{
	cp->path.n--;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= BUDGET_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool value_ok(const char *s, size_t len)
{
	if (len == 0 || len >= BUDGET_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return true;
}

/* A string member: the current path already points at it. */
static bool want_string(struct conf_parser *cp, const json_t *v, const char *what)
{
	if (!json_is_string(v))
		return fail_at(cp, false, "%s must be a string, not %s", what, json_kind(v));
	return true;
}

static bool parse_cap(struct conf_parser *cp, const json_t *v, int64_t *cap)
{
	const char *why = "must be a number";

	if (json_is_number(v)) {
		long off = jpos_find(cp->text, cp->len, &cp->path, cp->path.n, false);

		if (off < 0)
			return fail_at(cp, false, "cap_usd: cannot find its text");
		size_t n = jpos_value_len(cp->text, cp->len, (size_t)off);

		if (jpos_decimal_micro(cp->text + off, n, BUDGET_MAX_MICRO, cap, &why))
			return true;
	}
	return fail_at(cp, false, "cap_usd %s (a USD amount such as 250 or 12.50, at most %lld)",
		       why, BUDGET_MAX_MICRO / 1000000);
}

static bool parse_def(struct conf_parser *cp, const json_t *obj, struct budget_def *d)
{
	static const char *const required[] = { "name", "scope", "match", "window", "cap_usd" };
	const char *key;
	json_t *v;
	char q[64];

	if (!json_is_object(obj))
		return fail_at(cp, false, "a budget must be an object, not %s", json_kind(obj));
	json_object_foreach((json_t *)obj, key, v) {
		if (strcmp(key, "name") && strcmp(key, "scope") && strcmp(key, "match") &&
		    strcmp(key, "window") && strcmp(key, "cap_usd") && strcmp(key, "soft_pct") &&
		    strcmp(key, "description")) {
			path_push_key(cp, key);
			jpos_quote(key, q, sizeof(q));
			return fail_at(cp, true, "unknown key \"%s\" (expected name, scope, match, "
				       "window, cap_usd, soft_pct, description)", q);
		}
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (json_object_get(obj, required[i]) == NULL)
			return fail_at(cp, false, "missing \"%s\"", required[i]);

	path_push_key(cp, "name");
	v = json_object_get(obj, "name");
	if (!want_string(cp, v, "name"))
		return false;
	if (!name_ok(json_string_value(v)))
		return fail_at(cp, false, "name must be 1-%d characters of [A-Za-z0-9._-]",
			       BUDGET_NAME_MAX - 1);
	snprintf(d->name, sizeof(d->name), "%s", json_string_value(v));
	path_pop(cp);

	path_push_key(cp, "scope");
	v = json_object_get(obj, "scope");
	if (!want_string(cp, v, "scope"))
		return false;
	if (!budget_scope_parse(json_string_value(v), &d->scope)) {
		jpos_quote(json_string_value(v), q, sizeof(q));
		return fail_at(cp, false, "unknown scope \"%s\" (project, team, key, user or host)",
			       q);
	}
	path_pop(cp);

	path_push_key(cp, "match");
	v = json_object_get(obj, "match");
	if (!want_string(cp, v, "match"))
		return false;
	if (!value_ok(json_string_value(v), json_string_length(v)))
		return fail_at(cp, false, "match must be \"*\" or a value of 1-%d bytes without "
			       "control characters", BUDGET_VALUE_MAX - 1);
	snprintf(d->match, sizeof(d->match), "%s", json_string_value(v));
	d->wildcard = strcmp(d->match, "*") == 0;
	path_pop(cp);

	path_push_key(cp, "window");
	v = json_object_get(obj, "window");
	if (!want_string(cp, v, "window"))
		return false;
	if (!budget_window_parse(json_string_value(v), &d->window)) {
		jpos_quote(json_string_value(v), q, sizeof(q));
		return fail_at(cp, false, "unknown window \"%s\" (daily, weekly or monthly)", q);
	}
	path_pop(cp);

	path_push_key(cp, "cap_usd");
	if (!parse_cap(cp, json_object_get(obj, "cap_usd"), &d->cap_micro))
		return false;
	path_pop(cp);

	d->soft_pct = SOFT_PCT_DEFAULT;
	v = json_object_get(obj, "soft_pct");
	if (v != NULL) {
		path_push_key(cp, "soft_pct");
		double x = json_is_number(v) ? json_number_value(v) : -1;

		if (!(x > 0 && x <= 1))
			return fail_at(cp, false, "soft_pct must be a fraction in (0, 1], e.g. 0.8");
		d->soft_pct = x;
		path_pop(cp);
	}
	v = json_object_get(obj, "description");
	if (v != NULL) {
		path_push_key(cp, "description");
		if (!want_string(cp, v, "description"))
			return false;
		path_pop(cp);
	}
	return true;
}

/* No request may touch more than BUDGET_MAX_APPLY budgets, so reservations need no allocation:
 * per scope, every wildcard budget plus the most exact budgets sharing one value can apply. */
static bool check_apply_bound(struct conf_parser *cp, const struct budget_conf *c)
{
	size_t total_worst = 0;

	for (unsigned s = 0; s < BUDGET_SCOPE_COUNT; s++) {
		size_t wild = 0, most = 0, most_at = 0, wild_last = 0;

		for (size_t i = 0; i < c->ndefs; i++) {
			const struct budget_def *d = &c->defs[i];
			size_t same = 0;

			if (d->scope != s)
				continue;
			if (d->wildcard) {
				wild++;
				wild_last = i;
				continue;
			}
			for (size_t j = 0; j <= i; j++)
				if (c->defs[j].scope == s && !c->defs[j].wildcard &&
				    strcmp(c->defs[j].match, d->match) == 0)
					same++;
			if (same > most) {
				most = same;
				most_at = i;
			}
		}
		total_worst += wild + most;
		if (total_worst > BUDGET_MAX_APPLY) {
			path_push_key(cp, "budgets");
			path_push_index(cp, most > 0 && most_at > wild_last ? most_at : wild_last);
			return fail_at(cp, false, "up to %zu budgets could apply to one request "
				       "(at most %d)", total_worst, BUDGET_MAX_APPLY);
		}
	}
	return true;
}

static bool parse_root(struct conf_parser *cp, const json_t *root, const char *zoneinfo_dir,
		       struct budget_conf *c)
{
	const char *key;
	json_t *v, *budgets;
	char q[64], why[256];

	if (!json_is_object(root))
		return fail_at(cp, false, "the file must hold an object, not %s", json_kind(root));
	json_object_foreach((json_t *)root, key, v) {
		if (strcmp(key, "time_zone") && strcmp(key, "budgets") && strcmp(key, "description")) {
			path_push_key(cp, key);
			jpos_quote(key, q, sizeof(q));
			return fail_at(cp, true, "unknown key \"%s\" (expected time_zone, budgets, "
				       "description)", q);
		}
	}
	v = json_object_get(root, "description");
	if (v != NULL) {
		path_push_key(cp, "description");
		if (!want_string(cp, v, "description"))
			return false;
		path_pop(cp);
	}
	v = json_object_get(root, "time_zone");
	if (v != NULL) {
		path_push_key(cp, "time_zone");
		if (!want_string(cp, v, "time_zone"))
			return false;
		if (!budget_tz_load(json_string_value(v), zoneinfo_dir, &c->tz, why, sizeof(why)))
			return fail_at(cp, false, "%s", why);
		path_pop(cp);
	} else {
		c->tz = (struct budget_tz *)budget_tz_utc();
	}
	budgets = json_object_get(root, "budgets");
	if (budgets == NULL)
		return fail_at(cp, false, "missing \"budgets\" (an array, possibly empty)");
	path_push_key(cp, "budgets");
	if (!json_is_array(budgets))
		return fail_at(cp, false, "budgets must be an array, not %s", json_kind(budgets));
	c->ndefs = json_array_size(budgets);
	if (c->ndefs > BUDGET_MAX_DEFS)
		return fail_at(cp, false, "more than %d budgets", BUDGET_MAX_DEFS);
	if (c->ndefs > 0) {
		c->defs = calloc(c->ndefs, sizeof(*c->defs));
		if (c->defs == NULL)
			return fail_at(cp, false, "%s", strerror(ENOMEM));
	}
	for (size_t i = 0; i < c->ndefs; i++) {
		path_push_index(cp, i);
		if (!parse_def(cp, json_array_get(budgets, i), &c->defs[i]))
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->defs[j].name, c->defs[i].name) == 0) {
				path_push_key(cp, "name");
				return fail_at(cp, false, "duplicate budget name \"%s\" (first at "
					       "$.budgets[%zu])", c->defs[i].name, j);
			}
		path_pop(cp);
	}
	path_pop(cp);
	return check_apply_bound(cp, c);
}

bool budget_conf_parse(const char *text, size_t len, const char *fname, const char *zoneinfo_dir,
		       struct budget_conf **out, char *err, size_t errlen)
{
	struct conf_parser cp = { text, len, fname, err, errlen, { 0 } };
	struct budget_conf *c;
	json_error_t jerr;
	json_t *root;
	bool ok;

	*out = NULL;
	if (len > CONF_MAX_BYTES) {
		snprintf(err, errlen, "%s:1:1: file larger than %d bytes", fname, CONF_MAX_BYTES);
		return false;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", fname, jerr.line > 0 ? jerr.line : 1,
			 jerr.column > 0 ? jerr.column : 1, jerr.text);
		return false;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		json_decref(root);
		snprintf(err, errlen, "%s: %s", fname, strerror(ENOMEM));
		return false;
	}
	ok = parse_root(&cp, root, zoneinfo_dir, c);
	json_decref(root);
	if (!ok) {
		budget_conf_free(c);
		return false;
	}
	*out = c;
	return true;
}

bool budget_conf_load(const char *path, const char *zoneinfo_dir, struct budget_conf **out,
		      char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*out = NULL;
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	/* One byte past the limit is enough for budget_conf_parse to refuse the size. */
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (cap == CONF_MAX_BYTES + 1)
				break;
			if (ncap > CONF_MAX_BYTES + 1)
				ncap = CONF_MAX_BYTES + 1;
			nb = realloc(buf, ncap);
			if (nb == NULL) {
				free(buf);
				close(fd);
				snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
				return false;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			free(buf);
			close(fd);
			snprintf(err, errlen, "%s: read: %s", path, strerror(saved));
			return false;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	ok = budget_conf_parse(buf ? buf : "", len, path, zoneinfo_dir, out, err, errlen);
	free(buf);
	return ok;
}
