/* attrib: turns the (tgid, uid, comm) the BPF connect hook recorded into an executable path and
 * a user name. One cache per worker thread (no locks); entries are checked against the comm the
 * kernel saw so a recycled pid or an exec is noticed. Owns its cache entries. */
#ifndef MODELUX_ATTRIB_H
#define MODELUX_ATTRIB_H

#include <stdint.h>
#include <sys/types.h>

#define ATTRIB_SLOTS 512

struct attrib_cache {
	struct {
		uint32_t tgid;
		char comm[16];
		char exe[256];
	} exe[ATTRIB_SLOTS];
	struct {
		uint32_t uid;
		int valid;
		char name[64];
	} user[ATTRIB_SLOTS];
	uint64_t exe_lookups, exe_hits;
};

void attrib_init(struct attrib_cache *c);

/* attrib_exe - path of the executable of <tgid> ("?" when the process is already gone). */
const char *attrib_exe(struct attrib_cache *c, uint32_t tgid, const char *comm);

/* attrib_user - login name for <uid>, or its decimal form when it has none. */
const char *attrib_user(struct attrib_cache *c, uint32_t uid);

#endif
