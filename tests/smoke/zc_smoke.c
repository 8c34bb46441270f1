// SPDX-License-Identifier: GPL-2.0
/*
 * zc-smoke - functional smoke test for the TCP_ZEROCOPY_RECEIVE small-read
 * short-circuit.
 *
 * Linux 5.11 changed getsockopt(SOL_TCP, TCP_ZEROCOPY_RECEIVE) so that small
 * reads no longer take mmap_sem and look up the VMA behind zc.address:
 *
 *   f21a3c480398 ("net-zerocopy: Introduce short-circuit small reads.")
 *   936ced415751 ("net-zerocopy: Fast return if inq < PAGE_SIZE")
 *   0c3936d32f75 ("net-zerocopy: Set zerocopy hint when data is copied")
 *
 * With those, and with zc.address pointing at a page aligned anonymous
 * mapping (i.e. not a mmap() of the socket):
 *
 *   - nothing queued:                     0, length 0, recv_skip_hint 0
 *   - 0 < inq <= copybuf_len:             0, data copied, copybuf_len = inq
 *   - no copy buffer, 0 < inq < PAGE_SIZE: 0, recv_skip_hint = inq
 *
 * An unpatched kernel (5.10) looks the VMA up first, finds no TCP mapping and
 * answers -1/EINVAL in all three cases.  The checks below rest only on that
 * observable behaviour, never on timing or version numbers.  Around the
 * three cases they check upstream's semantics at the boundaries (sizes from
 * the page size), the hint after a copy (0c3936d32f75), the returned fields,
 * the shorter structs of older binaries, and the errors that must come before
 * any fast path (alignment, listening socket); zc-smoke(1) lists them.
 *
 * Each check runs in a child process with its own time limit, as
 * kselftest_harness.h does, so that a hang or a crash loses that check only.
 * Output is TAP 13 in the style of tools/testing/selftests/kselftest.h.
 * Exit status: 0 all checks passed, 1 a check failed, 2 usage error,
 * 4 skipped (TCP_ZEROCOPY_RECEIVE unknown to the running kernel).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/zc_common.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

/* kselftest exit codes */
#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_USAGE 2	/* not a kselftest code; conventional for bad usage */
#define KSFT_SKIP 4

#define CHECK_TIMEOUT_SECONDS 30	/* per check, as kselftest_harness.h */
#define COPYBUF_LEN 8192
#define MMAP_REGION_LEN (512UL * 1024)
#define MMAP_PAYLOAD_LEN (256UL * 1024)
#define MMAP_SEND_CHUNK (64UL * 1024)
/*
 * 4096 bytes of payload per segment once the 12 byte timestamp option is
 * subtracted, as tools/testing/selftests/net/tcp_mmap.c does.
 */
#define MMAP_MSS (4096 + 12)

enum verdict { VERDICT_PASS, VERDICT_FAIL, VERDICT_SKIP };

/* What one check observed; also the JSON record. */
struct result {
	struct zc_rx zc;	/* as written back by the kernel */
	enum verdict verdict;
	int ret;
	int err;		/* errno if ret == -1, else 0 */
	socklen_t optlen;	/* as written back by the kernel */
	bool called;		/* ret/errno/zc/optlen hold a getsockopt result */
	bool info;		/* print reason as a diagnostic even on pass */
	char expected[192];
	char reason[640];
};

struct ctx {
	size_t page_size;
	void *anon;		/* page aligned anonymous mapping, not a socket */
	size_t anon_len;
	bool ipv6_ok;
	char ipv6_why[160];
};

struct check {
	const char *name;
	void (*run)(const struct ctx *ctx, const struct check *c,
		    struct result *r);
	int family;
	size_t size;		/* bytes, unless page_rel */
	bool page_rel;		/* the size is PAGE_SIZE + page_delta */
	long page_delta;
};

static bool opt_quiet;

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static const struct {
	int value;
	const char *name;
} errno_names[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
	{ EIO, "EIO" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EINVAL, "EINVAL" }, { EMFILE, "EMFILE" },
	{ ENFILE, "ENFILE" }, { EPIPE, "EPIPE" }, { ENOSYS, "ENOSYS" },
	{ ENOTSOCK, "ENOTSOCK" }, { ENOPROTOOPT, "ENOPROTOOPT" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { EADDRINUSE, "EADDRINUSE" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { ENETDOWN, "ENETDOWN" },
	{ ENETUNREACH, "ENETUNREACH" }, { ECONNABORTED, "ECONNABORTED" },
	{ ECONNRESET, "ECONNRESET" }, { ENOBUFS, "ENOBUFS" },
	{ EISCONN, "EISCONN" }, { ENOTCONN, "ENOTCONN" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { ECONNREFUSED, "ECONNREFUSED" },
	{ EINPROGRESS, "EINPROGRESS" }, { EMSGSIZE, "EMSGSIZE" },
};

static const char *errno_name(int e)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].value == e)
			return errno_names[i].name;
	return "E?";
}

static void appendf(char *buf, size_t len, const char *fmt, ...)
	__printf(3, 4);

static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void set_expected(struct result *r, const char *fmt, ...)
	__printf(2, 3);

static void set_expected(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->expected, sizeof(r->expected), fmt, ap);
	va_end(ap);
}

static void fail(struct result *r, const char *fmt, ...)
	__printf(2, 3);

static void fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	r->verdict = VERDICT_FAIL;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void skip(struct result *r, const char *fmt, ...)
	__printf(2, 3);

static void skip(struct result *r, const char *fmt, ...)
{
	va_list ap;

	r->verdict = VERDICT_SKIP;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static bool covers(const struct result *r, socklen_t end)
{
	return r->called && r->ret == 0 && r->optlen >= end;
}

/* "getsockopt returned ..." for the recorded call, appended to buf. */
static void describe_call(const struct result *r, char *buf, size_t len)
{
	if (!r->called) {
		appendf(buf, len, "getsockopt was not called");
		return;
	}
	if (r->ret != 0) {
		appendf(buf, len, "getsockopt returned %d errno %s (%s)",
			r->ret, errno_name(r->err), strerror(r->err));
		return;
	}
	appendf(buf, len, "getsockopt returned 0, length %u, recv_skip_hint %u",
		r->zc.length, r->zc.recv_skip_hint);
	if (covers(r, ZC_LEN_COPYBUF))
		appendf(buf, len, ", copybuf_len %d", r->zc.copybuf_len);
	if (covers(r, ZC_LEN_INQ))
		appendf(buf, len, ", inq %u", r->zc.inq);
}

/* Fail with the recorded call as the observation plus optional detail. */
static void fail_call(struct result *r, const char *fmt, ...)
	__printf(2, 3);

static void fail_call(struct result *r, const char *fmt, ...)
{
	r->verdict = VERDICT_FAIL;
	r->reason[0] = '\0';
	describe_call(r, r->reason, sizeof(r->reason));
	if (fmt && *fmt) {
		size_t used = strnlen(r->reason, sizeof(r->reason));
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(r->reason + used, sizeof(r->reason) - used, fmt, ap);
		va_end(ap);
	}
}

/*
 * getsockopt(TCP_ZEROCOPY_RECEIVE) with the full 64 byte struct; the
 * outcome is recorded in r.  Returns the getsockopt return value.
 */
static int zc_receive(int fd, struct zc_rx *zc, struct result *r)
{
	socklen_t optlen;
	int ret;

	ret = zc_rx_call(fd, zc, &optlen);
	r->called = true;
	r->ret = ret;
	r->err = ret ? errno : 0;
	r->optlen = optlen;
	r->zc = *zc;
	if (ret)
		errno = r->err;
	return ret;
}

static void record_call(struct result *dst, const struct result *src)
{
	dst->called = src->called;
	dst->ret = src->ret;
	dst->err = src->err;
	dst->optlen = src->optlen;
	dst->zc = src->zc;
}

static uint8_t pattern_byte(uint32_t seed, size_t off)
{
	uint32_t x = (uint32_t)off * 2654435761u + seed;

	x ^= x >> 15;
	return (uint8_t)(x ^ (x >> 8));
}

/* Fill buf with the stream bytes [off, off + len) of pattern seed. */
static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed, size_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(seed, off + i);
}

/* Index of the first byte that differs from the pattern, or -1. */
static long check_pattern(const uint8_t *buf, size_t len, uint32_t seed,
			  size_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pattern_byte(seed, off + i))
			return (long)i;
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int socket_inq(int fd)
{
	int inq = -1;

	if (ioctl(fd, SIOCINQ, &inq))
		return -1;
	return inq;
}

/*
 * Wait until at least @want bytes are queued on @fd, first with poll() for
 * POLLIN and then by polling SIOCINQ.  Returns the number of bytes queued
 * (possibly fewer than @want after @timeout_ms), or -1 on error.
 */
static int wait_for_inq(int fd, int want, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		int inq;

		if (left < 0)
			left = 0;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -1;
		inq = socket_inq(fd);
		if (inq < 0 || inq >= want || now_ms() >= deadline)
			return inq;
		sleep_ms(1);
	}
}

/*
 * Wait until the peer has acknowledged everything sent on @fd (SIOCOUTQ,
 * unacknowledged bytes, is 0): then it is all queued at the receiver.
 * Returns the bytes still unacknowledged, or -1 on error.
 */
static int wait_for_acked(int fd, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int outq;

	for (;;) {
		if (ioctl(fd, SIOCOUTQ, &outq))
			return -1;
		if (outq == 0 || now_ms() >= deadline)
			return outq;
		sleep_ms(1);
	}
}

static socklen_t loopback_addr(int family, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		return sizeof(*sin6);
	}
	sin = (struct sockaddr_in *)ss;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*sin);
}

/* A listening socket on the loopback address of @family, ephemeral port. */
static int tcp_listener(int family, int mss, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = loopback_addr(family, &ss);
	int fd;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (mss && set_int_opt(fd, IPPROTO_TCP, TCP_MAXSEG, mss)) {
		snprintf(why, whylen, "TCP_MAXSEG %d: %s", mss, strerror(errno));
		goto err;
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen)) {
		snprintf(why, whylen, "bind %s: %s",
			 family == AF_INET6 ? "::1" : "127.0.0.1",
			 strerror(errno));
		goto err;
	}
	if (listen(fd, 4)) {
		snprintf(why, whylen, "listen: %s", strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

struct tcp_pair {
	int listener;
	int client;	/* active side: the sender */
	int server;	/* accepted side: the receiver under test */
};

struct pair_opts {
	int mss;	/* TCP_MAXSEG on listener and client, 0 = default */
	bool nodelay;	/* TCP_NODELAY on both ends */
	bool zerocopy;	/* SO_ZEROCOPY on the client */
};

static void tcp_pair_close(struct tcp_pair *p)
{
	if (p->server >= 0)
		close(p->server);
	if (p->client >= 0)
		close(p->client);
	if (p->listener >= 0)
		close(p->listener);
	p->server = p->client = p->listener = -1;
}

/* A connected loopback TCP connection; on error @why says what failed. */
static int tcp_pair_open(int family, const struct pair_opts *o,
			 struct tcp_pair *p, char *why, size_t whylen)
{
	struct pollfd pfd = { .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int ret;

	p->listener = p->client = p->server = -1;
	p->listener = tcp_listener(family, o->mss, why, whylen);
	if (p->listener < 0)
		return -1;
	if (getsockname(p->listener, (struct sockaddr *)&ss, &sslen)) {
		snprintf(why, whylen, "getsockname: %s", strerror(errno));
		goto err;
	}
	p->client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->client < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		goto err;
	}
	if (set_timeouts(p->client, IO_TIMEOUT_MS) ||
	    (o->nodelay && set_int_opt(p->client, IPPROTO_TCP, TCP_NODELAY, 1)) ||
	    (o->mss && set_int_opt(p->client, IPPROTO_TCP, TCP_MAXSEG, o->mss)) ||
	    (o->zerocopy && set_int_opt(p->client, SOL_SOCKET, SO_ZEROCOPY, 1))) {
		snprintf(why, whylen, "client setsockopt: %s", strerror(errno));
		goto err;
	}
	if (connect(p->client, (struct sockaddr *)&ss, sslen)) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		goto err;
	}
	pfd.fd = p->listener;
	ret = poll(&pfd, 1, IO_TIMEOUT_MS);
	if (ret <= 0) {
		snprintf(why, whylen, "waiting for connection: %s",
			 ret ? strerror(errno) : "timeout");
		goto err;
	}
	p->server = accept4(p->listener, NULL, NULL, SOCK_CLOEXEC);
	if (p->server < 0) {
		snprintf(why, whylen, "accept: %s", strerror(errno));
		goto err;
	}
	if (set_timeouts(p->server, IO_TIMEOUT_MS) ||
	    (o->nodelay && set_int_opt(p->server, IPPROTO_TCP, TCP_NODELAY, 1))) {
		snprintf(why, whylen, "server setsockopt: %s", strerror(errno));
		goto err;
	}
	return 0;
err:
	tcp_pair_close(p);
	return -1;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/*
 * Common prologue: skip IPv6 checks without IPv6 loopback, open the pair.
 * Returns false (with r filled in) if the check cannot go on.
 */
static bool check_setup(const struct ctx *ctx, int family,
			const struct pair_opts *o, struct tcp_pair *p,
			struct result *r)
{
	char why[256];

	if (family == AF_INET6 && !ctx->ipv6_ok) {
		skip(r, "IPv6 loopback unavailable: %s", ctx->ipv6_why);
		return false;
	}
	if (tcp_pair_open(family, o, p, why, sizeof(why))) {
		fail(r, "setup: %s loopback connection: %s",
		     family_name(family), why);
		return false;
	}
	return true;
}

/*
 * Send @len pattern bytes and wait until all of them are queued at the
 * receiver.  On failure r is filled in and false returned.
 */
static bool send_and_wait(const struct tcp_pair *p, const uint8_t *buf,
			  size_t len, size_t queued_before, struct result *r)
{
	size_t want = queued_before + len;
	int inq;

	if (send_all(p->client, buf, len)) {
		fail(r, "setup: send of %zu bytes: %s", len, strerror(errno));
		return false;
	}
	inq = wait_for_inq(p->server, (int)want, IO_TIMEOUT_MS);
	if (inq < 0 || (size_t)inq != want) {
		fail(r, "setup: %d of %zu bytes queued at the receiver after %d ms",
		     inq, want, IO_TIMEOUT_MS);
		return false;
	}
	return true;
}

static void zc_init_anon(const struct ctx *ctx, struct zc_rx *zc)
{
	zc_rx_init(zc, ctx->anon, ctx->anon_len, NULL, 0);
}

/* Size of a check: c->size, or PAGE_SIZE + c->page_delta if c->page_rel. */
static size_t check_size(const struct ctx *ctx, const struct check *c)
{
	if (c->page_rel)
		return (size_t)((long)ctx->page_size + c->page_delta);
	return c->size;
}

/* ------------------------------------------------------------------ */
/* checks                                                              */

/*
 * struct_copybuf_fields: the kernel writes back the size of the struct it
 * used.  A 64 byte request against a real mmap() of the socket (valid on
 * every kernel since 4.18) must succeed, and the kernel must know at least
 * copybuf_address and copybuf_len (36 bytes), without which no hybrid copy
 * is possible.  This is a precondition, not a test of the fix: upstream
 * kernels before 5.11 lack the fields and fail it, but Debian's 5.10 has
 * them through stable, so the unpatched 5.10 control passes it (it writes
 * back 40 bytes).
 */
static void check_struct_copybuf_fields(const struct ctx *ctx, const struct check *c,
			      struct result *r)
{
	const struct pair_opts o = { 0 };
	struct tcp_pair p;
	struct zc_rx zc;
	void *map;

	(void)c;
	set_expected(r, "0 with returned optlen between %u and %zu",
		     (unsigned int)ZC_LEN_COPYBUF, sizeof(zc));
	if (!check_setup(ctx, AF_INET, &o, &p, r))
		return;
	map = mmap(NULL, ctx->page_size, PROT_READ, MAP_SHARED, p.server, 0);
	if (map == MAP_FAILED) {
		fail(r, "setup: mmap of the TCP socket: %s", strerror(errno));
		goto out;
	}
	zc_rx_init(&zc, map, ctx->page_size, NULL, 0);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->optlen < ZC_LEN_COPYBUF || r->optlen > sizeof(zc))
		fail_call(r, "; returned optlen %u", (unsigned int)r->optlen);
	else
		snprintf(r->reason, sizeof(r->reason),
			 "kernel struct tcp_zerocopy_receive size %u bytes",
			 (unsigned int)r->optlen);
	r->info = true;
	munmap(map, ctx->page_size);
out:
	tcp_pair_close(&p);
}

/*
 * inq_zero_v4/v6: nothing queued.  The short-circuit answers from tcp_inq()
 * alone: 0, length 0, recv_skip_hint 0, and never looks at zc.address.  An
 * unpatched kernel takes mmap_sem first, finds that the anonymous mapping is
 * not a TCP mapping and returns EINVAL.
 */
static void check_inq_zero(const struct ctx *ctx, const struct check *c,
			   struct result *r)
{
	const struct pair_opts o = { 0 };
	struct tcp_pair p;
	struct zc_rx zc;
	int inq;

	set_expected(r, "0, length 0, recv_skip_hint 0");
	if (!check_setup(ctx, c->family, &o, &p, r))
		return;
	inq = socket_inq(p.server);
	if (inq != 0) {
		fail(r, "setup: SIOCINQ %d on a fresh connection", inq);
		goto out;
	}
	zc_init_anon(ctx, &zc);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.length != 0 || r->zc.recv_skip_hint != 0)
		fail_call(r, NULL);
out:
	tcp_pair_close(&p);
}

/*
 * Shared by copybuf_*: @len bytes are queued (sent in one or more writes),
 * a COPYBUF_LEN copy buffer is offered.  The fixed kernel copies the whole
 * queue into it with tcp_recvmsg_locked() (length 0, copybuf_len = len,
 * nothing left queued); an unpatched kernel returns EINVAL because
 * zc.address is not a TCP mapping.
 */
static void copybuf_common(const struct ctx *ctx, int family,
			   const size_t *writes, size_t nwrites,
			   struct result *r)
{
	const struct pair_opts o = { .nodelay = true };
	uint8_t *sent = NULL, *copybuf = NULL;
	const uint32_t seed = 0xc0b0u;
	size_t total = 0, off = 0, i;
	struct tcp_pair p;
	struct zc_rx zc;
	long bad;
	int inq;

	for (i = 0; i < nwrites; i++)
		total += writes[i];
	set_expected(r, "0, length 0, recv_skip_hint 0, copybuf_len %zu with the sent bytes, err 0, inq 0, nothing left queued or written past them",
		     total);
	if (!check_setup(ctx, family, &o, &p, r))
		return;
	sent = malloc(total);
	copybuf = malloc(COPYBUF_LEN);
	if (!sent || !copybuf) {
		fail(r, "setup: out of memory");
		goto out;
	}
	fill_pattern(sent, total, seed, 0);
	/* Bytes the kernel does not write must not match the pattern. */
	for (i = 0; i < COPYBUF_LEN; i++)
		copybuf[i] = (uint8_t)~pattern_byte(seed, i);

	for (i = 0; i < nwrites; i++) {
		/*
		 * Wait for each write before the next so the segments are
		 * transmitted separately (TCP_NODELAY).
		 */
		if (!send_and_wait(&p, sent + off, writes[i], off, r))
			goto out;
		off += writes[i];
	}

	zc_rx_init(&zc, ctx->anon, ctx->anon_len, copybuf, COPYBUF_LEN);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.length != 0 || r->zc.recv_skip_hint != 0) {
		fail_call(r, NULL);
		goto out;
	}
	if (!covers(r, ZC_LEN_COPYBUF)) {
		fail_call(r, "; kernel returned optlen %u, which does not cover copybuf_len",
			  (unsigned int)r->optlen);
		goto out;
	}
	if (r->zc.copybuf_len < 0 || (size_t)r->zc.copybuf_len != total) {
		fail_call(r, "; %zu bytes were queued", total);
		goto out;
	}
	bad = check_pattern(copybuf, total, seed, 0);
	if (bad >= 0) {
		fail_call(r, "; copy buffer byte %ld is 0x%02x, sent 0x%02x",
			  bad, copybuf[bad], sent[bad]);
		goto out;
	}
	for (i = total; i < COPYBUF_LEN; i++) {
		uint8_t untouched = (uint8_t)~pattern_byte(seed, i);

		if (copybuf[i] != untouched) {
			fail_call(r, "; copy buffer byte %zu, past the %zu bytes queued, was written",
				  i, total);
			goto out;
		}
	}
	if ((covers(r, zc_offsetofend(err)) && r->zc.err != 0) ||
	    (covers(r, ZC_LEN_INQ) && r->zc.inq != 0)) {
		fail_call(r, ", err %d; expected err 0 and inq 0 after a full copy",
			  r->zc.err);
		goto out;
	}
	inq = socket_inq(p.server);
	if (inq != 0)
		fail_call(r, "; SIOCINQ %d after the copy", inq);
out:
	free(copybuf);
	free(sent);
	tcp_pair_close(&p);
}

/*
 * copybuf_<size>_v4/v6: @size bytes in one write, 1 <= size <= 6000.  6000
 * is more than a page but fits the 8192 byte copy buffer, so the copy
 * branch must win over the "inq < PAGE_SIZE" fast return and over mapping.
 */
static void check_copybuf(const struct ctx *ctx, const struct check *c,
			  struct result *r)
{
	copybuf_common(ctx, c->family, &c->size, 1, r);
}

/*
 * copybuf_two_sends_v4/v6: 100 + 200 bytes in two writes with TCP_NODELAY
 * (two segments on the wire; the receive queue may or may not coalesce
 * them).  All 300 queued bytes must come back in one call: the copy is a
 * recvmsg of inq bytes, not of the first skb only.
 */
static void check_copybuf_two_sends(const struct ctx *ctx,
				    const struct check *c, struct result *r)
{
	static const size_t writes[] = { 100, 200 };

	copybuf_common(ctx, c->family, writes, 2, r);
}

/*
 * skip_hint_<size>_v4/v6: 0 < size < PAGE_SIZE queued, no copy buffer.  The
 * fast return reports recv_skip_hint = inq without consuming anything; a
 * recv() of exactly that many bytes then returns the sent bytes.  An
 * unpatched kernel returns EINVAL (no TCP VMA at zc.address).
 */
static void check_skip_hint(const struct ctx *ctx, const struct check *c,
			    struct result *r)
{
	const struct pair_opts o = { .nodelay = true };
	const uint32_t seed = 0x5c1bu;
	uint8_t *sent = NULL, *got = NULL;
	struct tcp_pair p;
	struct zc_rx zc;
	ssize_t n;
	long bad;
	const size_t size = check_size(ctx, c);
	int inq;

	set_expected(r, "0, length 0, recv_skip_hint %zu, then recv() of %zu sent bytes",
		     size, size);
	if (!check_setup(ctx, c->family, &o, &p, r))
		return;
	sent = malloc(size);
	got = calloc(1, size);
	if (!sent || !got) {
		fail(r, "setup: out of memory");
		goto out;
	}
	fill_pattern(sent, size, seed, 0);
	if (!send_and_wait(&p, sent, size, 0, r))
		goto out;

	zc_init_anon(ctx, &zc);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.length != 0 || r->zc.recv_skip_hint != size ||
	    (covers(r, ZC_LEN_INQ) && r->zc.inq != size)) {
		fail_call(r, NULL);
		goto out;
	}
	inq = socket_inq(p.server);
	if (inq < 0 || (size_t)inq != size) {
		fail_call(r, "; SIOCINQ %d afterwards, the hint must not consume data",
			  inq);
		goto out;
	}
	n = recv(p.server, got, r->zc.recv_skip_hint, MSG_WAITALL);
	if (n < 0 || (size_t)n != size) {
		fail_call(r, "; recv(%u) returned %zd (%s)", r->zc.recv_skip_hint,
			  n, n < 0 ? strerror(errno) : "short read");
		goto out;
	}
	bad = check_pattern(got, size, seed, 0);
	if (bad >= 0)
		fail_call(r, "; recv() byte %ld is 0x%02x, sent 0x%02x", bad,
			  got[bad], sent[bad]);
out:
	free(got);
	free(sent);
	tcp_pair_close(&p);
}

/*
 * misaligned_address: zc.address must be page aligned, before and after the
 * fix (the alignment test sits in front of the short-circuit).  We queue
 * 8192 bytes (>= PAGE_SIZE, no copy buffer, so no fast path could apply
 * anyway) and point zc.address one byte into a real mmap() of the socket, so
 * the alignment is the only reason to refuse: expect EINVAL with nothing
 * consumed, then the same call with the aligned address must succeed.  This
 * is a regression check; unpatched kernels pass it too.
 */
static void check_misaligned_address(const struct ctx *ctx,
				     const struct check *c, struct result *r)
{
	const struct pair_opts o = { .nodelay = true };
	const size_t len = 8192, map_len = 2 * len;
	struct result control = { 0 };
	uint8_t *sent = NULL, *map;
	struct tcp_pair p;
	struct zc_rx zc;
	int inq;

	(void)c;
	set_expected(r, "-1 errno EINVAL with %zu bytes still queued; 0 for the aligned address",
		     len);
	if (!check_setup(ctx, AF_INET, &o, &p, r))
		return;
	map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, p.server, 0);
	if (map == MAP_FAILED) {
		fail(r, "setup: mmap of the TCP socket: %s", strerror(errno));
		goto out;
	}
	sent = malloc(len);
	if (!sent) {
		fail(r, "setup: out of memory");
		goto out_unmap;
	}
	fill_pattern(sent, len, 0xa119u, 0);
	if (!send_and_wait(&p, sent, len, 0, r))
		goto out_unmap;

	zc_rx_init(&zc, map + 1, len, NULL, 0);
	zc_receive(p.server, &zc, r);
	if (r->ret != -1 || r->err != EINVAL) {
		fail_call(r, NULL);
		goto out_unmap;
	}
	inq = socket_inq(p.server);
	if (inq < 0 || (size_t)inq != len) {
		fail_call(r, "; SIOCINQ %d afterwards", inq);
		goto out_unmap;
	}
	zc_rx_init(&zc, map, len, NULL, 0);
	zc_receive(p.server, &zc, &control);
	if (control.ret != 0) {
		fail_call(r, "; aligned control call: ");
		describe_call(&control, r->reason, sizeof(r->reason));
	}
out_unmap:
	munmap(map, map_len);
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * listen_enotconn: a listening socket has no receive queue; the state test
 * sits in front of the short-circuit (tcp_inq() of a listener is
 * meaningless), so the answer stays ENOTCONN.  Regression check; unpatched
 * kernels pass too (they test the state before the VMA lookup).
 */
static void check_listen_enotconn(const struct ctx *ctx, const struct check *c,
				  struct result *r)
{
	struct zc_rx zc;
	char why[256];
	int fd;

	(void)c;
	set_expected(r, "-1 errno ENOTCONN");
	fd = tcp_listener(AF_INET, 0, why, sizeof(why));
	if (fd < 0) {
		fail(r, "setup: listener: %s", why);
		return;
	}
	zc_init_anon(ctx, &zc);
	zc_receive(fd, &zc, r);
	if (r->ret != -1 || r->err != ENOTCONN)
		fail_call(r, NULL);
	close(fd);
}

/*
 * fin_eio: the peer has shut down its side and nothing is queued.  The fast
 * return must still report end of stream as EIO (inq == 0 && SOCK_DONE), as
 * the mapping path does, instead of "0, nothing to read" which would make a
 * zerocopy reader spin.  An unpatched kernel returns EINVAL here because
 * zc.address is not a TCP mapping.
 */
static void check_fin_eio(const struct ctx *ctx, const struct check *c,
			  struct result *r)
{
	const struct pair_opts o = { 0 };
	struct pollfd pfd = { .events = POLLIN | POLLRDHUP };
	struct tcp_pair p;
	struct zc_rx zc;
	int ret, inq;

	(void)c;
	set_expected(r, "-1 errno EIO");
	if (!check_setup(ctx, AF_INET, &o, &p, r))
		return;
	if (shutdown(p.client, SHUT_WR)) {
		fail(r, "setup: shutdown: %s", strerror(errno));
		goto out;
	}
	/* Wait for the FIN without consuming anything (no recv()). */
	pfd.fd = p.server;
	ret = poll(&pfd, 1, IO_TIMEOUT_MS);
	if (ret <= 0 || !(pfd.revents & POLLRDHUP)) {
		fail(r, "setup: FIN not seen after %d ms (poll %d, revents 0x%x)",
		     IO_TIMEOUT_MS, ret, (unsigned int)pfd.revents);
		goto out;
	}
	inq = socket_inq(p.server);
	if (inq != 0) {
		fail(r, "setup: SIOCINQ %d after FIN", inq);
		goto out;
	}
	zc_init_anon(ctx, &zc);
	zc_receive(p.server, &zc, r);
	if (r->ret != -1 || r->err != EIO)
		fail_call(r, NULL);
out:
	tcp_pair_close(&p);
}

/* ------------------------------------------------------------------ */
/* boundaries, return fields and ABI lengths                           */

/* Fail unless exactly @want bytes are still queued on the receiver. */
static bool still_queued(const struct tcp_pair *p, size_t want,
			 struct result *r)
{
	int inq = socket_inq(p->server);

	if (inq < 0 || (size_t)inq != want) {
		fail_call(r, "; SIOCINQ %d afterwards, %zu bytes must still be queued",
			  inq, want);
		return false;
	}
	return true;
}

/* Index of the first byte of @buf[0, len) that is not @val, or -1. */
static long first_not(const uint8_t *buf, size_t len, uint8_t val)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != val)
			return (long)i;
	return -1;
}

#define CANARY 0xa5u

/* Queue @len pattern bytes of @seed on a fresh pair; false with r set. */
static bool setup_queued(const struct ctx *ctx, int family, size_t len,
			 uint32_t seed, struct tcp_pair *p, uint8_t **sent,
			 struct result *r)
{
	const struct pair_opts o = { .nodelay = true };

	*sent = NULL;
	if (!check_setup(ctx, family, &o, p, r))
		return false;
	*sent = malloc(len ? len : 1);
	if (!*sent) {
		fail(r, "setup: out of memory");
		return false;
	}
	fill_pattern(*sent, len, seed, 0);
	return len == 0 || send_and_wait(p, *sent, len, 0, r);
}

/*
 * copybuf_exact_v4/v6: inq == copybuf_len (300).  "inq <= copybuf_len"
 * takes the copy: copybuf_len 300, the bytes in the buffer, nothing left
 * queued, zc.err 0 and zc.inq 0; and not one byte is written past
 * copybuf_len (a canary follows it).  Unpatched: EINVAL.
 */
static void check_copybuf_exact(const struct ctx *ctx, const struct check *c,
				struct result *r)
{
	const size_t len = 300, tail = 256;
	const uint32_t seed = 0xe8ac7u;
	uint8_t *sent = NULL, *buf = NULL;
	struct tcp_pair p;
	struct zc_rx zc;
	long bad;

	set_expected(r, "0, length 0, copybuf_len %zu, err 0, inq 0, the %zu bytes after copybuf_len untouched",
		     len, tail);
	if (!setup_queued(ctx, c->family, len, seed, &p, &sent, r))
		goto out;
	buf = malloc(len + tail);
	if (!buf) {
		fail(r, "setup: out of memory");
		goto out;
	}
	memset(buf, CANARY, len + tail);
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, len);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.length != 0 || !covers(r, ZC_LEN_COPYBUF) ||
	    r->zc.copybuf_len != (int32_t)len || r->zc.err != 0 ||
	    r->zc.inq != 0) {
		fail_call(r, ", err %d", r->zc.err);
		goto out;
	}
	bad = check_pattern(buf, len, seed, 0);
	if (bad >= 0) {
		fail_call(r, "; copy buffer byte %ld is 0x%02x, sent 0x%02x", bad,
			  buf[bad], sent[bad]);
		goto out;
	}
	bad = first_not(buf + len, tail, CANARY);
	if (bad >= 0) {
		fail_call(r, "; byte %zu, %ld past copybuf_len, was overwritten (0x%02x)",
			  len + (size_t)bad, bad, buf[len + (size_t)bad]);
		goto out;
	}
	still_queued(&p, 0, r);
out:
	free(buf);
	free(sent);
	tcp_pair_close(&p);
}

/*
 * copybuf_short_v4/v6: 300 bytes queued, copybuf_len 299 (inq ==
 * copybuf_len + 1, below a page).  No copy: the fast return reports
 * recv_skip_hint 300, copybuf_len 0, the buffer untouched, nothing
 * consumed.  Unpatched: EINVAL.
 */
static void check_copybuf_short(const struct ctx *ctx, const struct check *c,
				struct result *r)
{
	const size_t len = 300;
	uint8_t *sent = NULL, buf[512];
	struct tcp_pair p;
	struct zc_rx zc;

	set_expected(r, "0, length 0, recv_skip_hint %zu, copybuf_len 0, buffer untouched, %zu bytes still queued",
		     len, len);
	if (!setup_queued(ctx, c->family, len, 0x5407u, &p, &sent, r))
		goto out;
	memset(buf, CANARY, sizeof(buf));
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, len - 1);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.length != 0 || r->zc.recv_skip_hint != len ||
	    !covers(r, ZC_LEN_COPYBUF) || r->zc.copybuf_len != 0) {
		fail_call(r, NULL);
		goto out;
	}
	if (first_not(buf, sizeof(buf), CANARY) >= 0) {
		fail_call(r, "; the copy buffer was written");
		goto out;
	}
	still_queued(&p, len, r);
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * copybuf_negative_v4: copybuf_len -1 with a valid buffer, 300 queued.
 * "inq <= copybuf_len" is a signed test, so no copy: the fast return
 * (recv_skip_hint 300, copybuf_len 0), nothing consumed.  Unpatched: EINVAL.
 */
static void check_copybuf_negative(const struct ctx *ctx,
				   const struct check *c, struct result *r)
{
	const size_t len = 300;
	uint8_t *sent = NULL, buf[512];
	struct tcp_pair p;
	struct zc_rx zc;

	set_expected(r, "0, recv_skip_hint %zu, copybuf_len 0, buffer untouched, %zu bytes still queued",
		     len, len);
	if (!setup_queued(ctx, c->family, len, 0x9e6u, &p, &sent, r))
		goto out;
	memset(buf, CANARY, sizeof(buf));
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, 0);
	zc.copybuf_len = -1;
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.length != 0 || r->zc.recv_skip_hint != len ||
	    !covers(r, ZC_LEN_COPYBUF) || r->zc.copybuf_len != 0) {
		fail_call(r, NULL);
		goto out;
	}
	if (first_not(buf, sizeof(buf), CANARY) >= 0) {
		fail_call(r, "; the copy buffer was written");
		goto out;
	}
	still_queued(&p, len, r);
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * copybuf_efault_v4: 300 bytes queued, copybuf_address points at a page
 * that was unmapped.  The copy fails in tcp_recvmsg_locked() before it
 * moves copied_seq: EFAULT, all 300 bytes still queued, and a second call
 * with a good buffer copies them.  Unpatched: EINVAL (no TCP VMA).
 */
static void check_copybuf_efault(const struct ctx *ctx, const struct check *c,
				 struct result *r)
{
	const size_t len = 300;
	const uint32_t seed = 0xefa17u;
	struct result again = { 0 };
	uint8_t *sent = NULL, *hole, buf[512];
	struct tcp_pair p;
	struct zc_rx zc;

	set_expected(r, "-1 errno EFAULT, %zu bytes still queued, then a copy of all of them",
		     len);
	if (!setup_queued(ctx, c->family, len, seed, &p, &sent, r))
		goto out;
	hole = mmap(NULL, ctx->page_size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED || munmap(hole, ctx->page_size)) {
		fail(r, "setup: mmap/munmap of a page: %s", strerror(errno));
		goto out;
	}
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, hole, 8192);
	zc_receive(p.server, &zc, r);
	if (r->ret != -1 || r->err != EFAULT) {
		fail_call(r, NULL);
		goto out;
	}
	if (!still_queued(&p, len, r))
		goto out;
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, sizeof(buf));
	zc_receive(p.server, &zc, &again);
	if (again.ret != 0 || !covers(&again, ZC_LEN_COPYBUF) ||
	    again.zc.copybuf_len != (int32_t)len ||
	    check_pattern(buf, len, seed, 0) >= 0) {
		fail(r, "the call after EFAULT: ");
		describe_call(&again, r->reason, sizeof(r->reason));
		appendf(r->reason, sizeof(r->reason),
			"; expected copybuf_len %zu with the sent bytes", len);
	}
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * page_einval_v4, page_plus_1_einval_v4: PAGE_SIZE and PAGE_SIZE + 1
 * bytes queued, no copy buffer.  No fast path applies at a page or more:
 * the VMA lookup finds the anonymous mapping and answers EINVAL, nothing
 * consumed.  Regression checks (upstream semantics); unpatched kernels pass
 * them too.
 */
static void check_page_einval(const struct ctx *ctx, const struct check *c,
			      struct result *r)
{
	const size_t len = check_size(ctx, c);
	uint8_t *sent = NULL;
	struct tcp_pair p;
	struct zc_rx zc;

	set_expected(r, "-1 errno EINVAL with %zu bytes still queued", len);
	if (!setup_queued(ctx, c->family, len, 0x9a6e, &p, &sent, r))
		goto out;
	zc_init_anon(ctx, &zc);
	zc_receive(p.server, &zc, r);
	if (r->ret != -1 || r->err != EINVAL) {
		fail_call(r, NULL);
		goto out;
	}
	still_queued(&p, len, r);
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * misaligned_inq_zero_v4: nothing queued, zc.address one byte into the
 * anonymous mapping.  misaligned_copybuf_v4: 100 bytes queued and a copy
 * buffer that would take them.  The alignment test comes before every fast
 * path: EINVAL, nothing consumed, the buffer untouched.  A short-circuit
 * placed before the alignment test fails these; unpatched kernels pass.
 */
static void check_misaligned_fast(const struct ctx *ctx, const struct check *c,
				  struct result *r)
{
	const size_t len = c->size;
	uint8_t *sent = NULL, buf[512];
	struct tcp_pair p;
	struct zc_rx zc;

	set_expected(r, "-1 errno EINVAL with %zu bytes still queued, the copy buffer untouched",
		     len);
	if (!setup_queued(ctx, c->family, len, 0xa11u, &p, &sent, r))
		goto out;
	memset(buf, CANARY, sizeof(buf));
	zc_rx_init(&zc, (uint8_t *)ctx->anon + 1, ctx->page_size,
		   len ? buf : NULL, len ? sizeof(buf) : 0);
	zc_receive(p.server, &zc, r);
	if (r->ret != -1 || r->err != EINVAL) {
		fail_call(r, NULL);
		goto out;
	}
	if (first_not(buf, sizeof(buf), CANARY) >= 0) {
		fail_call(r, "; the copy buffer was written");
		goto out;
	}
	still_queued(&p, len, r);
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * copybuf_oob_hint_v4/v6 (patch 0004, 0c3936d32f75 "net-zerocopy: Set
 * zerocopy hint when data is copied"): 100 bytes, 1 byte MSG_OOB, 100
 * bytes, copy buffer 8192.  The copy stops at the urgent mark: copybuf_len
 * 100, and the kernel sets recv_skip_hint > 0 for what follows (101 on
 * 6.x); without 0004 the hint after a copy is 0.  Unpatched: EINVAL.
 */
static void check_copybuf_oob_hint(const struct ctx *ctx, const struct check *c,
				   struct result *r)
{
	const uint32_t seed = 0x00bu;
	uint8_t *sent = NULL, buf[8192];
	struct tcp_pair p;
	struct zc_rx zc;
	int inq, outq;
	long bad;

	set_expected(r, "0, copybuf_len 100 with the first 100 bytes, 0 < recv_skip_hint <= 101");

	if (!setup_queued(ctx, c->family, 100, seed, &p, &sent, r))
		goto out;
	/*
	 * With urgent data pending SIOCINQ stops at the mark (tcp_inq()),
	 * so wait until the sender has everything acknowledged instead.
	 */
	fill_pattern(buf, 100, seed, 101);
	if (send(p.client, "!", 1, MSG_OOB | MSG_NOSIGNAL) != 1 ||
	    send_all(p.client, buf, 100)) {
		fail(r, "setup: send: %s", strerror(errno));
		goto out;
	}
	outq = wait_for_acked(p.client, IO_TIMEOUT_MS);
	inq = socket_inq(p.server);
	if (outq != 0 || inq != 100) {
		fail(r, "setup: %d bytes unacknowledged at the sender after %d ms, SIOCINQ %d (100 expected: up to the urgent mark)",
		     outq, IO_TIMEOUT_MS, inq);
		goto out;
	}
	memset(buf, CANARY, sizeof(buf));
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, sizeof(buf));
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || !covers(r, ZC_LEN_COPYBUF) ||
	    r->zc.copybuf_len != 100 || r->zc.recv_skip_hint == 0 ||
	    r->zc.recv_skip_hint > 101) {
		fail_call(r, NULL);
		goto out;
	}
	bad = check_pattern(buf, 100, seed, 0);
	if (bad >= 0)
		fail_call(r, "; copy buffer byte %ld is 0x%02x, sent 0x%02x", bad,
			  buf[bad], sent[bad]);
	else
		snprintf(r->reason, sizeof(r->reason),
			 "recv_skip_hint %u after the copy", r->zc.recv_skip_hint);
	r->info = r->verdict == VERDICT_PASS;
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * rst_err_v4: 300 bytes queued, then the peer resets the connection
 * (SO_LINGER 0 close).  The fast return still answers (recv_skip_hint 300,
 * the data is not purged by the reset) and zc.err carries the pending
 * socket error, -ECONNRESET.  Unpatched: EINVAL (no TCP VMA).
 */
static void check_rst_err(const struct ctx *ctx, const struct check *c,
			  struct result *r)
{
	const struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd = { .events = POLLIN };
	const size_t len = 300;
	uint8_t *sent = NULL;
	struct tcp_pair p;
	struct zc_rx zc;
	int ret;

	set_expected(r, "0, recv_skip_hint %zu, err %d (-ECONNRESET)", len,
		     -ECONNRESET);
	if (!setup_queued(ctx, c->family, len, 0x257u, &p, &sent, r))
		goto out;
	if (setsockopt(p.client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
		fail(r, "setup: SO_LINGER: %s", strerror(errno));
		goto out;
	}
	close(p.client);
	p.client = -1;
	pfd.fd = p.server;
	ret = poll(&pfd, 1, IO_TIMEOUT_MS);
	if (ret <= 0 || !(pfd.revents & (POLLERR | POLLHUP))) {
		fail(r, "setup: RST not seen after %d ms (poll %d, revents 0x%x)",
		     IO_TIMEOUT_MS, ret, (unsigned int)pfd.revents);
		goto out;
	}
	zc_init_anon(ctx, &zc);
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || r->zc.recv_skip_hint != len ||
	    r->optlen < zc_offsetofend(err) || r->zc.err != -ECONNRESET)
		fail_call(r, ", err %d", r->zc.err);
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * fin_data_copybuf_v4: 300 bytes and then the peer's FIN.  The first call
 * copies the 300 bytes (copybuf_len 300), the second finds nothing queued
 * and the end of stream: EIO.  Unpatched: EINVAL.
 */
static void check_fin_data_copybuf(const struct ctx *ctx,
				   const struct check *c, struct result *r)
{
	struct pollfd pfd = { .events = POLLRDHUP };
	const uint32_t seed = 0xf1du;
	struct result second = { 0 };
	uint8_t *sent = NULL, buf[512];
	const size_t len = 300;
	struct tcp_pair p;
	struct zc_rx zc;
	int ret;

	set_expected(r, "0 with copybuf_len %zu, then -1 errno EIO", len);
	if (!setup_queued(ctx, c->family, len, seed, &p, &sent, r))
		goto out;
	if (shutdown(p.client, SHUT_WR)) {
		fail(r, "setup: shutdown: %s", strerror(errno));
		goto out;
	}
	pfd.fd = p.server;
	ret = poll(&pfd, 1, IO_TIMEOUT_MS);
	if (ret <= 0 || !(pfd.revents & POLLRDHUP)) {
		fail(r, "setup: FIN not seen after %d ms", IO_TIMEOUT_MS);
		goto out;
	}
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, sizeof(buf));
	zc_receive(p.server, &zc, r);
	if (r->ret != 0 || !covers(r, ZC_LEN_COPYBUF) ||
	    r->zc.copybuf_len != (int32_t)len ||
	    check_pattern(buf, len, seed, 0) >= 0) {
		fail_call(r, NULL);
		goto out;
	}
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, sizeof(buf));
	zc_receive(p.server, &zc, &second);
	if (second.ret != -1 || second.err != EIO) {
		fail(r, "second call: ");
		describe_call(&second, r->reason, sizeof(r->reason));
	}
out:
	free(sent);
	tcp_pair_close(&p);
}

/*
 * abi_optlen_<n>_v4: old binaries pass a shorter struct (16: through
 * recv_skip_hint, 20: inq, 24: err, 36: copybuf_len, 40: flags).  300
 * bytes queued, the copy buffer fields set in our buffer.  The kernel uses
 * only the first n bytes: below 36 it does not see the copy buffer and
 * takes the skip-hint fast return (nothing consumed, buffer untouched); from
 * 36 on it copies.  It writes back optlen n and no byte past it (canary).
 * Unpatched: EINVAL.
 */
static void check_abi_optlen(const struct ctx *ctx, const struct check *c,
			     struct result *r)
{
	const socklen_t want = (socklen_t)c->size;
	const bool has_copybuf = want >= ZC_LEN_COPYBUF;
	const uint32_t seed = 0xab1u;
	uint8_t raw[sizeof(struct zc_rx) + 32], *sent = NULL, buf[512];
	socklen_t optlen = want;
	struct tcp_pair p;
	struct zc_rx zc;
	long bad;

	if (has_copybuf)
		set_expected(r, "0, optlen %u, copybuf_len 300 with the sent bytes, no byte written past optlen",
			     (unsigned int)want);
	else
		set_expected(r, "0, optlen %u, recv_skip_hint 300, nothing consumed, buffer untouched, no byte written past optlen",
			     (unsigned int)want);
	if (!setup_queued(ctx, c->family, 300, seed, &p, &sent, r))
		goto out;
	memset(buf, CANARY, sizeof(buf));
	zc_rx_init(&zc, ctx->anon, ctx->anon_len, buf, sizeof(buf));
	memset(raw, CANARY, sizeof(raw));
	memcpy(raw, &zc, want);
	r->called = true;
	r->ret = getsockopt(p.server, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, raw,
			    &optlen);
	r->err = r->ret ? errno : 0;
	r->optlen = optlen;
	memset(&r->zc, 0, sizeof(r->zc));
	memcpy(&r->zc, raw, optlen <= want ? optlen : want);
	if (r->ret != 0 || optlen != want) {
		fail_call(r, "; returned optlen %u", (unsigned int)optlen);
		goto out;
	}
	bad = first_not(raw + want, sizeof(raw) - want, CANARY);
	if (bad >= 0) {
		fail_call(r, "; byte %ld past optlen was written (0x%02x)",
			  bad, raw[want + (size_t)bad]);
		goto out;
	}
	if (has_copybuf) {
		if (r->zc.copybuf_len != 300 ||
		    check_pattern(buf, 300, seed, 0) >= 0) {
			fail_call(r, "; the 300 bytes were not copied");
			goto out;
		}
		still_queued(&p, 0, r);
		goto out;
	}
	if (r->zc.length != 0 || r->zc.recv_skip_hint != 300 ||
	    (want >= ZC_LEN_INQ && r->zc.inq != 300)) {
		fail_call(r, NULL);
		goto out;
	}
	if (first_not(buf, sizeof(buf), CANARY) >= 0) {
		fail_call(r, "; the copy buffer was written with optlen %u",
			  (unsigned int)want);
		goto out;
	}
	still_queued(&p, 300, r);
out:
	free(sent);
	tcp_pair_close(&p);
}

struct zc_sender {
	int fd;
	const uint8_t *buf;
	size_t len;
	size_t chunk;		/* bytes per send() */
	size_t sent;
	unsigned int calls;
	int err;
};

/* Drain MSG_ZEROCOPY completions so the sender's optmem does not run out. */
static void drain_errqueue(int fd)
{
	char control[256];

	for (;;) {
		struct msghdr msg = { .msg_control = control,
				      .msg_controllen = sizeof(control) };

		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
	}
}

/* Whether CAP_IPC_LOCK is in the effective set (/proc/self/status). */
static bool has_cap_ipc_lock(void)
{
	unsigned long long caps = 0;
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1) {
			found = true;
			break;
		}
	fclose(f);
	if (!found)
		return geteuid() == 0;
	return caps & (1ULL << 14);	/* CAP_IPC_LOCK */
}

/*
 * Bytes per MSG_ZEROCOPY send(): the kernel pins the pages of each send
 * against RLIMIT_MEMLOCK unless the caller has CAP_IPC_LOCK, so a small
 * limit (64 KiB is a common default for users) needs small sends.  0 when
 * the limit leaves less than a page per send.
 */
static size_t zc_send_chunk(size_t page_size, char *why, size_t whylen)
{
	struct rlimit rl;
	size_t chunk;

	if (has_cap_ipc_lock() || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur == RLIM_INFINITY)
		return MMAP_SEND_CHUNK;
	/* A quarter of the limit: a few sends may be in flight. */
	chunk = ((size_t)rl.rlim_cur / 4) & ~(page_size - 1);
	if (chunk >= MMAP_SEND_CHUNK)
		return MMAP_SEND_CHUNK;
	if (!chunk)
		snprintf(why, whylen,
			 "RLIMIT_MEMLOCK is %llu bytes without CAP_IPC_LOCK: too small for MSG_ZEROCOPY sends of a page (raise it with ulimit -l, or run as root)",
			 (unsigned long long)rl.rlim_cur);
	return chunk;
}

static void *zc_sender_main(void *arg)
{
	struct zc_sender *s = arg;
	unsigned int nobufs = 0;

	while (s->sent < s->len) {
		size_t chunk = s->len - s->sent;
		ssize_t n;

		if (chunk > s->chunk)
			chunk = s->chunk;
		n = send(s->fd, s->buf + s->sent, chunk,
			 MSG_ZEROCOPY | MSG_NOSIGNAL);
		s->calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS && ++nobufs < 1000) {
				drain_errqueue(s->fd);
				sleep_ms(1);
				continue;
			}
			s->err = errno;
			break;
		}
		s->sent += (size_t)n;
		drain_errqueue(s->fd);
	}
	return NULL;
}

/*
 * mmap_zerocopy: the short-circuit must not break real zerocopy.  As in
 * tools/testing/selftests/net/tcp_mmap.c, the sender uses MSG_ZEROCOPY from
 * a page aligned buffer with an MSS of 4096 payload bytes, the receiver
 * mmap()s the socket.  On loopback MSG_ZEROCOPY frags are copied into whole
 * order-0 pages on delivery, which the receiver can map; a plain send()
 * fills compound page_frag pages that the kernel never maps, and this check
 * would fail with "no page was mapped".  With a 64 byte copy buffer the
 * copy branch is only taken for the last <= 64 bytes, so bulk data must be
 * mapped: at least one call must return length > 0 (a multiple of the page
 * size), and every byte, whether mapped, copied or recv()ed, must match.
 */
static void check_mmap_zerocopy(const struct ctx *ctx, const struct check *c,
				struct result *r)
{
	const struct pair_opts o = { .mss = MMAP_MSS, .zerocopy = true };
	const size_t total = MMAP_PAYLOAD_LEN;
	const size_t batch = 8 * ctx->page_size;
	const uint32_t seed = 0x3a9du;
	size_t consumed = 0, mapped = 0, copied = 0, recvd = 0;
	unsigned int calls = 0, map_calls = 0;
	uint8_t *payload = MAP_FAILED, *map = MAP_FAILED, *tmp = NULL;
	struct zc_sender sender = { 0 };
	struct result call = { 0 };
	uint8_t copybuf[64];
	socklen_t slen = sizeof(int);
	bool started = false;
	long long deadline;
	struct tcp_pair p;
	pthread_t thread;
	int mss = -1;
	long bad;

	(void)c;
	set_expected(r, "0 with length > 0 and a multiple of %zu in at least one call, all %zu bytes intact",
		     ctx->page_size, total);
	sender.chunk = zc_send_chunk(ctx->page_size, r->reason, sizeof(r->reason));
	if (!sender.chunk) {
		r->verdict = VERDICT_SKIP;
		return;
	}
	if (!check_setup(ctx, AF_INET, &o, &p, r))
		return;
	if (getsockopt(p.server, IPPROTO_TCP, TCP_MAXSEG, &mss, &slen))
		mss = -1;
	payload = mmap(NULL, total, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	map = mmap(NULL, MMAP_REGION_LEN, PROT_READ, MAP_SHARED, p.server, 0);
	tmp = malloc(total);
	if (payload == MAP_FAILED || map == MAP_FAILED || !tmp) {
		fail(r, "setup: %s: %s",
		     map == MAP_FAILED ? "mmap of the TCP socket" : "allocation",
		     strerror(errno));
		goto out;
	}
	fill_pattern(payload, total, seed, 0);
	sender.fd = p.client;
	sender.buf = payload;
	sender.len = total;
	errno = pthread_create(&thread, NULL, zc_sender_main, &sender);
	if (errno) {
		fail(r, "setup: pthread_create: %s", strerror(errno));
		goto out;
	}
	started = true;

	deadline = now_ms() + 2LL * IO_TIMEOUT_MS;
	while (consumed < total && r->verdict != VERDICT_FAIL) {
		size_t want = total - consumed < batch ? total - consumed : batch;
		struct zc_rx zc;
		int inq;

		/*
		 * Let a few pages accumulate so that there is something to
		 * map; fewer is fine once the wait times out.
		 */
		inq = wait_for_inq(p.server, (int)want, IO_TIMEOUT_MS / 5);
		if (inq <= 0 || now_ms() > deadline) {
			fail(r, "%zu of %zu bytes received after %u calls, SIOCINQ %d",
			     consumed, total, calls, inq);
			break;
		}

		zc_rx_init(&zc, map, MMAP_REGION_LEN, copybuf, sizeof(copybuf));
		calls++;
		zc_receive(p.server, &zc, &call);
		/* Report the first call that mapped pages, else the latest. */
		if (!map_calls || call.ret)
			record_call(r, &call);
		if (call.ret) {
			fail_call(r, " at stream offset %zu", consumed);
			break;
		}
		if (zc.length) {
			if (zc.length % ctx->page_size) {
				fail_call(r, "; length is not a multiple of the page size");
				break;
			}
			bad = check_pattern(map, zc.length, seed, consumed);
			if (bad >= 0) {
				fail(r, "mapped byte at stream offset %zu is 0x%02x, sent 0x%02x",
				     consumed + (size_t)bad, map[bad],
				     payload[consumed + (size_t)bad]);
				break;
			}
			map_calls++;
			mapped += zc.length;
			consumed += zc.length;
		}
		if (covers(&call, ZC_LEN_COPYBUF) && zc.copybuf_len) {
			size_t n = (size_t)zc.copybuf_len;

			if (zc.copybuf_len < 0 || n > sizeof(copybuf) ||
			    n > total - consumed) {
				fail_call(r, "; bad copybuf_len");
				break;
			}
			bad = check_pattern(copybuf, n, seed, consumed);
			if (bad >= 0) {
				fail(r, "copied byte at stream offset %zu is 0x%02x, sent 0x%02x",
				     consumed + (size_t)bad, copybuf[bad],
				     payload[consumed + (size_t)bad]);
				break;
			}
			copied += n;
			consumed += n;
		}
		if (zc.recv_skip_hint) {
			size_t n = zc.recv_skip_hint;
			ssize_t got;

			if (n > total - consumed) {
				fail_call(r, "; recv_skip_hint beyond the %zu bytes sent",
					  total);
				break;
			}
			got = recv(p.server, tmp, n, MSG_WAITALL);
			if (got < 0 || (size_t)got != n) {
				fail(r, "recv(%zu) of the skip hint returned %zd (%s)",
				     n, got, got < 0 ? strerror(errno) : "short");
				break;
			}
			bad = check_pattern(tmp, n, seed, consumed);
			if (bad >= 0) {
				fail(r, "received byte at stream offset %zu is 0x%02x, sent 0x%02x",
				     consumed + (size_t)bad, tmp[bad],
				     payload[consumed + (size_t)bad]);
				break;
			}
			recvd += n;
			consumed += n;
		}
	}

out:
	/*
	 * Unmap before closing: the mapping pins the socket, and closing it
	 * with data unread resets the sender if it is still blocked.
	 */
	if (map != MAP_FAILED)
		munmap(map, MMAP_REGION_LEN);
	close(p.server);
	p.server = -1;
	if (started) {
		pthread_join(thread, NULL);
		if (r->verdict == VERDICT_PASS &&
		    (sender.err || sender.sent != total))
			fail(r, "sender: %zu of %zu bytes sent: %s", sender.sent,
			     total, strerror(sender.err));
		else if (r->verdict == VERDICT_PASS && !mapped)
			fail(r, "no page was mapped in %u calls: %zu bytes came through the copy buffer, %zu through recv()",
			     calls, copied, recvd);
		else if (r->verdict == VERDICT_PASS)
			snprintf(r->reason, sizeof(r->reason),
				 "%zu bytes: %zu mapped by %u of %u calls, %zu copied, %zu by recv()",
				 total, mapped, map_calls, calls, copied, recvd);
		appendf(r->reason, sizeof(r->reason),
			"; receiver MSS %d, sender: %zu bytes in %u MSG_ZEROCOPY send() calls of up to %zu bytes",
			mss, sender.sent, sender.calls, sender.chunk);
		r->info = true;
	}
	if (payload != MAP_FAILED)
		munmap(payload, total);
	free(tmp);
	tcp_pair_close(&p);
}

/* ------------------------------------------------------------------ */
/* driver                                                              */

#define CHECK(nm, fn, fam, sz) \
	{ .name = nm, .run = fn, .family = fam, .size = sz }
#define V4V6(nm, fn, sz) \
	CHECK(nm "_v4", fn, AF_INET, sz), CHECK(nm "_v6", fn, AF_INET6, sz)

/* A size of PAGE_SIZE + delta, derived from the page size at run time. */
#define PAGE_REL(nm, fn, fam, delta) \
	{ .name = nm, .run = fn, .family = fam, .page_rel = true, \
	  .page_delta = delta }
#define PAGE_REL_V4V6(nm, fn, delta) \
	PAGE_REL(nm "_v4", fn, AF_INET, delta), \
	PAGE_REL(nm "_v6", fn, AF_INET6, delta)

static const struct check checks[] = {
	CHECK("struct_copybuf_fields", check_struct_copybuf_fields, AF_INET, 0),
	V4V6("inq_zero", check_inq_zero, 0),
	V4V6("copybuf_1", check_copybuf, 1),
	V4V6("copybuf_300", check_copybuf, 300),
	V4V6("copybuf_4095", check_copybuf, 4095),
	V4V6("copybuf_6000", check_copybuf, 6000),
	V4V6("copybuf_two_sends", check_copybuf_two_sends, 300),
	V4V6("copybuf_exact", check_copybuf_exact, 300),
	V4V6("copybuf_short", check_copybuf_short, 300),
	V4V6("copybuf_oob_hint", check_copybuf_oob_hint, 0),
	CHECK("copybuf_negative_v4", check_copybuf_negative, AF_INET, 0),
	CHECK("copybuf_efault_v4", check_copybuf_efault, AF_INET, 0),
	V4V6("skip_hint_1", check_skip_hint, 1),
	V4V6("skip_hint_300", check_skip_hint, 300),
	V4V6("skip_hint_4095", check_skip_hint, 4095),
	PAGE_REL_V4V6("skip_hint_page_minus_1", check_skip_hint, -1),
	PAGE_REL("page_einval_v4", check_page_einval, AF_INET, 0),
	PAGE_REL("page_plus_1_einval_v4", check_page_einval, AF_INET, 1),
	CHECK("rst_err_v4", check_rst_err, AF_INET, 0),
	CHECK("fin_data_copybuf_v4", check_fin_data_copybuf, AF_INET, 0),
	CHECK("abi_optlen_16_v4", check_abi_optlen, AF_INET, 16),
	CHECK("abi_optlen_20_v4", check_abi_optlen, AF_INET, 20),
	CHECK("abi_optlen_24_v4", check_abi_optlen, AF_INET, 24),
	CHECK("abi_optlen_36_v4", check_abi_optlen, AF_INET, 36),
	CHECK("abi_optlen_40_v4", check_abi_optlen, AF_INET, 40),
	CHECK("misaligned_address", check_misaligned_address, AF_INET, 0),
	CHECK("misaligned_inq_zero_v4", check_misaligned_fast, AF_INET, 0),
	CHECK("misaligned_copybuf_v4", check_misaligned_fast, AF_INET, 100),
	CHECK("listen_enotconn", check_listen_enotconn, AF_INET, 0),
	CHECK("fin_eio", check_fin_eio, AF_INET, 0),
	CHECK("mmap_zerocopy", check_mmap_zerocopy, AF_INET, 0),
};

#define NR_CHECKS ARRAY_SIZE(checks)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zc-smoke [--json FILE] [--quiet] [--timeout SECONDS]\n"
		"                [--only NAME[,NAME...]]...\n"
		"       zc-smoke --list | --help | --version\n"
		"\n"
		"Smoke test of the getsockopt(TCP_ZEROCOPY_RECEIVE) small-read\n"
		"short-circuit (Linux 5.11+). Prints TAP version 13, kselftest style.\n"
		"\n"
		"  --json FILE   also write the results as a JSON document to FILE\n"
		"  -q, --quiet   print only the TAP header, plan and result lines\n"
		"  -l, --list    print the check names, one per line, and exit\n"
		"  --only NAME   run only the named checks (repeatable, comma separated)\n"
		"  -t, --timeout SECONDS  time limit of each check (default %d)\n"
		"  -V, --version print the version and exit\n"
		"  -h, --help    print this help and exit\n"
		"\n"
		"Exit status: 0 all checks passed, 1 a check failed, 2 usage error,\n"
		"4 skipped (TCP_ZEROCOPY_RECEIVE not supported by the running kernel).\n",
		CHECK_TIMEOUT_SECONDS);
}

static int select_checks(const char *arg, bool *selected)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int ret = 0;

	if (!copy) {
		fprintf(stderr, "zc-smoke: out of memory\n");
		return -1;
	}
	if (!strtok_r(copy, ",", &save)) {
		fprintf(stderr, "zc-smoke: --only '%s' names no check (see --list)\n",
			arg);
		free(copy);
		return -1;
	}
	strcpy(copy, arg);
	save = NULL;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < NR_CHECKS; i++)
			if (!strcmp(tok, checks[i].name))
				break;
		if (i == NR_CHECKS) {
			fprintf(stderr, "zc-smoke: unknown check '%s' (see --list)\n",
				tok);
			ret = -1;
			break;
		}
		selected[i] = true;
	}
	free(copy);
	return ret;
}

/* IPv6 is usable if a socket can be bound to ::1. */
static void probe_ipv6(struct ctx *ctx)
{
	char why[sizeof(ctx->ipv6_why)];
	int fd = tcp_listener(AF_INET6, 0, why, sizeof(why));

	ctx->ipv6_ok = fd >= 0;
	if (fd >= 0)
		close(fd);
	else
		snprintf(ctx->ipv6_why, sizeof(ctx->ipv6_why), "%s", why);
}

enum support { ZC_SUPPORTED, ZC_UNSUPPORTED, ZC_PROBE_ERROR };

/*
 * Ask a connected IPv4 socket.  ENOPROTOOPT means the kernel does not know
 * the option (or was built without CONFIG_MMU); anything else, including
 * EINVAL from a pre-5.11 kernel, means it is there.  Kernels write back the
 * struct size they use before doing any work, so optlen is meaningful even
 * when the call fails.
 */
static enum support probe_support(const struct ctx *ctx, socklen_t *optlen,
				  char *why, size_t whylen)
{
	const struct pair_opts o = { 0 };
	struct result r = { 0 };
	struct tcp_pair p;
	struct zc_rx zc;

	if (tcp_pair_open(AF_INET, &o, &p, why, whylen))
		return ZC_PROBE_ERROR;
	zc_init_anon(ctx, &zc);
	zc_receive(p.server, &zc, &r);
	tcp_pair_close(&p);
	*optlen = r.optlen;
	if (r.ret && r.err == ENOPROTOOPT) {
		snprintf(why, whylen, "getsockopt: %s", strerror(r.err));
		return ZC_UNSUPPORTED;
	}
	return ZC_SUPPORTED;
}

static const char *verdict_name(enum verdict v)
{
	return v == VERDICT_PASS ? "pass" : v == VERDICT_FAIL ? "fail" : "skip";
}

struct summary {
	unsigned int pass, fail, skip;
	int exit_code;
};

static void json_check(FILE *f, const struct check *c, const struct result *r)
{
	fputs("    {\"name\": ", f);
	json_string(f, c->name);
	fprintf(f, ", \"verdict\": \"%s\"", verdict_name(r->verdict));
	if (r->called) {
		fprintf(f, ", \"ret\": %d, \"errno\": %d, \"errno_name\": ",
			r->ret, r->err);
		if (r->err)
			json_string(f, errno_name(r->err));
		else
			fputs("null", f);
		fprintf(f, ", \"optlen\": %u", (unsigned int)r->optlen);
	} else {
		fputs(", \"ret\": null, \"errno\": null, \"errno_name\": null, \"optlen\": null",
		      f);
	}
	if (r->called && r->ret == 0)
		fprintf(f, ", \"length\": %u, \"recv_skip_hint\": %u",
			r->zc.length, r->zc.recv_skip_hint);
	else
		fputs(", \"length\": null, \"recv_skip_hint\": null", f);
	if (covers(r, ZC_LEN_COPYBUF))
		fprintf(f, ", \"copybuf_len\": %d", r->zc.copybuf_len);
	else
		fputs(", \"copybuf_len\": null", f);
	if (covers(r, ZC_LEN_INQ))
		fprintf(f, ", \"inq\": %u", r->zc.inq);
	else
		fputs(", \"inq\": null", f);
	fputs(", \"expected\": ", f);
	json_string(f, r->expected);
	fputs(", \"reason\": ", f);
	json_string(f, r->reason);
	fputs("}", f);
}

/* The rest of the report opened at start (json_report_open), and close it. */
static int write_json(FILE *f, const char *path, const struct ctx *ctx,
		      socklen_t struct_size, const bool *selected,
		      const struct result *results, const struct summary *sum,
		      const char *skip_reason)
{
	bool first = true;
	size_t i;

	fprintf(f, ",\n  \"struct_size\": %u,\n  \"page_size\": %zu,\n  \"ipv6\": %s,\n",
		(unsigned int)struct_size, ctx->page_size,
		ctx->ipv6_ok ? "true" : "false");
	if (skip_reason)
		json_member(f, "skip_reason", skip_reason);
	fputs("  \"checks\": [", f);
	for (i = 0; results && i < NR_CHECKS; i++) {
		if (!selected[i])
			continue;
		fputs(first ? "\n" : ",\n", f);
		json_check(f, &checks[i], &results[i]);
		first = false;
	}
	fprintf(f, "%s],\n  \"summary\": {\"pass\": %u, \"fail\": %u, \"skip\": %u},\n  \"exit\": %d\n}\n",
		first ? "" : "\n  ", sum->pass, sum->fail, sum->skip,
		sum->exit_code);
	return json_report_close("zc-smoke", path, f);
}

static void print_result(unsigned int num, const struct check *c,
			 const struct result *r)
{
	if (!opt_quiet && r->verdict == VERDICT_FAIL) {
		if (r->expected[0])
			printf("# %s: %s; expected %s\n", c->name, r->reason,
			       r->expected);
		else
			printf("# %s: %s\n", c->name, r->reason);
	} else if (!opt_quiet && r->info) {
		printf("# %s: %s\n", c->name, r->reason);
	}
	if (r->verdict == VERDICT_SKIP)
		printf("ok %u %s # SKIP %s\n", num, c->name, r->reason);
	else
		printf("%s %u %s\n", r->verdict == VERDICT_PASS ? "ok" : "not ok",
		       num, c->name);
}

/*
 * Run one check in a child process with its own time limit, as
 * kselftest_harness.h does: a hang or a crash loses that check only.  The
 * child writes its result into a shared mapping.
 */
static void run_check(const struct ctx *ctx, const struct check *c,
		      struct result *shared, struct result *r,
		      unsigned int timeout_s)
{
	long long deadline = now_ms() + 1000LL * timeout_s;
	int status = 0;
	pid_t pid, w;

	memset(shared, 0, sizeof(*shared));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		memset(r, 0, sizeof(*r));
		fail(r, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		c->run(ctx, c, shared);
		_exit(0);
	}
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			*r = *shared;
			fail(r, "timeout: the check did not finish in %u s (killed)",
			     timeout_s);
			return;
		}
		sleep_ms(5);
	}
	*r = *shared;
	if (w < 0)
		fail(r, "waitpid: %s", strerror(errno));
	else if (WIFSIGNALED(status))
		fail(r, "the check died of signal %d (%s)", WTERMSIG(status),
		     strsignal(WTERMSIG(status)));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(r, "the check exited with status %d", WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		{ "only", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct result results[NR_CHECKS];
	unsigned int timeout_s = CHECK_TIMEOUT_SECONDS;
	bool selected[NR_CHECKS] = { false };
	bool only = false, list = false;
	const char *json_path = NULL;
	struct summary sum = { 0 };
	socklen_t struct_size = 0;
	struct result *shared;
	struct ctx ctx = { 0 };
	unsigned int nsel = 0, num = 0;
	struct utsname uts;
	FILE *json = NULL;
	char why[256], *end;
	unsigned long v;
	size_t i;
	int opt;

	while ((opt = getopt_long(argc, argv, "qlt:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json_path = optarg;
			break;
		case 'q':
			opt_quiet = true;
			break;
		case 'l':
			list = true;
			break;
		case 'o':
			only = true;
			if (select_checks(optarg, selected))
				return KSFT_USAGE;
			break;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 || v > 3600) {
				fprintf(stderr, "zc-smoke: --timeout '%s': give whole seconds from 1 to 3600\n",
					optarg);
				return KSFT_USAGE;
			}
			timeout_s = (unsigned int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("zc-smoke %s\n", ZC_VERSION);
			return 0;
		default:
			usage(stderr);
			return KSFT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zc-smoke: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return KSFT_USAGE;
	}
	if (list) {
		for (i = 0; i < NR_CHECKS; i++)
			printf("%s\n", checks[i].name);
		return 0;
	}
	for (i = 0; i < NR_CHECKS; i++) {
		if (!only)
			selected[i] = true;
		nsel += selected[i];
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	if (uname(&uts)) {
		printf("TAP version 13\nBail out! uname: %s\n", strerror(errno));
		return KSFT_FAIL;
	}
	/* Open the report first: a bad path fails before any check runs. */
	if (json_path) {
		json = json_report_open("zc-smoke", json_path, &uts);
		if (!json)
			return KSFT_USAGE;
	}
	printf("TAP version 13\n");
	ctx.page_size = (size_t)sysconf(_SC_PAGESIZE);
	ctx.anon_len = 4 * ctx.page_size;
	ctx.anon = mmap(NULL, ctx.anon_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx.anon == MAP_FAILED || shared == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return KSFT_FAIL;
	}
	probe_ipv6(&ctx);

	switch (probe_support(&ctx, &struct_size, why, sizeof(why))) {
	case ZC_PROBE_ERROR:
		printf("Bail out! IPv4 loopback TCP connection: %s\n", why);
		return KSFT_FAIL;
	case ZC_UNSUPPORTED:
		printf("1..0 # SKIP TCP_ZEROCOPY_RECEIVE not supported by this kernel\n");
		sum.exit_code = KSFT_SKIP;
		if (json && write_json(json, json_path, &ctx, struct_size,
				       selected, NULL, &sum, why))
			return KSFT_FAIL;
		return KSFT_SKIP;
	case ZC_SUPPORTED:
		break;
	}

	if (!opt_quiet) {
		printf("# zc-smoke %s on Linux %s %s\n", ZC_VERSION, uts.release,
		       uts.machine);
		printf("# page size %zu, kernel struct tcp_zerocopy_receive size %u, %u s per check\n",
		       ctx.page_size, (unsigned int)struct_size, timeout_s);
		if (!ctx.ipv6_ok)
			printf("# IPv6 loopback unavailable: %s\n", ctx.ipv6_why);
	}
	printf("1..%u\n", nsel);
	for (i = 0; i < NR_CHECKS; i++) {
		if (!selected[i])
			continue;
		run_check(&ctx, &checks[i], shared, &results[i], timeout_s);
		print_result(++num, &checks[i], &results[i]);
		if (results[i].verdict == VERDICT_PASS)
			sum.pass++;
		else if (results[i].verdict == VERDICT_FAIL)
			sum.fail++;
		else
			sum.skip++;
	}

	if (sum.fail)
		sum.exit_code = KSFT_FAIL;
	else if (!sum.pass && sum.skip)
		sum.exit_code = KSFT_SKIP;
	else
		sum.exit_code = KSFT_PASS;
	if (!opt_quiet)
		printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
		       sum.pass, sum.fail, sum.skip);
	if (json && write_json(json, json_path, &ctx, struct_size, selected,
			       results, &sum, NULL))
		return KSFT_FAIL;
	munmap(shared, sizeof(*shared));
	munmap(ctx.anon, ctx.anon_len);
	return sum.exit_code;
}
