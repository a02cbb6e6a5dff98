/* llm_rewrite: point a request at another model (policy downgrades): the JSON body's top-level
 * "model" values replaced with every other byte kept, or the model segment of a Gemini path or
 * the deployment segment of an Azure path. Owns the new body/path it returns (llm_rewrite_free);
 * borrows the call and the original body. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonload.h"
#include "llm_int.h"
#include "errfmt.h"

#define LLM_MODEL_MAX 256

/* Whether <m> may go into a JSON string as is (no escaping needed) or, with <path>, into a path
 * segment as is. */
static bool rw_model_ok(const char *m, bool path)
{
	size_t n = m ? strlen(m) : 0;

	if (n == 0 || n > LLM_MODEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)m[i];

		if (path) {
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
				return false;
		} else if (ch < 0x20 || ch > 0x7E || ch == '"' || ch == '\\') {
			return false;
		}
	}
	return true;
}

int llm_json_replace_model(const char *body, size_t len, const char *model, char **out,
			   size_t *out_len, char *err, size_t errlen)
{
	struct llm_span *spans;
	size_t mlen, new_len, at = 0, w = 0;
	json_t *root;
	char *nb;
	int n;

	*out = NULL;
	*out_len = 0;
	if (!rw_model_ok(model, false))
		return err_fmt(
		    err, errlen, -EINVAL,
		    "model name must be 1..%d printable ASCII bytes without '\"' or '\\'",
		    LLM_MODEL_MAX);
	/* jansson checks the whole body; the scanner below then only has to find the members */
	root = jsonload(body, len, false);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_fmt(err, errlen, -EBADMSG, "request body is not a JSON object");
	}
	json_decref(root);
	n = llm_json_members(body, len, "model", NULL, 0);
	if (n <= 0)
		return n < 0 ? err_fmt(err, errlen, n, "request body is not a JSON object") : 0;
	spans = calloc((size_t)n, sizeof(*spans));
	if (!spans)
		return err_fmt(err, errlen, -ENOMEM, "out of memory");
	llm_json_members(body, len, "model", spans, (size_t)n);

	mlen = strlen(model);
	new_len = len;
	for (int i = 0; i < n; i++)
		new_len = new_len - spans[i].len + mlen + 2;
	nb = malloc(new_len + 1);
	if (!nb) {
		free(spans);
		return err_fmt(err, errlen, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		memcpy(nb + w, body + at, spans[i].off - at);
		w += spans[i].off - at;
		nb[w++] = '"';
		memcpy(nb + w, model, mlen);
		w += mlen;
		nb[w++] = '"';
		at = spans[i].off + spans[i].len;
	}
	memcpy(nb + w, body + at, len - at);
	w += len - at;
	nb[w] = '\0';
	free(spans);
	*out = nb;
	*out_len = w;
	return n;
}

/* <path> with the bytes [start, end) replaced by <seg>. */
static char *rw_splice(const char *path, size_t start, size_t end, const char *seg)
{
	size_t plen = strlen(path), slen = strlen(seg);
	char *np = malloc(plen - (end - start) + slen + 1);

	if (!np)
		return NULL;
	memcpy(np, path, start);
	memcpy(np + start, seg, slen);
	memcpy(np + start + slen, path + end, plen - end + 1);
	return np;
}

static int rw_gemini_path(const struct llm_call *c, const char *model, struct llm_rewrite *out,
			  char *err, size_t errlen)
{
	size_t qlen = strcspn(c->path, "?#");
	const char *seg, *colon;

	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	if (!rw_model_ok(model, true))
		return err_fmt(err, errlen, -EINVAL,
			       "model name for a path must be 1..%d of [A-Za-z0-9._-]",
			       LLM_MODEL_MAX);
	seg = memrchr(c->path, '/', qlen);
	colon = seg ? memchr(seg, ':', qlen - (size_t)(seg - c->path)) : NULL;
	if (!colon)
		return err_fmt(err, errlen, -EINVAL, "path has no models/{model}:{method}");
	out->path =
	    rw_splice(c->path, (size_t)(seg + 1 - c->path), (size_t)(colon - c->path), model);
	return out->path ? 0 : err_fmt(err, errlen, -ENOMEM, "out of memory");
}

static int rw_azure_path(const struct llm_call *c, const char *model, struct llm_rewrite *out,
			 char *err, size_t errlen)
{
	static const char prefix[] = "/openai/deployments/";
	size_t qlen = strcspn(c->path, "?#");
	const char *at = memmem(c->path, qlen, prefix, sizeof(prefix) - 1), *dep, *end;

	if (!rw_model_ok(model, true))
		return err_fmt(err, errlen, -EINVAL,
			       "deployment name must be 1..%d of [A-Za-z0-9._-]", LLM_MODEL_MAX);
	if (!at)
		return err_fmt(err, errlen, -EINVAL, "path has no /openai/deployments/{name}");
	dep = at + sizeof(prefix) - 1;
	end = memchr(dep, '/', qlen - (size_t)(dep - c->path));
	if (!end)
		end = c->path + qlen;
	out->path = rw_splice(c->path, (size_t)(dep - c->path), (size_t)(end - c->path), model);
	return out->path ? 0 : err_fmt(err, errlen, -ENOMEM, "out of memory");
}

int llm_rewrite_model(const struct llm_call *c, const char *body, size_t len, const char *model,
		      struct llm_rewrite *out, char *err, size_t errlen)
{
	bool azure = c->info.provider == LLM_PROVIDER_AZURE_OPENAI && c->model_from_path;
	int rc;

	memset(out, 0, sizeof(*out));
	if (c->model_from_path && c->info.dialect == LLM_DIALECT_GEMINI)
		return rw_gemini_path(c, model, out, err, errlen);
	if (azure && (rc = rw_azure_path(c, model, out, err, errlen)) < 0)
		return rc;
	if (!body) {
		if (azure)
			return 0;
		return err_fmt(err, errlen, -EINVAL, "no request body to rewrite");
	}
	rc = llm_json_replace_model(body, len, model, &out->body, &out->body_len, err, errlen);
	if (azure && rc != -ENOMEM) {
		/* the deployment is in the path; a body "model" is only rewritten if there is one
		 */
		if (err && errlen)
			err[0] = '\0';
		return 0;
	}
	if (rc <= 0) {
		llm_rewrite_free(out);
		return rc < 0 ? rc : err_fmt(err, errlen, -EINVAL, "request body has no \"model\"");
	}
	return 0;
}

void llm_rewrite_free(struct llm_rewrite *rw)
{
	free(rw->body);
	free(rw->path);
	memset(rw, 0, sizeof(*rw));
}
