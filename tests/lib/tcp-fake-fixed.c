/* A stand-in for net/ipv4/tcp.c in the refresh tests: tcp-fake.c with the
 * shape of the short-circuit series (as a line that carries it upstream). */
static int tcp_recvmsg_locked(struct sock *sk, struct msghdr *msg, size_t len)
{
	return 0;
}

static int receive_fallback_to_copy(struct sock *sk,
				    struct tcp_zerocopy_receive *zc, int inq)
{
	err = tcp_recvmsg_locked(sk, &msg, inq);
	zc->copybuf_len = err;
	tcp_zerocopy_set_hint_for_skb(sk, zc, skb, offset);
	return 0;
}

static int tcp_zerocopy_receive(struct sock *sk,
				struct tcp_zerocopy_receive *zc)
{
	s32 copybuf_len = zc->copybuf_len;
	int inq = tcp_inq(sk);

	zc->copybuf_len = 0;

	sock_rps_record_flow(sk);

	if (inq && inq <= copybuf_len)
		return receive_fallback_to_copy(sk, zc, inq);

	if (inq < PAGE_SIZE) {
		zc->length = 0;
		zc->recv_skip_hint = inq;
		return 0;
	}

	mmap_read_lock(current->mm);

	vma = find_vma(current->mm, address);
	return 0;
}
