/* ilog_int: what the ilog*.c files share and their tests reach - the schema and its migrations
 * (ilog_schema.c), the SQL writer (ilog_write.c) and the queue slot (ilog.c). Not a public API. */
#ifndef MODELUX_ILOG_INT_H
#define MODELUX_ILOG_INT_H

#include <sqlite3.h>

#include "ilog.h"

#define ILOG_APPLICATION_ID 0x4d4c5849 /* "MLXI", PRAGMA application_id of every intercept log */
#define ILOG_SCHEMA_VERSION 1

/* One ordered schema step: running <sql> on a database at version <version> - 1 brings it to
 * <version>. Steps run inside the caller's transaction and must not COMMIT. */
struct ilog_migration {
	int version;
	const char *sql;
};

extern const struct ilog_migration ilog_migrations[];
extern const size_t ilog_nmigrations;

/* ilog_schema_migrate - bring <db> (opened read-write) to the last version of <steps>: refuse a
 * newer version or a database that is not an intercept log, else run the missing steps and set
 * user_version in one IMMEDIATE transaction (all or nothing). Returns 0 or -EPROTO/-EIO/-ENOTSUP
 * with <err>. Takes the step list so tests can migrate to a future version. */
int ilog_schema_migrate(sqlite3 *db, const struct ilog_migration *steps, size_t nsteps, char *err,
			size_t errlen);

/* ilog_schema_peek - the version of <db> (0 = empty, to be created) without changing anything;
 * refuses (negative errno, <err>) a foreign database or one newer than <known>. */
int ilog_schema_peek(sqlite3 *db, int known, char *err, size_t errlen);

/* ilog_schema_check - read side: <db> must be an intercept log at exactly <version>. */
int ilog_schema_check(sqlite3 *db, int version, char *err, size_t errlen);

/* A queued record: the record copied by value, its payload in one allocation. */
struct ilog_slot {
	struct ilog_record rec;
	unsigned char *payload; /* request bytes then response bytes; NULL = none kept */
	size_t request_stored, response_stored;
	uint64_t request_len, response_len;
	int64_t submit_mono_ms;
};

/* The writer thread's connection and prepared statements. */
struct ilog_writer {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *insert_record, *insert_payload, *upsert_key, *upsert_usage;
	char host[ILOG_HOST_LEN];
};

/* ilog_writer_open - open <path> read-write (WAL, synchronous NORMAL or FULL), migrate, prepare. */
int ilog_writer_open(struct ilog_writer *w, const char *path, bool sync_full, const char *host,
		     char *err, size_t errlen);
void ilog_writer_close(struct ilog_writer *w);

/* ilog_writer_commit - write ring[head], ring[head+1], ... (<n> slots, modulo <cap>) and their key
 * inventory updates in one transaction. Returns SQLITE_OK or the SQLite extended result code with
 * <err>; on failure nothing of the batch is in the database. */
int ilog_writer_commit(struct ilog_writer *w, const struct ilog_slot *ring, uint32_t cap,
		       uint32_t head, uint32_t n, char *err, size_t errlen);

/* ilog_writer_page_limit - PRAGMA max_page_count; 0 = SQLite's maximum. */
int ilog_writer_page_limit(struct ilog_writer *w, uint32_t pages);

/* ilog_fp_valid - "" or exactly 64 lowercase hex digits. */
bool ilog_fp_valid(const char *fp);

#endif
