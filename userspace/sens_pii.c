/* sens_pii: the checks that turn Hyperscan's PII candidates into detections: the exact token
 * grammar (grouping, separators, boundaries) of emails, phone numbers, payment cards, national
 * ids and IBANs, then the validation math of sens_validate.c. Owns nothing; borrows the text.
 * A check never copies more than a token's separator-free characters into a stack buffer. */

#include <string.h>
#include <strings.h>

#include "sens_int.h"

/* ---- email ---- */

/* Top-level "domains" that are really file extensions: icon@2x.png, bundle@1.0.js. */
static bool is_file_extension(const char *tld, size_t n)
{
	static const char *const exts[] = {
		"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "js", "mjs", "cjs",
		"ts", "tsx", "jsx", "css", "scss", "html", "htm", "json", "xml", "yaml", "yml",
		"md", "txt", "py", "rb", "go", "rs", "java", "kt", "swift", "cpp", "hpp", "cs",
		"php", "sh", "pdf", "zip", "gz", "tgz", "tar", "csv", "log", "lock", "toml",
		"ini", "cfg", "conf", "wasm", "map", "vue", "woff", "ttf",
	};

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (strlen(exts[i]) == n && strncasecmp(exts[i], tld, n) == 0)
			return true;
	}
	return false;
}

/* Whether the word ending before <s> is part of a URL ("scheme://user:pass@host"): what
 * follows is the URL's userinfo and host, not a mail address. */
static bool inside_url(const struct sens_text *t, size_t s)
{
	size_t lo = s > 256 ? s - 256 : 0;

	for (size_t i = s; i-- > lo + 2;) {
		unsigned char c = (unsigned char)t->p[i];

		if (c == ' ' || c == '"' || c == '\\' || c == '\'' || c == '\n' || c == '<')
			return false;
		if (c == '/' && t->p[i - 1] == '/' && t->p[i - 2] == ':')
			return true;
	}
	return false;
}

bool sens_check_email(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p;
	size_t at = s, i, labels = 0, tld = 0;
	bool alnum = false;
	unsigned char next;

	while (at < e && p[at] != '@')
		at++;
	if (at == e || at == s || at - s > 64)
		return false;
	if (p[s] == '.' || p[at - 1] == '.')
		return false;
	for (i = s; i < at; i++) {
		if (!sens_is_email_local((unsigned char)p[i]) || (p[i] == '.' && p[i + 1] == '.'))
			return false;
		alnum |= sens_is_alnum((unsigned char)p[i]);
	}
	if (!alnum)
		return false;
	if (s > 0 && (p[s - 1] == ':' || p[s - 1] == '/') && inside_url(t, s))
		return false;
	for (i = at + 1; i < e;) {
		size_t start = i;

		while (i < e && (sens_is_alnum((unsigned char)p[i]) || p[i] == '-'))
			i++;
		if (i == start || i - start > 63 || p[start] == '-' || p[i - 1] == '-')
			return false;
		labels++;
		tld = start;
		if (i < e) {
			if (p[i] != '.')
				return false;
			i++;
		}
	}
	if (labels < 2 || e - tld < 2 || is_file_extension(p + tld, e - tld))
		return false;
	for (i = tld; i < e; i++) {
		if (!sens_is_alpha((unsigned char)p[i]))
			return false;
	}
	next = sens_at(t, e);
	if (e < t->len && (sens_is_word(next) || next == '-' || next == '@'))
		return false;
	if (next == '.' && sens_is_alnum(sens_at(t, e + 1)))
		return false;
	/* host:path (git@github.com:org/repo) or host:port is not an address either. */
	if (next == ':' && (sens_is_alnum(sens_at(t, e + 1)) || sens_at(t, e + 1) == '/'))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

/* ---- phone numbers ---- */

/* Country calling codes with the length range of their national significant numbers. Codes
 * not listed fall back to a generic E.164 length rule. */
static const struct {
	const char *cc;
	unsigned char nsn_min, nsn_max;
} calling_codes[] = {
	{ "1", 10, 10 },    { "7", 10, 10 },    { "20", 8, 10 },    { "27", 9, 9 },
	{ "30", 10, 10 },   { "31", 9, 9 },     { "32", 8, 9 },     { "33", 9, 9 },
	{ "34", 9, 9 },     { "36", 8, 9 },     { "39", 6, 11 },    { "40", 9, 9 },
	{ "41", 9, 9 },     { "43", 4, 13 },    { "44", 9, 10 },    { "45", 8, 8 },
	{ "46", 7, 10 },    { "47", 8, 8 },     { "48", 9, 9 },     { "49", 6, 13 },
	{ "51", 8, 9 },     { "52", 10, 10 },   { "54", 10, 10 },   { "55", 10, 11 },
	{ "56", 9, 9 },     { "57", 10, 10 },   { "60", 8, 10 },    { "61", 9, 9 },
	{ "62", 8, 12 },    { "63", 8, 10 },    { "64", 8, 10 },    { "65", 8, 8 },
	{ "66", 8, 9 },     { "81", 9, 10 },    { "82", 8, 10 },    { "84", 9, 10 },
	{ "86", 10, 11 },   { "90", 10, 10 },   { "91", 10, 10 },   { "92", 9, 10 },
	{ "351", 9, 9 },    { "352", 6, 11 },   { "353", 7, 9 },    { "354", 7, 9 },
	{ "358", 5, 12 },   { "359", 7, 9 },    { "370", 8, 8 },    { "371", 8, 8 },
	{ "372", 7, 8 },    { "380", 9, 9 },    { "385", 8, 9 },    { "386", 8, 8 },
	{ "420", 9, 9 },    { "421", 9, 9 },    { "852", 8, 8 },    { "886", 8, 9 },
	{ "966", 9, 9 },    { "971", 8, 9 },    { "972", 8, 9 },    { "212", 9, 9 },
	{ "234", 8, 10 },   { "254", 9, 9 },
};

/* A NANP number (10 digits): area and exchange codes start with 2-9 and are not N11. */
static bool nanp_ok(const char *d)
{
	if (d[0] < '2' || d[3] < '2')
		return false;
	if ((d[1] == '1' && d[2] == '1') || (d[4] == '1' && d[5] == '1'))
		return false;
	return true;
}

static bool intl_length_ok(const char *digits, size_t n)
{
	for (size_t i = 0; i < sizeof(calling_codes) / sizeof(calling_codes[0]); i++) {
		size_t cl = strlen(calling_codes[i].cc);

		if (n <= cl || memcmp(digits, calling_codes[i].cc, cl) != 0)
			continue;
		if (n - cl < calling_codes[i].nsn_min || n - cl > calling_codes[i].nsn_max)
			return false;
		return cl != 1 || digits[0] != '1' || nanp_ok(digits + 1);
	}
	/* Unlisted code: E.164 allows up to 15 digits; fewer than 9 is too short to be sure. */
	return n >= 9 && n <= 15;
}

/* "+CC ..." in international notation: digit groups separated by one space, dash or dot,
 * an optional "(0)" trunk prefix or parenthesised area code; country-code length rules. */
bool sens_check_phone_intl(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p;
	char digits[20];
	size_t n = 0, groups = 0, longest = 0, i = s + 1;
	bool want_group = true;

	if (p[s] != '+' || !sens_numeric_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	while (i < e) {
		unsigned char c = (unsigned char)p[i];
		size_t start, len;

		if (c == ' ' || c == '-' || c == '.') {
			if (want_group)
				return false; /* two separators in a row, or one right after '+' */
			want_group = true;
			i++;
			continue;
		}
		if (!want_group && c != '(')
			return false;
		if (c == '(') {
			if (groups == 0)
				return false;
			start = ++i;
			while (i < e && sens_is_digit((unsigned char)p[i]))
				i++;
			len = i - start;
			if (i >= e || p[i] != ')' || len == 0 || len > 4)
				return false;
			i++;
			if (len == 1 && p[start] == '0') { /* "(0)": dropped when dialled from abroad */
				want_group = true;
				continue;
			}
		} else {
			if (!sens_is_digit(c))
				return false;
			start = i;
			while (i < e && sens_is_digit((unsigned char)p[i]))
				i++;
			len = i - start;
		}
		if (n + len > sizeof(digits))
			return false;
		memcpy(digits + n, p + start, len);
		n += len;
		groups++;
		longest = len > longest ? len : longest;
		want_group = false;
	}
	if (want_group || groups > 8 || (groups > 1 && longest < 2))
		return false;
	if (!intl_length_ok(digits, n))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

/* National notations must not be the tail of an international one ("+1 415 ..."). */
static bool national_left_ok(const struct sens_text *t, size_t s)
{
	return sens_numeric_left_ok(t, s) && (s == 0 || t->p[s - 1] != '+');
}

/* Splits [s, e) into digit groups; all separators must be the same byte. Returns the number of
 * groups (0 if malformed or more than <max>), their lengths in <lens>, the digits in <digits>
 * (at least e - s bytes), the separator in <sep> (0 if none). */
static size_t split_groups(const char *p, size_t s, size_t e, const char *seps, size_t *lens,
			   size_t max, char *digits, size_t *ndigits, char *sep)
{
	size_t groups = 0, n = 0;

	*sep = 0;
	for (size_t i = s; i < e;) {
		size_t start = i;

		while (i < e && sens_is_digit((unsigned char)p[i]))
			digits[n++] = p[i++];
		if (i == start || groups == max)
			return 0;
		lens[groups++] = i - start;
		if (i < e) {
			if (!strchr(seps, p[i]) || p[i] == 0 || (*sep && p[i] != *sep))
				return 0;
			*sep = p[i++];
			if (i == e)
				return 0;
		}
	}
	*ndigits = n;
	return groups;
}

/* North American numbers: (415) 555-0132, 415-555-0132, 415.555.0132, 415 555 0132, with an
 * optional leading "1" trunk prefix. */
bool sens_check_phone_nanp(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p;
	char d[10];
	size_t i = s, n = 0;
	char sep1, sep2;

	if (!national_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	if (p[i] == '1' && i + 1 < e && !sens_is_digit((unsigned char)p[i + 1])) {
		i++;
		if (p[i] == ' ' || p[i] == '-' || p[i] == '.')
			i++;
	}
	if (p[i] == '(') {
		if (e - i < 13 || p[i + 4] != ')')
			return false;
		memcpy(d, p + i + 1, 3);
		i += 5;
		if (p[i] == ' ' || p[i] == '-')
			i++;
		sep1 = 0;
	} else {
		if (e - i < 12)
			return false;
		memcpy(d, p + i, 3);
		sep1 = p[i + 3];
		i += 4;
	}
	n = 3;
	if (e - i != 8)
		return false;
	memcpy(d + n, p + i, 3);
	sep2 = p[i + 3];
	memcpy(d + n + 3, p + i + 4, 4);
	for (int k = 0; k < 10; k++) {
		if (!sens_is_digit((unsigned char)d[k]))
			return false;
	}
	if (!strchr(" -.", sep2) || sep2 == 0 || (sep1 && sep1 != sep2))
		return false;
	if (!nanp_ok(d))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

/* UK national numbers: 0 + 9 or 10 digits in the usual groupings (020 7946 0958,
 * 0161 496 0000, 07700 900123, 01632 960 000), always with separators. */
bool sens_check_phone_uk(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	static const unsigned char shapes[][3] = {
		{ 3, 4, 4 }, { 4, 3, 4 }, { 5, 3, 3 }, { 4, 3, 3 }, { 5, 6, 0 }, { 4, 6, 0 }, { 5, 5, 0 },
	};
	char digits[24], sep;
	size_t lens[3], ng, n;

	if (e - s > sizeof(digits) || !national_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	ng = split_groups(t->p, s, e, " -", lens, 3, digits, &n, &sep);
	if (ng < 2 || digits[0] != '0' || !strchr("123789", digits[1]) || digits[1] == 0)
		return false;
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		size_t want = shapes[k][2] ? 3 : 2;

		if (ng == want && lens[0] == shapes[k][0] && lens[1] == shapes[k][1] &&
		    (want == 2 || lens[2] == shapes[k][2])) {
			out->s = s;
			out->e = e;
			return true;
		}
	}
	return false;
}

/* French national numbers: 0X XX XX XX XX with one separator kind throughout. */
bool sens_check_phone_fr(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	char digits[16], sep;
	size_t lens[5], ng, n;

	if (e - s != 14 || !national_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	ng = split_groups(t->p, s, e, " .-", lens, 5, digits, &n, &sep);
	if (ng != 5 || digits[0] != '0' || digits[1] == '0')
		return false;
	for (size_t k = 0; k < 5; k++) {
		if (lens[k] != 2)
			return false;
	}
	out->s = s;
	out->e = e;
	return true;
}

/* ---- payment cards ---- */

bool sens_check_card(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	char digits[24], sep;
	size_t lens[5] = { 0 }, ng, n;

	if (e - s > sizeof(digits) || !sens_numeric_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	ng = split_groups(t->p, s, e, " -", lens, 5, digits, &n, &sep);
	if (ng == 0 || n < 13 || n > 19)
		return false;
	/* Grouped numbers must use a grouping printed on cards: 4-4-4-4(-3), 4-6-5, 4-6-4. */
	if (ng > 1) {
		bool fours = (ng == 4 || (ng == 5 && lens[4] == 3)) && lens[0] == 4 &&
			     lens[1] == 4 && lens[2] == 4 && lens[3] == 4;
		bool amex = ng == 3 && lens[0] == 4 && lens[1] == 6 &&
			    (lens[2] == 5 || lens[2] == 4);

		if (!fours && !amex)
			return false;
		/* More groups on either side: a longer number (tracking, account) printed in fours. */
		if (s >= 2 && t->p[s - 1] == sep && sens_is_digit((unsigned char)t->p[s - 2]))
			return false;
		if (sens_at(t, e) == (unsigned char)sep && sens_is_digit(sens_at(t, e + 1)))
			return false;
	}
	if (!sens_card_iin_ok(digits, n) || !sens_luhn_ok(digits, n))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

/* ---- national ids ---- */

bool sens_check_ssn(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p;
	char d[9];

	if (e - s != 11 || p[s + 3] != '-' || p[s + 6] != '-')
		return false;
	if (!sens_numeric_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	memcpy(d, p + s, 3);
	memcpy(d + 3, p + s + 4, 2);
	memcpy(d + 5, p + s + 7, 4);
	if (!sens_ssn_ok(d))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

/* Copies [s, e) without spaces into <buf> (<cap> bytes); the spaces must sit exactly where
 * <spaced> (a template such as "AA 99 99 99 A") has them, or be absent altogether. */
static bool compact_as(const char *p, size_t s, size_t e, const char *spaced, char *buf,
		       size_t cap)
{
	size_t n = 0, spaced_len = strlen(spaced);

	if (e - s == spaced_len) {
		for (size_t i = 0; i < spaced_len; i++) {
			if ((spaced[i] == ' ') != (p[s + i] == ' '))
				return false;
			if (p[s + i] != ' ')
				buf[n++] = p[s + i];
		}
		return true;
	}
	if (e - s != cap)
		return false;
	for (size_t i = s; i < e; i++) {
		if (p[i] == ' ')
			return false;
		buf[n++] = p[i];
	}
	return true;
}

bool sens_check_nino(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	char nino[9];

	if (!compact_as(t->p, s, e, "AA 99 99 99 A", nino, sizeof(nino)))
		return false;
	if (e < t->len && sens_is_word(sens_at(t, e)))
		return false;
	if (!sens_nino_ok(nino))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

bool sens_check_nir(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	char nir[15];

	if (!compact_as(t->p, s, e, "9 99 99 99 999 999 99", nir, sizeof(nir)))
		return false;
	if (!sens_numeric_left_ok(t, s) || !sens_numeric_right_ok(t, e))
		return false;
	if (!sens_nir_ok(nir))
		return false;
	out->s = s;
	out->e = e;
	return true;
}

/* ---- IBAN ---- */

/* Compact, or printed in groups of four separated by single spaces (the last group shorter). */
bool sens_check_iban(const struct sens_text *t, size_t s, size_t e, struct sens_span *out)
{
	const char *p = t->p;
	char iban[34];
	size_t n = 0, group = 0;
	bool spaced = false;

	if (e < t->len && sens_is_word(sens_at(t, e)))
		return false;
	for (size_t i = s; i < e; i++) {
		if (p[i] == ' ') {
			if (group != 4)
				return false;
			spaced = true;
			group = 0;
			continue;
		}
		if (n == sizeof(iban))
			return false;
		iban[n++] = p[i];
		group++;
	}
	/* Mixed compact and spaced ("DE89370400440532013000" then " 1234") is not one IBAN. */
	if (spaced && group > 4)
		return false;
	if (!sens_iban_ok(iban, n))
		return false;
	out->s = s;
	out->e = e;
	return true;
}
