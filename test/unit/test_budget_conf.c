/* test_budget_conf: the budgets file through the public API: the shipped example, defaults,
 * exact decimal caps, and every error with its file:line:col and JSON path (positions are
 * checked against where the offending text really is). Run from the repository root. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"

#define EXAMPLE "etc/budgets.example.json"

static struct budget_conf *parse_ok(const char *text)
{
	struct budget_conf *c = NULL;
	char err[512];

	if (!budget_conf_parse(text, strlen(text), "t.json", NULL, &c, err, sizeof(err)))
		fail_msg("unexpected error: %s", err);
	return c;
}

/* "t.json:LINE:COL: " where the <nth> (1-based) occurrence of <marker> starts. */
static void where(const char *text, const char *marker, int nth, char *out, size_t size)
{
	const char *p = text;

	for (int i = 0; i < nth; i++) {
		p = strstr(i ? p + 1 : p, marker);
		assert_non_null(p);
	}
	int line = 1, col = 1;

	for (const char *q = text; q < p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*q & 0xC0) != 0x80) {
			col++;
		}
	}
	snprintf(out, size, "t.json:%d:%d: ", line, col);
}

/* The error must start with the position of <marker> and continue with <msg>. */
static void expect_err_at(const char *text, const char *marker, int nth, const char *msg)
{
	struct budget_conf *c = (struct budget_conf *)1;
	char err[512], want[512];

	where(text, marker, nth, want, sizeof(want));
	strncat(want, msg, sizeof(want) - strlen(want) - 1);
	if (budget_conf_parse(text, strlen(text), "t.json", NULL, &c, err, sizeof(err)))
		fail_msg("accepted; wanted: %s", want);
	assert_null(c);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got:  %s\nwant: %s...", err, want);
}

static void test_example_file(void **state)
{
	struct budget_conf *c = NULL;
	char err[512];

	if (!budget_conf_load(EXAMPLE, NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(budget_tz_name(c->tz), "Europe/Paris");
	assert_int_equal(c->ndefs, 6);
	assert_string_equal(c->defs[0].name, "host-daily");
	assert_int_equal(c->defs[0].scope, BUDGET_SCOPE_HOST);
	assert_true(c->defs[0].wildcard);
	assert_int_equal(c->defs[0].cap_micro, 200000000);
	assert_string_equal(c->defs[1].match, "support");
	assert_false(c->defs[1].wildcard);
	assert_int_equal(c->defs[1].window, BUDGET_WINDOW_MONTHLY);
	assert_int_equal(c->defs[1].cap_micro, 1500000000);
	assert_true(c->defs[1].soft_pct == 0.9);
	assert_int_equal(c->defs[2].window, BUDGET_WINDOW_WEEKLY);
	assert_int_equal(c->defs[2].cap_micro, 250500000);
	assert_true(c->defs[2].soft_pct == 0.8); /* default */
	assert_int_equal(c->defs[4].scope, BUDGET_SCOPE_USER);
	assert_int_equal(c->defs[4].cap_micro, 5000000);
	budget_conf_free(c);
}

static void test_defaults(void **state)
{
	struct budget_conf *c = parse_ok("{\"budgets\": []}");

	assert_string_equal(budget_tz_name(c->tz), "UTC");
	assert_int_equal(c->ndefs, 0);
	budget_conf_free(c);
	/* escaped keys are the same keys */
	c = parse_ok("{\"bud\\u0067ets\": [{\"name\": \"a\", \"scope\": \"key\", \"match\": \"*\","
		     " \"window\": \"daily\", \"cap_usd\": 0}]}");
	assert_int_equal(c->ndefs, 1);
	assert_int_equal(c->defs[0].cap_micro, 0);
	budget_conf_free(c);
}

static int64_t cap_of(const char *num)
{
	char text[256];
	struct budget_conf *c;
	int64_t v;

	snprintf(text, sizeof(text), "{\"budgets\": [{\"name\": \"a\", \"scope\": \"team\", "
		 "\"match\": \"x\", \"window\": \"daily\", \"cap_usd\": %s}]}", num);
	c = parse_ok(text);
	v = c->defs[0].cap_micro;
	budget_conf_free(c);
	return v;
}

/* Caps are read from the number's text, not through a double: 0.1 is exactly 100000. */
static void test_exact_decimals(void **state)
{
	assert_int_equal(cap_of("0.1"), 100000);
	assert_int_equal(cap_of("12.345678"), 12345678);
	assert_int_equal(cap_of("0.000001"), 1);
	assert_int_equal(cap_of("1e3"), 1000000000);
	assert_int_equal(cap_of("1.5E2"), 150000000);
	assert_int_equal(cap_of("2500e-6"), 2500);
	assert_int_equal(cap_of("0.10000000000"), 100000);
	assert_int_equal(cap_of("1000000000"), 1000000000000000LL);
	assert_int_equal(cap_of("-0"), 0);
	assert_int_equal(cap_of("999999999.999999"), 999999999999999LL);
}

static void test_cap_errors(void **state)
{
	static const struct {
		const char *num, *why;
	} bad[] = {
		{ "0.0000001", "cap_usd has more than 6 decimal places" },
		{ "1.5e-6", "cap_usd has more than 6 decimal places" },
		{ "1000000000.000001", "cap_usd is too large" },
		{ "1e10", "cap_usd is too large" },
		{ "1234567890123456789012345678901234567890.5", "cap_usd too many significant" },
		{ "-5", "cap_usd must not be negative" },
		{ "\"12\"", "cap_usd must be a number" },
		{ "true", "cap_usd must be a number" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], msg[128];

		snprintf(text, sizeof(text),
			 "{\"budgets\": [\n  {\"name\": \"a\", \"scope\": \"team\", \"match\": \"x\","
			 " \"window\": \"daily\",\n   \"cap_usd\": %s}]}", bad[i].num);
		snprintf(msg, sizeof(msg), "$.budgets[0].cap_usd: %s", bad[i].why);
		expect_err_at(text, bad[i].num, 1, msg);
	}
}

static const char two[] =
	"{\n"
	"  \"time_zone\": \"Europe/Paris\",\n"
	"  \"budgets\": [\n"
	"    { \"name\": \"a\", \"scope\": \"team\", \"match\": \"x\", \"window\": \"daily\", "
	"\"cap_usd\": 1 },\n"
	"    { \"name\": \"b\", \"scope\": \"org\", \"match\": \"x\", \"window\": \"daily\", "
	"\"cap_usd\": 1 }\n"
	"  ]\n"
	"}\n";

static void test_error_exact_text(void **state)
{
	struct budget_conf *c;
	char err[512];

	assert_false(budget_conf_parse(two, strlen(two), "t.json", NULL, &c, err, sizeof(err)));
	assert_string_equal(err, "t.json:5:29: $.budgets[1].scope: unknown scope \"org\" "
			    "(project, team, key, user or host)");
}

#define BUDGET_A "{\"name\": \"a\", \"scope\": \"team\", \"match\": \"x\", \"window\": \"daily\", " \
		 "\"cap_usd\": 1}"

static void test_error_positions(void **state)
{
	/* syntax, from jansson: where it stopped, the last character of the bad token */
	expect_err_at("{\n  \"budgets\": [\n    {\"name\": tru}\n  ]\n}", "u}", 1,
		      "invalid token near 'tru'");
	expect_err_at("{\"budgets\": [], \"budgets\": []}", "\": []}", 1,
		      "duplicate object key");
	/* structure */
	expect_err_at("[]", "[", 1, "$: the file must hold an object, not an array");
	expect_err_at("  {}", "{", 1, "$: missing \"budgets\"");
	expect_err_at("{\"budgets\": {}}", "{}", 1, "$.budgets: budgets must be an array");
	expect_err_at("{\"budgets\": [],\n \"budgetz\": 1}", "\"budgetz\"", 1,
		      "$.budgetz: unknown key \"budgetz\"");
	expect_err_at("{\"budgets\": [], \"b\\u00e9\": 1}", "\"b\\u00e9\"", 1,
		      "$[\"b\xc3\xa9\"]: unknown key \"b\xc3\xa9\"");
	expect_err_at("{\"budgets\": [" BUDGET_A ", 7]}", "7]", 1,
		      "$.budgets[1]: a budget must be an object, not a number");
	/* members */
	expect_err_at("{\"budgets\": [" BUDGET_A ",\n {\"name\": \"b\", \"capusd\": 1}]}",
		      "\"capusd\"", 1, "$.budgets[1].capusd: unknown key \"capusd\"");
	expect_err_at("{\"budgets\": [\n  {\"name\": \"b\", \"scope\": \"team\"}]}", "{\"name\"", 1,
		      "$.budgets[0]: missing \"match\"");
	expect_err_at("{\"budgets\": [" BUDGET_A ", " BUDGET_A "]}", "\"a\"", 2,
		      "$.budgets[1].name: duplicate budget name \"a\" (first at $.budgets[0])");
	expect_err_at("{\"budgets\": [{\"name\": \"a b\", \"scope\": \"team\", \"match\": \"x\","
		      " \"window\": \"daily\", \"cap_usd\": 1}]}", "\"a b\"", 1,
		      "$.budgets[0].name: name must be");
	expect_err_at("{\"budgets\": [{\"name\": 5, \"scope\": \"team\", \"match\": \"x\","
		      " \"window\": \"daily\", \"cap_usd\": 1}]}", "5", 1,
		      "$.budgets[0].name: name must be a string, not a number");
	expect_err_at("{\"budgets\": [{\"name\": \"a\", \"scope\": \"team\", \"match\": \"\","
		      " \"window\": \"daily\", \"cap_usd\": 1}]}", "\"\"", 1,
		      "$.budgets[0].match: match must be");
	expect_err_at("{\"budgets\": [{\"name\": \"a\", \"scope\": \"team\", \"match\": \"x\","
		      " \"window\": \"yearly\", \"cap_usd\": 1}]}", "\"yearly\"", 1,
		      "$.budgets[0].window: unknown window \"yearly\" (daily, weekly or monthly)");
	expect_err_at("{\"budgets\": [{\"name\": \"a\", \"scope\": \"team\", \"match\": \"x\","
		      " \"window\": \"daily\", \"cap_usd\": 1, \"soft_pct\": 80}]}", "80", 1,
		      "$.budgets[0].soft_pct: soft_pct must be a fraction in (0, 1]");
	expect_err_at("{\"budgets\": [{\"name\": \"a\", \"scope\": \"team\", \"match\": \"x\","
		      " \"window\": \"daily\", \"cap_usd\": 1, \"soft_pct\": 0}]}", "0}", 1,
		      "$.budgets[0].soft_pct: soft_pct must be a fraction");
	/* time zone */
	expect_err_at("{\n\t\"time_zone\": \"Europe/Atlantis\", \"budgets\": []}", "\"Europe/At", 1,
		      "$.time_zone: unknown time zone Europe/Atlantis");
	expect_err_at("{\"time_zone\": \"../../etc/passwd\", \"budgets\": []}", "\"../", 1,
		      "$.time_zone: time zone name must be an IANA name");
	/* columns count characters: the two-byte é is one column */
	expect_err_at("{\"description\": \"caf\xc3\xa9\", \"budgets\": 3}", "3}", 1,
		      "$.budgets: budgets must be an array");
}

/* More than BUDGET_MAX_APPLY budgets could apply to one request: refused at load. */
static void test_apply_bound(void **state)
{
	char text[8192];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"budgets\": [\n");
	for (int i = 0; i <= BUDGET_MAX_APPLY; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{\"name\": \"u%d\", \"scope\": \"user\", \"match\": \"*\","
				      " \"window\": \"daily\", \"cap_usd\": 1}",
				      i ? ",\n" : "", i);
	snprintf(text + n, sizeof(text) - n, "]}");
	expect_err_at(text, "{\"name\": \"u16\"", 1,
		      "$.budgets[16]: up to 17 budgets could apply to one request (at most 16)");

	/* exact budgets on different values never apply together: 40 of them are fine */
	n = (size_t)snprintf(text, sizeof(text), "{\"budgets\": [\n");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{\"name\": \"p%d\", \"scope\": \"project\", \"match\": "
				      "\"p%d\", \"window\": \"daily\", \"cap_usd\": 1}",
				      i ? ",\n" : "", i, i);
	snprintf(text + n, sizeof(text) - n, "]}");
	budget_conf_free(parse_ok(text));
}

static void test_load_errors(void **state)
{
	struct budget_conf *c;
	char err[512];

	assert_false(budget_conf_load("/nonexistent/budgets.json", NULL, &c, err, sizeof(err)));
	assert_null(c);
	assert_string_equal(err, "/nonexistent/budgets.json: cannot open: No such file or directory");
	/* a custom zoneinfo directory is used for the zone */
	const char *t = "{\"time_zone\": \"Europe/Paris\", \"budgets\": []}";

	assert_false(budget_conf_parse(t, strlen(t), "t.json", "/nonexistent", &c, err,
				       sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/Europe/Paris"));
	assert_false(budget_conf_parse("", 0, "t.json", NULL, &c, err, sizeof(err)));
	assert_int_equal(strncmp(err, "t.json:1:1: ", 12), 0);
}

static void test_names(void **state)
{
	assert_string_equal(budget_scope_name(BUDGET_SCOPE_KEY), "key");
	assert_string_equal(budget_window_name(BUDGET_WINDOW_WEEKLY), "weekly");
	char buf[32];

	budget_usd_format(12500000, buf, sizeof(buf));
	assert_string_equal(buf, "12.50");
	budget_usd_format(1, buf, sizeof(buf));
	assert_string_equal(buf, "0.000001");
	budget_usd_format(-2340000, buf, sizeof(buf));
	assert_string_equal(buf, "-2.34");
	budget_usd_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0.00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_exact_decimals),
		cmocka_unit_test(test_cap_errors),
		cmocka_unit_test(test_error_exact_text),
		cmocka_unit_test(test_error_positions),
		cmocka_unit_test(test_apply_bound),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
