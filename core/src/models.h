/* The engine's model table: every iPhone, iPad and iPod touch, and the button sequences a
 * person needs for each.
 *
 * A phone in normal mode tells its product type ("iPhone12,1"); in recovery and DFU it
 * shows only its chip (CPID) and board (BDID) in the USB serial string, so the table is
 * looked up both ways. One product type may have two boards (the iPhone 6s was built with
 * two chips), so the table has one row per board and a product-type lookup returns the
 * first row.
 *
 * Button layouts decide the force-restart, recovery and DFU sequences:
 *   HOME    a Home button with the top or side (Sleep/Wake) button: iPhone 6s and earlier,
 *           iPhone SE (1st gen), iPod touch up to the 6th gen, iPads with a Home button;
 *   VOLDOWN volume down with the side (or top) button: iPhone 7 and 7 Plus, iPod touch
 *           (7th gen);
 *   MODERN  volume up, volume down, then the side (or top) button: iPhone 8 and later
 *           (SE 2nd/3rd gen included) and every iPad without a Home button.
 * Facts were learned from libirecovery's device table and Apple's published sequences;
 * tests/models checks them against the libirecovery installed on the build machine. */
#ifndef RV_MODELS_H
#define RV_MODELS_H
#include <revive/types.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rv_family { RV_FAMILY_IPHONE = 1, RV_FAMILY_IPAD = 2, RV_FAMILY_IPOD = 3 } rv_family;

typedef enum rv_buttons {
    RV_BUTTONS_HOME = 1,    /* Home + top/side */
    RV_BUTTONS_VOLDOWN = 2, /* volume down + side/top (iPhone 7, iPod touch 7th gen) */
    RV_BUTTONS_MODERN = 3   /* volume up, volume down, side/top */
} rv_buttons;

/* Where the power (Sleep/Wake) button is: Apple calls it "top" or "side" button. */
typedef enum rv_power_button { RV_POWER_TOP = 1, RV_POWER_SIDE = 2 } rv_power_button;

typedef struct rv_model {
    const char *product_type; /* "iPhone12,1" */
    const char *board;        /* hardware model / board config, upper case: "N104AP" */
    uint32_t cpid;            /* chip id: 0x8030 */
    uint32_t bdid;            /* board id: 0x04 */
    const char *name;         /* marketing name: "iPhone 11" */
    int year;                 /* year of release */
    rv_family family;
    rv_buttons buttons;
    rv_power_button power;
} rv_model;

/* The whole table, in order (iPhones, iPods, iPads, oldest first). */
size_t rv_model_count(void);
const rv_model *rv_model_at(size_t i); /* NULL past the end */

/* Lookups; NULL when unknown. Product types and boards compare without regard to case;
 * a board may be given with or without its "AP" suffix ("N104AP", "n104ap", "N104"). */
const rv_model *rv_model_by_product_type(const char *product_type);
const rv_model *rv_model_by_chip(uint32_t cpid, uint32_t bdid);
const rv_model *rv_model_by_board(const char *board);
/* The best match for a device seen by a transport: its board, else (CPID, BDID), else its
 * product type (a product type alone may stand for two boards). */
const rv_model *rv_model_for_device(const revive_device_id *id);

const char *rv_family_name(rv_family f);     /* "iPhone", "iPad", "iPod touch" */
const char *rv_buttons_name(rv_buttons b);   /* "home", "voldown", "modern" */

/* What a person does with the buttons. */
typedef enum rv_procedure {
    RV_PROC_FORCE_RESTART = 1,
    RV_PROC_RECOVERY = 2,
    RV_PROC_DFU = 3
} rv_procedure;
const char *rv_procedure_name(rv_procedure p); /* "force restart", "recovery mode", "DFU mode" */

typedef enum rv_step_kind {
    RV_STEP_PREPARE = 0,    /* not a button: plug the cable in, and the like */
    RV_STEP_PRESS = 1,      /* press and quickly release */
    RV_STEP_HOLD = 2,       /* hold for exactly `seconds` (count down), then go on */
    RV_STEP_HOLD_UNTIL = 3  /* hold until something is seen; `seconds` is about how long */
} rv_step_kind;

typedef struct rv_step {
    rv_step_kind kind;
    unsigned seconds;     /* HOLD: how long; HOLD_UNTIL: the usual time; else 0 */
    char buttons[64];     /* the buttons involved, named for this model: "side + volume down" */
    char text[256];       /* one sentence for the person, naming the buttons */
} rv_step;

#define RV_MODEL_MAX_STEPS 8

/* Fill out[] with the steps of `proc` for this model; returns how many (0 if m is NULL or
 * proc unknown). A caller with an unknown model may fill an rv_model itself with family,
 * buttons and power set (the rest may be NULL/0). */
size_t rv_model_steps(const rv_model *m, rv_procedure proc, rv_step out[RV_MODEL_MAX_STEPS]);
/* What the person sees when the procedure worked, and what to do if it did not. */
const char *rv_model_expect(const rv_model *m, rv_procedure proc);
/* The whole procedure as numbered lines of text for a prompt:
 *   "Put iPhone 11 (iPhone12,1) in DFU mode:\n 1. ...\n 2. ...\nThen: ...\n"
 * Returns the length it needed (as snprintf); buf is always terminated when cap > 0. */
size_t rv_model_instructions(const rv_model *m, rv_procedure proc, char *buf, size_t cap);
#endif
