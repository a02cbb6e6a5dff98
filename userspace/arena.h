/* arena: a per-connection bump allocator with a hard cap. Everything a connection allocates
 * comes from its arena and is released at once by arena_release() in conn_close(). */
#ifndef MODELUX_ARENA_H
#define MODELUX_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head; /* newest chunk first */
	size_t used;              /* bytes handed out, for the cap and for metrics */
	size_t cap;               /* allocation beyond this fails */
};

void arena_init(struct arena *a, size_t cap);

/* arena_alloc - <n> zeroed bytes aligned to 16, or NULL when the cap would be exceeded. */
void *arena_alloc(struct arena *a, size_t n);

/* arena_strdup - copy of <s> (NULL when <s> is NULL or the cap is reached). */
char *arena_strdup(struct arena *a, const char *s);

/* arena_release - free every chunk; the arena can be used again afterwards. */
void arena_release(struct arena *a);

#endif
