/* taglist: the syntax of a tag list, "name=value,name=value", shared by the configuration's
 * `tags =` and the tag map's rules, so the two never disagree on what a tag may contain. Each
 * caller words its own message. Owns nothing. */
#ifndef MODELUX_TAGLIST_H
#define MODELUX_TAGLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* tag_char - a byte allowed in a tag name or value: A-Z a-z 0-9 _ . : / - */
static inline bool tag_char(char k)
{
	return (k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') || (k >= '0' && k <= '9') ||
	       (k && strchr("_.:/-", k));
}

enum taglist_err {
	TAGLIST_OK,
	TAGLIST_NOT_PAIR, /* a piece is not name=value with both sides non-empty */
	TAGLIST_BAD_CHAR, /* a byte outside tag_char (a second '=' included) */
};

/* taglist_check - whether v[0..n) is name=value pairs separated by ','. With <empty_tail_ok> an
 * empty list and a trailing ',' are accepted. On an error *<at> is where it is. */
static inline enum taglist_err taglist_check(const char *v, size_t n, bool empty_tail_ok,
					     const char **at)
{
	const char *s = v, *end = v + n;

	for (;;) {
		const char *e, *eq;

		if (s == end && empty_tail_ok)
			return TAGLIST_OK;
		e = memchr(s, ',', (size_t)(end - s));
		if (!e)
			e = end;
		eq = memchr(s, '=', (size_t)(e - s));
		if (!eq || eq == s || eq + 1 == e) {
			*at = s;
			return TAGLIST_NOT_PAIR;
		}
		for (const char *k = s; k < e; k++) {
			if (k != eq && !tag_char(*k)) {
				*at = k;
				return TAGLIST_BAD_CHAR;
			}
		}
		if (e == end)
			return TAGLIST_OK;
		s = e + 1;
	}
}

#endif
