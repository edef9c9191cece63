/* One source, many broken plugins: each BAD_* define builds a plugin that the loader must
 * refuse for exactly one reason (see CMakeLists.txt and test_loader.c). */
#include <revive/revive.h>
#include <string.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "good"
#endif

static int ok_init(const revive_host *h, void **state, revive_error *err)
{
    (void)h;
    *state = NULL;
#ifdef BAD_INIT
    err->code = REVIVE_E_UNSUPPORTED;
    strcpy(err->message, "this plugin needs a device it cannot find");
    return REVIVE_E_UNSUPPORTED;
#else
    (void)err;
    return REVIVE_OK;
#endif
}

#ifdef BAD_UNRESOLVED
extern int revive_test_symbol_that_does_not_exist(void);
static int probe(void *s, revive_call *c, const char *p) { (void)s; (void)c; (void)p; return revive_test_symbol_that_does_not_exist(); }
#else
static int probe(void *s, revive_call *c, const char *p) { (void)s; (void)c; (void)p; return 0; }
#endif

static const revive_importer importer = {
#ifdef BAD_CAP_SIZE
    .size = 8,
#else
    .size = sizeof(revive_importer),
#endif
    .name = "test", .probe = probe,
};
static const revive_importer *const importers[] = { &importer, NULL };

static const revive_plugin descriptor = {
#if defined(BAD_MAJOR)
    .size = sizeof(revive_plugin), .abi_major = REVIVE_ABI_MAJOR + 1, .abi_minor = 0,
#elif defined(BAD_MINOR)
    .size = sizeof(revive_plugin), .abi_major = REVIVE_ABI_MAJOR, .abi_minor = REVIVE_ABI_MINOR + 1,
#elif defined(BAD_SIZE)
    .size = 24, .abi_major = REVIVE_ABI_MAJOR, .abi_minor = REVIVE_ABI_MINOR,
#else
    REVIVE_PLUGIN_HEADER,
#endif
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .license = "MIT",
    .init = ok_init,
    .importers = importers,
};

#ifndef BAD_NO_ENTRY
REVIVE_PLUGIN(descriptor)
#else
/* Exported, but not under the entry name. */
REVIVE_EXPORT const revive_plugin *some_other_name(void);
REVIVE_EXPORT const revive_plugin *some_other_name(void) { return &descriptor; }
#endif
