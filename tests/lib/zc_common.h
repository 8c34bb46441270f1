/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zc_common.h - code shared by zc-smoke (tests/smoke/zc_smoke.c) and
 * zc-rpc-bench (tests/bench/zc_rpc_bench.c): the TCP_ZEROCOPY_RECEIVE
 * request layout and call, socket option helpers, and the JSON writer
 * pieces both reports are made of.
 *
 * Header only: every function is static inline, so a program that does not
 * use one gets no unused-function warning.  Include it after defining
 * _GNU_SOURCE (tests/c.mk passes -D_GNU_SOURCE), as
 * #include "../lib/zc_common.h" so that a copy of tests/ builds alone.
 */
#ifndef ZC_COMMON_H
#define ZC_COMMON_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>

#ifndef ZC_VERSION
#define ZC_VERSION "1.1"
#endif

#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif

#define IO_TIMEOUT_MS 5000	/* bound for every wait on a socket */

/* As in tools/testing/selftests/kselftest.h and the kernel. */
#ifndef __printf
#define __printf(a, b) __attribute__((format(printf, a, b)))
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
#endif

/* ------------------------------------------------------------------ */
/* struct tcp_zerocopy_receive                                         */

/*
 * Our own copy of struct tcp_zerocopy_receive (include/uapi/linux/tcp.h) so
 * the programs build against any UAPI headers.  The kernel accepts any optlen
 * between offsetofend(length) and its own sizeof() (larger if the tail is
 * zero) and writes back the size it used, which tells us which fields it
 * knows about.
 */
struct zc_rx {
	uint64_t address;		/* in: address of mapping */
	uint32_t length;		/* in/out: bytes to map/mapped */
	uint32_t recv_skip_hint;	/* out: bytes to read with recv() */
	uint32_t inq;			/* out: bytes in receive queue */
	int32_t err;			/* out: socket error */
	uint64_t copybuf_address;	/* in: copy buffer (small reads) */
	int32_t copybuf_len;		/* in/out: avail/copied, or -errno */
	uint32_t flags;			/* in */
	uint64_t msg_control;
	uint64_t msg_controllen;
	uint32_t msg_flags;
	uint32_t reserved;		/* must be 0 */
};

#define zc_offsetofend(field) \
	(offsetof(struct zc_rx, field) + sizeof(((struct zc_rx *)0)->field))

/* Offsets as in /usr/include/linux/tcp.h (6.x UAPI). */
_Static_assert(offsetof(struct zc_rx, address) == 0, "address");
_Static_assert(offsetof(struct zc_rx, length) == 8, "length");
_Static_assert(offsetof(struct zc_rx, recv_skip_hint) == 12, "recv_skip_hint");
_Static_assert(offsetof(struct zc_rx, inq) == 16, "inq");
_Static_assert(offsetof(struct zc_rx, err) == 20, "err");
_Static_assert(offsetof(struct zc_rx, copybuf_address) == 24, "copybuf_address");
_Static_assert(offsetof(struct zc_rx, copybuf_len) == 32, "copybuf_len");
_Static_assert(offsetof(struct zc_rx, flags) == 36, "flags");
_Static_assert(offsetof(struct zc_rx, msg_control) == 40, "msg_control");
_Static_assert(offsetof(struct zc_rx, msg_controllen) == 48, "msg_controllen");
_Static_assert(offsetof(struct zc_rx, msg_flags) == 56, "msg_flags");
_Static_assert(offsetof(struct zc_rx, reserved) == 60, "reserved");
_Static_assert(sizeof(struct zc_rx) == 64, "struct tcp_zerocopy_receive is 64 bytes");

/*
 * Smallest kernel struct that has the copy buffer: 36 bytes.  A kernel that
 * writes back less does not know the copy buffer.
 */
#define ZC_LEN_COPYBUF ((socklen_t)zc_offsetofend(copybuf_len))
#define ZC_LEN_INQ ((socklen_t)zc_offsetofend(inq))

/*
 * A request to map up to @len bytes at @addr and, if @copybuf is not NULL,
 * to copy small reads into @copybuf (@copybuf_len bytes); all else zero.
 */
static inline void zc_rx_init(struct zc_rx *zc, const void *addr, size_t len,
			      void *copybuf, size_t copybuf_len)
{
	memset(zc, 0, sizeof(*zc));
	zc->address = (uint64_t)(uintptr_t)addr;
	zc->length = (uint32_t)len;
	if (copybuf) {
		zc->copybuf_address = (uint64_t)(uintptr_t)copybuf;
		zc->copybuf_len = (int32_t)copybuf_len;
	}
}

/*
 * getsockopt(TCP_ZEROCOPY_RECEIVE) with the full 64 byte struct; *optlen is
 * the size the kernel wrote back.  Returns the getsockopt return value.
 */
static inline int zc_rx_call(int fd, struct zc_rx *zc, socklen_t *optlen)
{
	*optlen = sizeof(*zc);
	return getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, optlen);
}

/* ------------------------------------------------------------------ */
/* sockets                                                             */

static inline int set_int_opt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

static inline int set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000L };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -1;
	return 0;
}

/* send() all of @buf, retrying after EINTR; 0 or -1 with errno. */
static inline int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON reports                                                        */

static inline void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* A top-level member "@name": "@value" and the comma after it. */
static inline void json_member(FILE *f, const char *name, const char *value)
{
	fprintf(f, "  \"%s\": ", name);
	json_string(f, value);
	fputs(",\n", f);
}

/*
 * Create the report @path of @tool and write its opening members (tool,
 * version, kernel, machine; the caller continues with ",\n").  NULL, with
 * the reason on stderr, if the file cannot be created.
 */
static inline FILE *json_report_open(const char *tool, const char *path,
				     const struct utsname *uts)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", tool, path, strerror(errno));
		return NULL;
	}
	fputs("{\n  \"tool\": ", f);
	json_string(f, tool);
	fputs(",\n  \"version\": ", f);
	json_string(f, ZC_VERSION);
	fputs(",\n  \"kernel\": ", f);
	json_string(f, uts->release);
	fputs(",\n  \"machine\": ", f);
	json_string(f, uts->machine);
	return f;
}

/* Close a report; 0, or -1 with the reason on stderr. */
static inline int json_report_close(const char *tool, const char *path,
				    FILE *f)
{
	if (fclose(f)) {
		fprintf(stderr, "%s: %s: %s\n", tool, path, strerror(errno));
		return -1;
	}
	return 0;
}

#endif /* ZC_COMMON_H */
