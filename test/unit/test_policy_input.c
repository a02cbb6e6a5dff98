/* test_policy_input: policy_input_from_json, the request description behind `modeluxctl policy
 * explain --request`: every field, the defaults (unknown = null, booleans false, time = now),
 * errors with line:col, storage bounds, and that the result drives policy_eval as expected. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy.h"

static void parse_ok(const char *json, struct policy_input_storage *st, struct policy_input *in)
{
	char err[512];

	if (policy_input_from_json(json, strlen(json), st, in, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n--- request ---\n%s", err, json);
}

static void expect_error(const char *json, const char *want)
{
	static struct policy_input_storage st;
	struct policy_input in;
	char err[512];

	if (policy_input_from_json(json, strlen(json), &st, &in, err, sizeof(err)) == 0)
		fail_msg("accepted, expected \"%s\"\n--- request ---\n%s", want, json);
	assert_string_equal(err, want);
}

static void test_full_request(void **state)
{
	static struct policy_input_storage st;
	struct policy_input in;

	parse_ok("{\"tags\": {\"team\": \"support\", \"project\": \"kb\", \"gone\": null},\n"
		 " \"budget\": {\"used_pct\": 0.95, \"remaining_usd\": 3.5},\n"
		 " \"request\": {\"provider\": \"openai\", \"model\": \"gpt-4o\", "
		 "\"endpoint\": \"/v1/chat/completions\", \"stream\": true, \"max_tokens\": 100},\n"
		 " \"process\": {\"exe\": \"/usr/bin/python3\", \"user\": \"alice\"},\n"
		 " \"key\": {\"shadow\": true, \"provider\": \"openai\"},\n"
		 " \"time\": {\"hour\": 10, \"weekday\": 1}}",
		 &st, &in);
	assert_int_equal(in.ntags, 3);
	assert_string_equal(in.tags[0].name, "team");
	assert_string_equal(in.tags[0].value, "support");
	assert_string_equal(in.tags[1].name, "project");
	assert_string_equal(in.tags[1].value, "kb");
	assert_string_equal(in.tags[2].name, "gone");
	assert_null(in.tags[2].value);
	assert_true(in.has_budget);
	assert_true(in.budget_used_pct == 0.95);
	assert_true(in.budget_remaining_usd == 3.5);
	assert_string_equal(in.provider, "openai");
	assert_string_equal(in.model, "gpt-4o");
	assert_string_equal(in.endpoint, "/v1/chat/completions");
	assert_true(in.stream);
	assert_int_equal(in.max_tokens, 100);
	assert_string_equal(in.exe, "/usr/bin/python3");
	assert_string_equal(in.user, "alice");
	assert_true(in.key_shadow);
	assert_string_equal(in.key_provider, "openai");
	assert_int_equal(in.hour, 10);
	assert_int_equal(in.weekday, 1);
}

static void test_defaults(void **state)
{
	static struct policy_input_storage st;
	struct policy_input in;
	time_t before = time(NULL), after;
	struct tm tb, ta;

	parse_ok("{}", &st, &in);
	after = time(NULL);
	assert_int_equal(in.ntags, 0);
	assert_false(in.has_budget);
	assert_true(isnan(in.budget_used_pct) && isnan(in.budget_remaining_usd));
	assert_null(in.provider);
	assert_null(in.model);
	assert_null(in.endpoint);
	assert_false(in.stream);
	assert_int_equal(in.max_tokens, -1);
	assert_null(in.exe);
	assert_null(in.user);
	assert_false(in.key_shadow);
	assert_null(in.key_provider);
	/* Time defaults to now (local time). */
	localtime_r(&before, &tb);
	localtime_r(&after, &ta);
	assert_true(in.hour == tb.tm_hour || in.hour == ta.tm_hour);
	assert_true(in.weekday == tb.tm_wday || in.weekday == ta.tm_wday);
	/* A budget section with one value: the other is unknown. */
	parse_ok("{\"budget\": {\"used_pct\": 0.5}, \"request\": {\"model\": null, "
		 "\"max_tokens\": null}, \"time\": {\"hour\": 0}}",
		 &st, &in);
	assert_true(in.has_budget);
	assert_true(in.budget_used_pct == 0.5);
	assert_true(isnan(in.budget_remaining_usd));
	assert_null(in.model);
	assert_int_equal(in.max_tokens, -1);
	assert_int_equal(in.hour, 0);
	assert_true(in.weekday >= 0 && in.weekday <= 6);
}

static void test_weekday_names(void **state)
{
	static struct policy_input_storage st;
	struct policy_input in;

	parse_ok("{\"time\": {\"hour\": 23, \"weekday\": \"Sat\"}}", &st, &in);
	assert_int_equal(in.weekday, 6);
	assert_int_equal(in.hour, 23);
	parse_ok("{\"time\": {\"weekday\": \"sunday\"}}", &st, &in);
	assert_int_equal(in.weekday, 0);
	parse_ok("{\"time\": {\"weekday\": 0}}", &st, &in);
	assert_int_equal(in.weekday, 0);
}

static void test_errors(void **state)
{
	expect_error("", "request:1:1: invalid JSON: unexpected end of input, expected a value");
	expect_error("[]", "request:1:1: expected an object like {\"request\": {\"model\": "
			   "\"gpt-4o\"}}");
	expect_error("{\"requets\": {}}", "request:1:3: unknown section \"requets\" (did you mean "
					  "\"request\"?) (sections: tags, budget, request, "
					  "process, key, time)");
	expect_error("{\"request\": {\"modle\": \"x\"}}",
		     "request:1:15: request: unknown field \"modle\" (did you mean \"model\"?)");
	expect_error("{\"request\": {\"size\": 1}}",
		     "request:1:15: request: unknown field \"size\"");
	expect_error("{\"request\": []}", "request:1:13: request: expected an object, found an "
					  "array");
	expect_error("{\"request\": {\"stream\": \"yes\"}}",
		     "request:1:24: request.stream: expected true or false, found a string");
	expect_error("{\"request\": {\"model\": 4}}",
		     "request:1:23: request.model: expected a string, found a number");
	expect_error("{\"request\": {\"max_tokens\": 1.5}}",
		     "request:1:28: request.max_tokens: expected a whole number of tokens (or "
		     "null)");
	expect_error("{\"request\": {\"max_tokens\": -1}}",
		     "request:1:28: request.max_tokens: expected a whole number of tokens (or "
		     "null)");
	expect_error("{\"budget\": {\"used_pct\": \"90%\"}}",
		     "request:1:25: budget.used_pct: expected a number, found a string");
	expect_error("{\"time\": {\"hour\": 24}}",
		     "request:1:19: time.hour: expected an hour, 0..23");
	expect_error("{\"time\": {\"weekday\": 7}}",
		     "request:1:22: time.weekday: expected a weekday: 0..6 (0 = Sunday) or a name "
		     "like \"mon\"");
	expect_error("{\"time\": {\"weekday\": \"someday\"}}",
		     "request:1:22: time.weekday: expected a weekday: 0..6 (0 = Sunday) or a name "
		     "like \"mon\"");
	expect_error("{\"tags\": [\"team=support\"]}",
		     "request:1:10: tags: expected an object of name: \"value\", found an array");
	expect_error("{\"tags\": {\"tier\": 2}}",
		     "request:1:19: tags.tier: tag values are strings (or null), found a number");
	expect_error("{\n  \"key\": {\"shadow\": 1}}",
		     "request:2:21: key.shadow: expected true or false, found a number");
}

static void test_storage_bounds(void **state)
{
	static struct policy_input_storage st;
	static char json[3 * POLICY_INPUT_STRINGS];
	struct policy_input in;
	char err[256];
	size_t n = 0;

	/* Too many tags. */
	n += (size_t)sprintf(json + n, "{\"tags\": {");
	for (int i = 0; i <= POLICY_INPUT_MAX_TAGS; i++)
		n += (size_t)sprintf(json + n, "%s\"t%d\": \"v\"", i ? ", " : "", i);
	sprintf(json + n, "}}");
	assert_int_equal(policy_input_from_json(json, strlen(json), &st, &in, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "request:1:10: tags: too many tags (at most 64)");
	/* Too much text: a model name larger than the storage. */
	n = (size_t)sprintf(json, "{\"request\": {\"model\": \"");
	memset(json + n, 'm', POLICY_INPUT_STRINGS);
	n += POLICY_INPUT_STRINGS;
	sprintf(json + n, "\"}}");
	assert_int_equal(policy_input_from_json(json, strlen(json), &st, &in, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "request:1:23: too much text (at most 8192 bytes of strings)");
	/* Exactly at the limit is fine. */
	n = (size_t)sprintf(json, "{\"request\": {\"model\": \"");
	memset(json + n, 'm', POLICY_INPUT_STRINGS - 1);
	n += POLICY_INPUT_STRINGS - 1;
	sprintf(json + n, "\"}}");
	parse_ok(json, &st, &in);
	assert_int_equal(strlen(in.model), POLICY_INPUT_STRINGS - 1);
	assert_int_equal(policy_input_from_json("{}", 2, NULL, &in, err, sizeof(err)), -EINVAL);
}

static void test_drives_eval(void **state)
{
	static struct policy_input_storage st;
	struct policy_input in;
	struct policy_decision d;
	char err[512];
	struct policy *p = policy_load_file("policy/examples/readme.json", err, sizeof(err));

	assert_non_null(p);
	parse_ok("{\"tags\": {\"team\": \"support\"}, \"request\": {\"provider\": \"openai\", "
		 "\"model\": \"gpt-4o\"}}",
		 &st, &in);
	assert_int_equal(policy_eval(p, &in, &d), 0);
	assert_int_equal(d.rule_index, 0);
	assert_int_equal(d.action, POLICY_DOWNGRADE);
	assert_string_equal(d.model, "gpt-4o-mini");
	parse_ok("{\"budget\": {\"used_pct\": 0.95}, \"request\": {\"provider\": \"anthropic\", "
		 "\"model\": \"claude-3-opus-latest\"}}",
		 &st, &in);
	assert_int_equal(policy_eval(p, &in, &d), 0);
	assert_int_equal(d.rule_index, 2);
	assert_string_equal(d.model, "claude-3-5-haiku-latest");
	parse_ok("{\"key\": {\"shadow\": true}, \"request\": {\"provider\": \"openai\"}}", &st,
		 &in);
	assert_int_equal(policy_eval(p, &in, &d), 0);
	assert_int_equal(d.rule_index, 3);
	assert_int_equal(d.action, POLICY_BLOCK);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_request),   cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_weekday_names),  cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_storage_bounds), cmocka_unit_test(test_drives_eval),
	};

	return cmocka_run_group_tests_name("policy_input", tests, NULL, NULL);
}
