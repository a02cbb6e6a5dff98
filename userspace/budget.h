/* budget: spend caps per project, team, key fingerprint, end-user and host over calendar windows
 * (daily, weekly, monthly) in a configured time zone, with atomic all-or-nothing reservations,
 * settlement to actual cost, and SQLite persistence. Owns its configuration, counters, the
 * database connection and one background flush thread; borrows the subject strings per call.
 * Semantics (windows, overrun, what a crash loses) are in docs/budgets.md. */
#ifndef MODELUX_BUDGET_H
#define MODELUX_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BUDGET_NAME_MAX 64      /* budget names: [A-Za-z0-9._-], 1..63 bytes */
#define BUDGET_VALUE_MAX 128    /* scope values (project, fingerprint, ...): 1..127 bytes */
#define BUDGET_TZ_NAME_MAX 64   /* IANA name such as "Europe/Paris" */
#define BUDGET_MAX_APPLY 16     /* most budgets one request can touch (checked at load) */
#define BUDGET_MAX_DEFS 1024    /* most budgets in one file */
#define BUDGET_MAX_MICRO 1000000000000000LL /* $1e9 in micro-dollars: largest cap or amount */
#define BUDGET_ZONEINFO_DIR "/usr/share/zoneinfo"

enum budget_scope {
	BUDGET_SCOPE_PROJECT = 0,
	BUDGET_SCOPE_TEAM = 1,
	BUDGET_SCOPE_KEY = 2, /* the key's fingerprint, never the key */
	BUDGET_SCOPE_USER = 3,
	BUDGET_SCOPE_HOST = 4,
};
#define BUDGET_SCOPE_COUNT 5

enum budget_window {
	BUDGET_WINDOW_DAILY = 0,   /* local midnight to local midnight */
	BUDGET_WINDOW_WEEKLY = 1,  /* Monday 00:00 local to the next Monday */
	BUDGET_WINDOW_MONTHLY = 2, /* the 1st 00:00 local to the next 1st */
};
#define BUDGET_WINDOW_COUNT 3

/* ---- time zones and calendar windows (budget_tz.c, budget_window.c) ---- */

struct budget_tz; /* immutable once loaded: safe to share between threads */

/* budget_tz_utc - the built-in UTC zone (static; budget_tz_free ignores it). */
const struct budget_tz *budget_tz_utc(void);

/* budget_tz_parse - parse <len> bytes of a TZif file (RFC 8536, versions 1 to 4, including the
 * POSIX TZ footer used past the last transition). <name> is kept for messages. False with a
 * message in <err> when the data is not a usable zone. */
bool budget_tz_parse(const uint8_t *data, size_t len, const char *name, struct budget_tz **out,
		     char *err, size_t errlen);

/* budget_tz_load - load IANA zone <name> from <zoneinfo_dir> (NULL = BUDGET_ZONEINFO_DIR).
 * "UTC" needs no file. Names with "..", a leading '/' or characters outside [A-Za-z0-9_+-/]
 * are refused. Never touches the process-wide TZ. */
bool budget_tz_load(const char *name, const char *zoneinfo_dir, struct budget_tz **out,
		    char *err, size_t errlen);

void budget_tz_free(struct budget_tz *tz);
const char *budget_tz_name(const struct budget_tz *tz);

/* budget_tz_offset - seconds east of UTC in <tz> at Unix time <t>. */
int32_t budget_tz_offset(const struct budget_tz *tz, int64_t t);

/* budget_window_bounds - the calendar window of <kind> containing Unix time <t>, as
 * [<start>, <end>) in Unix seconds. Both are local midnights in <tz> (or the first instant of
 * that local day when midnight falls in a DST gap). Valid for t in [0, 253402300799]. */
void budget_window_bounds(const struct budget_tz *tz, enum budget_window kind, int64_t t,
			  int64_t *start, int64_t *end);

/* budget_format_local - "YYYY-MM-DD HH:MM+HH:MM" for <t> in <tz> into <buf>. */
void budget_format_local(const struct budget_tz *tz, int64_t t, char *buf, size_t size);

/* budget_format_offset - the same for <t> seen at UTC offset <utcoff> seconds. */
void budget_format_offset(int64_t t, int32_t utcoff, char *buf, size_t size);

/* ---- configuration (budget_conf.c; format in docs/budgets.md) ---- */

struct budget_def {
	char name[BUDGET_NAME_MAX];
	enum budget_scope scope;
	char match[BUDGET_VALUE_MAX]; /* exact value, or "*" when <wildcard> */
	bool wildcard;                /* every distinct value gets its own counters */
	enum budget_window window;
	int64_t cap_micro;            /* 0 .. BUDGET_MAX_MICRO */
	double soft_pct;              /* soft threshold as a fraction in (0, 1]; default 0.8 */
};

struct budget_conf {
	struct budget_tz *tz; /* owned */
	struct budget_def *defs;
	size_t ndefs;
};

/* budget_conf_parse - parse <len> bytes of JSON <text>, named <fname> in messages, loading the
 * time zone from <zoneinfo_dir> (NULL = default). On failure returns false and writes
 * "fname:line:col: $.json.path: message" to <err>. */
bool budget_conf_parse(const char *text, size_t len, const char *fname, const char *zoneinfo_dir,
		       struct budget_conf **out, char *err, size_t errlen);

/* budget_conf_load - read and parse the file at <path>; same contract as budget_conf_parse. */
bool budget_conf_load(const char *path, const char *zoneinfo_dir, struct budget_conf **out,
		      char *err, size_t errlen);

void budget_conf_free(struct budget_conf *conf);

const char *budget_scope_name(enum budget_scope s);   /* "project", "team", ... */
const char *budget_window_name(enum budget_window w); /* "daily", "weekly", "monthly" */

/* budget_usd_format - <micro> micro-dollars as "12.345678" (trailing zeros kept to cents). */
void budget_usd_format(int64_t micro, char *buf, size_t size);

/* ---- accounting (budget.c, budget_engine.c) ---- */

struct budget;
struct budget_entry; /* one (budget, value) counter; private to budget*.c */

/* Who a request is for. NULL or "" means that scope does not apply to this request. */
struct budget_subject {
	const char *project;
	const char *team;
	const char *key; /* fingerprint of the API key, never the key itself */
	const char *user;
	const char *host;
};

/* The budget a refused reservation would have exceeded. */
struct budget_over {
	char name[BUDGET_NAME_MAX];
	enum budget_scope scope;
	char value[BUDGET_VALUE_MAX];
	enum budget_window window;
	int64_t window_start, window_end; /* Unix seconds */
	int32_t start_utcoff, end_utcoff; /* their offsets in the configured zone */
	int64_t cap_micro, spent_micro, reserved_micro;
	int64_t request_micro; /* what was asked for */
};

/* A reservation: caller-owned storage (no allocation); valid until settled or released. */
struct budget_resv {
	struct budget *b;
	bool active;
	int64_t amount_micro;
	unsigned n;
	struct {
		struct budget_entry *entry;
		uint64_t epoch;
		int64_t window_start, window_end;
	} slot[BUDGET_MAX_APPLY];
	struct budget_over over; /* filled when budget_reserve returns -EDQUOT or -ENOSPC */
};

struct budget_status {
	unsigned applying;    /* budgets that apply to the subject */
	double used_pct;      /* max over them of (spent + reserved) / cap, a fraction (0.9 = 90 %);
			       * 0 when none applies; a zero cap counts as 1 */
	double remaining_usd; /* min over them of cap - spent - reserved, never below 0;
			       * +inf when none applies */
	bool soft;            /* some applying budget is at or above its soft_pct */
	bool exhausted;       /* some applying budget has spent + reserved >= cap */
	/* the applying budget with the highest used_pct (name "" when none applies) */
	char name[BUDGET_NAME_MAX];
	enum budget_scope scope;
	char value[BUDGET_VALUE_MAX];
	enum budget_window window;
	int64_t window_end;
	int64_t cap_micro, spent_micro, reserved_micro;
};

struct budget_opts {
	const char *db_path;        /* SQLite file (WAL); NULL = counters in memory only */
	unsigned flush_interval_ms; /* settled spend written at least this often; 0 = 1000, max 1000 */
	size_t max_values;          /* most (budget, value) counters tracked; 0 = 100000 */
};

struct budget_stats {
	uint64_t reserves, denials, settles, releases;
	uint64_t overruns;          /* settlements above their reservation */
	int64_t overrun_micro;      /* sum of the amounts above the reservations */
	uint64_t late_settles;      /* settled into a window that had already closed */
	uint64_t flushes, flush_errors;
	int64_t lost_micro;         /* settled spend that could not be queued for the database */
	size_t tracked_values;
	char last_flush_error[160]; /* "" when the last flush worked */
};

/* budget_open - start an engine for <conf> (consumed: owned by the engine, also on failure).
 * With opts->db_path, opens or creates the database, loads the spend of the windows containing
 * <now> and starts the flush thread. 0 or a negative errno with a message in <err>. */
int budget_open(struct budget **out, struct budget_conf *conf, const struct budget_opts *opts,
		int64_t now, char *err, size_t errlen);

/* budget_reload - switch to <conf> (consumed). Counters of budgets still present with the same
 * name, scope and window (and a match that still accepts the value) keep their spend and
 * reservations; caps and soft thresholds take the new values. 0 or a negative errno; on
 * failure the previous configuration stays in force. */
int budget_reload(struct budget *b, struct budget_conf *conf, int64_t now, char *err,
		  size_t errlen);

/* budget_close - flush, stop the thread, free everything. Reservations still open are dropped. */
void budget_close(struct budget *b);

/* budget_reserve - reserve <max_cost_micro> on every budget that applies to <subject> at Unix
 * time <now>, or on none. 0: reserved (also when no budget applies). -EDQUOT: one would be
 * exceeded (spent + reserved + max_cost > cap); -ENOSPC: a new value could not be tracked
 * (max_values reached); <resv>->over says which budget in both cases. -EINVAL: bad amount or a
 * subject value of BUDGET_VALUE_MAX bytes or more. Allocation-free unless a wildcard budget
 * sees a value for the first time. */
int budget_reserve(struct budget *b, const struct budget_subject *subject, int64_t max_cost_micro,
		   int64_t now, struct budget_resv *resv);

/* budget_settle - replace the reservation by <actual_micro> in the windows it was reserved in.
 * <actual_micro> may exceed the reservation (counted as an overrun). 0, -EINVAL (negative
 * amount) or -EALREADY (not active). */
int budget_settle(struct budget_resv *resv, int64_t actual_micro, int64_t now);

/* budget_release - drop the reservation without spending. 0 or -EALREADY. */
int budget_release(struct budget_resv *resv);

/* budget_status - the state of the budgets applying to <subject> at <now> (no allocation). */
void budget_status(struct budget *b, const struct budget_subject *subject, int64_t now,
		   struct budget_status *st);

/* budget_flush - write settled spend to the database now. 0 or a negative errno. */
int budget_flush(struct budget *b, char *err, size_t errlen);

void budget_get_stats(struct budget *b, struct budget_stats *st);

/* budget_over_format - one line for an error body: which budget, its window, cap and spend. */
void budget_over_format(const struct budget_over *over, char *buf, size_t size);

/* ---- listing for `modeluxctl budgets` (budget_list.c) ---- */

struct budget_row {
	char name[BUDGET_NAME_MAX];
	enum budget_scope scope;
	char value[BUDGET_VALUE_MAX]; /* "*" for a wildcard budget with no value seen yet */
	enum budget_window window;
	int64_t window_start, window_end; /* Unix seconds */
	int32_t start_utcoff, end_utcoff; /* their offsets in the configured zone, for display */
	int64_t cap_micro, spent_micro, reserved_micro;
	double used_pct, soft_pct;
};

/* budget_list - a snapshot of every budget's current window per value at <now>, sorted by
 * name then value, in a malloc'ed array (free() it). 0 or -ENOMEM. */
int budget_list(struct budget *b, int64_t now, struct budget_row **rows, size_t *nrows);

/* budget_rows_to_json - {"budgets":[{...}, ...]} (NULL on allocation failure). */
json_t *budget_rows_to_json(const struct budget_row *rows, size_t nrows);

/* budget_rows_from_json - the inverse, for modeluxctl; false with a message on a bad document. */
bool budget_rows_from_json(const json_t *doc, struct budget_row **rows, size_t *nrows, char *err,
			   size_t errlen);

/* budget_rows_table - an aligned text table with a header line, malloc'ed (NULL on ENOMEM). */
char *budget_rows_table(const struct budget_row *rows, size_t nrows);

#endif
