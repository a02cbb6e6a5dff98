/* log: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int log_level = MLX_LOG_INFO;

void log_set_level(enum mlx_log_level level)
{
	atomic_store(&log_level, level);
}

enum mlx_log_level log_get_level(void)
{
	return atomic_load(&log_level);
}

/* This thread's batch (see log_batch_begin). Lines longer than what is left are written at once
 * after the batch so far. */
#define LOG_BATCH_BYTES 8192
static __thread struct {
	bool on;
	size_t len;
	char buf[LOG_BATCH_BYTES];
} log_batch;

static void write_all(const char *p, size_t n)
{
	/* One write keeps lines whole even when several workers log at once. */
	if (write(STDERR_FILENO, p, n) < 0)
		return;
}

static void batch_flush(void)
{
	if (log_batch.len) {
		write_all(log_batch.buf, log_batch.len);
		log_batch.len = 0;
	}
}

void log_batch_begin(void)
{
	log_batch.on = true;
}

void log_batch_end(void)
{
	batch_flush();
	log_batch.on = false;
}

void log_msg(enum mlx_log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, m;

	if ((int)level > atomic_load(&log_level))
		return;
	n = snprintf(line, sizeof(line), "<%d>", (int)level);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated: still one terminated line */
	line[n++] = '\n';
	if (!log_batch.on) {
		write_all(line, (size_t)n);
		return;
	}
	if (level <= MLX_LOG_WARN || (size_t)n > sizeof(log_batch.buf) - log_batch.len) {
		batch_flush();
		if (level <= MLX_LOG_WARN || (size_t)n > sizeof(log_batch.buf)) {
			write_all(line, (size_t)n);
			return;
		}
	}
	memcpy(log_batch.buf + log_batch.len, line, (size_t)n);
	log_batch.len += (size_t)n;
}
