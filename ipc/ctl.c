/*
 * ctl.c - control rings over record rings, plus sticky cancel/drain words.
 *
 * The sticky word is p_user[0] of the control ring's producer page:
 *   bit 63 cancel sent, bits 0-7 its reason (first one wins)
 *   bit 62 drain sent
 * The sender is its only writer; the receiver reads it through its
 * read-only mapping and remembers privately what it has reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ring_int.h"

#define CTL_CAPACITY 4096u
#define CTL_F_CANCEL (1ull << 63)
#define CTL_F_DRAIN (1ull << 62)
#define CTL_REASON_MASK 0xffull

struct rp_ctl_tx {
	struct rp_producer *p;
	uint64_t seq;
};

struct rp_ctl_rx {
	struct rp_consumer *c;
	uint64_t reported; /* sticky bits already returned by recv */
};

struct rp_producer *rp_ctl_tx_producer(struct rp_ctl_tx *tx)
{
	return tx->p;
}

static const char *const kind_names[] = {
	[RP_CTL_CANCEL] = "cancel",     [RP_CTL_DRAIN] = "drain",
	[RP_CTL_PAUSE] = "pause",       [RP_CTL_RESUME] = "resume",
	[RP_CTL_PING] = "ping",         [RP_CTL_FAULT] = "fault",
	[RP_CTL_DENIED] = "denied",
	[RP_CTL_TIMEOUT] = "timeout",
	[RP_CTL_READY] = "ready",
	[RP_CTL_PROGRESS] = "progress", [RP_CTL_ERROR] = "error",
	[RP_CTL_DONE] = "done",         [RP_CTL_VIOLATION] = "violation",
	[RP_CTL_PONG] = "pong",
	[RP_CTL_POISON] = "poison",
	[RP_CTL_TIMED_OUT] = "timed-out",
	[RP_CTL_REFUSED] = "refused",
};

static const char *const reason_names[] = {
	[RP_REASON_NONE] = "none",         [RP_REASON_USER] = "user",
	[RP_REASON_DEADLINE] = "deadline", [RP_REASON_SIBLING] = "sibling-failed",
	[RP_REASON_SHUTDOWN] = "shutdown", [RP_REASON_EOF] = "end-of-input",
};

const char *rp_ctl_kind_name(uint32_t kind)
{
	if (kind <= RP_CTL_KIND_MAX && kind_names[kind] != NULL)
		return kind_names[kind];
	return "unknown";
}

const char *rp_reason_name(uint32_t reason)
{
	if (reason <= RP_REASON_MAX)
		return reason_names[reason];
	return "unknown";
}

int rp_ctl_create(struct rp_ring_fds *out)
{
	struct rp_ring_config cfg = {
		.capacity = CTL_CAPACITY,
		.max_record = sizeof(struct rp_ctl_msg),
	};
	return rp_ring_create(&cfg, out);
}

int rp_ctl_tx_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		   struct rp_bell *peer, struct rp_ctl_tx **out)
{
	struct rp_ctl_tx *tx = calloc(1, sizeof(*tx));
	int err;

	*out = NULL;
	if (tx == NULL)
		return -ENOMEM;
	/* No second look at a bad cursor (rp_cursor_settle in ring.c). */
	err = rp_producer_attach(fds, own, peer, 1, &tx->p);
	if (err) {
		free(tx);
		return err;
	}
	rp_producer_set_batch(tx->p, 0); /* control records go out at once */
	*out = tx;
	return 0;
}

int rp_ctl_rx_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		   struct rp_bell *peer, struct rp_ctl_rx **out)
{
	struct rp_ctl_rx *rx = calloc(1, sizeof(*rx));
	int err;

	*out = NULL;
	if (rx == NULL)
		return -ENOMEM;
	err = rp_consumer_attach(fds, own, peer, 1, &rx->c);
	if (err) {
		free(rx);
		return err;
	}
	if (rx->c->m.max_record != sizeof(struct rp_ctl_msg)) {
		rp_consumer_close(rx->c);
		free(rx);
		return -EBADMSG;
	}
	*out = rx;
	return 0;
}

void rp_ctl_tx_close(struct rp_ctl_tx *tx)
{
	if (tx == NULL)
		return;
	rp_producer_close(tx->p);
	free(tx);
}

void rp_ctl_rx_close(struct rp_ctl_rx *rx)
{
	if (rx == NULL)
		return;
	rp_consumer_close(rx->c);
	free(rx);
}

int rp_ctl_send(struct rp_ctl_tx *tx, uint32_t kind, uint32_t reason,
		uint64_t arg0, uint64_t arg1, int32_t code, const char *text,
		int64_t timeout_ns)
{
	struct rp_ctl_msg m;
	struct rp_meta meta = {.type = RP_REC_T_DATA};

	if (kind == 0 || kind > RP_CTL_KIND_MAX || kind_names[kind] == NULL ||
	    reason > RP_REASON_MAX)
		return -EINVAL;
	if (kind == RP_CTL_CANCEL)
		return rp_ctl_cancel(tx, reason);
	if (kind == RP_CTL_DRAIN)
		return rp_ctl_drain(tx);
	/* A request to a receiver known dead fails at once, full or not. */
	if (tx->p->broken || rp_load32_acquire(&tx->p->m.sh_c->c_broken))
		return -EPIPE;
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.reason = reason;
	m.seq = ++tx->seq;
	m.arg0 = arg0;
	m.arg1 = arg1;
	m.code = code;
	if (text != NULL)
		strncpy(m.text, text, sizeof(m.text) - 1);
	meta.origin = m.seq;
	return rp_send(tx->p, &m, sizeof(m), &meta, timeout_ns);
}

static int ctl_sticky(struct rp_ctl_tx *tx, uint64_t bits)
{
	rp_atomic64 *w = &tx->p->m.sh_p->p_user[0];
	uint64_t old = rp_load64_relaxed(w);

	/* The first cancel reason wins; only this sender writes the word. */
	if ((bits & CTL_F_CANCEL) && (old & CTL_F_CANCEL))
		bits &= ~(CTL_F_CANCEL | CTL_REASON_MASK);
	/* Pairs with the receiver's acquire load in rp_ctl_cancelled(). */
	rp_store64_release(w, old | bits);
	rp_bell_ring(tx->p->peer);
	if (tx->p->broken || rp_load32_acquire(&tx->p->m.sh_c->c_broken))
		return -EPIPE;
	return 0;
}

int rp_ctl_cancel(struct rp_ctl_tx *tx, uint32_t reason)
{
	if (reason == RP_REASON_NONE || reason > RP_REASON_MAX)
		return -EINVAL;
	return ctl_sticky(tx, CTL_F_CANCEL | reason);
}

int rp_ctl_drain(struct rp_ctl_tx *tx)
{
	return ctl_sticky(tx, CTL_F_DRAIN);
}

static uint64_t ctl_word(const struct rp_ctl_rx *rx)
{
	/* Pairs with the release store in ctl_sticky(). */
	return rp_load64_acquire(&rx->c->m.sh_p->p_user[0]);
}

uint32_t rp_ctl_cancelled(const struct rp_ctl_rx *rx)
{
	uint64_t w = ctl_word(rx);
	uint32_t reason = (uint32_t)(w & CTL_REASON_MASK);

	if (!(w & CTL_F_CANCEL))
		return 0;
	/* Hostile bits: an unknown reason still cancels. */
	return reason == 0 || reason > RP_REASON_MAX ? RP_REASON_SHUTDOWN
						     : reason;
}

int rp_ctl_draining(const struct rp_ctl_rx *rx)
{
	return (ctl_word(rx) & CTL_F_DRAIN) != 0;
}

int rp_ctl_recv(struct rp_ctl_rx *rx, struct rp_ctl_msg *out)
{
	uint64_t w = ctl_word(rx);
	struct rp_view v;
	int err;

	memset(out, 0, sizeof(*out));
	if ((w & CTL_F_CANCEL) && !(rx->reported & CTL_F_CANCEL)) {
		rx->reported |= CTL_F_CANCEL;
		out->kind = RP_CTL_CANCEL;
		out->reason = rp_ctl_cancelled(rx);
		return 0;
	}
	if ((w & CTL_F_DRAIN) && !(rx->reported & CTL_F_DRAIN)) {
		rx->reported |= CTL_F_DRAIN;
		out->kind = RP_CTL_DRAIN;
		return 0;
	}
	err = rp_peek(rx->c, &v);
	/* Nobody ends a control ring: one marked ended was written so by
	 * its sender's peer or by hand, and would otherwise stay "ready"
	 * with nothing to read, for ever. */
	if (err == -ENODATA) {
		rx->c->poisoned = 1;
		return -EBADMSG;
	}
	if (err)
		return err;
	if (v.len != sizeof(*out)) {
		rx->c->poisoned = 1;
		return -EBADMSG;
	}
	memcpy(out, v.data, sizeof(*out)); /* one copy, then validate it */
	rp_release(rx->c);
	out->text[sizeof(out->text) - 1] = '\0';
	if (out->kind == 0 || out->kind > RP_CTL_KIND_MAX ||
	    kind_names[out->kind] == NULL || out->reason > RP_REASON_MAX ||
	    out->kind == RP_CTL_CANCEL || out->kind == RP_CTL_DRAIN) {
		rx->c->poisoned = 1;
		return -EBADMSG;
	}
	return 0;
}

int rp_ctl_ready(struct rp_ctl_rx *rx)
{
	uint64_t w = ctl_word(rx);

	if ((w & (CTL_F_CANCEL | CTL_F_DRAIN)) & ~rx->reported)
		return 1;
	return rp_consumer_ready(rx->c);
}

int rp_ctl_status_set(struct rp_ctl_tx *tx, unsigned idx, uint64_t v)
{
	if (idx == 0 || idx > RP_CTL_STATUS_WORDS)
		return -EINVAL;
	/* Pairs with the acquire load in rp_ctl_status_read(). */
	rp_store64_release(&tx->p->m.sh_p->p_user[idx], v);
	return 0;
}

uint64_t rp_ctl_status_get(const struct rp_ctl_tx *tx, unsigned idx)
{
	if (idx == 0 || idx > RP_CTL_STATUS_WORDS)
		return 0;
	return rp_load64_relaxed(&tx->p->m.sh_p->p_user[idx]);
}

uint64_t rp_ctl_status_read(const struct rp_ctl_rx *rx, unsigned idx)
{
	if (idx == 0 || idx > RP_CTL_STATUS_WORDS)
		return 0;
	return rp_load64_acquire(&rx->c->m.sh_p->p_user[idx]);
}
