/*
 * common.c - the scratch files and input reading the fuzz targets share.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char dir[256];

static void dir_remove(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

const char *fz_dir(void)
{
	if (dir[0] == '\0') {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/rp-fuzz-XXXXXX",
			 t && *t && strlen(t) < 200 ? t : "/tmp");
		if (mkdtemp(dir) == NULL) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(dir_remove);
	}
	return dir;
}

const char *fz_named(const char *name, const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fz_dir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	while (size > 0) {
		ssize_t w = write(fd, data, size);
		if (w <= 0) {
			close(fd);
			return NULL;
		}
		data += w;
		size -= (size_t)w;
	}
	close(fd);
	return path;
}

const char *fz_file(const uint8_t *data, size_t size)
{
	const char *p = fz_named("in", data, size);

	if (p == NULL) {
		perror("fuzz: writing the input file");
		abort();
	}
	return p;
}

size_t fz_bytes(struct fz_in *in, void *buf, size_t n)
{
	if (n > in->n)
		n = in->n;
	memcpy(buf, in->p, n);
	in->p += n;
	in->n -= n;
	return n;
}

uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v = 0;

	fz_bytes(in, &v, 1);
	return v;
}

uint16_t fz_u16(struct fz_in *in)
{
	uint16_t v = 0;

	fz_bytes(in, &v, sizeof(v));
	return v;
}

uint32_t fz_u32(struct fz_in *in)
{
	uint32_t v = 0;

	fz_bytes(in, &v, sizeof(v));
	return v;
}

uint64_t fz_u64(struct fz_in *in)
{
	uint64_t v = 0;

	fz_bytes(in, &v, sizeof(v));
	return v;
}
