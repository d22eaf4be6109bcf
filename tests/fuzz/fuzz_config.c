/*
 * fuzz_config.c - a pipeline file (YAML) as a user might write it, or
 * worse.  Loading it either gives a pipeline that holds together or an
 * error that names the file and says where.
 */
#include "../../supervisor/config.h"
#include "cfg_check.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_cfg cfg;
	const char *path = fz_file(data, size);
	int err = rp_cfg_load(path, &cfg);

	fz_cfg_check(&cfg, err, path);
	rp_cfg_free(&cfg);
	return 0;
}
