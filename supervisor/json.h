/*
 * json.h - the little JSON the supervisor writes (run reports, chaos
 * results, the dead-letter index): strings escaped, nothing parsed.
 */
#ifndef RP_JSON_H
#define RP_JSON_H

#include <stdio.h>

/* s as a JSON string, quotes included: '"' and '\' escaped, control
 * characters as \u00XX, other bytes as they are (text ringpipe handles
 * is UTF-8 or ASCII). */
void rp_json_str(FILE *f, const char *s);

#endif /* RP_JSON_H */
