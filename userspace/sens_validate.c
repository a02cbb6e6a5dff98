/* sens_validate: the checksum and numbering-plan rules behind the PII detectors: Luhn and issuer
 * prefixes for payment cards, ISO 7064 MOD 97-10 and the per-country lengths for IBANs, and the
 * allocation rules of US SSNs, UK National Insurance numbers and French NIRs. Pure functions over
 * separator-free characters; owns nothing, borrows its inputs. */

#include <string.h>

#include "sens_int.h"

bool sens_luhn_ok(const char *digits, size_t n)
{
	unsigned sum = 0;
	bool twice = false;

	if (n == 0)
		return false;
	for (size_t i = n; i-- > 0;) {
		unsigned d;

		if (!sens_is_digit((unsigned char)digits[i]))
			return false;
		d = (unsigned)(digits[i] - '0');
		if (twice) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		twice = !twice;
	}
	return sum % 10 == 0;
}

/* An issuer range: numbers whose first <width> digits lie in [lo, hi] have one of the lengths
 * min_len..max_len. Ranges from the networks' published IIN tables; UATP (1...) and the
 * small regional schemes are left out, as their prefixes collide with ordinary numbers. */
struct card_range {
	unsigned lo, hi;
	unsigned char width, min_len, max_len;
};

static const struct card_range card_ranges[] = {
	{ 4, 4, 1, 13, 13 },         /* Visa (old 13-digit) */
	{ 4, 4, 1, 16, 16 },         /* Visa */
	{ 4, 4, 1, 19, 19 },         /* Visa */
	{ 51, 55, 2, 16, 16 },       /* Mastercard */
	{ 2221, 2720, 4, 16, 16 },   /* Mastercard 2-series */
	{ 34, 34, 2, 15, 15 },       /* American Express */
	{ 37, 37, 2, 15, 15 },       /* American Express */
	{ 6011, 6011, 4, 16, 19 },   /* Discover */
	{ 644, 649, 3, 16, 19 },     /* Discover */
	{ 65, 65, 2, 16, 19 },       /* Discover */
	{ 300, 305, 3, 14, 19 },     /* Diners Club */
	{ 36, 36, 2, 14, 19 },       /* Diners Club International */
	{ 38, 39, 2, 16, 19 },       /* Diners Club */
	{ 3528, 3589, 4, 16, 19 },   /* JCB */
	{ 62, 62, 2, 16, 19 },       /* UnionPay */
	{ 5018, 5018, 4, 13, 19 },   /* Maestro */
	{ 5020, 5020, 4, 13, 19 },   /* Maestro */
	{ 5038, 5038, 4, 13, 19 },   /* Maestro */
	{ 5893, 5893, 4, 13, 19 },   /* Maestro */
	{ 6304, 6304, 4, 13, 19 },   /* Maestro */
	{ 6759, 6759, 4, 13, 19 },   /* Maestro UK */
	{ 6761, 6763, 4, 13, 19 },   /* Maestro */
	{ 2200, 2204, 4, 16, 19 },   /* Mir */
};

static unsigned leading_value(const char *digits, unsigned width)
{
	unsigned v = 0;

	for (unsigned i = 0; i < width; i++)
		v = v * 10 + (unsigned)(digits[i] - '0');
	return v;
}

bool sens_card_iin_ok(const char *digits, size_t n)
{
	if (n < 13 || n > 19)
		return false;
	for (size_t i = 0; i < sizeof(card_ranges) / sizeof(card_ranges[0]); i++) {
		const struct card_range *r = &card_ranges[i];
		unsigned v = leading_value(digits, r->width);

		if (v >= r->lo && v <= r->hi && n >= r->min_len && n <= r->max_len)
			return true;
	}
	return false;
}

int sens_mod97(const char *s, size_t n)
{
	unsigned r = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (sens_is_digit(c))
			r = (r * 10 + (c - '0')) % 97;
		else if (sens_is_upper(c))
			r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return -1;
	}
	return (int)r;
}

/* IBAN lengths: every SEPA country plus a few others that are common in European payments. */
static const struct {
	char cc[3];
	unsigned char len;
} iban_lengths[] = {
	{ "AD", 24 }, { "AE", 23 }, { "AL", 28 }, { "AT", 20 }, { "BA", 20 }, { "BE", 16 },
	{ "BG", 22 }, { "BH", 22 }, { "BR", 29 }, { "CH", 21 }, { "CY", 28 }, { "CZ", 24 },
	{ "DE", 22 }, { "DK", 18 }, { "EE", 20 }, { "ES", 24 }, { "FI", 18 }, { "FO", 18 },
	{ "FR", 27 }, { "GB", 22 }, { "GE", 22 }, { "GI", 23 }, { "GL", 18 }, { "GR", 27 },
	{ "HR", 21 }, { "HU", 28 }, { "IE", 22 }, { "IL", 23 }, { "IS", 26 }, { "IT", 27 },
	{ "KW", 30 }, { "KZ", 20 }, { "LB", 28 }, { "LI", 21 }, { "LT", 20 }, { "LU", 20 },
	{ "LV", 21 }, { "MC", 27 }, { "MD", 24 }, { "ME", 22 }, { "MK", 19 }, { "MT", 31 },
	{ "NL", 18 }, { "NO", 15 }, { "PK", 24 }, { "PL", 28 }, { "PT", 25 }, { "QA", 29 },
	{ "RO", 24 }, { "RS", 22 }, { "SA", 24 }, { "SE", 24 }, { "SI", 19 }, { "SK", 24 },
	{ "SM", 27 }, { "TN", 24 }, { "TR", 26 }, { "UA", 29 }, { "VA", 22 }, { "XK", 20 },
};

unsigned sens_iban_length(const char cc[2])
{
	for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++) {
		if (iban_lengths[i].cc[0] == cc[0] && iban_lengths[i].cc[1] == cc[1])
			return iban_lengths[i].len;
	}
	return 0;
}

bool sens_iban_ok(const char *iban, size_t n)
{
	char moved[34];

	if (n < 5 || n > sizeof(moved) || sens_iban_length(iban) != n)
		return false;
	if (!sens_is_digit((unsigned char)iban[2]) || !sens_is_digit((unsigned char)iban[3]))
		return false;
	/* The check is computed with the country code and check digits moved to the end. */
	memcpy(moved, iban + 4, n - 4);
	memcpy(moved + n - 4, iban, 4);
	return sens_mod97(moved, n) == 1;
}

bool sens_ssn_ok(const char d[9])
{
	unsigned area, group, serial;

	for (int i = 0; i < 9; i++) {
		if (!sens_is_digit((unsigned char)d[i]))
			return false;
	}
	area = leading_value(d, 3);
	group = leading_value(d + 3, 2);
	serial = leading_value(d + 5, 4);
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool sens_nino_ok(const char nino[9])
{
	static const char *const bad_prefixes[] = { "BG", "GB", "KN", "NK", "NT", "TN", "ZZ" };
	char a = nino[0], b = nino[1];

	if (!sens_is_upper((unsigned char)a) || !sens_is_upper((unsigned char)b))
		return false;
	if (strchr("DFIQUV", a) || strchr("DFIOQUV", b))
		return false;
	for (size_t i = 0; i < sizeof(bad_prefixes) / sizeof(bad_prefixes[0]); i++) {
		if (a == bad_prefixes[i][0] && b == bad_prefixes[i][1])
			return false;
	}
	for (int i = 2; i < 8; i++) {
		if (!sens_is_digit((unsigned char)nino[i]))
			return false;
	}
	return nino[8] >= 'A' && nino[8] <= 'D';
}

bool sens_nir_ok(const char nir[15])
{
	char digits[13];
	unsigned month, commune, order, key;
	int rem;

	/* Sex: 1 or 2, or 7/8 for the temporary numbers given before registration. */
	if (!strchr("1278", nir[0]) || nir[0] == 0)
		return false;
	memcpy(digits, nir, 13);
	/* Corsica (2A, 2B) counts as 19 and 18 in the key. */
	if (nir[5] == '2' && (nir[6] == 'A' || nir[6] == 'B')) {
		digits[5] = '1';
		digits[6] = nir[6] == 'A' ? '9' : '8';
	}
	for (int i = 0; i < 13; i++) {
		if (!sens_is_digit((unsigned char)digits[i]))
			return false;
	}
	if (!sens_is_digit((unsigned char)nir[13]) || !sens_is_digit((unsigned char)nir[14]))
		return false;
	/* Month 01-12, or the codes INSEE uses when the month is unknown (20, 30-42, 50-99). */
	month = leading_value(digits + 3, 2);
	if (!((month >= 1 && month <= 12) || month == 20 || (month >= 30 && month <= 42) ||
	      month >= 50))
		return false;
	if (nir[5] == '0' && nir[6] == '0')
		return false;
	commune = leading_value(digits + 7, 3);
	order = leading_value(digits + 10, 3);
	if (commune == 0 || order == 0)
		return false;
	rem = sens_mod97(digits, 13);
	key = leading_value(nir + 13, 2);
	return rem >= 0 && key == 97u - (unsigned)rem;
}
