/* prices_embed: etc/prices.json built into the agent, so that embedded defaults price requests
 * with no file to install (config key `prices` overrides it). */
__asm__(".section .rodata\n"
	".global mlx_prices_json\n"
	"mlx_prices_json:\n"
	".incbin \"etc/prices.json\"\n"
	".global mlx_prices_json_end\n"
	"mlx_prices_json_end:\n"
	".byte 0\n"
	".previous\n");
