/* llm_route: which provider a host is, and which endpoint and wire format a request path names
 * (with the model a Gemini path or an Azure deployment path carries). Owns the provider table;
 * borrows the strings it is given. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "hexdigit.h"
#include "llm_int.h"

struct llm_provider_def {
	enum llm_provider id;
	const char *name;	  /* the configuration's provider name */
	const char *hosts[3];	  /* exact names, or "*.suffix" for any name under suffix */
	enum llm_dialect dialect; /* what its paths speak unless they say otherwise */
};

static const struct llm_provider_def llm_providers[] = {
    {LLM_PROVIDER_OPENAI, "openai", {"api.openai.com"}, LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_AZURE_OPENAI,
     "azure-openai",
     {"*.openai.azure.com", "*.cognitiveservices.azure.com"},
     LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_ANTHROPIC, "anthropic", {"api.anthropic.com"}, LLM_DIALECT_ANTHROPIC},
    {LLM_PROVIDER_GEMINI, "gemini", {"generativelanguage.googleapis.com"}, LLM_DIALECT_GEMINI},
    {LLM_PROVIDER_GROQ, "groq", {"api.groq.com"}, LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_MISTRAL,
     "mistral",
     {"api.mistral.ai", "codestral.mistral.ai"},
     LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_XAI, "xai", {"api.x.ai"}, LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_OPENROUTER, "openrouter", {"openrouter.ai"}, LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_DEEPSEEK, "deepseek", {"api.deepseek.com"}, LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_TOGETHER,
     "together",
     {"api.together.xyz", "api.together.ai"},
     LLM_DIALECT_OPENAI},
    {LLM_PROVIDER_PERPLEXITY, "perplexity", {"api.perplexity.ai"}, LLM_DIALECT_OPENAI},
    /* Cohere's own API is not read; its OpenAI compatibility path is (by its suffix). */
    {LLM_PROVIDER_COHERE, "cohere", {"api.cohere.com", "api.cohere.ai"}, LLM_DIALECT_NONE},
};

#define LLM_NPROVIDERS (sizeof(llm_providers) / sizeof(llm_providers[0]))

static const struct llm_provider_def *llm_provider_def(enum llm_provider p)
{
	for (size_t i = 0; i < LLM_NPROVIDERS; i++)
		if (llm_providers[i].id == p)
			return &llm_providers[i];
	return NULL;
}

const char *llm_provider_name(enum llm_provider p)
{
	const struct llm_provider_def *d = llm_provider_def(p);

	return d ? d->name : "unknown";
}

const char *llm_dialect_name(enum llm_dialect d)
{
	switch (d) {
	case LLM_DIALECT_OPENAI:
		return "openai";
	case LLM_DIALECT_ANTHROPIC:
		return "anthropic";
	case LLM_DIALECT_GEMINI:
		return "gemini";
	default:
		return "none";
	}
}

const char *llm_endpoint_name(enum llm_endpoint e)
{
	switch (e) {
	case LLM_EP_CHAT_COMPLETIONS:
		return "chat.completions";
	case LLM_EP_COMPLETIONS:
		return "completions";
	case LLM_EP_RESPONSES:
		return "responses";
	case LLM_EP_EMBEDDINGS:
		return "embeddings";
	case LLM_EP_MESSAGES:
		return "messages";
	case LLM_EP_COUNT_TOKENS:
		return "count_tokens";
	case LLM_EP_GENERATE_CONTENT:
		return "generateContent";
	case LLM_EP_STREAM_GENERATE_CONTENT:
		return "streamGenerateContent";
	case LLM_EP_EMBED_CONTENT:
		return "embedContent";
	case LLM_EP_BATCH_EMBED_CONTENTS:
		return "batchEmbedContents";
	case LLM_EP_REALTIME:
		return "realtime";
	default:
		return "other";
	}
}

/* <name>/<len> (already lower case) against one table entry. */
static bool llm_host_matches(const char *pattern, const char *name, size_t len)
{
	size_t plen = strlen(pattern);

	if (pattern[0] == '*') {
		/* "*.suffix": a non-empty label before ".suffix" */
		const char *suffix = pattern + 1;
		size_t slen = plen - 1;

		return len > slen && name[len - slen - 1] != '.' &&
		       memcmp(name + len - slen, suffix, slen) == 0;
	}
	return len == plen && memcmp(name, pattern, len) == 0;
}

enum llm_provider llm_provider_from_host(const char *host)
{
	char name[256];
	size_t len = 0;
	const char *p = host;

	if (!host)
		return LLM_PROVIDER_UNKNOWN;
	if (*p == '[')
		return LLM_PROVIDER_UNKNOWN; /* an IPv6 literal names no provider */
	for (; *p && *p != ':' && len < sizeof(name); p++)
		name[len++] = (char)tolower((unsigned char)*p);
	if (len == sizeof(name))
		return LLM_PROVIDER_UNKNOWN;
	if (len && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < LLM_NPROVIDERS; i++)
		for (size_t h = 0; h < 3 && llm_providers[i].hosts[h]; h++)
			if (llm_host_matches(llm_providers[i].hosts[h], name, len))
				return llm_providers[i].id;
	return LLM_PROVIDER_UNKNOWN;
}

static bool llm_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* A path segment as the model name it carries (percent escapes decoded). */
static void llm_set_path_model(struct llm_call *c, const char *seg, size_t len)
{
	char buf[LLM_STRING_CAP];
	size_t n = 0;

	for (size_t i = 0; i < len && n < sizeof(buf); i++) {
		int hi, lo;

		if (seg[i] == '%' && i + 2 < len && (hi = hex_digit_value((unsigned char)seg[i + 1])) >= 0 &&
		    (lo = hex_digit_value((unsigned char)seg[i + 2])) >= 0) {
			buf[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			buf[n++] = seg[i];
		}
	}
	llm_set_string(&c->model_requested, &c->info.model_requested, buf, n);
	c->model_from_path = true;
}

/* Gemini: .../models/{model}:{method} (or tunedModels/). True when <path> has that shape. */
static bool llm_route_gemini(struct llm_call *c, const char *path, size_t len, bool post)
{
	static const struct {
		const char *method;
		enum llm_endpoint ep;
	} methods[] = {
	    {"generateContent", LLM_EP_GENERATE_CONTENT},
	    {"streamGenerateContent", LLM_EP_STREAM_GENERATE_CONTENT},
	    {"countTokens", LLM_EP_COUNT_TOKENS},
	    {"embedContent", LLM_EP_EMBED_CONTENT},
	    {"batchEmbedContents", LLM_EP_BATCH_EMBED_CONTENTS},
	};
	const char *seg = memrchr(path, '/', len), *colon;
	size_t seglen, prev_end;

	if (!seg)
		return false;
	prev_end = (size_t)(seg - path);
	seg++;
	seglen = len - (size_t)(seg - path);
	colon = memchr(seg, ':', seglen);
	if (!colon || colon == seg)
		return false;
	if (!llm_ends_with(path, prev_end, "/models") &&
	    !llm_ends_with(path, prev_end, "/tunedModels"))
		return false;

	const char *method = colon + 1;
	size_t mlen = seglen - (size_t)(method - seg);

	c->info.dialect = LLM_DIALECT_GEMINI;
	llm_set_path_model(c, seg, (size_t)(colon - seg));
	if (!post)
		return true;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strlen(methods[i].method) == mlen &&
		    memcmp(method, methods[i].method, mlen) == 0) {
			c->info.endpoint = methods[i].ep;
			break;
		}
	}
	if (c->info.endpoint == LLM_EP_STREAM_GENERATE_CONTENT)
		c->info.stream = true;
	return true;
}

/* Azure: /openai/deployments/{deployment}/... names a deployment, not a model. */
static void llm_route_azure(struct llm_call *c, const char *path, size_t len)
{
	static const char prefix[] = "/openai/deployments/";
	const char *at = memmem(path, len, prefix, sizeof(prefix) - 1);
	const char *dep, *end;

	c->info.is_deployment = true; /* the v1 API's body "model" names a deployment too */
	if (!at)
		return;
	dep = at + sizeof(prefix) - 1;
	end = memchr(dep, '/', len - (size_t)(dep - path));
	if (!end)
		end = path + len;
	if (end > dep)
		llm_set_path_model(c, dep, (size_t)(end - dep));
}

void llm_route(struct llm_call *c, const char *method, const char *path)
{
	static const struct {
		const char *suffix;
		enum llm_endpoint ep;
		enum llm_dialect dialect;
	} suffixes[] = {
	    /* longest first where one ends another */
	    {"/chat/completions", LLM_EP_CHAT_COMPLETIONS, LLM_DIALECT_OPENAI},
	    {"/completions", LLM_EP_COMPLETIONS, LLM_DIALECT_OPENAI},
	    {"/responses", LLM_EP_RESPONSES, LLM_DIALECT_OPENAI},
	    {"/embeddings", LLM_EP_EMBEDDINGS, LLM_DIALECT_OPENAI},
	    {"/messages/count_tokens", LLM_EP_COUNT_TOKENS, LLM_DIALECT_ANTHROPIC},
	    {"/messages", LLM_EP_MESSAGES, LLM_DIALECT_ANTHROPIC},
	};
	const struct llm_provider_def *def = llm_provider_def(c->info.provider);
	size_t len = strcspn(path, "?#");
	bool post = method && strcmp(method, "POST") == 0;

	c->info.dialect = def ? def->dialect : LLM_DIALECT_NONE;
	c->info.endpoint = LLM_EP_OTHER;
	if (c->info.provider == LLM_PROVIDER_AZURE_OPENAI)
		llm_route_azure(c, path, len);
	if ((c->info.provider == LLM_PROVIDER_GEMINI || c->info.provider == LLM_PROVIDER_UNKNOWN) &&
	    llm_route_gemini(c, path, len, post))
		return;
	/* OpenAI's Realtime API (and Azure's /openai/realtime): a WebSocket upgrade, the model
	 * (or deployment) in the query. */
	if (method && strcmp(method, "GET") == 0 &&
	    (llm_ends_with(path, len, "/realtime") || llm_ends_with(path, len, "/realtime/")) &&
	    (c->info.dialect == LLM_DIALECT_OPENAI || c->info.provider == LLM_PROVIDER_UNKNOWN)) {
		const char *q = path[len] == '?' ? path + len + 1 : NULL;
		bool azure = c->info.provider == LLM_PROVIDER_AZURE_OPENAI;
		const char *key = azure ? "deployment=" : "model=";
		size_t klen = strlen(key);

		c->info.dialect = LLM_DIALECT_OPENAI;
		c->info.endpoint = LLM_EP_REALTIME;
		while (q && *q && *q != '#') {
			size_t n = strcspn(q, "&#");

			if (n >= klen && strncmp(q, key, klen) == 0) {
				/* A second one: which the provider takes is not ours to guess. */
				if (c->model_from_path)
					c->info.model_ambiguous = true;
				else
					llm_set_path_model(c, q + klen, n - klen);
				c->info.is_deployment = azure;
			}
			q += n + (q[n] == '&');
		}
		return;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (llm_ends_with(path, len, suffixes[i].suffix)) {
			c->info.dialect = suffixes[i].dialect;
			if (post)
				c->info.endpoint = suffixes[i].ep;
			return;
		}
	}
}
