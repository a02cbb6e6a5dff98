/* test_ilog_util: helpers shared by the test_ilog*.c binaries - a temporary directory per test,
 * records with every field distinct, raw SQL counts against the log file, and collecting the rows
 * ilog_query returns. Included by each test; every helper is static. */
#ifndef TEST_ILOG_UTIL_H
#define TEST_ILOG_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ilog.h"

#define TI_UNUSED __attribute__((unused))

struct ti_dir {
	char dir[64];
	char path[128]; /* <dir>/log/intercept.db */
};

static TI_UNUSED void ti_dir_make(struct ti_dir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/ilog-test.XXXXXX");
	if (!mkdtemp(d->dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(d->path, sizeof(d->path), "%s/log/intercept.db", d->dir);
}

static int ti_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static TI_UNUSED void ti_dir_remove(struct ti_dir *d)
{
	nftw(d->dir, ti_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static TI_UNUSED int64_t ti_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static TI_UNUSED void ti_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A 64-hex fingerprint derived from <n> (not a real HMAC: the log only checks the shape). */
static TI_UNUSED void ti_fp(char out[ILOG_FP_LEN], unsigned n)
{
	for (int i = 0; i < 64; i++)
		out[i] = "0123456789abcdef"[(n * 7 + (unsigned)i * 13 + (n >> 4) * 3) & 15];
	out[0] = "0123456789abcdef"[n & 15];
	out[1] = "0123456789abcdef"[(n >> 4) & 15];
	out[64] = '\0';
}

/* A minimal valid record: flow <flow>, exchange <seq>, started at <start_ms>. */
static TI_UNUSED void ti_record(struct ilog_record *r, uint64_t flow, uint64_t seq,
				int64_t start_ms)
{
	ilog_record_init(r);
	r->flow_id = flow;
	r->seq = seq;
	r->start_ms = start_ms;
	r->end_ms = start_ms + 120;
	r->total_ms = 120;
	r->http_status = 200;
	ILOG_SET(r, provider, "openai");
	ILOG_SET(r, endpoint, "/v1/chat/completions");
	ILOG_SET(r, model_requested, "gpt-4o-mini");
	ILOG_SET(r, model_served, "gpt-4o-mini-2024-07-18");
	ILOG_SET(r, user, "alice");
	ILOG_SET(r, exe, "/usr/bin/python3.11");
}

/* One integer from <sql> run directly on the file; -1 on error. */
static TI_UNUSED int64_t ti_sql_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "ti_sql_int(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "?");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* One text value from <sql>, into <out>; false on error or NULL. */
static TI_UNUSED bool ti_sql_text(const char *path, const char *sql, char *out, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool ok = false;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
		ok = true;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static TI_UNUSED bool ti_sql_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	bool ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ==
		      SQLITE_OK &&
		  sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;

	if (!ok)
		fprintf(stderr, "ti_sql_exec(%s): %s\n", sql, db ? sqlite3_errmsg(db) : "?");
	sqlite3_close(db);
	return ok;
}

/* Rows collected from ilog_query (payloads not kept). */
struct ti_rows {
	struct ilog_row *v;
	size_t n, cap;
};

static int ti_collect(void *ctx, const struct ilog_row *row)
{
	struct ti_rows *rows = ctx;

	if (rows->n == rows->cap) {
		rows->cap = rows->cap ? rows->cap * 2 : 64;
		rows->v = realloc(rows->v, rows->cap * sizeof(*rows->v));
		if (!rows->v)
			abort();
	}
	rows->v[rows->n] = *row;
	rows->v[rows->n].request = rows->v[rows->n].response = NULL;
	rows->n++;
	return 0;
}

/* Runs ilog_query with <f>; returns its result, rows in <rows> (to free with ti_rows_free). */
static TI_UNUSED int ti_query(const char *path, const struct ilog_filter *f, struct ti_rows *rows)
{
	char err[512] = "";
	int rc;

	memset(rows, 0, sizeof(*rows));
	rc = ilog_query(path, f, ti_collect, rows, err, sizeof(err));
	if (rc)
		fprintf(stderr, "ilog_query: %d %s\n", rc, err);
	return rc;
}

static TI_UNUSED void ti_rows_free(struct ti_rows *rows)
{
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

/* Polls ilog_stats until written >= <n> or <timeout_ms> passes; returns the last snapshot. */
static TI_UNUSED struct ilog_stats ti_wait_written(struct ilog *log, uint64_t n, long timeout_ms)
{
	struct ilog_stats st;
	int64_t end = ti_now_ms() + timeout_ms;

	for (;;) {
		ilog_stats(log, &st);
		if (st.written >= n || ti_now_ms() >= end)
			return st;
		ti_sleep_ms(2);
	}
}

/* True if the bytes <needle> occur in the file <path> (missing file: false). */
static TI_UNUSED bool ti_file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t nl = strlen(needle), len = 0, cap = 0;
	char *buf = NULL;
	bool found = false;
	int c;

	if (!fp)
		return false;
	while ((c = fgetc(fp)) != EOF) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		buf[len++] = (char)c;
	}
	fclose(fp);
	found = buf && memmem(buf, len, needle, nl) != NULL;
	free(buf);
	return found;
}

#endif
