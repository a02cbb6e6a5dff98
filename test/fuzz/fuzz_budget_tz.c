/* fuzz_budget_tz: libFuzzer driver for the TZif parser and POSIX TZ footer rules (budget_tz.c)
 * and the calendar windows computed from them (budget_window.c). Input: a TZif file. Beyond
 * "no crash": a rejected file yields no zone and a "time zone fuzz: " message; an accepted one
 * has ascending transitions and offsets within 26 hours, gives at every transition the offset
 * of its type, and for probe instants across 1970..9999 every window of every kind contains
 * its instant, and the windows on either side meet it exactly (start and end are consistent
 * with the windows of the instants just before and after). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/budget_tz.c"
#include "../../userspace/budget_window.c"

static void check_windows(const struct budget_tz *tz, int64_t t)
{
	for (unsigned k = 0; k < BUDGET_WINDOW_COUNT; k++) {
		int64_t s, e, s2, e2;

		budget_window_bounds(tz, (enum budget_window)k, t, &s, &e);
		if (!(s <= t && t < e))
			__builtin_trap();
		/* a month plus two days of DST and offset swings at most */
		if (e - s > 33 * 86400 + 2 * TZ_MAX_OFFSET)
			__builtin_trap();
		if (s > BUDGET_T_MIN && s <= BUDGET_T_MAX) {
			budget_window_bounds(tz, (enum budget_window)k, s - 1, &s2, &e2);
			if (e2 != s)
				__builtin_trap();
		}
		if (e <= BUDGET_T_MAX) {
			budget_window_bounds(tz, (enum budget_window)k, e, &s2, &e2);
			if (s2 != e)
				__builtin_trap();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct budget_tz *tz = NULL;
	char err[160], buf[48];

	if (!budget_tz_parse(data, size, "fuzz", &tz, err, sizeof(err))) {
		if (tz != NULL || strncmp(err, "time zone fuzz: ", 16) != 0)
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < tz->ntypes; i++)
		if (tz->type_off[i] < -TZ_MAX_OFFSET || tz->type_off[i] > TZ_MAX_OFFSET)
			__builtin_trap();
	for (size_t i = 0; i < tz->ntrans; i++) {
		if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
			__builtin_trap();
		if (tz->trans_type[i] >= tz->ntypes)
			__builtin_trap();
		if (i + 1 < tz->ntrans &&
		    budget_tz_offset(tz, tz->trans[i]) != tz->type_off[tz->trans_type[i]])
			__builtin_trap();
	}
	/* probes: fixed instants, the transitions and their neighbours, and some from the input */
	static const int64_t fixed[] = { 0, 86399, 951782400, 1774785600, 1792540800,
					 4102444800LL, 32503680000LL, BUDGET_T_MAX };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		int32_t off = budget_tz_offset(tz, fixed[i]);

		if (off < -TZ_MAX_OFFSET || off > TZ_MAX_OFFSET)
			__builtin_trap();
		check_windows(tz, fixed[i]);
		budget_format_local(tz, fixed[i], buf, sizeof(buf));
	}
	for (size_t i = 0; i < tz->ntrans && i < 64; i++) {
		int64_t t = tz->trans[i];

		if (t >= BUDGET_T_MIN + 1 && t <= BUDGET_T_MAX) {
			check_windows(tz, t);
			check_windows(tz, t - 1);
		}
	}
	for (size_t i = 0; i + 8 <= size && i < 256; i += 37) {
		uint64_t v;

		memcpy(&v, data + i, 8);
		check_windows(tz, (int64_t)(v % (uint64_t)(BUDGET_T_MAX + 1)));
	}
	budget_tz_free(tz);
	return 0;
}
