/*
 * fuzz_ctl.c - a control ring written by a hostile stage: what the
 * supervisor receives from it.  The input is a script: the stage's
 * sends (any kind, reason, arguments and text), cancels and drains, its
 * status words, and bytes written anywhere in its segment between them;
 * the supervisor receives between them.  Whatever comes, a message
 * received has a known kind and reason (its text is cut to its size by
 * rp_ctl_recv itself), a cancel
 * or a drain comes once each and only from the sticky words, and once
 * the format was found broken nothing more is received.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "../../ipc/ctl.h"
#include "fuzz.h"

#define MAX_OPS 300

static struct rp_bell *txbell, *rxbell;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct rp_ring_fds fds, side;
	struct rp_ctl_tx *tx = NULL;
	struct rp_ctl_rx *rx = NULL;
	unsigned char *seg;
	size_t seglen = RP_P_DATA_OFF + RP_PAGE;
	int bad = 0, cancels = 0, drains = 0;

	if (txbell == NULL) {
		FZ_CHECK(rp_bell_create(0, &txbell) == 0);
		FZ_CHECK(rp_bell_create(0, &rxbell) == 0);
	}
	FZ_CHECK(rp_ctl_create(&fds) == 0);
	FZ_CHECK(rp_ring_fds_for_producer(&fds, &side) == 0);
	FZ_CHECK(rp_ctl_tx_open(&side, txbell, rxbell, &tx) == 0);
	rp_ring_fds_close(&side);
	FZ_CHECK(rp_ring_fds_for_consumer(&fds, &side) == 0);
	FZ_CHECK(rp_ctl_rx_open(&side, rxbell, txbell, &rx) == 0);
	rp_ring_fds_close(&side);
	seg = mmap(NULL, seglen, PROT_READ | PROT_WRITE, MAP_SHARED, fds.p_fd,
		   0);
	FZ_CHECK(seg != MAP_FAILED);

	for (int i = 0; i < MAX_OPS && in.n > 0; i++) {
		struct rp_ctl_msg m;
		char text[40];
		uint32_t kind, reason;
		uint64_t a0, a1;
		int err;

		switch (fz_u8(&in) % 8) {
		case 0: case 1: { /* a send, maybe refused */
			kind = fz_u8(&in) % 32;
			reason = fz_u8(&in) % 8;
			a0 = fz_u64(&in);
			a1 = fz_u64(&in);
			memset(text, 0, sizeof(text));
			fz_bytes(&in, text, fz_u8(&in) % sizeof(text));
			text[sizeof(text) - 1] = '\0';
			rp_ctl_send(tx, kind, reason, a0, a1, (int32_t)a1, text,
				    0);
			break;
		}
		case 2: { /* bytes anywhere in the stage's segment */
			uint64_t off = fz_u16(&in) % seglen;
			unsigned char b[16];
			size_t n = fz_bytes(&in, b, fz_u8(&in) % 17);
			for (size_t j = 0; j < n && off + j < seglen; j++)
				seg[off + j] = b[j];
			break;
		}
		case 3:
			rp_ctl_cancel(tx, fz_u8(&in) % 8);
			break;
		case 4:
			rp_ctl_drain(tx);
			break;
		case 5:
			rp_ctl_status_set(tx, fz_u8(&in) % 9, fz_u64(&in));
			(void)rp_ctl_status_read(rx, fz_u8(&in) % 9);
			break;
		default: /* the supervisor takes what is there */
			for (int k = 0; k < 8; k++) {
				err = rp_ctl_recv(rx, &m);
				if (bad && err == 0)
					/* Only the sticky words still come. */
					FZ_CHECK(m.kind == RP_CTL_CANCEL ||
						 m.kind == RP_CTL_DRAIN);
				if (err == -EBADMSG)
					bad = 1;
				if (err)
					break;
				FZ_CHECK(m.kind >= 1 &&
					 m.kind <= RP_CTL_KIND_MAX);
				FZ_CHECK(m.reason <= RP_REASON_MAX);
				FZ_CHECK(rp_ctl_kind_name(m.kind) != NULL);
				cancels += m.kind == RP_CTL_CANCEL;
				drains += m.kind == RP_CTL_DRAIN;
				FZ_CHECK(cancels <= 1 && drains <= 1);
			}
			(void)rp_ctl_ready(rx);
			(void)rp_ctl_cancelled(rx);
			(void)rp_ctl_draining(rx);
			break;
		}
	}
	munmap(seg, seglen);
	rp_ctl_rx_close(rx);
	rp_ctl_tx_close(tx);
	rp_ring_fds_close(&fds);
	return 0;
}
