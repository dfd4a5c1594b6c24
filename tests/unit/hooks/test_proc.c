/*
 * Unit tests of the LD_PRELOAD rule for children (at_proc_adds_preload,
 * at_proc.h): environments as tables, the process's own one included.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_config.h"
#include "at_proc.h"

#define LIB "/opt/at/libautotrace.so"

static bool adds(char *const envp[], char *const own[], int mode)
{
	return at_proc_adds_preload(envp, own, LIB, mode);
}

static char *own[] = { "HOME=/root", "PATH=/bin", "LD_PRELOAD=" LIB,
		       "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-"
		       "b7ad6b7169203331-01", "LANG=C", NULL };

/* The process's own environment, its LD_PRELOAD gone (unsetenv, env -u)
 * or emptied or another list: what it passes is honoured, whichever
 * array it passes - environ itself, a copy, or a fresh one. */
Test(proc, removed_from_own_environment_is_honoured)
{
	char *unset[] = { "HOME=/root", "PATH=/bin", "LANG=C", NULL };
	char *empty[] = { "HOME=/root", "LD_PRELOAD=", NULL };
	char *other[] = { "LD_PRELOAD=/lib/a.so:" LIB "x /b.so", NULL };
	char *fresh[] = { "A=1", NULL };
	char *copy[] = { "LANG=C", "PATH=/bin", "HOME=/root", NULL };

	cr_expect(!adds(unset, unset, AT_PRELOAD_RULE), "envp == environ");
	cr_expect(!adds(empty, empty, AT_PRELOAD_RULE));
	cr_expect(!adds(other, other, AT_PRELOAD_RULE), "not an entry");
	cr_expect(!adds(copy, unset, AT_PRELOAD_RULE), "a copy");
	cr_expect(!adds(fresh, unset, AT_PRELOAD_RULE),
		  "a fresh one from a process without it");
	cr_expect(!adds(fresh, empty, AT_PRELOAD_RULE));
	cr_expect(!adds(fresh, other, AT_PRELOAD_RULE));
	cr_expect(!adds(fresh, NULL, AT_PRELOAD_RULE), "after clearenv()");
	cr_expect(!adds(NULL, NULL, AT_PRELOAD_RULE));
}

/* A fresh environment from a process that still has the library gets
 * it; an LD_PRELOAD in it (another list, "") is the program's choice. */
Test(proc, fresh_environment_gets_the_library)
{
	char *fresh[] = { "PATH=/usr/bin", "OTEL_SERVICE_NAME=x", NULL };
	char *given_empty[] = { "PATH=/bin", "LD_PRELOAD=", NULL };
	char *given_other[] = { "PATH=/bin", "LD_PRELOAD=/lib/a.so", NULL };
	char *has[] = { "LD_PRELOAD=/lib/a.so " LIB, NULL };
	char *none[] = { NULL };

	cr_expect(adds(fresh, own, AT_PRELOAD_RULE));
	cr_expect(adds(none, own, AT_PRELOAD_RULE), "env -i's envp");
	cr_expect(adds(NULL, own, AT_PRELOAD_RULE));
	cr_expect(!adds(given_empty, own, AT_PRELOAD_RULE));
	cr_expect(!adds(given_other, own, AT_PRELOAD_RULE));
	cr_expect(!adds(has, own, AT_PRELOAD_RULE), "already listed");
	cr_expect(!adds(own, own, AT_PRELOAD_RULE));
}

/* The process's environment minus LD_PRELOAD (dash's unset, a filtered
 * copy): in any order, values changed, variables added, TRACEPARENT
 * dropped - honoured.  One more variable missing: built afresh. */
Test(proc, own_environment_minus_preload_is_honoured)
{
	char *minus[] = { "HOME=/root", "PATH=/bin", "LANG=C", NULL };
	char *reordered[] = { "LANG=fr_FR", "NEW=1", "PATH=/usr/bin",
			      "HOME=/", NULL };
	char *missing[] = { "HOME=/root", "PATH=/bin", NULL };
	char *prefix_only[] = { "HOMEX=/root", "PATH=/bin", "LANG=C", NULL };
	char *only_ours[] = { "LD_PRELOAD=" LIB, "TRACESTATE=a=b", NULL };
	char *one[] = { "A=1", NULL };

	cr_expect(!adds(minus, own, AT_PRELOAD_RULE));
	cr_expect(!adds(reordered, own, AT_PRELOAD_RULE));
	cr_expect(adds(missing, own, AT_PRELOAD_RULE));
	cr_expect(adds(prefix_only, own, AT_PRELOAD_RULE), "names, whole");
	cr_expect(adds(one, only_ours, AT_PRELOAD_RULE),
		  "nothing to compare: fresh");
}

/* false never adds; always adds wherever the list lacks the library. */
Test(proc, setting_has_the_last_word)
{
	char *unset[] = { "PATH=/bin", NULL };
	char *empty[] = { "LD_PRELOAD=", NULL };
	char *fresh[] = { "A=1", NULL };
	char *has[] = { "LD_PRELOAD=" LIB, NULL };

	cr_expect(!adds(fresh, own, AT_PRELOAD_NEVER));
	cr_expect(adds(unset, unset, AT_PRELOAD_ALWAYS));
	cr_expect(adds(empty, empty, AT_PRELOAD_ALWAYS));
	cr_expect(adds(fresh, own, AT_PRELOAD_ALWAYS));
	cr_expect(!adds(has, unset, AT_PRELOAD_ALWAYS));
	cr_expect(!at_proc_adds_preload(fresh, own, "", AT_PRELOAD_ALWAYS),
		  "no path of our own");
	cr_expect(!at_proc_adds_preload(fresh, own, NULL, AT_PRELOAD_RULE));
}

/* Two large environments with the same names in opposite orders: the
 * comparison gives up after its bounded work and leaves the child's
 * environment as given; in the same order it finds every name. */
Test(proc, large_environments_are_bounded)
{
	enum { N = 4000 };
	char **mine = calloc(N + 2, sizeof(char *));
	char **rev = calloc(N + 1, sizeof(char *));
	char **same = calloc(N + 1, sizeof(char *));

	cr_assert(mine && rev && same);
	for (size_t i = 0; i < N; i++) {
		cr_assert(asprintf(&mine[i], "VAR_%zu=%zu", i, i) > 0);
		rev[N - 1 - i] = mine[i];
		same[i] = mine[i];
	}
	mine[N] = "LD_PRELOAD=" LIB;
	cr_expect(!adds(rev, mine, AT_PRELOAD_RULE));
	cr_expect(!adds(same, mine, AT_PRELOAD_RULE));
	same[N / 2] = "OTHER=1";
	cr_expect(adds(same, mine, AT_PRELOAD_RULE), "one name missing");
	for (size_t i = 0; i < N; i++)
		free(mine[i]);
	free(mine);
	free(rev);
	free(same);
}
