/* fuzz_tagmap: libFuzzer driver for the tag map parser. Input: the map text. Beyond "no crash"
 * it checks: a rejected file gets a NUL-terminated "tags.map:LINE:COL: ..." message whose line
 * exists; an accepted one has at most TAGMAP_RULES_MAX rules, and every list a match returns is
 * a well-formed "k=v,k=v" of tag characters (what govern merges into a request's tags), in a
 * bounded number, for a known and an unknown sender. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/tagmap.c"

#include "fuzz_errpos.h"

static void check_list(const char *l)
{
	size_t n = strlen(l);

	if (n == 0 || n >= TAGMAP_TAGS_MAX || l[0] == ',' || l[n - 1] == ',' || l[n - 1] == '=')
		abort();
	for (size_t i = 0; i < n; i++)
		if (!tag_char(l[i]) && l[i] != '=' && l[i] != ',')
			abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[256];
	const char *lists[8];
	struct tagmap *m = tagmap_parse((const char *)data, size, "tags.map", err, sizeof(err));

	if (!m) {
		fuzz_check_errpos(err, sizeof(err), "tags.map", (const char *)data, size);
		return 0;
	}
	if (tagmap_rules(m) > TAGMAP_RULES_MAX)
		abort();
	for (int who = 0; who < 2; who++) {
		size_t n = who ? tagmap_match(m, 0, "root", "/usr/bin/python3", lists, 8)
			       : tagmap_match(m, 1001, "alice", "/opt/app/bin/run", lists, 8);

		if (n > 8)
			abort();
		for (size_t i = 0; i < n; i++)
			check_list(lists[i]);
	}
	tagmap_free(m);
	return 0;
}
