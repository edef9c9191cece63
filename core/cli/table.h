/* The station table: one line per phone, redrawn in place on a terminal. */
#ifndef RV_CLI_TABLE_H
#define RV_CLI_TABLE_H
#include <stdio.h>
/* Start drawing on `out` (a terminal); returns the sink id. */
int rv_table_start(FILE *out);
void rv_table_stop(int sink);
/* Tell the table about a phone before its first event (model and port). */
void rv_table_add(const char *label, const char *model, const char *port);
#endif
