/* sim-ipsw: writes a small synthetic IPSW for simdevd's restores.
 *
 *   sim-ipsw -o OUT.ipsw -p PRODUCT [-p PRODUCT...] -V VERSION -b BUILD
 *            [-m MODEL] [--os-size BYTES] [--only erase|update] [--omit COMPONENT]
 *
 * The zip (libarchive) holds what idevicerestore reads first: BuildManifest.plist (libplist)
 * with ProductVersion, ProductBuildVersion, SupportedProductTypes and, per product, an
 * "Erase" and an "Update" build identity whose Manifest names the iBSS, iBEC, restore
 * ramdisk, kernelcache, device tree and OS image, and those files, filled with
 * deterministic bytes (the OS image --os-size big, default 1 MiB). Nothing in it boots a
 * real phone. A product's board (hardware model, chip and board ids) comes from
 * libirecovery's table unless -m gives the model. --omit leaves one component's file out
 * and --only keeps one restore behaviour, to make IPSWs that must be refused.
 * The file is written aside and renamed into place, so OUT is whole or absent.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libirecovery.h>
#include <plist/plist.h>

#define MAX_PRODUCTS 8

struct board {
    char product[32];
    char model[16];      /* lower case, e.g. n104ap */
    char stem[16];       /* the model without "ap", as iBoot file names use it */
    unsigned chip_id, board_id;
};

static const char *omit;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sim-ipsw -o OUT.ipsw -p PRODUCT [-p PRODUCT...] -V VERSION -b BUILD [options]\n"
            "  -o, --output FILE     the IPSW to write (replaced whole)\n"
            "  -p, --product TYPE    a product type it supports, e.g. iPhone12,1 (repeatable)\n"
            "  -V, --version VER     ProductVersion, e.g. 16.0\n"
            "  -b, --build BUILD     ProductBuildVersion, e.g. 20A362\n"
            "  -m, --model MODEL     hardware model for a product libirecovery does not know (one -p)\n"
            "  --chip-id N, --board-id N   with -m\n"
            "  --os-size BYTES       size of the OS image (default 1048576, at most 256 MiB)\n"
            "  --only erase|update   only that build identity (default both)\n"
            "  --omit COMPONENT      leave that component's file out (iBSS, iBEC, RestoreRamDisk,\n"
            "                        RestoreKernelCache, RestoreDeviceTree, OS)\n");
}

/* Deterministic filler: the same name always gives the same bytes. */
static void fill(unsigned char *buf, size_t len, const char *name)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (const char *p = name; *p; p++)
        x = (x ^ (unsigned char)*p) * 0x100000001B3ull;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
}

static int add_file(struct archive *a, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -1;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    int rc = archive_write_header(a, e) == ARCHIVE_OK &&
             (len == 0 || archive_write_data(a, data, len) == (la_ssize_t)len) ? 0 : -1;
    archive_entry_free(e);
    return rc;
}

/* A component's file, unless --omit names that component. */
static int add_filler(struct archive *a, const char *comp, const char *name, size_t len)
{
    if (omit && strcmp(omit, comp) == 0)
        return 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    fill(buf, len, name);
    int rc = add_file(a, name, buf, len);
    free(buf);
    return rc;
}

static plist_t component(const char *path)
{
    plist_t c = plist_new_dict();
    plist_t info = plist_new_dict();
    plist_dict_set_item(info, "Path", plist_new_string(path));
    plist_dict_set_item(c, "Info", info);
    return c;
}

/* The file names of one board's components (the OS image is shared). */
struct paths { char ibss[96], ibec[96], ramdisk[96], kernel[96], dtree[96], os[96]; };

static void paths_of(const struct board *b, const char *build, bool erase, struct paths *p)
{
    snprintf(p->ibss, sizeof p->ibss, "Firmware/dfu/iBSS.%s.RELEASE.im4p", b->stem);
    snprintf(p->ibec, sizeof p->ibec, "Firmware/dfu/iBEC.%s.RELEASE.im4p", b->stem);
    snprintf(p->ramdisk, sizeof p->ramdisk, "%s-%s.dmg", build, erase ? "restore" : "update");
    snprintf(p->kernel, sizeof p->kernel, "kernelcache.release.%s", b->stem);
    snprintf(p->dtree, sizeof p->dtree, "Firmware/all_flash/DeviceTree.%s.im4p", b->model);
    snprintf(p->os, sizeof p->os, "%s-os.dmg", build);
}

static plist_t identity(const struct board *b, const char *build, bool erase)
{
    struct paths p;
    paths_of(b, build, erase, &p);
    char hex[16];
    plist_t id = plist_new_dict();
    snprintf(hex, sizeof hex, "0x%04X", b->chip_id);
    plist_dict_set_item(id, "ApChipID", plist_new_string(hex));
    snprintf(hex, sizeof hex, "0x%02X", b->board_id);
    plist_dict_set_item(id, "ApBoardID", plist_new_string(hex));
    plist_t info = plist_new_dict();
    plist_dict_set_item(info, "BuildNumber", plist_new_string(build));
    plist_dict_set_item(info, "DeviceClass", plist_new_string(b->model));
    plist_dict_set_item(info, "RestoreBehavior", plist_new_string(erase ? "Erase" : "Update"));
    plist_dict_set_item(info, "Variant", plist_new_string(erase ? "Customer Erase Install (IPSW)"
                                                                : "Customer Upgrade Install (IPSW)"));
    plist_dict_set_item(id, "Info", info);
    plist_t man = plist_new_dict();
    plist_dict_set_item(man, "iBSS", component(p.ibss));
    plist_dict_set_item(man, "iBEC", component(p.ibec));
    plist_dict_set_item(man, "RestoreRamDisk", component(p.ramdisk));
    plist_dict_set_item(man, "RestoreKernelCache", component(p.kernel));
    plist_dict_set_item(man, "RestoreDeviceTree", component(p.dtree));
    plist_dict_set_item(man, "OS", component(p.os));
    plist_dict_set_item(id, "Manifest", man);
    return id;
}

static int board_of(const char *product, const char *model, unsigned chip, unsigned board, struct board *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->product, sizeof b->product, "%s", product);
    if (model) {
        snprintf(b->model, sizeof b->model, "%s", model);
        b->chip_id = chip;
        b->board_id = board;
    } else {
        irecv_device_t dev = NULL;
        if (irecv_devices_get_device_by_product_type(product, &dev) != IRECV_E_SUCCESS || !dev) {
            fprintf(stderr, "sim-ipsw: libirecovery does not know %s; give its board with -m MODEL "
                            "--chip-id N --board-id N\n", product);
            return -1;
        }
        snprintf(b->model, sizeof b->model, "%s", dev->hardware_model);
        b->chip_id = dev->chip_id;
        b->board_id = dev->board_id;
    }
    for (char *c = b->model; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    snprintf(b->stem, sizeof b->stem, "%s", b->model);
    size_t n = strlen(b->stem);
    if (n > 2 && !strcmp(b->stem + n - 2, "ap"))
        b->stem[n - 2] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *version = NULL, *build = NULL, *model = NULL, *only = NULL;
    const char *products[MAX_PRODUCTS];
    size_t nproducts = 0;
    unsigned long chip = 0, board = 0;
    unsigned long long os_size = 1048576;
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' }, { "product", required_argument, NULL, 'p' },
        { "version", required_argument, NULL, 'V' }, { "build", required_argument, NULL, 'b' },
        { "model", required_argument, NULL, 'm' },  { "chip-id", required_argument, NULL, 1 },
        { "board-id", required_argument, NULL, 2 }, { "os-size", required_argument, NULL, 3 },
        { "only", required_argument, NULL, 4 },     { "omit", required_argument, NULL, 5 },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "o:p:V:b:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p':
            if (nproducts == MAX_PRODUCTS) {
                fprintf(stderr, "sim-ipsw: at most %d products\n", MAX_PRODUCTS);
                return 2;
            }
            products[nproducts++] = optarg;
            break;
        case 'V': version = optarg; break;
        case 'b': build = optarg; break;
        case 'm': model = optarg; break;
        case 1: chip = strtoul(optarg, NULL, 0); break;
        case 2: board = strtoul(optarg, NULL, 0); break;
        case 3: os_size = strtoull(optarg, NULL, 0); break;
        case 4: only = optarg; break;
        case 5: omit = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!out || !nproducts || !version || !build || optind != argc || (model && nproducts != 1) ||
        (only && strcmp(only, "erase") && strcmp(only, "update")) || os_size > (256ull << 20)) {
        usage(stderr);
        return 2;
    }
    struct board boards[MAX_PRODUCTS];
    for (size_t i = 0; i < nproducts; i++)
        if (board_of(products[i], model, (unsigned)chip, (unsigned)board, &boards[i]) != 0)
            return 1;

    plist_t bm = plist_new_dict();
    plist_dict_set_item(bm, "ManifestVersion", plist_new_uint(0));
    plist_dict_set_item(bm, "ProductVersion", plist_new_string(version));
    plist_dict_set_item(bm, "ProductBuildVersion", plist_new_string(build));
    plist_t types = plist_new_array();
    plist_t ids = plist_new_array();
    for (size_t i = 0; i < nproducts; i++) {
        plist_array_append_item(types, plist_new_string(boards[i].product));
        if (!only || !strcmp(only, "erase"))
            plist_array_append_item(ids, identity(&boards[i], build, true));
        if (!only || !strcmp(only, "update"))
            plist_array_append_item(ids, identity(&boards[i], build, false));
    }
    plist_dict_set_item(bm, "SupportedProductTypes", types);
    plist_dict_set_item(bm, "BuildIdentities", ids);
    char *xml = NULL;
    uint32_t xml_len = 0;
    plist_to_xml(bm, &xml, &xml_len);

    plist_t rp = plist_new_dict();
    plist_dict_set_item(rp, "ProductVersion", plist_new_string(version));
    plist_dict_set_item(rp, "ProductBuildVersion", plist_new_string(build));
    plist_dict_set_item(rp, "SupportedProductTypes", plist_copy(types));
    char *rxml = NULL;
    uint32_t rxml_len = 0;
    plist_to_xml(rp, &rxml, &rxml_len);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    struct archive *a = archive_write_new();
    int rc = -1;
    if (a && xml && rxml && archive_write_set_format_zip(a) == ARCHIVE_OK && archive_write_open_filename(a, tmp) == ARCHIVE_OK) {
        rc = add_file(a, "BuildManifest.plist", xml, xml_len) | add_file(a, "Restore.plist", rxml, rxml_len);
        for (size_t i = 0; rc == 0 && i < nproducts; i++) {
            struct paths pe, pu;
            paths_of(&boards[i], build, true, &pe);
            paths_of(&boards[i], build, false, &pu);
            rc = add_filler(a, "iBSS", pe.ibss, 4096) | add_filler(a, "iBEC", pe.ibec, 4096) |
                 add_filler(a, "RestoreKernelCache", pe.kernel, 8192) | add_filler(a, "RestoreDeviceTree", pe.dtree, 2048);
            if (rc == 0 && (!only || !strcmp(only, "erase")))
                rc = add_filler(a, "RestoreRamDisk", pe.ramdisk, 16384);
            if (rc == 0 && (!only || !strcmp(only, "update")))
                rc = add_filler(a, "RestoreRamDisk", pu.ramdisk, 16384);
        }
        if (rc == 0) {
            char os[96];
            snprintf(os, sizeof os, "%s-os.dmg", build);
            rc = add_filler(a, "OS", os, (size_t)os_size);
        }
    }
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK)
            rc = -1;
        archive_write_free(a);
    }
    free(xml);
    free(rxml);
    plist_free(bm);
    plist_free(rp);
    if (rc != 0 || rename(tmp, out) != 0) {
        fprintf(stderr, "sim-ipsw: cannot write %s: %s\n", out, rc != 0 ? "archive error" : strerror(errno));
        unlink(tmp);
        return 1;
    }
    printf("%s: iOS %s (%s) for", out, version, build);
    for (size_t i = 0; i < nproducts; i++)
        printf(" %s (%s)", boards[i].product, boards[i].model);
    printf("\n");
    return 0;
}
