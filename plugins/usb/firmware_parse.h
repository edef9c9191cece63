/*
 * firmware_parse.h — reading idevicerestore's plain output (see firmware_parse.c).
 */
#ifndef REVIVE_USB_FIRMWARE_PARSE_H
#define REVIVE_USB_FIRMWARE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define FW_TAIL_LINES 12

typedef struct fw_parse {
    const char *step;        /* current step name ("prepare", "sign", "boot", "restore", ...) */
    bool step_changed;       /* set by fw_parse_line when step changed; caller clears */
    double percent;          /* last progress bar value, -1 if none since the step began */
    bool device_touched;     /* the device was told to do something (no safe stop after) */
    bool restore_started;    /* "About to restore device" seen */
    bool finished;           /* "Status: Restore Finished" */
    bool done;               /* "DONE" */
    int error_code;          /* revive code of the most telling ERROR line, 0 if none */
    char error_line[256];    /* that line */
    char tail[FW_TAIL_LINES][200]; /* the last lines, oldest first from tail_start */
    size_t tail_start, tail_count;
} fw_parse;

void fw_parse_init(fw_parse *p);
/* Feed one line (no line terminator). */
void fw_parse_line(fw_parse *p, const char *line);
/* The last lines joined with " | ", newest last. */
void fw_parse_tail(const fw_parse *p, char *out, size_t cap, size_t max_lines);
/* "idevicerestore 1.0.0" -> 10000 (major*10000+minor*100+patch); 0 if not understood. */
int fw_parse_version(const char *text);
/* "14.5.1" -> 140501; 0 if not understood. */
int fw_ios_version(const char *text);

#endif
