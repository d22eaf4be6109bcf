/*
 * fuzz_oneliner.c - a pipeline given on the command line
 * ("stage @KEY=VALUE args ! stage ..."), whatever bytes it holds.
 */
#include <errno.h>
#include <string.h>

#include "../../supervisor/config.h"
#include "cfg_check.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_cfg cfg;
	char *line = malloc(size + 1);
	int err;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	err = rp_cfg_parse_line(line, &cfg);
	fz_cfg_check(&cfg, err, "-e");
	if (err == -EINVAL) {
		/* "-e:1:COL: ...": COL a byte of the line, from 1 (1 for
		 * an empty one). */
		size_t len = strlen(line);
		int col = 0, at = 0;
		FZ_CHECK(sscanf(cfg.error, "-e:1:%d: %n", &col, &at) == 1);
		FZ_CHECK(at > 0 && col >= 1 &&
			 (size_t)col <= (len ? len : 1));
	}
	rp_cfg_free(&cfg);
	free(line);
	return 0;
}
