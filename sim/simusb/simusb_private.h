/* simusb_private.h: what libsimusb's files share (not installed, not an API). */
#ifndef SIMUSB_PRIVATE_H
#define SIMUSB_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libusb.h>

/* libsimusb exports exactly the libusb functions it defines. */
#define API __attribute__((visibility("default")))
#define APPLE_VID 0x05ac

/* True when SIMDEVD_USB_SOCKET was set at the first call: simdevd answers everything. */
bool simusb_simulated(void);
/* The real libusb's function `name` (aborts with a message when it cannot be found). */
void *simusb_real(const char *name);
#define REAL(name) ((__typeof__(&name))simusb_real(#name))

/* A device: one listing's snapshot of a phone on simdevd's usb socket. */
struct libusb_device {
    pthread_mutex_t lock;
    int refs;
    uint32_t location;
    uint16_t product_id;
    uint64_t ecid;
    char serial[256];
    char product[64];
    char nonces[256];
};

/* A device handle: one connection to simdevd bound to the device's location. */
struct libusb_device_handle {
    int fd;
    libusb_device *dev;
    pthread_mutex_t lock;
};

#endif
