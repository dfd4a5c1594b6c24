/*
 * at_curl.h - a CLIENT span per libcurl transfer, with traceparent (and
 * tracestate) added to the request headers - also for https://, where the
 * socket layer only sees ciphertext.
 *
 * libcurl is never linked: its functions are looked up with
 * dlsym(RTLD_NEXT), or in the already loaded libcurl.so.4.  Per easy
 * handle the library remembers what the span needs from curl_easy_setopt
 * (URL, method options, the application's CURLOPT_HTTPHEADER list); for a
 * transfer it installs a list of its own - the application's lines with
 * the trace headers appended, in nodes the handle's state keeps (no
 * allocation per transfer) - and puts the application's list back
 * afterwards, so the application's curl_slist is never changed; or, for a
 * plain http:// easy transfer that nothing else can interfere with, it
 * lends the span to the socket layer, which injects the lines into the
 * request heads (at_conn.h; at_curl.c says when).  While a transfer runs,
 * the socket layer makes no HTTP span of its own for it.
 */
#ifndef AT_CURL_H
#define AT_CURL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdbool.h>

#include "at_compat.h"
#include "at_family.h"

#define AT_CURL_FUNCS(X)                                                      \
	X(CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...))              \
	X(CURLcode, curl_easy_perform, (CURL *))                              \
	X(void, curl_easy_reset, (CURL *))                                    \
	X(CURL *, curl_easy_duphandle, (CURL *))                              \
	X(void, curl_easy_cleanup, (CURL *))                                  \
	X(CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...))               \
	X(CURLMcode, curl_multi_add_handle, (CURLM *, CURL *))                \
	X(CURLMcode, curl_multi_remove_handle, (CURLM *, CURL *))             \
	X(CURLMcode, curl_multi_perform, (CURLM *, int *))                    \
	X(CURLMcode, curl_multi_socket_action, (CURLM *, curl_socket_t, int,  \
						int *))                       \
	X(CURLMsg *, curl_multi_info_read, (CURLM *, int *))                  \
	X(CURLMcode, curl_multi_cleanup, (CURLM *))                           \
	X(struct curl_slist *, curl_slist_append, (struct curl_slist *,       \
						   const char *))             \
	X(void, curl_slist_free_all, (struct curl_slist *))

#define AT_CURL_DECL(ret, name, params) ret(*name) params;
struct at_curl_real {
	AT_CURL_FUNCS(AT_CURL_DECL)
};
#undef AT_CURL_DECL

extern struct at_curl_real at_curl;

extern struct at_symtab at_curl_syms;

/* Resolve the table once; true if libcurl is in the process. */
static inline bool at_curl_resolve(void)
{
	return at_symtab_resolve(&at_curl_syms);
}

/* Enter/leave a traced libcurl hook (false: pass through).  Inside a
 * libcurl call that moves transfers the family owns AT_OWN_CURL (inner
 * libcurl calls pass) and AT_OWN_HTTP: the socket layer leaves HTTP to
 * us. */
#define AT_CURL_OWNS (AT_OWN_CURL | AT_OWN_HTTP)

static inline bool at_curl_enter(void)
{
	return at_family_enter(AT_CURL_OWNS, &at_curl_syms);
}

static inline void at_curl_leave(void)
{
	at_family_leave(AT_CURL_OWNS);
}

/* Lines (the application's and ours) a transfer's header list holds
 * without allocating; a longer list is copied with curl_slist_append. */
#define AT_CURL_INLINE_NODES 32

/* curl_easy_setopt saw option opt with this argument (a function
 * pointer option: val says whether one is set). */
void at_curl_option(CURL *h, CURLoption opt, const void *ptr, long val);

/* A transfer of h starts (easy perform, or added to a multi handle);
 * activate: make its span the thread's active span for the call. */
void at_curl_begin(CURL *h, bool activate);
/* It ended with result rc: attributes, headers restored, span ended. */
void at_curl_end(CURL *h, CURLcode rc);
/* It ended without a result (removed from the multi handle early). */
void at_curl_abandon(CURL *h);

void at_curl_reset(CURL *h);
void at_curl_dup(CURL *from, CURL *to);
void at_curl_forget(CURL *h);

#endif
