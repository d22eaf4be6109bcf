/*
 * fuzz.h - what the fuzz targets share.
 *
 * Each target (fuzz_*.c) is one LLVMFuzzerTestOneInput over one kind of
 * hostile input: a pipeline file, a one-liner, a dead-letter index, a
 * chaos sums file, a ring's shared memory, a control ring, a byte stream
 * cut into lines.  `make fuzz`
 * links each with libFuzzer (clang, -fsanitize=fuzzer) and runs it for a
 * while; the tests link each with driver.c instead, which feeds it the
 * files kept under tests/fuzz/corpus/TARGET (the seeds, and every input
 * that ever found a bug), so what was fixed stays fixed.
 *
 * A target fails by aborting (FZ_CHECK): a wrong answer is as much a
 * finding as a crash.
 */
#ifndef RP_FUZZ_H
#define RP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond)                                                      \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

/* A file that holds exactly data, named by the returned path (valid
 * until the next call): the parsers under test read files by name. */
const char *fz_file(const uint8_t *data, size_t size);
/* The same, at a second path of the caller's choosing in a scratch
 * directory of this process ("x.jsonl", "x.rec"); NULL on failure. */
const char *fz_named(const char *name, const uint8_t *data, size_t size);
/* The scratch directory (created on first use, removed at exit). */
const char *fz_dir(void);

/* Input taken a piece at a time; past its end, zeros. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);
/* Up to n bytes into buf; how many. */
size_t fz_bytes(struct fz_in *in, void *buf, size_t n);

#endif /* RP_FUZZ_H */
