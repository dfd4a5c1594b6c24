/* Unit tests of at_shell: popen modes are read as glibc reads them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "at_shell.h"

/*
 * Every mode of up to three characters from 'r', 'w', 'e' and a few
 * others: at_shell_popen_mode accepts exactly those glibc's popen (this
 * test binary is not preloaded) accepts, with the same direction and
 * close-on-exec flag.
 */
Test(shell, popen_modes_match_glibc)
{
	static const char alphabet[] = "rwebx+";
	size_t k = sizeof(alphabet) - 1, valid = 0, total = 0;
	char mode[4];

	for (size_t len = 0; len <= 3; len++) {
		size_t count = 1;
		for (size_t i = 0; i < len; i++)
			count *= k;
		for (size_t c = 0; c < count; c++, total++) {
			size_t v = c;
			for (size_t i = 0; i < len; i++, v /= k)
				mode[i] = alphabet[v % k];
			mode[len] = '\0';

			bool reading = false, cloexec = false;
			int ours = at_shell_popen_mode(mode, &reading,
						       &cloexec);
			errno = 0;
			FILE *f = popen("exit 0", mode);
			int err = errno;
			cr_expect_eq(ours == 0, f != NULL, "mode \"%s\"", mode);
			if (!f) {
				cr_expect_eq(err, EINVAL, "mode \"%s\"", mode);
				continue;
			}
			valid++;
			int fl = fcntl(fileno(f), F_GETFL) & O_ACCMODE;
			cr_expect_eq(reading, fl == O_RDONLY, "mode \"%s\"",
				     mode);
			cr_expect_eq(cloexec,
				     (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC) !=
					     0,
				     "mode \"%s\"", mode);
			cr_expect_eq(pclose(f), 0);
		}
	}
	cr_expect_eq(total, 1 + 6 + 36 + 216);
	cr_expect_gt(valid, 10, "glibc accepted %zu modes", valid);
}
