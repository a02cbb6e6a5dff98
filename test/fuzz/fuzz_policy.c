/* fuzz_policy: libFuzzer driver for the policy compiler (JSON reader, condition lexer and
 * parser, groups) and the evaluator, with the input as a policy file; the same bytes also go
 * through policy_input_from_json. Beyond "no crash" it checks: loading is deterministic (same
 * policy or same error, byte for byte); an error names the file and a line:col inside the input;
 * a loaded policy ends with its else rule and evaluates a few fixed requests to a well-formed
 * decision (rule in range, group "@...", model exactly for a downgrade, reason one line of valid
 * UTF-8 under 256 bytes), the same twice, and the same as policy_explain reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/arena.c"
#include "../../userspace/policy_diag.c"
#include "../../userspace/policy_eval.c"
#include "../../userspace/policy_group.c"
#include "../../userspace/policy_input.c"
#include "../../userspace/policy_json.c"
#include "../../userspace/policy_lex.c"
#include "../../userspace/policy_load.c"
#include "../../userspace/policy_parse.c"
#include "../../userspace/policy_prog.c"
#include "../../userspace/utf8.c"

#define FNAME "fuzz.json"

static char fuzz_explain[1 << 16];

static void fuzz_check_reason(const char *r)
{
	size_t n = strnlen(r, POLICY_REASON_MAX);

	if (n == 0 || n >= POLICY_REASON_MAX)
		__builtin_trap();
	for (size_t i = 0; i < n;) {
		size_t l = utf8_char_len((const unsigned char *)r + i, n - i);

		if (l == 0 || (unsigned char)r[i] < 0x20 || r[i] == 0x7f)
			__builtin_trap();
		i += l;
	}
}

/* "fuzz.json:LINE:COL: ..." with the position inside the input (or just past its end). */
static void fuzz_check_error(const char *err, const uint8_t *data, size_t size)
{
	unsigned line, col, lines = 1, cols = 1, max_cols = 1;

	if (strncmp(err, FNAME ":", sizeof(FNAME)) != 0)
		__builtin_trap();
	if (sscanf(err + sizeof(FNAME), "%u:%u: ", &line, &col) != 2 || line == 0 || col == 0)
		__builtin_trap();
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			lines++;
			cols = 1;
		} else if ((data[i] & 0xc0) != 0x80) {
			cols++;
		}
		if (cols > max_cols)
			max_cols = cols;
	}
	if (line > lines || col > max_cols + 1)
		__builtin_trap();
}

static void fuzz_check_decision(const struct policy *p, const struct policy_input *in)
{
	struct policy_decision a, b;
	char head[64];
	int n;

	memset(&a, 0x5a, sizeof(a));
	if (policy_eval(p, in, &a) != 0 || policy_eval(p, in, &b) != 0)
		__builtin_trap();
	if (a.rule_index < 0 || (size_t)a.rule_index >= policy_rule_count(p))
		__builtin_trap();
	if (!a.group || a.group[0] != '@')
		__builtin_trap();
	if (a.action != POLICY_ALLOW && a.action != POLICY_DOWNGRADE && a.action != POLICY_BLOCK)
		__builtin_trap();
	if ((a.action == POLICY_DOWNGRADE) != (a.model != NULL))
		__builtin_trap();
	fuzz_check_reason(a.reason);
	if (a.action != b.action || a.rule_index != b.rule_index || a.model != b.model ||
	    strcmp(a.reason, b.reason) != 0)
		__builtin_trap();
	/* explain walks the same path: its last line states the same decision. */
	n = policy_explain(p, in, fuzz_explain, sizeof(fuzz_explain));
	if (n < 0 || strlen(fuzz_explain) !=
			 ((size_t)n < sizeof(fuzz_explain) ? (size_t)n : strlen(fuzz_explain)))
		__builtin_trap();
	if ((size_t)n >= sizeof(fuzz_explain))
		return;
	snprintf(head, sizeof(head), "decision: %s", policy_action_name(a.action));
	if (!strstr(fuzz_explain, head) || !strstr(fuzz_explain, a.reason))
		__builtin_trap();
}

static void fuzz_eval_fixed(const struct policy *p)
{
	struct policy_tag tags[] = {
	    {"team", "support"}, {"sensitivity", "pii"}, {"tier", "3"}, {"a", NULL}};
	struct policy_input in = {.budget_used_pct = NAN,
				  .budget_remaining_usd = NAN,
				  .provider = "openai",
				  .model = "gpt-4o",
				  .endpoint = "/v1/chat/completions",
				  .max_tokens = -1,
				  .hour = 10,
				  .weekday = 3};

	fuzz_check_decision(p, &in);
	in.tags = tags;
	in.ntags = sizeof(tags) / sizeof(tags[0]);
	in.has_budget = true;
	in.budget_used_pct = 0.95;
	in.budget_remaining_usd = 0;
	in.stream = true;
	in.max_tokens = 20000;
	in.key_shadow = true;
	in.model = "claude-3-opus\n\xff";
	in.provider = "anthropic";
	in.exe = "/usr/bin/python3";
	in.user = "ci";
	in.hour = 23;
	in.weekday = 6;
	fuzz_check_decision(p, &in);
	memset(&in, 0, sizeof(in));
	in.max_tokens = -1;
	in.hour = -1;
	in.weekday = -1;
	fuzz_check_decision(p, &in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err1[512], err2[512];
	static struct policy_input_storage st;
	struct policy_input in;
	struct policy *p1, *p2;

	p1 = policy_load_buf(FNAME, (const char *)data, size, err1, sizeof(err1));
	p2 = policy_load_buf(FNAME, (const char *)data, size, err2, sizeof(err2));
	if (!p1 != !p2)
		__builtin_trap();
	if (!p1) {
		if (strcmp(err1, err2) != 0)
			__builtin_trap();
		fuzz_check_error(err1, data, size);
	} else {
		if (policy_rule_count(p1) != policy_rule_count(p2) ||
		    strcmp(policy_rule_text(p1, (int)policy_rule_count(p1) - 1), "else") != 0)
			__builtin_trap();
		for (size_t i = 0; i < policy_rule_count(p1); i++)
			if (strcmp(policy_rule_text(p1, (int)i), policy_rule_text(p2, (int)i)) != 0)
				__builtin_trap();
		fuzz_eval_fixed(p1);
	}
	policy_free(p1);
	policy_free(p2);

	/* The same bytes as a request description. */
	if (policy_input_from_json((const char *)data, size, &st, &in, err1, sizeof(err1)) == 0) {
		if (in.ntags > POLICY_INPUT_MAX_TAGS || in.hour < 0 || in.hour > 23 ||
		    in.weekday < 0 || in.weekday > 6)
			__builtin_trap();
	} else if (strncmp(err1, "request:", 8) != 0) {
		__builtin_trap();
	}
	return 0;
}
