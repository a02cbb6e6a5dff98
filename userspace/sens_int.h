/* sens_int: what the sens_*.c files share: the text and span types, byte classes, the JSON-escape
 * boundary rule, the validation math (sens_validate.c) and the per-detector checks (sens_pii.c,
 * sens_secret.c) that sens_scan.c calls on Hyperscan's candidates. Internal; owns nothing. */
#ifndef MODELUX_SENS_INT_H
#define MODELUX_SENS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sens.h"

/* The bytes being scanned (borrowed). */
struct sens_text {
	const char *p;
	size_t len;
};

/* A validated occurrence, [s, e) in the text; used only to count each occurrence once. */
struct sens_span {
	size_t s, e;
};

/* A detector check: <s> is a candidate start whose left boundary the scanner has already
 * accepted (see sens_left_ok), <e> the end Hyperscan reported. Returns true when the text there
 * is a real occurrence and sets <out> to its extent (which may reach past <e> when the detector
 * reads on, e.g. a password's value or a JWT's signature). */
typedef bool (*sens_check_fn)(const struct sens_text *t, size_t s, size_t e,
			      struct sens_span *out);

/* ---- byte classes ---- */

static inline bool sens_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool sens_is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static inline bool sens_is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static inline bool sens_is_alpha(unsigned char c)
{
	return sens_is_upper(c) || sens_is_lower(c);
}

static inline bool sens_is_alnum(unsigned char c)
{
	return sens_is_alpha(c) || sens_is_digit(c);
}

/* Identifier characters: a token touching one of these on the left continues a longer word. */
static inline bool sens_is_word(unsigned char c)
{
	return sens_is_alnum(c) || c == '_';
}

static inline bool sens_is_hex(unsigned char c)
{
	return sens_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Characters of an email address's local part (RFC 5322 dot-atoms as people write them). */
static inline bool sens_is_email_local(unsigned char c)
{
	return sens_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static inline bool sens_is_b64url(unsigned char c)
{
	return sens_is_alnum(c) || c == '-' || c == '_';
}

static inline unsigned char sens_at(const struct sens_text *t, size_t i)
{
	return i < t->len ? (unsigned char)t->p[i] : 0;
}

/* ---- boundaries (sens_scan.c) ---- */

/* sens_escaping_backslash - whether the '\' at <i> escapes the next byte (an odd run of
 * backslashes ends at <i>). Runs longer than a few dozen bytes are judged on their tail. */
bool sens_escaping_backslash(const struct sens_text *t, size_t i);

/* sens_escape_ends_at - whether a JSON escape (\n \r \t \b \f \/ \uXXXX) or a URL %XX escape
 * ends right before <pos>: such an escape is a separator in the decoded text, so a token may
 * start at <pos> even though the byte before it is a letter or digit. */
bool sens_escape_ends_at(const struct sens_text *t, size_t pos);

/* sens_left_ok - whether a token may start at <pos>: the byte before is not in the token's
 * class (<cont>) and is not an escaping backslash, or an escape ends right before <pos>. */
bool sens_left_ok(const struct sens_text *t, size_t pos, bool (*cont)(unsigned char));

/* Numeric tokens (phones, cards, ids): not glued to a longer number such as a decimal
 * fraction, a date or a dotted/dashed code, nor inside a base64 run. */
bool sens_numeric_left_ok(const struct sens_text *t, size_t s);
bool sens_numeric_right_ok(const struct sens_text *t, size_t e);

/* ---- validation math (sens_validate.c); inputs are already stripped of separators ---- */

/* sens_luhn_ok - the Luhn check over <n> ASCII digits. */
bool sens_luhn_ok(const char *digits, size_t n);
/* sens_card_iin_ok - whether <n> digits start with a known issuer prefix (Visa, Mastercard,
 * Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir) valid for that length. */
bool sens_card_iin_ok(const char *digits, size_t n);
/* sens_mod97 - the ISO 7064 MOD 97-10 remainder of <n> digits and letters (A=10 ... Z=35);
 * -1 if a byte is neither. */
int sens_mod97(const char *s, size_t n);
/* sens_iban_ok - <n> uppercase characters: known country, that country's length, mod-97 == 1. */
bool sens_iban_ok(const char *iban, size_t n);
/* sens_iban_length - the IBAN length of country <cc> (two uppercase letters), 0 if unknown. */
unsigned sens_iban_length(const char cc[2]);
/* sens_ssn_ok - nine digits: area not 000/666/9xx, group not 00, serial not 0000. */
bool sens_ssn_ok(const char digits[9]);
/* sens_nino_ok - nine characters "AB123456C": HMRC's prefix letter rules, suffix A-D. */
bool sens_nino_ok(const char nino[9]);
/* sens_nir_ok - fifteen characters (digits, department 2A/2B allowed): sex, month, department,
 * commune and order plausible and key == 97 - (first 13 mod 97). */
bool sens_nir_ok(const char nir[15]);

/* ---- detector checks ---- */

bool sens_check_email(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_phone_intl(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_phone_nanp(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_phone_uk(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_phone_fr(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_card(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_ssn(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_nino(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_nir(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_iban(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);

bool sens_check_aws_key_id(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_aws_secret(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_github(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_slack(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_stripe(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_google_oauth(const struct sens_text *t, size_t s, size_t e,
			     struct sens_span *out);
bool sens_check_private_key(const struct sens_text *t, size_t s, size_t e,
			    struct sens_span *out);
bool sens_check_jwt(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_password(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);
bool sens_check_db_url(const struct sens_text *t, size_t s, size_t e, struct sens_span *out);

#endif
