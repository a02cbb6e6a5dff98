/* budget_tz: time zones for budget windows, read from the system's TZif files (RFC 8536) by our
 * own parser so that no thread ever depends on the process-wide TZ/localtime state. Owns the
 * parsed zone (one allocation); borrows the calendar helpers of budget_int.h. Past the last
 * transition of a file, the POSIX TZ string of its footer gives the rule (slim files end early). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget_int.h"

#define TZ_MAX_FILE (1 << 20)
#define TZ_MAX_TRANS 60000
#define TZ_MAX_OFFSET (26 * 3600)     /* RFC 8536 allows -25:59:59 .. +25:59:59 */
#define TZ_MAX_ABS_TIME (1LL << 60)   /* transitions beyond this are not dates */
#define TZ_RULE_MAX_HOURS 167         /* RFC 8536 extension of POSIX transition times */

struct tz_rule_date {
	char kind;    /* 'J': Julian 1..365 without Feb 29; 'N': 0..365 with it; 'M': month.week.day */
	int month, week, wday, day;
	int32_t time; /* seconds after local midnight, may be negative or past 24 h */
};

struct tz_rule {
	bool dst;               /* false: fixed offset <std_off> */
	int32_t std_off, dst_off;
	struct tz_rule_date start, end;
};

struct budget_tz {
	char name[BUDGET_TZ_NAME_MAX];
	size_t ntrans;
	const int64_t *trans;      /* strictly ascending */
	const uint8_t *trans_type; /* index into type_off */
	size_t ntypes;
	const int32_t *type_off;   /* seconds east of UTC */
	bool has_rule;
	struct tz_rule rule;
};

static const int32_t utc_offsets[1] = { 0 };
static const struct budget_tz utc_zone = {
	.name = "UTC", .ntypes = 1, .type_off = utc_offsets,
};

const struct budget_tz *budget_tz_utc(void)
{
	return &utc_zone;
}

const char *budget_tz_name(const struct budget_tz *tz)
{
	return tz->name;
}

void budget_tz_free(struct budget_tz *tz)
{
	if (tz != &utc_zone)
		free(tz); /* arrays live in the same block */
}

/* ---- the POSIX TZ string (footer) ---- */

struct tz_cursor {
	const char *p, *end;
};

static bool cur_digit(const struct tz_cursor *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static bool cur_eat(struct tz_cursor *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* An unsigned decimal of at most <maxdig> digits in [lo, hi]. */
static bool cur_num(struct tz_cursor *c, int maxdig, int lo, int hi, int *out)
{
	int v = 0, n = 0;

	while (cur_digit(c) && n < maxdig) {
		v = v * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	if (n == 0 || cur_digit(c) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "<+0530>" or alphabetic, at least three characters either way (POSIX). */
static bool rule_name(struct tz_cursor *c)
{
	const char *start = c->p;

	if (cur_eat(c, '<')) {
		while (c->p < c->end && *c->p != '>') {
			char ch = *c->p;

			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			      (ch >= '0' && ch <= '9') || ch == '+' || ch == '-'))
				return false;
			c->p++;
		}
		if (c->p - start - 1 < 3 || !cur_eat(c, '>'))
			return false;
		return true;
	}
	while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z')))
		c->p++;
	return c->p - start >= 3;
}

/* [+-]hh[:mm[:ss]] with hh <= <max_hours>, as signed seconds. */
static bool rule_hms(struct tz_cursor *c, int max_hours, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (cur_eat(c, '-'))
		sign = -1;
	else
		cur_eat(c, '+');
	if (!cur_num(c, 3, 0, max_hours, &h))
		return false;
	if (cur_eat(c, ':')) {
		if (!cur_num(c, 2, 0, 59, &m))
			return false;
		if (cur_eat(c, ':') && !cur_num(c, 2, 0, 59, &s))
			return false;
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool rule_date(struct tz_cursor *c, struct tz_rule_date *d)
{
	d->time = 2 * 3600;
	if (cur_eat(c, 'M')) {
		d->kind = 'M';
		if (!cur_num(c, 2, 1, 12, &d->month) || !cur_eat(c, '.') ||
		    !cur_num(c, 1, 1, 5, &d->week) || !cur_eat(c, '.') ||
		    !cur_num(c, 1, 0, 6, &d->wday))
			return false;
	} else if (cur_eat(c, 'J')) {
		d->kind = 'J';
		if (!cur_num(c, 3, 1, 365, &d->day))
			return false;
	} else {
		d->kind = 'N';
		if (!cur_num(c, 3, 0, 365, &d->day))
			return false;
	}
	if (cur_eat(c, '/') && !rule_hms(c, TZ_RULE_MAX_HOURS, &d->time))
		return false;
	return true;
}

/* Parse the TZ string in [p, end). POSIX offsets count west of UTC; ours count east. */
static bool rule_parse(const char *p, const char *end, struct tz_rule *r)
{
	struct tz_cursor c = { p, end };
	int32_t west;

	memset(r, 0, sizeof(*r));
	if (!rule_name(&c) || !rule_hms(&c, 24, &west))
		return false;
	r->std_off = -west;
	if (c.p == c.end)
		return true;
	if (!rule_name(&c))
		return false;
	r->dst = true;
	r->dst_off = r->std_off + 3600;
	if (c.p < c.end && *c.p != ',') {
		if (!rule_hms(&c, 24, &west))
			return false;
		r->dst_off = -west;
	}
	/* A DST name without a rule leaves the dates to the implementation: refuse it. */
	if (!cur_eat(&c, ',') || !rule_date(&c, &r->start) || !cur_eat(&c, ',') ||
	    !rule_date(&c, &r->end))
		return false;
	return c.p == c.end;
}

/* Local seconds (day 0 midnight = 0) at which date <d> falls in year <y>. */
static int64_t rule_local_time(const struct tz_rule_date *d, int64_t y)
{
	int64_t day;

	if (d->kind == 'J')
		day = bcal_days(y, 1, 1) + d->day - 1 + (bcal_leap(y) && d->day >= 60);
	else if (d->kind == 'N')
		day = bcal_days(y, 1, 1) + d->day;
	else {
		int64_t first = bcal_days(y, (unsigned)d->month, 1);
		int mday = 1 + (d->wday - (int)bcal_weekday(first) + 7) % 7 + (d->week - 1) * 7;

		while (mday > (int)bcal_month_days(y, (unsigned)d->month))
			mday -= 7;
		day = first + mday - 1;
	}
	return day * BUDGET_DAY + d->time;
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
	if (!r->dst)
		return r->std_off;
	int64_t y;
	unsigned m, d;

	bcal_civil(bcal_floor_div(t + r->std_off, BUDGET_DAY), &y, &m, &d);
	/* DST starts at a standard-time wall clock and ends at a daylight-time one. */
	int64_t on = rule_local_time(&r->start, y) - r->std_off;
	int64_t off = rule_local_time(&r->end, y) - r->dst_off;
	bool in_dst = on < off ? (t >= on && t < off) : !(t >= off && t < on);

	return in_dst ? r->dst_off : r->std_off;
}

int32_t budget_tz_offset(const struct budget_tz *tz, int64_t t)
{
	if (t < -TZ_MAX_ABS_TIME)
		t = -TZ_MAX_ABS_TIME;
	if (t > TZ_MAX_ABS_TIME)
		t = TZ_MAX_ABS_TIME;
	if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
		if (tz->has_rule)
			return rule_offset(&tz->rule, t);
		if (tz->ntrans == 0)
			return tz->type_off[0];
		return tz->type_off[tz->trans_type[tz->ntrans - 1]];
	}
	if (t < tz->trans[0])
		return tz->type_off[0]; /* RFC 8536: type 0 before the first transition */
	size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->type_off[tz->trans_type[lo]];
}

/* Smallest instant after <x> at which the offset may change: a transition of the file, or past
 * the last one a rule instant (DST on or off) or the start of a year (the rule is evaluated per
 * year). Between two such instants the offset is constant. INT64_MAX when it never changes. */
int64_t btz_next_change(const struct budget_tz *tz, int64_t x)
{
	int64_t best = INT64_MAX;

	if (tz->ntrans > 0 && x < tz->trans[tz->ntrans - 1]) {
		size_t lo = 0, hi = tz->ntrans - 1; /* first transition > x */

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (tz->trans[mid] > x)
				hi = mid;
			else
				lo = mid + 1;
		}
		return tz->trans[lo];
	}
	if (!tz->has_rule || !tz->rule.dst || x >= TZ_MAX_ABS_TIME)
		return best;
	const struct tz_rule *r = &tz->rule;
	int64_t y;
	unsigned m, d;

	bcal_civil(bcal_floor_div(x + r->std_off, BUDGET_DAY), &y, &m, &d);
	for (int64_t yy = y - 1; yy <= y + 2; yy++) {
		int64_t c[3] = { bcal_days(yy, 1, 1) * BUDGET_DAY - r->std_off,
				 rule_local_time(&r->start, yy) - r->std_off,
				 rule_local_time(&r->end, yy) - r->dst_off };

		for (int i = 0; i < 3; i++)
			if (c[i] > x && c[i] < best)
				best = c[i];
	}
	return best;
}

/* ---- TZif ---- */

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool tzif_header(const uint8_t *p, size_t len, char *version, struct tzif_counts *n)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return false;
	*version = (char)p[4];
	n->isut = be32(p + 20);
	n->isstd = be32(p + 24);
	n->leap = be32(p + 28);
	n->time = be32(p + 32);
	n->type = be32(p + 36);
	n->chars = be32(p + 40);
	return true;
}

/* Size of the data block after a header, or 0 when the counts are unreasonable. */
static size_t tzif_block_size(const struct tzif_counts *n, size_t tsize)
{
	if (n->time > TZ_MAX_TRANS || n->type == 0 || n->type > 256 || n->chars == 0 ||
	    n->chars > 65536 || n->leap > 65536 || (n->isut != 0 && n->isut != n->type) ||
	    (n->isstd != 0 && n->isstd != n->type))
		return 0;
	return (size_t)n->time * (tsize + 1) + (size_t)n->type * 6 + n->chars +
	       (size_t)n->leap * (tsize + 4) + n->isstd + n->isut;
}

static bool fail(char *err, size_t errlen, const char *name, const char *what)
{
	snprintf(err, errlen, "time zone %s: %s", name, what);
	return false;
}

bool budget_tz_parse(const uint8_t *data, size_t len, const char *name, struct budget_tz **out,
		     char *err, size_t errlen)
{
	struct tzif_counts n;
	char version;
	size_t tsize = 4, block;

	*out = NULL;
	if (!tzif_header(data, len, &version, &n))
		return fail(err, errlen, name, "not a TZif file");
	if (version != 0 && (version < '2' || version > '4'))
		return fail(err, errlen, name, "unknown TZif version");
	block = tzif_block_size(&n, 4);
	if (block == 0 || len - 44 < block)
		return fail(err, errlen, name, "TZif counts do not fit the file");
	const uint8_t *p = data + 44;

	if (version != 0) { /* skip the 32-bit block; the 64-bit one follows */
		size_t off = 44 + block;

		if (!tzif_header(data + off, len - off, &version, &n) || version < '2')
			return fail(err, errlen, name, "bad second TZif header");
		tsize = 8;
		block = tzif_block_size(&n, 8);
		if (block == 0 || len - off - 44 < block)
			return fail(err, errlen, name, "TZif counts do not fit the file");
		p = data + off + 44;
	}
	if (n.leap != 0)
		return fail(err, errlen, name, "leap-second zones (\"right/\") are not supported");

	const uint8_t *times = p, *idx = p + (size_t)n.time * tsize, *types = idx + n.time;
	const uint8_t *after = p + block;
	struct tz_rule rule;
	bool has_rule = false;

	if (tsize == 8) { /* footer: "\n" TZ-string "\n" */
		const uint8_t *end = data + len;

		if (after >= end || *after != '\n')
			return fail(err, errlen, name, "missing TZ string footer");
		const uint8_t *nl = memchr(after + 1, '\n', (size_t)(end - after - 1));

		if (nl == NULL)
			return fail(err, errlen, name, "unterminated TZ string footer");
		if (nl > after + 1) {
			if (!rule_parse((const char *)after + 1, (const char *)nl, &rule))
				return fail(err, errlen, name, "bad TZ string in footer");
			if (rule.dst && (rule.dst_off < -TZ_MAX_OFFSET || rule.dst_off > TZ_MAX_OFFSET))
				return fail(err, errlen, name, "UTC offset out of range");
			has_rule = true;
		}
	}

	struct budget_tz *tz;
	size_t size = sizeof(*tz) + (size_t)n.time * 8 + (size_t)n.type * 4 + n.time;

	tz = calloc(1, size);
	if (tz == NULL)
		return fail(err, errlen, name, strerror(ENOMEM));
	int64_t *trans = (int64_t *)(tz + 1);
	int32_t *type_off = (int32_t *)(trans + n.time);
	uint8_t *trans_type = (uint8_t *)(type_off + n.type);

	snprintf(tz->name, sizeof(tz->name), "%s", name);
	for (uint32_t i = 0; i < n.time; i++) {
		int64_t t = tsize == 8 ? be64(times + (size_t)i * 8) : (int32_t)be32(times + (size_t)i * 4);

		if (t < -TZ_MAX_ABS_TIME || t > TZ_MAX_ABS_TIME || (i > 0 && t <= trans[i - 1])) {
			free(tz);
			return fail(err, errlen, name, "transition times out of order or range");
		}
		if (idx[i] >= n.type) {
			free(tz);
			return fail(err, errlen, name, "transition to an undefined type");
		}
		trans[i] = t;
		trans_type[i] = idx[i];
	}
	for (uint32_t i = 0; i < n.type; i++) {
		const uint8_t *tt = types + (size_t)i * 6;
		int32_t off = (int32_t)be32(tt);

		if (off < -TZ_MAX_OFFSET || off > TZ_MAX_OFFSET || tt[4] > 1 || tt[5] >= n.chars) {
			free(tz);
			return fail(err, errlen, name, "bad local time type");
		}
		type_off[i] = off;
	}
	if (has_rule && (rule.std_off < -TZ_MAX_OFFSET || rule.std_off > TZ_MAX_OFFSET)) {
		free(tz);
		return fail(err, errlen, name, "UTC offset out of range");
	}
	tz->ntrans = n.time;
	tz->trans = trans;
	tz->trans_type = trans_type;
	tz->ntypes = n.type;
	tz->type_off = type_off;
	tz->has_rule = has_rule;
	if (has_rule)
		tz->rule = rule;
	*out = tz;
	return true;
}

/* IANA names are paths below the zoneinfo directory: keep them from leaving it. */
static bool tz_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= BUDGET_TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/' ||
	    strstr(name, "//") != NULL)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

bool budget_tz_load(const char *name, const char *zoneinfo_dir, struct budget_tz **out,
		    char *err, size_t errlen)
{
	char path[512];
	struct stat st;
	uint8_t *buf;
	bool ok;

	*out = NULL;
	if (!tz_name_ok(name)) {
		snprintf(err, errlen, "time zone name must be an IANA name such as Europe/Paris");
		return false;
	}
	if (strcmp(name, "UTC") == 0) {
		*out = (struct budget_tz *)&utc_zone;
		return true;
	}
	snprintf(path, sizeof(path), "%s/%s", zoneinfo_dir ? zoneinfo_dir : BUDGET_ZONEINFO_DIR,
		 name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "unknown time zone %s (%s: %s)", name, path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE) {
		close(fd);
		snprintf(err, errlen, "time zone %s: %s is not a zone file", name, path);
		return false;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		snprintf(err, errlen, "time zone %s: %s", name, strerror(ENOMEM));
		return false;
	}
	size_t got = 0;

	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	ok = budget_tz_parse(buf, got, name, out, err, errlen);
	free(buf);
	return ok;
}
