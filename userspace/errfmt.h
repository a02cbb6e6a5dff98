/* errfmt: filling a caller's error buffer and returning an error code in one statement, for
 * library functions that report errors as (rc, message) and never print. */
#ifndef MODELUX_ERRFMT_H
#define MODELUX_ERRFMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* err_fmt - format the message into <err> (<errlen> bytes; NULL/0 for none) and return <rc>. */
__attribute__((format(printf, 4, 5))) static inline int err_fmt(char *err, size_t errlen, int rc,
								 const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#endif
