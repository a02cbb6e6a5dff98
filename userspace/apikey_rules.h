/* apikey_rules: the key-format rule table shared by classification (apikey.c) and the leak
 * scanner (apikey_scan.c). Internal to the apikey module; owns nothing. */
#ifndef MODELUX_APIKEY_RULES_H
#define MODELUX_APIKEY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apikey.h"

enum apikey_charset {
	APIKEY_CS_ALNUM = 1,  /* A-Z a-z 0-9 */
	APIKEY_CS_B64URL,     /* A-Z a-z 0-9 - _ */
	APIKEY_CS_HEX_LOWER,  /* 0-9 a-f */
	APIKEY_CS_JWT,        /* base64url and '.', exactly two dots */
	APIKEY_CS_DOTTED,     /* base64url and '.' */
};

struct apikey_rule {
	const char *prefix;
	uint8_t prefix_len;
	enum apikey_charset cs;
	uint16_t min_body, max_body; /* body = after the prefix; max 0 = unbounded */
	bool fallthrough;            /* prefix matched but body did not fit: try later rules */
	uint8_t min_classes;         /* scanner: how many of upper/lower/digit the body must mix */
	enum apikey_fmt_id fmt;
};

extern const struct apikey_rule apikey_rules[];
extern const size_t apikey_nrules;

bool apikey_cs_has(enum apikey_charset cs, unsigned char c);
/* apikey_rule_match - the rule the whole of <key> fits, or NULL. */
const struct apikey_rule *apikey_rule_match(const char *key, size_t len);

#endif
