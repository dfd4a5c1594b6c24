/*
 * at_iov.h - small helpers over the iovecs the I/O hooks see: their
 * total length, a copy of a range of their bytes, and the iovecs of a
 * range (to send part of them).
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

/* Append to out[*nout...cap) the iovecs of bytes [from, from + len) of
 * iov; returns the bytes appended (fewer when out is full). */
static inline size_t at_iov_slice(struct iovec *out, int *nout, int cap,
				  const struct iovec *iov, int n, size_t from,
				  size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len && *nout < cap; i++) {
		size_t l = iov[i].iov_len;
		if (from >= l) {
			from -= l;
			continue;
		}
		size_t take = l - from;
		if (take > len - done)
			take = len - done;
		out[*nout].iov_base = (char *)iov[i].iov_base + from;
		out[*nout].iov_len = take;
		(*nout)++;
		done += take;
		from = 0;
	}
	return done;
}

#endif
