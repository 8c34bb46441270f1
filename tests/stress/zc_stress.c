// SPDX-License-Identifier: GPL-2.0
/*
 * zc-stress - data integrity of the TCP receive path under stress.
 *
 * The 5.10 backport splits tcp_recvmsg() into tcp_recvmsg_locked(), which
 * every TCP read goes through, and lets getsockopt(TCP_ZEROCOPY_RECEIVE)
 * copy small reads with it.  This program runs several sender/receiver
 * pairs over IPv4 and IPv6 loopback and checks that no byte is lost,
 * duplicated, reordered or altered, whatever mix of receive calls reads the
 * stream:
 *
 *   recv       blocking recv() of a random length
 *   nonblock   recv(MSG_DONTWAIT), poll() on EAGAIN
 *   peek       recv(MSG_PEEK) then recv() of the same length: same bytes
 *   oob        recv(MSG_OOB) must fail with EINVAL (SO_OOBINLINE: urgent
 *              bytes the sender marks stay in the stream)
 *   zc_mmap    TCP_ZEROCOPY_RECEIVE into a mapping of the socket, no copy
 *              buffer; mapped bytes, then recv() of recv_skip_hint
 *   zc_hybrid  the same with a copy buffer of random size (1 B..64 KiB)
 *
 * The sender writes messages of random size (1 B..256 KiB) in random chunks,
 * some with MSG_OOB (the last byte becomes urgent, inline at the receiver),
 * some with MSG_ZEROCOPY from a fresh mapping.  Each message is a 32 byte
 * header (magic, pair, session, sequence number, length, CRC-32 of the
 * payload) and a payload that is a pseudo-random function of (seed, pair,
 * session, sequence): the receiver recomputes every byte and the CRC.
 *
 * Per receiver, a chaos thread keeps changing the address space while the
 * receiver's calls run: it mprotect()s the copy buffer read-only and back
 * (the kernel's copy then fails with EFAULT, possibly after a partial copy,
 * which must not lose bytes), maps, unmaps and mprotect()s scratch regions
 * (mmap_lock contention with the VMA lookup), and between calls replaces the
 * copy buffer and the socket mapping with new ones.  Sessions end at random
 * points: the sender closes or shuts down after a random number of
 * messages, or the receiver aborts with shutdown() or close() while the
 * sender is still writing; then only the prefix received is checked, and
 * for a clean end the stream must end exactly after the sender's last
 * message.
 *
 * Bounded by --duration and --messages; reproducible choices from --seed
 * (printed; thread scheduling is not reproducible).  TAP 13 on stdout, one
 * test point per pair; --json FILE.  Exit 0: no integrity error, 1: an
 * error, 2: usage, 4: skipped (no loopback TCP, or TCP_ZEROCOPY_RECEIVE
 * unknown to the kernel).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../lib/zc_common.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_USAGE 2
#define KSFT_SKIP 4

#define MAGIC 0x7a637374u	/* "zcst" */
#define HDR_LEN 32
#define MAX_MSG (256 * 1024)
#define MAP_LEN (512 * 1024)	/* socket mapping per receiver */
#define MAX_COPYBUF (64 * 1024)
#define SCRATCH 8		/* scratch regions per chaos thread */
/*
 * No byte for this long while the sender is still writing: a stall.  Long,
 * for debug kernels under TCG.
 */
#define STALL_MS 30000

enum mode { M_RECV, M_NONBLOCK, M_PEEK, M_OOB, M_ZC_MMAP, M_ZC_HYBRID, NR_MODES };

static const char *const mode_names[NR_MODES] = {
	"recv", "nonblock", "peek", "oob", "zc_mmap", "zc_hybrid",
};

/* ------------------------------------------------------------------ */
/* random numbers and payload                                           */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t rnd(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + splitmix(s) % (hi - lo + 1);
}

/* Log-uniform in [1, max]: as many tiny reads and messages as big ones. */
static size_t rnd_size(uint64_t *s, size_t max)
{
	unsigned int bits = (unsigned int)rnd(s, 0, 63 - __builtin_clzll(max));
	uint64_t hi = (1ULL << (bits + 1)) - 1;

	if (hi > max)
		hi = max;
	return (size_t)rnd(s, 1ULL << bits, hi);
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		for (c = i, j = 0; j < 8; j++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* Payload byte generator of one message: 8 bytes per step. */
struct gen {
	uint64_t state, word;
	unsigned int left;
};

static void gen_init(struct gen *g, uint64_t seed, uint32_t pair,
		     uint32_t session, uint32_t seq)
{
	g->state = seed ^ ((uint64_t)pair << 48) ^ ((uint64_t)session << 32) ^ seq;
	splitmix(&g->state);
	g->left = 0;
}

static uint8_t gen_byte(struct gen *g)
{
	uint8_t b;

	if (!g->left) {
		g->word = splitmix(&g->state);
		g->left = 8;
	}
	b = (uint8_t)g->word;
	g->word >>= 8;
	g->left--;
	return b;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------ */
/* options, time, results                                               */

static struct {
	unsigned int pairs;
	unsigned int duration;
	unsigned long messages;	/* per pair, 0: until the duration ends */
	uint64_t seed;
	bool quiet;
	const char *json;
} opt = { .pairs = 4, .duration = 60 };

static atomic_bool stop_all;
static bool zc_supported;
static long long t_end_ms;
static size_t page_size;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000,
			       .tv_nsec = (us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static bool time_up(void)
{
	return atomic_load(&stop_all) || now_ms() >= t_end_ms;
}

struct stats {
	uint64_t bytes;			/* verified bytes (headers + payloads) */
	uint64_t reads;			/* receive calls that returned data */
	uint64_t calls[NR_MODES];	/* receive calls per mode */
	uint64_t mode_bytes[NR_MODES];	/* bytes per mode */
	uint64_t mapped;		/* bytes read from the socket mapping */
	uint64_t copied;		/* bytes read from the copy buffer */
	uint64_t efault;		/* zerocopy calls refused with EFAULT */
	uint64_t einval;		/* zerocopy calls refused with EINVAL */
	uint64_t messages;		/* messages verified complete */
	uint64_t sessions, aborted;	/* connections; ended by the receiver */
	uint64_t sent_oob, sent_zc;	/* sender: MSG_OOB, MSG_ZEROCOPY sends */
	uint64_t chaos_ops;		/* mmap/munmap/mprotect calls */
	uint64_t errors;
};

struct pair {
	unsigned int id;
	int family;
	uint64_t rng;			/* receiver and session choices */
	struct stats st;
	char error[512];		/* the first integrity error */
	char setup_skip[256];
	pthread_mutex_t lock;		/* serialises replacement of the buffers */
	uint8_t *map;			/* MAP_LEN mapping of the socket */
	uint8_t *copybuf;		/* MAX_COPYBUF bytes */
	int fd;				/* receiving socket of the session */
	atomic_bool session_live;	/* the chaos thread may act */
	atomic_bool finished;		/* the pair is done: chaos stops */
};

static void pair_error(struct pair *p, const char *fmt, ...)
	__printf(2, 3);

static void pair_error(struct pair *p, const char *fmt, ...)
{
	va_list ap;

	p->st.errors++;
	if (p->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* stream verifier                                                      */

struct verifier {
	struct pair *p;
	uint32_t session;
	uint32_t seq;		/* next message expected */
	uint8_t hdr[HDR_LEN];
	size_t hdr_have;
	uint32_t len, crc_want, crc, got;	/* current payload */
	struct gen g;
	uint64_t offset;	/* stream offset of the next byte */
	bool bad;
};

/* Feed @n received bytes; false at the first wrong byte. */
static bool verify(struct verifier *v, const uint8_t *buf, size_t n)
{
	while (n && !v->bad) {
		if (v->hdr_have < HDR_LEN) {
			size_t k = HDR_LEN - v->hdr_have;

			if (k > n)
				k = n;
			memcpy(v->hdr + v->hdr_have, buf, k);
			v->hdr_have += k;
			buf += k;
			n -= k;
			v->offset += k;
			if (v->hdr_have < HDR_LEN)
				break;
			if (get32(v->hdr) != MAGIC || get32(v->hdr + 4) != v->p->id ||
			    get32(v->hdr + 8) != v->session ||
			    get32(v->hdr + 12) != v->seq ||
			    get32(v->hdr + 16) == 0 || get32(v->hdr + 16) > MAX_MSG) {
				pair_error(v->p, "session %u: bad header at stream offset %llu: magic 0x%08x pair %u session %u seq %u len %u; expected pair %u session %u seq %u",
					   v->session,
					   (unsigned long long)(v->offset - HDR_LEN),
					   get32(v->hdr), get32(v->hdr + 4),
					   get32(v->hdr + 8), get32(v->hdr + 12),
					   get32(v->hdr + 16), v->p->id, v->session,
					   v->seq);
				v->bad = true;
				return false;
			}
			v->len = get32(v->hdr + 16);
			v->crc_want = get32(v->hdr + 20);
			v->crc = 0xffffffffu;
			v->got = 0;
			gen_init(&v->g, opt.seed, v->p->id, v->session, v->seq);
			continue;
		}
		while (n && v->got < v->len) {
			uint8_t want = gen_byte(&v->g);

			if (*buf != want) {
				pair_error(v->p, "session %u message %u: payload byte %u (stream offset %llu) is 0x%02x, sent 0x%02x",
					   v->session, v->seq, v->got,
					   (unsigned long long)v->offset, *buf,
					   want);
				v->bad = true;
				return false;
			}
			v->crc = crc32_update(v->crc, buf, 1);
			v->got++;
			v->offset++;
			buf++;
			n--;
		}
		if (v->got == v->len) {
			if ((v->crc ^ 0xffffffffu) != v->crc_want) {
				pair_error(v->p, "session %u message %u: CRC-32 0x%08x, header says 0x%08x",
					   v->session, v->seq,
					   v->crc ^ 0xffffffffu, v->crc_want);
				v->bad = true;
				return false;
			}
			v->p->st.messages++;
			v->seq++;
			v->hdr_have = 0;
		}
	}
	return !v->bad;
}

/* ------------------------------------------------------------------ */
/* sender                                                               */

struct sender {
	struct pair *p;
	int fd;
	uint32_t session;
	uint64_t rng;
	unsigned long nmsg;	/* messages to send, then end the session */
	bool use_zc;
	atomic_uint sent_msgs;	/* complete messages written */
	atomic_bool done;
	int how;		/* 0: close, 1: shutdown(SHUT_WR) then close */
	int err;
};

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

/* Write @len bytes in random chunks and flags; false on a send error. */
static bool send_chunks(struct sender *s, const uint8_t *buf, size_t len)
{
	while (len) {
		size_t chunk = rnd_size(&s->rng, len);
		unsigned int r = (unsigned int)rnd(&s->rng, 0, 99);
		int flags = MSG_NOSIGNAL;
		uint8_t *zbuf = NULL;
		size_t zlen = 0;
		ssize_t n;
		int e;

		if (r < 3) {
			flags |= MSG_OOB;	/* last byte urgent, inline */
			s->p->st.sent_oob++;
		} else if (r < 20 && s->use_zc && chunk >= page_size) {
			/*
			 * A fresh mapping per send: the pinned pages are never
			 * rewritten, so unmapping at once is safe.
			 */
			zlen = (chunk + page_size - 1) & ~(page_size - 1);
			zbuf = mmap(NULL, zlen, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (zbuf == MAP_FAILED) {
				zbuf = NULL;
			} else {
				memcpy(zbuf, buf, chunk);
				flags |= MSG_ZEROCOPY;
			}
		}
		n = send(s->fd, zbuf ? zbuf : buf, chunk, flags);
		if (n < 0 && errno == ENOBUFS && zbuf) {
			drain_errqueue(s->fd);
			n = send(s->fd, buf, chunk, MSG_NOSIGNAL);
		} else if (zbuf && n > 0) {
			s->p->st.sent_zc++;
		}
		e = errno;	/* before munmap() and recvmsg() change it */
		if (zbuf)
			munmap(zbuf, zlen);
		if (s->use_zc)
			drain_errqueue(s->fd);
		if (n < 0) {
			if (e == EINTR || (e == EAGAIN && !time_up()))
				continue;
			s->err = e;
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint8_t *msg = malloc(HDR_LEN + MAX_MSG);
	uint32_t seq;

	if (!msg) {
		s->err = ENOMEM;
		goto out;
	}
	for (seq = 0; seq < s->nmsg && !time_up(); seq++) {
		size_t len = rnd_size(&s->rng, MAX_MSG), i;
		struct gen g;

		gen_init(&g, opt.seed, s->p->id, s->session, seq);
		for (i = 0; i < len; i++)
			msg[HDR_LEN + i] = gen_byte(&g);
		put32(msg, MAGIC);
		put32(msg + 4, s->p->id);
		put32(msg + 8, s->session);
		put32(msg + 12, seq);
		put32(msg + 16, (uint32_t)len);
		put32(msg + 20, crc32_update(0xffffffffu, msg + HDR_LEN, len) ^
				0xffffffffu);
		memset(msg + 24, 0, 8);
		if (!send_chunks(s, msg, HDR_LEN + len))
			break;
		atomic_store(&s->sent_msgs, seq + 1);
	}
out:
	free(msg);
	/* End of the stream: FIN by shutdown() or by close(). */
	if (s->how)
		shutdown(s->fd, SHUT_WR);
	else
		close(s->fd);
	atomic_store(&s->done, true);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* chaos thread: the address space changes under the receiver's calls   */

static void *chaos_main(void *arg)
{
	struct pair *p = arg;
	uint64_t rng = p->rng ^ 0xc4a05ULL;
	void *scratch[SCRATCH] = { NULL };
	size_t slen = 4 * page_size;
	unsigned int i;

	while (!time_up() && !atomic_load(&p->finished)) {
		unsigned int r = (unsigned int)rnd(&rng, 0, 99);

		sleep_us((long)rnd(&rng, 0, 2000));
		p->st.chaos_ops++;
		if (r < 25) {
			/*
			 * Races the kernel's copy: EFAULT or a partial copy.
			 * Only this thread replaces the copy buffer, so the
			 * pointer is current without the lock.
			 */
			mprotect(p->copybuf, MAX_COPYBUF, PROT_READ);
			sleep_us((long)rnd(&rng, 0, 500));
			mprotect(p->copybuf, MAX_COPYBUF, PROT_READ | PROT_WRITE);
		} else if (r < 35) {
			uint8_t *nb, *nm;

			/*
			 * New buffers between the receiver's calls (it makes
			 * them and reads their contents under the lock).
			 */
			pthread_mutex_lock(&p->lock);
			nb = mmap(NULL, MAX_COPYBUF, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (nb != MAP_FAILED) {
				munmap(p->copybuf, MAX_COPYBUF);
				p->copybuf = nb;
			}
			if (atomic_load(&p->session_live)) {
				nm = mmap(NULL, MAP_LEN, PROT_READ, MAP_SHARED,
					  p->fd, 0);
				if (nm != MAP_FAILED) {
					munmap(p->map, MAP_LEN);
					p->map = nm;
				}
			}
			pthread_mutex_unlock(&p->lock);
		} else {
			/* mmap_lock writers next to the receiver's lookups. */
			i = (unsigned int)rnd(&rng, 0, SCRATCH - 1);
			if (scratch[i]) {
				if (r < 70)
					mprotect(scratch[i], page_size,
						 r & 1 ? PROT_READ : PROT_NONE);
				munmap(scratch[i], slen);
				scratch[i] = NULL;
			} else {
				scratch[i] = mmap(NULL, slen, PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (scratch[i] == MAP_FAILED)
					scratch[i] = NULL;
				else
					memset(scratch[i], 1, slen);
			}
		}
	}
	for (i = 0; i < SCRATCH; i++)
		if (scratch[i])
			munmap(scratch[i], slen);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* receiver                                                             */

static int wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms);
}

/*
 * One receive call in mode @m; feeds the verifier.  Returns bytes read,
 * 0 at end of stream, -1 on a socket error (session over), -2 on an
 * integrity error.
 */
static ssize_t receive_once(struct pair *p, struct verifier *v, enum mode m,
			    uint8_t *buf)
{
	size_t want = rnd_size(&p->rng, MAX_MSG);
	struct stats *st = &p->st;
	ssize_t n, total = 0;

	st->calls[m]++;
	switch (m) {
	case M_RECV:
		n = recv(p->fd, buf, want, 0);
		break;
	case M_NONBLOCK:
		n = recv(p->fd, buf, want, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			wait_readable(p->fd, 100);
			return 1;	/* not an end; nothing read */
		}
		break;
	case M_PEEK: {
		uint8_t *again = buf + MAX_MSG;
		ssize_t k;

		n = recv(p->fd, buf, want, MSG_PEEK);
		if (n <= 0)
			break;
		/* recv() stops at an urgent mark even with MSG_WAITALL. */
		for (k = 0; k < n;) {
			ssize_t got = recv(p->fd, again + k, (size_t)(n - k), 0);

			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				pair_error(p, "session %u: recv() of %zd bytes just peeked at stream offset %llu returned %zd (%s)",
					   v->session, n - k,
					   (unsigned long long)v->offset, got,
					   got ? strerror(errno) : "end of stream");
				return -2;
			}
			k += got;
		}
		if (memcmp(buf, again, (size_t)n)) {
			pair_error(p, "session %u: the %zd bytes received after MSG_PEEK differ from the peeked ones at stream offset %llu",
				   v->session, n, (unsigned long long)v->offset);
			return -2;
		}
		break;
	}
	case M_OOB: {
		char c;

		n = recv(p->fd, &c, 1, MSG_OOB | MSG_DONTWAIT);
		if (n >= 0) {
			pair_error(p, "session %u: recv(MSG_OOB) returned %zd with SO_OOBINLINE set: an urgent byte left the stream",
				   v->session, n);
			return -2;
		}
		if (errno != EINVAL && errno != EAGAIN && errno != ENOTCONN) {
			if (errno == ECONNRESET || errno == EPIPE)
				return -1;
			pair_error(p, "session %u: recv(MSG_OOB): %s, expected EINVAL",
				   v->session, strerror(errno));
			return -2;
		}
		return 1;
	}
	case M_ZC_MMAP:
	case M_ZC_HYBRID: {
		struct zc_rx zc;
		socklen_t optlen;
		size_t cb = m == M_ZC_HYBRID ? rnd_size(&p->rng, MAX_COPYBUF) : 0;
		int ret;

		if (wait_readable(p->fd, 100) <= 0)
			return 1;
		pthread_mutex_lock(&p->lock);
		zc_rx_init(&zc, p->map, MAP_LEN, cb ? p->copybuf : NULL, cb);
		ret = zc_rx_call(p->fd, &zc, &optlen);
		if (ret) {
			int e = errno;

			pthread_mutex_unlock(&p->lock);
			if (e == EFAULT) {
				st->efault++;
				return 1;
			}
			if (e == EINVAL) {
				st->einval++;
				return 1;
			}
			if (e == EIO)
				return 0;	/* end of stream */
			errno = e;
			return -1;
		}
		if (zc.length) {
			if (!verify(v, p->map, zc.length)) {
				pthread_mutex_unlock(&p->lock);
				return -2;
			}
			st->mapped += zc.length;
			total += zc.length;
		}
		if (cb && zc.copybuf_len > 0) {
			if ((size_t)zc.copybuf_len > cb) {
				pthread_mutex_unlock(&p->lock);
				pair_error(p, "session %u: copybuf_len %d > the %zu offered",
					   v->session, zc.copybuf_len, cb);
				return -2;
			}
			if (!verify(v, p->copybuf, (size_t)zc.copybuf_len)) {
				pthread_mutex_unlock(&p->lock);
				return -2;
			}
			st->copied += (size_t)zc.copybuf_len;
			total += zc.copybuf_len;
		} else if (cb && zc.copybuf_len < 0) {
			if (zc.copybuf_len == -EFAULT)
				st->efault++;
		}
		pthread_mutex_unlock(&p->lock);
		if (zc.recv_skip_hint) {
			size_t k = zc.recv_skip_hint < MAX_MSG ? zc.recv_skip_hint : MAX_MSG;

			n = recv(p->fd, buf, k, MSG_DONTWAIT);
			if (n > 0) {
				if (!verify(v, buf, (size_t)n))
					return -2;
				total += n;
			} else if (n < 0 && errno != EAGAIN) {
				return -1;
			}
		}
		if (total) {
			st->reads++;
			st->mode_bytes[m] += (uint64_t)total;
			st->bytes += (uint64_t)total;
		}
		return total ? total : 1;
	}
	default:
		return -2;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	if (n == 0)
		return 0;
	if (!verify(v, buf, (size_t)n))
		return -2;
	st->reads++;
	st->mode_bytes[m] += (uint64_t)n;
	st->bytes += (uint64_t)n;
	return n;
}

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(struct sockaddr_in);
}

/* A connected pair: *cli the sender, *srv the receiver.  0 or -1. */
static int connect_pair(int family, int *cli, int *srv, char *why, size_t wl)
{
	struct sockaddr_storage ss;
	socklen_t sl = loopback(family, &ss);
	int l, c = -1, s = -1;

	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&ss, sl) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&ss, &sl)) {
		snprintf(why, wl, "%s listener: %s",
			 family == AF_INET6 ? "::1" : "127.0.0.1", strerror(errno));
		goto err;
	}
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || set_timeouts(c, IO_TIMEOUT_MS) ||
	    connect(c, (struct sockaddr *)&ss, sl)) {
		snprintf(why, wl, "connect: %s", strerror(errno));
		goto err;
	}
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || set_timeouts(s, IO_TIMEOUT_MS) ||
	    set_int_opt(s, SOL_SOCKET, SO_OOBINLINE, 1)) {
		snprintf(why, wl, "accept: %s", strerror(errno));
		goto err;
	}
	close(l);
	*cli = c;
	*srv = s;
	return 0;
err:
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	return -1;
}

/* One connection: returns false on an integrity or setup error. */
static bool run_session(struct pair *p, uint32_t session, uint8_t *buf)
{
	struct verifier v = { .p = p, .session = session };
	struct sender s = { .p = p, .session = session };
	unsigned long abort_after = 0, calls;
	bool ok = true, aborted = false, eof = false;
	char why[256];
	pthread_t th;
	int cli, e;

	if (connect_pair(p->family, &cli, &p->fd, why, sizeof(why))) {
		pair_error(p, "session %u: %s", session, why);
		return false;
	}
	s.fd = cli;
	s.rng = p->rng ^ ((uint64_t)session << 20) ^ 0x5e9dULL;
	s.nmsg = rnd(&p->rng, 1, 64);
	if (opt.messages && s.nmsg > opt.messages - p->st.messages)
		s.nmsg = opt.messages - p->st.messages;
	if (!s.nmsg)
		s.nmsg = 1;
	s.how = (int)rnd(&p->rng, 0, 1);
	s.use_zc = rnd(&p->rng, 0, 1) && !set_int_opt(cli, SOL_SOCKET, SO_ZEROCOPY, 1);
	if (rnd(&p->rng, 0, 1))
		set_int_opt(cli, IPPROTO_TCP, TCP_NODELAY, 1);
	/* One session in eight is ended by the receiver at a random point. */
	if (rnd(&p->rng, 0, 7) == 0)
		abort_after = (unsigned long)rnd(&p->rng, 1, 200);

	p->map = mmap(NULL, MAP_LEN, PROT_READ, MAP_SHARED, p->fd, 0);
	if (p->map == MAP_FAILED) {
		pair_error(p, "session %u: mmap: %s", session, strerror(errno));
		ok = false;
		goto out_unmap;
	}
	e = pthread_create(&th, NULL, sender_main, &s);
	if (e) {
		pair_error(p, "session %u: pthread_create: %s", session, strerror(e));
		ok = false;
		goto out_unmap;
	}
	atomic_store(&p->session_live, true);
	for (calls = 0; !eof; calls++) {
		enum mode m = (enum mode)rnd(&p->rng, 0, NR_MODES - 1);
		ssize_t n;

		if ((m == M_ZC_MMAP || m == M_ZC_HYBRID) && !zc_supported)
			m = M_RECV;
		if ((abort_after && calls == abort_after) || time_up()) {
			/* Receiver ends the session while the sender writes. */
			if (rnd(&p->rng, 0, 1))
				shutdown(p->fd, SHUT_RDWR);
			aborted = true;
			break;
		}
		if (m == M_RECV && wait_readable(p->fd, STALL_MS) <= 0 &&
		    !atomic_load(&s.done)) {
			pair_error(p, "session %u: nothing to read for %d ms at stream offset %llu",
				   session, STALL_MS,
				   (unsigned long long)v.offset);
			ok = false;
			break;
		}
		n = receive_once(p, &v, m, buf);
		if (n == -2) {
			ok = false;
			break;
		}
		if (n == 0) {
			eof = true;
		} else if (n == -1) {
			if (errno == EAGAIN && !atomic_load(&s.done))
				continue;
			/* An error without an abort: the sender failed first. */
			aborted = true;
			break;
		}
	}
	/*
	 * The mapping holds a reference to the socket: unmap it first, so
	 * that close() really closes and an aborted session resets the
	 * sender instead of leaving it blocked in send().
	 */
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->session_live, false);
	munmap(p->map, MAP_LEN);
	p->map = MAP_FAILED;
	pthread_mutex_unlock(&p->lock);
	if (aborted)
		p->st.aborted++;
	if (!eof) {
		close(p->fd);	/* unblocks the sender (RST or EPIPE) */
		p->fd = -1;
	}
	pthread_join(th, NULL);
	if (s.how)
		close(cli);
	if (ok && eof) {
		unsigned int sent = atomic_load(&s.sent_msgs);

		if (s.err) {
			pair_error(p, "session %u: sender: %s", session,
				   strerror(s.err));
			ok = false;
		} else if (v.hdr_have || v.got != v.len || v.seq != sent) {
			pair_error(p, "session %u: end of stream after %u complete messages (and %zu header bytes), the sender wrote %u",
				   session, v.seq, v.hdr_have, sent);
			ok = false;
		}
	}
	p->st.sessions++;
out_unmap:
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->session_live, false);
	if (p->map != MAP_FAILED)
		munmap(p->map, MAP_LEN);
	p->map = MAP_FAILED;
	pthread_mutex_unlock(&p->lock);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	return ok;
}

static void *pair_main(void *arg)
{
	struct pair *p = arg;
	uint8_t *buf = malloc(2 * MAX_MSG);
	pthread_t chaos;
	uint32_t session;
	bool chaos_on;

	p->fd = -1;
	p->copybuf = mmap(NULL, MAX_COPYBUF, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!buf || p->copybuf == MAP_FAILED) {
		pair_error(p, "out of memory");
		free(buf);
		return NULL;
	}
	chaos_on = !pthread_create(&chaos, NULL, chaos_main, p);
	for (session = 0; !time_up(); session++) {
		if (opt.messages && p->st.messages >= opt.messages)
			break;
		if (!run_session(p, session, buf))
			break;
	}
	if (p->st.errors)
		atomic_store(&stop_all, true);
	atomic_store(&p->finished, true);
	if (chaos_on)
		pthread_join(chaos, NULL);
	munmap(p->copybuf, MAX_COPYBUF);
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* driver                                                               */

/* ENOPROTOOPT from a connected socket: the kernel lacks the option. */
static int probe_zc(char *why, size_t wl)
{
	struct zc_rx zc;
	socklen_t optlen;
	int cli, srv, ret, e;

	if (connect_pair(AF_INET, &cli, &srv, why, wl))
		return -1;
	zc_rx_init(&zc, NULL, 0, NULL, 0);
	ret = zc_rx_call(srv, &zc, &optlen);
	e = errno;
	close(cli);
	close(srv);
	return ret && e == ENOPROTOOPT ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zc-stress [--duration SECONDS] [--pairs N] [--messages N]\n"
		"                 [--seed N] [--json FILE] [--quiet]\n"
		"       zc-stress --help | --version\n"
		"\n"
		"Data integrity stress of the TCP receive path: N sender/receiver pairs\n"
		"(IPv4 and IPv6 alternately) with random message sizes and random\n"
		"receive modes (recv, MSG_DONTWAIT, MSG_PEEK, MSG_OOB, mmap zerocopy,\n"
		"hybrid zerocopy), concurrent mmap/munmap/mprotect and random session\n"
		"ends.  Every byte is verified.  TAP 13 on stdout.\n"
		"\n"
		"  -d, --duration SECONDS  run time (default 60; 1..86400)\n"
		"  -p, --pairs N           sender/receiver pairs (default 4; 1..64)\n"
		"  -m, --messages N        stop each pair after N messages (default: none)\n"
		"  -s, --seed N            seed of every random choice (default: from the clock)\n"
		"  --json FILE             also write the results as JSON to FILE\n"
		"  -q, --quiet             only the TAP plan and result lines\n"
		"\n"
		"Exit status: 0 no integrity error, 1 an error, 2 usage error,\n"
		"4 skipped (no loopback TCP, or TCP_ZEROCOPY_RECEIVE unsupported).\n");
}

static bool parse_ul(const char *arg, unsigned long lo, unsigned long hi,
		     unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(arg, &end, 0);
	return !errno && end != arg && !*end && *v >= lo && *v <= hi;
}

static void json_stats(FILE *f, const struct stats *st)
{
	unsigned int m;

	fprintf(f, "\"bytes_verified\": %llu, \"reads\": %llu, \"messages\": %llu, \"sessions\": %llu, \"aborted_sessions\": %llu, \"mapped_bytes\": %llu, \"copied_bytes\": %llu, \"efault\": %llu, \"einval\": %llu, \"sent_oob\": %llu, \"sent_zerocopy\": %llu, \"chaos_ops\": %llu, \"errors\": %llu, \"calls\": {",
		(unsigned long long)st->bytes, (unsigned long long)st->reads,
		(unsigned long long)st->messages,
		(unsigned long long)st->sessions,
		(unsigned long long)st->aborted,
		(unsigned long long)st->mapped, (unsigned long long)st->copied,
		(unsigned long long)st->efault, (unsigned long long)st->einval,
		(unsigned long long)st->sent_oob,
		(unsigned long long)st->sent_zc,
		(unsigned long long)st->chaos_ops,
		(unsigned long long)st->errors);
	for (m = 0; m < NR_MODES; m++)
		fprintf(f, "%s\"%s\": %llu", m ? ", " : "", mode_names[m],
			(unsigned long long)st->calls[m]);
	fputs("}, \"mode_bytes\": {", f);
	for (m = 0; m < NR_MODES; m++)
		fprintf(f, "%s\"%s\": %llu", m ? ", " : "", mode_names[m],
			(unsigned long long)st->mode_bytes[m]);
	fputs("}", f);
}

static void add_stats(struct stats *t, const struct stats *s)
{
	unsigned int m;

	t->bytes += s->bytes;
	t->reads += s->reads;
	for (m = 0; m < NR_MODES; m++) {
		t->calls[m] += s->calls[m];
		t->mode_bytes[m] += s->mode_bytes[m];
	}
	t->mapped += s->mapped;
	t->copied += s->copied;
	t->efault += s->efault;
	t->einval += s->einval;
	t->messages += s->messages;
	t->sessions += s->sessions;
	t->aborted += s->aborted;
	t->sent_oob += s->sent_oob;
	t->sent_zc += s->sent_zc;
	t->chaos_ops += s->chaos_ops;
	t->errors += s->errors;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "pairs", required_argument, NULL, 'p' },
		{ "messages", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct stats total = { 0 };
	struct pair *pairs = NULL;
	pthread_t *threads = NULL;
	bool seeded = false, v6 = true;
	struct utsname uts;
	unsigned long v;
	long long t0;
	unsigned int i, npass = 0;
	FILE *json = NULL;
	char why[256];
	int o, rc;

	while ((o = getopt_long(argc, argv, "d:p:m:s:qhV", longopts, NULL)) != -1) {
		switch (o) {
		case 'd':
			if (!parse_ul(optarg, 1, 86400, &v))
				goto bad;
			opt.duration = (unsigned int)v;
			break;
		case 'p':
			if (!parse_ul(optarg, 1, 64, &v))
				goto bad;
			opt.pairs = (unsigned int)v;
			break;
		case 'm':
			if (!parse_ul(optarg, 1, ~0UL, &v))
				goto bad;
			opt.messages = v;
			break;
		case 's':
			if (!parse_ul(optarg, 0, ~0UL, &v))
				goto bad;
			opt.seed = v;
			seeded = true;
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("zc-stress %s\n", ZC_VERSION);
			return 0;
		default:
			usage(stderr);
			return KSFT_USAGE;
		}
		continue;
bad:
		fprintf(stderr, "zc-stress: bad value '%s' for -%c (see --help)\n",
			optarg, o);
		return KSFT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "zc-stress: unexpected argument '%s'\n", argv[optind]);
		return KSFT_USAGE;
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		opt.seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
		opt.seed &= 0xffffffffffffULL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	crc_init();
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	uname(&uts);
	if (opt.json) {
		json = json_report_open("zc-stress", opt.json, &uts);
		if (!json)
			return KSFT_USAGE;
	}
	printf("TAP version 13\n");
	printf("# zc-stress %s on Linux %s %s: seed %llu, %u pairs, %u s%s\n",
	       ZC_VERSION, uts.release, uts.machine,
	       (unsigned long long)opt.seed, opt.pairs, opt.duration,
	       opt.messages ? ", bounded by --messages" : "");
	printf("# reproduce the choices with: zc-stress --seed %llu --pairs %u --duration %u%s\n",
	       (unsigned long long)opt.seed, opt.pairs, opt.duration,
	       opt.messages ? " --messages ..." : "");
	rc = probe_zc(why, sizeof(why));
	if (rc <= 0) {
		printf("1..0 # SKIP %s\n", rc < 0 ? why :
		       "TCP_ZEROCOPY_RECEIVE not supported by this kernel");
		if (json) {
			fputs(",\n  \"skip_reason\": ", json);
			json_string(json, rc < 0 ? why : "TCP_ZEROCOPY_RECEIVE not supported");
			fputs(",\n  \"exit\": 4\n}\n", json);
			json_report_close("zc-stress", opt.json, json);
		}
		return KSFT_SKIP;
	}
	zc_supported = true;
	{
		int fd = socket(AF_INET6, SOCK_STREAM, 0);
		struct sockaddr_storage ss;
		socklen_t sl = loopback(AF_INET6, &ss);

		if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl)) {
			v6 = false;
			printf("# IPv6 loopback unavailable (%s): every pair uses IPv4\n",
			       strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	pairs = calloc(opt.pairs, sizeof(*pairs));
	threads = calloc(opt.pairs, sizeof(*threads));
	if (!pairs || !threads) {
		printf("Bail out! out of memory\n");
		return KSFT_FAIL;
	}
	printf("1..%u\n", opt.pairs + 1);
	t0 = now_ms();
	t_end_ms = t0 + 1000LL * opt.duration;
	for (i = 0; i < opt.pairs; i++) {
		struct pair *p = &pairs[i];
		uint64_t s = opt.seed ^ (0x1000ULL * (i + 1));

		p->id = i;
		p->family = v6 && (i & 1) ? AF_INET6 : AF_INET;
		p->rng = splitmix(&s);
		pthread_mutex_init(&p->lock, NULL);
		if (pthread_create(&threads[i], NULL, pair_main, p)) {
			printf("Bail out! pthread_create: %s\n", strerror(errno));
			return KSFT_FAIL;
		}
	}
	for (i = 0; i < opt.pairs; i++)
		pthread_join(threads[i], NULL);

	for (i = 0; i < opt.pairs; i++) {
		const struct pair *p = &pairs[i];
		const struct stats *st = &p->st;
		bool ok = !st->errors && st->bytes > 0;

		add_stats(&total, st);
		if (!opt.quiet)
			printf("# pair %u %s: %llu bytes in %llu reads, %llu messages, %llu sessions (%llu ended by the receiver), %llu mapped, %llu copied, %llu EFAULT\n",
			       i, p->family == AF_INET6 ? "IPv6" : "IPv4",
			       (unsigned long long)st->bytes,
			       (unsigned long long)st->reads,
			       (unsigned long long)st->messages,
			       (unsigned long long)st->sessions,
			       (unsigned long long)st->aborted,
			       (unsigned long long)st->mapped,
			       (unsigned long long)st->copied,
			       (unsigned long long)st->efault);
		if (st->errors)
			printf("# pair %u: %s (%llu errors)\n", i, p->error,
			       (unsigned long long)st->errors);
		else if (!st->bytes)
			printf("# pair %u: no byte was received\n", i);
		printf("%s %u pair_%u_%s\n", ok ? "ok" : "not ok", i + 1, i,
		       p->family == AF_INET6 ? "v6" : "v4");
		npass += ok;
	}
	{
		bool all_modes = true;
		unsigned int m;

		for (m = 0; m < NR_MODES; m++)
			if (!total.calls[m])
				all_modes = false;
		if (!all_modes)
			printf("# not every receive mode was used\n");
		printf("%s %u all_receive_modes\n", all_modes ? "ok" : "not ok",
		       opt.pairs + 1);
		npass += all_modes;
	}
	if (!opt.quiet)
		printf("# total: %llu bytes verified in %llu reads, %llu messages, %.1f s\n",
		       (unsigned long long)total.bytes,
		       (unsigned long long)total.reads,
		       (unsigned long long)total.messages,
		       (now_ms() - t0) / 1000.0);
	rc = npass == opt.pairs + 1 ? KSFT_PASS : KSFT_FAIL;
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       npass, opt.pairs + 1 - npass);
	if (json) {
		fprintf(json, ",\n  \"seed\": %llu,\n  \"pairs\": %u,\n  \"duration_s\": %u,\n  \"elapsed_ms\": %lld,\n  \"messages_limit\": %lu,\n  \"per_pair\": [",
			(unsigned long long)opt.seed, opt.pairs, opt.duration,
			now_ms() - t0, opt.messages);
		for (i = 0; i < opt.pairs; i++) {
			fprintf(json, "%s\n    {\"pair\": %u, \"family\": \"%s\", ",
				i ? "," : "", i,
				pairs[i].family == AF_INET6 ? "IPv6" : "IPv4");
			json_stats(json, &pairs[i].st);
			fputs(", \"error\": ", json);
			json_string(json, pairs[i].error);
			fputs("}", json);
		}
		fputs("\n  ],\n  \"total\": {", json);
		json_stats(json, &total);
		fprintf(json, "},\n  \"exit\": %d\n}\n", rc);
		if (json_report_close("zc-stress", opt.json, json))
			rc = KSFT_FAIL;
	}
	return rc;
}
