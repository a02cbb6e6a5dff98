/* fuzz_errpos: the check the fuzz targets of line-based configuration files share: a refusal's
 * message is NUL-terminated and starts "<file>:<line>:<col>:" with a line within the text and
 * both numbers from 1. */
#ifndef MODELUX_FUZZ_ERRPOS_H
#define MODELUX_FUZZ_ERRPOS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_check_errpos(const char *err, size_t errlen, const char *file, const char *text,
			      size_t len)
{
	size_t flen = strlen(file);
	unsigned line = 0, col = 0, lines = 1;

	if (!memchr(err, '\0', errlen))
		abort();
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (strncmp(err, file, flen) != 0 || err[flen] != ':' ||
	    sscanf(err + flen + 1, "%u:%u:", &line, &col) != 2 || line == 0 || line > lines ||
	    col == 0)
		abort();
}

#endif
