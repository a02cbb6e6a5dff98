/* log: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
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
	/* One write keeps the line whole even when several workers log at once. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
