/*
 * demo_stages.c - the generator and the checker of the ring demo.
 *
 * Records are log lines of a fixed size: "seq=<16 hex> lvl=INFO  ...".
 * The checker verifies that sequence numbers arrive in order, each one
 * matching its record's origin, reads every payload byte into a checksum,
 * and counts the ERROR lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "demo_stages.h"

#define SEC 1000000000LL
#define CHECK_EVERY 256u /* records between cancellation checks */

struct stage_io {
	struct rp_bell *own, *peer, *sup;
	struct rp_ctl_rx *rx;
	struct rp_ctl_tx *tx;
	struct rp_producer *out;
	struct rp_consumer *in;
};

static void io_close(struct stage_io *io)
{
	rp_producer_close(io->out);
	rp_consumer_close(io->in);
	rp_ctl_rx_close(io->rx);
	rp_ctl_tx_close(io->tx);
	rp_bell_close(io->own);
	rp_bell_close(io->peer);
	rp_bell_close(io->sup);
}

static int io_open(const struct demo_wiring *w, int producer,
		   struct stage_io *io)
{
	int err;

	memset(io, 0, sizeof(*io));
	err = rp_bell_open(w->own_bell_fd, -1, &io->own);
	if (!err)
		err = rp_bell_open(w->peer_bell_fd, -1, &io->peer);
	if (!err)
		err = rp_bell_open(w->sup_bell_fd, w->sup_bell_efd, &io->sup);
	if (!err)
		err = rp_ctl_rx_open(&w->ctl_in, io->own, io->sup, &io->rx);
	if (!err)
		err = rp_ctl_tx_open(&w->ctl_out, io->own, io->sup, &io->tx);
	if (!err && producer)
		err = rp_producer_open(&w->data, io->own, io->peer, &io->out);
	if (!err && !producer)
		err = rp_consumer_open(&w->data, io->own, io->peer, &io->in);
	if (err)
		io_close(io);
	return err;
}

/* Handle what the supervisor sent.  Returns a cancel reason or 0. */
static uint32_t io_control(struct stage_io *io)
{
	struct rp_ctl_msg m;
	uint32_t reason = rp_ctl_cancelled(io->rx);

	if (reason)
		return reason;
	while (rp_ctl_recv(io->rx, &m) == 0) {
		if (m.kind == RP_CTL_PING)
			rp_ctl_send(io->tx, RP_CTL_PONG, 0, m.seq, 0, 0, NULL,
				    SEC);
	}
	return rp_ctl_cancelled(io->rx);
}

static int io_finish(struct stage_io *io, int code, uint32_t reason,
		     uint64_t a0, uint64_t a1)
{
	uint32_t kind = code == RP_STAGE_EXIT_VIOLATION ? RP_CTL_VIOLATION
		      : code == RP_STAGE_EXIT_ERROR     ? RP_CTL_ERROR
							: RP_CTL_DONE;

	rp_ctl_send(io->tx, kind, reason, a0, a1, code, NULL, SEC);
	io_close(io);
	return code;
}

static const char hexdig[] = "0123456789abcdef";

/* Write one log line of exactly len bytes (len >= 40). */
static void fill_line(unsigned char *dst, uint32_t len, uint64_t seq)
{
	static const char tail[] =
		" msg=request served from the ring path ok";
	int error = (seq * 0x9e3779b97f4a7c15ull) >> 54 == 0; /* ~1/1024 */

	memcpy(dst, "seq=", 4);
	for (int i = 0; i < 16; i++)
		dst[4 + i] = (unsigned char)hexdig[(seq >> (60 - 4 * i)) & 15];
	memcpy(dst + 20, error ? " lvl=ERROR" : " lvl=INFO ", 10);
	for (uint32_t i = 30; i < len; i++)
		dst[i] = (unsigned char)tail[(i - 30) % (sizeof(tail) - 1)];
	dst[len - 1] = '\n';
}

struct prod_wait {
	struct stage_io *io;
	uint32_t len;
};

static int prod_ready(void *arg)
{
	struct prod_wait *pw = arg;
	int r = rp_producer_ready(pw->io->out, pw->len);

	if (r != 0)
		return r;
	return rp_ctl_ready(pw->io->rx);
}

int demo_producer_main(const struct demo_wiring *w)
{
	struct stage_io io;
	uint32_t len = w->payload < 40 ? 40 : w->payload;
	uint32_t reason;
	int err = io_open(w, 1, &io);

	if (err) {
		fprintf(stderr, "generator: attach: %s\n", strerror(-err));
		return RP_STAGE_EXIT_ERROR;
	}
	rp_ctl_send(io.tx, RP_CTL_READY, 0, 0, 0, 0, "generator", SEC);
	for (uint64_t seq = 0; seq < w->records; seq++) {
		struct rp_meta m = {.origin = seq, .type = RP_REC_T_DATA,
				    .flags = RP_REC_F_LAST};
		void *dst;

		if (seq % CHECK_EVERY == 0 && (reason = io_control(&io)))
			return io_finish(&io, RP_STAGE_EXIT_CANCELLED, reason,
					 seq, 0);
		while ((err = rp_reserve(io.out, len, &dst)) == -EAGAIN) {
			struct prod_wait pw = {&io, len};
			err = rp_bell_wait(io.own, prod_ready, &pw, SEC,
					   RP_BELL_SPIN, NULL);
			if (err < 0 && err != -ETIMEDOUT)
				break;
			if ((reason = io_control(&io)))
				return io_finish(&io, RP_STAGE_EXIT_CANCELLED,
						 reason, seq, 0);
		}
		if (err) {
			fprintf(stderr, "generator: reserve: %s\n",
				strerror(-err));
			return io_finish(&io, err == -EBADMSG
						      ? RP_STAGE_EXIT_VIOLATION
						      : RP_STAGE_EXIT_ERROR,
					 0, seq, 0);
		}
		fill_line(dst, len, seq);
		rp_commit(io.out, len, &m);
	}
	rp_producer_end(io.out);
	return io_finish(&io, RP_STAGE_EXIT_DONE, RP_REASON_EOF, w->records, 0);
}

static int cons_ready(void *arg)
{
	struct stage_io *io = arg;
	int r = rp_consumer_ready(io->in);

	if (r != 0)
		return r;
	return rp_ctl_ready(io->rx);
}

/* Parse the 16 hex digits after "seq="; UINT64_MAX if malformed. */
static uint64_t line_seq(const unsigned char *p, uint32_t len)
{
	uint64_t v = 0;

	if (len < 30 || memcmp(p, "seq=", 4) != 0)
		return UINT64_MAX;
	for (int i = 0; i < 16; i++) {
		const char *d = memchr(hexdig, p[4 + i], 16);
		if (d == NULL)
			return UINT64_MAX;
		v = v << 4 | (uint64_t)(d - hexdig);
	}
	return v;
}

int demo_consumer_main(const struct demo_wiring *w)
{
	struct stage_io io;
	uint64_t expect = 0, errors = 0, sum = 0;
	unsigned batch = 0;
	uint32_t reason;
	int err = io_open(w, 0, &io);

	if (err) {
		fprintf(stderr, "checker: attach: %s\n", strerror(-err));
		return RP_STAGE_EXIT_ERROR;
	}
	rp_ctl_send(io.tx, RP_CTL_READY, 0, 0, 0, 0, "checker", SEC);
	for (;;) {
		struct rp_view v;

		err = rp_peek(io.in, &v);
		if (err == 0) {
			const unsigned char *p = v.data;
			/* Read every byte, as a real parser would. */
			for (uint32_t i = 0; i < v.len; i++)
				sum = sum * 31 + p[i];
			if (v.origin != expect || line_seq(p, v.len) != expect) {
				fprintf(stderr,
					"checker: record %llu out of order "
					"(origin %llu)\n",
					(unsigned long long)expect,
					(unsigned long long)v.origin);
				return io_finish(&io, RP_STAGE_EXIT_ERROR, 0,
						 expect, errors);
			}
			errors += v.len > 25 && p[25] == 'E';
			expect++;
			if (++batch < CHECK_EVERY)
				continue;
		}
		rp_release(io.in);
		batch = 0;
		if ((reason = io_control(&io)))
			return io_finish(&io, RP_STAGE_EXIT_CANCELLED, reason,
					 expect, errors);
		if (err == 0)
			continue;
		if (err == -ENODATA)
			break;
		if (err == -EBADMSG) {
			fprintf(stderr, "checker: the generator broke the "
					"ring format; ring poisoned\n");
			return io_finish(&io, RP_STAGE_EXIT_VIOLATION, 0,
					 expect, errors);
		}
		err = rp_bell_wait(io.own, cons_ready, &io, SEC, RP_BELL_SPIN,
				   NULL);
		if (err < 0 && err != -ETIMEDOUT && err != -EBADMSG)
			return io_finish(&io, RP_STAGE_EXIT_ERROR, 0, expect,
					 errors);
	}
	/* The checksum goes in the text so the report can show it. */
	{
		char txt[24];
		snprintf(txt, sizeof(txt), "%016llx", (unsigned long long)sum);
		rp_ctl_send(io.tx, RP_CTL_PROGRESS, 0, expect, errors, 0, txt,
			    SEC);
	}
	return io_finish(&io, RP_STAGE_EXIT_DONE, RP_REASON_EOF, expect,
			 errors);
}
