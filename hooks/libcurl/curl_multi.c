/*
 * hooks/libcurl/curl_multi.c - the multi interface: a transfer's span
 * starts when its easy handle is added (the parent: the span active on the
 * thread that adds it) and ends when curl_multi_info_read reports it
 * CURLMSG_DONE, or when the handle is removed before that.  While
 * curl_multi_perform / curl_multi_socket_action run, the socket layer
 * leaves the transfers' HTTP to these spans.
 */
#include "at_curl.h"

AT_EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	CURLMcode rc;

	if (!at_curl_enter())
		return at_curl_resolve() && at_curl.curl_multi_add_handle
			       ? at_curl.curl_multi_add_handle(m, h)
			       : CURLM_INTERNAL_ERROR;
	at_curl_begin(h, false);
	rc = at_curl.curl_multi_add_handle(m, h);
	if (rc != CURLM_OK)
		at_curl_abandon(h);
	at_curl_leave();
	return rc;
}

AT_EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	if (!at_curl_resolve() || !at_curl.curl_multi_remove_handle)
		return CURLM_INTERNAL_ERROR;
	if (at_curl_enter()) {
		at_curl_abandon(h); /* no-op if it already ended */
		at_curl_leave();
	}
	return at_curl.curl_multi_remove_handle(m, h);
}

AT_EXPORT CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	CURLMcode rc;

	if (!at_curl_enter())
		return at_curl_resolve() && at_curl.curl_multi_perform
			       ? at_curl.curl_multi_perform(m, running)
			       : CURLM_INTERNAL_ERROR;
	rc = at_curl.curl_multi_perform(m, running);
	at_curl_leave();
	return rc;
}

AT_EXPORT CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s,
					     int ev, int *running)
{
	CURLMcode rc;

	if (!at_curl_enter())
		return at_curl_resolve() && at_curl.curl_multi_socket_action
			       ? at_curl.curl_multi_socket_action(m, s, ev,
								  running)
			       : CURLM_INTERNAL_ERROR;
	rc = at_curl.curl_multi_socket_action(m, s, ev, running);
	at_curl_leave();
	return rc;
}

AT_EXPORT CURLMsg *curl_multi_info_read(CURLM *m, int *queued)
{
	CURLMsg *msg;

	if (!at_curl_resolve() || !at_curl.curl_multi_info_read)
		return NULL;
	msg = at_curl.curl_multi_info_read(m, queued);
	if (msg && msg->msg == CURLMSG_DONE && at_curl_enter()) {
		at_curl_end(msg->easy_handle, msg->data.result);
		at_curl_leave();
	}
	return msg;
}

AT_EXPORT CURLMcode curl_multi_cleanup(CURLM *m)
{
	if (!at_curl_resolve() || !at_curl.curl_multi_cleanup)
		return CURLM_INTERNAL_ERROR;
	return at_curl.curl_multi_cleanup(m);
}
