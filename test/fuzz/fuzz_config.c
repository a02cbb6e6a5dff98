/* fuzz_config: libFuzzer driver for the config parser. Includes config.c to reach its validators.
 * On success the result must be well-formed and survive a print-and-reparse round trip; on
 * failure the message must name the file and the struct must be left empty. */

#include "../../userspace/config.c"
#include "../../userspace/config_keys.c"

#define FNAME "fuzz.conf"

static bool str_fits(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check_valid(const struct mlx_config *cfg)
{
	char why[64];

	if (cfg->listen_port == 0 || cfg->mark == 0 || cfg->workers > 64)
		__builtin_trap();
	if (cfg->ntarget_ports == 0 || cfg->ntarget_ports > MLX_MAX_TARGET_PORTS)
		__builtin_trap();
	for (size_t i = 0; i < cfg->ntarget_ports; i++) {
		if (cfg->target_ports[i] == 0)
			__builtin_trap();
		for (size_t j = 0; j < i; j++)
			if (cfg->target_ports[i] == cfg->target_ports[j])
				__builtin_trap();
	}
	if (!str_fits(cfg->metrics_addr, sizeof(cfg->metrics_addr)) ||
	    !str_fits(cfg->control_path, sizeof(cfg->control_path)) ||
	    !str_fits(cfg->scope, sizeof(cfg->scope)) ||
	    !str_fits(cfg->pin_dir, sizeof(cfg->pin_dir)) ||
	    !str_fits(cfg->resolver, sizeof(cfg->resolver)) ||
	    !str_fits(cfg->state_dir, sizeof(cfg->state_dir)))
		__builtin_trap();
	if (cfg->control_path[0] != '/' || cfg->scope[0] != '/' || cfg->pin_dir[0] != '/' ||
	    cfg->state_dir[0] != '/')
		__builtin_trap();
	if (cfg->log_level != MLX_LOG_ERR && cfg->log_level != MLX_LOG_WARN &&
	    cfg->log_level != MLX_LOG_INFO && cfg->log_level != MLX_LOG_DEBUG)
		__builtin_trap();
	if (cfg->nproviders > CONFIG_MAX_PROVIDERS)
		__builtin_trap();
	for (size_t i = 0; i < cfg->nproviders; i++) {
		const struct mlx_provider *pv = &cfg->providers[i];

		if (!str_fits(pv->name, sizeof(pv->name)) ||
		    !cfg_valid_provider_name(pv->name, strlen(pv->name)))
			__builtin_trap();
		if (pv->ndomains == 0 || pv->ndomains > CONFIG_MAX_DOMAINS)
			__builtin_trap();
		for (size_t j = 0; j < pv->ndomains; j++) {
			const char *d = pv->domains[j];
			bool wild = d[0] == '*', claimed = false;
			char host[300];
			int r;

			if (cfg_domain_problem(d, strlen(d), why, sizeof(why)))
				__builtin_trap();
			for (const char *c = d; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					__builtin_trap();
			/* Every pattern must route some name to a provider that claims it. */
			snprintf(host, sizeof(host), "%s%s", wild ? "a" : "", d + wild);
			r = config_provider_for(cfg, host);
			if (r < 0)
				__builtin_trap();
			for (size_t k = 0; k < cfg->providers[r].ndomains; k++)
				claimed |= domain_matches(cfg->providers[r].domains[k], host);
			if (!claimed)
				__builtin_trap();
		}
	}
}

/* A tiny growable buffer for printing a config back to text. */
struct out {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		__builtin_trap();
	if (o->len + (size_t)n + 1 > o->cap) {
		o->cap = (o->len + (size_t)n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf)
			__builtin_trap();
	}
	va_start(ap, fmt);
	vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

static const char *level_name(enum mlx_log_level l)
{
	switch (l) {
	case MLX_LOG_ERR:
		return "err";
	case MLX_LOG_WARN:
		return "warn";
	case MLX_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Print <cfg> in the file format: what the parser accepted it must accept again, identically. */
static void print_config(const struct mlx_config *cfg, struct out *o)
{
	out_printf(o, "listen_port = %u\n", cfg->listen_port);
	out_printf(o, "metrics_addr = %s\n", cfg->metrics_addr[0] ? cfg->metrics_addr : "off");
	out_printf(o, "control_path = %s\n", cfg->control_path);
	out_printf(o, "scope = %s\n", cfg->scope);
	out_printf(o, "fail_closed = %s\n", cfg->fail_closed ? "yes" : "no");
	out_printf(o, "pin_dir = %s\n", cfg->pin_dir);
	out_printf(o, "workers = %u\n", cfg->workers);
	out_printf(o, "mark = 0x%x\n", cfg->mark);
	out_printf(o, "dns_snoop = %s\n", cfg->dns_snoop ? "on" : "off");
	out_printf(o, "nfqueue_num = %u\n", cfg->nfqueue_num);
	out_printf(o, "resolver = %s\n", cfg->resolver);
	out_printf(o, "resolve_interval_s = %u\n", cfg->resolve_interval_s);
	out_printf(o, "target_min_ttl_s = %u\n", cfg->target_min_ttl_s);
	out_printf(o, "target_ports = ");
	for (size_t i = 0; i < cfg->ntarget_ports; i++)
		out_printf(o, "%s%u", i ? ", " : "", cfg->target_ports[i]);
	out_printf(o, "\npeek_timeout_ms = %u\n", cfg->peek_timeout_ms);
	out_printf(o, "idle_timeout_s = %u\n", cfg->idle_timeout_s);
	out_printf(o, "max_conns = %u\n", cfg->max_conns);
	out_printf(o, "log_level = %s\n", level_name(cfg->log_level));
	out_printf(o, "state_dir = %s\n", cfg->state_dir);
	for (size_t i = 0; i < ARRAY_SIZE(builtin_providers); i++)
		if (find_provider(cfg, builtin_providers[i].name) < 0)
			out_printf(o, "[provider %s]\ndisable = yes\n", builtin_providers[i].name);
	for (size_t i = 0; i < cfg->nproviders; i++) {
		out_printf(o, "[provider %s]\ndomains = ", cfg->providers[i].name);
		for (size_t j = 0; j < cfg->providers[i].ndomains; j++)
			out_printf(o, "%s%s", j ? "," : "", cfg->providers[i].domains[j]);
		out_printf(o, "\n");
	}
}

static void check_same(const struct mlx_config *a, const struct mlx_config *b)
{
	if (a->listen_port != b->listen_port || strcmp(a->metrics_addr, b->metrics_addr) ||
	    strcmp(a->control_path, b->control_path) || strcmp(a->scope, b->scope) ||
	    a->fail_closed != b->fail_closed || strcmp(a->pin_dir, b->pin_dir) ||
	    a->workers != b->workers || a->mark != b->mark || a->dns_snoop != b->dns_snoop ||
	    a->nfqueue_num != b->nfqueue_num || strcmp(a->resolver, b->resolver) ||
	    a->resolve_interval_s != b->resolve_interval_s ||
	    a->target_min_ttl_s != b->target_min_ttl_s || a->ntarget_ports != b->ntarget_ports ||
	    memcmp(a->target_ports, b->target_ports, a->ntarget_ports * sizeof(uint16_t)) ||
	    a->peek_timeout_ms != b->peek_timeout_ms || a->idle_timeout_s != b->idle_timeout_s ||
	    a->max_conns != b->max_conns || a->log_level != b->log_level ||
	    strcmp(a->state_dir, b->state_dir) || a->nproviders != b->nproviders)
		__builtin_trap();
	for (size_t i = 0; i < a->nproviders; i++) {
		if (strcmp(a->providers[i].name, b->providers[i].name) ||
		    a->providers[i].ndomains != b->providers[i].ndomains)
			__builtin_trap();
		for (size_t j = 0; j < a->providers[i].ndomains; j++)
			if (strcmp(a->providers[i].domains[j], b->providers[i].domains[j]))
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlx_config cfg, again;
	char err[256], host[64];
	int r;
	size_t hn = size < sizeof(host) - 1 ? size : sizeof(host) - 1;

	memset(err, 'x', sizeof(err));
	if (config_parse((const char *)data, size, FNAME, &cfg, err, sizeof(err))) {
		struct out o = { 0 };

		if (err[0] != '\0')
			__builtin_trap();
		check_valid(&cfg);
		print_config(&cfg, &o);
		/* Near the size limit the printed form may be a little longer than the input. */
		if (o.len <= CONFIG_MAX_BYTES) {
			if (!config_parse(o.buf, o.len, "again", &again, err, sizeof(err)))
				__builtin_trap();
			check_same(&cfg, &again);
			config_free(&again);
		}
		free(o.buf);
	} else {
		size_t pn = strlen(FNAME ":");

		if (!str_fits(err, sizeof(err)) || strncmp(err, FNAME ":", pn) != 0 ||
		    strlen(err) <= pn)
			__builtin_trap();
		if (!all_zero(&cfg, sizeof(cfg)))
			__builtin_trap();
		/* A short buffer must still come back terminated. */
		if (config_parse((const char *)data, size, FNAME, &cfg, err, 5) || err[4] != '\0')
			__builtin_trap();
		config_defaults(&cfg);
	}

	/* The input's first bytes as a host name: lookups must not misbehave on any string, and a
	 * hit must be claimed by the provider returned. */
	memcpy(host, data, hn);
	host[hn] = '\0';
	r = config_provider_for(&cfg, host);
	if (r >= (int)cfg.nproviders)
		__builtin_trap();
	if (r >= 0) {
		bool claimed = false;

		for (size_t k = 0; k < cfg.providers[r].ndomains; k++)
			claimed |= domain_matches(cfg.providers[r].domains[k], host);
		if (!claimed)
			__builtin_trap();
	}
	config_free(&cfg);
	if (!all_zero(&cfg, sizeof(cfg)))
		__builtin_trap();
	return 0;
}
