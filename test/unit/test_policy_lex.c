/* test_policy_lex: the condition tokenizer (token kinds, ranges, decoded literals, the errors
 * and the byte they point at) and the number and weekday readers shared with the evaluator.
 * Uses policy_int.h: the lexer is a unit of its own with its own contract. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <string.h>

#include "policy_int.h"

struct lexed {
	struct arena a;
	struct pol_token t[32];
	size_t n;
};

/* Tokenize <s> completely (through PT_EOF); fail the test on a lexical error. */
static void lex_all(const char *s, struct lexed *out)
{
	struct pol_lexer lx;

	arena_init(&out->a, 1 << 20);
	pol_lex_init(&lx, s, strlen(s), &out->a);
	out->n = 0;
	for (;;) {
		assert_true(out->n < 32);
		if (!pol_lex_next(&lx, &out->t[out->n]))
			fail_msg("lex error on \"%s\" at %u: %s", s, lx.err_at, lx.msg);
		if (out->t[out->n++].type == PT_EOF)
			break;
	}
}

/* The first lexical error of <s>: its byte offset and message. */
static void lex_error(const char *s, uint32_t at, const char *msg)
{
	struct pol_lexer lx;
	struct pol_token t;
	struct arena a;

	arena_init(&a, 1 << 20);
	pol_lex_init(&lx, s, strlen(s), &a);
	for (int i = 0; i < 64; i++) {
		if (!pol_lex_next(&lx, &t)) {
			assert_string_equal(lx.msg, msg);
			assert_int_equal(lx.err_at, at);
			arena_release(&a);
			return;
		}
		if (t.type == PT_EOF)
			break;
	}
	arena_release(&a);
	fail_msg("\"%s\" was accepted, expected: %s", s, msg);
}

static void test_operators_and_ranges(void **state)
{
	static const uint8_t want[] = {PT_LPAREN, PT_IDENT,    PT_EQ,	 PT_NE,	      PT_LT,
				       PT_LE,	  PT_GT,       PT_GE,	 PT_AND,      PT_OR,
				       PT_NOT,	  PT_LBRACKET, PT_COMMA, PT_RBRACKET, PT_RPAREN,
				       PT_IN,	  PT_EOF};
	struct lexed l;

	lex_all("(a ==!=< <=>>=&&||![,]) in", &l);
	assert_int_equal(l.n, sizeof(want));
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.t[i].type, want[i]);
	/* "<=" then ">" then ">=": longest operator first, ranges exact. */
	assert_int_equal(l.t[5].start, 9);
	assert_int_equal(l.t[5].end, 11);
	assert_int_equal(l.t[6].start, 11);
	assert_int_equal(l.t[7].start, 12);
	assert_int_equal(l.t[16].start, 26);
	arena_release(&l.a);
}

static void test_identifiers_and_keywords(void **state)
{
	struct lexed l;

	lex_all(" tags.cost-center request.max_tokens true false null in intake x_1", &l);
	assert_int_equal(l.t[0].type, PT_IDENT);
	assert_int_equal(l.t[0].len, 16);
	assert_memory_equal(l.t[0].str, "tags.cost-center", 16);
	assert_int_equal(l.t[0].start, 1);
	assert_int_equal(l.t[0].end, 17);
	assert_int_equal(l.t[1].type, PT_IDENT);
	assert_int_equal(l.t[2].type, PT_TRUE);
	assert_int_equal(l.t[3].type, PT_FALSE);
	assert_int_equal(l.t[4].type, PT_NULL);
	assert_int_equal(l.t[5].type, PT_IN);
	assert_int_equal(l.t[6].type, PT_IDENT); /* "intake" is not "in" */
	assert_int_equal(l.t[7].type, PT_IDENT);
	assert_int_equal(l.t[8].type, PT_EOF);
	arena_release(&l.a);
}

static void test_strings(void **state)
{
	struct lexed l;

	lex_all("'a\\'b' \"c\\\"d\" 'x\\\\y\\n\\t\\r' '\\u00e9\\u20ac' '' \"it's\"", &l);
	assert_int_equal(l.t[0].type, PT_STRING);
	assert_string_equal(l.t[0].str, "a'b");
	assert_int_equal(l.t[0].start, 0);
	assert_int_equal(l.t[0].end, 6);
	assert_string_equal(l.t[1].str, "c\"d");
	assert_string_equal(l.t[2].str, "x\\y\n\t\r");
	assert_string_equal(l.t[3].str, "\xc3\xa9\xe2\x82\xac");
	assert_int_equal(l.t[3].len, 5);
	assert_int_equal(l.t[4].len, 0);
	assert_string_equal(l.t[4].str, "");
	assert_string_equal(l.t[5].str, "it's");
	arena_release(&l.a);
}

static void test_numbers(void **state)
{
	struct lexed l;

	lex_all("0 0.9 -1 1e3 2.5E-2 >-3", &l);
	assert_int_equal(l.t[0].type, PT_NUMBER);
	assert_true(l.t[0].num == 0);
	assert_true(l.t[1].num == 0.9);
	assert_true(l.t[2].num == -1);
	assert_true(l.t[3].num == 1000);
	assert_true(l.t[4].num == 0.025);
	assert_int_equal(l.t[5].type, PT_GT);
	assert_true(l.t[6].num == -3);
	arena_release(&l.a);
}

static void test_errors(void **state)
{
	lex_error("a = 1", 2, "'=' is not an operator: use '==' to compare");
	lex_error("a & b", 2, "'&' is not an operator: use '&&'");
	lex_error("a | b", 2, "'|' is not an operator: use '||'");
	lex_error("x == 'abc", 5, "unterminated string (missing closing ')");
	lex_error("x == \"abc'", 5, "unterminated string (missing closing \")");
	lex_error("'a\\qb'", 2, "unknown escape (use \\\\ \\' \\\" \\n \\t \\r or \\uXXXX)");
	lex_error("'\\u00g0'", 1,
		  "\\u needs four hex digits naming a character other than NUL "
		  "or a surrogate");
	lex_error("'\\u0000'", 1,
		  "\\u needs four hex digits naming a character other than NUL "
		  "or a surrogate");
	lex_error("'\\ud800'", 1,
		  "\\u needs four hex digits naming a character other than NUL "
		  "or a surrogate");
	lex_error("x > 1.", 4, "invalid number");
	lex_error("x > 1.2.3", 4, "invalid number");
	lex_error("x > 12abc", 4, "invalid number");
	lex_error("x > .5", 4, "invalid number");
	lex_error("x > 1e999", 4, "invalid number");
	lex_error("a # b", 2, "unexpected character '#'");
	lex_error("a \xc3\xa9", 2, "unexpected character (byte 0xc3)");
	lex_error("tags.", 4, "a name cannot end with '.'");
	lex_error("a ~ b", 2, "unexpected character '~'");
}

static void test_pol_number(void **state)
{
	double v = 0;

	assert_true(pol_number("42", 2, &v));
	assert_true(v == 42);
	assert_true(pol_number("-0.5", 4, &v));
	assert_true(v == -0.5);
	assert_true(pol_number("1e2", 3, &v));
	assert_true(v == 100);
	assert_false(pol_number("", 0, &v));
	assert_false(pol_number(" 1", 2, &v));
	assert_false(pol_number("1 ", 2, &v));
	assert_false(pol_number("+1", 2, &v));
	assert_false(pol_number("0x10", 4, &v));
	assert_false(pol_number("nan", 3, &v));
	assert_false(pol_number("inf", 3, &v));
	assert_false(pol_number("1e400", 5, &v));
	assert_false(pol_number("high", 4, &v));
}

static void test_pol_weekday(void **state)
{
	assert_int_equal(pol_weekday("sun", 3), 0);
	assert_int_equal(pol_weekday("Monday", 6), 1);
	assert_int_equal(pol_weekday("TUE", 3), 2);
	assert_int_equal(pol_weekday("wednesday", 9), 3);
	assert_int_equal(pol_weekday("sat", 3), 6);
	assert_int_equal(pol_weekday("saturday", 8), 6);
	assert_int_equal(pol_weekday("satur", 5), -1);
	assert_int_equal(pol_weekday("su", 2), -1);
	assert_int_equal(pol_weekday("funday", 6), -1);
	assert_int_equal(pol_weekday("", 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_operators_and_ranges),
	    cmocka_unit_test(test_identifiers_and_keywords),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_pol_number),
	    cmocka_unit_test(test_pol_weekday),
	};

	return cmocka_run_group_tests_name("policy_lex", tests, NULL, NULL);
}
