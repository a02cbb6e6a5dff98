/* fuzz_sens: libFuzzer driver for the sensitivity detectors (sens*.c) on arbitrary bytes.
 * Input: byte 0 is the `enabled` mask (low 6 bits), the rest is the body with every DEL byte
 * (0x7f) removed: the seed corpus writes its made-up secrets with a DEL inside so that no secret
 * scanner mistakes the corpus for leaked credentials. Beyond "no crash" it checks what the agent
 * relies on: the report is consistent (kinds is exactly the kinds counted, secrets only with
 * SENS_SECRET), only enabled kinds are reported, a kind's count does not depend on which other
 * kinds are enabled, a rescan with the same scratch gives the same report, no kind counts more
 * occurrences than the body has bytes, and the JSON string state found through checkpoints (shrunk
 * here so that small inputs reach them) agrees with a walk from the start, in any query order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENS_JSON_CKPTS 16
#define SENS_JSON_MIN_STEP 8

#include "../../userspace/sens.c"
#include "../../userspace/sens_pii.c"
#include "../../userspace/sens_scan.c"
#include "../../userspace/sens_secret.c"
#include "../../userspace/sens_text.c"
#include "../../userspace/sens_validate.c"

#define FUZZ_MAX (1u << 20)

static struct sens_db *fuzz_db;
static struct sens_scratch *fuzz_scratch;
static char fuzz_text[FUZZ_MAX];

static void check_report(const struct sens_report *r, uint32_t enabled, size_t len)
{
	for (unsigned k = 0; k < SENS_NKINDS; k++) {
		if (!!(r->kinds & (1u << k)) != (r->count[k] > 0) || r->count[k] > len)
			abort();
	}
	if (r->kinds & ~enabled)
		abort();
	if (!!r->secrets != !!(r->kinds & SENS_SECRET) || (r->secrets >> SENS_NSECRETS))
		abort();
	if (strcmp(sens_level(r), r->kinds & SENS_SECRET ? "secret" : r->kinds ? "pii" : "none"))
		abort();
}

static struct sens_report fuzz_scan(uint32_t enabled, size_t len)
{
	struct sens_report r;

	if (sens_scan(fuzz_db, fuzz_scratch, enabled, fuzz_text, len, &r) != 0)
		abort();
	check_report(&r, enabled & SENS_ALL_MASK, len);
	return r;
}

/* Queries the string state at positions picked by the input, in the input's order. */
static void check_json_walk(const uint8_t *picks, size_t npicks, size_t len)
{
	struct sens_text t = { fuzz_text, len };
	static struct sens_jwalk w;

	if (len == 0)
		return;
	jwalk_init(&w, len);
	for (size_t i = 0; i + 1 < npicks; i += 2) {
		size_t q = ((size_t)picks[i] << 8 | picks[i + 1]) % (len + 1);

		if (in_json_string(&t, &w, q) != (jwalk_run(fuzz_text, 0, q, 0) & 1))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sens_report all, masked, again;
	uint32_t enabled;
	size_t len = 0;
	char err[256];

	if (!fuzz_db) {
		if (sens_db_new(&fuzz_db, err, sizeof(err)) ||
		    sens_scratch_new(fuzz_db, &fuzz_scratch, err, sizeof(err)))
			abort();
	}
	if (size == 0)
		return 0;
	enabled = data[0];
	for (size_t i = 1; i < size && len < FUZZ_MAX; i++) {
		if (data[i] != 0x7f)
			fuzz_text[len++] = (char)data[i];
	}

	all = fuzz_scan(SENS_ALL_MASK, len);
	masked = fuzz_scan(enabled, len);
	for (unsigned k = 0; k < SENS_NKINDS; k++) {
		if (masked.count[k] != ((enabled & (1u << k)) ? all.count[k] : 0))
			abort();
	}
	if ((enabled & SENS_SECRET) && masked.secrets != all.secrets)
		abort();
	again = fuzz_scan(enabled, len);
	if (memcmp(&masked, &again, sizeof(masked)) != 0)
		abort();
	check_json_walk(data + 1, size - 1 < 64 ? size - 1 : 64, len);
	return 0;
}
