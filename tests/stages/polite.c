/*
 * polite.c - a stage program that waits for room in its output before
 * each emit, as the one-wait pattern does: eight outputs of 1000 bytes
 * for each input record, each after rp_stage_wait(RP_WAIT_OUTPUT).  A
 * record starting with BAD is refused after its outputs are made.
 */
#include <errno.h>
#include <ringpipe.h>
#include <string.h>

static int spread(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	char buf[1000];
	int err;

	(void)arg;
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, in->data, in->len < sizeof(buf) ? in->len : sizeof(buf));
	for (int i = 0; i < 8; i++) {
		while ((err = rp_stage_wait(s, RP_WAIT_OUTPUT, 1000000000)) ==
		       -ETIMEDOUT)
			;
		if (err < 0)
			return err;
		if ((err = rp_emit(s, buf, sizeof(buf))))
			return err;
	}
	/* A record starting BAD is refused once its outputs are made:
	 * some of them have had to go on. */
	if (in->len >= 3 && memcmp(in->data, "BAD", 3) == 0)
		return rp_stage_refuse(s, "bad");
	return 0;
}

int main(void)
{
	struct rp_stage *s;
	int err = rp_stage_open(&s);

	if (err)
		return err == -EPERM ? RP_EXIT_SANDBOX : RP_EXIT_USAGE;
	return rp_stage_run(s, spread, NULL);
}
