/* hooks.c: calls from the core into modules that may not be linked in yet. S3's data.c
 * and S2's iboot.c are separate files that appear when their authors commit; until then
 * the weak references are NULL and the core says so instead of crashing. */
#include <stdio.h>
#include <unistd.h>

#include "simcore.h"

int sim_data_seed(struct sim_device *d, uint64_t seed, int files, uint64_t bytes) __attribute__((weak));
int sim_data_digest(struct sim_device *d, char out[65]) __attribute__((weak));
void sim_usb_serve(struct sim_world *w, int fd) __attribute__((weak));

int sim_core_data_seed(struct sim_device *d)
{
    if (!sim_data_seed)
        return d->data_files > 0 ? -1 : 0;
    return sim_data_seed(d, d->data_seed, d->data_files, d->data_bytes);
}

int sim_core_data_digest(struct sim_device *d, char out[65])
{
    if (!sim_data_digest)
        return -1;
    return sim_data_digest(d, out);
}

/* Serves one usb-socket client, or refuses it when the recovery module is absent. */
void sim_core_usb_serve(struct sim_world *w, int fd)
{
    if (sim_usb_serve) {
        sim_usb_serve(w, fd);
        return;
    }
    static const char msg[] = "simdevd: recovery/DFU module (iboot.c) is not built in\n";
    if (write(fd, msg, sizeof msg - 1) < 0) {
        /* nothing to do: the client is gone */
    }
    close(fd);
}
