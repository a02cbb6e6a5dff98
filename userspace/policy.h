/* policy: the policy DSL (policy/README.md) compiled once per load into an immutable, refcounted
 * struct policy, and an allocation-free evaluator that routes one request to a group's decision.
 * Owns the compiled policy; borrows struct policy_input (and the strings it points to) per call. */
#ifndef MODELUX_POLICY_H
#define MODELUX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_BYTES (1024 * 1024) /* a policy file larger than this is refused */
#define POLICY_REASON_MAX 256

struct policy;

/* One request tag (tags.<name> in the DSL). A NULL value is the same as a missing tag. */
struct policy_tag {
	const char *name, *value;
};

/* What the DSL can see of a request. Strings may be NULL (unknown: the DSL's null). Borrowed for
 * the duration of one policy_eval()/policy_explain() call. */
struct policy_input {
	const struct policy_tag *tags;
	size_t ntags;
	bool has_budget;	     /* false: budget.* are null */
	double budget_used_pct;	     /* 0..1, may exceed 1; NaN = unknown (null) */
	double budget_remaining_usd; /* NaN = unknown (null) */
	const char *provider;	     /* configured provider name, e.g. "openai" */
	const char *model;	     /* model named by the request; NULL when it names none */
	const char *endpoint; /* request path without the query, e.g. "/v1/chat/completions" */
	bool stream;
	int64_t max_tokens; /* negative = unknown (null) */
	const char *exe, *user;
	bool key_shadow;	  /* the API key is not a sanctioned (registered) key */
	const char *key_provider; /* provider the key belongs to */
	int hour;		  /* 0..23 local time; negative = unknown (null) */
	int weekday;		  /* 0 = Sunday .. 6 = Saturday; negative = unknown (null) */
};

enum policy_action { POLICY_ALLOW = 1, POLICY_DOWNGRADE, POLICY_BLOCK };

struct policy_decision {
	enum policy_action action;
	int rule_index;	   /* the rule that matched (0-based; the else rule included) */
	const char *group; /* "@name" of that rule's group; owned by the policy */
	const char
	    *model; /* DOWNGRADE: the model to send instead (owned by the policy); else NULL */
	char reason[POLICY_REASON_MAX]; /* one line of valid UTF-8, e.g. "model gpt-4o is not
					 * allowed in @cheap (allowed: gpt-4o-mini)" */
};

/* policy_load_buf - compile <len> bytes of <text>, named <name> in error messages. Returns a
 * policy holding one reference, or NULL with "name:line:col: where: message" in <err>. */
struct policy *policy_load_buf(const char *name, const char *text, size_t len, char *err,
			       size_t errlen);

/* policy_load_file - read and compile the file at <path>; same contract as policy_load_buf. */
struct policy *policy_load_file(const char *path, char *err, size_t errlen);

/* policy_ref - take one more reference to <p> (atomic: a reload may drop the last reference held
 * by the agent while workers still hold theirs). Returns <p>. */
struct policy *policy_ref(struct policy *p);

/* policy_free - drop one reference; the last one frees the policy. NULL is ignored. */
void policy_free(struct policy *p);

/* policy_eval - route <in> through the rules (first match wins) and the matched group. Never
 * allocates; thread-safe on a shared policy. Returns 0, or -EINVAL for NULL arguments. */
int policy_eval(const struct policy *p, const struct policy_input *in, struct policy_decision *out);

/* policy_explain - the same evaluation, written to <buf> as a human-readable trace: every rule
 * tried with each comparison, the values it saw and its result, the matching rule, how the group
 * decided, and the decision. Returns the length of the full trace (as snprintf does: a result >=
 * <cap> means it was truncated; <buf> is always NUL-terminated when <cap> > 0), or -EINVAL. */
int policy_explain(const struct policy *p, const struct policy_input *in, char *buf, size_t cap);

/* policy_rule_count - number of rules, the else rule included. */
size_t policy_rule_count(const struct policy *p);

/* policy_rule_text - the condition of rule <idx> as written ("else" for the else rule), or NULL
 * when <idx> is out of range. Owned by the policy. */
const char *policy_rule_text(const struct policy *p, int idx);

/* policy_action_name - "allow", "downgrade" or "block". */
const char *policy_action_name(enum policy_action a);

/* Storage that policy_input_from_json() fills and the resulting struct policy_input points into. */
#define POLICY_INPUT_MAX_TAGS 64
#define POLICY_INPUT_STRINGS 8192
struct policy_input_storage {
	struct policy_tag tags[POLICY_INPUT_MAX_TAGS];
	char strings[POLICY_INPUT_STRINGS];
};

/* policy_input_from_json - fill <in> from a JSON request description (for `modeluxctl policy
 * explain FILE --request JSON`), e.g.
 *   {"tags":{"team":"support"},"budget":{"used_pct":0.95,"remaining_usd":3},
 *    "request":{"provider":"openai","model":"gpt-4o","endpoint":"/v1/chat/completions",
 *               "stream":true,"max_tokens":100},
 *    "process":{"exe":"/usr/bin/python3","user":"alice"},"key":{"shadow":true,"provider":"openai"},
 *    "time":{"hour":10,"weekday":1}}
 * Every section and field is optional; absent means unknown (null), except "time", which
 * defaults to the current local time, and the booleans, which default to false. "weekday" is
 * 0..6 (0 = Sunday) or a day name ("mon", "Monday"). Unknown fields are errors. Strings in <in>
 * point into <st>. Returns 0, or -EINVAL with "request:line:col: message" in <err>. */
int policy_input_from_json(const char *json, size_t len, struct policy_input_storage *st,
			   struct policy_input *in, char *err, size_t errlen);

#endif
