/* ilog_write: the writer thread's SQLite side - opening the log (WAL, migrations), and one batch
 * of queued records plus their key-inventory updates per transaction. Borrows the queue's slots
 * for the duration of a commit; owns its connection and prepared statements. */
#include "ilog_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char ilog_sql_insert_record[] =
    "INSERT INTO records (start_ms, end_ms, flow_id, seq, host, pid, exe, uid, user, provider,"
    " endpoint, model_requested, model_served, tags, key_fp, key_last4, key_format, key_state,"
    " http_status, stream, tokens_in, tokens_out, tokens_cached, tokens_cache_write,"
    " tokens_reasoning, cost_micro, estimated, ttfb_ms, total_ms, bytes_up, bytes_down,"
    " decision, rule_index, rule_group, rule_trace, error, leaked_keys)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36,"
    " ?37)";

static const char ilog_sql_insert_payload[] =
    "INSERT INTO payloads (record_id, request, request_len, response, response_len)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";

/* The key inventory is updated once per key (and per key, host, user, exe) per batch, with the
 * batch's counts, not once per record: a busy key makes one upsert per transaction. Identity
 * and state follow the most recent sighting (records of a batch may arrive slightly out of start
 * order, and batches of different threads' records too). */
static const char ilog_sql_upsert_key[] =
    "INSERT INTO keys (fingerprint, provider, last4, format, state, first_seen_ms,"
    " last_seen_ms, requests, spend_micro, unpriced)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    " ON CONFLICT (fingerprint) DO UPDATE SET"
    "  provider = CASE WHEN excluded.last_seen_ms >= last_seen_ms THEN excluded.provider"
    "             ELSE provider END,"
    "  last4 = CASE WHEN excluded.last_seen_ms >= last_seen_ms THEN excluded.last4"
    "          ELSE last4 END,"
    "  format = CASE WHEN excluded.last_seen_ms >= last_seen_ms THEN excluded.format"
    "           ELSE format END,"
    "  state = CASE WHEN excluded.last_seen_ms >= last_seen_ms THEN excluded.state"
    "          ELSE state END,"
    "  first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
    "  last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),"
    "  requests = requests + excluded.requests,"
    "  spend_micro = spend_micro + excluded.spend_micro,"
    "  unpriced = unpriced + excluded.unpriced";

static const char ilog_sql_upsert_usage[] =
    "INSERT INTO key_usage (fingerprint, host, user, exe, requests, first_seen_ms,"
    " last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (fingerprint, host, user, exe) DO UPDATE SET"
    "  requests = requests + excluded.requests,"
    "  first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
    "  last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)";

bool ilog_fp_valid(const char *fp)
{
	size_t i;

	if (!fp[0])
		return true;
	for (i = 0; i < ILOG_FP_LEN - 1; i++)
		if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f')))
			return false;
	return fp[i] == '\0';
}

static int ilog_writer_prepare(struct ilog_writer *w, sqlite3_stmt **st, const char *sql, char *err,
			       size_t errlen)
{
	/* PERSISTENT: these live as long as the connection and run for every batch. */
	if (sqlite3_prepare_v3(w->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "preparing a statement: %s", sqlite3_errmsg(w->db));
	return -EIO;
}

/* Runs a pragma that answers one text row and returns whether the answer is <want>. */
static bool ilog_writer_pragma(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *st = NULL;
	bool ok = false;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(st);

		if (rc == SQLITE_ROW && want) {
			const char *v = (const char *)sqlite3_column_text(st, 0);

			ok = v && strcmp(v, want) == 0;
		} else if (!want) {
			ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
		}
	}
	sqlite3_finalize(st);
	return ok;
}

int ilog_writer_open(struct ilog_writer *w, const char *path, bool sync_full, const char *host,
		     char *err, size_t errlen)
{
	char msg[384];
	int rc;

	memset(w, 0, sizeof(*w));
	ilog_set(w->host, sizeof(w->host), host);
	rc = sqlite3_open_v2(
	    path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 w->db ? sqlite3_errmsg(w->db) : "out of memory");
		rc = -EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(w->db, 1);
	sqlite3_busy_timeout(w->db, 1000);
	/* Refuse a foreign or newer file before switching it to WAL. */
	rc = ilog_schema_peek(w->db, ILOG_SCHEMA_VERSION, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	if (!ilog_writer_pragma(w->db, "PRAGMA journal_mode = WAL", "wal")) {
		snprintf(err, errlen, "%s: cannot use WAL journaling: %s", path,
			 sqlite3_errmsg(w->db));
		rc = -EIO;
		goto fail;
	}
	rc = ilog_schema_migrate(w->db, ilog_migrations, ilog_nmigrations, msg, sizeof(msg));
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	/* NORMAL in WAL: a commit is a write() to the WAL, fsync only at checkpoints. Committed
	 * transactions survive the death of the process; power loss may take the last ones. */
	if (!ilog_writer_pragma(
		w->db, sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
		NULL) ||
	    !ilog_writer_pragma(w->db, "PRAGMA journal_size_limit = 67108864", NULL) ||
	    /* The schema's CHECK (... IN ('a','b','c')) constraints guard the file against other
	     * writers; this one writes those columns only from enum names. Evaluated, each IN
	     * list builds a throwaway b-tree per inserted row: about a third of a record's cost. */
	    !ilog_writer_pragma(w->db, "PRAGMA ignore_check_constraints = ON", NULL)) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(w->db));
		rc = -EIO;
		goto fail;
	}
	if ((rc = ilog_writer_prepare(w, &w->begin, "BEGIN IMMEDIATE", msg, sizeof(msg))) ||
	    (rc = ilog_writer_prepare(w, &w->commit, "COMMIT", msg, sizeof(msg))) ||
	    (rc = ilog_writer_prepare(w, &w->rollback, "ROLLBACK", msg, sizeof(msg))) ||
	    (rc = ilog_writer_prepare(w, &w->insert_record, ilog_sql_insert_record, msg,
				      sizeof(msg))) ||
	    (rc = ilog_writer_prepare(w, &w->insert_payload, ilog_sql_insert_payload, msg,
				      sizeof(msg))) ||
	    (rc = ilog_writer_prepare(w, &w->upsert_key, ilog_sql_upsert_key, msg, sizeof(msg))) ||
	    (rc = ilog_writer_prepare(w, &w->upsert_usage, ilog_sql_upsert_usage, msg,
				      sizeof(msg)))) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	return 0;

fail:
	ilog_writer_close(w);
	return rc;
}

void ilog_writer_close(struct ilog_writer *w)
{
	sqlite3_finalize(w->begin);
	sqlite3_finalize(w->commit);
	sqlite3_finalize(w->rollback);
	sqlite3_finalize(w->insert_record);
	sqlite3_finalize(w->insert_payload);
	sqlite3_finalize(w->upsert_key);
	sqlite3_finalize(w->upsert_usage);
	/* The last connection to close checkpoints the WAL into the database and removes it. */
	sqlite3_close(w->db);
	memset(w, 0, sizeof(*w));
}

int ilog_writer_page_limit(struct ilog_writer *w, uint32_t pages)
{
	char sql[64];

	/* SQLite clamps to its own maximum and never below the current size. */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u", pages ? pages : 0xfffffffeu);
	return ilog_writer_pragma(w->db, sql, NULL) ? 0 : -EIO;
}

/* Text bound as-is: the slot outlives the statement's use of it. */
static void ilog_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Runs a statement that returns no row, then resets it (keeping the result code). */
static int ilog_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int ilog_write_record(struct ilog_writer *w, const struct ilog_slot *s)
{
	const struct ilog_record *r = &s->rec;
	sqlite3_stmt *st = w->insert_record;
	int rc;

	sqlite3_bind_int64(st, 1, r->start_ms);
	sqlite3_bind_int64(st, 2, r->end_ms);
	sqlite3_bind_int64(st, 3, (int64_t)r->flow_id); /* stored as the same 64 bits */
	sqlite3_bind_int64(st, 4, (int64_t)r->seq);
	ilog_bind_text(st, 5, r->host[0] ? r->host : w->host);
	if (r->pid)
		sqlite3_bind_int64(st, 6, r->pid);
	ilog_bind_text(st, 7, r->exe);
	if (r->uid != ILOG_UID_UNKNOWN)
		sqlite3_bind_int64(st, 8, r->uid);
	ilog_bind_text(st, 9, r->user);
	ilog_bind_text(st, 10, r->provider);
	ilog_bind_text(st, 11, r->endpoint);
	ilog_bind_text(st, 12, r->model_requested);
	ilog_bind_text(st, 13, r->model_served);
	ilog_bind_text(st, 14, r->tags);
	if (r->key_fp[0])
		ilog_bind_text(st, 15, r->key_fp);
	ilog_bind_text(st, 16, r->key_last4);
	ilog_bind_text(st, 17, r->key_format);
	ilog_bind_text(st, 18, ilog_key_state_name(r->key_state));
	sqlite3_bind_int(st, 19, r->http_status);
	sqlite3_bind_int(st, 20, r->stream);
	sqlite3_bind_int64(st, 21, r->tokens_in);
	sqlite3_bind_int64(st, 22, r->tokens_out);
	sqlite3_bind_int64(st, 23, r->tokens_cached);
	sqlite3_bind_int64(st, 24, r->tokens_cache_write);
	sqlite3_bind_int64(st, 25, r->tokens_reasoning);
	if (r->price_known)
		sqlite3_bind_int64(st, 26, r->cost_micro);
	sqlite3_bind_int(st, 27, r->estimated);
	if (r->ttfb_ms >= 0)
		sqlite3_bind_int64(st, 28, r->ttfb_ms);
	sqlite3_bind_int64(st, 29, r->total_ms);
	sqlite3_bind_int64(st, 30, (int64_t)r->bytes_up);
	sqlite3_bind_int64(st, 31, (int64_t)r->bytes_down);
	ilog_bind_text(st, 32, ilog_decision_name(r->decision));
	if (r->rule_index >= 0)
		sqlite3_bind_int(st, 33, r->rule_index);
	ilog_bind_text(st, 34, r->rule_group);
	ilog_bind_text(st, 35, r->rule_trace);
	ilog_bind_text(st, 36, r->error);
	sqlite3_bind_int64(st, 37, r->leaked_keys);
	rc = ilog_run(st);
	if (rc != SQLITE_OK || !s->payload)
		return rc;

	st = w->insert_payload;
	sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(w->db));
	sqlite3_bind_blob64(st, 2, s->payload, s->request_stored, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)s->request_len);
	sqlite3_bind_blob64(st, 4, s->payload + s->request_stored, s->response_stored,
			    SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)s->response_len);
	return ilog_run(st);
}

/* Per-batch sums for the key inventory. Distinct keys in one batch are few; when a batch has more
 * than fit, the sums are written out and started again (the counts stay exact either way). */
#define ILOG_AGG_KEYS 32
#define ILOG_AGG_USAGE 64

struct key_sum {
	const struct ilog_record *latest; /* identity and state come from the newest sighting */
	int64_t first_ms, requests, spend, unpriced;
};

struct usage_sum {
	const struct ilog_record *any; /* fingerprint, user, exe */
	const char *host;
	int64_t first_ms, last_ms, requests;
};

struct key_sums {
	struct key_sum key[ILOG_AGG_KEYS];
	struct usage_sum usage[ILOG_AGG_USAGE];
	unsigned nkey, nusage;
};

static int ilog_write_sums(struct ilog_writer *w, struct key_sums *a)
{
	int rc = SQLITE_OK;

	for (unsigned i = 0; rc == SQLITE_OK && i < a->nkey; i++) {
		const struct key_sum *k = &a->key[i];
		const struct ilog_record *r = k->latest;
		sqlite3_stmt *st = w->upsert_key;

		ilog_bind_text(st, 1, r->key_fp);
		ilog_bind_text(st, 2, r->provider);
		ilog_bind_text(st, 3, r->key_last4);
		ilog_bind_text(st, 4, r->key_format);
		ilog_bind_text(st, 5, ilog_key_state_name(r->key_state));
		sqlite3_bind_int64(st, 6, k->first_ms);
		sqlite3_bind_int64(st, 7, r->start_ms);
		sqlite3_bind_int64(st, 8, k->requests);
		sqlite3_bind_int64(st, 9, k->spend);
		sqlite3_bind_int64(st, 10, k->unpriced);
		rc = ilog_run(st);
	}
	for (unsigned i = 0; rc == SQLITE_OK && i < a->nusage; i++) {
		const struct usage_sum *u = &a->usage[i];
		sqlite3_stmt *st = w->upsert_usage;

		ilog_bind_text(st, 1, u->any->key_fp);
		ilog_bind_text(st, 2, u->host);
		ilog_bind_text(st, 3, u->any->user);
		ilog_bind_text(st, 4, u->any->exe);
		sqlite3_bind_int64(st, 5, u->requests);
		sqlite3_bind_int64(st, 6, u->first_ms);
		sqlite3_bind_int64(st, 7, u->last_ms);
		rc = ilog_run(st);
	}
	a->nkey = a->nusage = 0;
	return rc;
}

/* ilog_sum_key - add record <r> to the batch's sums, writing them out first when full. */
static int ilog_sum_key(struct ilog_writer *w, struct key_sums *a, const struct ilog_record *r)
{
	const char *host = r->host[0] ? r->host : w->host;
	int64_t spend = r->price_known ? r->cost_micro : 0;
	struct key_sum *k = NULL;
	struct usage_sum *u = NULL;
	unsigned i;
	int rc;

	for (i = 0; i < a->nkey && !k; i++)
		if (strcmp(a->key[i].latest->key_fp, r->key_fp) == 0)
			k = &a->key[i];
	for (i = 0; i < a->nusage && !u; i++)
		if (strcmp(a->usage[i].any->key_fp, r->key_fp) == 0 &&
		    strcmp(a->usage[i].host, host) == 0 &&
		    strcmp(a->usage[i].any->user, r->user) == 0 &&
		    strcmp(a->usage[i].any->exe, r->exe) == 0)
			u = &a->usage[i];
	if ((!k && a->nkey == ILOG_AGG_KEYS) || (!u && a->nusage == ILOG_AGG_USAGE)) {
		if ((rc = ilog_write_sums(w, a)) != SQLITE_OK)
			return rc;
		k = NULL;
		u = NULL;
	}
	if (!k) {
		k = &a->key[a->nkey++];
		*k = (struct key_sum){.latest = r, .first_ms = r->start_ms};
	}
	if (r->start_ms >= k->latest->start_ms)
		k->latest = r;
	if (r->start_ms < k->first_ms)
		k->first_ms = r->start_ms;
	k->requests++;
	k->spend += spend;
	k->unpriced += !r->price_known;
	if (!u) {
		u = &a->usage[a->nusage++];
		*u = (struct usage_sum){.any = r, .host = host, .first_ms = r->start_ms,
					.last_ms = r->start_ms};
	}
	if (r->start_ms < u->first_ms)
		u->first_ms = r->start_ms;
	if (r->start_ms > u->last_ms)
		u->last_ms = r->start_ms;
	u->requests++;
	return SQLITE_OK;
}

int ilog_writer_commit(struct ilog_writer *w, const struct ilog_slot *ring, uint32_t cap,
		       uint32_t head, uint32_t n, char *err, size_t errlen)
{
	const char *what = "starting a transaction";
	struct key_sums sums;
	int rc = ilog_run(w->begin);

	sums.nkey = sums.nusage = 0;
	for (uint32_t i = 0; rc == SQLITE_OK && i < n; i++) {
		const struct ilog_slot *s = &ring[(head + i) % cap];

		what = "writing a record";
		rc = ilog_write_record(w, s);
		if (rc == SQLITE_OK && s->rec.key_fp[0]) {
			what = "updating the key inventory";
			rc = ilog_sum_key(w, &sums, &s->rec);
		}
	}
	if (rc == SQLITE_OK) {
		what = "updating the key inventory";
		rc = ilog_write_sums(w, &sums);
	}
	if (rc == SQLITE_OK) {
		what = "committing";
		rc = ilog_run(w->commit);
	}
	if (rc == SQLITE_OK)
		return SQLITE_OK;
	/* Extended code and message before the rollback replaces them. */
	rc = sqlite3_extended_errcode(w->db);
	snprintf(err, errlen, "%s (%u records): %s (SQLite code %d)", what, n,
		 sqlite3_errmsg(w->db), rc);
	if (!sqlite3_get_autocommit(w->db))
		ilog_run(w->rollback);
	return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}
