/*
 * zc-rpc-bench - small-RPC ping-pong over loopback TCP, comparing server
 * receive strategies for getsockopt(TCP_ZEROCOPY_RECEIVE).
 *
 * A client sends a request of --size bytes, the server receives all of it
 * and echoes it back, the client checks the reply.  The server receives in
 * one of three ways (--mode):
 *
 *   recv    readiness wait, recv()
 *   zc      readiness wait, TCP_ZEROCOPY_RECEIVE on a mmap() of the socket
 *           without a copy buffer, then recv() of recv_skip_hint bytes: the
 *           pattern zerocopy readers use for data that cannot be mapped
 *   hybrid  readiness wait, TCP_ZEROCOPY_RECEIVE with a copy buffer of
 *           --size bytes; since Linux 5.11 (f21a3c480398 "net-zerocopy:
 *           Introduce short-circuit small reads") the kernel copies a small
 *           request into it and no recv() is needed.  A kernel that does not
 *           copy gets the recv() fallback, which is counted.
 *
 * Only syscalls made by the server are counted, by kind, and only those of
 * completed RPCs (the calls that observe the final end of stream are
 * reported apart), so "hybrid" shows one syscall per RPC fewer than "zc"
 * where the fix is present.  The server runs as its own thread or child
 * process (--server) so that its CPU time can be measured alone.
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
#include <signal.h>
#include <stdarg.h>
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
#define MAX_SIZE (16UL * 1024 * 1024)

enum mode { MODE_RECV, MODE_ZC, MODE_HYBRID, NR_MODES };

static const char *const mode_names[NR_MODES] = { "recv", "zc", "hybrid" };

/* Server syscalls by kind. */
struct tally {
	uint64_t wait;		/* poll() */
	uint64_t getsockopt;	/* TCP_ZEROCOPY_RECEIVE */
	uint64_t recv;
	uint64_t send;
};

struct server_stats {
	struct tally rpc;	/* syscalls of completed RPCs */
	struct tally eof;	/* syscalls that found the end of stream */
	uint64_t rpcs;
	uint64_t bytes_mapped;	/* received through the mapping */
	uint64_t bytes_copied;	/* received through the copy buffer */
	uint64_t bytes_recv;	/* received by recv() */
	uint64_t zc_errors;	/* getsockopt failures answered by recv() */
	double cpu_user, cpu_sys;
	long tid;
	int failed;
	char error[256];
};

struct server {
	int listen_fd;
	enum mode mode;
	size_t size;
	struct server_stats st;
};

struct client_stats {
	uint64_t rpcs;
	double seconds;
};

struct options {
	size_t size;
	double duration;
	uint64_t count;		/* 0: run for duration */
	bool modes[NR_MODES];
	bool fork_server;
	bool verbose;
	const char *json;
};

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
}

static uint64_t tally_sum(const struct tally *t, bool with_wait)
{
	return t->getsockopt + t->recv + t->send + (with_wait ? t->wait : 0);
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
/* server                                                              */

/* Result of one receive step besides a byte count. */
#define STEP_EOF 0
#define STEP_ERROR (-1)
#define STEP_AGAIN (-2)

struct server_conn {
	int fd;
	uint8_t *map;		/* mmap() of the socket (zc, hybrid) */
	uint8_t *copybuf;	/* hybrid */
	size_t copybuf_len;
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
 */
static ssize_t step_zerocopy(struct server *s, const struct server_conn *sc,
			     uint8_t *dst, size_t want, struct tally *t)
{
	socklen_t optlen;
	struct zc_rx zc;
	size_t done = 0;

	zc_rx_init(&zc, sc->map, ZC_MAP_LEN, sc->copybuf, sc->copybuf_len);
	t->getsockopt++;
	if (zc_rx_call(sc->fd, &zc, &optlen)) {
		if (errno == EIO)	/* end of stream, nothing queued */
			return STEP_EOF;
		/* e.g. a kernel that refuses this address: fall back. */
		s->st.zc_errors++;
		return step_recv(s, sc, dst, want, t);
	}
	if (zc.length) {
		if (zc.length > want) {
			server_error(&s->st, "%u bytes mapped, request has %zu left",
				     zc.length, want);
			return STEP_ERROR;
		}
		memcpy(dst, sc->map, zc.length);
		done += zc.length;
		s->st.bytes_mapped += zc.length;
	}
	if (sc->copybuf && optlen >= ZC_LEN_COPYBUF && zc.copybuf_len) {
		size_t copied = (size_t)zc.copybuf_len;

		if (zc.copybuf_len < 0 || copied > want - done) {
			server_error(&s->st, "copybuf_len %d, request has %zu left",
				     zc.copybuf_len, want - done);
			return STEP_ERROR;
		}
		memcpy(dst + done, sc->copybuf, copied);
		done += copied;
		s->st.bytes_copied += copied;
	}
	if (zc.recv_skip_hint) {
		size_t skip = zc.recv_skip_hint;
		ssize_t n;

		if (skip > want - done) {
			server_error(&s->st, "recv_skip_hint %zu, request has %zu left",
				     skip, want - done);
			return STEP_ERROR;
		}
		n = step_recv(s, sc, dst + done, skip, t);
		if (n < 0 || (n == STEP_EOF && !done))
			return n;
		done += (size_t)n;
	}
	if (!done) {
		/*
		 * Readable, yet nothing offered: a FIN on a kernel whose
		 * answer to it is "0, nothing" rather than EIO, or a spurious
		 * wakeup.  recv() tells which.
		 */
		return step_recv(s, sc, dst, want, t);
	}
	return (ssize_t)done;
}

/* Wait for readiness, then read what is there. */
static ssize_t server_step(struct server *s, const struct server_conn *sc,
			   uint8_t *dst, size_t want, struct tally *t)
{
	struct pollfd pfd = { .fd = sc->fd, .events = POLLIN };
	int ret;

	t->wait++;
	ret = poll(&pfd, 1, IO_TIMEOUT_MS);
	if (ret < 0 && errno == EINTR)
		return STEP_AGAIN;
	if (ret <= 0) {
		server_error(&s->st, "waiting for a request: %s",
			     ret ? strerror(errno) : "timeout");
		return STEP_ERROR;
	}
	if (s->mode == MODE_RECV)
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

/* Accept one connection and echo requests until the client is done. */
static void serve(struct server *s)
{
	struct server_conn sc = { .fd = -1, .map = MAP_FAILED };
	struct rusage ru0, ru1;
	uint8_t *msg = NULL;
	bool have_ru = false;

	s->st.tid = (long)gettid();
	sc.fd = accept_timeout(s->listen_fd, IO_TIMEOUT_MS);
	if (sc.fd < 0) {
		server_error(&s->st, "accept: %s", strerror(errno));
		return;
	}
	if (set_timeouts(sc.fd, IO_TIMEOUT_MS) ||
	    set_int_opt(sc.fd, IPPROTO_TCP, TCP_NODELAY, 1)) {
		server_error(&s->st, "setsockopt: %s", strerror(errno));
		goto out;
	}
	if (s->mode != MODE_RECV) {
		sc.map = mmap(NULL, ZC_MAP_LEN, PROT_READ, MAP_SHARED, sc.fd, 0);
		if (sc.map == MAP_FAILED) {
			server_error(&s->st, "mmap of the socket: %s",
				     strerror(errno));
			goto out;
		}
	}
	if (s->mode == MODE_HYBRID) {
		sc.copybuf_len = s->size;
		sc.copybuf = malloc(sc.copybuf_len);
	}
	msg = malloc(s->size);
	if (!msg || (s->mode == MODE_HYBRID && !sc.copybuf)) {
		server_error(&s->st, "out of memory");
		goto out;
	}

	getrusage(RUSAGE_THREAD, &ru0);
	have_ru = true;
	for (;;) {
		struct tally t = { 0 };
		size_t got = 0;
		ssize_t n = STEP_AGAIN;

		while (got < s->size) {
			n = server_step(s, &sc, msg + got, s->size - got, &t);
			if (n == STEP_AGAIN)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < s->size) {
			tally_add(&s->st.eof, &t);
			if (n == STEP_EOF && got)
				server_error(&s->st, "end of stream inside a request (%zu of %zu bytes)",
					     got, s->size);
			break;
		}
		if (send_reply(s, sc.fd, msg, s->size, &t))
			break;
		tally_add(&s->st.rpc, &t);
		s->st.rpcs++;
	}
out:
	if (have_ru && !getrusage(RUSAGE_THREAD, &ru1)) {
		s->st.cpu_user = tv_s(&ru1.ru_utime) - tv_s(&ru0.ru_utime);
		s->st.cpu_sys = tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_stime);
	}
	if (sc.map != MAP_FAILED)
		munmap(sc.map, ZC_MAP_LEN);
	free(sc.copybuf);
	free(msg);
	close(sc.fd);
}

static void *server_thread(void *arg)
{
	serve(arg);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* client                                                              */

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

static int run_client(const struct sockaddr_in *addr, const struct options *o,
		      struct client_stats *cs, char *err, size_t errlen)
{
	uint8_t *req = malloc(o->size), *rep = malloc(o->size);
	double t0, deadline;
	int fd = -1, ret = -1;
	uint64_t i;

	if (!req || !rep) {
		snprintf(err, errlen, "client: out of memory");
		goto out;
	}
	fd = connect_loopback(addr);
	if (fd < 0) {
		snprintf(err, errlen, "client: connect: %s", strerror(errno));
		goto out;
	}
	t0 = now_s();
	deadline = t0 + o->duration;
	for (i = 0; o->count ? i < o->count : now_s() < deadline; i++) {
		fill_request(req, o->size, i);
		if (send_all(fd, req, o->size)) {
			snprintf(err, errlen, "client: send of request %" PRIu64 ": %s",
				 i, strerror(errno));
			goto out;
		}
		if (recv_all(fd, rep, o->size)) {
			snprintf(err, errlen, "client: reply %" PRIu64 ": %s", i,
				 strerror(errno));
			goto out;
		}
		if (memcmp(req, rep, o->size) != 0) {
			snprintf(err, errlen, "client: reply %" PRIu64 " differs from the request",
				 i);
			goto out;
		}
	}
	cs->seconds = now_s() - t0;
	cs->rpcs = i;
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
/* driver                                                              */

struct mode_result {
	enum mode mode;
	struct server_stats st;
	struct client_stats cs;
};

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
		      const struct options *o, struct mode_result *res,
		      char *err, size_t errlen)
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
	ret = run_client(addr, o, &res->cs, err, errlen);
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

static int run_mode(enum mode mode, const struct options *o,
		    struct mode_result *res, char *err, size_t errlen)
{
	struct server srv = { .mode = mode, .size = o->size };
	struct sockaddr_in addr;
	pthread_t thread;
	int ret;

	memset(res, 0, sizeof(*res));
	res->mode = mode;
	srv.listen_fd = listen_loopback(&addr);
	if (srv.listen_fd < 0) {
		snprintf(err, errlen, "listen on 127.0.0.1: %s", strerror(errno));
		return -1;
	}
	if (o->fork_server) {
		ret = run_forked(&srv, &addr, o, res, err, errlen);
	} else {
		errno = pthread_create(&thread, NULL, server_thread, &srv);
		if (errno) {
			snprintf(err, errlen, "pthread_create: %s", strerror(errno));
			close(srv.listen_fd);
			return -1;
		}
		ret = run_client(&addr, o, &res->cs, err, errlen);
		pthread_join(thread, NULL);
	}
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	res->st = srv.st;
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

static double per_rpc(uint64_t n, uint64_t rpcs)
{
	return rpcs ? (double)n / (double)rpcs : 0.0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

/* The figures of one mode that the table and the JSON both report. */
struct mode_rates {
	double qps;
	double sys;		/* server syscalls per RPC */
	double sys_excl_wait;	/* the same without readiness waits */
	double wait, getsockopt, recv, send;	/* per RPC, by kind */
	double cpu;		/* server CPU seconds, user + sys */
	double qps_per_cpu;
};

static struct mode_rates mode_rates(const struct mode_result *r)
{
	const struct tally *t = &r->st.rpc;
	uint64_t rpcs = r->st.rpcs;
	double cpu = r->st.cpu_user + r->st.cpu_sys;

	return (struct mode_rates){
		.qps = ratio((double)rpcs, r->cs.seconds),
		.sys = per_rpc(tally_sum(t, true), rpcs),
		.sys_excl_wait = per_rpc(tally_sum(t, false), rpcs),
		.wait = per_rpc(t->wait, rpcs),
		.getsockopt = per_rpc(t->getsockopt, rpcs),
		.recv = per_rpc(t->recv, rpcs),
		.send = per_rpc(t->send, rpcs),
		.cpu = cpu,
		.qps_per_cpu = ratio((double)rpcs, cpu),
	};
}

static void print_table(const struct mode_result *res, size_t n,
			const struct options *o, const struct utsname *uts,
			socklen_t struct_size)
{
	size_t i;

	printf("zc-rpc-bench %s: Linux %s %s, %zu byte requests, ", ZC_VERSION,
	       uts->release, uts->machine, o->size);
	if (o->count)
		printf("%" PRIu64 " RPCs per mode", o->count);
	else
		printf("%g s per mode", o->duration);
	printf(", server %s, struct size %u\n\n",
	       o->fork_server ? "process" : "thread", (unsigned int)struct_size);
	printf("%-7s %9s %7s %9s %8s %9s %6s %7s %6s %6s %8s %10s\n",
	       "mode", "rpcs", "seconds", "QPS", "sys/RPC", "-waits", "wait",
	       "getsopt", "recv", "send", "srv-CPU", "QPS/CPU-s");
	for (i = 0; i < n; i++) {
		const struct mode_result *r = &res[i];
		const struct mode_rates m = mode_rates(r);

		printf("%-7s %9" PRIu64 " %7.3f %9.0f %8.3f %9.3f %6.3f %7.3f %6.3f %6.3f %8.3f %10.0f\n",
		       mode_names[r->mode], r->st.rpcs, r->cs.seconds, m.qps,
		       m.sys, m.sys_excl_wait, m.wait, m.getsockopt, m.recv,
		       m.send, m.cpu, m.qps_per_cpu);
	}
	printf("\nsys/RPC: server syscalls per RPC (wait+getsockopt+recv+send); -waits: without readiness waits\n");
	for (i = 0; i < n; i++) {
		const struct mode_result *r = &res[i];

		if (r->mode == MODE_HYBRID && r->st.rpcs && !r->st.bytes_copied)
			printf("note: hybrid: the kernel never filled the copy buffer, every request took a recv() (no small-read short-circuit?)\n");
		if (r->mode != MODE_RECV && r->st.zc_errors)
			printf("note: %s: %" PRIu64 " TCP_ZEROCOPY_RECEIVE calls failed and were answered by recv()\n",
			       mode_names[r->mode], r->st.zc_errors);
	}
	if (!o->verbose)
		return;
	printf("\n");
	for (i = 0; i < n; i++) {
		const struct mode_result *r = &res[i];

		printf("%-7s server tid %ld; totals wait %" PRIu64 " getsockopt %" PRIu64
		       " recv %" PRIu64 " send %" PRIu64 "; at end of stream wait %" PRIu64
		       " getsockopt %" PRIu64 " recv %" PRIu64 "; bytes mapped %" PRIu64
		       " copied %" PRIu64 " recv %" PRIu64 "; getsockopt errors %" PRIu64 "\n",
		       mode_names[r->mode], r->st.tid, r->st.rpc.wait,
		       r->st.rpc.getsockopt, r->st.rpc.recv, r->st.rpc.send,
		       r->st.eof.wait, r->st.eof.getsockopt, r->st.eof.recv,
		       r->st.bytes_mapped, r->st.bytes_copied, r->st.bytes_recv,
		       r->st.zc_errors);
	}
}

static void json_tally(FILE *f, const char *name, const struct tally *t)
{
	fprintf(f, "\"%s\": {\"wait\": %" PRIu64 ", \"getsockopt\": %" PRIu64
		", \"recv\": %" PRIu64 ", \"send\": %" PRIu64 "}",
		name, t->wait, t->getsockopt, t->recv, t->send);
}

static int write_json(const char *path, const struct mode_result *res,
		      size_t n, const struct options *o,
		      const struct utsname *uts, socklen_t struct_size,
		      const char *error, const char *skip_reason, int exit_code)
{
	FILE *f = json_report_open("zc-rpc-bench", path, uts);
	size_t i;

	if (!f)
		return -1;
	fprintf(f, ",\n  \"size\": %zu,\n  \"duration\": %g,\n  \"count\": %" PRIu64
		",\n  \"server\": \"%s\",\n  \"struct_size\": %u,\n",
		o->size, o->duration, o->count,
		o->fork_server ? "process" : "thread", (unsigned int)struct_size);
	if (error)
		json_member(f, "error", error);
	if (skip_reason)
		json_member(f, "skip_reason", skip_reason);
	fputs("  \"modes\": [", f);
	for (i = 0; i < n; i++) {
		const struct mode_result *r = &res[i];
		const struct mode_rates m = mode_rates(r);

		fprintf(f, "%s\n    {\"mode\": \"%s\", \"rpcs\": %" PRIu64
			", \"seconds\": %.6f, \"qps\": %.1f"
			", \"syscalls_per_rpc\": %.4f, \"syscalls_per_rpc_excl_wait\": %.4f"
			", \"per_rpc\": {\"wait\": %.4f, \"getsockopt\": %.4f, \"recv\": %.4f, \"send\": %.4f}, ",
			i ? "," : "", mode_names[r->mode], r->st.rpcs,
			r->cs.seconds, m.qps, m.sys, m.sys_excl_wait, m.wait,
			m.getsockopt, m.recv, m.send);
		json_tally(f, "totals", &r->st.rpc);
		fputs(", ", f);
		json_tally(f, "end_of_stream", &r->st.eof);
		fprintf(f, ", \"server_cpu_seconds\": %.6f, \"server_cpu_user\": %.6f"
			", \"server_cpu_sys\": %.6f, \"qps_per_cpu_second\": %.1f"
			", \"bytes_mapped\": %" PRIu64 ", \"bytes_copied\": %" PRIu64
			", \"bytes_recv\": %" PRIu64 ", \"getsockopt_errors\": %" PRIu64
			", \"server_tid\": %ld}",
			m.cpu, r->st.cpu_user, r->st.cpu_sys, m.qps_per_cpu,
			r->st.bytes_mapped, r->st.bytes_copied, r->st.bytes_recv,
			r->st.zc_errors, r->st.tid);
	}
	fprintf(f, "%s],\n  \"exit\": %d\n}\n", n ? "\n  " : "", exit_code);
	return json_report_close("zc-rpc-bench", path, f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zc-rpc-bench [--mode recv|zc|hybrid|all] [--size BYTES]\n"
		"                    [--duration SECONDS | --count N]\n"
		"                    [--server thread|process] [--json FILE] [--verbose]\n"
		"       zc-rpc-bench --help | --version\n"
		"\n"
		"Small-RPC ping-pong over loopback TCP; counts the server's syscalls\n"
		"per RPC for recv(), TCP_ZEROCOPY_RECEIVE + recv(), and\n"
		"TCP_ZEROCOPY_RECEIVE with a copy buffer (hybrid).\n"
		"\n"
		"  -m, --mode MODE      recv, zc, hybrid or all (default all)\n"
		"  -s, --size BYTES     request and reply size (default 200)\n"
		"  -d, --duration SECS  run each mode this long (default 2)\n"
		"  -n, --count N        run each mode for N RPCs instead\n"
		"      --server KIND    run the server as a thread (default) or process\n"
		"      --json FILE      also write the results as JSON to FILE\n"
		"  -v, --verbose        print totals, server thread ids and byte counts\n"
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

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "server", required_argument, NULL, 'S' },
		{ "json", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	char *end;
	int opt, m;

	o->size = 200;
	o->duration = 2.0;
	for (m = 0; m < NR_MODES; m++)
		o->modes[m] = true;

	while ((opt = getopt_long(argc, argv, "m:s:d:n:vhV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'm':
			for (m = 0; m < NR_MODES; m++)
				o->modes[m] = !strcmp(optarg, "all") ||
					      !strcmp(optarg, mode_names[m]);
			if (strcmp(optarg, "all") != 0 && !o->modes[MODE_RECV] &&
			    !o->modes[MODE_ZC] && !o->modes[MODE_HYBRID]) {
				fprintf(stderr, "zc-rpc-bench: unknown mode '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
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
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(o->duration > 0 && o->duration <= 3600)) {
				fprintf(stderr, "zc-rpc-bench: --duration must be in (0, 3600]\n");
				return EXIT_USAGE;
			}
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX / 2, &o->count)) {
				fprintf(stderr, "zc-rpc-bench: --count must be a positive integer\n");
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
	return 0;
}

int main(int argc, char **argv)
{
	static struct mode_result results[NR_MODES];
	struct options o = { 0 };
	socklen_t struct_size = 0;
	const char *error = NULL;
	bool want_zc = false;
	struct utsname uts;
	char err[512] = "";
	int exit_code = 0, m;
	size_t n = 0;

	m = parse_args(argc, argv, &o);
	if (m)
		return m < 0 ? 0 : m;
	signal(SIGPIPE, SIG_IGN);
	if (uname(&uts)) {
		fprintf(stderr, "zc-rpc-bench: uname: %s\n", strerror(errno));
		return 1;
	}

	want_zc = o.modes[MODE_ZC] || o.modes[MODE_HYBRID];
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
			if (o.json && write_json(o.json, results, 0, &o, &uts, 0,
						 NULL, reason, EXIT_SKIP))
				return 1;
			return EXIT_SKIP;
		}
	}

	for (m = 0; m < NR_MODES; m++) {
		if (!o.modes[m])
			continue;
		if (run_mode((enum mode)m, &o, &results[n], err, sizeof(err))) {
			fprintf(stderr, "zc-rpc-bench: %s: %s\n", mode_names[m], err);
			error = err;
			exit_code = 1;
			break;
		}
		n++;
	}
	print_table(results, n, &o, &uts, struct_size);
	if (o.json && write_json(o.json, results, n, &o, &uts, struct_size,
				 error, NULL, exit_code))
		return 1;
	return exit_code;
}
