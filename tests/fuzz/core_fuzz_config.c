/* The config file reader: any bytes as ~/.config/revive/config.json. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/revive-fuzz-config-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    revive_error err;
    rv_config_reset();
    if (rv_config_load(path, &err) == REVIVE_OK) {
        (void)rv_config_get("usb.idevicerestore");
        (void)rv_config_get("a.b.c");
    }
    rv_config_reset();
    unlink(path);
    return 0;
}
