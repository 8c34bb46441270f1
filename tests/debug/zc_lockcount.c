// SPDX-License-Identifier: GPL-2.0
/*
 * zc-lockcount - count the VMA lookups and mmap_lock read acquisitions of
 * getsockopt(TCP_ZEROCOPY_RECEIVE) in the three small-read fast paths.
 *
 * The fix exists to save "the latency of acquiring mmap_sem in read mode".
 * zc-smoke proves there is no VMA *lookup* that matters (an anonymous
 * address is accepted); this program proves no lock is taken at all, with
 * an exact counter: the kernel's function tracer (ftrace), limited to this
 * process (set_ftrace_pid) and to the functions that look up a VMA or take a
 * rwsem for reading:
 *
 *   find_vma, lock_vma_under_rcu (per-VMA locks, 6.4+), vma_lookup,
 *   down_read, down_read_killable, down_read_interruptible,
 *   down_read_trylock (mmap_read_lock() and friends are inlines over these),
 *   __mmap_lock_do_trace_start_locking (6.x: called on every mmap_lock
 *   acquisition when its tracepoint is on; listed when present)
 *
 * For each case it runs --calls getsockopt() calls with tracing on and
 * nothing else (all memory touched and locked beforehand, so no page
 * fault takes the lock), then counts the traced calls:
 *
 *   inq_zero   nothing queued
 *   copybuf    300 bytes sent, copied by a 4096 byte copy buffer (per call)
 *   skip_hint  300 bytes queued, no copy buffer
 *
 * A kernel with the fix gives 0 in each case; without it every call takes
 * mmap_lock and looks the VMA up (>= --calls each).  A baseline with tracing
 * on and no call must be 0, or the counts are not attributable.
 *
 * TAP 13, one test point per case (ok: 0 lookups and 0 read locks); --json.
 * Exit 0 all cases 0, 1 a count above 0 or an error, 2 usage, 4 skipped (no
 * tracefs or no function tracer in the running kernel).  Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../lib/zc_common.h"

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_USAGE 2
#define KSFT_SKIP 4

static const char *const lookup_fns[] = {
	"find_vma", "lock_vma_under_rcu", "vma_lookup",
};
static const char *const lock_fns[] = {
	"down_read", "down_read_killable", "down_read_interruptible",
	"down_read_trylock", "__mmap_lock_do_trace_start_locking",
};
#define NR_LOOKUP ARRAY_SIZE(lookup_fns)
#define NR_LOCK ARRAY_SIZE(lock_fns)
#define NR_FNS (NR_LOOKUP + NR_LOCK)

static const char *fn_name(size_t i)
{
	return i < NR_LOOKUP ? lookup_fns[i] : lock_fns[i - NR_LOOKUP];
}

static char tdir[128];
static bool have_fn[NR_FNS];
static char *readbuf;
#define READBUF_LEN (8 << 20)

static int tfs_write(const char *file, const char *val, bool append)
{
	char path[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", tdir, file);
	fd = open(path, O_WRONLY | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -1;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -1;
	close(fd);
	return ret;
}

/* Read a tracefs file into readbuf; its length or -1. */
static ssize_t tfs_read(const char *file)
{
	char path[512];
	ssize_t n, len = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tdir, file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (len < READBUF_LEN - 1 &&
	       (n = read(fd, readbuf + len, READBUF_LEN - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	readbuf[len] = '\0';
	return len;
}

static bool find_tracefs(char *why, size_t wl)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	struct stat st;
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(tdir, sizeof(tdir), "%s/available_tracers", dirs[i]);
		if (!stat(tdir, &st)) {
			snprintf(tdir, sizeof(tdir), "%s", dirs[i]);
			return true;
		}
	}
	if (!mount("nodev", dirs[0], "tracefs", 0, NULL)) {
		snprintf(tdir, sizeof(tdir), "%s", dirs[0]);
		return true;
	}
	snprintf(why, wl, "no tracefs (mount on %s: %s)", dirs[0], strerror(errno));
	return false;
}

/* Traced calls per function in the trace buffer; -1 if entries were lost. */
static int count_trace(unsigned long *counts, char *why, size_t wl)
{
	unsigned long in_buf = 0, written = 0;
	char *line, *save = NULL, *p;
	size_t i;

	memset(counts, 0, NR_FNS * sizeof(*counts));
	if (tfs_read("trace") < 0) {
		snprintf(why, wl, "reading trace: %s", strerror(errno));
		return -1;
	}
	p = strstr(readbuf, "entries-in-buffer/entries-written: ");
	if (p && sscanf(p, "entries-in-buffer/entries-written: %lu/%lu",
			&in_buf, &written) == 2 && in_buf != written) {
		snprintf(why, wl, "the trace buffer lost entries (%lu of %lu kept)",
			 in_buf, written);
		return -1;
	}
	for (line = strtok_r(readbuf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f;

		if (line[0] == '#')
			continue;
		/* "  comm-pid  [cpu] flags  ts: function <-parent" */
		f = strstr(line, ": ");
		if (!f)
			continue;
		f += 2;
		for (i = 0; i < NR_FNS; i++) {
			size_t l = strlen(fn_name(i));

			if (!strncmp(f, fn_name(i), l) &&
			    (f[l] == ' ' || f[l] == '\0'))
				counts[i]++;
		}
	}
	return 0;
}

static int setup_tracer(char *why, size_t wl)
{
	char pid[32];
	size_t i, n = 0;

	if (tfs_read("available_tracers") < 0 || !strstr(readbuf, "function")) {
		snprintf(why, wl, "the function tracer is not in this kernel (CONFIG_FUNCTION_TRACER)");
		return KSFT_SKIP;
	}
	/*
	 * Each function the kernel can trace: set_ftrace_filter refuses the
	 * others (available_filter_functions may not be readable).
	 */
	if (tfs_write("tracing_on", "0", false) ||
	    tfs_write("current_tracer", "nop", false) ||
	    tfs_write("set_ftrace_filter", "", false)) {
		int e = errno;

		snprintf(why, wl, "resetting the tracer in %s: %s", tdir,
			 strerror(e));
		/* Lockdown, or a sandbox that refuses tracing even to root. */
		return e == EPERM || e == EACCES ? KSFT_SKIP : KSFT_FAIL;
	}
	for (i = 0; i < NR_FNS; i++) {
		have_fn[i] = !tfs_write("set_ftrace_filter", fn_name(i), true);
		n += have_fn[i];
	}
	if (!have_fn[0] || (!have_fn[NR_LOOKUP] && !have_fn[NR_LOOKUP + 3])) {
		snprintf(why, wl, "find_vma or down_read cannot be traced in this kernel");
		return KSFT_FAIL;
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (tfs_write("set_ftrace_pid", pid, false) ||
	    tfs_write("buffer_size_kb", "4096", false) ||
	    tfs_write("trace", "", false) ||
	    tfs_write("current_tracer", "function", false)) {
		snprintf(why, wl, "setting up the function tracer: %s",
			 strerror(errno));
		return KSFT_FAIL;
	}
	(void)n;
	return KSFT_PASS;
}

static void teardown_tracer(void)
{
	tfs_write("tracing_on", "0", false);
	tfs_write("current_tracer", "nop", false);
	tfs_write("set_ftrace_filter", "", false);
	tfs_write("set_ftrace_pid", "", false);
	tfs_write("trace", "", false);
	tfs_write("tracing_on", "1", false);
}

struct conn {
	int cli, srv;
};

static int open_conn(struct conn *c, char *why, size_t wl)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	c->cli = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c->cli < 0 || bind(l, (struct sockaddr *)&a, al) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al) ||
	    connect(c->cli, (struct sockaddr *)&a, al) ||
	    (c->srv = accept(l, NULL, NULL)) < 0 ||
	    set_int_opt(c->cli, IPPROTO_TCP, TCP_NODELAY, 1)) {
		snprintf(why, wl, "loopback connection: %s", strerror(errno));
		return -1;
	}
	close(l);
	return 0;
}

static int inq(int fd)
{
	int v = -1;

	return ioctl(fd, SIOCINQ, &v) ? -1 : v;
}

static bool wait_inq(int fd, int want)
{
	int i;

	for (i = 0; i < 5000; i++) {
		if (inq(fd) == want)
			return true;
		usleep(1000);
	}
	return false;
}

enum zcase { C_BASELINE, C_INQ_ZERO, C_COPYBUF, C_SKIP_HINT, NR_CASES };
static const char *const case_names[NR_CASES] = {
	"baseline", "inq_zero", "copybuf", "skip_hint",
};

struct result {
	unsigned long counts[NR_FNS];
	unsigned long lookups, locks, calls, ok_calls;
	char why[256];
	bool error;
};

static void run_case(enum zcase k, unsigned long calls, void *anon,
		     size_t anon_len, struct result *r)
{
	static uint8_t payload[300], copybuf[4096];
	struct conn c;
	struct zc_rx zc;
	socklen_t ol;
	unsigned long i;
	size_t j;

	memset(r, 0, sizeof(*r));
	if (open_conn(&c, r->why, sizeof(r->why))) {
		r->error = true;
		return;
	}
	memset(payload, 0x5a, sizeof(payload));
	memset(copybuf, 0, sizeof(copybuf));
	if (k == C_SKIP_HINT) {
		if (send(c.cli, payload, sizeof(payload), 0) != sizeof(payload) ||
		    !wait_inq(c.srv, sizeof(payload))) {
			snprintf(r->why, sizeof(r->why), "setup: 300 bytes not queued");
			r->error = true;
			goto out;
		}
	}
	tfs_write("trace", "", false);
	tfs_write("tracing_on", "1", false);
	for (i = 0; k != C_BASELINE && i < calls; i++) {
		if (k == C_COPYBUF) {
			if (send(c.cli, payload, sizeof(payload), 0) != sizeof(payload) ||
			    !wait_inq(c.srv, sizeof(payload)))
				break;
			zc_rx_init(&zc, anon, anon_len, copybuf, sizeof(copybuf));
		} else {
			zc_rx_init(&zc, anon, anon_len, NULL, 0);
		}
		r->calls++;
		if (!zc_rx_call(c.srv, &zc, &ol))
			r->ok_calls++;
		else if (k == C_COPYBUF)
			recv(c.srv, copybuf, sizeof(copybuf), MSG_DONTWAIT);
	}
	tfs_write("tracing_on", "0", false);
	if (count_trace(r->counts, r->why, sizeof(r->why))) {
		r->error = true;
		goto out;
	}
	for (j = 0; j < NR_FNS; j++) {
		if (j < NR_LOOKUP)
			r->lookups += r->counts[j];
		else
			r->locks += r->counts[j];
	}
	if (k != C_BASELINE && r->calls != calls) {
		snprintf(r->why, sizeof(r->why), "setup: only %lu of %lu calls ran",
			 r->calls, calls);
		r->error = true;
	}
out:
	close(c.cli);
	close(c.srv);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "calls", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct result res[NR_CASES];
	unsigned long calls = 1000;
	const char *json_path = NULL;
	struct utsname uts;
	size_t anon_len, j;
	FILE *json = NULL;
	char why[256] = "", *end;
	int o, rc = KSFT_PASS, k, num = 0;
	void *anon;

	while ((o = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'n':
			errno = 0;
			calls = strtoul(optarg, &end, 10);
			if (errno || *end || calls < 1 || calls > 1000000) {
				fprintf(stderr, "zc-lockcount: --calls '%s': give 1 to 1000000\n",
					optarg);
				return KSFT_USAGE;
			}
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'h':
			printf("Usage: zc-lockcount [--calls N] [--json FILE]\n"
			       "Counts find_vma/lock_vma_under_rcu calls and rwsem read locks\n"
			       "(mmap_lock) of TCP_ZEROCOPY_RECEIVE in the three fast paths with\n"
			       "the function tracer. Exit 0 all 0, 1 above 0 or error, 4 skip.\n");
			return 0;
		default:
			return KSFT_USAGE;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&uts);
	if (json_path) {
		json = json_report_open("zc-lockcount", json_path, &uts);
		if (!json)
			return KSFT_USAGE;
	}
	printf("TAP version 13\n");
	readbuf = malloc(READBUF_LEN);
	anon_len = 4 * (size_t)sysconf(_SC_PAGESIZE);
	anon = mmap(NULL, anon_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!readbuf || anon == MAP_FAILED) {
		printf("Bail out! out of memory\n");
		return KSFT_FAIL;
	}
	memset(readbuf, 0, READBUF_LEN);
	memset(anon, 0, anon_len);
	if (!find_tracefs(why, sizeof(why)))
		rc = KSFT_SKIP;
	else
		rc = setup_tracer(why, sizeof(why));
	if (rc != KSFT_PASS) {
		printf("1..0 # %s %s\n", rc == KSFT_SKIP ? "SKIP" : "Bail out!", why);
		if (json) {
			fputs(",\n  \"error\": ", json);
			json_string(json, why);
			fprintf(json, ",\n  \"exit\": %d\n}\n", rc);
			json_report_close("zc-lockcount", json_path, json);
		}
		return rc;
	}
	/* No page fault may take mmap_lock while tracing: lock everything. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		printf("# mlockall: %s (page faults could add to the counts)\n",
		       strerror(errno));
	printf("# zc-lockcount on Linux %s: %lu calls per case, tracing", uts.release,
	       calls);
	for (j = 0; j < NR_FNS; j++)
		if (have_fn[j])
			printf(" %s", fn_name(j));
	printf(" (%s)\n1..%d\n", tdir, NR_CASES);
	for (k = 0; k < NR_CASES; k++) {
		struct result *r = &res[k];
		bool ok;

		run_case((enum zcase)k, calls, anon, anon_len, r);
		ok = !r->error && !r->lookups && !r->locks;
		printf("# %s: %lu calls (%lu returned 0): %lu VMA lookups, %lu rwsem read locks",
		       case_names[k], r->calls, r->ok_calls, r->lookups, r->locks);
		for (j = 0; j < NR_FNS; j++)
			if (r->counts[j])
				printf(", %s %lu", fn_name(j), r->counts[j]);
		printf("%s%s\n", r->error ? "; " : "", r->error ? r->why : "");
		printf("%s %d %s\n", ok ? "ok" : "not ok", ++num, case_names[k]);
		if (!ok)
			rc = KSFT_FAIL;
	}
	teardown_tracer();
	if (json) {
		fprintf(json, ",\n  \"calls_per_case\": %lu,\n  \"tracefs\": ", calls);
		json_string(json, tdir);
		fputs(",\n  \"cases\": {", json);
		for (k = 0; k < NR_CASES; k++) {
			fprintf(json, "%s\n    \"%s\": {\"calls\": %lu, \"returned_0\": %lu, \"vma_lookups\": %lu, \"mmap_lock_read\": %lu, \"error\": ",
				k ? "," : "", case_names[k], res[k].calls,
				res[k].ok_calls, res[k].lookups, res[k].locks);
			if (res[k].error)
				json_string(json, res[k].why);
			else
				fputs("null", json);
			fputs(", \"functions\": {", json);
			for (j = 0, o = 0; j < NR_FNS; j++) {
				if (!have_fn[j])
					continue;
				fprintf(json, "%s\"%s\": %lu", o++ ? ", " : "",
					fn_name(j), res[k].counts[j]);
			}
			fputs("}}", json);
		}
		fprintf(json, "\n  },\n  \"exit\": %d\n}\n", rc);
		if (json_report_close("zc-lockcount", json_path, json))
			rc = KSFT_FAIL;
	}
	return rc;
}
