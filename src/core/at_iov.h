/*
 * at_iov.h - small helpers over the iovecs the I/O hooks see: their
 * total length, and a copy of a range of their bytes.
 */
#ifndef AT_IOV_H
#define AT_IOV_H

#include <stddef.h>
#include <string.h>
#include <sys/uio.h>

static inline size_t at_iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Copy up to cap bytes starting at byte `skip` of the iovec data; returns
 * how many were copied. */
static inline size_t at_iov_copy(char *dst, const struct iovec *iov, int n,
				 size_t skip, size_t cap)
{
	size_t done = 0;

	for (int i = 0; i < n && done < cap; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t take = l - skip;
		if (take > cap - done)
			take = cap - done;
		memcpy(dst + done, (const char *)iov[i].iov_base + skip, take);
		done += take;
		skip = 0;
	}
	return done;
}

#endif
