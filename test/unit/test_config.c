/* test_config: the config module through its public API only — defaults, the shipped sample
 * file, every key, every error message with its position, providers, and domain matching.
 * Run from the repository root (it reads etc/modelux-agent.conf). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "config.h"

#define SAMPLE_PATH "etc/modelux-agent.conf"
#define LIMIT (1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#ifndef HAVE_ASAN
/* Allocation failure injection: this binary replaces malloc and friends (glibc supports that) with
 * versions that, while armed, fail once <alloc_budget> allocations have succeeded and count the
 * blocks still live, so every out-of-memory path is walked and checked for leaks. AddressSanitizer
 * owns malloc itself, so under ASan the test is skipped. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static bool alloc_armed;
static long alloc_budget, alloc_live;

static bool alloc_allowed(void)
{
	if (!alloc_armed)
		return true;
	if (alloc_budget == 0)
		return false;
	alloc_budget--;
	return true;
}

void *malloc(size_t n)
{
	void *p = alloc_allowed() ? __libc_malloc(n) : NULL;

	if (p && alloc_armed)
		alloc_live++;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = alloc_allowed() ? __libc_calloc(n, size) : NULL;

	if (p && alloc_armed)
		alloc_live++;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = alloc_allowed() ? __libc_realloc(old, n) : NULL;

	if (p && !old && alloc_armed)
		alloc_live++;
	return p;
}

void free(void *p)
{
	if (p && alloc_armed)
		alloc_live--;
	__libc_free(p);
}
#endif

static bool parse(const char *text, struct mlx_config *cfg, char *err, size_t errlen)
{
	return config_parse(text, strlen(text), "t.conf", cfg, err, errlen);
}

/* parse_ok - parse <text>, fail the test with the parser's message if it is refused. */
static void parse_ok(const char *text, struct mlx_config *cfg)
{
	char err[512];

	if (!parse(text, cfg, err, sizeof(err)))
		fail_msg("unexpected error: %s\n--- input ---\n%s", err, text);
}

static bool is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* expect_error_n - <len> bytes of <text> must be refused with exactly <want>, leaving cfg empty. */
static void expect_error_n(const char *text, size_t len, const char *want)
{
	struct mlx_config cfg;
	char err[512];

	memset(&cfg, 0xa5, sizeof(cfg));
	if (config_parse(text, len, "t.conf", &cfg, err, sizeof(err))) {
		config_free(&cfg);
		fail_msg("accepted, expected \"%s\"\n--- input ---\n%.*s", want, (int)len, text);
	}
	assert_string_equal(err, want);
	assert_true(is_zero(&cfg, sizeof(cfg)));
}

static void expect_error(const char *text, const char *want)
{
	expect_error_n(text, strlen(text), want);
}

static void assert_provider(const struct mlx_config *cfg, size_t i, const char *name, ...)
{
	va_list ap;
	const char *d;
	size_t n = 0;

	assert_true(i < cfg->nproviders);
	assert_string_equal(cfg->providers[i].name, name);
	va_start(ap, name);
	while ((d = va_arg(ap, const char *)) != NULL) {
		assert_true(n < cfg->providers[i].ndomains);
		assert_string_equal(cfg->providers[i].domains[n], d);
		n++;
	}
	va_end(ap);
	assert_int_equal(cfg->providers[i].ndomains, n);
}

/* Deep comparison of two configs, field by field so a failure names the field. */
static void assert_config_equal(const struct mlx_config *a, const struct mlx_config *b)
{
	assert_int_equal(a->listen_port, b->listen_port);
	assert_string_equal(a->metrics_addr, b->metrics_addr);
	assert_string_equal(a->control_path, b->control_path);
	assert_string_equal(a->scope, b->scope);
	assert_int_equal(a->fail_closed, b->fail_closed);
	assert_string_equal(a->pin_dir, b->pin_dir);
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->mark, b->mark);
	assert_int_equal(a->dns_snoop, b->dns_snoop);
	assert_int_equal(a->nfqueue_num, b->nfqueue_num);
	assert_string_equal(a->resolver, b->resolver);
	assert_int_equal(a->resolve_interval_s, b->resolve_interval_s);
	assert_int_equal(a->target_min_ttl_s, b->target_min_ttl_s);
	assert_int_equal(a->ntarget_ports, b->ntarget_ports);
	assert_memory_equal(a->target_ports, b->target_ports,
			    a->ntarget_ports * sizeof(a->target_ports[0]));
	assert_int_equal(a->peek_timeout_ms, b->peek_timeout_ms);
	assert_int_equal(a->idle_timeout_s, b->idle_timeout_s);
	assert_int_equal(a->max_conns, b->max_conns);
	assert_int_equal(a->log_level, b->log_level);
	assert_string_equal(a->state_dir, b->state_dir);
	assert_int_equal(a->nproviders, b->nproviders);
	for (size_t i = 0; i < a->nproviders; i++) {
		assert_string_equal(a->providers[i].name, b->providers[i].name);
		assert_int_equal(a->providers[i].ndomains, b->providers[i].ndomains);
		for (size_t j = 0; j < a->providers[i].ndomains; j++)
			assert_string_equal(a->providers[i].domains[j], b->providers[i].domains[j]);
	}
}

/* ---- defaults and the sample file ---- */

static void test_defaults(void **state)
{
	struct mlx_config cfg;

	config_defaults(&cfg);
	assert_int_equal(cfg.listen_port, 15001);
	assert_string_equal(cfg.metrics_addr, "127.0.0.1:9464");
	assert_string_equal(cfg.control_path, "/run/modelux/agent.sock");
	assert_string_equal(cfg.scope, "/");
	assert_false(cfg.fail_closed);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/modelux");
	assert_int_equal(cfg.workers, 0);
	assert_int_equal(cfg.mark, 0x4d4c5801);
	assert_true(cfg.dns_snoop);
	assert_int_equal(cfg.nfqueue_num, 4242);
	assert_string_equal(cfg.resolver, "");
	assert_int_equal(cfg.resolve_interval_s, 60);
	assert_int_equal(cfg.target_min_ttl_s, 300);
	assert_int_equal(cfg.ntarget_ports, 1);
	assert_int_equal(cfg.target_ports[0], 443);
	assert_int_equal(cfg.peek_timeout_ms, 5000);
	assert_int_equal(cfg.idle_timeout_s, 600);
	assert_int_equal(cfg.max_conns, 16384);
	assert_int_equal(cfg.log_level, MLX_LOG_INFO);
	assert_string_equal(cfg.state_dir, "/var/lib/modelux");

	assert_int_equal(cfg.nproviders, 12);
	assert_provider(&cfg, 0, "openai", "api.openai.com", NULL);
	assert_provider(&cfg, 1, "azure-openai", "*.openai.azure.com", NULL);
	assert_provider(&cfg, 2, "anthropic", "api.anthropic.com", NULL);
	assert_provider(&cfg, 3, "gemini", "generativelanguage.googleapis.com", NULL);
	assert_provider(&cfg, 4, "mistral", "api.mistral.ai", NULL);
	assert_provider(&cfg, 5, "groq", "api.groq.com", NULL);
	assert_provider(&cfg, 6, "xai", "api.x.ai", NULL);
	assert_provider(&cfg, 7, "openrouter", "openrouter.ai", NULL);
	assert_provider(&cfg, 8, "deepseek", "api.deepseek.com", NULL);
	assert_provider(&cfg, 9, "together", "api.together.xyz", "api.together.ai", NULL);
	assert_provider(&cfg, 10, "cohere", "api.cohere.com", "api.cohere.ai", NULL);
	assert_provider(&cfg, 11, "perplexity", "api.perplexity.ai", NULL);
	config_free(&cfg);
}

static void test_empty_and_comments_equal_defaults(void **state)
{
	static const char *const texts[] = {
		"",
		"\n\n\n",
		"# only a comment",
		"   \t  \n\t# indented comment\n  # another\n",
		"\xEF\xBB\xBF# after a byte order mark\n",
	};
	struct mlx_config def, cfg;

	config_defaults(&def);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		parse_ok(texts[i], &cfg);
		assert_config_equal(&cfg, &def);
		config_free(&cfg);
	}
	/* A NULL text of length 0 is an empty file. */
	assert_true(config_parse(NULL, 0, "t.conf", &cfg, NULL, 0));
	assert_config_equal(&cfg, &def);
	config_free(&cfg);
	config_free(&def);
}

static void test_sample_file_equals_defaults(void **state)
{
	struct mlx_config def, cfg;
	char err[512];

	config_defaults(&def);
	if (!config_load(SAMPLE_PATH, &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_config_equal(&cfg, &def);
	config_free(&cfg);
	config_free(&def);
}

/* ---- every key, valid ---- */

static void test_every_key(void **state)
{
	struct mlx_config cfg;

	parse_ok("listen_port = 8080\n"
		 "metrics_addr = [::1]:9100\n"
		 "control_path = /tmp/mlx.sock\n"
		 "scope = /system.slice/app.service\n"
		 "fail_closed = yes\n"
		 "pin_dir = /sys/fs/bpf/other\n"
		 "workers = 64\n"
		 "mark = 0xFFFFFFFF\n"
		 "dns_snoop = off\n"
		 "nfqueue_num = 0\n"
		 "resolver = [2606:4700:4700::1111]:53\n"
		 "resolve_interval_s = 0\n"
		 "target_min_ttl_s = 86400\n"
		 "target_ports = 443, 8443 ,80,1,65535\n"
		 "peek_timeout_ms = 60000\n"
		 "idle_timeout_s = 1\n"
		 "max_conns = 1048576\n"
		 "log_level = debug\n"
		 "state_dir = /srv/modelux\n",
		 &cfg);
	assert_int_equal(cfg.listen_port, 8080);
	assert_string_equal(cfg.metrics_addr, "[::1]:9100");
	assert_string_equal(cfg.control_path, "/tmp/mlx.sock");
	assert_string_equal(cfg.scope, "/system.slice/app.service");
	assert_true(cfg.fail_closed);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/other");
	assert_int_equal(cfg.workers, 64);
	assert_int_equal(cfg.mark, 0xffffffffu);
	assert_false(cfg.dns_snoop);
	assert_int_equal(cfg.nfqueue_num, 0);
	assert_string_equal(cfg.resolver, "[2606:4700:4700::1111]:53");
	assert_int_equal(cfg.resolve_interval_s, 0);
	assert_int_equal(cfg.target_min_ttl_s, 86400);
	assert_int_equal(cfg.ntarget_ports, 5);
	assert_int_equal(cfg.target_ports[0], 443);
	assert_int_equal(cfg.target_ports[1], 8443);
	assert_int_equal(cfg.target_ports[2], 80);
	assert_int_equal(cfg.target_ports[3], 1);
	assert_int_equal(cfg.target_ports[4], 65535);
	assert_int_equal(cfg.peek_timeout_ms, 60000);
	assert_int_equal(cfg.idle_timeout_s, 1);
	assert_int_equal(cfg.max_conns, 1048576);
	assert_int_equal(cfg.log_level, MLX_LOG_DEBUG);
	assert_string_equal(cfg.state_dir, "/srv/modelux");
	assert_int_equal(cfg.nproviders, 12);
	config_free(&cfg);
}

static void test_value_forms(void **state)
{
	static const struct {
		const char *word;
		bool value;
	} bools[] = {
		{ "yes", true }, { "no", false },   { "true", true }, { "false", false },
		{ "on", true },  { "off", false },  { "1", true },    { "0", false },
		{ "YES", true }, { "False", false },
	};
	static const struct {
		const char *word;
		enum mlx_log_level level;
	} levels[] = {
		{ "err", MLX_LOG_ERR },	    { "warn", MLX_LOG_WARN }, { "info", MLX_LOG_INFO },
		{ "debug", MLX_LOG_DEBUG }, { "WARN", MLX_LOG_WARN },
	};
	struct mlx_config cfg;
	char text[128];

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		snprintf(text, sizeof(text), "fail_closed = %s\ndns_snoop = %s\n", bools[i].word,
			 bools[i].word);
		parse_ok(text, &cfg);
		assert_int_equal(cfg.fail_closed, bools[i].value);
		assert_int_equal(cfg.dns_snoop, bools[i].value);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "log_level = %s", levels[i].word);
		parse_ok(text, &cfg);
		assert_int_equal(cfg.log_level, levels[i].level);
		config_free(&cfg);
	}

	parse_ok("mark = 1234", &cfg);
	assert_int_equal(cfg.mark, 1234);
	config_free(&cfg);
	parse_ok("mark = 4294967295", &cfg);
	assert_int_equal(cfg.mark, 0xffffffffu);
	config_free(&cfg);
	parse_ok("mark = 0X1", &cfg);
	assert_int_equal(cfg.mark, 1);
	config_free(&cfg);

	/* "off" and an empty value both disable metrics, stored as "". */
	parse_ok("metrics_addr = off", &cfg);
	assert_string_equal(cfg.metrics_addr, "");
	config_free(&cfg);
	parse_ok("metrics_addr =", &cfg);
	assert_string_equal(cfg.metrics_addr, "");
	config_free(&cfg);
	parse_ok("metrics_addr = 0.0.0.0:1", &cfg);
	assert_string_equal(cfg.metrics_addr, "0.0.0.0:1");
	config_free(&cfg);

	parse_ok("resolver = 1.1.1.1", &cfg);
	assert_string_equal(cfg.resolver, "1.1.1.1");
	config_free(&cfg);
	parse_ok("resolver = 9.9.9.9:5353", &cfg);
	assert_string_equal(cfg.resolver, "9.9.9.9:5353");
	config_free(&cfg);
	parse_ok("resolver = 2001:db8::53", &cfg);
	assert_string_equal(cfg.resolver, "2001:db8::53");
	config_free(&cfg);
	parse_ok("resolver =", &cfg);
	assert_string_equal(cfg.resolver, "");
	config_free(&cfg);
}

/* ---- syntax ---- */

static void test_comments_and_blanks(void **state)
{
	struct mlx_config cfg;

	/* Blanks around '=' are optional; a '#' after a blank ends the value. */
	parse_ok("  listen_port=8080   # trailing comment\n"
		 "\tlog_level\t=\tdebug\t# tabbed\n"
		 "workers = 2 #\n"
		 "pin_dir = /sys/fs/bpf/a#b # '#' inside a value stays\n"
		 "[provider openai]   # comment after a header\n"
		 "  domains = a.example.com ,b.example.com # two\n",
		 &cfg);
	assert_int_equal(cfg.listen_port, 8080);
	assert_int_equal(cfg.log_level, MLX_LOG_DEBUG);
	assert_int_equal(cfg.workers, 2);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/a#b");
	assert_provider(&cfg, 0, "openai", "a.example.com", "b.example.com", NULL);
	config_free(&cfg);
}

static void test_workers_hash_is_value(void **state)
{
	/* "2#" is not a number: the '#' is not preceded by a blank, so it is part of the value. */
	expect_error("workers = 2#",
		     "t.conf:1:11: invalid workers '2#': expected an integer from 0 to 64");
}

static void test_crlf(void **state)
{
	struct mlx_config cfg;

	parse_ok("# windows\r\n"
		 "listen_port = 8081\r\n"
		 "\r\n"
		 "target_ports = 443, 8443\r\n"
		 "[provider openai]\r\n"
		 "domains = api.openai.com, x.example.com # c\r\n"
		 "[provider groq]\r\n"
		 "disable = yes\r\n",
		 &cfg);
	assert_int_equal(cfg.listen_port, 8081);
	assert_int_equal(cfg.ntarget_ports, 2);
	assert_int_equal(cfg.target_ports[1], 8443);
	assert_provider(&cfg, 0, "openai", "api.openai.com", "x.example.com", NULL);
	assert_int_equal(cfg.nproviders, 11);
	config_free(&cfg);

	/* Positions are still right on CRLF lines. */
	expect_error("workers = 1\r\nlisten_port = 0\r\n",
		     "t.conf:2:15: invalid listen_port '0': expected an integer from 1 to 65535");
	expect_error("[provider x\r\n", "t.conf:1:1: unterminated section header (missing ']')");
}

/* ---- errors: one table, exact messages ---- */

static const struct {
	const char *text;
	const char *err;
} error_cases[] = {
	/* tag lists and name lists */
	{ "tags = env\n", "t.conf:1:8: invalid tags 'env': expected name=value pairs separated by ','" },
	{ "tags = a=b,,c=d\n",
	  "t.conf:1:12: invalid tags 'a=b,,c=d': expected name=value pairs separated by ','" },
	{ "tags = a=b,c$=d\n", "t.conf:1:13: invalid tags: character '$' not allowed in a tag" },
	{ "tags = a=b=c\n", "t.conf:1:11: invalid tags: character '=' not allowed in a tag" },
	{ "tags_locked = te am\n", "t.conf:1:17: invalid tags_locked: character ' ' not allowed in a name" },
	/* keys and syntax */
	{ "bogus = 1\n", "t.conf:1:1: unknown key 'bogus'" },
	{ "# c\n\n   Listen_Port = 1\n", "t.conf:3:4: unknown key 'Listen_Port'" },
	{ "listen_port = 1\nlisten_port = 2\n",
	  "t.conf:2:1: duplicate key 'listen_port' (first set on line 1)" },
	{ "resolver =\nworkers = 1\nresolver = 1.1.1.1",
	  "t.conf:3:1: duplicate key 'resolver' (first set on line 1)" },
	{ "listen_port 15001\n", "t.conf:1:13: expected '=' after 'listen_port'" },
	{ "listen_port\n", "t.conf:1:12: expected '=' after 'listen_port'" },
	{ "listen port = 1\n", "t.conf:1:8: expected '=' after 'listen'" },
	{ "= 5\n", "t.conf:1:1: expected a key before '='" },
	{ "domains = a.com",
	  "t.conf:1:1: key 'domains' is only valid in a [provider NAME] section" },
	{ "disable = yes", "t.conf:1:1: key 'disable' is only valid in a [provider NAME] section" },

	/* integers */
	{ "listen_port = 0",
	  "t.conf:1:15: invalid listen_port '0': expected an integer from 1 to 65535" },
	{ "listen_port = 65536",
	  "t.conf:1:15: invalid listen_port '65536': expected an integer from 1 to 65535" },
	{ "listen_port = -1",
	  "t.conf:1:15: invalid listen_port '-1': expected an integer from 1 to 65535" },
	{ "listen_port = +1",
	  "t.conf:1:15: invalid listen_port '+1': expected an integer from 1 to 65535" },
	{ "listen_port = 0x10",
	  "t.conf:1:15: invalid listen_port '0x10': expected an integer from 1 to 65535" },
	{ "listen_port = 1 2",
	  "t.conf:1:15: invalid listen_port '1 2': expected an integer from 1 to 65535" },
	{ "listen_port =",
	  "t.conf:1:14: invalid listen_port '': expected an integer from 1 to 65535" },
	{ "workers = 65", "t.conf:1:11: invalid workers '65': expected an integer from 0 to 64" },
	{ "nfqueue_num = 65536",
	  "t.conf:1:15: invalid nfqueue_num '65536': expected an integer from 0 to 65535" },
	{ "resolve_interval_s = 86401",
	  "t.conf:1:22: invalid resolve_interval_s '86401': expected an integer from 0 to 86400" },
	{ "target_min_ttl_s = 99999999999999999999999",
	  "t.conf:1:20: invalid target_min_ttl_s '99999999999999999999999': expected an integer "
	  "from 0 to 86400" },
	{ "peek_timeout_ms = 0",
	  "t.conf:1:19: invalid peek_timeout_ms '0': expected an integer from 1 to 60000" },
	{ "peek_timeout_ms = 60001",
	  "t.conf:1:19: invalid peek_timeout_ms '60001': expected an integer from 1 to 60000" },
	{ "idle_timeout_s = 0",
	  "t.conf:1:18: invalid idle_timeout_s '0': expected an integer from 1 to 86400" },
	{ "max_conns = 0",
	  "t.conf:1:13: invalid max_conns '0': expected an integer from 1 to 1048576" },
	{ "max_conns = 1048577",
	  "t.conf:1:13: invalid max_conns '1048577': expected an integer from 1 to 1048576" },

	/* booleans, mark, log level */
	{ "fail_closed = maybe",
	  "t.conf:1:15: invalid fail_closed 'maybe': expected yes, no, true, false, on, off, "
	  "1 or 0" },
	{ "dns_snoop = 2",
	  "t.conf:1:13: invalid dns_snoop '2': expected yes, no, true, false, on, off, 1 or 0" },
	{ "dns_snoop =",
	  "t.conf:1:12: invalid dns_snoop '': expected yes, no, true, false, on, off, 1 or 0" },
	{ "mark = 0",
	  "t.conf:1:8: invalid mark '0': expected a nonzero 32-bit number (decimal or 0x hex)" },
	{ "mark = 0x0",
	  "t.conf:1:8: invalid mark '0x0': expected a nonzero 32-bit number (decimal or 0x hex)" },
	{ "mark = 0x",
	  "t.conf:1:8: invalid mark '0x': expected a nonzero 32-bit number (decimal or 0x hex)" },
	{ "mark = 0x100000000",
	  "t.conf:1:8: invalid mark '0x100000000': expected a nonzero 32-bit number (decimal or 0x "
	  "hex)" },
	{ "mark = 4294967296",
	  "t.conf:1:8: invalid mark '4294967296': expected a nonzero 32-bit number (decimal or 0x "
	  "hex)" },
	{ "mark = 0xZZ",
	  "t.conf:1:8: invalid mark '0xZZ': expected a nonzero 32-bit number (decimal or 0x hex)" },
	{ "log_level = verbose",
	  "t.conf:1:13: invalid log_level 'verbose': expected err, warn, info or debug" },
	{ "log_level = error",
	  "t.conf:1:13: invalid log_level 'error': expected err, warn, info or debug" },

	/* paths */
	{ "pin_dir = relative/dir",
	  "t.conf:1:11: invalid pin_dir 'relative/dir': expected an absolute path" },
	{ "state_dir =", "t.conf:1:12: invalid state_dir '': expected an absolute path" },
	{ "control_path = run/agent.sock",
	  "t.conf:1:16: invalid control_path 'run/agent.sock': expected an absolute path" },
	{ "scope = system.slice",
	  "t.conf:1:9: invalid scope 'system.slice': expected a cgroup path starting with '/'" },
	{ "scope = /a/../b",
	  "t.conf:1:12: invalid scope '/a/../b': '.' and '..' components are not allowed" },
	{ "scope = /a/.",
	  "t.conf:1:12: invalid scope '/a/.': '.' and '..' components are not allowed" },

	/* addresses */
	{ "metrics_addr = localhost:9464",
	  "t.conf:1:16: invalid metrics_addr 'localhost:9464': expected IPv4:port, [IPv6]:port or "
	  "off" },
	{ "metrics_addr = 127.0.0.1",
	  "t.conf:1:16: invalid metrics_addr '127.0.0.1': expected IPv4:port, [IPv6]:port or off" },
	{ "metrics_addr = ::1:9464",
	  "t.conf:1:16: invalid metrics_addr '::1:9464': expected IPv4:port, [IPv6]:port or off" },
	{ "metrics_addr = [::1]",
	  "t.conf:1:16: invalid metrics_addr '[::1]': expected IPv4:port, [IPv6]:port or off" },
	{ "metrics_addr = [::1]:",
	  "t.conf:1:16: invalid metrics_addr '[::1]:': expected IPv4:port, [IPv6]:port or off" },
	{ "metrics_addr = 127.0.0.1:0",
	  "t.conf:1:16: invalid metrics_addr '127.0.0.1:0': expected IPv4:port, [IPv6]:port or "
	  "off" },
	{ "metrics_addr = [1.2.3.4]:80",
	  "t.conf:1:16: invalid metrics_addr '[1.2.3.4]:80': expected IPv4:port, [IPv6]:port or "
	  "off" },
	{ "resolver = 1.1.1",
	  "t.conf:1:12: invalid resolver '1.1.1': expected an IPv4 or IPv6 address, IPv4:port, "
	  "[IPv6]:port or nothing" },
	{ "resolver = dns.google",
	  "t.conf:1:12: invalid resolver 'dns.google': expected an IPv4 or IPv6 address, "
	  "IPv4:port, [IPv6]:port or nothing" },
	{ "resolver = 1.1.1.1:0",
	  "t.conf:1:12: invalid resolver '1.1.1.1:0': expected an IPv4 or IPv6 address, IPv4:port, "
	  "[IPv6]:port or nothing" },
	{ "resolver = [::1]",
	  "t.conf:1:12: invalid resolver '[::1]': expected an IPv4 or IPv6 address, IPv4:port, "
	  "[IPv6]:port or nothing" },

	/* target ports */
	{ "target_ports =", "t.conf:1:15: target_ports needs at least one port" },
	{ "target_ports = 443,,80", "t.conf:1:20: empty item in target_ports" },
	{ "target_ports = 443,", "t.conf:1:20: empty item in target_ports" },
	{ "target_ports = ,443", "t.conf:1:16: empty item in target_ports" },
	{ "target_ports = 443, 0",
	  "t.conf:1:21: invalid port '0' in target_ports: expected an integer from 1 to 65535" },
	{ "target_ports = 443 8443",
	  "t.conf:1:16: invalid port '443 8443' in target_ports: expected an integer from 1 to "
	  "65535" },
	{ "target_ports = 443, 443", "t.conf:1:21: duplicate port 443 in target_ports" },
	{ "target_ports = 1,2,3,4,5,6,7,8,9", "t.conf:1:32: too many target_ports (at most 8)" },

	/* section headers */
	{ "[provider openai\n", "t.conf:1:1: unterminated section header (missing ']')" },
	{ "[provider openai # c]\n", "t.conf:1:1: unterminated section header (missing ']')" },
	{ "[service x]\n", "t.conf:1:2: unknown section type 'service' (expected 'provider')" },
	{ "[Provider x]\n", "t.conf:1:2: unknown section type 'Provider' (expected 'provider')" },
	{ "[]", "t.conf:1:2: empty section header" },
	{ "[ \t ]", "t.conf:1:5: empty section header" },
	{ "[provider]", "t.conf:1:10: missing provider name" },
	{ "[provider Open]",
	  "t.conf:1:11: invalid provider name 'Open': expected 1 to 31 of a-z, 0-9, '_' and '-'" },
	{ "[provider a.b]",
	  "t.conf:1:11: invalid provider name 'a.b': expected 1 to 31 of a-z, 0-9, '_' and '-'" },
	{ "[provider abcdefghijklmnopqrstuvwxyz012345]",
	  "t.conf:1:11: invalid provider name 'abcdefghijklmnopqrstuvwxyz012345': expected 1 to 31 "
	  "of a-z, 0-9, '_' and '-'" },
	{ "[provider a b]", "t.conf:1:13: unexpected 'b' in section header (expected ']')" },
	{ "[provider a] x", "t.conf:1:13: unexpected text after ']'" },
	{ "[provider a]]", "t.conf:1:13: unexpected text after ']'" },
	{ "[provider a]\ndomains = a.com\n\n[provider a]\ndomains = b.com",
	  "t.conf:4:11: duplicate section [provider a] (first on line 1)" },
	{ "[provider openai]\n[provider openai]",
	  "t.conf:2:11: duplicate section [provider openai] (first on line 1)" },

	/* what a section means */
	{ "[provider new]\n", "t.conf:1:11: new provider 'new' needs a domains key" },
	{ "[provider new]\ndisable = no\n[provider openai]\n",
	  "t.conf:1:11: new provider 'new' needs a domains key" },
	{ "[provider new]\n  disable = yes\n",
	  "t.conf:2:3: cannot disable provider 'new': there is no built-in provider of that name" },
	{ "[provider openai]\ndomains = a.com\ndisable = yes\n",
	  "t.conf:3:1: [provider openai] sets both domains and disable = yes" },
	{ "[provider openai]\ndisable = yes\ndomains = a.com\n",
	  "t.conf:2:1: [provider openai] sets both domains and disable = yes" },
	{ "[provider openai]\nlisten_port = 1\n",
	  "t.conf:2:1: key 'listen_port' must be set before the first section" },
	{ "[provider openai]\nfoo = 1",
	  "t.conf:2:1: unknown key 'foo' in [provider openai] (expected domains or disable)" },
	{ "[provider openai]\ndomains = a.com\ndomains = b.com",
	  "t.conf:3:1: duplicate key 'domains' in [provider openai] (first set on line 2)" },
	{ "[provider openai]\ndisable = no\ndisable = no",
	  "t.conf:3:1: duplicate key 'disable' in [provider openai] (first set on line 2)" },
	{ "[provider openai]\ndisable = perhaps",
	  "t.conf:2:11: invalid disable 'perhaps': expected yes, no, true, false, on, off, "
	  "1 or 0" },

	/* domains */
	{ "[provider openai]\ndomains =",
	  "t.conf:2:10: domains needs at least one domain (use disable = yes to remove a "
	  "provider)" },
	{ "[provider openai]\ndomains = a.com,,b.com", "t.conf:2:17: empty item in domains" },
	{ "[provider openai]\ndomains = a.com, ", "t.conf:2:17: empty item in domains" },
	{ "[provider openai]\ndomains = a..com",
	  "t.conf:2:11: invalid domain 'a..com': empty label" },
	{ "[provider openai]\ndomains = .a.com",
	  "t.conf:2:11: invalid domain '.a.com': empty label" },
	{ "[provider openai]\ndomains = a.com.",
	  "t.conf:2:11: invalid domain 'a.com.': empty label" },
	{ "[provider openai]\ndomains = *.", "t.conf:2:11: invalid domain '*.': empty label" },
	{ "[provider openai]\ndomains = ok.com, -a.com",
	  "t.conf:2:19: invalid domain '-a.com': a label starts with '-'" },
	{ "[provider openai]\ndomains = a-.com",
	  "t.conf:2:11: invalid domain 'a-.com': a label ends with '-'" },
	{ "[provider openai]\ndomains = a.com-",
	  "t.conf:2:11: invalid domain 'a.com-': a label ends with '-'" },
	{ "[provider openai]\ndomains = a_b.com",
	  "t.conf:2:11: invalid domain 'a_b.com': character '_' is not allowed" },
	{ "[provider openai]\ndomains = a.com b.com",
	  "t.conf:2:11: invalid domain 'a.com b.com': character ' ' is not allowed" },
	{ "[provider openai]\ndomains = a.*.com",
	  "t.conf:2:11: invalid domain 'a.*.com': '*' is only allowed as a leading '*.'" },
	{ "[provider openai]\ndomains = *",
	  "t.conf:2:11: invalid domain '*': '*' is only allowed as a leading '*.'" },
	{ "[provider openai]\ndomains = *a.com",
	  "t.conf:2:11: invalid domain '*a.com': '*' is only allowed as a leading '*.'" },
	{ "[provider openai]\ndomains = *.*.a.com",
	  "t.conf:2:11: invalid domain '*.*.a.com': '*' is only allowed as a leading '*.'" },
	{ "[provider openai]\ndomains = b\xc3\xbc" "cher.de",
	  "t.conf:2:11: invalid domain 'b\xc3\xbc" "cher.de': non-ASCII character (write "
	  "internationalized names as xn--)" },
	{ "[provider openai]\ndomains = api.openai.com, API.openai.com",
	  "t.conf:2:27: duplicate domain 'API.openai.com'" },

	/* bytes */
	{ "listen_port = 1\n\x01", "t.conf:2:1: control character 0x01" },
	{ "listen_port = 1\x7f", "t.conf:1:16: control character 0x7f" },
	{ "a\rb", "t.conf:1:2: carriage return not followed by a newline" },
	{ "a = 1\r", "t.conf:1:6: carriage return not followed by a newline" },
	{ "a = \xff", "t.conf:1:5: invalid UTF-8 byte 0xff" },
	{ "a = \xc0\x80", "t.conf:1:5: invalid UTF-8 byte 0xc0" },         /* overlong NUL */
	{ "a = \xe0\x80\x80", "t.conf:1:5: invalid UTF-8 byte 0xe0" },     /* overlong */
	{ "a = \xed\xa0\x80", "t.conf:1:5: invalid UTF-8 byte 0xed" },     /* surrogate */
	{ "a = \xf4\x90\x80\x80", "t.conf:1:5: invalid UTF-8 byte 0xf4" }, /* above U+10FFFF */
	{ "a = \xe2\x82", "t.conf:1:5: invalid UTF-8 byte 0xe2" },         /* cut short */
	{ "a = \x80", "t.conf:1:5: invalid UTF-8 byte 0x80" },             /* stray continuation */
	/* columns count characters, not bytes */
	{ "# \xc3\xa9\xc3\xa9\xc3\xa9 \xff", "t.conf:1:7: invalid UTF-8 byte 0xff" },
	{ "scope = /\xc3\xa9/../x",
	  "t.conf:1:12: invalid scope '/\xc3\xa9/../x': '.' and '..' components are not allowed" },
	{ "\xe2\x82\xac = 1", "t.conf:1:1: unknown key '\xe2\x82\xac'" },
};

/* Tag lists: stored as written; an empty list and a trailing ',' are accepted (the tag map's
 * stricter rule is tested in test_tagmap). */
static void test_tag_lists(void **state)
{
	struct mlx_config cfg;

	parse_ok("tags = env=prod,site=par1\ntags_locked = team,cost_center\n", &cfg);
	assert_string_equal(cfg.tags, "env=prod,site=par1");
	assert_string_equal(cfg.tags_locked, "team,cost_center");
	config_free(&cfg);
	parse_ok("tags = env=prod,\n", &cfg);
	assert_string_equal(cfg.tags, "env=prod,");
	config_free(&cfg);
}

static void test_errors(void **state)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		expect_error(error_cases[i].text, error_cases[i].err);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "listen_port = 1\0\n";
	static const char text2[] = "# x\n\0";

	expect_error_n(text, sizeof(text) - 1, "t.conf:1:16: NUL byte");
	expect_error_n(text2, sizeof(text2) - 1, "t.conf:2:1: NUL byte");
}

/* Long values are cut in messages, at a character boundary. */
static void test_long_values(void **state)
{
	char text[400], want[512];
	char path[110];

	/* 107 bytes fit sun_path; 108 do not. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(text, sizeof(text), "control_path = %s", path);
	{
		struct mlx_config cfg;

		parse_ok(text, &cfg);
		assert_string_equal(cfg.control_path, path);
		config_free(&cfg);
	}
	path[107] = 'a';
	path[108] = '\0';
	snprintf(text, sizeof(text), "control_path = %s", path);
	snprintf(want, sizeof(want),
		 "t.conf:1:16: invalid control_path '%.48s...': longer than 107 bytes (the limit "
		 "of a unix socket path)",
		 path);
	expect_error(text, want);

	/* 48 bytes of "é" would split a character: the cut backs off to 47 bytes. */
	strcpy(text, "bogus");
	for (int i = 0; i < 30; i++)
		strcat(text, "\xc3\xa9");
	strcat(text, " = 1");
	snprintf(want, sizeof(want), "t.conf:1:1: unknown key '%.47s...'", text);
	expect_error(text, want);

	/* A domain of 253 characters is fine, 254 is not; a 64-character label is too long. */
	{
		char dom[300], buf[400];
		struct mlx_config cfg;

		memset(dom, 0, sizeof(dom));
		for (int i = 0; i < 253; i++)
			dom[i] = (i % 2) ? '.' : 'a';
		dom[252] = 'b';
		snprintf(buf, sizeof(buf), "[provider openai]\ndomains = %s", dom);
		parse_ok(buf, &cfg);
		assert_string_equal(cfg.providers[0].domains[0], dom);
		config_free(&cfg);
		strcat(dom, "c");
		snprintf(buf, sizeof(buf), "[provider openai]\ndomains = %s", dom);
		snprintf(want, sizeof(want),
			 "t.conf:2:11: invalid domain '%.48s...': longer than 253 characters", dom);
		expect_error(buf, want);

		memset(dom, 'x', 64);
		strcpy(dom + 64, ".com");
		snprintf(buf, sizeof(buf), "[provider openai]\ndomains = %s", dom);
		snprintf(want, sizeof(want),
			 "t.conf:2:11: invalid domain '%.48s...': a label is longer than 63 "
			 "characters",
			 dom);
		expect_error(buf, want);
		strcpy(dom + 63, ".com");
		snprintf(buf, sizeof(buf), "[provider openai]\ndomains = %s", dom);
		parse_ok(buf, &cfg);
		config_free(&cfg);
	}
}

static void test_file_too_large(void **state)
{
	char *text = malloc(LIMIT + 1);
	struct mlx_config cfg;
	char err[256];

	assert_non_null(text);
	memset(text, '\n', LIMIT + 1);
	/* Exactly the limit is accepted. */
	assert_true(config_parse(text, LIMIT, "t.conf", &cfg, err, sizeof(err)));
	config_free(&cfg);
	/* One byte more is refused at the first byte past the limit. */
	expect_error_n(text, LIMIT + 1,
		       "t.conf:1048577:1: file too large (more than 1048576 bytes)");
	memset(text, '#', LIMIT + 1);
	expect_error_n(text, LIMIT + 1,
		       "t.conf:1:1048577: file too large (more than 1048576 bytes)");
	free(text);
}

/* ---- providers ---- */

static void test_provider_override(void **state)
{
	struct mlx_config cfg;

	parse_ok("[provider anthropic]\n"
		 "domains = API.Anthropic.COM, *.Eu.Anthropic.com\n",
		 &cfg);
	assert_int_equal(cfg.nproviders, 12);
	/* Replaced in place, lowercased, order kept. */
	assert_provider(&cfg, 2, "anthropic", "api.anthropic.com", "*.eu.anthropic.com", NULL);
	assert_provider(&cfg, 1, "azure-openai", "*.openai.azure.com", NULL);
	assert_provider(&cfg, 3, "gemini", "generativelanguage.googleapis.com", NULL);
	config_free(&cfg);

	/* A section that changes nothing leaves the built-in as it is. */
	parse_ok("[provider together]\ndisable = no\n[provider cohere]\n", &cfg);
	assert_int_equal(cfg.nproviders, 12);
	assert_provider(&cfg, 9, "together", "api.together.xyz", "api.together.ai", NULL);
	assert_provider(&cfg, 10, "cohere", "api.cohere.com", "api.cohere.ai", NULL);
	config_free(&cfg);
}

static void test_provider_disable_and_add(void **state)
{
	struct mlx_config cfg;

	parse_ok("listen_port = 15002\n"
		 "[provider openai]\n"
		 "disable = yes\n"
		 "[provider corp-gw]\n"
		 "domains = llm.corp.example.com, *.llm.example.net\n"
		 "[provider perplexity]\n"
		 "disable = true\n"
		 "[provider z_2]\n"
		 "disable = no\n"
		 "domains = z.example\n",
		 &cfg);
	assert_int_equal(cfg.listen_port, 15002);
	assert_int_equal(cfg.nproviders, 12);
	assert_provider(&cfg, 0, "azure-openai", "*.openai.azure.com", NULL);
	assert_provider(&cfg, 9, "cohere", "api.cohere.com", "api.cohere.ai", NULL);
	assert_provider(&cfg, 10, "corp-gw", "llm.corp.example.com", "*.llm.example.net", NULL);
	assert_provider(&cfg, 11, "z_2", "z.example", NULL);
	config_free(&cfg);

	/* Everything can be disabled; an empty provider list is a valid (idle) config. */
	parse_ok("[provider openai]\ndisable=yes\n[provider azure-openai]\ndisable=yes\n"
		 "[provider anthropic]\ndisable=yes\n[provider gemini]\ndisable=yes\n"
		 "[provider mistral]\ndisable=yes\n[provider groq]\ndisable=yes\n"
		 "[provider xai]\ndisable=yes\n[provider openrouter]\ndisable=yes\n"
		 "[provider deepseek]\ndisable=yes\n[provider together]\ndisable=yes\n"
		 "[provider cohere]\ndisable=yes\n[provider perplexity]\ndisable=yes\n",
		 &cfg);
	assert_int_equal(cfg.nproviders, 0);
	assert_int_equal(config_provider_for(&cfg, "api.openai.com"), -1);
	config_free(&cfg);
}

/* 12 built-ins plus 1012 new providers reach the cap of 1024; one more is refused. */
static void test_provider_limits(void **state)
{
	size_t cap = 1100 * 48;
	char *text = malloc(cap), *w = text;
	struct mlx_config cfg;
	char want[128];

	assert_non_null(text);
	for (int i = 0; i < 1012; i++)
		w += sprintf(w, "[provider p%d]\ndomains = p%d.example\n", i, i);
	*w = '\0';
	parse_ok(text, &cfg);
	assert_int_equal(cfg.nproviders, 1024);
	assert_provider(&cfg, 1023, "p1011", "p1011.example", NULL);
	assert_int_equal(config_provider_for(&cfg, "p500.example"), 12 + 500);
	config_free(&cfg);
	w += sprintf(w, "[provider last]\ndomains = last.example\n");
	snprintf(want, sizeof(want), "t.conf:%d:11: too many providers (at most 1024)",
		 2 * 1012 + 1);
	expect_error(text, want);

	/* 1024 domains in one provider are fine, 1025 are not. */
	w = text;
	w += sprintf(w, "[provider openai]\ndomains = d0.x");
	for (int i = 1; i < 1024; i++)
		w += sprintf(w, ",d%d.x", i);
	parse_ok(text, &cfg);
	assert_int_equal(cfg.providers[0].ndomains, 1024);
	config_free(&cfg);
	snprintf(want, sizeof(want), "t.conf:2:%zu: too many domains (at most 1024)",
		 (size_t)(w - text) - strlen("[provider openai]\n") + 2);
	w += sprintf(w, ",d1024.x");
	expect_error(text, want);
	free(text);
}

/* ---- matching ---- */

static void test_domain_matches(void **state)
{
	static const struct {
		const char *pattern, *host;
		bool match;
	} cases[] = {
		{ "api.openai.com", "api.openai.com", true },
		{ "api.openai.com", "API.OpenAI.Com", true },
		{ "api.openai.com", "api.openai.com.", true },
		{ "api.openai.com", "api.openai.com..", false },
		{ "api.openai.com", "x.api.openai.com", false },
		{ "api.openai.com", "openai.com", false },
		{ "api.openai.com", "api.openai.co", false },
		{ "api.openai.com", "api.openai.comm", false },
		{ "api.openai.com", "", false },
		{ "api.openai.com", ".", false },
		{ "API.OPENAI.COM", "api.openai.com", true },
		{ "*.x.com", "a.x.com", true },
		{ "*.x.com", "a.b.x.com", true },
		{ "*.x.com", "A.X.COM.", true },
		{ "*.x.com", "x.com", false },
		{ "*.x.com", "x.com.", false },
		{ "*.x.com", "ax.com", false },
		{ "*.x.com", ".x.com", false },
		{ "*.x.com", "a.x.com.evil", false },
		{ "*.x.com", "a.y.com", false },
		{ "*.openai.azure.com", "myres.openai.azure.com", true },
		{ "*.openai.azure.com", "openai.azure.com", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (domain_matches(cases[i].pattern, cases[i].host) != cases[i].match)
			fail_msg("domain_matches(\"%s\", \"%s\") should be %s", cases[i].pattern,
				 cases[i].host, cases[i].match ? "true" : "false");
	assert_false(domain_matches(NULL, "a.com"));
	assert_false(domain_matches("a.com", NULL));
}

static void test_provider_for(void **state)
{
	struct mlx_config cfg;

	config_defaults(&cfg);
	assert_int_equal(config_provider_for(&cfg, "api.openai.com"), 0);
	assert_int_equal(config_provider_for(&cfg, "API.OPENAI.COM."), 0);
	assert_int_equal(config_provider_for(&cfg, "res1.openai.azure.com"), 1);
	assert_int_equal(config_provider_for(&cfg, "openai.azure.com"), -1);
	assert_int_equal(config_provider_for(&cfg, "api.anthropic.com"), 2);
	assert_int_equal(config_provider_for(&cfg, "generativelanguage.googleapis.com"), 3);
	assert_int_equal(config_provider_for(&cfg, "api.together.ai"), 9);
	assert_int_equal(config_provider_for(&cfg, "api.cohere.ai"), 10);
	assert_int_equal(config_provider_for(&cfg, "api.perplexity.ai"), 11);
	assert_int_equal(config_provider_for(&cfg, "example.com"), -1);
	assert_int_equal(config_provider_for(&cfg, ""), -1);
	assert_int_equal(config_provider_for(&cfg, NULL), -1);
	assert_int_equal(config_provider_for(NULL, "api.openai.com"), -1);
	config_free(&cfg);

	/* The most specific pattern wins: exact beats wildcard, longer wildcard beats shorter,
	 * whatever the order of the providers. */
	parse_ok("[provider wide]\ndomains = *.openai.com, *.azure.com\n"
		 "[provider eu]\ndomains = *.eu.openai.azure.com\n",
		 &cfg);
	assert_int_equal(config_provider_for(&cfg, "api.openai.com"), 0);
	assert_int_equal(config_provider_for(&cfg, "files.openai.com"), 12);
	assert_int_equal(config_provider_for(&cfg, "x.eu.openai.azure.com"), 13);
	assert_int_equal(config_provider_for(&cfg, "x.us.openai.azure.com"), 1);
	assert_int_equal(config_provider_for(&cfg, "x.azure.com"), 12);
	config_free(&cfg);

	/* Equal patterns: the provider listed first wins. */
	parse_ok("[provider dup]\ndomains = api.openai.com\n", &cfg);
	assert_int_equal(config_provider_for(&cfg, "api.openai.com"), 0);
	config_free(&cfg);
}

/* ---- loading and ownership ---- */

static void test_load(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct mlx_config cfg;
	char err[512], want[600];
	int fd;

	memset(&cfg, 0x5a, sizeof(cfg));
	assert_false(config_load("/nonexistent/modelux.conf", &cfg, err, sizeof(err)));
	assert_string_equal(err,
			    "/nonexistent/modelux.conf: cannot open: No such file or directory");
	assert_true(is_zero(&cfg, sizeof(cfg)));

	assert_false(config_load("/", &cfg, err, sizeof(err)));
	assert_string_equal(err, "/: cannot read: Is a directory");
	assert_true(is_zero(&cfg, sizeof(cfg)));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "workers = 3\nbad = 1\n", 20), 20);
	close(fd);
	assert_false(config_load(path, &cfg, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2:1: unknown key 'bad'", path);
	assert_string_equal(err, want);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "workers = 3\n", 12), 12);
	close(fd);
	assert_true(config_load(path, &cfg, err, sizeof(err)));
	assert_int_equal(cfg.workers, 3);
	config_free(&cfg);
	unlink(path);
}

static void test_free_and_err_buffer(void **state)
{
	struct mlx_config cfg;
	char err[12];

	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg); /* zeroed */
	config_defaults(&cfg);
	config_free(&cfg);
	assert_true(is_zero(&cfg, sizeof(cfg)));
	config_free(&cfg); /* already freed */
	config_free(NULL);

	/* A short buffer gets a truncated, terminated message; none at all is fine too. */
	assert_false(parse("bogus = 1", &cfg, err, sizeof(err)));
	assert_string_equal(err, "t.conf:1:1:");
	assert_false(parse("bogus = 1", &cfg, NULL, 0));
	assert_false(parse("bogus = 1", &cfg, err, 0));

	/* Success clears a stale message. */
	strcpy(err, "stale");
	assert_true(parse("", &cfg, err, sizeof(err)));
	assert_string_equal(err, "");
	config_free(&cfg);
}

/* ---- allocation failure ---- */

static void test_out_of_memory(void **state)
{
#ifdef HAVE_ASAN
	skip();
#else
	static const char text[] = "workers = 2\n"
				   "target_ports = 443, 8443\n"
				   "[provider openai]\n"
				   "domains = a.example, b.example, c.example, d.example, e.example\n"
				   "[provider groq]\n"
				   "disable = yes\n"
				   "[provider new]\n"
				   "domains = *.new.example\n";
	long budget;

	for (budget = 0;; budget++) {
		struct mlx_config cfg;
		char err[256];
		bool ok;

		alloc_live = 0;
		alloc_budget = budget;
		alloc_armed = true;
		ok = parse(text, &cfg, err, sizeof(err));
		if (ok)
			config_free(&cfg);
		alloc_armed = false;
		if (alloc_live != 0)
			fail_msg("%ld blocks leaked with %ld allocations allowed", alloc_live, budget);
		if (ok)
			break;
		assert_string_equal(err, "t.conf: out of memory");
		assert_true(is_zero(&cfg, sizeof(cfg)));
	}
	/* Defaults alone take 12 lists and 15 names; the file adds more. */
	assert_true(budget > 30);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_and_comments_equal_defaults),
		cmocka_unit_test(test_sample_file_equals_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_value_forms),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_workers_hash_is_value),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_tag_lists),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_provider_override),
		cmocka_unit_test(test_provider_disable_and_add),
		cmocka_unit_test(test_provider_limits),
		cmocka_unit_test(test_domain_matches),
		cmocka_unit_test(test_provider_for),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_free_and_err_buffer),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
