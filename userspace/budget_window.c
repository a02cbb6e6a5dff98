/* budget_window: calendar windows (day, Monday-based week, month) in a time zone, as half-open
 * ranges of Unix seconds. Borrows budget_tz_offset and the calendar helpers of budget_int.h.
 * A window starts at the first instant whose local date is its first day, so a day with a DST
 * jump is 23 or 25 hours long and a midnight inside a gap starts at the end of the gap. */
#include <stdio.h>

#include "budget_int.h"

/* Every UTC offset is within 26 h: the first instant of a local day lies within this much of
 * the same wall-clock time read as UTC. */
#define WIN_SEARCH (26 * 3600)

static int64_t local_seconds(const struct budget_tz *tz, int64_t t)
{
	return t + budget_tz_offset(tz, t);
}

/* First instant whose local wall clock reads at least <day> 00:00: the smallest t of all with
 * t + offset(t) >= L. Taking the true minimum (not just some crossing) makes it monotonic in
 * <day> even where the local clock runs backwards, so windows always tile the time line. On
 * each stretch where the offset o is constant the smallest candidate is max(start, L - o). */
static int64_t day_start(const struct budget_tz *tz, int64_t day)
{
	int64_t wall = day * BUDGET_DAY;
	int64_t a = wall - WIN_SEARCH - 1, last = wall + WIN_SEARCH; /* local(a) < L <= local(last) */

	while (a <= last) {
		int64_t b = btz_next_change(tz, a);
		int64_t cand = wall - budget_tz_offset(tz, a);

		if (cand < a)
			cand = a;
		if (cand < b)
			return cand <= last ? cand : last;
		a = b;
	}
	return last;
}

/* The first day of the window of <kind> that contains local day <day>. */
static int64_t window_first_day(enum budget_window kind, int64_t day)
{
	int64_t y;
	unsigned m, d;

	switch (kind) {
	case BUDGET_WINDOW_WEEKLY:
		return day - (int64_t)((bcal_weekday(day) + 6) % 7); /* back to Monday */
	case BUDGET_WINDOW_MONTHLY:
		bcal_civil(day, &y, &m, &d);
		return bcal_days(y, m, 1);
	case BUDGET_WINDOW_DAILY:
	default:
		return day;
	}
}

/* First day of the window after (or, with <dir> < 0, before) the one starting on <first>. */
static int64_t window_step(enum budget_window kind, int64_t first, int dir)
{
	int64_t y;
	unsigned m, d;

	switch (kind) {
	case BUDGET_WINDOW_WEEKLY:
		return first + 7 * dir;
	case BUDGET_WINDOW_MONTHLY:
		bcal_civil(first, &y, &m, &d);
		if (dir > 0)
			return m == 12 ? bcal_days(y + 1, 1, 1) : bcal_days(y, m + 1, 1);
		return m == 1 ? bcal_days(y - 1, 12, 1) : bcal_days(y, m - 1, 1);
	case BUDGET_WINDOW_DAILY:
	default:
		return first + dir;
	}
}

void budget_window_bounds(const struct budget_tz *tz, enum budget_window kind, int64_t t,
			  int64_t *start, int64_t *end)
{
	if (t < BUDGET_T_MIN)
		t = BUDGET_T_MIN;
	if (t > BUDGET_T_MAX)
		t = BUDGET_T_MAX;
	int64_t first = window_first_day(kind, bcal_floor_div(local_seconds(tz, t), BUDGET_DAY));
	int64_t s = day_start(tz, first), e;

	/* day_start(local date of t) <= t always holds. Only zone data where the local clock runs
	 * backwards across midnight can put <t> after the window of its own local date: step to the
	 * window that really holds it (a fold is at most 52 h, so a few steps). */
	for (int i = 0; i < 4 && s > t; i++) {
		first = window_step(kind, first, -1);
		s = day_start(tz, first);
	}
	e = day_start(tz, window_step(kind, first, 1));
	for (int i = 0; i < 4 && e <= t; i++) {
		first = window_step(kind, first, 1);
		s = e;
		e = day_start(tz, window_step(kind, first, 1));
	}
	if (s > t || e <= t) { /* unreachable with real zone data: a one-second window keeps
				* the contract start <= t < end */
		s = t;
		e = t + 1;
	}
	*start = s;
	*end = e;
}

void budget_format_offset(int64_t t, int32_t utcoff, char *buf, size_t size)
{
	if (t < -(1LL << 60) || t > (1LL << 60))
		t = t < 0 ? -(1LL << 60) : 1LL << 60; /* display only: keep the arithmetic defined */
	int64_t local = t + utcoff, y;
	int64_t secs = bcal_floor_mod(local, BUDGET_DAY);
	unsigned m, d;
	unsigned aoff = (unsigned)(utcoff < 0 ? -(int64_t)utcoff : utcoff);

	bcal_civil(bcal_floor_div(local, BUDGET_DAY), &y, &m, &d);
	snprintf(buf, size, "%04lld-%02u-%02u %02u:%02u%c%02u:%02u", (long long)y, m, d,
		 (unsigned)(secs / 3600), (unsigned)(secs % 3600 / 60), utcoff < 0 ? '-' : '+',
		 aoff / 3600, aoff % 3600 / 60);
}

void budget_format_local(const struct budget_tz *tz, int64_t t, char *buf, size_t size)
{
	budget_format_offset(t, budget_tz_offset(tz, t), buf, size);
}
