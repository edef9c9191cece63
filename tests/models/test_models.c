/* The model table: every iPhone, iPad and iPod touch the installed libirecovery knows must
 * be in our table with the same product type, board, CPID and BDID; the models after its
 * time must be there too; and the button layouts and sequences of known representatives
 * must be the ones Apple publishes. */
#include "models.h"
#include <libirecovery.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

static bool is_handheld(const char *pt)
{
    return strncmp(pt, "iPhone", 6) == 0 || strncmp(pt, "iPad", 4) == 0 || strncmp(pt, "iPod", 4) == 0;
}

/* The row for exactly this board (a product type may have two). */
static const rv_model *row_for_board(const char *board)
{
    return rv_model_by_board(board);
}

static void every_libirecovery_model_is_in_the_table(void **state)
{
    (void)state;
    size_t checked = 0;
    for (irecv_device_t d = irecv_devices_get_all(); d && d->product_type; d++) {
        if (!is_handheld(d->product_type))
            continue;
        const rv_model *m = row_for_board(d->hardware_model);
        if (!m) {
            print_error("missing: %s %s\n", d->product_type, d->hardware_model);
            fail();
        }
        assert_string_equal(m->product_type, d->product_type);
        assert_int_equal(strcasecmp(m->board, d->hardware_model), 0);
        assert_int_equal(m->cpid, d->chip_id);
        assert_int_equal(m->bdid, d->board_id);
        /* And the lookup a phone in DFU gets. */
        assert_ptr_equal(rv_model_by_chip(d->chip_id, d->board_id), m);
        assert_non_null(rv_model_by_product_type(d->product_type));
        checked++;
    }
    /* libirecovery 1.0.0 knows 105 such devices; newer ones know more. */
    assert_true(checked >= 100);
}

static void newer_models_are_present(void **state)
{
    (void)state;
    static const struct { const char *pt, *board, *name; uint32_t cpid, bdid; } want[] = {
        { "iPhone12,1", "N104AP", "iPhone 11", 0x8030, 0x04 },
        { "iPhone13,2", "D53GAP", "iPhone 12", 0x8101, 0x0C },
        { "iPhone14,5", "D17AP", "iPhone 13", 0x8110, 0x0A },
        { "iPhone14,7", "D27AP", "iPhone 14", 0x8110, 0x18 },
        { "iPhone15,4", "D37AP", "iPhone 15", 0x8120, 0x08 },
        { "iPhone16,2", "D84AP", "iPhone 15 Pro Max", 0x8130, 0x06 },
        { "iPhone17,3", "D47AP", "iPhone 16", 0x8140, 0x08 },
        { "iPhone17,1", "D93AP", "iPhone 16 Pro", 0x8140, 0x0C },
        { "iPhone17,5", "V59AP", "iPhone 16e", 0x8140, 0x04 },
        { "iPad13,18", "J271AP", "iPad (10th gen, WiFi)", 0x8101, 0x14 },
        { "iPad14,1", "J310AP", "iPad mini (6th gen, WiFi)", 0x8110, 0x04 },
        { "iPad16,3", "J717AP", "iPad Pro 11-inch (M4, WiFi)", 0x8132, 0x08 },
        { "iPad15,7", "J481AP", "iPad (A16, WiFi)", 0x8120, 0x10 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const rv_model *m = rv_model_by_product_type(want[i].pt);
        assert_non_null(m);
        assert_string_equal(m->board, want[i].board);
        assert_string_equal(m->name, want[i].name);
        assert_int_equal(m->cpid, want[i].cpid);
        assert_int_equal(m->bdid, want[i].bdid);
        assert_ptr_equal(rv_model_by_chip(want[i].cpid, want[i].bdid), m);
        assert_true(m->year >= 2019);
    }
}

static void lookups(void **state)
{
    (void)state;
    assert_ptr_equal(rv_model_by_board("n104ap"), rv_model_by_product_type("iPhone12,1"));
    assert_ptr_equal(rv_model_by_board("N104"), rv_model_by_product_type("iphone12,1"));
    assert_null(rv_model_by_board("N10"));
    assert_null(rv_model_by_product_type("iPhone99,1"));
    assert_null(rv_model_by_product_type(NULL));
    assert_null(rv_model_by_chip(0, 0));
    assert_null(rv_model_by_chip(0x8030, 0x7E));
    /* Two boards of one product type: the chip picks the right one. */
    const rv_model *samsung = rv_model_by_chip(0x8000, 0x04), *tsmc = rv_model_by_chip(0x8003, 0x04);
    assert_non_null(samsung);
    assert_non_null(tsmc);
    assert_string_equal(samsung->board, "N71AP");
    assert_string_equal(tsmc->board, "N71MAP");
    assert_string_equal(tsmc->product_type, "iPhone8,1");
    /* A device as a transport reports it in DFU: no product type, only chip and board. */
    revive_device_id id;
    memset(&id, 0, sizeof id);
    id.size = sizeof id;
    id.cpid = 0x8110;
    id.bdid = 0x0A;
    const rv_model *m = rv_model_for_device(&id);
    assert_non_null(m);
    assert_string_equal(m->product_type, "iPhone14,5");
    /* Every row is well-formed and unique by board and by (CPID, BDID). */
    for (size_t i = 0; i < rv_model_count(); i++) {
        const rv_model *a = rv_model_at(i);
        assert_non_null(a->name);
        assert_true(a->year >= 2007 && a->year <= 2030);
        assert_ptr_equal(rv_model_by_board(a->board), a);
        assert_ptr_equal(rv_model_by_chip(a->cpid, a->bdid), a);
    }
    assert_null(rv_model_at(rv_model_count()));
}

static void button_layouts(void **state)
{
    (void)state;
    static const struct { const char *pt; rv_buttons b; rv_power_button p; } want[] = {
        { "iPhone6,1", RV_BUTTONS_HOME, RV_POWER_TOP },      /* iPhone 5s */
        { "iPhone8,1", RV_BUTTONS_HOME, RV_POWER_SIDE },     /* iPhone 6s */
        { "iPhone8,4", RV_BUTTONS_HOME, RV_POWER_TOP },      /* iPhone SE (1st gen) */
        { "iPhone9,1", RV_BUTTONS_VOLDOWN, RV_POWER_SIDE },  /* iPhone 7 */
        { "iPhone9,4", RV_BUTTONS_VOLDOWN, RV_POWER_SIDE },  /* iPhone 7 Plus */
        { "iPod9,1", RV_BUTTONS_VOLDOWN, RV_POWER_TOP },     /* iPod touch (7th gen) */
        { "iPod7,1", RV_BUTTONS_HOME, RV_POWER_TOP },
        { "iPhone10,1", RV_BUTTONS_MODERN, RV_POWER_SIDE },  /* iPhone 8: a Home button, yet the new sequence */
        { "iPhone12,8", RV_BUTTONS_MODERN, RV_POWER_SIDE },  /* iPhone SE (2nd gen) */
        { "iPhone14,5", RV_BUTTONS_MODERN, RV_POWER_SIDE },
        { "iPad12,1", RV_BUTTONS_HOME, RV_POWER_TOP },       /* iPad (9th gen) */
        { "iPad8,1", RV_BUTTONS_MODERN, RV_POWER_TOP },      /* iPad Pro 11-inch, Face ID */
        { "iPad13,1", RV_BUTTONS_MODERN, RV_POWER_TOP },     /* iPad Air 4, Touch ID in the top button */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const rv_model *m = rv_model_by_product_type(want[i].pt);
        assert_non_null(m);
        if (m->buttons != want[i].b || m->power != want[i].p) {
            print_error("%s: buttons %s power %d\n", want[i].pt, rv_buttons_name(m->buttons), m->power);
            fail();
        }
    }
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static void sequences(void **state)
{
    (void)state;
    rv_step s[RV_MODEL_MAX_STEPS];
    /* iPhone 13, DFU: cable, vol up, vol down, hold side ~10 s, side + vol down 5 s, vol down ~10 s. */
    const rv_model *m = rv_model_by_product_type("iPhone14,5");
    size_t n = rv_model_steps(m, RV_PROC_DFU, s);
    assert_int_equal(n, 6);
    assert_int_equal(s[0].kind, RV_STEP_PREPARE);
    assert_int_equal(s[1].kind, RV_STEP_PRESS);
    assert_string_equal(s[1].buttons, "volume up button");
    assert_string_equal(s[2].buttons, "volume down button");
    assert_int_equal(s[3].kind, RV_STEP_HOLD_UNTIL);
    assert_string_equal(s[3].buttons, "side button");
    assert_int_equal(s[4].kind, RV_STEP_HOLD);
    assert_int_equal(s[4].seconds, 5);
    assert_string_equal(s[4].buttons, "side button + volume down button");
    assert_int_equal(s[5].kind, RV_STEP_HOLD_UNTIL);
    assert_string_equal(s[5].buttons, "volume down button");
    /* Force restart on the same phone: up, down, hold side until the logo. */
    n = rv_model_steps(m, RV_PROC_FORCE_RESTART, s);
    assert_int_equal(n, 3);
    assert_true(contains(s[2].text, "Apple logo"));

    /* iPhone 7: side + volume down 8 s, then volume down. */
    m = rv_model_by_product_type("iPhone9,1");
    n = rv_model_steps(m, RV_PROC_DFU, s);
    assert_int_equal(n, 3);
    assert_int_equal(s[1].kind, RV_STEP_HOLD);
    assert_int_equal(s[1].seconds, 8);
    assert_string_equal(s[1].buttons, "side button + volume down button");
    assert_string_equal(s[2].buttons, "volume down button");
    n = rv_model_steps(m, RV_PROC_FORCE_RESTART, s);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].buttons, "side button + volume down button");

    /* iPhone 5s: top + Home 8 s, then Home. */
    m = rv_model_by_product_type("iPhone6,1");
    n = rv_model_steps(m, RV_PROC_DFU, s);
    assert_int_equal(n, 3);
    assert_string_equal(s[1].buttons, "top button + Home button");
    assert_int_equal(s[1].seconds, 8);
    assert_string_equal(s[2].buttons, "Home button");
    n = rv_model_steps(m, RV_PROC_RECOVERY, s);
    assert_int_equal(n, 2);
    assert_true(contains(s[1].text, "recovery-mode screen"));

    /* iPad without a Home button: volume buttons named by the top button. */
    m = rv_model_by_product_type("iPad14,1");
    n = rv_model_steps(m, RV_PROC_FORCE_RESTART, s);
    assert_int_equal(n, 3);
    assert_string_equal(s[0].buttons, "volume button nearest the top button");
    assert_string_equal(s[2].buttons, "top button");

    /* The prompt text, and its truncation contract. */
    char buf[2048];
    m = rv_model_by_product_type("iPhone12,1");
    size_t need = rv_model_instructions(m, RV_PROC_DFU, buf, sizeof buf);
    assert_int_equal(need, strlen(buf));
    assert_true(contains(buf, "Put iPhone 11 (iPhone12,1) in DFU mode:\n 1. Connect"));
    assert_true(contains(buf, " 6. Release the side button"));
    assert_true(contains(buf, "Then: The screen stays black"));
    char small[16];
    assert_int_equal(rv_model_instructions(m, RV_PROC_DFU, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(rv_model_instructions(m, RV_PROC_DFU, NULL, 0), need);
    assert_int_equal(rv_model_steps(m, (rv_procedure)42, s), 0);
    assert_int_equal(rv_model_steps(NULL, RV_PROC_DFU, s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_libirecovery_model_is_in_the_table),
        cmocka_unit_test(newer_models_are_present),
        cmocka_unit_test(lookups),
        cmocka_unit_test(button_layouts),
        cmocka_unit_test(sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
