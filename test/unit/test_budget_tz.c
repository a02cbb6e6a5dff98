/* test_budget_tz: time zones and calendar windows through the public API: real TZif files from
 * /usr/share/zoneinfo (DST days of 23 and 25 hours, a midnight inside a DST gap, a skipped day,
 * southern and half-hour zones), month, week and year boundaries, the POSIX footer rule, offsets
 * cross-checked against glibc's own reading of the same files, and rejected inputs. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"

#define H 3600
#define DAY 86400

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };

	return (int64_t)timegm(&tm);
}

static struct budget_tz *zone(const char *name)
{
	struct budget_tz *tz = NULL;
	char err[256];

	if (!budget_tz_load(name, NULL, &tz, err, sizeof(err)))
		fail_msg("%s", err);
	return tz;
}

static void bounds(const struct budget_tz *tz, enum budget_window k, int64_t t, int64_t *s,
		   int64_t *e)
{
	budget_window_bounds(tz, k, t, s, e);
	assert_true(*s <= t);
	assert_true(t < *e);
}

/* The window holding <t> is [s, e), and the windows on either side meet it exactly. */
static void check_window(const struct budget_tz *tz, enum budget_window k, int64_t t,
			 int64_t want_s, int64_t want_e)
{
	int64_t s, e, s2, e2;

	bounds(tz, k, t, &s, &e);
	assert_int_equal(s, want_s);
	assert_int_equal(e, want_e);
	bounds(tz, k, s, &s2, &e2); /* first second */
	assert_int_equal(s2, s);
	assert_int_equal(e2, e);
	bounds(tz, k, e - 1, &s2, &e2); /* last second */
	assert_int_equal(s2, s);
	assert_int_equal(e2, e);
	bounds(tz, k, s - 1, &s2, &e2); /* previous window ends where this starts */
	assert_int_equal(e2, s);
	bounds(tz, k, e, &s2, &e2); /* next starts where this ends */
	assert_int_equal(s2, e);
}

static void test_utc(void **state)
{
	const struct budget_tz *tz = budget_tz_utc();
	int64_t t = utc(2026, 3, 29, 12, 0, 0);

	assert_string_equal(budget_tz_name(tz), "UTC");
	assert_int_equal(budget_tz_offset(tz, t), 0);
	check_window(tz, BUDGET_WINDOW_DAILY, t, utc(2026, 3, 29, 0, 0, 0), utc(2026, 3, 30, 0, 0, 0));
	/* 2026-03-29 is a Sunday: the week began on Monday the 23rd */
	check_window(tz, BUDGET_WINDOW_WEEKLY, t, utc(2026, 3, 23, 0, 0, 0), utc(2026, 3, 30, 0, 0, 0));
	check_window(tz, BUDGET_WINDOW_MONTHLY, t, utc(2026, 3, 1, 0, 0, 0), utc(2026, 4, 1, 0, 0, 0));
	/* "UTC" needs no file */
	struct budget_tz *u = zone("UTC");

	assert_ptr_equal(u, budget_tz_utc());
	budget_tz_free(u);
}

static void test_paris_spring_day_is_23h(void **state)
{
	struct budget_tz *tz = zone("Europe/Paris");
	int64_t t = utc(2026, 3, 29, 12, 0, 0), s, e;

	/* 2026-03-29 00:00+01:00 to 2026-03-30 00:00+02:00 */
	check_window(tz, BUDGET_WINDOW_DAILY, t, utc(2026, 3, 28, 23, 0, 0),
		     utc(2026, 3, 29, 22, 0, 0));
	bounds(tz, BUDGET_WINDOW_DAILY, t, &s, &e);
	assert_int_equal(e - s, 23 * H);
	assert_int_equal(budget_tz_offset(tz, utc(2026, 3, 29, 0, 59, 59)), 1 * H);
	assert_int_equal(budget_tz_offset(tz, utc(2026, 3, 29, 1, 0, 0)), 2 * H);
	/* the days around it are 24 h */
	bounds(tz, BUDGET_WINDOW_DAILY, t - DAY, &s, &e);
	assert_int_equal(e - s, 24 * H);
	bounds(tz, BUDGET_WINDOW_DAILY, t + DAY, &s, &e);
	assert_int_equal(e - s, 24 * H);
	/* its week (Monday 23rd to Monday 30th) is an hour short too */
	check_window(tz, BUDGET_WINDOW_WEEKLY, t, utc(2026, 3, 22, 23, 0, 0),
		     utc(2026, 3, 29, 22, 0, 0));
	/* and March: 2026-03-01 00:00+01:00 to 2026-04-01 00:00+02:00 */
	check_window(tz, BUDGET_WINDOW_MONTHLY, t, utc(2026, 2, 28, 23, 0, 0),
		     utc(2026, 3, 31, 22, 0, 0));
	budget_tz_free(tz);
}

static void test_paris_autumn_day_is_25h(void **state)
{
	struct budget_tz *tz = zone("Europe/Paris");
	int64_t t = utc(2026, 10, 25, 12, 0, 0), s, e;

	check_window(tz, BUDGET_WINDOW_DAILY, t, utc(2026, 10, 24, 22, 0, 0),
		     utc(2026, 10, 25, 23, 0, 0));
	bounds(tz, BUDGET_WINDOW_DAILY, t, &s, &e);
	assert_int_equal(e - s, 25 * H);
	/* 02:30 local happens twice; both belong to the 25th */
	bounds(tz, BUDGET_WINDOW_DAILY, utc(2026, 10, 25, 0, 30, 0), &s, &e);
	assert_int_equal(s, utc(2026, 10, 24, 22, 0, 0));
	bounds(tz, BUDGET_WINDOW_DAILY, utc(2026, 10, 25, 1, 30, 0), &s, &e);
	assert_int_equal(s, utc(2026, 10, 24, 22, 0, 0));
	/* October: 1st 00:00+02:00 to November 1st 00:00+01:00 */
	check_window(tz, BUDGET_WINDOW_MONTHLY, t, utc(2026, 9, 30, 22, 0, 0),
		     utc(2026, 10, 31, 23, 0, 0));
	budget_tz_free(tz);
}

static void test_month_and_year_boundaries(void **state)
{
	struct budget_tz *tz = zone("Europe/Paris");
	int64_t s, e;

	/* last second of January local is still January */
	bounds(tz, BUDGET_WINDOW_MONTHLY, utc(2026, 1, 31, 22, 59, 59), &s, &e);
	assert_int_equal(s, utc(2025, 12, 31, 23, 0, 0));
	assert_int_equal(e, utc(2026, 1, 31, 23, 0, 0));
	/* 23:30Z on Jan 31 is already February 00:30 in Paris */
	bounds(tz, BUDGET_WINDOW_MONTHLY, utc(2026, 1, 31, 23, 30, 0), &s, &e);
	assert_int_equal(s, utc(2026, 1, 31, 23, 0, 0));
	assert_int_equal(e, utc(2026, 2, 28, 23, 0, 0));
	/* leap February: 29 days */
	bounds(tz, BUDGET_WINDOW_MONTHLY, utc(2028, 2, 15, 0, 0, 0), &s, &e);
	assert_int_equal(e - s, 29 * DAY);
	bounds(tz, BUDGET_WINDOW_MONTHLY, utc(2100, 2, 15, 0, 0, 0), &s, &e);
	assert_int_equal(e - s, 28 * DAY); /* 2100 is not a leap year */
	/* December runs into the next year */
	check_window(tz, BUDGET_WINDOW_MONTHLY, utc(2026, 12, 31, 12, 0, 0),
		     utc(2026, 11, 30, 23, 0, 0), utc(2026, 12, 31, 23, 0, 0));
	/* a week across the new year: Thursday 2026-01-01 is in the week of Monday 2025-12-29 */
	check_window(tz, BUDGET_WINDOW_WEEKLY, utc(2026, 1, 1, 12, 0, 0),
		     utc(2025, 12, 28, 23, 0, 0), utc(2026, 1, 4, 23, 0, 0));
	/* Sunday 23:59:59 local is the end of the week, Monday 00:00 the start of the next */
	bounds(tz, BUDGET_WINDOW_WEEKLY, utc(2026, 1, 4, 22, 59, 59), &s, &e);
	assert_int_equal(e, utc(2026, 1, 4, 23, 0, 0));
	bounds(tz, BUDGET_WINDOW_WEEKLY, utc(2026, 1, 4, 23, 0, 0), &s, &e);
	assert_int_equal(s, utc(2026, 1, 4, 23, 0, 0));
	budget_tz_free(tz);
}

static void test_other_zones(void **state)
{
	struct budget_tz *ny = zone("America/New_York"), *syd = zone("Australia/Sydney");
	struct budget_tz *kol = zone("Asia/Kolkata"), *lh = zone("Australia/Lord_Howe");
	int64_t s, e;

	/* New York springs forward on 2026-03-08 */
	check_window(ny, BUDGET_WINDOW_DAILY, utc(2026, 3, 8, 17, 0, 0), utc(2026, 3, 8, 5, 0, 0),
		     utc(2026, 3, 9, 4, 0, 0));
	/* Sydney (southern): DST ends 2026-04-05 (25 h), starts 2026-10-04 (23 h) */
	bounds(syd, BUDGET_WINDOW_DAILY, utc(2026, 4, 5, 2, 0, 0), &s, &e);
	assert_int_equal(s, utc(2026, 4, 4, 13, 0, 0));
	assert_int_equal(e - s, 25 * H);
	bounds(syd, BUDGET_WINDOW_DAILY, utc(2026, 10, 4, 2, 0, 0), &s, &e);
	assert_int_equal(s, utc(2026, 10, 3, 14, 0, 0));
	assert_int_equal(e - s, 23 * H);
	/* Kolkata, +05:30 */
	check_window(kol, BUDGET_WINDOW_DAILY, utc(2026, 3, 29, 12, 0, 0),
		     utc(2026, 3, 28, 18, 30, 0), utc(2026, 3, 29, 18, 30, 0));
	/* Lord Howe moves by half an hour: 2026-04-05 is 24.5 h */
	bounds(lh, BUDGET_WINDOW_DAILY, utc(2026, 4, 5, 2, 0, 0), &s, &e);
	assert_int_equal(e - s, 24 * H + 30 * 60);
	budget_tz_free(ny);
	budget_tz_free(syd);
	budget_tz_free(kol);
	budget_tz_free(lh);
}

/* Samoa skipped 2011-12-30 (from -10 to +14) and Brazil moved clocks at midnight: the day
 * starts at the first instant that reads that date, at the end of the gap. */
static void test_skipped_day_and_midnight_gap(void **state)
{
	struct budget_tz *apia = zone("Pacific/Apia"), *sp = zone("America/Sao_Paulo");
	int64_t s, e;

	check_window(apia, BUDGET_WINDOW_DAILY, utc(2011, 12, 30, 12, 0, 0),
		     utc(2011, 12, 30, 10, 0, 0), utc(2011, 12, 31, 10, 0, 0));
	bounds(apia, BUDGET_WINDOW_DAILY, utc(2011, 12, 30, 9, 0, 0), &s, &e);
	assert_int_equal(s, utc(2011, 12, 29, 10, 0, 0));
	assert_int_equal(e, utc(2011, 12, 30, 10, 0, 0));
	/* 2018-11-04 00:00 -03:00 did not exist: the day began at 01:00 -02:00 */
	check_window(sp, BUDGET_WINDOW_DAILY, utc(2018, 11, 4, 12, 0, 0),
		     utc(2018, 11, 4, 3, 0, 0), utc(2018, 11, 5, 2, 0, 0));
	budget_tz_free(apia);
	budget_tz_free(sp);
}

/* glibc reads the same files: our offsets must agree with localtime_r's tm_gmtoff. Setting TZ
 * is fine here: this test is single-threaded and the library never reads it. */
static void test_offsets_match_glibc(void **state)
{
	static const char *const zones[] = {
		"Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
		"Australia/Lord_Howe", "Pacific/Apia", "America/Sao_Paulo", "Europe/Dublin",
		"Africa/Casablanca", "Pacific/Chatham", "Asia/Kathmandu", "America/Santiago",
		"Pacific/Kiritimati", "Europe/London", "America/St_Johns", "Asia/Tehran",
	};
	unsigned seed = 12345;
	int checked = 0;

	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		struct budget_tz *tz = zone(zones[z]);
		char env[80];

		snprintf(env, sizeof(env), ":%s", zones[z]);
		setenv("TZ", env, 1);
		tzset();
		for (int i = 0; i < 3000; i++) {
			seed = seed * 1103515245u + 12345u;
			/* 1970 .. 2100, past the last transition of fat files */
			int64_t t = (int64_t)(((uint64_t)seed << 16 ^ (uint64_t)i * 2654435761u) %
					      4102444800ULL);
			time_t tt = (time_t)t;
			struct tm tm;

			localtime_r(&tt, &tm);
			if (budget_tz_offset(tz, t) != tm.tm_gmtoff)
				fail_msg("%s at %lld: ours %d, glibc %ld", zones[z], (long long)t,
					 budget_tz_offset(tz, t), tm.tm_gmtoff);
			checked++;
		}
		budget_tz_free(tz);
	}
	unsetenv("TZ");
	assert_int_equal(checked, 16 * 3000);
}

/* A TZif v2 file with no transitions at all: everything comes from the footer rule. */
static size_t footer_only(uint8_t *buf, const char *rule)
{
	size_t n = 0;

	for (int block = 0; block < 2; block++) {
		memcpy(buf + n, "TZif2", 5);
		memset(buf + n + 5, 0, 39);
		buf[n + 39] = 1;           /* typecnt */
		buf[n + 43] = 4;           /* charcnt */
		n += 44;
		memset(buf + n, 0, 6);     /* type 0: UTC+0, not DST, abbreviation 0 */
		n += 6;
		memcpy(buf + n, "UTC", 4);
		n += 4;
	}
	n += (size_t)sprintf((char *)buf + n, "\n%s\n", rule);
	return n;
}

static void test_footer_rule(void **state)
{
	struct budget_tz *paris = zone("Europe/Paris"), *tz;
	uint8_t buf[256];
	char err[128];
	size_t n = footer_only(buf, "CET-1CEST,M3.5.0,M10.5.0/3");

	assert_true(budget_tz_parse(buf, n, "slim/Paris", &tz, err, sizeof(err)));
	for (int64_t t = utc(2026, 1, 1, 0, 0, 0); t < utc(2028, 1, 1, 0, 0, 0); t += 1800)
		assert_int_equal(budget_tz_offset(tz, t), budget_tz_offset(paris, t));
	check_window(tz, BUDGET_WINDOW_DAILY, utc(2026, 3, 29, 12, 0, 0),
		     utc(2026, 3, 28, 23, 0, 0), utc(2026, 3, 29, 22, 0, 0));
	budget_tz_free(tz);
	budget_tz_free(paris);

	/* southern hemisphere, and a quoted fixed offset */
	n = footer_only(buf, "AEST-10AEDT,M10.1.0,M4.1.0/3");
	assert_true(budget_tz_parse(buf, n, "slim/Sydney", &tz, err, sizeof(err)));
	assert_int_equal(budget_tz_offset(tz, utc(2026, 1, 15, 0, 0, 0)), 11 * H);
	assert_int_equal(budget_tz_offset(tz, utc(2026, 7, 15, 0, 0, 0)), 10 * H);
	budget_tz_free(tz);
	n = footer_only(buf, "<+0530>-5:30");
	assert_true(budget_tz_parse(buf, n, "slim/Kolkata", &tz, err, sizeof(err)));
	assert_int_equal(budget_tz_offset(tz, utc(2026, 7, 15, 0, 0, 0)), 5 * H + 1800);
	budget_tz_free(tz);
	/* Julian-day rules (J: no Feb 29; plain: counts it) */
	n = footer_only(buf, "XST-1XDT,J60/0,300/0");
	assert_true(budget_tz_parse(buf, n, "slim/J", &tz, err, sizeof(err)));
	/* J60 is March 1st every year; day 300 of 2028 (leap, 0-based) is October 27th */
	assert_int_equal(budget_tz_offset(tz, utc(2028, 2, 29, 22, 59, 59)), 1 * H);
	assert_int_equal(budget_tz_offset(tz, utc(2028, 2, 29, 23, 0, 0)), 2 * H);
	assert_int_equal(budget_tz_offset(tz, utc(2028, 10, 26, 21, 59, 59)), 2 * H);
	assert_int_equal(budget_tz_offset(tz, utc(2028, 10, 26, 22, 0, 0)), 1 * H);
	budget_tz_free(tz);
}

static void expect_bad(const uint8_t *buf, size_t n, const char *want)
{
	struct budget_tz *tz = (struct budget_tz *)1;
	char err[160];

	if (budget_tz_parse(buf, n, "bad", &tz, err, sizeof(err)))
		fail_msg("accepted, expected an error with \"%s\"", want);
	assert_null(tz);
	if (strstr(err, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
}

static void test_bad_files(void **state)
{
	uint8_t buf[256];
	size_t n = footer_only(buf, "CET-1CEST,M3.5.0,M10.5.0/3");

	expect_bad((const uint8_t *)"hello", 5, "not a TZif file");
	expect_bad(buf, 30, "not a TZif file");
	expect_bad(buf, n - 1, "unterminated");     /* footer without its final newline */
	expect_bad(buf, 60, "second TZif header");  /* 64-bit part cut */
	buf[4] = '9';
	expect_bad(buf, n, "version");
	buf[4] = '2';
	n = footer_only(buf, "CET-1CEST");           /* DST without a rule */
	expect_bad(buf, n, "TZ string");
	n = footer_only(buf, "CET-1CEST,M13.5.0,M10.5.0");
	expect_bad(buf, n, "TZ string");
	n = footer_only(buf, "CET-30");              /* offset over 24 h */
	expect_bad(buf, n, "TZ string");
	n = footer_only(buf, "CET-1");
	buf[54 + 39] = 0;                            /* typecnt 0 in the 64-bit header */
	expect_bad(buf, n, "counts");

	/* leap-second zones */
	struct budget_tz *tz;
	char err[160];

	assert_false(budget_tz_load("right/Europe/Paris", NULL, &tz, err, sizeof(err)));
	assert_non_null(strstr(err, "leap-second"));
}

static void test_bad_names(void **state)
{
	static const char *const bad[] = { "../../etc/passwd", "/etc/localtime", "Europe//Paris",
					   "Europe/", "", "Europe/Par is", "Europe/Paris\n",
					   "a/../b" };
	struct budget_tz *tz;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(budget_tz_load(bad[i], NULL, &tz, err, sizeof(err)));
		assert_non_null(strstr(err, "IANA name"));
	}
	assert_false(budget_tz_load("Europe/Atlantis", NULL, &tz, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown time zone Europe/Atlantis"));
	assert_false(budget_tz_load("Europe", NULL, &tz, err, sizeof(err))); /* a directory */
	assert_non_null(strstr(err, "not a zone file"));
}

static void test_format_local(void **state)
{
	struct budget_tz *tz = zone("Europe/Paris"), *kol = zone("America/St_Johns");
	char buf[40];

	budget_format_local(tz, utc(2026, 3, 29, 1, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-29 03:00+02:00");
	budget_format_local(tz, utc(2026, 3, 29, 0, 59, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-29 01:59+01:00");
	budget_format_local(kol, utc(2026, 1, 1, 0, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2025-12-31 20:30-03:30");
	budget_tz_free(tz);
	budget_tz_free(kol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utc),
		cmocka_unit_test(test_paris_spring_day_is_23h),
		cmocka_unit_test(test_paris_autumn_day_is_25h),
		cmocka_unit_test(test_month_and_year_boundaries),
		cmocka_unit_test(test_other_zones),
		cmocka_unit_test(test_skipped_day_and_midnight_gap),
		cmocka_unit_test(test_offsets_match_glibc),
		cmocka_unit_test(test_footer_rule),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_format_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
