/* test_policy_eval: evaluation through the public API — precedence, comparisons, null, tags read
 * as numbers, lists, weekdays; first match wins; what groups make of a request (allow, downgrade
 * with the most specific entry, block for each reason, in a fixed order), name patterns, reason
 * texts and their bounds; the explain trace; that evaluation allocates nothing and is safe from
 * several threads. Run from the repository root (it reads policy/examples/). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#ifndef HAVE_ASAN
/* Count allocations while armed, to prove that evaluation makes none. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static __thread bool count_armed;
static __thread long count_allocs;

void *malloc(size_t n)
{
	if (count_armed)
		count_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (count_armed)
		count_allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (count_armed)
		count_allocs++;
	return __libc_realloc(p, n);
}
#endif

static struct policy *mk(const char *groups, const char *rules)
{
	char text[8192], err[512];
	struct policy *p;

	snprintf(text, sizeof(text),
		 "{\"strategy\": \"custom_rules\", \"groups\": {%s}, \"rules\": [%s]}", groups,
		 rules);
	p = policy_load_buf("t.json", text, strlen(text), err, sizeof(err));
	if (!p)
		fail_msg("refused: %s\n--- policy ---\n%s", err, text);
	return p;
}

static struct policy_input in0(void)
{
	return (struct policy_input){.budget_used_pct = NAN,
				     .budget_remaining_usd = NAN,
				     .provider = "openai",
				     .model = "gpt-4o",
				     .endpoint = "/v1/chat/completions",
				     .max_tokens = -1,
				     .hour = 10,
				     .weekday = 3};
}

static struct policy_decision decide(const struct policy *p, const struct policy_input *in)
{
	struct policy_decision d;

	memset(&d, 0xa5, sizeof(d));
	assert_int_equal(policy_eval(p, in, &d), 0);
	return d;
}

/* Does <condition> hold for <in>? */
static bool holds(const char *condition, const struct policy_input *in)
{
	char rules[4096];
	struct policy *p;
	struct policy_decision d;

	snprintf(rules, sizeof(rules), "{\"if\": \"%s\", \"then\": \"@y\"}, {\"else\": \"@n\"}",
		 condition);
	p = mk("\"@y\": {}, \"@n\": {}", rules);
	d = decide(p, in);
	policy_free(p);
	return d.rule_index == 0;
}

#define HOLDS(cond, in) assert_true(holds(cond, in))
#define NOT_HOLDS(cond, in) assert_false(holds(cond, in))

/* ---- expressions ---- */

static void test_precedence(void **state)
{
	struct policy_input in = in0();

	HOLDS("true", &in);
	NOT_HOLDS("false", &in);
	HOLDS("true || false && false", &in); /* && binds tighter than || */
	NOT_HOLDS("(true || false) && false", &in);
	HOLDS("false && true || true", &in);
	NOT_HOLDS("!false && false", &in); /* ! binds tighter than && */
	HOLDS("!(false && false)", &in);
	HOLDS("!!true", &in);
	HOLDS("request.model == 'gpt-4o' && request.provider == 'openai'", &in);
	HOLDS("request.model == 'x' || request.provider == 'openai' && true", &in);
	NOT_HOLDS("(request.model == 'x' || request.provider == 'openai') && false", &in);
	HOLDS("((((true))))", &in);
}

static void test_string_comparisons(void **state)
{
	struct policy_input in = in0();

	HOLDS("request.model == 'gpt-4o'", &in);
	HOLDS("request.model == \\\"gpt-4o\\\"", &in);
	NOT_HOLDS("request.model == 'GPT-4o'", &in); /* case matters */
	NOT_HOLDS("request.model == 'gpt-4o '", &in);
	HOLDS("request.model != 'gpt-4o-mini'", &in);
	HOLDS("'gpt-4o' == request.model", &in);
	HOLDS("request.endpoint == '/v1/chat/completions'", &in);
	in.exe = "/usr/bin/python3";
	in.user = "alice";
	in.key_provider = "openai";
	HOLDS("process.exe == '/usr/bin/python3' && process.user == 'alice'", &in);
	HOLDS("key.provider == request.provider", &in);
	HOLDS("'it\\\\'s' == 'it\\\\'s'", &in);
}

static void test_numbers_and_booleans(void **state)
{
	struct policy_input in = in0();

	in.has_budget = true;
	in.budget_used_pct = 0.9;
	in.budget_remaining_usd = 12.5;
	in.max_tokens = 4096;
	HOLDS("budget.used_pct >= 0.9", &in);
	NOT_HOLDS("budget.used_pct > 0.9", &in);
	HOLDS("budget.used_pct < 1 && budget.used_pct <= 0.9", &in);
	HOLDS("budget.remaining_usd == 12.5 && budget.remaining_usd != 12", &in);
	HOLDS("request.max_tokens == 4096 && request.max_tokens > 4000", &in);
	HOLDS("time.hour == 10 && time.hour >= 9 && time.hour < 17", &in);
	HOLDS("-1 < 0 && 1e3 == 1000", &in);
	NOT_HOLDS("request.stream", &in);
	HOLDS("!request.stream && request.stream == false && request.stream != true", &in);
	in.stream = true;
	in.key_shadow = true;
	HOLDS("request.stream && key.shadow == true", &in);
}

static void test_null(void **state)
{
	struct policy_input in = in0();
	struct policy_tag tags[] = {{"team", NULL}};

	/* A missing tag: unequal to every string, never in a list, never ordered. */
	NOT_HOLDS("tags.team == 'support'", &in);
	HOLDS("tags.team != 'support'", &in);
	NOT_HOLDS("tags.team in ['support', 'sales']", &in);
	NOT_HOLDS("tags.team > 1", &in);
	NOT_HOLDS("tags.team <= 1", &in);
	HOLDS("tags.team == null", &in);
	NOT_HOLDS("tags.team != null", &in);
	HOLDS("tags.team == tags.other", &in); /* null equals null */
	/* A tag with a NULL value is missing too. */
	in.tags = tags;
	in.ntags = 1;
	HOLDS("tags.team == null", &in);
	/* Unknown values. */
	in.model = NULL;
	in.max_tokens = -1;
	HOLDS("request.model == null && request.model != 'gpt-4o'", &in);
	NOT_HOLDS("request.model in ['gpt-4o']", &in);
	HOLDS("request.max_tokens == null", &in);
	NOT_HOLDS("request.max_tokens > 0 || request.max_tokens <= 0", &in);
	/* No budget at all, or one value unknown. */
	NOT_HOLDS("budget.used_pct >= 0 || budget.used_pct < 0", &in);
	HOLDS("budget.used_pct == null && budget.remaining_usd == null", &in);
	in.has_budget = true;
	in.budget_used_pct = 0.5;
	HOLDS("budget.used_pct == 0.5 && budget.remaining_usd == null", &in);
	in.hour = -1;
	in.weekday = -1;
	HOLDS("time.hour == null && time.weekday == null", &in);
	NOT_HOLDS("time.hour < 24", &in);
}

static void test_tags(void **state)
{
	struct policy_tag tags[] = {{"team", "support"}, {"tier", "3"},		{"level", "high"},
				    {"copy", "support"}, {"cost center", "42"}, {"a.b", "dotted"}};
	struct policy_input in = in0();

	in.tags = tags;
	in.ntags = sizeof(tags) / sizeof(tags[0]);
	HOLDS("tags.team == 'support' && tags.team == tags.copy", &in);
	HOLDS("tags.team != tags.tier", &in);
	/* A tag compared with a number is read as a number... */
	HOLDS("tags.tier >= 2 && tags.tier == 3 && tags.tier == 3.0 && tags.tier < 3.5", &in);
	HOLDS("tags.tier == '3'", &in);
	HOLDS("tags.tier in [1, 3]", &in);
	HOLDS("tags['cost center'] == 42 && tags.a.b == 'dotted'", &in);
	/* ...and is null when it is not one. */
	NOT_HOLDS("tags.level > 1 || tags.level <= 1 || tags.level == 1", &in);
	HOLDS("tags.level != 1", &in);
	NOT_HOLDS("tags.level in [1, 2]", &in);
	/* Names are exact: no prefix match. */
	NOT_HOLDS("tags.tea == 'support'", &in);
	NOT_HOLDS("tags.teams == 'support'", &in);
}

static void test_in_lists(void **state)
{
	struct policy_input in = in0();

	HOLDS("request.model in ['gpt-4o-mini', 'gpt-4o']", &in);
	NOT_HOLDS("request.model in ['gpt-4o-mini', 'gpt-4']", &in);
	NOT_HOLDS("request.model in []", &in);
	HOLDS("time.hour in [9, 10, 11]", &in);
	NOT_HOLDS("time.hour in [9, 11]", &in);
	HOLDS("!(request.provider in ['anthropic'])", &in);
}

static void test_weekdays(void **state)
{
	struct policy_input in = in0();

	in.weekday = 6;
	HOLDS("time.weekday == 6 && time.weekday == 'sat' && time.weekday == 'Saturday'", &in);
	HOLDS("time.weekday in ['sat', 'sun'] && 'sat' == time.weekday", &in);
	HOLDS("time.weekday > 'fri'", &in);
	in.weekday = 0;
	HOLDS("time.weekday == 'sunday' && time.weekday < 'mon' && time.weekday in [0, 6]", &in);
	in.weekday = 3;
	NOT_HOLDS("time.weekday in ['sat', 'sun']", &in);
}

static void test_first_match_wins(void **state)
{
	struct policy *p = mk("\"@a\": {}, \"@b\": {}, \"@c\": {}",
			      "{\"if\": \"request.model == 'x'\", \"then\": \"@a\"},"
			      "{\"if\": \"request.provider == 'openai'\", \"then\": \"@b\"},"
			      "{\"if\": \"true\", \"then\": \"@a\"},"
			      "{\"else\": \"@c\"}");
	struct policy_input in = in0();
	struct policy_decision d;

	d = decide(p, &in);
	assert_int_equal(d.rule_index, 1);
	assert_string_equal(d.group, "@b");
	in.provider = "anthropic";
	d = decide(p, &in);
	assert_int_equal(d.rule_index, 2);
	assert_string_equal(d.group, "@a");
	assert_string_equal(policy_rule_text(p, 1), "request.provider == 'openai'");
	policy_free(p);
	p = mk("\"@a\": {}", "{\"else\": \"@a\"}");
	d = decide(p, &in);
	assert_int_equal(d.rule_index, 0);
	assert_string_equal(policy_rule_text(p, 0), "else");
	policy_free(p);
}

/* ---- groups ---- */

/* Route everything to one group <g> named @g and decide <in>. */
static struct policy_decision via_group(const char *g, const struct policy_input *in)
{
	char groups[2048];
	struct policy *p;
	struct policy_decision d;

	snprintf(groups, sizeof(groups), "\"@g\": %s", g);
	p = mk(groups, "{\"else\": \"@g\"}");
	d = decide(p, in);
	/* Pointers in the decision belong to the policy: copy what the test needs first. */
	if (d.model) {
		static __thread char model[128];

		snprintf(model, sizeof(model), "%s", d.model);
		d.model = model;
	}
	d.group = "@g";
	policy_free(p);
	return d;
}

static void expect_decision(const char *g, const struct policy_input *in, enum policy_action action,
			    const char *model, const char *reason)
{
	struct policy_decision d = via_group(g, in);

	assert_int_equal(d.action, action);
	if (model)
		assert_string_equal(d.model, model);
	else
		assert_null(d.model);
	assert_string_equal(d.reason, reason);
}

static void test_group_allow(void **state)
{
	struct policy_input in = in0();

	expect_decision("{}", &in, POLICY_ALLOW, NULL, "allowed by @g");
	expect_decision("{\"models\": [\"gpt-4o\"], \"providers\": [\"openai\"]}", &in,
			POLICY_ALLOW, NULL, "allowed by @g");
	/* A request that names no model is not constrained by the model list. */
	in.model = NULL;
	expect_decision("{\"models\": [\"gpt-4o-mini\"]}", &in, POLICY_ALLOW, NULL,
			"allowed by @g");
	/* An empty model name is a name, and not an allowed one. */
	in.model = "";
	expect_decision("{\"models\": [\"gpt-4o-mini\"]}", &in, POLICY_BLOCK, NULL,
			"model  is not allowed in @g (allowed: gpt-4o-mini)");
}

static void test_group_model_block_and_downgrade(void **state)
{
	const char *g = "{\"models\": [\"gpt-4o-mini\", \"claude-3-5-haiku-*\"], "
			"\"downgrade\": {\"gpt-4o\": \"gpt-4o-mini\", "
			"\"claude-*\": \"claude-3-5-haiku-latest\"}}";
	struct policy_input in = in0();

	expect_decision(g, &in, POLICY_DOWNGRADE, "gpt-4o-mini",
			"model gpt-4o is not allowed in @g; downgraded to gpt-4o-mini");
	in.model = "claude-3-opus-20240229";
	expect_decision(g, &in, POLICY_DOWNGRADE, "claude-3-5-haiku-latest",
			"model claude-3-opus-20240229 is not allowed in @g; downgraded to "
			"claude-3-5-haiku-latest");
	in.model = "claude-3-5-haiku-20241022";
	expect_decision(g, &in, POLICY_ALLOW, NULL, "allowed by @g");
	in.model = "o1-preview";
	expect_decision(g, &in, POLICY_BLOCK, NULL,
			"model o1-preview is not allowed in @g (allowed: gpt-4o-mini, "
			"claude-3-5-haiku-*)");
}

static void test_downgrade_most_specific_wins(void **state)
{
	/* Listed least specific first: the order in the file must not matter. */
	const char *g = "{\"models\": [\"tiny\", \"small\", \"mid\", \"pre\", \"suf\"], "
			"\"downgrade\": {\"*\": \"tiny\", \"gpt-*\": \"small\", "
			"\"gpt-4*\": \"mid\", \"gpt-4o\": \"pre\", \"*-large\": \"suf\", "
			"\"big*\": \"pre\"}}";
	struct policy_input in = in0();

	in.model = "gpt-4o";
	expect_decision(g, &in, POLICY_DOWNGRADE, "pre",
			"model gpt-4o is not allowed in @g; "
			"downgraded to pre");
	in.model = "gpt-4-turbo";
	expect_decision(g, &in, POLICY_DOWNGRADE, "mid",
			"model gpt-4-turbo is not allowed in "
			"@g; downgraded to mid");
	in.model = "gpt-3.5-turbo";
	expect_decision(g, &in, POLICY_DOWNGRADE, "small",
			"model gpt-3.5-turbo is not allowed "
			"in @g; downgraded to small");
	in.model = "claude-large";
	expect_decision(g, &in, POLICY_DOWNGRADE, "suf",
			"model claude-large is not allowed in "
			"@g; downgraded to suf");
	in.model = "mistral";
	expect_decision(g, &in, POLICY_DOWNGRADE, "tiny",
			"model mistral is not allowed in @g; "
			"downgraded to tiny");
	/* Same specificity ("big*" and "*-large": 3 and 6 literal bytes; "x*" / "*y" equal):
	 * the longer literal wins, then file order. */
	in.model = "big-large";
	expect_decision(g, &in, POLICY_DOWNGRADE, "suf",
			"model big-large is not allowed in @g; "
			"downgraded to suf");
	in.model = "xy";
	expect_decision("{\"models\": [\"a\", \"b\"], \"downgrade\": {\"x*\": \"a\", \"*y\": "
			"\"b\"}}",
			&in, POLICY_DOWNGRADE, "a",
			"model xy is not allowed in @g; downgraded to a");
	expect_decision("{\"models\": [\"a\", \"b\"], \"downgrade\": {\"*y\": \"b\", \"x*\": "
			"\"a\"}}",
			&in, POLICY_DOWNGRADE, "b",
			"model xy is not allowed in @g; downgraded to b");
}

static void test_patterns(void **state)
{
	struct policy_input in = in0();
	static const struct {
		const char *pattern, *model;
		bool match;
	} cases[] = {
	    {"gpt-4o", "gpt-4o", true},
	    {"gpt-4o", "gpt-4o-mini", false},
	    {"gpt-4o", "gpt-4", false},
	    {"gpt-4o*", "gpt-4o", true},
	    {"gpt-4o*", "gpt-4o-2024-08-06", true},
	    {"gpt-4o*", "gpt-4", false},
	    {"*-mini", "gpt-4o-mini", true},
	    {"*-mini", "-mini", true},
	    {"*-mini", "gpt-4o-mini-x", false},
	    {"*haiku*", "claude-3-5-haiku-latest", true},
	    {"*haiku*", "haiku", true},
	    {"*haiku*", "claude-sonnet", false},
	    {"*", "anything", true},
	    {"*", "", true},
	};
	char g[256], reason[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(g, sizeof(g), "{\"models\": [\"%s\"]}", cases[i].pattern);
		in.model = cases[i].model;
		snprintf(reason, sizeof(reason), "model %s is not allowed in @g (allowed: %s)",
			 cases[i].model, cases[i].pattern);
		if (cases[i].match)
			expect_decision(g, &in, POLICY_ALLOW, NULL, "allowed by @g");
		else
			expect_decision(g, &in, POLICY_BLOCK, NULL, reason);
	}
	/* Providers take patterns too. */
	in.provider = "azure-openai";
	expect_decision("{\"providers\": [\"*openai\"]}", &in, POLICY_ALLOW, NULL, "allowed by @g");
}

static void test_group_block_reasons(void **state)
{
	struct policy_input in = in0();

	expect_decision("{\"block\": \"LLM use is suspended during the audit\"}", &in, POLICY_BLOCK,
			NULL, "LLM use is suspended during the audit");
	in.provider = "anthropic";
	expect_decision("{\"providers\": [\"openai\", \"azure-openai\"]}", &in, POLICY_BLOCK, NULL,
			"provider anthropic is not allowed in @g (allowed: openai, azure-openai)");
	in.provider = NULL;
	expect_decision("{\"providers\": [\"openai\"]}", &in, POLICY_BLOCK, NULL,
			"provider (unknown) is not allowed in @g (allowed: openai)");
	in.provider = "openai";
	in.key_shadow = true;
	expect_decision("{\"require_sanctioned_key\": true}", &in, POLICY_BLOCK, NULL,
			"@g requires a sanctioned API key; this request uses an unregistered "
			"(shadow) key");
	in.key_shadow = false;
	expect_decision("{\"require_sanctioned_key\": true}", &in, POLICY_ALLOW, NULL,
			"allowed by @g");
	expect_decision("{\"require_sanctioned_key\": false}", &in, POLICY_ALLOW, NULL,
			"allowed by @g");
}

/* Checks run in a fixed order: key, then provider, then model. */
static void test_group_check_order(void **state)
{
	const char *g = "{\"require_sanctioned_key\": true, \"providers\": [\"anthropic\"], "
			"\"models\": [\"claude-*\"], \"downgrade\": {\"*\": \"claude-3-5-haiku\"}}";
	struct policy_input in = in0();

	in.key_shadow = true;
	expect_decision(g, &in, POLICY_BLOCK, NULL,
			"@g requires a sanctioned API key; this request uses an unregistered "
			"(shadow) key");
	in.key_shadow = false;
	/* A downgrade changes the model, never the provider. */
	expect_decision(g, &in, POLICY_BLOCK, NULL,
			"provider openai is not allowed in @g (allowed: anthropic)");
	in.provider = "anthropic";
	expect_decision(g, &in, POLICY_DOWNGRADE, "claude-3-5-haiku",
			"model gpt-4o is not allowed in @g; downgraded to claude-3-5-haiku");
}

static bool valid_utf8_one_line(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t n = *u < 0x80 ? 1 : (*u >> 5) == 6 ? 2 : (*u >> 4) == 14 ? 3 : 4;

		if (*u < 0x20 || *u == 0x7f || *u >= 0xf8 || (*u >= 0x80 && *u < 0xc2))
			return false;
		for (size_t i = 1; i < n; i++)
			if ((u[i] & 0xc0) != 0x80)
				return false;
		u += n;
	}
	return true;
}

static void test_reason_is_bounded_and_clean(void **state)
{
	struct policy_input in = in0();
	struct policy_decision d;
	char model[1024];
	size_t n = 0;

	in.model = "evil\nmodel\xff\x01";
	expect_decision("{\"models\": [\"a\"]}", &in, POLICY_BLOCK, NULL,
			"model evil?model?? is not allowed in @g (allowed: a)");
	/* 300 two-byte characters: cut at a character boundary with "...". */
	for (int i = 0; i < 300; i++) {
		model[n++] = '\xc3';
		model[n++] = '\xa9';
	}
	model[n] = '\0';
	in.model = model;
	d = via_group("{\"models\": [\"a\"]}", &in);
	assert_int_equal(d.action, POLICY_BLOCK);
	assert_true(strlen(d.reason) < POLICY_REASON_MAX);
	assert_true(strlen(d.reason) > POLICY_REASON_MAX - 8);
	assert_string_equal(d.reason + strlen(d.reason) - 3, "...");
	assert_true(strncmp(d.reason, "model \xc3\xa9", 8) == 0);
	assert_true(valid_utf8_one_line(d.reason));
}

/* ---- the example policy, as a user would meet it ---- */

static void test_company_policy(void **state)
{
	char err[512];
	struct policy *p = policy_load_file("policy/examples/company.json", err, sizeof(err));
	struct policy_tag pii[] = {{"sensitivity", "pii"}};
	struct policy_tag research[] = {{"team", "research"}, {"priority", "2"}};
	struct policy_input in = in0();
	struct policy_decision d;

	assert_non_null(p);
	d = decide(p, &in); /* Wednesday 10:00, openai gpt-4o, non-streaming */
	assert_int_equal(d.action, POLICY_ALLOW);
	assert_string_equal(d.group, "@production");
	assert_int_equal(d.rule_index, 10);
	in.tags = pii;
	in.ntags = 1;
	in.model = "gpt-4-turbo";
	in.provider = "azure-openai";
	d = decide(p, &in);
	assert_int_equal(d.action, POLICY_DOWNGRADE);
	assert_string_equal(d.model, "gpt-4o-mini");
	assert_string_equal(d.group, "@pii-safe");
	in.tags = NULL;
	in.ntags = 0;
	in.key_shadow = true;
	d = decide(p, &in);
	assert_int_equal(d.action, POLICY_BLOCK);
	assert_string_equal(d.reason, "unregistered API key: request a project key at "
				      "https://llm.example.com/keys");
	in.key_shadow = false;
	in.has_budget = true;
	in.budget_used_pct = 0.95;
	in.budget_remaining_usd = 4;
	in.model = "o1-preview";
	in.provider = "openai";
	d = decide(p, &in);
	assert_int_equal(d.rule_index, 3);
	assert_int_equal(d.action, POLICY_DOWNGRADE);
	assert_string_equal(d.model, "gpt-4o-mini");
	in.has_budget = false;
	in.tags = research;
	in.ntags = 2;
	in.weekday = 6; /* Saturday: off-hours comes first */
	in.model = "gpt-4o";
	d = decide(p, &in);
	assert_string_equal(d.group, "@off-hours");
	assert_int_equal(d.action, POLICY_DOWNGRADE);
	in.weekday = 2;
	in.model = "mistral-large-latest";
	in.provider = "mistral";
	d = decide(p, &in);
	assert_string_equal(d.group, "@research");
	assert_int_equal(d.action, POLICY_ALLOW);
	policy_free(p);
}

/* ---- explain ---- */

static void test_explain(void **state)
{
	struct policy *p =
	    mk("\"@support\": {\"models\": [\"gpt-4o-mini\"], \"downgrade\": "
	       "{\"gpt-4o\": \"gpt-4o-mini\"}}, \"@prod\": {}",
	       "{\"if\": \"tags.team == 'support' && request.stream\", "
	       "\"then\": \"@support\"},\n"
	       "{\"if\": \"tags.team in ['kb', 'support'] || time.weekday == 'sun'\", "
	       "\"then\": \"@support\"},\n"
	       "{\"else\": \"@prod\"}");
	struct policy_tag tags[] = {{"team", "support"}};
	struct policy_input in = in0();
	char buf[4096];
	int n;

	in.tags = tags;
	in.ntags = 1;
	n = policy_explain(p, &in, buf, sizeof(buf));
	assert_string_equal(
	    buf, "rule[0] (line 1): tags.team == 'support' && request.stream\n"
		 "    tags.team == 'support'  -> true   [tags.team = 'support']\n"
		 "    request.stream  -> false\n"
		 "  => no match\n"
		 "rule[1] (line 2): tags.team in ['kb', 'support'] || time.weekday == "
		 "'sun'\n"
		 "    tags.team in ['kb', 'support']  -> true   [tags.team = 'support']\n"
		 "  => match\n"
		 "group @support:\n"
		 "  provider: any allowed\n"
		 "  model 'gpt-4o': not in [gpt-4o-mini]\n"
		 "  downgrade \"gpt-4o\" -> gpt-4o-mini\n"
		 "decision: downgrade to gpt-4o-mini (rule[1], @support): model gpt-4o is "
		 "not allowed in @support; downgraded to gpt-4o-mini\n");
	assert_int_equal(n, (int)strlen(buf));
	in.tags = NULL;
	in.ntags = 0;
	in.weekday = 2;
	policy_explain(p, &in, buf, sizeof(buf));
	assert_string_equal(
	    buf, "rule[0] (line 1): tags.team == 'support' && request.stream\n"
		 "    tags.team == 'support'  -> false   [tags.team = null (no such tag)]\n"
		 "  => no match\n"
		 "rule[1] (line 2): tags.team in ['kb', 'support'] || time.weekday == "
		 "'sun'\n"
		 "    tags.team in ['kb', 'support']  -> false   [tags.team = null (no "
		 "such tag)]\n"
		 "    time.weekday == 'sun'  -> false   [time.weekday = 2 (tue)]\n"
		 "  => no match\n"
		 "rule[2] (line 3): else\n"
		 "  => match\n"
		 "group @prod:\n"
		 "  provider: any allowed\n"
		 "  model: any allowed\n"
		 "decision: allow (rule[2], @prod): allowed by @prod\n");
	policy_free(p);
}

static void test_explain_values_and_blocks(void **state)
{
	struct policy *p =
	    mk("\"@g\": {\"require_sanctioned_key\": true, \"providers\": "
	       "[\"openai\"], \"models\": [\"gpt-4o\"]}",
	       "{\"if\": \"budget.used_pct > 0.5 && request.max_tokens < 100 && "
	       "process.user == 'o\\\\'neil'\", \"then\": \"@g\"}, {\"else\": \"@g\"}");
	struct policy_input in = in0();
	char buf[4096];

	in.has_budget = true;
	in.budget_used_pct = 0.75;
	in.max_tokens = 10;
	in.user = "o'neil";
	policy_explain(p, &in, buf, sizeof(buf));
	assert_string_equal(
	    buf, "rule[0] (line 1): budget.used_pct > 0.5 && request.max_tokens < 100 "
		 "&& process.user == 'o\\'neil'\n"
		 "    budget.used_pct > 0.5  -> true   [budget.used_pct = 0.75]\n"
		 "    request.max_tokens < 100  -> true   [request.max_tokens = 10]\n"
		 "    process.user == 'o\\'neil'  -> true   [process.user = 'o\\'neil']\n"
		 "  => match\n"
		 "group @g:\n"
		 "  require_sanctioned_key: the key is sanctioned\n"
		 "  provider 'openai': in [openai]\n"
		 "  model 'gpt-4o': in [gpt-4o]\n"
		 "decision: allow (rule[0], @g): allowed by @g\n");
	in.key_shadow = true;
	in.user = "x\ty\xff\xc3\xa9";
	policy_explain(p, &in, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[process.user = 'x\\x09y\\xff\xc3\xa9']"));
	assert_non_null(strstr(buf, "  require_sanctioned_key: the key is a shadow key\n"
				    "decision: block (rule[1], @g): @g requires a sanctioned API "
				    "key;"));
	policy_free(p);
}

static void test_explain_truncation(void **state)
{
	char err[512], full[8192], small[100];
	struct policy *p = policy_load_file("policy/examples/company.json", err, sizeof(err));
	struct policy_input in = in0();
	int n, m;

	assert_non_null(p);
	n = policy_explain(p, &in, full, sizeof(full));
	assert_true(n > 100 && n < (int)sizeof(full));
	assert_int_equal((int)strlen(full), n);
	m = policy_explain(p, &in, small, sizeof(small));
	assert_int_equal(m, n);
	assert_true(strlen(small) < sizeof(small));
	assert_memory_equal(small, full, strlen(small));
	/* Sizing call. */
	assert_int_equal(policy_explain(p, &in, NULL, 0), n);
	policy_free(p);
}

static void test_bad_arguments(void **state)
{
	struct policy *p = mk("\"@a\": {}", "{\"else\": \"@a\"}");
	struct policy_input in = in0();
	struct policy_decision d;
	char buf[16];

	assert_int_equal(policy_eval(NULL, &in, &d), -EINVAL);
	assert_int_equal(policy_eval(p, NULL, &d), -EINVAL);
	assert_int_equal(policy_eval(p, &in, NULL), -EINVAL);
	assert_int_equal(policy_explain(NULL, &in, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(policy_explain(p, &in, NULL, 5), -EINVAL);
	assert_int_equal(policy_rule_count(NULL), 0);
	assert_null(policy_rule_text(NULL, 0));
	assert_string_equal(policy_action_name(POLICY_ALLOW), "allow");
	assert_string_equal(policy_action_name(POLICY_DOWNGRADE), "downgrade");
	assert_string_equal(policy_action_name(POLICY_BLOCK), "block");
	policy_free(p);
}

/* ---- allocation-free and thread-safe ---- */

static void test_eval_allocates_nothing(void **state)
{
#ifdef HAVE_ASAN
	skip();
#else
	char err[512], buf[8192];
	struct policy *p = policy_load_file("policy/examples/company.json", err, sizeof(err));
	struct policy_tag tags[] = {{"team", "research"}, {"priority", "high"}};
	struct policy_input in = in0();
	struct policy_decision d;

	assert_non_null(p);
	in.tags = tags;
	in.ntags = 2;
	count_allocs = 0;
	count_armed = true;
	for (int i = 0; i < 1000; i++) {
		in.hour = i % 24;
		in.weekday = i % 7;
		in.key_shadow = i % 5 == 0;
		policy_eval(p, &in, &d);
	}
	count_armed = false;
	assert_int_equal(count_allocs, 0);
	/* explain writes to the caller's buffer only (no vsnprintf-into-malloc either). */
	count_armed = true;
	policy_explain(p, &in, buf, sizeof(buf));
	count_armed = false;
	assert_int_equal(count_allocs, 0);
	policy_free(p);
#endif
}

struct worker_arg {
	struct policy *p;
	int seed;
	long mismatches;
	struct policy_decision expect[7 * 24];
};

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct policy_input in = in0();
	struct policy_decision d;

	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 7 * 24; i++) {
			in.weekday = i / 24;
			in.hour = i % 24;
			policy_eval(w->p, &in, &d);
			if (d.action != w->expect[i].action ||
			    d.rule_index != w->expect[i].rule_index ||
			    strcmp(d.reason, w->expect[i].reason) != 0)
				w->mismatches++;
		}
	}
	policy_free(w->p);
	return NULL;
}

static void test_concurrent_eval(void **state)
{
	static struct worker_arg args[4];
	char err[512];
	struct policy *p = policy_load_file("policy/examples/company.json", err, sizeof(err));
	struct policy_input in = in0();
	pthread_t th[4];

	assert_non_null(p);
	for (int i = 0; i < 7 * 24; i++) {
		in.weekday = i / 24;
		in.hour = i % 24;
		policy_eval(p, &in, &args[0].expect[i]);
	}
	for (int t = 0; t < 4; t++) {
		if (t)
			memcpy(args[t].expect, args[0].expect, sizeof(args[0].expect));
		args[t].p = policy_ref(p);
		args[t].mismatches = 0;
	}
	policy_free(p); /* the workers hold the remaining references */
	for (int t = 0; t < 4; t++)
		assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(args[t].mismatches, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_string_comparisons),
	    cmocka_unit_test(test_numbers_and_booleans),
	    cmocka_unit_test(test_null),
	    cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_in_lists),
	    cmocka_unit_test(test_weekdays),
	    cmocka_unit_test(test_first_match_wins),
	    cmocka_unit_test(test_group_allow),
	    cmocka_unit_test(test_group_model_block_and_downgrade),
	    cmocka_unit_test(test_downgrade_most_specific_wins),
	    cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_group_block_reasons),
	    cmocka_unit_test(test_group_check_order),
	    cmocka_unit_test(test_reason_is_bounded_and_clean),
	    cmocka_unit_test(test_company_policy),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_explain_values_and_blocks),
	    cmocka_unit_test(test_explain_truncation),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_eval_allocates_nothing),
	    cmocka_unit_test(test_concurrent_eval),
	};

	return cmocka_run_group_tests_name("policy_eval", tests, NULL, NULL);
}
