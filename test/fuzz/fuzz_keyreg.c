/* fuzz_keyreg: libFuzzer driver for the sanctioned-key registry parser and its hash set.
 * Input: the registry text. Beyond "no crash" it checks: a rejected file gets a NUL-terminated
 * "keys:LINE:COL: ..." message whose line exists; an accepted one finds every entry by its
 * fingerprint (in either case), lists entries in file order with their line numbers, keeps
 * labels free of control characters, and reads back identically when each entry is written the
 * way keyreg_sanction() writes it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/keyreg.c"
#include "../../userspace/utf8.c"

#include "fuzz_errpos.h"

static void check_round_trip(const struct keyreg *reg)
{
	size_t cap =
	    keyreg_count(reg) * (KEYREG_FP_HEX_LEN + KEYREG_PROVIDER_MAX + KEYREG_LABEL_MAX + 4) +
	    1;
	char *text = malloc(cap), err[256];
	size_t len = 0;
	struct keyreg *again;

	if (!text)
		return;
	for (size_t i = 0; i < keyreg_count(reg); i++) {
		const struct keyreg_entry *e = keyreg_entry_at(reg, i);
		const char *prov = e->provider[0] ? e->provider : (e->label[0] ? "-" : "");

		len += (size_t)snprintf(text + len, cap - len, "%s %s %s\n", e->fp_hex, prov,
					e->label);
	}
	again = keyreg_parse(text, len, "keys", err, sizeof(err));
	if (!again || keyreg_count(again) != keyreg_count(reg))
		abort();
	for (size_t i = 0; i < keyreg_count(reg); i++) {
		const struct keyreg_entry *a = keyreg_entry_at(reg, i),
					  *b = keyreg_entry_at(again, i);

		if (memcmp(a->fp, b->fp, 32) || strcmp(a->provider, b->provider) ||
		    strcmp(a->label, b->label))
			abort();
	}
	keyreg_free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	const char *text = (const char *)buf;
	struct keyreg *reg;
	char err[256];
	unsigned prev_line = 0;

	memset(err, 'x', sizeof(err));
	reg = keyreg_parse(text, size, "keys", err, sizeof(err));
	if (!reg) {
		fuzz_check_errpos(err, sizeof(err), "keys", text, size);
		return 0;
	}
	for (size_t i = 0; i < keyreg_count(reg); i++) {
		const struct keyreg_entry *e = keyreg_entry_at(reg, i);
		char upper[KEYREG_FP_HEX_LEN + 1];

		if (e->line <= prev_line || keyreg_find(reg, e->fp_hex) != e)
			abort();
		prev_line = e->line;
		for (int k = 0; k <= KEYREG_FP_HEX_LEN; k++)
			upper[k] = (char)toupper((unsigned char)e->fp_hex[k]);
		if (keyreg_find(reg, upper) != e)
			abort();
		for (const char *c = e->label; *c; c++) {
			if ((unsigned char)*c < 0x20 && *c != '\t')
				abort();
		}
		if (e->label[0] && (e->label[0] == ' ' || e->label[0] == '\t'))
			abort();
	}
	check_round_trip(reg);
	keyreg_free(reg);
	return 0;
}
