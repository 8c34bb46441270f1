/* A stand-in for net/ipv4/tcp.c in the unit tests: the shape of 5.10's
 * tcp_zerocopy_receive() before the short-circuit series, nothing else. */
static int tcp_zerocopy_receive(struct sock *sk,
				struct tcp_zerocopy_receive *zc)
{
	s32 copybuf_len = zc->copybuf_len;
	int inq = tcp_inq(sk);

	zc->copybuf_len = 0;

	sock_rps_record_flow(sk);

	mmap_read_lock(current->mm);

	vma = find_vma(current->mm, address);
	return 0;
}
