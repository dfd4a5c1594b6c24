/*
 * hooks/libc/dns.c - getaddrinfo(3): a CLIENT span "getaddrinfo" for a
 * name lookup made inside a traced operation (a span is active on the
 * thread: the lookup is part of it), or one that took at least
 * AUTOTRACE_DNS_SPAN_THRESHOLD ms (a slow resolver is worth seeing on its
 * own).  Attributes: dns.question.name, autotrace.dns.result_count, and on
 * failure error.type = the EAI_* name with status ERROR.  The library's
 * own lookups (exporter thread) hold the guard and never get a span.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_init.h"
#include "at_real.h"
#include "at_span.h"

static const char *eai_name(int rc)
{
	switch (rc) {
	case EAI_BADFLAGS: return "EAI_BADFLAGS";
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
	case EAI_SERVICE: return "EAI_SERVICE";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_OVERFLOW: return "EAI_OVERFLOW";
	case EAI_NODATA: return "EAI_NODATA";
	case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
	default: return "_OTHER";
	}
}

static void record(struct at_span *s, const char *node, int rc,
		   struct addrinfo **res)
{
	if (!at_span_recording(s))
		return;
	if (node)
		at_span_set_cstr(s, "dns.question.name", node);
	if (rc == 0) {
		int64_t n = 0;
		for (struct addrinfo *ai = *res; ai; ai = ai->ai_next)
			n++;
		at_span_set_int(s, "autotrace.dns.result_count", n);
	} else {
		const char *name = eai_name(rc);
		at_span_set_cstr(s, "error.type", name);
		at_span_set_status(s, AT_STATUS_ERROR, name, strlen(name));
	}
}

static int traced_getaddrinfo(const char *node, const char *service,
			      const struct addrinfo *hints,
			      struct addrinfo **res)
{
	struct at_span s;
	uint64_t t0;
	int rc, err;

	if (at_span_has_active()) {
		/* Part of a traced operation: always a span, its child. */
		at_span_start_detached(&s, "getaddrinfo", 11, AT_KIND_CLIENT);
		rc = AT_REAL(getaddrinfo)(node, service, hints, res);
		err = errno;
	} else {
		/* On its own: a span only if it was slow (made afterwards,
		 * with the start moved back). */
		t0 = at_mono_ns();
		rc = AT_REAL(getaddrinfo)(node, service, hints, res);
		err = errno;
		if (at_mono_ns() - t0 <
		    (uint64_t)at_cfg.dns_threshold_ms * 1000000u) {
			errno = err;
			return rc;
		}
		at_span_start_detached(&s, "getaddrinfo", 11, AT_KIND_CLIENT);
		at_span_backdate(&s, t0);
	}
	record(&s, node, rc, res);
	at_span_end(&s);
	errno = err;
	return rc;
}

AT_EXPORT int getaddrinfo(const char *node, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	int rc;

	if (!at_hook_enter())
		return AT_REAL(getaddrinfo)(node, service, hints, res);
	rc = traced_getaddrinfo(node, service, hints, res);
	at_hook_leave();
	return rc;
}
