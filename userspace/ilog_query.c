/* ilog_query: the read side for modeluxctl - filtered records (tail: newest N, oldest first) and
 * the key inventory with who used each key. Opens its own read-only connection per call (WAL:
 * readers never block the agent's writer, and see only committed transactions). Borrows the
 * caller's filter; rows handed to callbacks live only for the call. */
#include "ilog_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ILOG_SQL_MAX 2048

static const char ilog_record_columns[] =
    "r.id, r.start_ms, r.end_ms, r.flow_id, r.seq, r.host, r.pid, r.exe, r.uid, r.user,"
    " r.provider, r.endpoint, r.model_requested, r.model_served, r.tags, r.key_fp,"
    " r.key_last4, r.key_format, r.key_state, r.http_status, r.stream, r.tokens_in,"
    " r.tokens_out, r.tokens_cached, r.tokens_cache_write, r.tokens_reasoning, r.cost_micro,"
    " r.estimated, r.ttfb_ms, r.total_ms, r.bytes_up, r.bytes_down, r.decision, r.rule_index,"
    " r.rule_group, r.rule_trace, r.error, r.leaked_keys";

static int ilog_open_ro(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	char msg[256];
	struct stat sb;
	int rc;

	*db = NULL;
	/* SQLite's "unable to open database file" hides why. */
	if (stat(path, &sb) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(*db, 2000);
	rc = ilog_schema_check(*db, ILOG_SCHEMA_VERSION, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		sqlite3_close(*db);
		*db = NULL;
	}
	return rc;
}

/* Appends to the statement text; false when it would not fit. */
static bool ilog_sql_cat(char *sql, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + n >= ILOG_SQL_MAX)
		return false;
	memcpy(sql + *off, s, n + 1);
	*off += n;
	return true;
}

static void ilog_bind_name(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void ilog_bind_name_int(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i > 0)
		sqlite3_bind_int64(st, i, v);
}

/* The fingerprint range [lo, hi) of the hex prefix <p>, lowercased. */
static bool ilog_prefix_range(const char *p, char lo[ILOG_FP_LEN], char hi[ILOG_FP_LEN], char *err,
			      size_t errlen)
{
	size_t n = strlen(p);

	if (n == 0 || n > ILOG_FP_LEN - 1) {
		snprintf(err, errlen, "key prefix must be 1 to 64 hex digits");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)p[i])) {
			snprintf(err, errlen, "key prefix must be hex digits (character %zu)",
				 i + 1);
			return false;
		}
		lo[i] = (char)tolower((unsigned char)p[i]);
	}
	lo[n] = '\0';
	memcpy(hi, lo, n + 1);
	hi[n - 1]++; /* '9'+1 = ':' sorts below 'a', 'f'+1 = 'g' above every hex digit */
	return true;
}

static void ilog_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	ilog_set(dst, cap, (const char *)sqlite3_column_text(st, i));
}

static bool ilog_col_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL;
}

static void ilog_read_row(sqlite3_stmt *st, struct ilog_row *row, bool with_payload)
{
	struct ilog_record *r = &row->rec;
	int i = 0;

	memset(row, 0, sizeof(*row));
	ilog_record_init(r);
	row->id = sqlite3_column_int64(st, i++);
	r->start_ms = sqlite3_column_int64(st, i++);
	r->end_ms = sqlite3_column_int64(st, i++);
	r->flow_id = (uint64_t)sqlite3_column_int64(st, i++);
	r->seq = (uint64_t)sqlite3_column_int64(st, i++);
	ilog_col_text(st, i++, r->host, sizeof(r->host));
	r->pid = (uint32_t)sqlite3_column_int64(st, i++);
	ilog_col_text(st, i++, r->exe, sizeof(r->exe));
	if (!ilog_col_null(st, i))
		r->uid = (uint32_t)sqlite3_column_int64(st, i);
	i++;
	ilog_col_text(st, i++, r->user, sizeof(r->user));
	ilog_col_text(st, i++, r->provider, sizeof(r->provider));
	ilog_col_text(st, i++, r->endpoint, sizeof(r->endpoint));
	ilog_col_text(st, i++, r->model_requested, sizeof(r->model_requested));
	ilog_col_text(st, i++, r->model_served, sizeof(r->model_served));
	ilog_col_text(st, i++, r->tags, sizeof(r->tags));
	ilog_col_text(st, i++, r->key_fp, sizeof(r->key_fp));
	ilog_col_text(st, i++, r->key_last4, sizeof(r->key_last4));
	ilog_col_text(st, i++, r->key_format, sizeof(r->key_format));
	ilog_key_state_parse((const char *)sqlite3_column_text(st, i++), &r->key_state);
	r->http_status = sqlite3_column_int(st, i++);
	r->stream = sqlite3_column_int(st, i++) != 0;
	r->tokens_in = sqlite3_column_int64(st, i++);
	r->tokens_out = sqlite3_column_int64(st, i++);
	r->tokens_cached = sqlite3_column_int64(st, i++);
	r->tokens_cache_write = sqlite3_column_int64(st, i++);
	r->tokens_reasoning = sqlite3_column_int64(st, i++);
	r->price_known = !ilog_col_null(st, i);
	r->cost_micro = sqlite3_column_int64(st, i++);
	r->estimated = sqlite3_column_int(st, i++) != 0;
	if (!ilog_col_null(st, i))
		r->ttfb_ms = sqlite3_column_int64(st, i);
	i++;
	r->total_ms = sqlite3_column_int64(st, i++);
	r->bytes_up = (uint64_t)sqlite3_column_int64(st, i++);
	r->bytes_down = (uint64_t)sqlite3_column_int64(st, i++);
	ilog_decision_parse((const char *)sqlite3_column_text(st, i++), &r->decision);
	if (!ilog_col_null(st, i))
		r->rule_index = sqlite3_column_int(st, i);
	i++;
	ilog_col_text(st, i++, r->rule_group, sizeof(r->rule_group));
	ilog_col_text(st, i++, r->rule_trace, sizeof(r->rule_trace));
	ilog_col_text(st, i++, r->error, sizeof(r->error));
	r->leaked_keys = (uint32_t)sqlite3_column_int64(st, i++);
	if (!with_payload || ilog_col_null(st, i + 1))
		return;
	/* Columns: request, request_len, response, response_len. A blob pointer is taken after its
	 * length is known, and stays valid until the next step. */
	row->has_payload = true;
	row->request_stored = (size_t)sqlite3_column_bytes(st, i);
	row->request = sqlite3_column_blob(st, i);
	row->request_len = (uint64_t)sqlite3_column_int64(st, i + 1);
	row->response_stored = (size_t)sqlite3_column_bytes(st, i + 2);
	row->response = sqlite3_column_blob(st, i + 2);
	row->response_len = (uint64_t)sqlite3_column_int64(st, i + 3);
}

/* Builds the record query for <f>. Returns false with <err> on a bad filter. */
static bool ilog_build_query(const struct ilog_filter *f, char *sql, char *err, size_t errlen)
{
	enum ilog_decision d;
	char lo[ILOG_FP_LEN], hi[ILOG_FP_LEN];
	size_t off = 0;
	bool ok = true;

	sql[0] = '\0';
	if (f->decision && !ilog_decision_parse(f->decision, &d)) {
		snprintf(err, errlen, "unknown decision '%.32s' (none, allow, downgrade, block)",
			 f->decision);
		return false;
	}
	if (f->key_prefix && !ilog_prefix_range(f->key_prefix, lo, hi, err, errlen))
		return false;
	if (f->limit)
		ok = ilog_sql_cat(sql, &off, "SELECT * FROM (");
	ok = ok && ilog_sql_cat(sql, &off, "SELECT ") &&
	     ilog_sql_cat(sql, &off, ilog_record_columns);
	if (f->with_payload)
		ok = ok &&
		     ilog_sql_cat(sql, &off,
				  ", p.request, p.request_len, p.response, p.response_len"
				  " FROM records r LEFT JOIN payloads p ON p.record_id = r.id");
	else
		ok = ok && ilog_sql_cat(sql, &off, " FROM records r");
	ok = ok && ilog_sql_cat(sql, &off, " WHERE r.id > :after");
	if (f->provider)
		ok = ok && ilog_sql_cat(sql, &off, " AND r.provider = :provider");
	if (f->model)
		ok = ok &&
		     ilog_sql_cat(sql, &off,
				  " AND (r.model_requested = :model OR r.model_served = :model)");
	if (f->key_prefix)
		ok = ok && ilog_sql_cat(sql, &off, " AND r.key_fp >= :kp_lo AND r.key_fp < :kp_hi");
	if (f->user)
		ok = ok && ilog_sql_cat(sql, &off, " AND r.user = :user");
	/* A name with a slash is a path; a bare name also matches the last component. */
	if (f->exe && strchr(f->exe, '/'))
		ok = ok && ilog_sql_cat(sql, &off, " AND r.exe = :exe");
	else if (f->exe)
		ok = ok &&
		     ilog_sql_cat(sql, &off,
				  " AND (r.exe = :exe OR (length(r.exe) > length(:exe) AND"
				  " substr(r.exe, length(r.exe) - length(:exe)) = '/' || :exe))");
	if (f->decision)
		ok = ok && ilog_sql_cat(sql, &off, " AND r.decision = :decision");
	if (f->since_ms)
		ok = ok && ilog_sql_cat(sql, &off, " AND r.start_ms >= :since");
	if (f->until_ms)
		ok = ok && ilog_sql_cat(sql, &off, " AND r.start_ms < :until");
	if (f->limit)
		ok = ok && ilog_sql_cat(sql, &off, " ORDER BY r.id DESC LIMIT :limit) ORDER BY 1");
	else
		ok = ok && ilog_sql_cat(sql, &off, " ORDER BY r.id");
	if (!ok)
		snprintf(err, errlen, "query too long");
	return ok;
}

int ilog_query(const char *path, const struct ilog_filter *filter, ilog_row_cb cb, void *ctx,
	       char *err, size_t errlen)
{
	static const struct ilog_filter all;
	const struct ilog_filter *f = filter ? filter : &all;
	char sql[ILOG_SQL_MAX], lo[ILOG_FP_LEN], hi[ILOG_FP_LEN];
	struct ilog_row *row = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc;

	if (!ilog_build_query(f, sql, err, errlen))
		return -EINVAL;
	if (f->key_prefix)
		ilog_prefix_range(f->key_prefix, lo, hi, err, errlen);
	rc = ilog_open_ro(path, &db, err, errlen);
	if (rc < 0)
		return rc;
	row = malloc(sizeof(*row)); /* ~2.6 KiB: off the caller's stack */
	if (!row) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		rc = -EIO;
		goto out;
	}
	ilog_bind_name_int(st, ":after", f->after_id);
	ilog_bind_name(st, ":provider", f->provider);
	ilog_bind_name(st, ":model", f->model);
	if (f->key_prefix) {
		ilog_bind_name(st, ":kp_lo", lo);
		ilog_bind_name(st, ":kp_hi", hi);
	}
	ilog_bind_name(st, ":user", f->user);
	ilog_bind_name(st, ":exe", f->exe);
	ilog_bind_name(st, ":decision", f->decision);
	ilog_bind_name_int(st, ":since", f->since_ms);
	ilog_bind_name_int(st, ":until", f->until_ms);
	ilog_bind_name_int(st, ":limit", f->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ilog_read_row(st, row, f->with_payload);
		rc = cb(ctx, row);
		if (rc)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		rc = -EIO;
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(row);
	return rc;
}

/* Reads the usage list of one key into <*usage> (grown as needed). */
static int ilog_read_usage(sqlite3_stmt *st, const char *fp, struct ilog_key_usage **usage,
			   size_t *cap, size_t *n)
{
	int rc;

	*n = 0;
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ilog_key_usage *u;

		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct ilog_key_usage *nu = realloc(*usage, ncap * sizeof(*nu));

			if (!nu) {
				sqlite3_reset(st);
				return -ENOMEM;
			}
			*usage = nu;
			*cap = ncap;
		}
		u = &(*usage)[(*n)++];
		ilog_col_text(st, 0, u->host, sizeof(u->host));
		ilog_col_text(st, 1, u->user, sizeof(u->user));
		ilog_col_text(st, 2, u->exe, sizeof(u->exe));
		u->requests = (uint64_t)sqlite3_column_int64(st, 3);
		u->first_seen_ms = sqlite3_column_int64(st, 4);
		u->last_seen_ms = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int ilog_keys(const char *path, const struct ilog_key_filter *filter, ilog_key_cb cb, void *ctx,
	      char *err, size_t errlen)
{
	static const struct ilog_key_filter all;
	const struct ilog_key_filter *f = filter ? filter : &all;
	char sql[ILOG_SQL_MAX], lo[ILOG_FP_LEN], hi[ILOG_FP_LEN];
	struct ilog_key_usage *usage = NULL;
	size_t usage_cap = 0, off = 0;
	sqlite3_stmt *st = NULL, *ust = NULL;
	enum ilog_key_state state;
	struct ilog_key_row k;
	sqlite3 *db;
	int rc;

	if (f->state && !ilog_key_state_parse(f->state, &state)) {
		snprintf(err, errlen, "unknown key state '%.32s' (sanctioned, shadow, none)",
			 f->state);
		return -EINVAL;
	}
	if (f->key_prefix && !ilog_prefix_range(f->key_prefix, lo, hi, err, errlen))
		return -EINVAL;
	ilog_sql_cat(sql, &off,
		     "SELECT fingerprint, provider, last4, format, state, first_seen_ms,"
		     " last_seen_ms, requests, spend_micro, unpriced FROM keys WHERE 1");
	if (f->provider)
		ilog_sql_cat(sql, &off, " AND provider = :provider");
	if (f->state)
		ilog_sql_cat(sql, &off, " AND state = :state");
	if (f->key_prefix)
		ilog_sql_cat(sql, &off, " AND fingerprint >= :kp_lo AND fingerprint < :kp_hi");
	if (f->since_ms)
		ilog_sql_cat(sql, &off, " AND last_seen_ms >= :since");
	ilog_sql_cat(sql, &off, " ORDER BY last_seen_ms DESC, fingerprint");

	rc = ilog_open_ro(path, &db, err, errlen);
	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT host, user, exe, requests, first_seen_ms, last_seen_ms"
			       " FROM key_usage WHERE fingerprint = ?1"
			       " ORDER BY requests DESC, last_seen_ms DESC, host, user, exe",
			       -1, &ust, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		rc = -EIO;
		goto out;
	}
	ilog_bind_name(st, ":provider", f->provider);
	ilog_bind_name(st, ":state", f->state);
	if (f->key_prefix) {
		ilog_bind_name(st, ":kp_lo", lo);
		ilog_bind_name(st, ":kp_hi", hi);
	}
	ilog_bind_name_int(st, ":since", f->since_ms);
	/* One read transaction: the key rows and their usage lists are one snapshot. */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&k, 0, sizeof(k));
		ilog_col_text(st, 0, k.fingerprint, sizeof(k.fingerprint));
		ilog_col_text(st, 1, k.provider, sizeof(k.provider));
		ilog_col_text(st, 2, k.last4, sizeof(k.last4));
		ilog_col_text(st, 3, k.format, sizeof(k.format));
		ilog_key_state_parse((const char *)sqlite3_column_text(st, 4), &k.state);
		k.first_seen_ms = sqlite3_column_int64(st, 5);
		k.last_seen_ms = sqlite3_column_int64(st, 6);
		k.requests = (uint64_t)sqlite3_column_int64(st, 7);
		k.spend_micro = sqlite3_column_int64(st, 8);
		k.unpriced = (uint64_t)sqlite3_column_int64(st, 9);
		rc = ilog_read_usage(ust, k.fingerprint, &usage, &usage_cap, &k.nusage);
		if (rc < 0) {
			snprintf(err, errlen, "%s: reading key usage: %s", path,
				 rc == -ENOMEM ? "out of memory" : sqlite3_errmsg(db));
			goto out;
		}
		k.usage = usage;
		rc = cb(ctx, &k);
		if (rc)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		rc = -EIO;
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(ust);
	sqlite3_close(db); /* ends the read transaction */
	free(usage);
	return rc;
}
