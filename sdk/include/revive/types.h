/*
 * revive/types.h — the small shared types that cross the plugin boundary.
 *
 * Rules for every struct here and in plugin.h/host.h (they are the ABI):
 * - it starts with `uint32_t size`, set by whoever fills it to sizeof(the struct it knew);
 * - fields are only ever added at the end; a reader checks `size` before reading a field
 *   that came later (REVIVE_HAS_FIELD), so an older peer's struct reads as "absent".
 */
#ifndef REVIVE_TYPES_H
#define REVIVE_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define REVIVE_ABI_MAJOR 1
#define REVIVE_ABI_MINOR 0

/* True if a struct whose first member is `size` is large enough to hold `field`. */
#define REVIVE_HAS_FIELD(ptr, type, field) \
    ((ptr) != NULL && (ptr)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

#if defined(_WIN32)
#  define REVIVE_EXPORT __declspec(dllexport)
#else
#  define REVIVE_EXPORT __attribute__((visibility("default")))
#endif

/* Where a device is in its life. A phone moves between these; its ECID stays. */
typedef enum revive_mode {
    REVIVE_MODE_UNKNOWN  = 0,
    REVIVE_MODE_NORMAL   = 1, /* iOS booted, lockdownd answers */
    REVIVE_MODE_RECOVERY = 2, /* iBoot, USB product 0x1280-0x1283 */
    REVIVE_MODE_DFU      = 3, /* SecureROM DFU, USB product 0x1227 */
    REVIVE_MODE_RESTORE  = 4, /* restore ramdisk, restored answers instead of lockdownd */
    REVIVE_MODE_OFF      = 5  /* not on the bus (known only from history) */
} revive_mode;

/* A typed value, used for options, info fields and event fields. Strings are UTF-8 and
 * owned by whoever made the value; they stay valid for the duration of the call. */
typedef enum revive_value_type {
    REVIVE_VAL_NONE = 0,
    REVIVE_VAL_BOOL = 1,
    REVIVE_VAL_INT  = 2, /* int64 */
    REVIVE_VAL_REAL = 3, /* double */
    REVIVE_VAL_STR  = 4  /* const char * */
} revive_value_type;

typedef struct revive_field {
    const char *key;
    revive_value_type type;
    union {
        bool b;
        int64_t i;
        double r;
        const char *s;
    } v;
} revive_field;

/* Convenience constructors for field arrays. */
#define REVIVE_FIELD_BOOL(k, x) { (k), REVIVE_VAL_BOOL, { .b = (x) } }
#define REVIVE_FIELD_INT(k, x)  { (k), REVIVE_VAL_INT,  { .i = (x) } }
#define REVIVE_FIELD_REAL(k, x) { (k), REVIVE_VAL_REAL, { .r = (x) } }
#define REVIVE_FIELD_STR(k, x)  { (k), REVIVE_VAL_STR,  { .s = (x) } }

/* Look a key up in a field array; NULL if absent. */
static inline const revive_field *revive_field_find(const revive_field *f, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const char *a = f[i].key, *b = key;
        if (!a)
            continue;
        while (*a && *a == *b) { a++; b++; }
        if (*a == *b)
            return &f[i];
    }
    return NULL;
}

/* What a transport knows about one appearance of a device. Filled by the transport.
 * ecid is the identity across modes (lockdown UniqueChipID in normal mode, the ECID in
 * the USB serial string in recovery and DFU); 0 if not known yet. */
typedef struct revive_device_id {
    uint32_t size;
    uint64_t ecid;
    char udid[64];          /* empty in recovery and DFU */
    revive_mode mode;
    char product_type[32];  /* "iPhone12,1"; may be empty in recovery/DFU */
    char hardware_model[32];/* "N104AP" */
    uint32_t cpid;          /* chip id, 0 if unknown */
    uint32_t bdid;          /* board id */
    char serial[64];        /* serial number in normal mode; USB serial string otherwise */
    char location[64];      /* where on the bus (for "which port"); may be empty */
    char transport[32];     /* name of the transport that saw it, set by the core */
} revive_device_id;

/* An error as it crosses the boundary: revive's code plus what the library said.
 * Filled through host->fail(); plain memory, no ownership. */
typedef struct revive_error {
    uint32_t size;
    int32_t code;           /* revive_status */
    int32_t origin_code;    /* the library's own code (lockdownd_error_t, CURLcode, ...) */
    char origin[32];        /* "lockdownd", "irecv", "mobilebackup2", "curl", "idevicerestore" */
    char message[512];      /* what happened and, where we know it, what to do */
} revive_error;

#endif /* REVIVE_TYPES_H */
