/* manifest.c: BuildManifest.plist through libplist (see manifest.h). The manifest comes
 * from the IPSW, so every node is type-checked before use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest.h"

#define MANIFEST_MAX (32u * 1024u * 1024u)

const char *const manifest_required[] = { "iBSS", "iBEC", "RestoreRamDisk", "RestoreKernelCache",
                                          "RestoreDeviceTree", "OS", NULL };

static const char *str_of(plist_t node)
{
    return node && plist_get_node_type(node) == PLIST_STRING ? plist_get_string_ptr(node, NULL) : NULL;
}

int manifest_load(const struct ipsw *z, struct manifest *m)
{
    memset(m, 0, sizeof *m);
    char *buf = NULL;
    size_t len = 0;
    if (ipsw_read(z, "BuildManifest.plist", MANIFEST_MAX, &buf, &len) != 0)
        return -1;
    plist_from_memory(buf, (uint32_t)len, &m->root);
    free(buf);
    if (!m->root || plist_get_node_type(m->root) != PLIST_DICT) {
        manifest_free(m);
        return -1;
    }
    const char *v = str_of(plist_dict_get_item(m->root, "ProductVersion"));
    const char *b = str_of(plist_dict_get_item(m->root, "ProductBuildVersion"));
    plist_t ids = plist_dict_get_item(m->root, "BuildIdentities");
    if (!v || !b || strlen(v) >= sizeof m->version || strlen(b) >= sizeof m->build || !ids ||
        plist_get_node_type(ids) != PLIST_ARRAY) {
        manifest_free(m);
        return -1;
    }
    strcpy(m->version, v);
    strcpy(m->build, b);
    m->build_major = atoi(m->build);
    return 0;
}

void manifest_free(struct manifest *m)
{
    if (m->root)
        plist_free(m->root);
    m->root = NULL;
}

bool manifest_supports(const struct manifest *m, const char *product_type)
{
    plist_t arr = plist_dict_get_item(m->root, "SupportedProductTypes");
    if (!arr || plist_get_node_type(arr) != PLIST_ARRAY)
        return false;
    for (uint32_t i = 0; i < plist_array_get_size(arr); i++) {
        const char *s = str_of(plist_array_get_item(arr, i));
        if (s && strcmp(s, product_type) == 0)
            return true;
    }
    return false;
}

const char *identity_info(plist_t identity, const char *key)
{
    plist_t info = identity ? plist_dict_get_item(identity, "Info") : NULL;
    if (!info || plist_get_node_type(info) != PLIST_DICT)
        return NULL;
    return str_of(plist_dict_get_item(info, key));
}

static plist_t find_identity(const struct manifest *m, const char *model, const char *behavior)
{
    plist_t ids = plist_dict_get_item(m->root, "BuildIdentities");
    for (uint32_t i = 0; i < plist_array_get_size(ids); i++) {
        plist_t id = plist_array_get_item(ids, i);
        if (plist_get_node_type(id) != PLIST_DICT)
            continue;
        const char *cls = identity_info(id, "DeviceClass");
        const char *rb = identity_info(id, "RestoreBehavior");
        if (cls && strcasecmp(cls, model) == 0 && (!behavior || (rb && strcasecmp(rb, behavior) == 0)))
            return id;
    }
    return NULL;
}

plist_t manifest_identity(const struct manifest *m, const char *hardware_model, bool erase)
{
    plist_t id = find_identity(m, hardware_model, erase ? "Erase" : "Update");
    if (!id && !erase)
        id = find_identity(m, hardware_model, NULL);
    return id;
}

const char *identity_path(plist_t identity, const char *component)
{
    plist_t man = plist_dict_get_item(identity, "Manifest");
    plist_t comp = man && plist_get_node_type(man) == PLIST_DICT ? plist_dict_get_item(man, component) : NULL;
    plist_t info = comp && plist_get_node_type(comp) == PLIST_DICT ? plist_dict_get_item(comp, "Info") : NULL;
    if (!info || plist_get_node_type(info) != PLIST_DICT)
        return NULL;
    return str_of(plist_dict_get_item(info, "Path"));
}
