/* fuzz_sni: libFuzzer driver for sni_parse(). Beyond "no crash", it checks the properties callers
 * rely on: a decision never changes as more bytes arrive, and an OK result is self-consistent. */
#include <stdlib.h>
#include <string.h>

#include "../../userspace/sni.c"

static void fuzz_sni_check_info(const struct sni_info *info, size_t size)
{
	size_t n = strnlen(info->server_name, sizeof(info->server_name));

	if (info->hello_bytes == 0 || info->hello_bytes > size ||
	    info->hello_bytes > SNI_MAX_HELLO_BYTES)
		abort();
	if (n == sizeof(info->server_name) || (n > 0) != info->has_sni)
		abort();
	for (size_t i = 0; i < n; i++)
		if (info->server_name[i] >= 'A' && info->server_name[i] <= 'Z')
			abort();
	if (strnlen(info->alpn, sizeof(info->alpn)) == sizeof(info->alpn))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_info full, part;
	enum sni_result r, rp;
	size_t cut;

	r = sni_parse(data, size, &full);
	if (r != SNI_OK && r != SNI_NEED_MORE && r != SNI_NOT_TLS && r != SNI_MALFORMED)
		abort();
	if (r == SNI_OK) {
		fuzz_sni_check_info(&full, size);
		/* Exactly the hello's records are enough, and give the same answer. */
		if (sni_parse(data, full.hello_bytes, &part) != SNI_OK ||
		    memcmp(&part, &full, sizeof(part)) != 0)
			abort();
	}

	/* A prefix that already decided must agree with the whole input. The cut point comes
	 * from the input so the fuzzer can steer it. */
	cut = size ? data[size - 1] * size / 256 : 0;
	rp = sni_parse(data, cut, &part);
	if (rp != SNI_NEED_MORE && rp != r)
		abort();
	return 0;
}
