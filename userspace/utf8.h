/* utf8: the one UTF-8 decoder and encoder the parsers share (JSON reader, policy, sanctioned-key
 * registry, intercept-log formatting). Owns nothing. */
#ifndef MODELUX_UTF8_H
#define MODELUX_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* utf8_char_len - length of the valid UTF-8 character at s[0..n) (n >= 1): 1 for ASCII, 2-4,
 * or 0 when invalid - overlong forms, encoded surrogates, values above U+10FFFF, a sequence cut
 * by the end of the buffer. */
size_t utf8_char_len(const unsigned char *s, size_t n);

/* utf8_put - encode <cp> (at most U+10FFFF, not a surrogate) at <out>; returns 1-4 bytes. */
size_t utf8_put(unsigned char *out, uint32_t cp);

#endif
