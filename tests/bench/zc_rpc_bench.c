// SPDX-License-Identifier: GPL-2.0
/*
 * zc-rpc-bench - small-RPC ping-pong over loopback TCP, comparing server
 * receive strategies for getsockopt(TCP_ZEROCOPY_RECEIVE), in the request
 * shapes where the 5.11 fix "net-zerocopy: Introduce short-circuit small
 * reads" (f21a3c480398, with 936ced415751 "Fast return if inq < PAGE_SIZE")
 * changes what the kernel does.
 *
 * A client sends a request of --size bytes, the server receives all of it
 * and echoes it back, the client checks the reply.  The server receives in
 * one of four ways (--mode):
 *
 *   recv    readiness wait, recv()
 *   zc      readiness wait, TCP_ZEROCOPY_RECEIVE without a copy buffer, then
 *           recv() of recv_skip_hint bytes
 *   hybrid  readiness wait, TCP_ZEROCOPY_RECEIVE with a copy buffer of
 *           --size bytes, recv() only for what the kernel did not copy
 *   poll    no readiness wait: TCP_ZEROCOPY_RECEIVE with a copy buffer in a
 *           loop, so most calls find nothing queued (inq == 0)
 *
 * What this can and cannot tell apart.  Debian's 5.10 without the fix
 * already copies a small request that sits in ONE skb into the copy buffer
 * when the address is the socket's own mapping ("Copy straggler unaligned
 * data"), so plain "hybrid" makes 2 syscalls per RPC besides the wait on
 * both the fixed and the unfixed 5.10: "hybrid 2 against zc 3" compares two
 * modes on one kernel, not a fixed kernel against an unfixed one.  The
 * shapes that differ between the two are:
 *   --segments N    a request written in N sends, read once all of it is
 *                   queued (SO_RCVLOWAT): it spans N skbs, and 5.10's
 *                   straggler copy handles one skb only (copybuf_len < 0,
 *                   then a recv(); counted as copy_failures);
 *   --address foreign  the address is an anonymous mapping, not the
 *                   socket's: without the fix the call fails with EINVAL
 *                   (counted as getsockopt_errors, answered by recv());
 *   --mode poll     inq == 0: the fix returns at once, without it the call
 *                   takes mmap_lock and looks up the VMA (empty_poll_ns);
 *   --contend mprotect|munmap  a thread of the server's process takes
 *                   mmap_lock for writing in a loop (mprotect or munmap of a
 *                   large populated region): with the fix small reads never
 *                   take mmap_lock, so their latency stays flat; without it
 *                   every TCP_ZEROCOPY_RECEIVE waits for the writer.  recv
 *                   mode never takes mmap_lock: it is the yardstick.
 * Every RPC's latency is measured by the client, in closed loop (one request
 * in flight) or open loop (--rate: requests sent on a fixed schedule, the
 * latency counted from the scheduled time).
 *
 * Statistics: --repeat N runs every configuration N times, interleaved
 * (round r runs the configurations in an order rotated by r), after
 * --warmup rounds that are discarded; --suite ab is the set of
 * configurations above.  Each run records the server's syscalls by kind, its
 * CPU time, the system-wide CPU time from /proc/stat (softirq included),
 * QPS, and latency percentiles; the JSON keeps every run (the raw samples).
 * Medians and confidence intervals are computed from them by
 * scripts/stats.py.  Client and server are pinned to one CPU and the
 * contending thread to another when the affinity mask allows (--pin).
 *
 * Exit status: 0 success, 1 error, 2 usage error, 4 skipped
 * (TCP_ZEROCOPY_RECEIVE not supported by the running kernel).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/zc_common.h"

#define EXIT_USAGE 2
#define EXIT_SKIP 4

#define ZC_MAP_LEN (256UL * 1024)	/* mmap() of the socket */
#define MAX_SIZE (1024UL * 1024)
#define MAX_SEGMENTS 16
#define MAX_CONFIGS 16
#define MAX_OUTSTANDING 256		/* open loop: requests in flight */
#define MAX_LAT_SAMPLES (4UL * 1024 * 1024)
#define POLL_CHECK_EVERY 64		/* poll mode: readiness check period */
#define DEFAULT_OPEN_RATE 1000.0
#define AUTO_RATE_FRACTION 0.25		/* open loop: of recv's closed-loop QPS */

enum mode { MODE_RECV, MODE_ZC, MODE_HYBRID, MODE_POLL, NR_MODES };
static const char *const mode_names[NR_MODES] = { "recv", "zc", "hybrid", "poll" };

enum addr_kind { ADDR_MAPPING, ADDR_FOREIGN };
static const char *const addr_names[] = { "mapping", "foreign" };

enum contend { CONTEND_NONE, CONTEND_MPROTECT, CONTEND_MUNMAP };
static const char *const contend_names[] = { "none", "mprotect", "munmap" };

/* One configuration: what a run measures. */
struct config {
	char name[40];
	enum mode mode;
	enum addr_kind addr;
	unsigned int segments;
	enum contend contend;
	bool open_loop;
	double rate;		/* open loop: requests per second, 0 = auto */
};

/* Server syscalls by kind. */
struct tally {
	uint64_t wait;		/* poll() */
	uint64_t getsockopt;	/* TCP_ZEROCOPY_RECEIVE */
	uint64_t recv;
	uint64_t send;
	uint64_t yield;		/* sched_yield() after an empty poll */
};

struct server_stats {
	struct tally rpc;	/* syscalls of completed RPCs */
	struct tally eof;	/* syscalls after the last completed RPC */
	uint64_t rpcs;
	uint64_t bytes_mapped;	/* received through the mapping */
	uint64_t bytes_copied;	/* received through the copy buffer */
	uint64_t bytes_recv;	/* received by recv() */
	uint64_t zc_errors;	/* getsockopt failures answered by recv() */
	uint64_t copy_failures;	/* copybuf_len < 0: copy failed, skip hint read */
	uint64_t empty_polls;	/* calls that found nothing queued */
	double empty_poll_s;	/* time spent in them */
	uint64_t contend_ops;	/* mmap_lock writer: mprotect/munmap calls */
	double contend_s;	/* time spent in them */
	double cpu_user, cpu_sys;
	long tid;
	int failed;
	char error[256];
};

struct options {
	size_t size;
	double duration;
	uint64_t count;		/* 0: run for duration */
	unsigned int repeat, warmup;
	size_t contend_mb;
	bool pin;
	bool fork_server;
	bool verbose;
	bool list;
	const char *json;
	const char *suite;
	struct config configs[MAX_CONFIGS];
	size_t nconfigs;
};

/* CLOCK_MONOTONIC's resolution (clock_getres): coarse without a high-resolution clocksource. */
static long clock_res_ns;

/* CPUs for pinning: client and server on cpu_rpc, the writer on cpu_writer. */
static int cpu_rpc = -1, cpu_writer = -1, cpus_allowed;

/* The mmap_lock writer's region, populated once (mprotect mode). */
static uint8_t *contend_region;
static size_t contend_len;

/* ------------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void server_error(struct server_stats *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void server_error(struct server_stats *st, const char *fmt, ...)
{
	va_list ap;

	if (st->failed)
		return;
	st->failed = 1;
	va_start(ap, fmt);
	vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
}

static void tally_add(struct tally *dst, const struct tally *src)
{
	dst->wait += src->wait;
	dst->getsockopt += src->getsockopt;
	dst->recv += src->recv;
	dst->send += src->send;
	dst->yield += src->yield;
}

static uint64_t tally_sum(const struct tally *t, bool with_wait)
{
	return t->getsockopt + t->recv + t->send + t->yield +
	       (with_wait ? t->wait : 0);
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: a failure only costs precision. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* close(fd) for an error return: keeps errno, returns -1. */
static int close_failed(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

/* Listening socket on 127.0.0.1, ephemeral port, written to *addr. */
static int listen_loopback(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd;

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)addr, &len))
		return close_failed(fd);
	return fd;
}

static int connect_loopback(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (set_timeouts(fd, IO_TIMEOUT_MS) ||
	    set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1) ||
	    connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		return close_failed(fd);
	return fd;
}

static int accept_timeout(int lfd, int timeout_ms)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int ret = poll(&pfd, 1, timeout_ms);

	if (ret <= 0) {
		if (!ret)
			errno = ETIMEDOUT;
		return -1;
	}
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* ------------------------------------------------------------------ */
/* system-wide CPU from /proc/stat                                     */

struct cpustat {
	unsigned long long busy;	/* user nice system irq softirq steal */
	unsigned long long softirq;
	unsigned long long total;	/* busy + idle + iowait */
	bool ok;
};

static struct cpustat read_cpustat(void)
{
	unsigned long long v[8] = { 0 };
	struct cpustat c = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return c;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		c.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		c.softirq = v[6];
		c.total = c.busy + v[3] + v[4];
		c.ok = true;
	}
	fclose(f);
	return c;
}

/* ------------------------------------------------------------------ */
/* the mmap_lock writer                                                */

struct contender {
	pthread_t thread;
	atomic_bool stop;
	enum contend kind;
	uint64_t ops;
	double busy_s;
	int err;
};

static void *contend_thread(void *arg)
{
	struct contender *c = arg;

	pin_to(cpu_writer);
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		double t0 = now_s();

		if (c->kind == CONTEND_MPROTECT) {
			int prot = (c->ops & 1) ? PROT_READ | PROT_WRITE : PROT_READ;

			if (mprotect(contend_region, contend_len, prot)) {
				c->err = errno;
				break;
			}
		} else {
			/* munmap, then map and populate again (mmap_lock held for writing twice). */
			if (munmap(contend_region, contend_len)) {
				c->err = errno;
				break;
			}
			contend_region = mmap(NULL, contend_len, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (contend_region == MAP_FAILED) {
				c->err = errno;
				contend_region = NULL;
				break;
			}
		}
		c->busy_s += now_s() - t0;
		c->ops++;
	}
	if (contend_region && c->kind == CONTEND_MPROTECT)
		mprotect(contend_region, contend_len, PROT_READ | PROT_WRITE);
	return NULL;
}

static int contend_setup(size_t mb)
{
	contend_len = mb * 1024 * 1024;
	contend_region = mmap(NULL, contend_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (contend_region == MAP_FAILED) {
		contend_region = NULL;
		return -1;
	}
	memset(contend_region, 0x5a, contend_len);	/* populate every page */
	return 0;
}

/* ------------------------------------------------------------------ */
/* server                                                              */

/* Result of one receive step besides a byte count. */
#define STEP_EOF 0
#define STEP_ERROR (-1)
#define STEP_AGAIN (-2)

struct server {
	int listen_fd;
	const struct config *cfg;
	size_t size;
	struct server_stats st;
};

struct server_conn {
	int fd;
	uint8_t *map;		/* address handed to the kernel */
	bool map_is_socket;	/* mmap() of the socket, else anonymous */
	uint8_t *copybuf;	/* hybrid, poll */
	size_t copybuf_len;
	unsigned int empty_run;	/* poll: consecutive empty calls */
};

static ssize_t step_recv(struct server *s, const struct server_conn *sc,
			 uint8_t *dst, size_t want, struct tally *t)
{
	ssize_t n;

	t->recv++;
	n = recv(sc->fd, dst, want, MSG_DONTWAIT);
	if (n > 0) {
		s->st.bytes_recv += (uint64_t)n;
		return n;
	}
	if (n == 0)
		return STEP_EOF;
	if (errno == EAGAIN || errno == EINTR)
		return STEP_AGAIN;
	server_error(&s->st, "recv: %s", strerror(errno));
	return STEP_ERROR;
}

/*
 * One TCP_ZEROCOPY_RECEIVE, then recv() for whatever the kernel asks us to
 * read by hand.  Stream order is: mapped pages, copy buffer, skip hint.
 * @want is the room left in the server's buffer.
 */
static ssize_t step_zerocopy(struct server *s, struct server_conn *sc,
			     uint8_t *dst, size_t want, struct tally *t)
{
	size_t map_len = want < ZC_MAP_LEN ? want : ZC_MAP_LEN;
	size_t cb_len = sc->copybuf_len < want ? sc->copybuf_len : want;
	double t0 = 0;
	socklen_t optlen;
	struct zc_rx zc;
	size_t done = 0;

	map_len &= ~((size_t)getpagesize() - 1);
	zc_rx_init(&zc, sc->map, map_len, sc->copybuf, cb_len);
	if (s->cfg->mode == MODE_POLL)
		t0 = now_s();
	t->getsockopt++;
	if (zc_rx_call(sc->fd, &zc, &optlen)) {
		if (errno == EIO)	/* end of stream, nothing queued */
			return STEP_EOF;
		/*
		 * A kernel without the fix refuses an address that is not
		 * the socket's mapping (EINVAL): answer with recv().
		 */
		s->st.zc_errors++;
		return step_recv(s, sc, dst, want, t);
	}
	if (zc.length) {
		if (zc.length > want || !sc->map_is_socket) {
			server_error(&s->st, "%u bytes mapped (%s address), %zu bytes of room",
				     zc.length, addr_names[s->cfg->addr], want);
			return STEP_ERROR;
		}
		memcpy(dst, sc->map, zc.length);
		done += zc.length;
		s->st.bytes_mapped += zc.length;
	}
	if (sc->copybuf && optlen >= ZC_LEN_COPYBUF && zc.copybuf_len) {
		if (zc.copybuf_len < 0) {
			/*
			 * 5.10 without the fix: the copy failed (a request
			 * spanning skbs); recv_skip_hint says what to read.
			 */
			s->st.copy_failures++;
		} else {
			size_t copied = (size_t)zc.copybuf_len;

			if (copied > want - done) {
				server_error(&s->st, "copybuf_len %d, %zu bytes of room",
					     zc.copybuf_len, want - done);
				return STEP_ERROR;
			}
			memcpy(dst + done, sc->copybuf, copied);
			done += copied;
			s->st.bytes_copied += copied;
		}
	}
	if (zc.recv_skip_hint && done < want) {
		size_t skip = zc.recv_skip_hint;
		ssize_t n;

		if (skip > want - done)
			skip = want - done;	/* a hint: read what fits */
		n = step_recv(s, sc, dst + done, skip, t);
		if (n < 0 || (n == STEP_EOF && !done))
			return n;
		done += (size_t)n;
	}
	if (done) {
		sc->empty_run = 0;
		return (ssize_t)done;
	}
	if (s->cfg->mode == MODE_POLL && zc.inq == 0) {
		/* Nothing queued: the case 936ced415751 returns at once. */
		s->st.empty_polls++;
		s->st.empty_poll_s += now_s() - t0;
		if (++sc->empty_run % POLL_CHECK_EVERY) {
			t->yield++;
			sched_yield();
			return STEP_AGAIN;
		}
		/* Now and then: is it the end of the stream? */
		struct pollfd pfd = { .fd = sc->fd, .events = POLLIN };

		t->wait++;
		if (poll(&pfd, 1, 0) <= 0) {
			t->yield++;
			sched_yield();
			return STEP_AGAIN;
		}
	}
	/*
	 * Readable, yet nothing offered: a FIN on a kernel whose answer to it
	 * is "0, nothing" rather than EIO, or a spurious wakeup.  recv() tells.
	 */
	return step_recv(s, sc, dst, want, t);
}

/* Wait for readiness (not in poll mode), then read what is there. */
static ssize_t server_step(struct server *s, struct server_conn *sc,
			   uint8_t *dst, size_t want, struct tally *t)
{
	struct pollfd pfd = { .fd = sc->fd, .events = POLLIN };
	int ret;

	if (s->cfg->mode != MODE_POLL) {
		t->wait++;
		ret = poll(&pfd, 1, IO_TIMEOUT_MS);
		if (ret < 0 && errno == EINTR)
			return STEP_AGAIN;
		if (ret <= 0) {
			server_error(&s->st, "waiting for a request: %s",
				     ret ? strerror(errno) : "timeout");
			return STEP_ERROR;
		}
	}
	if (s->cfg->mode == MODE_RECV)
		return step_recv(s, sc, dst, want, t);
	return step_zerocopy(s, sc, dst, want, t);
}

static int send_reply(struct server *s, int fd, const uint8_t *buf,
		      size_t len, struct tally *t)
{
	while (len) {
		ssize_t n;

		t->send++;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			server_error(&s->st, "send: %s", strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/*
 * Accept one connection and echo requests until the client is done.  The
 * server reads into a buffer of several requests (open loop pipelines them)
 * and answers every complete request in it.
 */
static void serve(struct server *s)
{
	struct server_conn sc = { .fd = -1, .map = MAP_FAILED };
	struct contender ct = { .kind = s->cfg->contend };
	size_t cap = 8 * s->size + ZC_MAP_LEN, have = 0;
	struct rusage ru0, ru1;
	bool have_ru = false, contending = false;
	struct tally t = { 0 };
	uint8_t *buf = NULL;
	double poll_deadline;

	pin_to(cpu_rpc);
	s->st.tid = (long)gettid();
	sc.fd = accept_timeout(s->listen_fd, IO_TIMEOUT_MS);
	if (sc.fd < 0) {
		server_error(&s->st, "accept: %s", strerror(errno));
		return;
	}
	if (set_timeouts(sc.fd, IO_TIMEOUT_MS) ||
	    set_int_opt(sc.fd, IPPROTO_TCP, TCP_NODELAY, 1) ||
	    (s->cfg->segments > 1 &&
	     set_int_opt(sc.fd, SOL_SOCKET, SO_RCVLOWAT, (int)s->size))) {
		server_error(&s->st, "setsockopt: %s", strerror(errno));
		goto out;
	}
	if (s->cfg->mode != MODE_RECV) {
		if (s->cfg->addr == ADDR_MAPPING) {
			sc.map = mmap(NULL, ZC_MAP_LEN, PROT_READ, MAP_SHARED, sc.fd, 0);
			sc.map_is_socket = true;
		} else {
			sc.map = mmap(NULL, ZC_MAP_LEN, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		}
		if (sc.map == MAP_FAILED) {
			server_error(&s->st, "mmap (%s): %s",
				     addr_names[s->cfg->addr], strerror(errno));
			goto out;
		}
	}
	if (s->cfg->mode == MODE_HYBRID || s->cfg->mode == MODE_POLL) {
		sc.copybuf_len = s->size;
		sc.copybuf = malloc(sc.copybuf_len);
	}
	buf = malloc(cap);
	if (!buf || ((s->cfg->mode == MODE_HYBRID || s->cfg->mode == MODE_POLL) &&
		     !sc.copybuf)) {
		server_error(&s->st, "out of memory");
		goto out;
	}
	memset(buf, 0, cap);	/* no page fault (mmap_lock) in the loop */
	if (sc.copybuf)
		memset(sc.copybuf, 0, sc.copybuf_len);
	if (ct.kind != CONTEND_NONE) {
		errno = pthread_create(&ct.thread, NULL, contend_thread, &ct);
		if (errno) {
			server_error(&s->st, "pthread_create (contention): %s",
				     strerror(errno));
			goto out;
		}
		contending = true;
	}

	getrusage(RUSAGE_THREAD, &ru0);
	have_ru = true;
	poll_deadline = now_s() + IO_TIMEOUT_MS / 1000.0;
	for (;;) {
		ssize_t n = server_step(s, &sc, buf + have, cap - have, &t);
		size_t off = 0;

		if (n == STEP_AGAIN) {
			if (s->cfg->mode == MODE_POLL && now_s() > poll_deadline) {
				server_error(&s->st, "no request for %d ms (poll mode)",
					     IO_TIMEOUT_MS);
				break;
			}
			continue;
		}
		if (n <= 0) {
			if (n == STEP_EOF && have)
				server_error(&s->st, "end of stream inside a request (%zu of %zu bytes)",
					     have, s->size);
			break;
		}
		have += (size_t)n;
		while (have - off >= s->size) {
			if (send_reply(s, sc.fd, buf + off, s->size, &t))
				goto stop;
			off += s->size;
			tally_add(&s->st.rpc, &t);
			memset(&t, 0, sizeof(t));
			s->st.rpcs++;
		}
		if (off) {
			memmove(buf, buf + off, have - off);
			have -= off;
			poll_deadline = now_s() + IO_TIMEOUT_MS / 1000.0;
		}
	}
stop:
	tally_add(&s->st.eof, &t);
out:
	if (have_ru && !getrusage(RUSAGE_THREAD, &ru1)) {
		s->st.cpu_user = tv_s(&ru1.ru_utime) - tv_s(&ru0.ru_utime);
		s->st.cpu_sys = tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_stime);
	}
	if (contending) {
		atomic_store(&ct.stop, true);
		pthread_join(ct.thread, NULL);
		s->st.contend_ops = ct.ops;
		s->st.contend_s = ct.busy_s;
		if (ct.err)
			server_error(&s->st, "%s of the contention region: %s",
				     contend_names[ct.kind], strerror(ct.err));
	}
	if (sc.map != MAP_FAILED)
		munmap(sc.map, ZC_MAP_LEN);
	free(sc.copybuf);
	free(buf);
	close(sc.fd);
}

static void *server_thread(void *arg)
{
	serve(arg);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* client                                                              */

struct lat {
	double *v;		/* microseconds */
	size_t n, cap;
};

static void lat_add(struct lat *l, double us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4096;
		double *v;

		if (cap > MAX_LAT_SAMPLES)
			return;		/* enough for any percentile we report */
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us;
}

struct client_stats {
	uint64_t rpcs;
	double seconds;
	double rate;		/* open loop: the schedule's rate */
	uint64_t late;		/* open loop: sends after their time */
	struct lat lat;
};

static int recv_all(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = ECONNRESET;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Request i: bytes derived from i so a stale or misplaced reply shows. */
static void fill_request(uint8_t *buf, size_t len, uint64_t i)
{
	size_t k;

	for (k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 131 + k * 7 + (k >> 8));
}

/* Send a request in @segments sends (each its own segment: TCP_NODELAY). */
static int send_request(int fd, const uint8_t *req, size_t size,
			unsigned int segments)
{
	size_t chunk = size / segments, off = 0;
	unsigned int i;

	for (i = 0; i < segments; i++) {
		size_t len = i + 1 == segments ? size - off : chunk;

		if (send_all(fd, req + off, len))
			return -1;
		off += len;
	}
	return 0;
}

static bool client_more(const struct options *o, uint64_t i, double deadline)
{
	return o->count ? i < o->count : now_s() < deadline;
}

static int client_closed(int fd, const struct config *c,
			 const struct options *o, struct client_stats *cs,
			 uint8_t *req, uint8_t *rep, char *err, size_t errlen)
{
	double t0 = now_s(), deadline = t0 + o->duration;
	uint64_t i;

	for (i = 0; client_more(o, i, deadline); i++) {
		double ts;

		fill_request(req, o->size, i);
		ts = now_s();
		if (send_request(fd, req, o->size, c->segments)) {
			snprintf(err, errlen, "client: send of request %" PRIu64 ": %s",
				 i, strerror(errno));
			return -1;
		}
		if (recv_all(fd, rep, o->size)) {
			snprintf(err, errlen, "client: reply %" PRIu64 ": %s", i,
				 strerror(errno));
			return -1;
		}
		lat_add(&cs->lat, (now_s() - ts) * 1e6);
		if (memcmp(req, rep, o->size) != 0) {
			snprintf(err, errlen, "client: reply %" PRIu64 " differs from the request",
				 i);
			return -1;
		}
	}
	cs->seconds = now_s() - t0;
	cs->rpcs = i;
	return 0;
}

/*
 * Open loop: request i is due at t0 + i / rate, sent then (or as soon as
 * fewer than MAX_OUTSTANDING are in flight); its latency counts from when it
 * was due, so a stalled server shows in full.
 */
static int client_open(int fd, const struct config *c, const struct options *o,
		       struct client_stats *cs, uint8_t *req, uint8_t *rep,
		       char *err, size_t errlen)
{
	static double due[MAX_OUTSTANDING];
	double t0 = now_s(), deadline = t0 + o->duration, gap = 1.0 / cs->rate;
	double last_progress = t0;
	uint64_t sent = 0, done = 0;
	size_t got = 0;
	uint8_t *want = malloc(o->size);

	if (!want) {
		snprintf(err, errlen, "client: out of memory");
		return -1;
	}
	for (;;) {
		double now = now_s(), next = t0 + (double)sent * gap;
		bool more = client_more(o, sent, deadline);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts = { 0 };
		ssize_t n;

		if (!more && done == sent)
			break;
		if (more && now >= next && sent - done < MAX_OUTSTANDING) {
			fill_request(req, o->size, sent);
			if (send_request(fd, req, o->size, c->segments)) {
				snprintf(err, errlen, "client: send of request %" PRIu64 ": %s",
					 sent, strerror(errno));
				goto fail;
			}
			if (now - next > gap)
				cs->late++;
			due[sent % MAX_OUTSTANDING] = next;
			sent++;
			continue;
		}
		if (more && sent - done < MAX_OUTSTANDING && next > now) {
			double w = next - now;

			ts.tv_sec = (time_t)w;
			ts.tv_nsec = (long)((w - (double)ts.tv_sec) * 1e9);
		} else {
			ts.tv_sec = 1;
		}
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
			snprintf(err, errlen, "client: ppoll: %s", strerror(errno));
			goto fail;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (now_s() - last_progress > IO_TIMEOUT_MS / 1000.0) {
				snprintf(err, errlen, "client: no reply for %d ms (%" PRIu64
					 " in flight)", IO_TIMEOUT_MS, sent - done);
				goto fail;
			}
			continue;
		}
		n = recv(fd, rep + got, o->size - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "client: reply %" PRIu64 ": %s", done,
				 n ? strerror(errno) : "connection closed");
			goto fail;
		}
		got += (size_t)n;
		last_progress = now_s();
		if (got < o->size)
			continue;
		lat_add(&cs->lat, (last_progress - due[done % MAX_OUTSTANDING]) * 1e6);
		fill_request(want, o->size, done);
		if (memcmp(want, rep, o->size) != 0) {
			snprintf(err, errlen, "client: reply %" PRIu64 " differs from the request",
				 done);
			goto fail;
		}
		got = 0;
		done++;
	}
	cs->seconds = now_s() - t0;
	cs->rpcs = done;
	free(want);
	return 0;
fail:
	free(want);
	return -1;
}

static int run_client(const struct sockaddr_in *addr, const struct config *c,
		      const struct options *o, struct client_stats *cs,
		      char *err, size_t errlen)
{
	uint8_t *req = malloc(o->size), *rep = malloc(o->size);
	int fd = -1, ret = -1;

	pin_to(cpu_rpc);
	if (!req || !rep) {
		snprintf(err, errlen, "client: out of memory");
		goto out;
	}
	memset(rep, 0, o->size);
	fd = connect_loopback(addr);
	if (fd < 0) {
		snprintf(err, errlen, "client: connect: %s", strerror(errno));
		goto out;
	}
	if (c->open_loop)
		ret = client_open(fd, c, o, cs, req, rep, err, errlen);
	else
		ret = client_closed(fd, c, o, cs, req, rep, err, errlen);
	if (ret)
		goto out;
	ret = -1;
	/* Tell the server we are done and wait for it to close. */
	if (shutdown(fd, SHUT_WR) || recv(fd, rep, 1, 0) != 0) {
		snprintf(err, errlen, "client: no orderly close from the server");
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(rep);
	free(req);
	return ret;
}

/* ------------------------------------------------------------------ */
/* one run                                                             */

struct lat_summary {
	double p50, p90, p99, p999, mean, max;
};

struct run_result {
	struct server_stats st;
	struct client_stats cs;	/* cs.lat freed after summarizing */
	struct lat_summary lat;
	double sys_cpu_s, softirq_s, wall_cpu_s;	/* /proc/stat */
	bool have_cpustat;
	unsigned int round;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Quantile q of sorted v[n] (nearest rank). */
static double quantile(const double *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(q * (double)n);	/* ceil() without libm */
	if ((double)k < q * (double)n)
		k++;
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static struct lat_summary summarize(double *v, size_t n)
{
	struct lat_summary s = { 0 };
	double sum = 0;
	size_t i;

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	s.p50 = quantile(v, n, 0.50);
	s.p90 = quantile(v, n, 0.90);
	s.p99 = quantile(v, n, 0.99);
	s.p999 = quantile(v, n, 0.999);
	s.mean = sum / (double)n;
	s.max = v[n - 1];
	return s;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 2 * IO_TIMEOUT_MS) <= 0)
			break;
		n = read(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Run the server as a child process; its stats come back over a pipe. */
static int run_forked(struct server *srv, const struct sockaddr_in *addr,
		      const struct config *c, const struct options *o,
		      struct run_result *res, char *err, size_t errlen)
{
	int pipefd[2], status, ret;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		serve(srv);
		_exit(write(pipefd[1], &srv->st, sizeof(srv->st)) ==
		      (ssize_t)sizeof(srv->st) ? 0 : 1);
	}
	close(pipefd[1]);
	close(srv->listen_fd);
	srv->listen_fd = -1;
	ret = run_client(addr, c, o, &res->cs, err, errlen);
	if (read_full(pipefd[0], &srv->st, sizeof(srv->st)) !=
	    (ssize_t)sizeof(srv->st)) {
		if (!ret)
			snprintf(err, errlen, "server process sent no statistics");
		ret = -1;
		kill(pid, SIGKILL);
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return ret;
}

static int run_config(const struct config *c, double rate,
		      const struct options *o, struct run_result *res,
		      char *err, size_t errlen)
{
	struct server srv = { .cfg = c, .size = o->size };
	struct cpustat c0, c1;
	struct sockaddr_in addr;
	pthread_t thread;
	int ret;

	memset(res, 0, sizeof(*res));
	res->cs.rate = rate;
	srv.listen_fd = listen_loopback(&addr);
	if (srv.listen_fd < 0) {
		snprintf(err, errlen, "listen on 127.0.0.1: %s", strerror(errno));
		return -1;
	}
	c0 = read_cpustat();
	if (o->fork_server) {
		ret = run_forked(&srv, &addr, c, o, res, err, errlen);
	} else {
		errno = pthread_create(&thread, NULL, server_thread, &srv);
		if (errno) {
			snprintf(err, errlen, "pthread_create: %s", strerror(errno));
			close(srv.listen_fd);
			return -1;
		}
		ret = run_client(&addr, c, o, &res->cs, err, errlen);
		pthread_join(thread, NULL);
	}
	c1 = read_cpustat();
	if (c0.ok && c1.ok) {
		double tck = (double)sysconf(_SC_CLK_TCK);

		res->have_cpustat = true;
		res->sys_cpu_s = (double)(c1.busy - c0.busy) / tck;
		res->softirq_s = (double)(c1.softirq - c0.softirq) / tck;
		res->wall_cpu_s = (double)(c1.total - c0.total) / tck;
	}
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	res->st = srv.st;
	res->lat = summarize(res->cs.lat.v, res->cs.lat.n);
	if (srv.st.failed) {
		/* A client failure is often only the echo of this one. */
		size_t used = ret ? strnlen(err, errlen) : 0;

		snprintf(err + used, errlen - used, "%sserver: %s",
			 used ? "; " : "", srv.st.error);
		return -1;
	}
	if (!ret && res->st.rpcs != res->cs.rpcs) {
		snprintf(err, errlen, "server counted %" PRIu64 " RPCs, client %" PRIu64,
			 res->st.rpcs, res->cs.rpcs);
		return -1;
	}
	return ret;
}

/*
 * Returns 1 if the kernel knows TCP_ZEROCOPY_RECEIVE, 0 if not (ENOPROTOOPT),
 * -1 on error; *struct_size is the struct size the kernel reported.
 */
static int probe_zerocopy(socklen_t *struct_size, char *err, size_t errlen)
{
	struct sockaddr_in addr;
	int lfd, cfd = -1, sfd = -1, ret = -1;
	socklen_t optlen;
	struct zc_rx zc;

	lfd = listen_loopback(&addr);
	if (lfd >= 0)
		cfd = connect_loopback(&addr);
	if (cfd >= 0)
		sfd = accept_timeout(lfd, IO_TIMEOUT_MS);
	if (sfd < 0) {
		snprintf(err, errlen, "loopback connection: %s", strerror(errno));
		goto out;
	}
	memset(&zc, 0, sizeof(zc));
	if (zc_rx_call(sfd, &zc, &optlen) && errno == ENOPROTOOPT) {
		ret = 0;
	} else {
		*struct_size = optlen;
		ret = 1;
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* results                                                             */

struct config_result {
	struct run_result *runs;	/* kept runs (after the warm-up) */
	size_t n;
	struct lat all;			/* every kept latency, for the CDF */
};

static double per_rpc(uint64_t n, uint64_t rpcs)
{
	return rpcs ? (double)n / (double)rpcs : 0.0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

/* The figures of one run (or of the sum of runs) that table and JSON report. */
struct rates {
	double qps;
	double sys;		/* server syscalls per RPC */
	double sys_excl_wait;	/* the same without readiness waits */
	double wait, getsockopt, recv, send, yield;	/* per RPC, by kind */
	double cpu;		/* server CPU seconds, user + sys */
	double qps_per_cpu;
};

static struct rates rates_of(const struct server_stats *st, double seconds)
{
	const struct tally *t = &st->rpc;
	double cpu = st->cpu_user + st->cpu_sys;

	return (struct rates){
		.qps = ratio((double)st->rpcs, seconds),
		.sys = per_rpc(tally_sum(t, true), st->rpcs),
		.sys_excl_wait = per_rpc(tally_sum(t, false), st->rpcs),
		.wait = per_rpc(t->wait, st->rpcs),
		.getsockopt = per_rpc(t->getsockopt, st->rpcs),
		.recv = per_rpc(t->recv, st->rpcs),
		.send = per_rpc(t->send, st->rpcs),
		.yield = per_rpc(t->yield, st->rpcs),
		.cpu = cpu,
		.qps_per_cpu = ratio((double)st->rpcs, cpu),
	};
}

/* The sum of a configuration's kept runs. */
static void config_sum(const struct config_result *cr, struct server_stats *st,
		       double *seconds)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	*seconds = 0;
	for (i = 0; i < cr->n; i++) {
		const struct server_stats *s = &cr->runs[i].st;

		tally_add(&st->rpc, &s->rpc);
		tally_add(&st->eof, &s->eof);
		st->rpcs += s->rpcs;
		st->bytes_mapped += s->bytes_mapped;
		st->bytes_copied += s->bytes_copied;
		st->bytes_recv += s->bytes_recv;
		st->zc_errors += s->zc_errors;
		st->copy_failures += s->copy_failures;
		st->empty_polls += s->empty_polls;
		st->empty_poll_s += s->empty_poll_s;
		st->contend_ops += s->contend_ops;
		st->cpu_user += s->cpu_user;
		st->cpu_sys += s->cpu_sys;
		*seconds += cr->runs[i].cs.seconds;
	}
}

static double median_of(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_table(const struct options *o, const struct config_result *cr,
			size_t n, const struct utsname *uts, socklen_t struct_size)
{
	size_t i, k;

	printf("zc-rpc-bench %s: Linux %s %s, %zu byte requests, ", ZC_VERSION,
	       uts->release, uts->machine, o->size);
	if (o->count)
		printf("%" PRIu64 " RPCs per run", o->count);
	else
		printf("%g s per run", o->duration);
	printf(", %u run(s) per configuration after %u warm-up round(s), server %s, struct size %u\n",
	       o->repeat, o->warmup, o->fork_server ? "process" : "thread",
	       (unsigned int)struct_size);
	if (clock_res_ns > 1000)
		printf("warning: CLOCK_MONOTONIC has a resolution of %ld us: latencies and per-call times are that coarse\n",
		       clock_res_ns / 1000);
	if (cpu_rpc >= 0)
		printf("pinned: client and server on CPU %d, mmap_lock writer on %s\n",
		       cpu_rpc, cpu_writer >= 0 ? "its own CPU" : "any CPU (one CPU allowed)");
	printf("\n%-20s %8s %8s %7s %6s %6s %6s %6s %8s %9s %9s %9s %9s\n",
	       "configuration", "rpcs", "QPS", "sys/RPC", "-waits", "getso", "recv",
	       "zcerr", "copyfail", "QPS/srvCPU", "QPS/sysCPU", "p50_us", "p99_us");
	for (i = 0; i < n; i++) {
		const struct config *c = &o->configs[i];
		size_t m = cr[i].n;
		double secs, *v = calloc(3 * (m ? m : 1), sizeof(*v));
		double *p50 = v, *p99 = v + m, *qps_sys = v + 2 * m;
		struct server_stats st;
		struct rates r;

		if (!v)
			m = 0, p50 = p99 = qps_sys = NULL;
		config_sum(&cr[i], &st, &secs);
		r = rates_of(&st, secs);
		for (k = 0; k < m; k++) {
			p50[k] = cr[i].runs[k].lat.p50;
			p99[k] = cr[i].runs[k].lat.p99;
			qps_sys[k] = ratio((double)cr[i].runs[k].st.rpcs,
					   cr[i].runs[k].sys_cpu_s);
		}
		printf("%-20s %8" PRIu64 " %8.0f %7.3f %6.3f %6.3f %6.3f %6.3f %8.3f %9.0f %9.0f %9.1f %9.1f\n",
		       c->name, st.rpcs, r.qps, r.sys, r.sys_excl_wait, r.getsockopt,
		       r.recv, per_rpc(st.zc_errors, st.rpcs),
		       per_rpc(st.copy_failures, st.rpcs), r.qps_per_cpu,
		       median_of(qps_sys, m), median_of(p50, m), median_of(p99, m));
		free(v);
	}
	printf("\nsys/RPC: server syscalls per RPC (wait+getsockopt+recv+send+yield); -waits: without\n"
	       "readiness waits; zcerr, copyfail: failed getsockopt calls and failed copies per RPC;\n"
	       "QPS/sysCPU and the latencies: medians over the runs (scripts/stats.py gives intervals)\n");
	for (i = 0; i < n; i++) {
		const struct config *c = &o->configs[i];
		struct server_stats st;
		double secs;

		config_sum(&cr[i], &st, &secs);
		if (c->mode == MODE_HYBRID && st.rpcs && !st.bytes_copied)
			printf("note: %s: the kernel never filled the copy buffer, every request took a recv()\n",
			       c->name);
		if (c->mode == MODE_POLL && st.empty_polls)
			printf("note: %s: %.2f empty calls (inq == 0) per RPC, %.0f ns each\n",
			       c->name, per_rpc(st.empty_polls, st.rpcs),
			       1e9 * st.empty_poll_s / (double)st.empty_polls);
		if (o->verbose)
			printf("%-20s totals wait %" PRIu64 " getsockopt %" PRIu64
			       " recv %" PRIu64 " send %" PRIu64 " yield %" PRIu64
			       "; bytes mapped %" PRIu64 " copied %" PRIu64 " recv %" PRIu64
			       "; writer ops %" PRIu64 "\n",
			       c->name, st.rpc.wait, st.rpc.getsockopt, st.rpc.recv,
			       st.rpc.send, st.rpc.yield, st.bytes_mapped,
			       st.bytes_copied, st.bytes_recv, st.contend_ops);
	}
}

static void json_tally(FILE *f, const char *name, const struct tally *t)
{
	fprintf(f, "\"%s\": {\"wait\": %" PRIu64 ", \"getsockopt\": %" PRIu64
		", \"recv\": %" PRIu64 ", \"send\": %" PRIu64 ", \"yield\": %" PRIu64 "}",
		name, t->wait, t->getsockopt, t->recv, t->send, t->yield);
}

/* JSON has no NaN or infinity. */
static double fin(double x)
{
	return __builtin_isfinite(x) ? x : 0.0;
}

static void json_run(FILE *f, const struct run_result *r)
{
	const struct server_stats *st = &r->st;
	const struct rates m = rates_of(st, r->cs.seconds);

	fprintf(f, "{\"round\": %u, \"rpcs\": %" PRIu64 ", \"seconds\": %.6f, \"qps\": %.1f"
		", \"syscalls_per_rpc\": %.4f, \"syscalls_per_rpc_excl_wait\": %.4f"
		", \"per_rpc\": {\"wait\": %.4f, \"getsockopt\": %.4f, \"recv\": %.4f"
		", \"send\": %.4f, \"yield\": %.4f}",
		r->round, st->rpcs, r->cs.seconds, m.qps, m.sys, m.sys_excl_wait,
		m.wait, m.getsockopt, m.recv, m.send, m.yield);
	fprintf(f, ", \"server_cpu_seconds\": %.6f, \"qps_per_cpu_second\": %.1f",
		m.cpu, fin(m.qps_per_cpu));
	if (r->have_cpustat)
		fprintf(f, ", \"system_cpu_seconds\": %.3f, \"softirq_seconds\": %.3f"
			", \"qps_per_system_cpu_second\": %.1f",
			r->sys_cpu_s, r->softirq_s,
			fin(ratio((double)st->rpcs, r->sys_cpu_s)));
	fprintf(f, ", \"getsockopt_errors_per_rpc\": %.4f, \"copy_failures_per_rpc\": %.4f"
		", \"copied_fraction\": %.4f, \"empty_polls_per_rpc\": %.3f"
		", \"empty_poll_ns\": %.1f",
		per_rpc(st->zc_errors, st->rpcs), per_rpc(st->copy_failures, st->rpcs),
		fin(ratio((double)st->bytes_copied,
			  (double)(st->bytes_copied + st->bytes_mapped + st->bytes_recv))),
		per_rpc(st->empty_polls, st->rpcs),
		st->empty_polls ? 1e9 * st->empty_poll_s / (double)st->empty_polls : 0.0);
	fprintf(f, ", \"latency_us\": {\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f"
		", \"p999\": %.2f, \"mean\": %.2f, \"max\": %.2f}",
		r->lat.p50, r->lat.p90, r->lat.p99, r->lat.p999, r->lat.mean, r->lat.max);
	if (r->cs.rate > 0)
		fprintf(f, ", \"rate\": %.1f, \"late_sends\": %" PRIu64, r->cs.rate, r->cs.late);
	if (st->contend_ops)
		fprintf(f, ", \"writer_ops\": %" PRIu64 ", \"writer_op_us\": %.1f",
			st->contend_ops, 1e6 * st->contend_s / (double)st->contend_ops);
	fputs("}", f);
}

/* The CDF of every kept latency of a configuration, as [quantile, us]. */
static void json_cdf(FILE *f, struct lat *l)
{
	static const double tail[] = { 0.995, 0.999, 0.9995, 0.9999, 1.0 };
	bool first = true;
	size_t i;

	fputs("[", f);
	if (l->n) {
		qsort(l->v, l->n, sizeof(*l->v), cmp_double);
		for (i = 1; i <= 99; i++) {
			double q = (double)i / 100.0;

			fprintf(f, "%s[%.4f, %.2f]", first ? "" : ", ", q,
				quantile(l->v, l->n, q));
			first = false;
		}
		for (i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
			fprintf(f, ", [%.4f, %.2f]", tail[i], quantile(l->v, l->n, tail[i]));
	}
	fputs("]", f);
}

static int write_json(const char *path, const struct options *o,
		      struct config_result *cr, size_t n,
		      const struct utsname *uts, socklen_t struct_size,
		      const char *error, const char *skip_reason, int exit_code)
{
	FILE *f = json_report_open("zc-rpc-bench", path, uts);
	bool first = true;
	size_t i, k;

	if (!f)
		return -1;
	fprintf(f, ",\n  \"size\": %zu,\n  \"duration\": %g,\n  \"count\": %" PRIu64
		",\n  \"repeat\": %u,\n  \"warmup\": %u,\n  \"suite\": \"%s\""
		",\n  \"server\": \"%s\",\n  \"struct_size\": %u,\n  \"contend_mb\": %zu"
		",\n  \"pinning\": {\"rpc_cpu\": %d, \"writer_cpu\": %d, \"cpus_allowed\": %d}"
		",\n  \"clock_resolution_ns\": %ld,\n",
		o->size, o->duration, o->count, o->repeat, o->warmup,
		o->suite ? o->suite : "", o->fork_server ? "process" : "thread",
		(unsigned int)struct_size, o->contend_mb, cpu_rpc, cpu_writer, cpus_allowed,
		clock_res_ns);
	if (error)
		json_member(f, "error", error);
	if (skip_reason)
		json_member(f, "skip_reason", skip_reason);
	fputs("  \"configs\": [", f);
	for (i = 0; i < n; i++) {
		const struct config *c = &o->configs[i];

		fprintf(f, "%s\n    {\"name\": \"%s\", \"mode\": \"%s\", \"address\": \"%s\""
			", \"segments\": %u, \"contend\": \"%s\", \"loop\": \"%s\",\n"
			"     \"samples\": [", i ? "," : "", c->name, mode_names[c->mode],
			addr_names[c->addr], c->segments, contend_names[c->contend],
			c->open_loop ? "open" : "closed");
		for (k = 0; k < cr[i].n; k++) {
			fputs(k ? ",\n       " : "\n       ", f);
			json_run(f, &cr[i].runs[k]);
		}
		fputs("],\n     \"latency_cdf_us\": ", f);
		json_cdf(f, &cr[i].all);
		fputs("}", f);
	}
	fprintf(f, "%s],\n", n ? "\n  " : "");
	/*
	 * "modes": the plain recv/zc/hybrid configurations summed over their
	 * runs, in the layout of zc-rpc-bench 1.0 (scripts and the gate read it).
	 */
	fputs("  \"modes\": [", f);
	for (i = 0; i < n; i++) {
		const struct config *c = &o->configs[i];
		struct server_stats st;
		struct rates m;
		double secs;

		if (c->addr != ADDR_MAPPING || c->segments != 1 ||
		    c->contend != CONTEND_NONE || c->open_loop || c->mode == MODE_POLL ||
		    strcmp(c->name, mode_names[c->mode]) != 0)
			continue;
		config_sum(&cr[i], &st, &secs);
		m = rates_of(&st, secs);
		fprintf(f, "%s\n    {\"mode\": \"%s\", \"rpcs\": %" PRIu64
			", \"seconds\": %.6f, \"qps\": %.1f"
			", \"syscalls_per_rpc\": %.4f, \"syscalls_per_rpc_excl_wait\": %.4f"
			", \"per_rpc\": {\"wait\": %.4f, \"getsockopt\": %.4f, \"recv\": %.4f, \"send\": %.4f}, ",
			first ? "" : ",", mode_names[c->mode], st.rpcs, secs, m.qps,
			m.sys, m.sys_excl_wait, m.wait, m.getsockopt, m.recv, m.send);
		first = false;
		json_tally(f, "totals", &st.rpc);
		fputs(", ", f);
		json_tally(f, "end_of_stream", &st.eof);
		fprintf(f, ", \"server_cpu_seconds\": %.6f, \"server_cpu_user\": %.6f"
			", \"server_cpu_sys\": %.6f, \"qps_per_cpu_second\": %.1f"
			", \"bytes_mapped\": %" PRIu64 ", \"bytes_copied\": %" PRIu64
			", \"bytes_recv\": %" PRIu64 ", \"getsockopt_errors\": %" PRIu64
			", \"copy_failures\": %" PRIu64 "}",
			m.cpu, st.cpu_user, st.cpu_sys, fin(m.qps_per_cpu),
			st.bytes_mapped, st.bytes_copied, st.bytes_recv, st.zc_errors,
			st.copy_failures);
	}
	fprintf(f, "%s],\n  \"exit\": %d\n}\n", first ? "" : "\n  ", exit_code);
	return json_report_close("zc-rpc-bench", path, f);
}

/* ------------------------------------------------------------------ */
/* options                                                             */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zc-rpc-bench [--suite ab | --mode recv|zc|hybrid|poll|all]\n"
		"                    [--size BYTES] [--duration SECONDS | --count N]\n"
		"                    [--repeat N] [--warmup N] [--segments N]\n"
		"                    [--address mapping|foreign] [--contend none|mprotect|munmap]\n"
		"                    [--contend-mb MB] [--rate QPS] [--pin auto|none]\n"
		"                    [--server thread|process] [--json FILE] [--verbose] [--list]\n"
		"       zc-rpc-bench --help | --version\n"
		"\n"
		"Small-RPC ping-pong over loopback TCP: the server's syscalls per RPC,\n"
		"QPS per CPU-second and latency, for recv(), TCP_ZEROCOPY_RECEIVE,\n"
		"TCP_ZEROCOPY_RECEIVE with a copy buffer (hybrid) and polling with it.\n"
		"\n"
		"  -m, --mode MODE      recv, zc, hybrid, poll or all (recv zc hybrid; default)\n"
		"      --suite ab       the configurations that tell the fix from its absence\n"
		"  -s, --size BYTES     request and reply size (default 200)\n"
		"  -d, --duration SECS  run each configuration this long (default 2)\n"
		"  -n, --count N        run each configuration for N RPCs instead\n"
		"  -r, --repeat N       runs per configuration, interleaved (default 1)\n"
		"  -w, --warmup N       rounds run first and discarded (default 0)\n"
		"      --segments N     write each request in N sends (N skbs; default 1)\n"
		"      --address KIND   zerocopy address: the socket's mapping (default)\n"
		"                       or a foreign (anonymous) mapping\n"
		"      --contend KIND   mmap_lock writer while the RPCs run: none (default),\n"
		"                       mprotect or munmap of a populated region\n"
		"      --contend-mb MB  size of that region (default 64)\n"
		"      --rate QPS       open loop at this rate (default: closed loop)\n"
		"      --pin auto|none  pin client+server and the writer to CPUs (default auto)\n"
		"      --server KIND    run the server as a thread (default) or process\n"
		"      --json FILE      also write every run as JSON to FILE\n"
		"  -v, --verbose        print totals per configuration\n"
		"      --list           print the configurations that would run, and exit\n"
		"  -V, --version        print the version and exit\n"
		"  -h, --help           print this help and exit\n"
		"\n"
		"Exit status: 0 success, 1 error, 2 usage error, 4 skipped\n"
		"(TCP_ZEROCOPY_RECEIVE not supported by the running kernel).\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !(*out >= min && *out <= max))
		return -1;
	return 0;
}

static void add_config(struct options *o, const char *name, enum mode mode,
		       enum addr_kind addr, unsigned int segments,
		       enum contend contend, bool open_loop, double rate)
{
	struct config *c = &o->configs[o->nconfigs++];

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->mode = mode;
	c->addr = addr;
	c->segments = segments;
	c->contend = contend;
	c->open_loop = open_loop;
	c->rate = rate;
}

/*
 * The "ab" suite: recv first (the yardstick, and the open-loop rate comes
 * from it), the 1.0 modes, then the shapes and the contention.
 */
static void suite_ab(struct options *o, double rate)
{
	add_config(o, "recv", MODE_RECV, ADDR_MAPPING, 1, CONTEND_NONE, false, 0);
	add_config(o, "zc", MODE_ZC, ADDR_MAPPING, 1, CONTEND_NONE, false, 0);
	add_config(o, "hybrid", MODE_HYBRID, ADDR_MAPPING, 1, CONTEND_NONE, false, 0);
	add_config(o, "hybrid-2skb", MODE_HYBRID, ADDR_MAPPING, 2, CONTEND_NONE, false, 0);
	add_config(o, "hybrid-foreign", MODE_HYBRID, ADDR_FOREIGN, 1, CONTEND_NONE, false, 0);
	add_config(o, "poll-inq0", MODE_POLL, ADDR_MAPPING, 1, CONTEND_NONE, false, 0);
	add_config(o, "recv-contend", MODE_RECV, ADDR_MAPPING, 1, CONTEND_MPROTECT, false, 0);
	add_config(o, "hybrid-contend", MODE_HYBRID, ADDR_MAPPING, 1, CONTEND_MPROTECT, false, 0);
	add_config(o, "recv-contend-open", MODE_RECV, ADDR_MAPPING, 1, CONTEND_MPROTECT, true, rate);
	add_config(o, "hybrid-contend-open", MODE_HYBRID, ADDR_MAPPING, 1, CONTEND_MPROTECT, true, rate);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "suite", required_argument, NULL, 'U' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "segments", required_argument, NULL, 'G' },
		{ "address", required_argument, NULL, 'A' },
		{ "contend", required_argument, NULL, 'C' },
		{ "contend-mb", required_argument, NULL, 'M' },
		{ "rate", required_argument, NULL, 'R' },
		{ "pin", required_argument, NULL, 'P' },
		{ "server", required_argument, NULL, 'S' },
		{ "json", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "list", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool modes[NR_MODES] = { true, true, true, false };
	enum addr_kind addr = ADDR_MAPPING;
	enum contend contend = CONTEND_NONE;
	unsigned int segments = 1;
	double rate = 0;
	uint64_t v;
	int opt, m;

	o->size = 200;
	o->duration = 2.0;
	o->repeat = 1;
	o->contend_mb = 64;
	o->pin = true;

	while ((opt = getopt_long(argc, argv, "m:s:d:n:r:w:vhV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'm':
			for (m = 0; m < NR_MODES; m++)
				modes[m] = !strcmp(optarg, mode_names[m]) ||
					   (!strcmp(optarg, "all") && m != MODE_POLL);
			if (!modes[0] && !modes[1] && !modes[2] && !modes[3]) {
				fprintf(stderr, "zc-rpc-bench: unknown mode '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'U':
			if (strcmp(optarg, "ab") != 0) {
				fprintf(stderr, "zc-rpc-bench: unknown suite '%s' (ab)\n", optarg);
				return EXIT_USAGE;
			}
			o->suite = "ab";
			break;
		case 's':
			if (parse_u64(optarg, 1, MAX_SIZE, &v)) {
				fprintf(stderr, "zc-rpc-bench: --size must be 1..%lu\n",
					MAX_SIZE);
				return EXIT_USAGE;
			}
			o->size = (size_t)v;
			break;
		case 'd':
			if (parse_double(optarg, 1e-3, 3600, &o->duration)) {
				fprintf(stderr, "zc-rpc-bench: --duration must be in [0.001, 3600]\n");
				return EXIT_USAGE;
			}
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX / 2, &o->count)) {
				fprintf(stderr, "zc-rpc-bench: --count must be a positive integer\n");
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_u64(optarg, 1, 1000, &v)) {
				fprintf(stderr, "zc-rpc-bench: --repeat must be 1..1000\n");
				return EXIT_USAGE;
			}
			o->repeat = (unsigned int)v;
			break;
		case 'w':
			if (parse_u64(optarg, 0, 100, &v)) {
				fprintf(stderr, "zc-rpc-bench: --warmup must be 0..100\n");
				return EXIT_USAGE;
			}
			o->warmup = (unsigned int)v;
			break;
		case 'G':
			if (parse_u64(optarg, 1, MAX_SEGMENTS, &v)) {
				fprintf(stderr, "zc-rpc-bench: --segments must be 1..%d\n",
					MAX_SEGMENTS);
				return EXIT_USAGE;
			}
			segments = (unsigned int)v;
			break;
		case 'A':
			if (!strcmp(optarg, "mapping")) {
				addr = ADDR_MAPPING;
			} else if (!strcmp(optarg, "foreign")) {
				addr = ADDR_FOREIGN;
			} else {
				fprintf(stderr, "zc-rpc-bench: --address must be mapping or foreign\n");
				return EXIT_USAGE;
			}
			break;
		case 'C':
			for (m = 0; m < 3; m++)
				if (!strcmp(optarg, contend_names[m]))
					break;
			if (m == 3) {
				fprintf(stderr, "zc-rpc-bench: --contend must be none, mprotect or munmap\n");
				return EXIT_USAGE;
			}
			contend = (enum contend)m;
			break;
		case 'M':
			if (parse_u64(optarg, 1, 4096, &v)) {
				fprintf(stderr, "zc-rpc-bench: --contend-mb must be 1..4096\n");
				return EXIT_USAGE;
			}
			o->contend_mb = (size_t)v;
			break;
		case 'R':
			if (parse_double(optarg, 1, 1e7, &rate)) {
				fprintf(stderr, "zc-rpc-bench: --rate must be in [1, 1e7] requests per second\n");
				return EXIT_USAGE;
			}
			break;
		case 'P':
			if (!strcmp(optarg, "auto") || !strcmp(optarg, "none")) {
				o->pin = !strcmp(optarg, "auto");
			} else {
				fprintf(stderr, "zc-rpc-bench: --pin must be auto or none\n");
				return EXIT_USAGE;
			}
			break;
		case 'S':
			if (!strcmp(optarg, "thread")) {
				o->fork_server = false;
			} else if (!strcmp(optarg, "process")) {
				o->fork_server = true;
			} else {
				fprintf(stderr, "zc-rpc-bench: --server must be thread or process\n");
				return EXIT_USAGE;
			}
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'L':
			o->list = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("zc-rpc-bench %s\n", ZC_VERSION);
			return -1;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zc-rpc-bench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o->suite) {
		suite_ab(o, rate);
		return 0;
	}
	for (m = 0; m < NR_MODES; m++) {
		char name[40];

		if (!modes[m])
			continue;
		/* The plain mode keeps its name; a shape adds to it. */
		snprintf(name, sizeof(name), "%s%s%s%s%s", mode_names[m],
			 segments > 1 ? "-skbs" : "",
			 addr == ADDR_FOREIGN ? "-foreign" : "",
			 contend != CONTEND_NONE ? "-contend" : "",
			 rate > 0 ? "-open" : "");
		add_config(o, name, (enum mode)m, addr, segments, contend, rate > 0, rate);
	}
	return 0;
}

/* Client and server share one allowed CPU, the writer gets another. */
static void choose_cpus(bool pin)
{
	cpu_set_t set;
	int i, found = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	cpus_allowed = CPU_COUNT(&set);
	if (!pin)
		return;
	for (i = 0; i < CPU_SETSIZE && found < 2; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (!found++)
			cpu_rpc = i;
		else
			cpu_writer = i;
	}
	if (found < 2)
		cpu_rpc = -1;	/* one CPU: pinning changes nothing */
}

/* The open-loop rate of round >= 1: a fraction of recv's closed-loop QPS in round 0. */
static double auto_rate(const struct options *o, const double *round0_qps)
{
	size_t i;

	for (i = 0; i < o->nconfigs; i++)
		if (o->configs[i].mode == MODE_RECV && !o->configs[i].open_loop &&
		    o->configs[i].contend == CONTEND_NONE && round0_qps[i] > 0)
			return AUTO_RATE_FRACTION * round0_qps[i];
	return DEFAULT_OPEN_RATE;
}

int main(int argc, char **argv)
{
	static struct options o;
	static struct config_result cr[MAX_CONFIGS];
	double round0_qps[MAX_CONFIGS] = { 0 }, rate = DEFAULT_OPEN_RATE;
	socklen_t struct_size = 0;
	const char *error = NULL;
	bool want_zc = false, want_contend = false;
	struct utsname uts;
	char err[512] = "";
	unsigned int round, rounds;
	int exit_code = 0, ret;
	size_t i;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (o.list) {
		for (i = 0; i < o.nconfigs; i++)
			printf("%s\n", o.configs[i].name);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (uname(&uts)) {
		fprintf(stderr, "zc-rpc-bench: uname: %s\n", strerror(errno));
		return 1;
	}
	choose_cpus(o.pin);
	{
		struct timespec res;

		if (!clock_getres(CLOCK_MONOTONIC, &res))
			clock_res_ns = res.tv_sec * 1000000000L + res.tv_nsec;
	}
	/* Open loop sends on a schedule: wake up on time, not 50 us late. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	for (i = 0; i < o.nconfigs; i++) {
		want_zc |= o.configs[i].mode != MODE_RECV;
		want_contend |= o.configs[i].contend != CONTEND_NONE;
	}
	if (want_zc) {
		int ret = probe_zerocopy(&struct_size, err, sizeof(err));

		if (ret < 0) {
			fprintf(stderr, "zc-rpc-bench: %s\n", err);
			return 1;
		}
		if (ret == 0) {
			static const char reason[] =
				"TCP_ZEROCOPY_RECEIVE not supported by this kernel";

			printf("zc-rpc-bench: SKIP: %s\n", reason);
			if (o.json && write_json(o.json, &o, cr, 0, &uts, 0,
						 NULL, reason, EXIT_SKIP))
				return 1;
			return EXIT_SKIP;
		}
	}
	if (want_contend && contend_setup(o.contend_mb)) {
		fprintf(stderr, "zc-rpc-bench: cannot map and populate %zu MB for the mmap_lock writer: %s\n",
			o.contend_mb, strerror(errno));
		return 1;
	}
	for (i = 0; i < o.nconfigs; i++) {
		cr[i].runs = calloc(o.repeat, sizeof(*cr[i].runs));
		if (!cr[i].runs) {
			fprintf(stderr, "zc-rpc-bench: out of memory\n");
			return 1;
		}
	}

	rounds = o.warmup + o.repeat;
	for (round = 0; round < rounds && !error; round++) {
		bool keep = round >= o.warmup;
		size_t k;

		if (round == 1)
			rate = auto_rate(&o, round0_qps);
		for (k = 0; k < o.nconfigs; k++) {
			size_t ci = (k + round) % o.nconfigs;	/* rotated order */
			const struct config *c = &o.configs[ci];
			struct run_result r;
			double rr = c->open_loop ? (c->rate > 0 ? c->rate : rate) : 0;

			if (run_config(c, rr, &o, &r, err, sizeof(err))) {
				fprintf(stderr, "zc-rpc-bench: %s (round %u): %s\n",
					c->name, round, err);
				error = err;
				exit_code = 1;
				free(r.cs.lat.v);
				break;
			}
			r.round = round;
			if (round == 0)
				round0_qps[ci] = ratio((double)r.st.rpcs, r.cs.seconds);
			if (keep) {
				size_t j;

				for (j = 0; j < r.cs.lat.n; j++)
					lat_add(&cr[ci].all, r.cs.lat.v[j]);
				free(r.cs.lat.v);
				memset(&r.cs.lat, 0, sizeof(r.cs.lat));
				cr[ci].runs[cr[ci].n++] = r;
			} else {
				free(r.cs.lat.v);
			}
		}
	}
	print_table(&o, cr, o.nconfigs, &uts, struct_size);
	if (o.json && write_json(o.json, &o, cr, o.nconfigs, &uts, struct_size,
				 error, NULL, exit_code))
		return 1;
	return exit_code;
}
