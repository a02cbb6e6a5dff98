/* test_policy_load: compiling policies through the public API — the shipped examples, the
 * top-level shape, rules and the else rule, identifiers, type errors, groups — and above all the
 * exact message of every error with its line and column (inside the condition, through JSON
 * escapes and multi-byte characters). Also JSON syntax errors, files, and allocation failures.
 * Run from the repository root (it reads policy/examples/). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#ifndef HAVE_ASAN
/* Allocation failure injection (as in test_config): while armed, allocations fail once
 * <alloc_budget> have succeeded, and live blocks are counted so leaks show. */
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

/* Groups every test policy below can use; rules start on line 4, conditions at column 9. */
#define HEAD                                                                                       \
	"{\"strategy\": \"custom_rules\",\n"                                                       \
	"\"groups\": {\"@a\": {}, \"@cheap\": {\"models\": [\"gpt-4o-mini\"]}},\n"                 \
	"\"rules\": [\n"
#define TAIL "{\"else\": \"@a\"}]}\n"

static struct policy *load(const char *text, char *err, size_t errlen)
{
	return policy_load_buf("t.json", text, strlen(text), err, errlen);
}

static void expect_ok(const char *text)
{
	char err[512];
	struct policy *p = load(text, err, sizeof(err));

	if (!p)
		fail_msg("refused: %s\n--- policy ---\n%s", err, text);
	policy_free(p);
}

static void expect_error(const char *text, const char *want)
{
	char err[512];
	struct policy *p = load(text, err, sizeof(err));

	if (p) {
		policy_free(p);
		fail_msg("accepted, expected \"%s\"\n--- policy ---\n%s", want, text);
	}
	assert_string_equal(err, want);
}

/* A policy whose first rule is {"if": "<cond>", "then": "@a"} on line 4: the condition's first
 * character is at column 9. <cond> is raw JSON string content (escapes as written). */
static void expect_cond_error(const char *cond, const char *want)
{
	char text[8192];

	snprintf(text, sizeof(text), HEAD "{\"if\": \"%s\", \"then\": \"@a\"},\n" TAIL, cond);
	expect_error(text, want);
}

static void expect_cond_ok(const char *cond)
{
	char text[8192];

	snprintf(text, sizeof(text), HEAD "{\"if\": \"%s\", \"then\": \"@a\"},\n" TAIL, cond);
	expect_ok(text);
}

/* ---- the shipped examples ---- */

static void test_examples_load(void **state)
{
	static const char *const files[] = {"policy/examples/readme.json",
					    "policy/examples/company.json"};
	char err[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct policy *p = policy_load_file(files[i], err, sizeof(err));

		if (!p)
			fail_msg("%s: %s", files[i], err);
		assert_true(policy_rule_count(p) >= 4);
		assert_string_equal(policy_rule_text(p, (int)policy_rule_count(p) - 1), "else");
		policy_free(p);
	}
}

static void test_company_has_ten_rules(void **state)
{
	char err[512];
	struct policy *p = policy_load_file("policy/examples/company.json", err, sizeof(err));

	assert_non_null(p);
	assert_true(policy_rule_count(p) >= 10);
	assert_string_equal(policy_rule_text(p, 0), "tags.sensitivity in ['pii', 'secret']");
	assert_null(policy_rule_text(p, -1));
	assert_null(policy_rule_text(p, (int)policy_rule_count(p)));
	policy_free(p);
}

/* ---- top level ---- */

static void test_top_level(void **state)
{
	expect_error("[1]", "t.json:1:1: a policy is a JSON object: {\"strategy\": "
			    "\"custom_rules\", \"groups\": {...}, \"rules\": [...]}");
	expect_error("{\"groups\": {}, \"rules\": []}",
		     "t.json:1:1: missing \"strategy\": \"custom_rules\" (the only strategy "
		     "supported)");
	expect_error("{\"strategy\": \"round_robin\"}",
		     "t.json:1:15: strategy: unknown strategy \"round_robin\" (supported: "
		     "custom_rules)");
	expect_error("{\"strategy\": 1}", "t.json:1:14: strategy: expected \"custom_rules\" (the "
					  "only strategy supported), found a number");
	expect_error("{\"strategy\": \"custom_rules\"}",
		     "t.json:1:1: missing \"rules\": [ {\"if\": ..., \"then\": ...}, ..., "
		     "{\"else\": ...} ]");
	expect_error("{\"strategy\": \"custom_rules\",\n \"rule\": []}",
		     "t.json:2:3: unknown field \"rule\" (did you mean \"rules\"?)");
	expect_error("{\"strategy\": \"custom_rules\",\n \"version\": 2}",
		     "t.json:2:3: unknown field \"version\" (fields: strategy, groups, rules, "
		     "description)");
	expect_error("{\"strategy\": \"custom_rules\", \"description\": 1}",
		     "t.json:1:45: description: expected a string, found a number");
	expect_error("{\"strategy\": \"custom_rules\", \"rules\": {}}",
		     "t.json:1:39: rules: expected a list of rules, found an object");
	expect_error("{\"strategy\": \"custom_rules\", \"rules\": []}",
		     "t.json:1:39: rules: no rules: at least {\"else\": \"@group\"} is needed");
	expect_error("{\"strategy\": \"custom_rules\", \"groups\": [], \"rules\": []}",
		     "t.json:1:40: groups: expected an object of \"@name\": { ... }, found an "
		     "array");
}

/* ---- rules and the else rule ---- */

static void test_else_rule(void **state)
{
	expect_ok(HEAD TAIL);
	/* No else. */
	expect_error(HEAD "{\"if\": \"true\", \"then\": \"@a\"}]}",
		     "t.json:4:1: rules[0]: the last rule must be {\"else\": \"@group\"}: it "
		     "decides when no rule matches");
	/* Else not last. */
	expect_error(HEAD "{\"else\": \"@a\"},\n  {\"if\": \"true\", \"then\": \"@a\"}]}",
		     "t.json:5:3: rules[1]: never applies: it follows the else rule (rules[0]), "
		     "which must be last");
	/* Two elses: the second follows the first. */
	expect_error(HEAD "{\"else\": \"@a\"},\n" TAIL,
		     "t.json:5:1: rules[1]: never applies: it follows the else rule (rules[0]), "
		     "which must be last");
	expect_error(HEAD "{\"else\": \"@a\", \"if\": \"true\"}]}",
		     "t.json:4:17: rules[0]: the else rule has no \"if\" or \"then\": it is "
		     "{\"else\": \"@group\"}");
	expect_error(HEAD "{\"else\": \"@nope\"}]}",
		     "t.json:4:11: rules[0].else: unknown group \"@nope\" (not in \"groups\")");
}

static void test_rule_shape(void **state)
{
	expect_error(HEAD "\"true\",\n" TAIL,
		     "t.json:4:1: rules[0]: expected a rule object like {\"if\": \"...\", "
		     "\"then\": \"@group\"}, found a string");
	expect_error(HEAD "{\"if\": \"true\"},\n" TAIL,
		     "t.json:4:1: rules[0]: missing \"then\": \"@group\"");
	expect_error(HEAD "{\"then\": \"@a\"},\n" TAIL,
		     "t.json:4:1: rules[0]: missing \"if\": \"<condition>\" (or write the last "
		     "rule as {\"else\": \"@group\"})");
	expect_error(HEAD "{},\n" TAIL, "t.json:4:1: rules[0]: expected {\"if\": \"<condition>\", "
					"\"then\": \"@group\"} or {\"else\": \"@group\"}");
	expect_error(HEAD "{\"if\": \"true\", \"than\": \"@a\"},\n" TAIL,
		     "t.json:4:17: rules[0]: unknown field \"than\" (did you mean \"then\"?)");
	expect_error(HEAD "{\"if\": true, \"then\": \"@a\"},\n" TAIL,
		     "t.json:4:8: rules[0].if: expected a condition in a string, found a boolean");
	expect_ok(HEAD "{\"if\": \"true\", \"then\": \"@a\", \"description\": \"x\"},\n" TAIL);
}

static void test_group_references(void **state)
{
	expect_error(HEAD "{\"if\": \"true\", \"then\": \"@chaep\"},\n" TAIL,
		     "t.json:4:25: rules[0].then: unknown group \"@chaep\" (did you mean @cheap?)");
	expect_error(HEAD "{\"if\": \"true\", \"then\": \"cheap\"},\n" TAIL,
		     "t.json:4:25: rules[0].then: group names start with '@' (did you mean "
		     "@cheap?)");
	expect_error(HEAD "{\"if\": \"true\", \"then\": 3},\n" TAIL,
		     "t.json:4:24: rules[0].then: expected a group name like \"@cheap\", found a "
		     "number");
	expect_error("{\"strategy\": \"custom_rules\", \"rules\": [{\"else\": \"@x\"}]}",
		     "t.json:1:50: rules[0].else: unknown group \"@x\" (the policy defines no "
		     "\"groups\")");
}

/* ---- conditions: identifiers, syntax, positions ---- */

static void test_unknown_identifiers(void **state)
{
	expect_cond_error("request.modle == 'x'",
			  "t.json:4:9: rules[0].if: unknown identifier 'request.modle' (did you "
			  "mean request.model?)");
	expect_cond_error("true && budget.usedpct > 1",
			  "t.json:4:17: rules[0].if: unknown identifier 'budget.usedpct' (did you "
			  "mean budget.used_pct?)");
	expect_cond_error("tag.team == 'x'", "t.json:4:9: rules[0].if: unknown identifier "
					     "'tag.team' (did you mean tags.team?)");
	expect_cond_error("request.foo", "t.json:4:9: rules[0].if: unknown identifier "
					 "'request.foo' (request has: provider, model, endpoint, "
					 "stream, max_tokens)");
	expect_cond_error("user.name == 'x'",
			  "t.json:4:9: rules[0].if: unknown identifier 'user.name' (names are "
			  "tags.<name>, budget.*, request.*, process.*, key.*, time.*)");
	expect_cond_error("tags.team == support", "t.json:4:22: rules[0].if: unknown identifier "
						  "'support' (a string needs quotes: 'support')");
	expect_cond_error("True", "t.json:4:9: rules[0].if: unknown identifier 'True' (did you "
				  "mean true?)");
	expect_cond_error("key.shadow and true",
			  "t.json:4:20: rules[0].if: 'and' is not an operator: use &&");
	expect_cond_error("tags == 'x'", "t.json:4:9: rules[0].if: tags needs a name: tags.<name> "
					 "or tags['<name>']");
	expect_cond_ok("tags['cost center'] == 'x' && tags.cost-center == 'y'");
	expect_cond_ok("tags.a.b == 'dotted names are one tag'");
}

static void test_syntax_errors(void **state)
{
	expect_cond_error("", "t.json:4:9: rules[0].if: empty condition");
	expect_cond_error("   ", "t.json:4:9: rules[0].if: empty condition");
	expect_cond_error("tags.a = 'x'", "t.json:4:16: rules[0].if: '=' is not an operator: use "
					  "'==' to compare");
	expect_cond_error("(tags.a == 'x'", "t.json:4:23: rules[0].if: expected ')' to close the "
					    "'(' at line 4, column 9, found end of condition");
	expect_cond_error("tags.a == 'x')", "t.json:4:22: rules[0].if: expected &&, || or the end "
					    "of the condition, found ')'");
	expect_cond_error("tags.a == 'x' tags.b", "t.json:4:23: rules[0].if: expected &&, || or "
						  "the end of the condition, found a name");
	expect_cond_error("tags.a ==", "t.json:4:18: rules[0].if: unexpected end of condition, "
				       "expected a value");
	expect_cond_error("&& true", "t.json:4:9: rules[0].if: expected a value, found '&&'");
	expect_cond_error("time.hour < 3 < 4", "t.json:4:23: rules[0].if: comparisons cannot be "
					       "chained: use && or parentheses");
	expect_cond_error("tags.a == 'x", "t.json:4:19: rules[0].if: unterminated string "
					  "(missing closing ')");
	expect_cond_error("tags.a in ['x',]", "t.json:4:24: rules[0].if: expected a string or "
					      "number after ','");
	expect_cond_error("tags.a in ['x' 'y']", "t.json:4:24: rules[0].if: expected ',' or ']' in "
						 "the list, found a string");
	expect_cond_error("tags.a in [tags.b]", "t.json:4:20: rules[0].if: list items must be "
						"strings or numbers");
	expect_cond_error("tags.a in ['x', 1]", "t.json:4:25: rules[0].if: list mixes strings and "
						"numbers");
	expect_cond_error("tags.a in ['x'", "t.json:4:23: rules[0].if: expected ',' or ']' in the "
					    "list, found end of condition");
}

/* Columns count characters of the JSON line, through escapes in the JSON string and in the
 * condition's own string literals. */
static void test_positions_through_escapes(void **state)
{
	/* JSON \" is two source characters for one condition character. */
	expect_cond_error("tags.x == \\\"a\\\" && request.strem",
			  "t.json:4:28: rules[0].if: unknown identifier 'request.strem' (did you "
			  "mean request.stream?)");
	/* A \u escape (six source characters) inside a condition string literal. */
	expect_cond_error("tags.x == '\\u00e9' && budget.x > 1",
			  "t.json:4:31: rules[0].if: unknown identifier 'budget.x' (budget has: "
			  "used_pct, remaining_usd)");
	/* A two-byte UTF-8 character counts as one column. */
	expect_cond_error("tags.x == '\xc3\xa9\xc3\xa9' && nope",
			  "t.json:4:27: rules[0].if: unknown identifier 'nope' (a string needs "
			  "quotes: 'nope')");
	/* A condition on its own line, further right. */
	expect_error(HEAD
		     "{\"then\": \"@a\",\n      \"if\": \"key.shadow || request.modle\"},\n" TAIL,
		     "t.json:5:28: rules[0].if: unknown identifier 'request.modle' (did you mean "
		     "request.model?)");
}

static void test_type_errors(void **state)
{
	expect_cond_error("request.stream > 3", "t.json:4:9: rules[0].if: ordering compares "
						"numbers, but request.stream is a boolean");
	expect_cond_error("budget.used_pct == 'x'",
			  "t.json:4:28: rules[0].if: cannot compare: budget.used_pct is a number "
			  "but 'x' is a string");
	expect_cond_error("request.model == 4", "t.json:4:26: rules[0].if: cannot compare: "
						"request.model is a string but 4 is a number");
	expect_cond_error("key.shadow == 'yes'", "t.json:4:23: rules[0].if: cannot compare: "
						 "key.shadow is a boolean but 'yes' is a string");
	expect_cond_error("request.stream == null", "t.json:4:9: rules[0].if: request.stream is "
						    "a boolean and is never null");
	expect_cond_error("time.hour > null", "t.json:4:21: rules[0].if: null cannot be ordered "
					      "(use == null or != null)");
	expect_cond_error("request.model < 'm'", "t.json:4:9: rules[0].if: ordering compares "
						 "numbers, but request.model is a string");
	expect_cond_error("tags.team",
			  "t.json:4:9: rules[0].if: a condition must be true or "
			  "false, but tags.team is a tag (a string) (compare it, e.g. == "
			  "'x')");
	expect_cond_error("time.hour",
			  "t.json:4:9: rules[0].if: a condition must be true or "
			  "false, but time.hour is a number (compare it, e.g. == 'x')");
	expect_cond_error("!tags.a == 'x'",
			  "t.json:4:10: rules[0].if: '!' needs a boolean, but "
			  "tags.a is a tag (a string) (to negate a comparison, use "
			  "parentheses: !(a == b), or a != b)");
	expect_cond_error("key.shadow && tags.a", "t.json:4:23: rules[0].if: '&&' needs booleans, "
						  "but tags.a is a tag (a string)");
	expect_cond_error("1 || key.shadow", "t.json:4:9: rules[0].if: '||' needs booleans, but 1 "
					     "is a number");
	expect_cond_error("request.model in 'x'", "t.json:4:26: rules[0].if: 'in' needs a list "
						  "literal, e.g. ['a', 'b']");
	expect_cond_error("request.model in [1, 2]", "t.json:4:27: rules[0].if: the list holds "
						     "numbers but request.model is a string");
	expect_cond_error("key.shadow in [1]", "t.json:4:9: rules[0].if: 'in' looks up strings or "
					       "numbers, but key.shadow is a boolean");
	expect_cond_error("tags.a == ['x']", "t.json:4:19: rules[0].if: a list can only follow "
					     "'in'");
	expect_cond_error("time.weekday == 'funday'",
			  "t.json:4:25: rules[0].if: 'funday' is not a day (use 0..6 with 0 = "
			  "Sunday, or sun, mon, tue, wed, thu, fri, sat)");
	expect_cond_error("time.weekday in ['sat', 'sunny']",
			  "t.json:4:33: rules[0].if: 'sunny' is not a day (use 0..6 with 0 = "
			  "Sunday, or sun, mon, tue, wed, thu, fri, sat)");
	/* What is allowed. */
	expect_cond_ok("tags.tier >= 2 && tags.a == 'x' && tags.a != tags.b && tags.n in [1, 2]");
	expect_cond_ok("request.max_tokens == null || request.max_tokens > 4000");
	expect_cond_ok("tags.team != null && null == null");
	expect_cond_ok("time.weekday in ['sat', 'Sunday'] || time.weekday == 1 || "
		       "'fri' == time.weekday");
	expect_cond_ok("!request.stream == false && !!key.shadow");
	expect_cond_ok("request.model in []");
}

static void test_limits(void **state)
{
	char cond[4200], text[5000];
	size_t n = 0;

	/* 33 nested parentheses are too deep; 32 are fine. */
	for (int i = 0; i < 32; i++)
		cond[n++] = '(';
	memcpy(cond + n, "true", 4);
	n += 4;
	for (int i = 0; i < 32; i++)
		cond[n++] = ')';
	cond[n] = '\0';
	expect_cond_ok(cond);
	snprintf(text, sizeof(text), "(%s)", cond);
	expect_cond_error(text, "t.json:4:41: rules[0].if: nested too deeply");
	/* A long chain of || is one node, not a deep tree. */
	n = 0;
	for (int i = 0; i < 500; i++)
		n += (size_t)sprintf(cond + n, "%sfalse", i ? "||" : "");
	expect_cond_ok(cond);
	/* Over 4096 bytes. */
	memset(cond, ' ', 4097);
	memcpy(cond + 4093, "true", 4);
	cond[4097] = '\0';
	expect_cond_error(cond, "t.json:4:8: rules[0].if: condition too long (more than 4096 "
				"bytes)");
}

/* ---- groups ---- */

static void expect_group_error(const char *group, const char *want)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "{\"strategy\": \"custom_rules\",\n\"groups\": {\n%s\n},\n\"rules\": [{\"else\": "
		 "\"@g\"}]}",
		 group);
	expect_error(text, want);
}

static void test_group_errors(void **state)
{
	expect_group_error("\"g\": {}", "t.json:3:2: groups: a group name starts with '@', e.g. "
					"\"@cheap\"");
	expect_group_error("\"@g h\": {}", "t.json:3:4: groups: a group name has letters, digits, "
					   "'-', '_' and '.' after the '@'");
	expect_group_error("\"@g\": []", "t.json:3:7: groups.@g: expected an object describing "
					 "the group, found an array");
	expect_group_error("\"@g\": {\"model\": []}", "t.json:3:9: groups.@g: unknown field "
						      "\"model\" (did you mean models?) (fields: "
						      "models, providers, downgrade, block, "
						      "require_sanctioned_key, description)");
	expect_group_error("\"@g\": {\"models\": \"gpt-4o\"}",
			   "t.json:3:18: groups.@g.models: expected a list of names, e.g. "
			   "[\"gpt-4o-mini\"], found a string");
	expect_group_error("\"@g\": {\"models\": []}",
			   "t.json:3:18: groups.@g.models: an empty list allows nothing: leave "
			   "models out to allow any, or use \"block\"");
	expect_group_error(
	    "\"@g\": {\"providers\": [\"openai\", 3]}",
	    "t.json:3:32: groups.@g.providers[1]: expected a string, found a number");
	expect_group_error("\"@g\": {\"models\": [\"gpt*4o\"]}",
			   "t.json:3:23: groups.@g.models[0]: '*' is allowed only at the start or "
			   "the end of a name");
	expect_group_error("\"@g\": {\"models\": [\"gpt 4o\"]}",
			   "t.json:3:23: groups.@g.models[0]: names contain no spaces or control "
			   "characters");
	expect_group_error("\"@g\": {\"models\": [\"\"]}",
			   "t.json:3:19: groups.@g.models[0]: empty name");
	expect_group_error(
	    "\"@g\": {\"models\": [\"**\"]}",
	    "t.json:3:21: groups.@g.models[0]: '**' matches nothing useful: use '*'");
	expect_group_error("\"@g\": {\"block\": \"\"}",
			   "t.json:3:17: groups.@g.block: expected the reason for blocking (a "
			   "non-empty string)");
	expect_group_error("\"@g\": {\"block\": \"no\\nway\"}",
			   "t.json:3:20: groups.@g.block: the reason must be one line without "
			   "control characters");
	expect_group_error("\"@g\": {\"block\": \"no\", \"models\": [\"a\"]}",
			   "t.json:3:9: groups.@g.block: a blocking group allows nothing: drop "
			   "\"block\" or the other fields (models, providers, downgrade, "
			   "require_sanctioned_key)");
	expect_group_error("\"@g\": {\"require_sanctioned_key\": \"yes\"}",
			   "t.json:3:34: groups.@g.require_sanctioned_key: expected true or false, "
			   "found a string");
}

static void test_downgrade_errors(void **state)
{
	expect_group_error("\"@g\": {\"downgrade\": {\"a\": \"b\"}}",
			   "t.json:3:9: groups.@g.downgrade: downgrade needs \"models\": without a "
			   "model list every model is allowed and nothing is ever downgraded");
	expect_group_error(
	    "\"@g\": {\"models\": [\"a\"], \"downgrade\": {\"b\": \"c\"}}",
	    "t.json:3:45: groups.@g.downgrade.b: downgrade target 'c' is not allowed "
	    "by @g's models (a)");
	expect_group_error("\"@g\": {\"models\": [\"a*\"], \"downgrade\": {\"ab\": \"a\"}}",
			   "t.json:3:41: groups.@g.downgrade.ab: never applies: @g already allows "
			   "it (by \"a*\")");
	expect_group_error("\"@g\": {\"models\": [\"gpt-*\"], \"downgrade\": {\"gpt-4*\": "
			   "\"gpt-4o-mini\"}}",
			   "t.json:3:44: groups.@g.downgrade.gpt-4*: never applies: @g already "
			   "allows it (by \"gpt-*\")");
	expect_group_error("\"@g\": {\"models\": [\"a\"], \"downgrade\": {\"b\": \"a*\"}}",
			   "t.json:3:46: groups.@g.downgrade.b: a target model is a name, not a "
			   "pattern");
	expect_group_error("\"@g\": {\"models\": [\"a\"], \"downgrade\": [\"b\"]}",
			   "t.json:3:38: groups.@g.downgrade: expected an object of model -> "
			   "cheaper model, e.g. {\"gpt-4o\": \"gpt-4o-mini\"}, found an array");
	/* Target allowed through a glob; from patterns that the models do not cover. */
	expect_ok(
	    "{\"strategy\": \"custom_rules\", \"groups\": {\"@g\": {\"models\": "
	    "[\"*-mini\", \"claude-3-5-haiku-*\"], \"downgrade\": {\"gpt-4o\": \"gpt-4o-mini\", "
	    "\"*\": \"claude-3-5-haiku-latest\", \"claude-*\": \"claude-3-5-haiku-x\"}}}, "
	    "\"rules\": [{\"else\": \"@g\"}]}");
}

/* ---- JSON syntax ---- */

static void test_json_errors(void **state)
{
	expect_error("", "t.json:1:1: invalid JSON: unexpected end of input, expected a value");
	expect_error("{\"strategy\": \"custom_rules\",}",
		     "t.json:1:29: invalid JSON: expected a string key (in double quotes)");
	expect_error("{\"a\": 1 \"b\": 2}",
		     "t.json:1:9: invalid JSON: expected ',' or '}' after an object member");
	expect_error("{\"a\" 1}", "t.json:1:6: invalid JSON: expected ':' after an object key");
	expect_error("[1, 2,]", "t.json:1:7: invalid JSON: expected a value (string, number, "
				"object, array, true, false or null)");
	expect_error("[1 2]", "t.json:1:4: invalid JSON: expected ',' or ']' after an array item");
	expect_error("{\"a\": 'x'}", "t.json:1:7: invalid JSON: strings need double quotes");
	expect_error("{\"a\":\n  \"x}", "t.json:2:3: invalid JSON: unterminated string");
	expect_error("{\"a\": \"x\ny\"}", "t.json:1:9: invalid JSON: unterminated string (a "
					  "newline in a string must be written \\n)");
	expect_error("{\"a\": \"\\x\"}", "t.json:1:8: invalid JSON: invalid escape (use \\\" \\\\ "
					 "\\/ \\b \\f \\n \\r \\t or \\uXXXX)");
	expect_error("{\"a\": \"\\u12\"}", "t.json:1:8: invalid JSON: \\u needs four hex digits");
	expect_error("{\"a\": \"\\u0000\"}", "t.json:1:8: invalid JSON: \\u0000 is not allowed");
	expect_error("{\"a\": \"\\ud800x\"}",
		     "t.json:1:8: invalid JSON: unpaired surrogate in \\u escape");
	expect_error("{\"a\": \"\xff\"}", "t.json:1:8: invalid JSON: invalid UTF-8 in string");
	expect_error("{\"a\": \"\xc0\xaf\"}", "t.json:1:8: invalid JSON: invalid UTF-8 in string");
	expect_error("{\"a\": 01}", "t.json:1:7: invalid JSON: numbers must not have leading "
				    "zeros");
	expect_error("{\"a\": 1.}", "t.json:1:9: invalid JSON: expected a digit after '.'");
	expect_error("{\"a\": 1e999}", "t.json:1:7: invalid JSON: number out of range");
	expect_error("{\"a\": tru}", "t.json:1:7: invalid JSON: expected a value (string, number, "
				     "object, array, true, false or null)");
	expect_error("{} x", "t.json:1:4: invalid JSON: unexpected text after the end of the "
			     "document");
	expect_error("{\"strategy\": \"custom_rules\",\n \"strategy\": \"x\"}",
		     "t.json:2:2: duplicate key \"strategy\" (first at line 1, "
		     "column 2)");
	/* Columns count characters: "é" before the error is one column. */
	expect_error("{\"\xc3\xa9\": 1 2}",
		     "t.json:1:9: invalid JSON: expected ',' or '}' after an object member");
	/* Tabs count as one column, CRLF line ends work. */
	expect_error("{\r\n\t\"a\" 1}", "t.json:2:6: invalid JSON: expected ':' after an object "
					"key");
}

static void test_json_depth_and_bom(void **state)
{
	char text[200];
	size_t n = 0;

	for (int i = 0; i < 33; i++)
		text[n++] = '[';
	text[n] = '\0';
	expect_error(text, "t.json:1:33: invalid JSON: nested too deeply");
	expect_ok("\xef\xbb\xbf" HEAD TAIL);
}

static void test_files(void **state)
{
	char path[] = "/tmp/test_policy_XXXXXX", err[512];
	struct policy *p;
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(HEAD "{\"if\": \"request.modle == 'x'\", \"then\": \"@a\"},\n" TAIL, f);
	fclose(f);
	assert_null(policy_load_file(path, err, sizeof(err)));
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_string_equal(err + strlen(path), ":4:9: rules[0].if: unknown identifier "
						"'request.modle' (did you mean request.model?)");
	unlink(path);
	p = policy_load_file(path, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "cannot open: No such file or directory"));
	assert_null(policy_load_file("/tmp", err, sizeof(err)));
	assert_string_equal(err, "/tmp: not a regular file");
	/* A tiny error buffer is filled, truncated, and terminated. */
	assert_null(load("[", err, 8));
	assert_int_equal(strlen(err), 7);
}

static void test_too_large(void **state)
{
	size_t n = POLICY_MAX_BYTES + 1;
	char *text = malloc(n), err[256];

	assert_non_null(text);
	memset(text, ' ', n);
	text[0] = '{';
	text[n - 1] = '}';
	assert_null(policy_load_buf("big.json", text, n, err, sizeof(err)));
	assert_string_equal(err, "big.json:1:1: file too large (more than 1048576 bytes)");
	free(text);
}

static void test_load_is_deterministic_and_refcounted(void **state)
{
	char err[512];
	struct policy *p = policy_load_file("policy/examples/company.json", err, sizeof(err));

	assert_non_null(p);
	assert_ptr_equal(policy_ref(p), p);
	policy_free(p);
	/* Still alive: the second reference holds it. */
	assert_true(policy_rule_count(p) >= 10);
	policy_free(p);
	policy_free(NULL);
}

static void test_allocation_failures(void **state)
{
#ifdef HAVE_ASAN
	skip();
#else
	const char *text = HEAD "{\"if\": \"tags.a in ['x', 'y'] && (time.hour < 7 || "
				"time.weekday == 'sun')\", \"then\": \"@cheap\"},\n" TAIL;
	char err[512];

	for (long budget = 0;; budget++) {
		struct policy *p;

		alloc_live = 0;
		alloc_budget = budget;
		alloc_armed = true;
		p = load(text, err, sizeof(err));
		if (!p)
			assert_non_null(strstr(err, "out of memory"));
		policy_free(p);
		alloc_armed = false;
		if (alloc_live != 0)
			fail_msg("%ld blocks leaked with %ld allocations allowed", alloc_live,
				 budget);
		if (p)
			break;
		assert_true(budget < 1000);
	}
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_load),
	    cmocka_unit_test(test_company_has_ten_rules),
	    cmocka_unit_test(test_top_level),
	    cmocka_unit_test(test_else_rule),
	    cmocka_unit_test(test_rule_shape),
	    cmocka_unit_test(test_group_references),
	    cmocka_unit_test(test_unknown_identifiers),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_positions_through_escapes),
	    cmocka_unit_test(test_type_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_group_errors),
	    cmocka_unit_test(test_downgrade_errors),
	    cmocka_unit_test(test_json_errors),
	    cmocka_unit_test(test_json_depth_and_bom),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_load_is_deterministic_and_refcounted),
	    cmocka_unit_test(test_allocation_failures),
	};

	return cmocka_run_group_tests_name("policy_load", tests, NULL, NULL);
}
