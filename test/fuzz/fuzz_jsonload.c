/* fuzz_jsonload: differential libFuzzer driver: jsonload against jansson's own json_loadb with
 * the flags it stands in for. Beyond "no crash" it checks, for the input as a top-level object or
 * array and as any value: both accept or both refuse, and what they accept is json_equal - the
 * same types, keys (a later duplicate winning), strings byte for byte, numbers exactly. */
#include <stdlib.h>
#include <string.h>

#include "../../userspace/jsonload.c"
#include "../../userspace/utf8.c"

static void compare(const unsigned char *data, size_t size, bool any)
{
	json_t *want = json_loadb((const char *)data, size,
				  JSON_ALLOW_NUL | (any ? JSON_DECODE_ANY : 0), NULL);
	json_t *got = jsonload((const char *)data, size, any);

	if (!want != !got)
		abort();
	if (want && !json_equal(want, got))
		abort();
	json_decref(want);
	json_decref(got);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	compare(data, size, false);
	compare(data, size, true);
	return 0;
}
