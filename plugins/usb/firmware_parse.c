/*
 * firmware_parse.c — turning idevicerestore's plain output into steps, progress and an
 * error class. idevicerestore (1.0.0 and later) prints one line per thing it does
 * ("Extracting BuildManifest from IPSW", "Sending iBEC (…)", "About to restore
 * device...", restored's "Verifying restore (14)") and a progress bar redrawn with \r
 * ("[=====     ]  40.0%"); failures are lines starting with "ERROR:". The patterns
 * below are the lines its sources print; an unknown line only goes into the tail.
 *
 * "device_touched" marks the point after which stopping idevicerestore leaves the device
 * in recovery mode (it was sent into recovery, or sent a boot stage): before it a cancel
 * is safe, after it the firmware method waits for idevicerestore to finish.
 */
#include "firmware_parse.h"

#include <revive/errors.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fw_parse_init(fw_parse *p)
{
    memset(p, 0, sizeof *p);
    p->step = "start";
    p->percent = -1;
}

static void set_step(fw_parse *p, const char *step)
{
    if (strcmp(p->step, step)) {
        p->step = step;
        p->step_changed = true;
        p->percent = -1;
    }
}

static bool has(const char *line, const char *needle)
{
    return strstr(line, needle) != NULL;
}

/* The most specific error wins: a later generic "Unable to restore device" must not hide
 * the "TSS request failed" that caused it. */
static int error_rank(int code)
{
    switch (code) {
    case REVIVE_E_UNKNOWN: return 0;
    case REVIVE_E_DISCONNECTED: return 1;
    default: return 2;
    }
}

static void classify_error(fw_parse *p, const char *line)
{
    int code = REVIVE_E_UNKNOWN;
    if (has(line, "TSS") || has(line, "SHSH") || has(line, "eligible") || has(line, "without TSS"))
        code = REVIVE_E_NOT_SIGNED;
    else if (has(line, "not suitable") || has(line, "suitable for the current device") ||
             has(line, "Unable to find any build identities") || has(line, "build identity"))
        code = REVIVE_E_INVALID;
    else if (has(line, "does not exist") || has(line, "no ipsw file"))
        code = REVIVE_E_NOT_FOUND;
    else if (has(line, "might be corrupt") || has(line, "Unable to extract"))
        code = REVIVE_E_CORRUPT;
    else if (has(line, "Unable to discover device type"))
        code = REVIVE_E_UNSUPPORTED;
    else if (has(line, "Unable to discover device mode") || has(line, "make sure a device is attached") ||
             has(line, "No device found"))
        code = p->device_touched ? REVIVE_E_DISCONNECTED : REVIVE_E_NO_DEVICE;
    else if (has(line, "did not disconnect") || has(line, "did not reconnect") ||
             has(line, "failed to enter restore mode") || has(line, "Could not connect to device") ||
             has(line, "Unable to connect to device") || has(line, "Unable to connect to restored") ||
             has(line, "Unable to open device") || has(line, "lost") || has(line, "disconnected"))
        code = REVIVE_E_DISCONNECTED;
    else if (has(line, "Unable to restore device") && p->restore_started)
        code = REVIVE_E_DISCONNECTED; /* restored went away without saying why */
    int cur = p->error_code ? error_rank(p->error_code) : -1;
    if (error_rank(code) > cur) { /* the first specific cause wins */
        p->error_code = code;
        snprintf(p->error_line, sizeof p->error_line, "%s", line);
    }
}

static void remember(fw_parse *p, const char *line)
{
    size_t slot;
    if (p->tail_count < FW_TAIL_LINES) {
        slot = (p->tail_start + p->tail_count) % FW_TAIL_LINES;
        p->tail_count++;
    } else {
        slot = p->tail_start;
        p->tail_start = (p->tail_start + 1) % FW_TAIL_LINES;
    }
    snprintf(p->tail[slot], sizeof p->tail[slot], "%s", line);
}

void fw_parse_line(fw_parse *p, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line)
        return;
    if (line[0] == '[') {
        /* progress bar: "[=====     ]  40.0%" */
        const char *close = strchr(line, ']');
        if (close) {
            double v = strtod(close + 1, NULL);
            if (v >= 0 && v <= 100)
                p->percent = v;
        }
        return; /* redrawn many times: not worth a tail slot */
    }
    remember(p, line);
    if (!strncmp(line, "ERROR", 5)) {
        classify_error(p, line);
        return;
    }
    if (has(line, "Extracting") || has(line, "Checking IPSW") || has(line, "Identified device") ||
        has(line, "Product Version") || has(line, "Found device in")) {
        set_step(p, "prepare");
    } else if (has(line, "SHSH") || has(line, "TSS") || has(line, "Getting ApNonce")) {
        set_step(p, "sign");
    } else if (has(line, "Entering recovery mode")) {
        p->device_touched = true;
        set_step(p, "recovery");
    } else if (p->restore_started && (has(line, "Sending filesystem") || has(line, "Connected to ASR"))) {
        set_step(p, "upload-fs"); /* the OS image streams to the restore ramdisk */
    } else if (!p->restore_started &&
               (!strncmp(line, "Sending ", 8) || has(line, "Waiting for device to enter restore mode") ||
                has(line, "Recovery Mode Environment") || has(line, "Booting"))) {
        p->device_touched = true;
        set_step(p, "boot");
    } else if (has(line, "About to restore device")) {
        p->device_touched = true;
        p->restore_started = true;
        set_step(p, "restore");
    } else if (has(line, "Verifying restore") || has(line, "Verifying")) {
        set_step(p, "verify");
    } else if (has(line, "Flashing firmware") || has(line, "Updating baseband") ||
               has(line, "Flashing")) {
        set_step(p, "flash");
    } else if (has(line, "Status: Restore Finished")) {
        p->finished = true;
        set_step(p, "finish");
    } else if (!strncmp(line, "Status: ", 8) && !has(line, "Finished")) {
        classify_error(p, line); /* restored's failure status (Disk Failure, Fail, ...) */
        if (p->error_code == REVIVE_E_UNKNOWN)
            p->error_code = REVIVE_E_REFUSED;
    } else if (!strcmp(line, "DONE")) {
        p->done = true;
    }
}

void fw_parse_tail(const fw_parse *p, char *out, size_t cap, size_t max_lines)
{
    size_t n = p->tail_count < max_lines ? p->tail_count : max_lines;
    size_t first = p->tail_count - n;
    size_t used = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = first; i < p->tail_count && used + 1 < cap; i++) {
        const char *l = p->tail[(p->tail_start + i) % FW_TAIL_LINES];
        int w = snprintf(out + used, cap - used, "%s%s", used ? " | " : "", l);
        if (w < 0)
            break;
        used += (size_t)w;
        if (used >= cap)
            used = cap - 1;
    }
}

static int triple(const char *s)
{
    int a = 0, b = 0, c = 0;
    if (!s || sscanf(s, "%d.%d.%d", &a, &b, &c) < 2)
        return 0;
    return a * 10000 + b * 100 + c;
}

int fw_parse_version(const char *text)
{
    if (!text)
        return 0;
    for (const char *p = text; *p; p++)
        if (*p >= '0' && *p <= '9' && (p == text || p[-1] == ' ' || p[-1] == 'v'))
            return triple(p);
    return 0;
}

int fw_ios_version(const char *text)
{
    return triple(text);
}
