/*
 * atomics.h - the only place ringpipe touches <stdatomic.h>.
 *
 * Every shared-memory word that more than one process touches is declared
 * with one of the rp_atomic* types below and accessed only through these
 * helpers, so each acquire, release and fence in the code base is greppable
 * and carries a comment at its call site naming the operation it pairs with.
 * No `volatile`, no `__sync`.
 */
#ifndef RP_ATOMICS_H
#define RP_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint32_t rp_atomic32;
typedef _Atomic uint64_t rp_atomic64;

_Static_assert(sizeof(rp_atomic32) == 4, "atomic u32 must be 4 bytes");
_Static_assert(sizeof(rp_atomic64) == 8, "atomic u64 must be 8 bytes");

static inline uint32_t rp_load32_relaxed(const rp_atomic32 *p)
{
	return atomic_load_explicit((rp_atomic32 *)p, memory_order_relaxed);
}
static inline uint32_t rp_load32_acquire(const rp_atomic32 *p)
{
	return atomic_load_explicit((rp_atomic32 *)p, memory_order_acquire);
}
static inline void rp_store32_relaxed(rp_atomic32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void rp_store32_release(rp_atomic32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}
static inline uint32_t rp_add32(rp_atomic32 *p, uint32_t v)
{
	return atomic_fetch_add_explicit(p, v, memory_order_seq_cst);
}
static inline uint32_t rp_sub32(rp_atomic32 *p, uint32_t v)
{
	return atomic_fetch_sub_explicit(p, v, memory_order_seq_cst);
}
static inline uint32_t rp_xchg32(rp_atomic32 *p, uint32_t v)
{
	return atomic_exchange_explicit(p, v, memory_order_seq_cst);
}
static inline uint32_t rp_or32(rp_atomic32 *p, uint32_t v)
{
	return atomic_fetch_or_explicit(p, v, memory_order_seq_cst);
}
static inline uint32_t rp_and32(rp_atomic32 *p, uint32_t v)
{
	return atomic_fetch_and_explicit(p, v, memory_order_seq_cst);
}
static inline int rp_cas32(rp_atomic32 *p, uint32_t *expect, uint32_t v)
{
	return atomic_compare_exchange_strong_explicit(
		p, expect, v, memory_order_seq_cst, memory_order_seq_cst);
}

static inline uint64_t rp_load64_relaxed(const rp_atomic64 *p)
{
	return atomic_load_explicit((rp_atomic64 *)p, memory_order_relaxed);
}
static inline uint64_t rp_load64_acquire(const rp_atomic64 *p)
{
	return atomic_load_explicit((rp_atomic64 *)p, memory_order_acquire);
}
static inline void rp_store64_relaxed(rp_atomic64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void rp_store64_release(rp_atomic64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}

/* Full fence: the store-then-load (Dekker) edge between a publisher and a
 * waiter that announces itself.  Both sides use it; see ipc/bell.h. */
static inline void rp_fence_full(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
static inline void rp_fence_acquire(void)
{
	atomic_thread_fence(memory_order_acquire);
}
static inline void rp_fence_release(void)
{
	atomic_thread_fence(memory_order_release);
}

static inline void rp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif /* RP_ATOMICS_H */
