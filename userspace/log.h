/* log: journald-friendly "<N>" prefixed lines on stderr. Lines are written whole by one write(2)
 * (alone, or with the others a worker gathered over one turn of its event loop), so lines from
 * several threads never interleave. Owns the global log level and each thread's batch. */
#ifndef MODELUX_LOG_H
#define MODELUX_LOG_H

#include "config.h"

void log_set_level(enum mlx_log_level level);
enum mlx_log_level log_get_level(void);

/* log_msg - format and emit one line at <level>; dropped when above the configured level. */
void log_msg(enum mlx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_batch_begin / log_batch_end - between the two, this thread's info and debug lines are
 * gathered and written together at the end (or when the buffer fills, or before an error or
 * warning line, which is written at once): a worker brackets each turn of its event loop, so a
 * busy worker makes one write per turn instead of one per line. Lines stay whole and in order. */
void log_batch_begin(void);
void log_batch_end(void);

#define log_err(...) log_msg(MLX_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(MLX_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(MLX_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(MLX_LOG_DEBUG, __VA_ARGS__)

#endif
