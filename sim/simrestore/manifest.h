/* manifest.h: an IPSW's BuildManifest.plist as idevicerestore reads it: the version, the
 * product types it supports and the build identity for a device and restore behaviour. */
#ifndef SIMRESTORE_MANIFEST_H
#define SIMRESTORE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include <plist/plist.h>

#include "ipsw.h"

struct manifest {
    plist_t root;
    char version[32];            /* ProductVersion */
    char build[32];              /* ProductBuildVersion */
    int build_major;             /* the leading number of the build, "20A362" -> 20 */
};

/* The components every restore needs, by their BuildManifest names. */
extern const char *const manifest_required[];

int manifest_load(const struct ipsw *z, struct manifest *m);
void manifest_free(struct manifest *m);
bool manifest_supports(const struct manifest *m, const char *product_type);
/* The identity whose DeviceClass is hardware_model (any case) and whose RestoreBehavior is
 * "Erase" or "Update"; an update falls back to any identity of the model. NULL if none. */
plist_t manifest_identity(const struct manifest *m, const char *hardware_model, bool erase);
/* A string of the identity's Info dict, or NULL. */
const char *identity_info(plist_t identity, const char *key);
/* The path inside the IPSW of a component (Manifest.<name>.Info.Path), or NULL. */
const char *identity_path(plist_t identity, const char *component);

#endif
