/* sens_text: where a detected token may begin and end in raw request bytes. The bodies are JSON
 * text scanned undecoded, so an escape such as \n, \t or \u00a0 separates words even though its
 * last byte is a letter or digit ("call\n415-555-0132"). Owns nothing; borrows the text. */

#include <string.h>

#include "sens_int.h"

/* Backslash runs are judged on this many bytes: enough for any real text, and a body made of
 * backslashes cannot make a boundary check linear in its length. */
#define SENS_BACKSLASH_RUN_MAX 64

bool sens_escaping_backslash(const struct sens_text *t, size_t i)
{
	size_t run = 0;

	while (run < SENS_BACKSLASH_RUN_MAX && run <= i && t->p[i - run] == '\\')
		run++;
	return run % 2 == 1;
}

bool sens_escape_ends_at(const struct sens_text *t, size_t pos)
{
	const char *p = t->p;

	if (pos >= 2 && p[pos - 2] == '\\' && strchr("nrtbf", p[pos - 1]) && p[pos - 1] &&
	    sens_escaping_backslash(t, pos - 2))
		return true;
	if (pos >= 6 && p[pos - 6] == '\\' && p[pos - 5] == 'u' &&
	    sens_is_hex((unsigned char)p[pos - 4]) && sens_is_hex((unsigned char)p[pos - 3]) &&
	    sens_is_hex((unsigned char)p[pos - 2]) && sens_is_hex((unsigned char)p[pos - 1]) &&
	    sens_escaping_backslash(t, pos - 6))
		return true;
	return pos >= 3 && p[pos - 3] == '%' && sens_is_hex((unsigned char)p[pos - 2]) &&
	       sens_is_hex((unsigned char)p[pos - 1]);
}

bool sens_left_ok(const struct sens_text *t, size_t pos, bool (*cont)(unsigned char))
{
	unsigned char c;

	if (pos == 0)
		return true;
	c = (unsigned char)t->p[pos - 1];
	if (c == '\\')
		return !sens_escaping_backslash(t, pos - 1); /* else <pos> is an escape's letter */
	if (!cont(c))
		return true;
	return sens_escape_ends_at(t, pos);
}

/* Bytes that join two numbers into one: 3.1415..., 2024-05-01, 10/12/2024, 12:30. */
static bool is_number_glue(unsigned char c)
{
	return c == '.' || c == '-' || c == '/' || c == ':';
}

bool sens_numeric_left_ok(const struct sens_text *t, size_t s)
{
	unsigned char c, before;

	if (s < 2)
		return true;
	c = (unsigned char)t->p[s - 1];
	before = (unsigned char)t->p[s - 2];
	if (is_number_glue(c) && sens_is_digit(before))
		return false;
	/* "...Qx+4111..." or "...9/4111...": inside a base64 run. */
	if ((c == '+' || c == '/') && sens_is_alnum(before))
		return false;
	return true;
}

bool sens_numeric_right_ok(const struct sens_text *t, size_t e)
{
	unsigned char c, after;

	if (e >= t->len)
		return true;
	c = (unsigned char)t->p[e];
	after = sens_at(t, e + 1);
	if (sens_is_word(c))
		return false;
	if (is_number_glue(c) && sens_is_digit(after))
		return false;
	if ((c == '+' || c == '/') && sens_is_alnum(after))
		return false;
	return true;
}
