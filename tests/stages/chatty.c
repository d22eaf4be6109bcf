/*
 * chatty.c - a stage program written as parsers often are: it prints a
 * line to stdout for every record (a debugging habit), and on a record
 * "thread" does that record's work in a thread of its own.  Neither may
 * cost it a record: its stdout is /dev/null, which stdio asks about
 * before its first printf, and a thread needs only clone allowed.
 */
#include <errno.h>
#include <pthread.h>
#include <ringpipe.h>
#include <stdio.h>
#include <string.h>

struct job {
	const struct rp_record *in;
	size_t spaces;
};

static void *count_spaces(void *arg)
{
	struct job *j = arg;
	const char *p = j->in->data;

	for (size_t i = 0; i < j->in->len; i++)
		j->spaces += p[i] == ' ';
	return NULL;
}

static int each(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	struct job j = {in, 0};
	pthread_t t;

	(void)arg;
	printf("chatty: a record of %u bytes\n", (unsigned)in->len);
	fflush(stdout);
	if (in->len == 6 && memcmp(in->data, "thread", 6) == 0) {
		if (pthread_create(&t, NULL, count_spaces, &j) != 0 ||
		    pthread_join(t, NULL) != 0) {
			fprintf(stderr, "chatty: no thread\n");
			return -EAGAIN;
		}
	}
	return rp_emit(s, in->data, in->len);
}

int main(void)
{
	struct rp_stage *s;

	if (rp_stage_open(&s) != 0)
		return 1;
	return rp_stage_run(s, each, NULL);
}
