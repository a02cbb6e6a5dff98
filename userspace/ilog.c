/* ilog: the bounded queue between the data path and the writer thread, and the writer's loop:
 * batching (batch_max records or batch_ms), retry with back-off while commits fail, counters.
 * Owns the queue's slots (records copied in by value) and the thread; the SQL is ilog_write.c. */
#include "ilog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ILOG_DEFAULT_QUEUE 4096
#define ILOG_DEFAULT_BATCH 256
#define ILOG_DEFAULT_BATCH_MS 20
#define ILOG_DEFAULT_RETRY_MAX_MS 1000
#define ILOG_DEFAULT_CLOSE_MS 2000
#define ILOG_DEFAULT_PAYLOAD_CAP (1u << 20)
#define ILOG_DEFAULT_PAYLOAD_QUEUE (64u << 20)
#define ILOG_RETRY_FIRST_MS 50

struct ilog {
	pthread_mutex_t mu;
	pthread_cond_t work; /* to the writer: records, flush request, page limit, stop */
	pthread_cond_t done; /* to flush waiters: records left the queue */
	struct ilog_slot *ring;
	uint32_t cap, head, count; /* count includes the batch being written (ring[head..]) */
	uint32_t batch_max, batch_ms, retry_max_ms, close_timeout_ms;
	size_t payload_cap_max, payload_queue_max, payload_queued;
	uint64_t done_seq; /* records committed or abandoned; submitted counts in the same order */
	uint64_t flush_target; /* while done_seq < flush_target the writer does not wait to batch */
	uint64_t abandoned;
	bool stopping;
	int64_t stop_deadline;
	bool page_limit_pending;
	uint32_t page_limit;
	struct ilog_stats st;
	struct ilog_writer w;
	pthread_t thread;
};

static int64_t ilog_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ilog_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on <cv> until the monotonic time <deadline_ms> at the latest. */
static int ilog_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = deadline_ms / 1000,
			      .tv_nsec = (long)(deadline_ms % 1000) * 1000000};

	return pthread_cond_timedwait(cv, mu, &ts);
}

void ilog_record_init(struct ilog_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->rule_index = ILOG_RULE_NONE;
	rec->ttfb_ms = ILOG_UNKNOWN_MS;
	rec->uid = ILOG_UID_UNKNOWN;
}

void ilog_set(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (!cap)
		return;
	if (!src)
		src = "";
	n = strnlen(src, cap);
	if (n == cap) {
		/* Cut before the character that does not fit: back off over at most three
		 * continuation bytes to its lead byte. */
		n = cap - 1;
		for (int i = 0; i < 3 && n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80; i++)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Forces a terminator into every string field of a queued copy. */
static void ilog_record_terminate(struct ilog_record *r)
{
#define ILOG_TERM(f) r->f[sizeof(r->f) - 1] = '\0'
	ILOG_TERM(host);
	ILOG_TERM(exe);
	ILOG_TERM(user);
	ILOG_TERM(provider);
	ILOG_TERM(endpoint);
	ILOG_TERM(model_requested);
	ILOG_TERM(model_served);
	ILOG_TERM(tags);
	ILOG_TERM(key_fp);
	ILOG_TERM(key_last4);
	ILOG_TERM(key_format);
	ILOG_TERM(rule_group);
	ILOG_TERM(rule_trace);
	ILOG_TERM(error);
#undef ILOG_TERM
}

static bool ilog_record_valid(const struct ilog_record *r)
{
	return ilog_fp_valid(r->key_fp) && (unsigned)r->decision <= ILOG_DECISION_BLOCK &&
	       (unsigned)r->key_state <= ILOG_KEY_SHADOW;
}

/* Copies the capped payload into one allocation; false on ENOMEM. */
static bool ilog_payload_copy(struct ilog_slot *s, const struct ilog_payload *p, size_t cap_max)
{
	size_t cap = p->cap < cap_max ? p->cap : cap_max;
	size_t req = p->request && p->request_len < cap ? p->request_len : (p->request ? cap : 0);
	size_t resp =
	    p->response && p->response_len < cap ? p->response_len : (p->response ? cap : 0);

	s->payload = malloc(req + resp ? req + resp : 1);
	if (!s->payload)
		return false;
	if (req)
		memcpy(s->payload, p->request, req);
	if (resp)
		memcpy(s->payload + req, p->response, resp);
	s->request_stored = req;
	s->response_stored = resp;
	s->request_len = p->request ? p->request_len : 0;
	s->response_len = p->response ? p->response_len : 0;
	return true;
}

int ilog_submit(struct ilog *log, const struct ilog_record *rec, const struct ilog_payload *payload)
{
	struct ilog_slot pay = {0};
	struct ilog_slot *s;
	bool payload_dropped = false;

	if (!ilog_record_valid(rec)) {
		pthread_mutex_lock(&log->mu);
		log->st.rejected++;
		pthread_mutex_unlock(&log->mu);
		return -EINVAL;
	}
	/* Allocate and copy outside the lock; the budget is checked under it. */
	if (payload && payload->cap && !ilog_payload_copy(&pay, payload, log->payload_cap_max))
		payload_dropped = true;

	pthread_mutex_lock(&log->mu);
	if (log->stopping || log->count == log->cap) {
		int rc = -ESHUTDOWN;

		if (!log->stopping) {
			rc = -ENOBUFS;
			if (log->st.failing)
				log->st.dropped_disk++;
			else
				log->st.dropped_queue_full++;
		}
		pthread_mutex_unlock(&log->mu);
		free(pay.payload);
		return rc;
	}
	if (pay.payload && pay.request_stored + pay.response_stored >
			       log->payload_queue_max - log->payload_queued) {
		free(pay.payload); /* under the lock, rarely: only when payloads pile up */
		pay.payload = NULL;
		payload_dropped = true;
	}
	s = &log->ring[(log->head + log->count) % log->cap];
	s->rec = *rec;
	ilog_record_terminate(&s->rec);
	s->payload = pay.payload;
	s->request_stored = pay.request_stored;
	s->response_stored = pay.response_stored;
	s->request_len = pay.request_len;
	s->response_len = pay.response_len;
	s->submit_mono_ms = ilog_mono_ms();
	if (s->payload)
		log->payload_queued += s->request_stored + s->response_stored;
	log->st.payloads_dropped += payload_dropped;
	log->st.submitted++;
	log->count++;
	/* The writer sleeps on an empty queue, or waits for a batch to fill. */
	if (log->count == 1 || log->count == log->batch_max)
		pthread_cond_signal(&log->work);
	pthread_mutex_unlock(&log->mu);
	return 0;
}

/* Releases the first <n> slots (committed or abandoned). Called with the lock held. */
static void ilog_release(struct ilog *log, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct ilog_slot *s = &log->ring[(log->head + i) % log->cap];

		if (s->payload) {
			log->payload_queued -= s->request_stored + s->response_stored;
			free(s->payload);
			s->payload = NULL;
		}
	}
	log->head = (log->head + n) % log->cap;
	log->count -= n;
	log->done_seq += n;
	pthread_cond_broadcast(&log->done);
}

/* Waits, lock held, until a batch should be written: batch_max records, the oldest waiting
 * batch_ms, a flush, a stop, or a page-limit change. */
static void ilog_wait_batch(struct ilog *log)
{
	int64_t deadline = log->ring[log->head].submit_mono_ms + log->batch_ms;

	while (log->count < log->batch_max && !log->stopping && !log->page_limit_pending &&
	       log->flush_target <= log->done_seq && ilog_mono_ms() < deadline)
		ilog_wait_until(&log->work, &log->mu, deadline);
}

/* After a failed commit, lock held: back off (doubling up to retry_max_ms) unless the page limit
 * changes or ilog_close begins; while closing, give up at the close deadline. Returns false when
 * the queue was abandoned. */
static bool ilog_backoff(struct ilog *log, uint32_t *backoff_ms)
{
	int64_t now = ilog_mono_ms(), retry_at;
	bool was_stopping = log->stopping;

	if (log->stopping && now >= log->stop_deadline) {
		log->abandoned += log->count;
		log->st.dropped_disk += log->count;
		ilog_release(log, log->count);
		return false;
	}
	*backoff_ms = *backoff_ms ? *backoff_ms * 2 : ILOG_RETRY_FIRST_MS;
	if (*backoff_ms > log->retry_max_ms)
		*backoff_ms = log->retry_max_ms;
	retry_at = now + *backoff_ms;
	if (log->stopping && retry_at > log->stop_deadline)
		retry_at = log->stop_deadline;
	while (!log->page_limit_pending && log->stopping == was_stopping &&
	       ilog_mono_ms() < retry_at)
		ilog_wait_until(&log->work, &log->mu, retry_at);
	return true;
}

static void *ilog_writer_main(void *arg)
{
	struct ilog *log = arg;
	uint32_t backoff_ms = 0;
	char err[sizeof(log->st.last_error)];

	pthread_mutex_lock(&log->mu);
	for (;;) {
		uint32_t n, head;
		int rc;

		while (!log->count && !log->stopping && !log->page_limit_pending)
			pthread_cond_wait(&log->work, &log->mu);
		if (log->page_limit_pending) {
			uint32_t pages = log->page_limit;

			log->page_limit_pending = false;
			pthread_mutex_unlock(&log->mu);
			ilog_writer_page_limit(&log->w, pages);
			pthread_mutex_lock(&log->mu);
			continue;
		}
		if (!log->count)
			break; /* stopping, all written */
		if (!backoff_ms) {
			ilog_wait_batch(log);
			if (log->page_limit_pending)
				continue;
		}
		n = log->count < log->batch_max ? log->count : log->batch_max;
		head = log->head;
		/* Producers only write slots past head + count: ours are stable unlocked. */
		pthread_mutex_unlock(&log->mu);
		rc = ilog_writer_commit(&log->w, log->ring, log->cap, head, n, err, sizeof(err));
		pthread_mutex_lock(&log->mu);
		if (rc == SQLITE_OK) {
			log->st.written += n;
			log->st.batches++;
			log->st.last_commit_ms = ilog_unix_ms();
			log->st.failing = false;
			backoff_ms = 0;
			ilog_release(log, n);
			continue;
		}
		log->st.write_errors++;
		log->st.failing = true;
		log->st.last_error_code = rc;
		log->st.last_error_ms = ilog_unix_ms();
		snprintf(log->st.last_error, sizeof(log->st.last_error), "%s", err);
		if (!ilog_backoff(log, &backoff_ms))
			break;
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

/* Creates the missing directories above <path>, mode 0700 (existing ones are left alone). */
static int ilog_mkdirs(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(dir)) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, len + 1);
	for (char *p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		struct stat sb;

		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			snprintf(err, errlen, "%s: cannot create directory %s: %s", path, dir,
				 strerror(e));
			return -e;
		}
		if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s: %s is not a directory", path, dir);
			return -ENOTDIR;
		}
		*p = '/';
	}
	return 0;
}

/* Creates the log file 0600 if missing, so SQLite (which gives the -wal and -shm files the
 * database's mode) never creates it under a permissive umask. */
static int ilog_create_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		int e = errno;

		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(e));
		return -e;
	}
	if (fchmod(fd, 0600) < 0) {
		int e = errno;

		close(fd);
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

static void ilog_free(struct ilog *log)
{
	if (log->ring)
		for (uint32_t i = 0; i < log->cap; i++)
			free(log->ring[i].payload);
	free(log->ring);
	pthread_cond_destroy(&log->work);
	pthread_cond_destroy(&log->done);
	pthread_mutex_destroy(&log->mu);
	free(log);
}

struct ilog *ilog_open(const char *path, const struct ilog_opts *opts, char *err, size_t errlen)
{
	static const struct ilog_opts defaults;
	const struct ilog_opts *o = opts ? opts : &defaults;
	char host[ILOG_HOST_LEN] = "";
	pthread_condattr_t ca;
	sigset_t all, old;
	struct ilog *log;
	int rc;

	if (!path || !*path) {
		snprintf(err, errlen, "no intercept log path");
		return NULL;
	}
	if (ilog_mkdirs(path, err, errlen) < 0 || ilog_create_file(path, err, errlen) < 0)
		return NULL;
	log = calloc(1, sizeof(*log));
	if (!log) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&log->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log->work, &ca);
	pthread_cond_init(&log->done, &ca);
	pthread_condattr_destroy(&ca);
	log->cap = o->queue_capacity ? o->queue_capacity : ILOG_DEFAULT_QUEUE;
	log->batch_max = o->batch_max ? o->batch_max : ILOG_DEFAULT_BATCH;
	log->batch_ms = o->batch_ms ? o->batch_ms : ILOG_DEFAULT_BATCH_MS;
	log->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : ILOG_DEFAULT_RETRY_MAX_MS;
	log->close_timeout_ms = o->close_timeout_ms ? o->close_timeout_ms : ILOG_DEFAULT_CLOSE_MS;
	log->payload_cap_max = o->payload_cap_max ? o->payload_cap_max : ILOG_DEFAULT_PAYLOAD_CAP;
	log->payload_queue_max =
	    o->payload_queue_max ? o->payload_queue_max : ILOG_DEFAULT_PAYLOAD_QUEUE;
	if (log->batch_max > log->cap)
		log->batch_max = log->cap;
	log->st.queue_capacity = log->cap;
	/* calloc: untouched slots cost no resident memory until the ring first wraps past them. */
	log->ring = calloc(log->cap, sizeof(*log->ring));
	if (!log->ring) {
		snprintf(err, errlen, "out of memory for a queue of %u records", log->cap);
		ilog_free(log);
		return NULL;
	}
	if (o->host)
		ilog_set(host, sizeof(host), o->host);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		ilog_set(host, sizeof(host), "?");
	if (ilog_writer_open(&log->w, path, o->sync_full, host, err, errlen) < 0) {
		ilog_free(log);
		return NULL;
	}
	/* The writer takes no signals: the agent handles them on its own threads (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&log->thread, NULL, ilog_writer_main, log);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "starting the intercept log writer: %s", strerror(rc));
		ilog_writer_close(&log->w);
		ilog_free(log);
		return NULL;
	}
	return log;
}

int ilog_flush_wait(struct ilog *log, uint32_t timeout_ms)
{
	int64_t deadline = ilog_mono_ms() + timeout_ms;
	uint64_t target;
	int rc = 0;

	pthread_mutex_lock(&log->mu);
	target = log->st.submitted;
	if (log->flush_target < target) {
		log->flush_target = target;
		pthread_cond_signal(&log->work);
	}
	while (log->done_seq < target) {
		if (ilog_mono_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		ilog_wait_until(&log->done, &log->mu, deadline);
	}
	pthread_mutex_unlock(&log->mu);
	return rc;
}

void ilog_stats(struct ilog *log, struct ilog_stats *out)
{
	pthread_mutex_lock(&log->mu);
	*out = log->st;
	out->queue_depth = log->count;
	pthread_mutex_unlock(&log->mu);
}

void ilog_set_page_limit(struct ilog *log, uint32_t pages)
{
	pthread_mutex_lock(&log->mu);
	log->page_limit = pages;
	log->page_limit_pending = true;
	pthread_cond_signal(&log->work);
	pthread_mutex_unlock(&log->mu);
}

int ilog_close(struct ilog *log, struct ilog_stats *final)
{
	uint64_t abandoned;

	if (!log)
		return 0;
	pthread_mutex_lock(&log->mu);
	log->stopping = true;
	log->stop_deadline = ilog_mono_ms() + log->close_timeout_ms;
	pthread_cond_signal(&log->work);
	pthread_mutex_unlock(&log->mu);
	pthread_join(log->thread, NULL);
	if (final)
		ilog_stats(log, final);
	abandoned = log->abandoned;
	ilog_writer_close(&log->w);
	ilog_free(log);
	return abandoned ? -EIO : 0;
}
