/*
 * fuzz_index.c - a dead-letter output read back by ringpipe replay:
 * an index line alone, and an index with its record file.  The input is
 * a 2-byte length n, then n bytes of PREFIX.jsonl, then PREFIX.rec.
 * Whatever the files hold, every record the index gives lies inside
 * PREFIX.rec, and copying it out gives its frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../stage/wiring.h"
#include "../../supervisor/replay_index.h"
#include "fuzz.h"

static void one_line(const uint8_t *data, size_t size)
{
	struct rp_dead_ref ref;
	char err[RP_REPLAY_ERR];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = rp_replay_index_line((const char *)data, size, &ref, err,
				  sizeof(err));
	FZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc) {
		FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FZ_CHECK(err[0] != '\0');
		return;
	}
	FZ_CHECK(memchr(ref.stage, '\0', sizeof(ref.stage)) != NULL);
	FZ_CHECK(rp_wiring_valid_name(ref.stage));
}

static void whole(const uint8_t *idx, size_t in, const uint8_t *rec,
		  size_t rn)
{
	char err[RP_REPLAY_ERR], prefix[4096];
	struct rp_replay_index *ix;
	int error = 0, fd;

	if (fz_named("x.jsonl", idx, in) == NULL ||
	    fz_named("x.rec", rec, rn) == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "%s/x", fz_dir());
	memset(err, 'x', sizeof(err));
	ix = rp_replay_index_open(prefix, &error, err, sizeof(err));
	if (ix == NULL) {
		FZ_CHECK(error == -EINVAL || error == -ENOMEM);
		FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FZ_CHECK(err[0] != '\0');
		return;
	}
	FZ_CHECK(ix->rec_size == rn);
	FZ_CHECK(ix->nstages <= RP_REPLAY_MAX_STAGES);
	for (size_t i = 0; i < ix->nrec; i++) {
		const struct rp_replay_rec *r = &ix->rec[i];
		uint32_t word;
		FZ_CHECK(r->stage < ix->nstages);
		FZ_CHECK(r->offset <= rn && rn - r->offset >= 4 &&
			 rn - r->offset - 4 >= r->length);
		memcpy(&word, rec + r->offset, 4);
		FZ_CHECK(le32toh(word) == r->length);
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	FZ_CHECK(fd >= 0);
	for (unsigned s = 0; s < ix->nstages; s++)
		FZ_CHECK(rp_replay_index_copy(ix, s, fd, "/dev/null", err,
					      sizeof(err)) == 0);
	close(fd);
	rp_replay_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	size_t n = fz_u16(&in);

	if (n > in.n)
		n = in.n;
	one_line(in.p, n);
	whole(in.p, n, in.p + n, in.n - n);
	return 0;
}
