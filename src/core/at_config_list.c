/*
 * at_config_list.c - the configuration's "key=value,key=value" lists:
 * OTEL_EXPORTER_OTLP_[TRACES_]HEADERS (extra export request headers) and
 * OTEL_RESOURCE_ATTRIBUTES (resource attributes).
 *
 * Design
 * ------
 * Like all of the configuration (at_config.c): no allocation, no stdio,
 * no locale.  A list is walked in place by an iterator (entries split at
 * ',', keys at the first '=', both OWS-trimmed, empty entries skipped) and
 * values are percent-decoded into bounded buffers; the header lines
 * ("Name: value" CRLF) go to cfg->headers, the decoded resource pairs to
 * cfg->resource_buf (key NUL value NUL).  An error anywhere discards the
 * whole variable with one warning.  Header values often carry credentials:
 * their warnings never echo the value, only the position of the bad entry.
 * Header merging compares every entry with the later ones (quadratic), so
 * the raw length of a headers variable is bounded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_config.h"
#include "at_config_internal.h"
#include "at_utf8.h"

#define HEADERS_RAW_MAX (2 * AT_CFG_HEADERS_MAX)

/* ---- "key=value" lists ---- */

/*
 * Percent-decode s[0..n) into out (cap bytes, no NUL added); out may be
 * NULL to only validate and measure.  Returns 0 (length in *outlen), -1 for
 * a '%' not followed by two hex digits, -2 if the result does not fit.
 * If ctl is not NULL, *ctl tells whether the result holds a control
 * character (0x00-0x1f, 0x7f).
 */
static int pct_decode(const char *s, size_t n, char *out, size_t cap,
		      size_t *outlen, int *ctl)
{
	size_t w = 0;

	if (ctl != NULL)
		*ctl = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = at_hex_value(s[i + 1]);
			lo = at_hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)((hi << 4) | lo);
			i += 2;
		}
		if (ctl != NULL && ((unsigned char)c < 0x20 || c == 0x7f))
			*ctl = 1;
		if (out != NULL) {
			if (w >= cap)
				return -2;
			out[w] = c;
		}
		w++;
	}
	*outlen = w;
	return 0;
}

/*
 * Iterator over the entries of a "k=v,k=v" list.  Entries that are empty
 * after trimming are skipped.  For each entry: the trimmed key, and the
 * trimmed value (NULL if the entry has no '=').
 */
struct kv_iter {
	const char *p;
	const char *end;
	unsigned int index; /* 1-based number of the last entry returned */
};

static void kv_iter_init(struct kv_iter *it, const char *s)
{
	it->p = s;
	it->end = s + strlen(s);
	it->index = 0;
}

static int kv_next(struct kv_iter *it, const char **k, size_t *kl,
		   const char **v, size_t *vl)
{
	while (it->p != NULL && it->p <= it->end) {
		const char *start = it->p;
		size_t left = (size_t)(it->end - start);
		const char *comma = memchr(start, ',', left);
		const char *stop = comma ? comma : it->end;
		const char *eq;
		size_t n = (size_t)(stop - start);

		it->p = comma ? comma + 1 : NULL;
		at_trim_ows(&start, &n);
		if (n == 0)
			continue;
		it->index++;
		eq = memchr(start, '=', n);
		if (eq == NULL) {
			*k = start;
			*kl = n;
			*v = NULL;
			*vl = 0;
			return 1;
		}
		*k = start;
		*kl = (size_t)(eq - start);
		at_trim_ows(k, kl);
		*v = eq + 1;
		*vl = (size_t)(start + n - (eq + 1));
		at_trim_ows(v, vl);
		return 1;
	}
	return 0;
}

/* ---- headers ---- */

static int is_tchar(char c)
{
	return at_is_alpha(c) || at_is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int header_reserved(const char *k, size_t kl)
{
	static const char *const names[] = {
		"host", "content-length", "content-type", "content-encoding",
		"transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "te", "trailer", "upgrade", "expect",
	};

	for (size_t i = 0; i < AT_ARRAY_SIZE(names); i++) {
		if (at_cfg_mem_eq_ci(k, kl, names[i], strlen(names[i])))
			return 1;
	}
	return 0;
}

/* Check one entry; returns NULL if fine, else what is wrong. */
static const char *header_entry_error(const char *k, size_t kl,
				      const char *v, size_t vl)
{
	size_t dl, i;
	int ctl;

	if (kl == 0)
		return "empty name";
	for (i = 0; i < kl; i++) {
		if (!is_tchar(k[i]))
			return "name is not an HTTP token";
	}
	if (v == NULL)
		return "no '='";
	if (header_reserved(k, kl))
		return "name is managed by the exporter";
	if (pct_decode(v, vl, NULL, 0, &dl, &ctl) < 0)
		return "bad percent-encoding";
	if (ctl)
		return "control character in value";
	return NULL;
}

/*
 * 1 if the entry at index idx (1-based) of list s is overridden, i.e. a
 * later entry of s, or any entry of override (may be NULL), has the same
 * name.
 */
static int header_overridden(const char *s, unsigned int idx, const char *k,
			     size_t kl, const char *override)
{
	struct kv_iter it;
	const char *k2, *v2;
	size_t kl2, vl2;

	kv_iter_init(&it, s);
	while (kv_next(&it, &k2, &kl2, &v2, &vl2)) {
		if (it.index > idx && at_cfg_mem_eq_ci(k, kl, k2, kl2))
			return 1;
	}
	if (override == NULL)
		return 0;
	kv_iter_init(&it, override);
	while (kv_next(&it, &k2, &kl2, &v2, &vl2)) {
		if (at_cfg_mem_eq_ci(k, kl, k2, kl2))
			return 1;
	}
	return 0;
}

/*
 * Append the effective entries of the (valid) list s to out, "Name: value"
 * CRLF each.  *w is the current length.  Returns 0, or -1 if out is full.
 * With out NULL, only measures (against cap).
 */
static int headers_emit(const char *s, const char *override, char *out,
			size_t cap, size_t *w)
{
	struct kv_iter it;
	const char *k, *v;
	size_t kl, vl, dl;

	kv_iter_init(&it, s);
	while (kv_next(&it, &k, &kl, &v, &vl)) {
		if (header_overridden(s, it.index, k, kl, override))
			continue;
		/* name ": " value "\r\n" and the final NUL */
		if (pct_decode(v, vl, NULL, 0, &dl, NULL) < 0 ||
		    *w + kl + 2 + dl + 2 + 1 > cap)
			return -1;
		if (out == NULL) {
			*w += kl + 2 + dl + 2;
			continue;
		}
		memcpy(out + *w, k, kl);
		*w += kl;
		memcpy(out + *w, ": ", 2);
		*w += 2;
		pct_decode(v, vl, out + *w, cap - *w, &dl, NULL);
		*w += dl;
		memcpy(out + *w, "\r\n", 2);
		*w += 2;
		out[*w] = '\0';
	}
	return 0;
}

static const char headers_expected[] =
	"comma-separated name=value pairs, names HTTP tokens, values "
	"percent-encoded without control characters";

/* Validate the headers variable name; returns its value if usable. */
static const char *check_headers(struct loader *l, const char *name)
{
	const char *s = at_cfg_env(l, name);
	struct kv_iter it;
	const char *k, *v, *err = NULL;
	size_t kl, vl, w = 0;
	char detail[96];

	if (s == NULL)
		return NULL;
	/*
	 * Merging is quadratic in the number of entries: bound the raw
	 * length (twice the output buffer leaves room for percent-encoding).
	 */
	if (strlen(s) > HEADERS_RAW_MAX)
		err = "too long";
	kv_iter_init(&it, s);
	while (err == NULL && kv_next(&it, &k, &kl, &v, &vl))
		err = header_entry_error(k, kl, v, vl);
	if (err == NULL) {
		/* Must fit on its own. */
		if (headers_emit(s, NULL, NULL, sizeof(l->cfg->headers),
				 &w) < 0)
			err = "too long";
		if (err == NULL)
			return s;
		it.index = 0;
	}
	/* "entry N: problem" */
	{
		char num[12];
		size_t n = 0;

		detail[0] = '\0';
		if (it.index > 0) {
			memcpy(detail, "entry ", 6);
			n = 6;
			at_cfg_u32_str(it.index, num);
			memcpy(detail + n, num, strlen(num));
			n += strlen(num);
			memcpy(detail + n, ": ", 2);
			n += 2;
		}
		if (n + strlen(err) >= sizeof(detail))
			err = "error";
		memcpy(detail + n, err, strlen(err) + 1);
	}
	at_cfg_warn_line(l, "invalid", name, NULL, headers_expected, detail,
			 "ignoring the variable");
	return NULL;
}

void at_cfg_load_headers(struct loader *l)
{
	const char *gen = check_headers(l, "OTEL_EXPORTER_OTLP_HEADERS");
	const char *tr = check_headers(l, "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
	char *out = l->cfg->headers;
	size_t cap = sizeof(l->cfg->headers);
	size_t w = 0;

	out[0] = '\0';
	if (gen != NULL && headers_emit(gen, tr, out, cap, &w) == 0 &&
	    (tr == NULL || headers_emit(tr, NULL, out, cap, &w) == 0))
		return;
	if (gen == NULL) {
		w = 0;
		if (tr != NULL)
			headers_emit(tr, NULL, out, cap, &w);
		return;
	}
	/* Both valid alone, too long together: the _TRACES_ one wins. */
	at_cfg_warn_line(l, "invalid", "OTEL_EXPORTER_OTLP_HEADERS", NULL,
			 headers_expected, "too long together with "
			 "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
			 "ignoring the variable");
	memset(out, 0, cap);
	w = 0;
	if (tr != NULL)
		headers_emit(tr, NULL, out, cap, &w);
}

/* ---- resource attributes ---- */

static const char resource_expected[] =
	"comma-separated key=value pairs, percent-encoded UTF-8";

void at_cfg_load_resource(struct loader *l)
{
	struct at_config *cfg = l->cfg;
	const char *s = at_cfg_env(l, "OTEL_RESOURCE_ATTRIBUTES");
	int have_service = cfg->service_name[0] != '\0';
	char svc[AT_CFG_STR_MAX];
	int svc_set = 0;
	struct kv_iter it;
	const char *k, *v, *err = NULL;
	size_t kl, vl, w = 0;
	char *buf = cfg->resource_buf;
	const size_t cap = sizeof(cfg->resource_buf);

	if (s == NULL)
		return;
	kv_iter_init(&it, s);
	while (err == NULL && kv_next(&it, &k, &kl, &v, &vl)) {
		size_t dk = 0, dv = 0, j;
		char *key, *val = NULL;
		int rc;

		if (v == NULL) {
			err = "an entry has no '='";
			break;
		}
		if (kl == 0) {
			err = "an entry has an empty key";
			break;
		}
		/* key NUL value NUL, decoded in place in resource_buf */
		key = buf + w;
		rc = pct_decode(k, kl, key, cap - w, &dk, NULL);
		if (rc == 0 && w + dk + 1 > cap)
			rc = -2;
		if (rc == 0) {
			key[dk] = '\0';
			val = key + dk + 1;
			rc = pct_decode(v, vl, val, cap - w - dk - 1, &dv,
					NULL);
			if (rc == 0 && w + dk + 1 + dv + 1 > cap)
				rc = -2;
		}
		if (rc == -1) {
			err = "bad percent-encoding";
			break;
		}
		if (rc == -2) {
			err = "longer than 4096 bytes decoded";
			break;
		}
		val[dv] = '\0';
		if (dk == 0) {
			err = "an entry has an empty key";
			break;
		}
		if (!at_utf8_valid(key, dk) || !at_utf8_valid(val, dv)) {
			err = "not UTF-8 after decoding";
			break;
		}
		if (strcmp(key, "service.name") == 0) {
			/* Not stored in resource[]; OTEL_SERVICE_NAME wins. */
			if (dv >= sizeof(svc)) {
				err = "service.name longer than 255 bytes";
				break;
			}
			if (!have_service) {
				memcpy(svc, val, dv + 1);
				svc_set = 1;
			}
			continue;
		}
		for (j = 0; j < cfg->n_resource; j++) {
			if (strcmp(cfg->resource[j].key, key) == 0)
				break;
		}
		if (j == cfg->n_resource) {
			if (j == AT_CFG_RESOURCE_ATTRS) {
				err = "more than 32 attributes";
				break;
			}
			cfg->resource[j].key = key;
			cfg->n_resource++;
			w += dk + 1;
		} else {
			/* Repeated key: the last value wins. */
			memmove(key, val, dv + 1);
			val = key;
		}
		cfg->resource[j].value = val;
		w += dv + 1;
	}
	if (err == NULL) {
		if (svc_set)
			memcpy(cfg->service_name, svc, strlen(svc) + 1);
		return;
	}
	cfg->n_resource = 0;
	memset(cfg->resource, 0, sizeof(cfg->resource));
	memset(cfg->resource_buf, 0, sizeof(cfg->resource_buf));
	at_cfg_warn_line(l, "invalid", "OTEL_RESOURCE_ATTRIBUTES", s,
			 resource_expected, err, "ignoring the variable");
}
