/* hexdigit: the value of one hexadecimal digit, for the parsers that decode %XX, \uXXXX, chunk
 * sizes and fingerprints. */
#ifndef MODELUX_HEXDIGIT_H
#define MODELUX_HEXDIGIT_H

#include <stddef.h>

/* hex_digit_value - 0..15 for [0-9a-fA-F], else -1. */
static inline int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* hex4_at - the four hex digits at s[at..at+4) as 0..0xffff (a \uXXXX escape), or -1 when they
 * are not all hex digits or run past <len>. */
static inline long hex4_at(const char *s, size_t len, size_t at)
{
	long v = 0;

	if (len < 4 || at > len - 4)
		return -1;
	for (size_t i = at; i < at + 4; i++) {
		int h = hex_digit_value((unsigned char)s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

#endif
