/* ossl_err: the most recent OpenSSL error as text, clearing the thread's error queue. OpenSSL's
 * messages name files, algorithms and alerts, never key material, so they are safe to log.
 * Inline so modules built alone (fuzz targets include single .c files) need nothing more. */
#ifndef MODELUX_OSSL_ERR_H
#define MODELUX_OSSL_ERR_H

#include <openssl/err.h>
#include <stdio.h>

/* ossl_err_text - write the last error (or <none> when the queue is empty) into <buf>. */
static inline const char *ossl_err_text(char *buf, size_t len, const char *none)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "%s", none);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

#endif
