/*
 * hooks/libcurl/curl_easy.c - the easy interface: curl_easy_setopt (to
 * learn the URL, the method and the application's header list),
 * curl_easy_perform (a span per transfer), curl_easy_reset,
 * curl_easy_duphandle, curl_easy_cleanup.
 *
 * curl_easy_setopt is variadic; its one argument is forwarded with the
 * type curl.h encodes in the option number: below 10000 a long, then an
 * object pointer, a function pointer (20000), a curl_off_t (30000) and a
 * struct curl_blob pointer (40000).
 */
#include <stdarg.h>

#include "at_curl.h"
#include "at_init.h"

AT_EXPORT CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;
	long lv = 0;
	void *pv = NULL;

	if (!at_curl_resolve() || !at_curl.curl_easy_setopt)
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT) {
		lv = va_arg(ap, long);
		rc = at_curl.curl_easy_setopt(h, opt, lv);
	} else if (opt < CURLOPTTYPE_FUNCTIONPOINT) {
		pv = va_arg(ap, void *);
		rc = at_curl.curl_easy_setopt(h, opt, pv);
	} else if (opt < CURLOPTTYPE_OFF_T) {
		void (*fp)(void) = va_arg(ap, void (*)(void));
		rc = at_curl.curl_easy_setopt(h, opt, fp);
		lv = fp != NULL; /* at_curl_option: whether one is set */
	} else if (opt < CURLOPTTYPE_BLOB) {
		curl_off_t ov = va_arg(ap, curl_off_t);
		rc = at_curl.curl_easy_setopt(h, opt, ov);
	} else {
		pv = va_arg(ap, void *);
		rc = at_curl.curl_easy_setopt(h, opt, pv);
	}
	va_end(ap);
	if (rc == CURLE_OK && at_curl_enter()) {
		at_curl_option(h, opt, pv, lv);
		at_curl_leave();
	}
	return rc;
}

AT_EXPORT CURLcode curl_easy_perform(CURL *h)
{
	CURLcode rc;

	if (!at_curl_enter())
		return at_curl_resolve() && at_curl.curl_easy_perform
			       ? at_curl.curl_easy_perform(h)
			       : CURLE_FAILED_INIT;
	at_curl_begin(h, true);
	rc = at_curl.curl_easy_perform(h);
	at_curl_end(h, rc);
	at_curl_leave();
	return rc;
}

AT_EXPORT void curl_easy_reset(CURL *h)
{
	if (!at_curl_resolve() || !at_curl.curl_easy_reset)
		return;
	if (at_curl_enter()) {
		at_curl_reset(h);
		at_curl_leave();
	}
	at_curl.curl_easy_reset(h);
}

AT_EXPORT CURL *curl_easy_duphandle(CURL *h)
{
	CURL *d;

	if (!at_curl_resolve() || !at_curl.curl_easy_duphandle)
		return NULL;
	d = at_curl.curl_easy_duphandle(h);
	if (d && at_curl_enter()) {
		at_curl_dup(h, d);
		at_curl_leave();
	}
	return d;
}

AT_EXPORT void curl_easy_cleanup(CURL *h)
{
	if (!at_curl_resolve() || !at_curl.curl_easy_cleanup)
		return;
	/* Forget the state even when not tracing now: a later handle may
	 * get the same address. */
	if (!at_owned(AT_OWN_CURL) && at_ready())
		at_curl_forget(h);
	at_curl.curl_easy_cleanup(h);
}
