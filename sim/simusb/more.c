/* more.c: the rest of the libusb API a libusb program commonly calls, beyond what
 * libirecovery does. In simulated mode each either works as it would for an Apple phone
 * on the bus (open by vid/pid, port numbers, speed, capabilities, kernel drivers) or fails
 * with LIBUSB_ERROR_NOT_SUPPORTED and says so once on stderr (configuration descriptors,
 * asynchronous and interrupt transfers) - never by handing libsimusb's objects to the
 * real libusb, which would crash. Without SIMDEVD_USB_SOCKET, all go to the real libusb.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simusb_private.h"

static void not_simulated(const char *what)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char said[16][48];
    static size_t nsaid;
    pthread_mutex_lock(&lock);
    bool seen = false;
    for (size_t i = 0; i < nsaid && !seen; i++)
        seen = strcmp(said[i], what) == 0;
    if (!seen && nsaid < 16)
        snprintf(said[nsaid++], sizeof said[0], "%s", what);
    pthread_mutex_unlock(&lock);
    if (!seen)
        fprintf(stderr, "libsimusb: %s is not simulated (simdevd's phones answer only what "
                        "libirecovery uses); it fails with LIBUSB_ERROR_NOT_SUPPORTED\n", what);
}

API libusb_device_handle *libusb_open_device_with_vid_pid(libusb_context *ctx, uint16_t vid, uint16_t pid)
{
    if (!simusb_simulated())
        return REAL(libusb_open_device_with_vid_pid)(ctx, vid, pid);
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    libusb_device_handle *h = NULL;
    for (ssize_t i = 0; i < n && !h; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd) == 0 && dd.idVendor == vid && dd.idProduct == pid &&
            libusb_open(list[i], &h) != 0)
            h = NULL;
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    return h;
}

API libusb_device *libusb_get_device(libusb_device_handle *h)
{
    if (!simusb_simulated())
        return REAL(libusb_get_device)(h);
    return h->dev;
}

API uint8_t libusb_get_port_number(libusb_device *dev)
{
    if (!simusb_simulated())
        return REAL(libusb_get_port_number)(dev);
    return 1;
}

API int libusb_get_port_numbers(libusb_device *dev, uint8_t *ports, int len)
{
    if (!simusb_simulated())
        return REAL(libusb_get_port_numbers)(dev, ports, len);
    if (!ports || len < 1)
        return LIBUSB_ERROR_OVERFLOW;
    ports[0] = 1;
    return 1;
}

API int libusb_get_device_speed(libusb_device *dev)
{
    if (!simusb_simulated())
        return REAL(libusb_get_device_speed)(dev);
    return LIBUSB_SPEED_HIGH;
}

API int libusb_has_capability(uint32_t capability)
{
    if (!simusb_simulated())
        return REAL(libusb_has_capability)(capability);
    return capability == LIBUSB_CAP_HAS_CAPABILITY || capability == LIBUSB_CAP_HAS_HOTPLUG;
}

API const char *libusb_strerror(int code)
{
    if (!simusb_simulated())
        return REAL(libusb_strerror)(code);
    return libusb_error_name(code);
}

API int libusb_kernel_driver_active(libusb_device_handle *h, int iface)
{
    if (!simusb_simulated())
        return REAL(libusb_kernel_driver_active)(h, iface);
    return 0;   /* no kernel driver binds to a phone in recovery or DFU mode */
}

API int libusb_detach_kernel_driver(libusb_device_handle *h, int iface)
{
    if (!simusb_simulated())
        return REAL(libusb_detach_kernel_driver)(h, iface);
    return LIBUSB_ERROR_NOT_FOUND;
}

API int libusb_attach_kernel_driver(libusb_device_handle *h, int iface)
{
    if (!simusb_simulated())
        return REAL(libusb_attach_kernel_driver)(h, iface);
    return LIBUSB_ERROR_NOT_FOUND;
}

API int libusb_set_auto_detach_kernel_driver(libusb_device_handle *h, int enable)
{
    if (!simusb_simulated())
        return REAL(libusb_set_auto_detach_kernel_driver)(h, enable);
    return 0;
}

API int libusb_get_config_descriptor(libusb_device *dev, uint8_t index, struct libusb_config_descriptor **config)
{
    if (!simusb_simulated())
        return REAL(libusb_get_config_descriptor)(dev, index, config);
    *config = NULL;
    not_simulated("libusb_get_config_descriptor");
    return LIBUSB_ERROR_NOT_SUPPORTED;
}

API int libusb_get_active_config_descriptor(libusb_device *dev, struct libusb_config_descriptor **config)
{
    if (!simusb_simulated())
        return REAL(libusb_get_active_config_descriptor)(dev, config);
    *config = NULL;
    not_simulated("libusb_get_active_config_descriptor");
    return LIBUSB_ERROR_NOT_SUPPORTED;
}

API void libusb_free_config_descriptor(struct libusb_config_descriptor *config)
{
    if (!simusb_simulated())
        REAL(libusb_free_config_descriptor)(config);
    /* simulated: no descriptor was ever handed out */
}

API int libusb_interrupt_transfer(libusb_device_handle *h, unsigned char endpoint, unsigned char *data, int length,
                                  int *transferred, unsigned int timeout)
{
    if (!simusb_simulated())
        return REAL(libusb_interrupt_transfer)(h, endpoint, data, length, transferred, timeout);
    if (transferred)
        *transferred = 0;
    not_simulated("libusb_interrupt_transfer");
    return LIBUSB_ERROR_NOT_SUPPORTED;
}

API struct libusb_transfer *libusb_alloc_transfer(int iso_packets)
{
    if (!simusb_simulated())
        return REAL(libusb_alloc_transfer)(iso_packets);
    not_simulated("asynchronous transfers (libusb_alloc_transfer)");
    return NULL;
}

API int libusb_submit_transfer(struct libusb_transfer *transfer)
{
    if (!simusb_simulated())
        return REAL(libusb_submit_transfer)(transfer);
    not_simulated("asynchronous transfers (libusb_submit_transfer)");
    return LIBUSB_ERROR_NOT_SUPPORTED;
}

API int libusb_cancel_transfer(struct libusb_transfer *transfer)
{
    if (!simusb_simulated())
        return REAL(libusb_cancel_transfer)(transfer);
    return LIBUSB_ERROR_NOT_FOUND;
}

API void libusb_free_transfer(struct libusb_transfer *transfer)
{
    if (!simusb_simulated())
        REAL(libusb_free_transfer)(transfer);
    /* simulated: libusb_alloc_transfer never gave one out */
}
