/*
 * sim_harness.h — starting simdevd for one test and talking to its control socket.
 */
#ifndef REVIVE_TEST_SIM_HARNESS_H
#define REVIVE_TEST_SIM_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            sim_stop();                                                              \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Start simdevd with a scenario given as JSON text; sets USBMUXD_SOCKET_ADDRESS,
 * SIMDEVD_CONTROL and SIMDEVD_USB_SOCKET for this process. */
void sim_start(const char *scenario_json);
void sim_stop(void);
const char *sim_dir(void);

/* One control command (a JSON object as text); returns the final reply (caller
 * json_decref), or NULL if it was not ok (the error is printed). */
json_t *sim_ctl(const char *fmt, ...);
/* Device 0's field from "state" (string fields), copied into a static buffer. */
const char *sim_field(int device, const char *field);
bool sim_log_has(int device, const char *needle);
/* Wait until device is in mode (control "wait"); true if it got there. */
bool sim_wait_mode(int device, const char *mode, double timeout);

#endif
