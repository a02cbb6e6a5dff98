/* config: parses the agent's configuration file (format in docs/config.md) on top of the built-in
 * defaults. Owns every string and array it puts in struct mlx_config; borrows the caller's text
 * only for the duration of config_parse(). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config_int.h"

_Static_assert(sizeof(((struct mlx_config *)0)->control_path) ==
		       sizeof(((struct sockaddr_un *)0)->sun_path),
	       "control_path must hold exactly what sun_path holds");

static const struct {
	const char *name;
	const char *domains[3]; /* NULL-terminated */
} builtin_providers[] = {
	{ "openai", { "api.openai.com" } },
	{ "azure-openai", { "*.openai.azure.com" } },
	{ "anthropic", { "api.anthropic.com" } },
	{ "gemini", { "generativelanguage.googleapis.com" } },
	{ "mistral", { "api.mistral.ai" } },
	{ "groq", { "api.groq.com" } },
	{ "xai", { "api.x.ai" } },
	{ "openrouter", { "openrouter.ai" } },
	{ "deepseek", { "api.deepseek.com" } },
	{ "together", { "api.together.xyz", "api.together.ai" } },
	{ "cohere", { "api.cohere.com", "api.cohere.ai" } },
	{ "perplexity", { "api.perplexity.ai" } },
};

bool cfg_is_ws(char c)
{
	return c == ' ' || c == '\t';
}

char cfg_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Locale-independent: strncasecmp() would let a Turkish locale fold 'I' differently. */
static bool ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cfg_ascii_lower(a[i]) != cfg_ascii_lower(b[i]))
			return false;
	return true;
}

/* Does the token [<s>, <s>+<n>) spell <word>, ignoring ASCII case? */
bool cfg_word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && ascii_caseeq(s, word, n);
}

/* Does the token [<s>, <s>+<n>) spell exactly <word>? Keys and section types are case-sensitive. */
bool cfg_tok_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

void cfg_copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* Columns count characters (UTF-8 code points) from 1 so they agree with what editors show; the
 * bytes before <at> on the line are known to be valid UTF-8 by the time anyone asks. */
static unsigned col_of(const char *bol, const char *at)
{
	unsigned col = 1;

	for (const char *q = bol; q < at; q++)
		if (((unsigned char)*q & 0xC0) != 0x80)
			col++;
	return col;
}

static bool vfail_lc(struct parser *p, unsigned line, unsigned col, const char *fmt, va_list ap)
{
	int n;

	if (!p->err || !p->errlen)
		return false;
	n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->fname, line, col);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	return false;
}

/* fail_lc - report an error at <line>:<col>; always returns false so callers can return it. */
__attribute__((format(printf, 4, 5))) bool cfg_fail_lc(struct parser *p, unsigned line,
							  unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_lc(p, line, col, fmt, ap);
	va_end(ap);
	return false;
}

/* fail - report an error at byte <at> of the current line. */
__attribute__((format(printf, 3, 4))) bool cfg_fail(struct parser *p, const char *at,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_lc(p, p->line, col_of(p->bol, at), fmt, ap);
	va_end(ap);
	return false;
}

/* Errors not tied to a position (allocation failure) carry only the file name. */
bool cfg_fail_nopos(struct parser *p, const char *msg)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: %s", p->fname, msg);
	return false;
}

/* quote - the token [<s>, <s>+<n>) in single quotes for a message, cut at a character boundary
 * when long. Lives in <p>, so a message may quote only one token. */
const char *cfg_quote(struct parser *p, const char *s, size_t n)
{
	size_t k = n;

	if (k > CONFIG_QUOTE_MAX) {
		k = CONFIG_QUOTE_MAX;
		while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
	}
	snprintf(p->quoted, sizeof(p->quoted), "'%.*s%s'", (int)k, s, k < n ? "..." : "");
	return p->quoted;
}


/* ---- providers ---- */

static void free_domains(char **domains, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(domains[i]);
	free(domains);
}

static int find_provider(const struct mlx_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nproviders; i++)
		if (strcmp(cfg->providers[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Append a provider taking ownership of <domains>; false (and <domains> untouched) on OOM. */
static bool provider_append(struct mlx_config *cfg, const char *name, char **domains, size_t n)
{
	struct mlx_provider *pv;

	pv = realloc(cfg->providers, (cfg->nproviders + 1) * sizeof(*pv));
	if (!pv)
		return false;
	cfg->providers = pv;
	pv = &cfg->providers[cfg->nproviders++];
	memset(pv, 0, sizeof(*pv));
	cfg_copy_str(pv->name, sizeof(pv->name), name);
	pv->domains = domains;
	pv->ndomains = n;
	return true;
}

static bool add_builtin_providers(struct mlx_config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_providers); i++) {
		const char *const *src = builtin_providers[i].domains;
		size_t n = 0;
		char **domains;

		while (n < ARRAY_SIZE(builtin_providers[i].domains) && src[n])
			n++;
		domains = calloc(n, sizeof(*domains));
		if (!domains)
			return false;
		for (size_t j = 0; j < n; j++) {
			domains[j] = strdup(src[j]);
			if (!domains[j]) {
				free_domains(domains, j);
				return false;
			}
		}
		if (!provider_append(cfg, builtin_providers[i].name, domains, n)) {
			free_domains(domains, n);
			return false;
		}
	}
	return true;
}

/* ---- sections ---- */

static void section_reset(struct section *sec)
{
	free_domains(sec->domains, sec->ndomains);
	memset(sec, 0, sizeof(*sec));
}

/* section_close - apply the open section (if any) to the provider list. Errors found here point
 * back at the key or header that caused them. */
static bool section_close(struct parser *p)
{
	struct section *sec = &p->sec;
	struct mlx_config *cfg = p->cfg;
	bool ok = true;
	int idx;

	if (!sec->open)
		return true;
	idx = find_provider(cfg, sec->name);
	if (sec->disable_line && sec->disable) {
		if (sec->domains_line)
			ok = cfg_fail_lc(p, sec->disable_line, sec->disable_col,
				     "[provider %s] sets both domains and disable = yes",
				     sec->name);
		else if (idx < 0)
			ok = cfg_fail_lc(p, sec->disable_line, sec->disable_col,
				     "cannot disable provider '%s': there is no built-in provider "
				     "of that name",
				     sec->name);
		else {
			free_domains(cfg->providers[idx].domains, cfg->providers[idx].ndomains);
			memmove(&cfg->providers[idx], &cfg->providers[idx + 1],
				(cfg->nproviders - (size_t)idx - 1) * sizeof(*cfg->providers));
			cfg->nproviders--;
		}
	} else if (idx >= 0) {
		if (sec->domains_line) {
			struct mlx_provider *pv = &cfg->providers[idx];

			free_domains(pv->domains, pv->ndomains);
			pv->domains = sec->domains;
			pv->ndomains = sec->ndomains;
			sec->domains = NULL;
			sec->ndomains = 0;
		}
	} else if (!sec->domains_line) {
		ok = cfg_fail_lc(p, sec->line, sec->name_col, "new provider '%s' needs a domains key",
			     sec->name);
	} else if (cfg->nproviders >= CONFIG_MAX_PROVIDERS) {
		ok = cfg_fail_lc(p, sec->line, sec->name_col, "too many providers (at most %d)",
			     CONFIG_MAX_PROVIDERS);
	} else if (!provider_append(cfg, sec->name, sec->domains, sec->ndomains)) {
		ok = cfg_fail_nopos(p, "out of memory");
	} else {
		sec->domains = NULL;
		sec->ndomains = 0;
	}
	section_reset(sec);
	return ok;
}

/* Parse "[provider NAME]" spanning [<s>, <e>), comments and outer blanks already removed. */
static bool parse_section(struct parser *p, const char *s, const char *e)
{
	const char *close = memchr(s, ']', (size_t)(e - s));
	const char *q = s + 1, *type, *name;
	size_t tn, nn;
	struct seen_section *seen;

	if (!close)
		return cfg_fail(p, s, "unterminated section header (missing ']')");
	if (close + 1 != e)
		return cfg_fail(p, close + 1, "unexpected text after ']'");
	while (q < close && cfg_is_ws(*q))
		q++;
	type = q;
	while (q < close && !cfg_is_ws(*q))
		q++;
	tn = (size_t)(q - type);
	if (tn == 0)
		return cfg_fail(p, type, "empty section header");
	if (!cfg_tok_is(type, tn, "provider"))
		return cfg_fail(p, type, "unknown section type %s (expected 'provider')",
			    cfg_quote(p, type, tn));
	while (q < close && cfg_is_ws(*q))
		q++;
	name = q;
	while (q < close && !cfg_is_ws(*q))
		q++;
	nn = (size_t)(q - name);
	if (nn == 0)
		return cfg_fail(p, name, "missing provider name");
	while (q < close && cfg_is_ws(*q))
		q++;
	if (q < close)
		return cfg_fail(p, q, "unexpected %s in section header (expected ']')",
			    cfg_quote(p, q, (size_t)(close - q)));
	if (!cfg_valid_provider_name(name, nn))
		return cfg_fail(p, name,
			    "invalid provider name %s: expected 1 to %d of a-z, 0-9, '_' and '-'",
			    cfg_quote(p, name, nn), MLX_PROVIDER_NAME_MAX - 1);
	for (size_t i = 0; i < p->nseen; i++)
		if (cfg_tok_is(name, nn, p->seen[i].name))
			return cfg_fail(p, name, "duplicate section [provider %s] (first on line %u)",
				    p->seen[i].name, p->seen[i].line);
	if (!section_close(p))
		return false;

	/* Each new section either names a built-in (at most once each) or adds a provider, so
	 * this list stays under CONFIG_MAX_PROVIDERS + built-ins before section_close refuses. */
	seen = realloc(p->seen, (p->nseen + 1) * sizeof(*seen));
	if (!seen)
		return cfg_fail_nopos(p, "out of memory");
	p->seen = seen;
	memcpy(seen[p->nseen].name, name, nn);
	seen[p->nseen].name[nn] = '\0';
	seen[p->nseen].line = p->line;
	p->nseen++;

	p->sec.open = true;
	memcpy(p->sec.name, name, nn);
	p->sec.name[nn] = '\0';
	p->sec.line = p->line;
	p->sec.name_col = col_of(p->bol, name);
	return true;
}

static bool set_domains(struct parser *p, const char *v, size_t n)
{
	struct list_iter it = { v, v + n, false };
	struct section *sec = &p->sec;
	const char *item;
	size_t in, cap = 0;
	char why[64];

	if (n == 0)
		return cfg_fail(p, v,
			    "domains needs at least one domain (use disable = yes to remove "
			    "a provider)");
	while (cfg_list_next(&it, &item, &in)) {
		const char *problem;
		char *d;

		if (in == 0)
			return cfg_fail(p, item, "empty item in domains");
		problem = cfg_domain_problem(item, in, why, sizeof(why));
		if (problem)
			return cfg_fail(p, item, "invalid domain %s: %s", cfg_quote(p, item, in), problem);
		for (size_t i = 0; i < sec->ndomains; i++)
			if (strlen(sec->domains[i]) == in &&
			    ascii_caseeq(sec->domains[i], item, in))
				return cfg_fail(p, item, "duplicate domain %s", cfg_quote(p, item, in));
		if (sec->ndomains == CONFIG_MAX_DOMAINS)
			return cfg_fail(p, item, "too many domains (at most %d)", CONFIG_MAX_DOMAINS);
		if (sec->ndomains == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			char **nd = realloc(sec->domains, ncap * sizeof(*nd));

			if (!nd)
				return cfg_fail_nopos(p, "out of memory");
			sec->domains = nd;
			cap = ncap;
		}
		d = malloc(in + 1);
		if (!d)
			return cfg_fail_nopos(p, "out of memory");
		for (size_t i = 0; i < in; i++)
			d[i] = cfg_ascii_lower(item[i]);
		d[in] = '\0';
		sec->domains[sec->ndomains++] = d;
	}
	return true;
}

static bool section_key(struct parser *p, const char *k, size_t kn, const char *v, size_t vn)
{
	struct section *sec = &p->sec;

	if (cfg_tok_is(k, kn, "domains")) {
		if (sec->domains_line)
			return cfg_fail(p, k,
				    "duplicate key 'domains' in [provider %s] (first set on "
				    "line %u)",
				    sec->name, sec->domains_line);
		sec->domains_line = p->line;
		return set_domains(p, v, vn);
	}
	if (cfg_tok_is(k, kn, "disable")) {
		if (sec->disable_line)
			return cfg_fail(p, k,
				    "duplicate key 'disable' in [provider %s] (first set on "
				    "line %u)",
				    sec->name, sec->disable_line);
		sec->disable_line = p->line;
		sec->disable_col = col_of(p->bol, k);
		if (!cfg_parse_bool(v, vn, &sec->disable))
			return cfg_fail(p, v,
				    "invalid disable %s: expected yes, no, true, false, on, off, 1 "
				    "or 0",
				    cfg_quote(p, v, vn));
		return true;
	}
	if (cfg_key_find(k, kn))
		return cfg_fail(p, k, "key %s must be set before the first section", cfg_quote(p, k, kn));
	return cfg_fail(p, k, "unknown key %s in [provider %s] (expected domains or disable)",
		    cfg_quote(p, k, kn), sec->name);
}

static bool top_key(struct parser *p, const char *k, size_t kn, const char *v, size_t vn)
{
	const struct key_def *d = cfg_key_find(k, kn);
	size_t i;

	if (!d) {
		if (cfg_tok_is(k, kn, "domains") || cfg_tok_is(k, kn, "disable"))
			return cfg_fail(p, k, "key %s is only valid in a [provider NAME] section",
				    cfg_quote(p, k, kn));
		return cfg_fail(p, k, "unknown key %s", cfg_quote(p, k, kn));
	}
	i = cfg_key_index(d);
	if (p->key_line[i])
		return cfg_fail(p, k, "duplicate key '%s' (first set on line %u)", d->name,
			    p->key_line[i]);
	p->key_line[i] = p->line;
	return d->set(p, d, v, vn);
}

/* Parse "key = value" spanning [<s>, <e>), comments and outer blanks already removed. */
static bool parse_assignment(struct parser *p, const char *s, const char *e)
{
	const char *q = s;
	size_t kn;

	while (q < e && !cfg_is_ws(*q) && *q != '=')
		q++;
	kn = (size_t)(q - s);
	if (kn == 0)
		return cfg_fail(p, s, "expected a key before '='");
	while (q < e && cfg_is_ws(*q))
		q++;
	if (q == e || *q != '=')
		return cfg_fail(p, q, "expected '=' after %s", cfg_quote(p, s, kn));
	q++;
	while (q < e && cfg_is_ws(*q))
		q++;
	if (p->sec.open)
		return section_key(p, s, kn, q, (size_t)(e - q));
	return top_key(p, s, kn, q, (size_t)(e - q));
}

/* Parse one line [<s>, <e>) without its line ending. */
static bool parse_line(struct parser *p, const char *s, const char *e)
{
	while (s < e && cfg_is_ws(*s))
		s++;
	if (s == e || *s == '#')
		return true;
	/* '#' starts a comment only after a blank, so values such as "/a#b" stay intact. */
	for (const char *q = s + 1; q < e; q++) {
		if (*q == '#' && cfg_is_ws(q[-1])) {
			e = q;
			break;
		}
	}
	while (e > s && cfg_is_ws(e[-1]))
		e--;
	if (*s == '[')
		return parse_section(p, s, e);
	return parse_assignment(p, s, e);
}

/* ---- the whole text ---- */

/* Point <p> at the line holding <at>, counting from <start>. */
static void locate(struct parser *p, const char *start, const char *at)
{
	const char *q = start, *nl;

	p->line = 1;
	p->bol = start;
	while ((nl = memchr(q, '\n', (size_t)(at - q))) != NULL) {
		p->line++;
		q = nl + 1;
		p->bol = q;
	}
}

/* Refuse anything that is not UTF-8 text before looking at the syntax, so later code can trust
 * every byte it reads and errors elsewhere can count columns in characters. */
static bool check_bytes(struct parser *p, const char *start, const char *end)
{
	const unsigned char *s = (const unsigned char *)start, *e = (const unsigned char *)end;

	p->line = 1;
	p->bol = start;
	while (s < e) {
		unsigned c = *s, lo = 0x80, hi = 0xBF;
		size_t need;

		if (c == '\n') {
			p->line++;
			p->bol = (const char *)++s;
			continue;
		}
		if (c < 0x80) {
			if (c == 0)
				return cfg_fail(p, (const char *)s, "NUL byte");
			if (c == '\r' && !(s + 1 < e && s[1] == '\n'))
				return cfg_fail(p, (const char *)s,
					    "carriage return not followed by a newline");
			if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
				return cfg_fail(p, (const char *)s, "control character 0x%02x", c);
			s++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c == 0xE0)
			need = 2, lo = 0xA0; /* no overlong forms */
		else if (c == 0xED)
			need = 2, hi = 0x9F; /* no UTF-16 surrogates */
		else if (c >= 0xE1 && c <= 0xEF)
			need = 2;
		else if (c == 0xF0)
			need = 3, lo = 0x90;
		else if (c == 0xF4)
			need = 3, hi = 0x8F; /* nothing above U+10FFFF */
		else if (c >= 0xF1 && c <= 0xF3)
			need = 3;
		else
			return cfg_fail(p, (const char *)s, "invalid UTF-8 byte 0x%02x", c);
		if ((size_t)(e - s) <= need || s[1] < lo || s[1] > hi)
			return cfg_fail(p, (const char *)s, "invalid UTF-8 byte 0x%02x", c);
		for (size_t k = 2; k <= need; k++)
			if ((s[k] & 0xC0) != 0x80)
				return cfg_fail(p, (const char *)s, "invalid UTF-8 byte 0x%02x", c);
		s += need + 1;
	}
	return true;
}

static bool parse_text(struct parser *p, const char *text, size_t len)
{
	const char *s = text, *end = text + len;

	/* Editors on some systems write a byte order mark; it carries no meaning in UTF-8. */
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	if (len > CONFIG_MAX_BYTES) {
		locate(p, s, text + CONFIG_MAX_BYTES);
		return cfg_fail(p, text + CONFIG_MAX_BYTES, "file too large (more than %d bytes)",
			    CONFIG_MAX_BYTES);
	}
	if (!check_bytes(p, s, end))
		return false;
	p->line = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;

		p->line++;
		p->bol = s;
		/* check_bytes let a CR through only right before a LF. */
		if (eol > s && eol[-1] == '\r')
			eol--;
		if (!parse_line(p, s, eol))
			return false;
		s = nl ? nl + 1 : end;
	}
	return section_close(p);
}

/* ---- public ---- */

void config_defaults(struct mlx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen_port = 15001;
	cfg_copy_str(cfg->metrics_addr, sizeof(cfg->metrics_addr), "127.0.0.1:9464");
	cfg_copy_str(cfg->control_path, sizeof(cfg->control_path), "/run/modelux/agent.sock");
	cfg_copy_str(cfg->scope, sizeof(cfg->scope), "/");
	cfg->fail_closed = false;
	cfg_copy_str(cfg->pin_dir, sizeof(cfg->pin_dir), "/sys/fs/bpf/modelux");
	cfg->workers = 0;
	cfg->mark = 0x4d4c5801; /* "MLX\x01" */
	cfg->dns_snoop = true;
	cfg->nfqueue_num = 4242;
	cfg->resolver[0] = '\0';
	cfg->resolve_interval_s = 60;
	cfg->target_min_ttl_s = 300;
	cfg->target_ports[0] = 443;
	cfg->ntarget_ports = 1;
	cfg->peek_timeout_ms = 5000;
	cfg->idle_timeout_s = 600;
	cfg->max_conns = 16384;
	cfg->log_level = MLX_LOG_INFO;
	cfg_copy_str(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/modelux");
	cfg->intercept = true;
	cfg->upstream_h2 = true;
	cfg->govern = true;
	cfg->payload_cap = 65536;
	cfg_copy_str(cfg->sensitivity, sizeof(cfg->sensitivity), "all");
	/* This function cannot report failure; on OOM the provider list is left empty, which
	 * config_parse() detects and reports. */
	if (!add_builtin_providers(cfg)) {
		for (size_t i = 0; i < cfg->nproviders; i++)
			free_domains(cfg->providers[i].domains, cfg->providers[i].ndomains);
		free(cfg->providers);
		cfg->providers = NULL;
		cfg->nproviders = 0;
	}
}

bool config_parse(const char *text, size_t len, const char *fname, struct mlx_config *cfg,
		  char *err, size_t errlen)
{
	struct parser p = {
		.fname = fname ? fname : "(config)",
		.err = err,
		.errlen = errlen,
		.cfg = cfg,
	};
	bool ok;

	if (err && errlen)
		err[0] = '\0';
	config_defaults(cfg);
	if (cfg->nproviders != ARRAY_SIZE(builtin_providers))
		ok = cfg_fail_nopos(&p, "out of memory");
	else
		ok = parse_text(&p, text ? text : "", text ? len : 0);
	section_reset(&p.sec);
	free(p.seen);
	if (!ok)
		config_free(cfg);
	return ok;
}

bool config_load(const char *path, struct mlx_config *cfg, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, saved;
	bool ok;

	memset(cfg, 0, sizeof(*cfg));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	/* Read one byte past the limit: enough for config_parse() to see the file is too big. */
	for (;;) {
		ssize_t r;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (cap == CONFIG_MAX_BYTES + 1)
				break;
			if (ncap > CONFIG_MAX_BYTES + 1)
				ncap = CONFIG_MAX_BYTES + 1;
			nb = realloc(buf, ncap);
			if (!nb) {
				errno = ENOMEM;
				goto read_error;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto read_error;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	ok = config_parse(buf, len, path, cfg, err, errlen);
	free(buf);
	return ok;

read_error:
	saved = errno;
	close(fd);
	free(buf);
	if (err && errlen)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(saved));
	return false;
}

void config_free(struct mlx_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nproviders; i++)
		free_domains(cfg->providers[i].domains, cfg->providers[i].ndomains);
	free(cfg->providers);
	memset(cfg, 0, sizeof(*cfg));
}

bool domain_matches(const char *pattern, const char *host)
{
	size_t hn, pn;

	if (!pattern || !host)
		return false;
	hn = strlen(host);
	if (hn > 0 && host[hn - 1] == '.')
		hn--;
	if (hn == 0)
		return false;
	pn = strlen(pattern);
	if (pn >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* Compare the suffix with its leading dot so "*.x.com" never matches "ax.com". */
		const char *suffix = pattern + 1;
		size_t sn = pn - 1;

		return hn > sn && ascii_caseeq(host + hn - sn, suffix, sn);
	}
	return hn == pn && ascii_caseeq(host, pattern, pn);
}

/* The most specific pattern wins, so a user's "*.eu.example.com" provider can carve a region out
 * of another provider's "*.example.com": an exact name beats any wildcard, a longer wildcard beats
 * a shorter one, and among equals the provider listed first wins. */
int config_provider_for(const struct mlx_config *cfg, const char *host)
{
	int best = -1;
	size_t best_len = 0;

	if (!cfg || !host)
		return -1;
	for (size_t i = 0; i < cfg->nproviders; i++) {
		const struct mlx_provider *pv = &cfg->providers[i];

		for (size_t j = 0; j < pv->ndomains; j++) {
			const char *d = pv->domains[j];

			if (!domain_matches(d, host))
				continue;
			if (d[0] != '*')
				return (int)i;
			if (best < 0 || strlen(d) > best_len) {
				best = (int)i;
				best_len = strlen(d);
			}
		}
	}
	return best;
}
