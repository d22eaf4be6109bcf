/*
 * fuzz_oneliner.c - a pipeline given on the command line
 * ("stage @KEY=VALUE args ! stage ..."), whatever bytes it holds.
 */
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
	rp_cfg_free(&cfg);
	free(line);
	return 0;
}
