/* Unit tests of the exporter's TLS client (at_tls_client.c): which
 * errors are final, and settings that cannot work.  The handshakes,
 * verification and client certificates against real peers are in
 * tests/integration/test_export_tls.c.  Each test runs in its own
 * process (criterion), so the once-only setup starts fresh. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "at_tls_client.h"
#include "unit.h"

Test(tls_client, final_errors)
{
	cr_expect(at_tls_error_final(AT_TLS_ENOLIB));
	cr_expect(at_tls_error_final(AT_TLS_ESETUP));
	cr_expect(at_tls_error_final(AT_TLS_EVERIFY));
	cr_expect(at_tls_error_final(AT_TLS_EPROTO));
	/* the network's errors are retried as before */
	cr_expect_not(at_tls_error_final(0));
	cr_expect_not(at_tls_error_final(-ECONNREFUSED));
	cr_expect_not(at_tls_error_final(-ECONNRESET));
	cr_expect_not(at_tls_error_final(-ETIMEDOUT));
	cr_expect_not(at_tls_error_final(-EPROTO));
	cr_expect_not(at_tls_error_final(AT_TLS_WANT_READ));
}

Test(tls_client, key_without_certificate_is_refused)
{
	const struct at_tls_files f = { .key_file = "/tmp/k.pem" };
	struct at_tls_conn c;

	cr_assert_eq(at_tls_setup(&f), AT_TLS_ESETUP);
	cr_expect_not_null(strstr(at_tls_error(), "without"), "%s",
			   at_tls_error());
	/* once failed, always the same answer, and no connection */
	cr_assert_eq(at_tls_setup(&f), AT_TLS_ESETUP);
	cr_assert_eq(at_tls_conn_open(&c, "127.0.0.1"), AT_TLS_ESETUP);
	cr_assert_null(c.ssl);
}

Test(tls_client, system_store_loads)
{
	const struct at_tls_files f = { 0 };
	struct at_tls_conn c;

	cr_assert_eq(at_tls_setup(&f), 0, "%s", at_tls_error());
	cr_assert_eq(at_tls_conn_open(&c, "collector.example"), 0, "%s",
		     at_tls_error());
	/* the ClientHello is ready to go, nothing read yet */
	cr_expect_eq(at_tls_handshake(&c), AT_TLS_WANT_READ);
	cr_expect_gt(at_tls_pending(&c), 0);
	at_tls_conn_free(&c);
	cr_expect_null(c.ssl);
}
