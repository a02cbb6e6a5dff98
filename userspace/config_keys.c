/* config_keys: the values of the configuration file (numbers, booleans, addresses, paths, tag
 * lists, domains) and the table of top-level keys with their setters. Part of the parser in
 * config.c (shared state in config_int.h); owns nothing beyond what it stores into the config. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "hexdigit.h"
#include "taglist.h"

/* ---- values ---- */

/* Decimal digits only (no sign, no spaces), at most <max>. */
static bool parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > max)
			return false;
	}
	*out = x;
	return true;
}

static bool parse_hex(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit_value((unsigned char)s[i]);

		if (d < 0)
			return false;
		x = x * 16 + (unsigned)d;
		if (x > max)
			return false;
	}
	*out = x;
	return true;
}

bool cfg_parse_bool(const char *s, size_t n, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (cfg_word_is(s, n, yes[i]))
			return *out = true, true;
		if (cfg_word_is(s, n, no[i]))
			return *out = false, true;
	}
	return false;
}

/* Is [<s>, <s>+<n>) an address of <af> as inet_pton() reads it? */
static bool is_ip(int af, const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char out[16];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(af, buf, out) == 1;
}

static bool is_port(const char *s, size_t n)
{
	uint64_t x;

	return parse_dec(s, n, 65535, &x) && x > 0;
}

/* "IPv4:port" or "[IPv6]:port"; a bare IPv6 would make the port ambiguous. */
static bool is_sockaddr(const char *s, size_t n)
{
	const char *colon;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || !is_ip(AF_INET6, s + 1, (size_t)(rb - s - 1)))
			return false;
		colon = rb + 1;
		if (colon >= s + n || *colon != ':')
			return false;
	} else {
		colon = memrchr(s, ':', n);
		if (!colon || !is_ip(AF_INET, s, (size_t)(colon - s)))
			return false;
	}
	return is_port(colon + 1, (size_t)(s + n - colon - 1));
}

/* Why [<s>, <s>+<n>) is not a valid domain pattern, or NULL when it is. <buf> holds the reason
 * when it has to name a character. */
const char *cfg_domain_problem(const char *s, size_t n, char *buf, size_t buflen)
{
	size_t label = 0;
	char prev = '.';

	if (n > 253)
		return "longer than 253 characters";
	if (n >= 2 && s[0] == '*' && s[1] == '.')
		s += 2, n -= 2;
	for (size_t i = 0; i < n; i++) {
		char c = cfg_ascii_lower(s[i]);

		if (c == '.') {
			if (label == 0)
				return "empty label";
			if (prev == '-')
				return "a label ends with '-'";
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if (c == '-' && label == 0)
				return "a label starts with '-'";
			if (++label > 63)
				return "a label is longer than 63 characters";
		} else if (c == '*') {
			return "'*' is only allowed as a leading '*.'";
		} else if ((unsigned char)c >= 0x80) {
			return "non-ASCII character (write internationalized names as xn--)";
		} else {
			snprintf(buf, buflen, "character '%c' is not allowed", c);
			return buf;
		}
		prev = c;
	}
	if (label == 0)
		return "empty label";
	if (prev == '-')
		return "a label ends with '-'";
	return NULL;
}

bool cfg_valid_provider_name(const char *s, size_t n)
{
	if (n == 0 || n >= MLX_PROVIDER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

/* Comma-separated lists: items are trimmed; an empty item is reported, not skipped, because
 * "443,,80" is more likely a typo than a wish. */
bool cfg_list_next(struct list_iter *it, const char **s, size_t *n)
{
	const char *a = it->p, *b, *comma;

	if (it->done)
		return false;
	comma = memchr(a, ',', (size_t)(it->end - a));
	b = comma ? comma : it->end;
	it->p = comma ? comma + 1 : it->end;
	it->done = !comma;
	while (a < b && cfg_is_ws(*a))
		a++;
	while (b > a && cfg_is_ws(b[-1]))
		b--;
	*s = a;
	*n = (size_t)(b - a);
	return true;
}

/* ---- setters for top-level keys ---- */

static void *field(struct parser *p, const struct key_def *d)
{
	return (char *)p->cfg + d->off;
}

static bool set_uint(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	uint64_t x;

	if (!parse_dec(v, n, d->max, &x) || x < d->min)
		return cfg_fail(p, v, "invalid %s %s: expected an integer from %u to %u", d->name,
			    cfg_quote(p, v, n), d->min, d->max);
	if (d->size == sizeof(uint16_t))
		*(uint16_t *)field(p, d) = (uint16_t)x;
	else
		*(unsigned *)field(p, d) = (unsigned)x;
	return true;
}

static bool set_bool(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	if (!cfg_parse_bool(v, n, (bool *)field(p, d)))
		return cfg_fail(p, v, "invalid %s %s: expected yes, no, true, false, on, off, 1 or 0",
			    d->name, cfg_quote(p, v, n));
	return true;
}

static bool set_mark(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	uint64_t x = 0;
	bool ok;

	if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		ok = parse_hex(v + 2, n - 2, UINT32_MAX, &x);
	else
		ok = parse_dec(v, n, UINT32_MAX, &x);
	if (!ok || x == 0)
		return cfg_fail(p, v,
			    "invalid %s %s: expected a nonzero 32-bit number (decimal or 0x hex)",
			    d->name, cfg_quote(p, v, n));
	*(uint32_t *)field(p, d) = (uint32_t)x;
	return true;
}

static bool set_log_level(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	static const struct {
		const char *name;
		enum mlx_log_level level;
	} levels[] = {
		{ "err", MLX_LOG_ERR },
		{ "warn", MLX_LOG_WARN },
		{ "info", MLX_LOG_INFO },
		{ "debug", MLX_LOG_DEBUG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
		if (cfg_word_is(v, n, levels[i].name)) {
			*(enum mlx_log_level *)field(p, d) = levels[i].level;
			return true;
		}
	}
	return cfg_fail(p, v, "invalid %s %s: expected err, warn, info or debug", d->name,
		    cfg_quote(p, v, n));
}

/* Store a value already validated; every caller has checked that it fits. */
static void store_str(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	char *dst = field(p, d);

	memcpy(dst, v, n);
	dst[n] = '\0';
}

static bool check_abs_path(struct parser *p, const struct key_def *d, const char *v, size_t n,
			   const char *why_limit)
{
	if (n == 0 || v[0] != '/')
		return cfg_fail(p, v, "invalid %s %s: expected an absolute path", d->name,
			    cfg_quote(p, v, n));
	if (n >= d->size)
		return cfg_fail(p, v, "invalid %s %s: longer than %zu bytes%s", d->name, cfg_quote(p, v, n),
			    d->size - 1, why_limit);
	return true;
}

static bool set_path(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	if (!check_abs_path(p, d, v, n, ""))
		return false;
	store_str(p, d, v, n);
	return true;
}

/* A path key whose empty value means "the default derived elsewhere". */
static bool set_opt_path(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	if (n == 0) {
		store_str(p, d, v, 0);
		return true;
	}
	return set_path(p, d, v, n);
}

static bool set_sockpath(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	if (!check_abs_path(p, d, v, n, " (the limit of a unix socket path)"))
		return false;
	store_str(p, d, v, n);
	return true;
}

/* Host tags: "k=v,k=v", names and values of [A-Za-z0-9_.:/-], no duplicates. */
static bool set_tags(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	const char *at;

	switch (taglist_check(v, n, true, &at)) {
	case TAGLIST_NOT_PAIR:
		return cfg_fail(p, at, "invalid %s %s: expected name=value pairs separated by ','",
				d->name, cfg_quote(p, v, n));
	case TAGLIST_BAD_CHAR:
		return cfg_fail(p, at, "invalid %s: character %s not allowed in a tag", d->name,
				cfg_quote(p, at, 1));
	case TAGLIST_OK:
		break;
	}
	store_str(p, d, v, n);
	return true;
}

/* A list of names "a,b" of [A-Za-z0-9_.:/-]. */
static bool set_names(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!tag_char(v[i]) && v[i] != ',')
			return cfg_fail(p, v + i, "invalid %s: character %s not allowed in a name",
				    d->name, cfg_quote(p, v + i, 1));
	}
	store_str(p, d, v, n);
	return true;
}

/* The scope is relative to the cgroup2 mount; "." and ".." components could only make it mean
 * something else than it says (or climb out of the mount), so they are refused. */
static bool set_scope(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	const char *c = v, *end = v + n;

	if (n == 0 || v[0] != '/')
		return cfg_fail(p, v, "invalid %s %s: expected a cgroup path starting with '/'",
			    d->name, cfg_quote(p, v, n));
	if (n >= d->size)
		return cfg_fail(p, v, "invalid %s %s: longer than %zu bytes", d->name, cfg_quote(p, v, n),
			    d->size - 1);
	while (c < end) {
		const char *slash = memchr(c, '/', (size_t)(end - c));
		const char *ce = slash ? slash : end;
		size_t cn = (size_t)(ce - c);

		if ((cn == 1 && c[0] == '.') || (cn == 2 && c[0] == '.' && c[1] == '.'))
			return cfg_fail(p, c, "invalid %s %s: '.' and '..' components are not allowed",
				    d->name, cfg_quote(p, v, n));
		c = ce + 1;
	}
	store_str(p, d, v, n);
	return true;
}

static bool set_metrics(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	/* "off" and "" both disable; store "" so users of the field test one thing. */
	if (n == 0 || cfg_word_is(v, n, "off")) {
		store_str(p, d, "", 0);
		return true;
	}
	if (n >= d->size || !is_sockaddr(v, n))
		return cfg_fail(p, v, "invalid %s %s: expected IPv4:port, [IPv6]:port or off", d->name,
			    cfg_quote(p, v, n));
	store_str(p, d, v, n);
	return true;
}

static bool set_resolver(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	if (n >= d->size ||
	    (n > 0 && !is_ip(AF_INET, v, n) && !is_ip(AF_INET6, v, n) && !is_sockaddr(v, n)))
		return cfg_fail(p, v,
			    "invalid %s %s: expected an IPv4 or IPv6 address, IPv4:port, "
			    "[IPv6]:port or nothing",
			    d->name, cfg_quote(p, v, n));
	store_str(p, d, v, n);
	return true;
}

static bool set_ports(struct parser *p, const struct key_def *d, const char *v, size_t n)
{
	struct list_iter it = { v, v + n, false };
	uint16_t ports[MLX_MAX_TARGET_PORTS];
	size_t np = 0, in;
	const char *item;

	if (n == 0)
		return cfg_fail(p, v, "%s needs at least one port", d->name);
	while (cfg_list_next(&it, &item, &in)) {
		uint64_t x;

		if (in == 0)
			return cfg_fail(p, item, "empty item in %s", d->name);
		if (np == MLX_MAX_TARGET_PORTS)
			return cfg_fail(p, item, "too many %s (at most %d)", d->name,
				    MLX_MAX_TARGET_PORTS);
		if (!parse_dec(item, in, 65535, &x) || x == 0)
			return cfg_fail(p, item,
				    "invalid port %s in %s: expected an integer from 1 to 65535",
				    cfg_quote(p, item, in), d->name);
		for (size_t i = 0; i < np; i++)
			if (ports[i] == x)
				return cfg_fail(p, item, "duplicate port %u in %s", (unsigned)x,
					    d->name);
		ports[np++] = (uint16_t)x;
	}
	memcpy(p->cfg->target_ports, ports, sizeof(ports));
	p->cfg->ntarget_ports = np;
	return true;
}

#define FIELD(f) offsetof(struct mlx_config, f), sizeof(((struct mlx_config *)0)->f)

/* Ranges are documented in docs/config.md; keep the two in step. */
static const struct key_def key_defs[] = {
	{ "listen_port", set_uint, FIELD(listen_port), 1, 65535 },
	{ "metrics_addr", set_metrics, FIELD(metrics_addr), 0, 0 },
	{ "control_path", set_sockpath, FIELD(control_path), 0, 0 },
	{ "scope", set_scope, FIELD(scope), 0, 0 },
	{ "fail_closed", set_bool, FIELD(fail_closed), 0, 0 },
	{ "pin_dir", set_path, FIELD(pin_dir), 0, 0 },
	{ "workers", set_uint, FIELD(workers), 0, 64 },
	{ "mark", set_mark, FIELD(mark), 0, 0 },
	{ "dns_snoop", set_bool, FIELD(dns_snoop), 0, 0 },
	{ "nfqueue_num", set_uint, FIELD(nfqueue_num), 0, 65535 },
	{ "resolver", set_resolver, FIELD(resolver), 0, 0 },
	{ "resolve_interval_s", set_uint, FIELD(resolve_interval_s), 0, 86400 },
	{ "target_min_ttl_s", set_uint, FIELD(target_min_ttl_s), 0, 86400 },
	{ "target_ports", set_ports, FIELD(target_ports), 0, 0 },
	{ "peek_timeout_ms", set_uint, FIELD(peek_timeout_ms), 1, 60000 },
	{ "idle_timeout_s", set_uint, FIELD(idle_timeout_s), 1, 86400 },
	{ "max_conns", set_uint, FIELD(max_conns), 1, 1048576 },
	{ "log_level", set_log_level, FIELD(log_level), 0, 0 },
	{ "state_dir", set_path, FIELD(state_dir), 0, 0 },
	{ "intercept", set_bool, FIELD(intercept), 0, 0 },
	{ "upstream_h2", set_bool, FIELD(upstream_h2), 0, 0 },
	{ "govern", set_bool, FIELD(govern), 0, 0 },
	{ "ca_cert", set_opt_path, FIELD(ca_cert), 0, 0 },
	{ "ca_key", set_opt_path, FIELD(ca_key), 0, 0 },
	{ "upstream_ca_file", set_opt_path, FIELD(upstream_ca_file), 0, 0 },
	{ "log_db", set_opt_path, FIELD(log_db), 0, 0 },
	{ "fleet_secret", set_opt_path, FIELD(fleet_secret), 0, 0 },
	{ "sanctioned_keys", set_opt_path, FIELD(sanctioned_keys), 0, 0 },
	{ "prices", set_opt_path, FIELD(prices), 0, 0 },
	{ "policy", set_opt_path, FIELD(policy), 0, 0 },
	{ "budgets", set_opt_path, FIELD(budgets), 0, 0 },
	{ "tags", set_tags, FIELD(tags), 0, 0 },
	{ "tag_map", set_opt_path, FIELD(tag_map), 0, 0 },
	{ "tags_locked", set_names, FIELD(tags_locked), 0, 0 },
	{ "sensitivity", set_names, FIELD(sensitivity), 0, 0 },
	{ "payload_projects", set_names, FIELD(payload_projects), 0, 0 },
	{ "payload_cap", set_uint, FIELD(payload_cap), 0, 1048576 },
};

_Static_assert(ARRAY_SIZE(key_defs) <= ARRAY_SIZE(((struct parser *)0)->key_line),
	       "key_line too small");

const struct key_def *cfg_key_find(const char *k, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(key_defs); i++)
		if (cfg_tok_is(k, n, key_defs[i].name))
			return &key_defs[i];
	return NULL;
}

size_t cfg_key_index(const struct key_def *d)
{
	return (size_t)(d - key_defs);
}
