/*
 * totaler.c - a stage program with state: it counts its input records,
 * low level, and emits one record at the end of its input, "total N".
 * Run as replicas, each copy emits its own total.
 */
#include <errno.h>
#include <ringpipe.h>
#include <stdint.h>
#include <stdio.h>

int main(void)
{
	struct rp_stage *s;
	struct rp_record r;
	uint64_t n = 0;
	char line[64];
	int err, c, len;

	if ((err = rp_stage_open(&s)) != 0)
		return err == -EPERM ? RP_EXIT_SANDBOX : RP_EXIT_USAGE;
	for (;;) {
		if ((c = rp_stage_control(s, NULL)) > 0)
			return rp_stage_finish(s, 0, c);
		err = rp_stage_peek(s, &r);
		if (err == 0) {
			n++;
			continue;
		}
		if (err == -ENODATA)
			break;
		if (err != -EAGAIN)
			return rp_stage_finish(s, err, 0);
		if ((err = rp_stage_release(s)) < 0)
			return rp_stage_finish(s, err, 0);
		err = rp_stage_wait(s, RP_WAIT_INPUT | RP_WAIT_CONTROL,
				    1000000000);
		if (err < 0 && err != -ETIMEDOUT)
			return rp_stage_finish(s, err, 0);
	}
	len = snprintf(line, sizeof(line), "total %llu",
		       (unsigned long long)n);
	if ((err = rp_emit(s, line, (uint32_t)len)) < 0)
		return rp_stage_finish(s, err, 0);
	return rp_stage_finish(s, 0, 0);
}
