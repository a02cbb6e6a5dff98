/* fuzz_casign_name: the DNS-name check every SNI passes before a leaf is signed for it. The
 * SNI comes off the network, so this is a parser of hostile input. Invariants on acceptance:
 * lowercase LDH labels of 1..63 bytes, no leading/trailing '-', total <= 253. */
#include "../../userspace/casign.c"
#include "../../userspace/casign_signer.c"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[300], err[128];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1, label = 0, i;

	memcpy(name, data, n);
	name[n] = '\0';
	if (!casign_name_valid(name, err, sizeof(err))) {
		assert(err[0] != '\0');
		return 0;
	}
	n = strlen(name);
	assert(n > 0 && n <= 253);
	for (i = 0; i <= n; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			assert(label >= 1 && label <= 63);
			assert(name[i - 1] != '-');
			label = 0;
			continue;
		}
		assert((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
		if (label == 0)
			assert(c != '-');
		label++;
	}
	return 0;
}
