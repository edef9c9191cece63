/* The playbook API and durable runs, against the counting fake engine: outcomes, steps and
 * resume after a real crash (a forked child _exit()s mid-run), safety gates, retry,
 * ladders, person prompts, params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_engine.h"
#include <journal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], state[128], book[160], libdir[PATH_MAX];
static revive_error err;
static struct fake F;
static char run_id[48], outcome[32];

static int setup(void **s)
{
    (void)s;
    snprintf(dir, sizeof dir, "/tmp/rv-run-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(book, sizeof book, "%s/book.lua", dir);
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(libdir, sizeof libdir, "%s/scripts/lib", src ? src : ".");
    fake_init(&F);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_book(const char *text)
{
    FILE *f = fopen(book, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

struct opts {
    bool resume, force, yes, waive;
    const char *const *params;
    uint64_t budget;
};

static int run_book(struct opts o)
{
    const char *path[] = {libdir, NULL};
    struct rv_run_config cfg = {
        .size = sizeof cfg, .playbook = book, .lib_path = path, .params = o.params,
        .state_dir = state, .run_id = o.resume ? run_id : NULL, .resume = o.resume,
        .force = o.force, .yes = o.yes, .waive_backup = o.waive, .instruction_budget = o.budget,
        .run_id_out = run_id, .run_id_cap = sizeof run_id,
    };
    memset(&err, 0, sizeof err);
    return rv_run(&cfg, &fake_ops, &F, outcome, sizeof outcome, &err);
}

/* Run in a child that dies (_exit 9) on the crash_after-th call of crash_verb. */
static void run_until_crash(const char *verb, int after, struct opts o)
{
    /* The child writes the run id before dying; the parent reads it back from the state dir. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        F.crash_verb = verb;
        F.crash_after = after;
        run_book(o);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 9);
    json_t *runs;
    assert_int_equal(rv_journal_runs(state, &runs, &err), REVIVE_OK);
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "state")), "interrupted");
    snprintf(run_id, sizeof run_id, "%s", json_string_value(json_object_get(json_array_get(runs, 0), "id")));
    json_decref(runs);
}

static json_t *journal(void)
{
    char path[300];
    assert_true(rv_journal_path(state, run_id, path, sizeof path));
    json_t *recs;
    assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_OK);
    return recs;
}

static int count_records(json_t *recs, const char *type, const char *step)
{
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "type")), type))
            continue;
        if (step && (!json_is_string(json_object_get(r, "step")) ||
                     strcmp(json_string_value(json_object_get(r, "step")), step)))
            continue;
        n++;
    }
    return n;
}

#define HEADER "return playbook { name = 't', summary = 'a test', "

static void test_fixed_outcome_and_journal(void **s)
{
    (void)s;
    write_book(HEADER "run = function(p)\n"
               "  local a = step('compute', function() return 20 + 1 end)\n"
               "  local m = device.mode()\n"
               "  log('mode %s', m)\n"
               "  return outcome.fixed('a = ' .. a .. ', mode ' .. m)\n"
               "end }\n");
    int rc = run_book((struct opts){0});
    assert_int_equal(rc, REVIVE_OK);
    assert_string_equal(outcome, "fixed");
    assert_string_equal(F.outcome, "fixed");
    json_t *recs = journal();
    assert_int_equal(count_records(recs, "run_started", NULL), 1);
    assert_int_equal(count_records(recs, "step_finished", "compute"), 1);
    assert_int_equal(count_records(recs, "step_finished", "device.mode"), 1);
    assert_int_equal(count_records(recs, "outcome", NULL), 1);
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "summary")), "a = 21, mode normal");
    json_decref(recs);
}

static const char *CRASHY =
    HEADER "policy = { erase = true },\n"
    "run = function(p)\n"
    "  local x = step('compute', function() return {n = 6 * 7, s = 'kept', raw = '\\255\\0\\254'} end)\n"
    "  step('reboot', function() return device.reboot() end)\n"
    "  local r, e = step('erase', function() return device.restore_firmware{erase = true, firmware = 'x.ipsw'} end)\n"
    "  assert(r, e)\n"
    "  step('after', function() return device.shutdown() end)\n"
    "  assert(x.raw == '\\255\\0\\254', 'bytes that are not UTF-8 come back as they were')\n"
    "  return outcome.fixed(x.s .. ' ' .. x.n)\n"
    "end }\n";

static void test_resume_replays_finished_steps(void **s)
{
    (void)s;
    write_book(CRASHY);
    run_until_crash("shutdown", 1, (struct opts){.yes = true});
    /* A new engine process: counts start at zero. */
    fake_init(&F);
    int rc = run_book((struct opts){.resume = true, .yes = true});
    assert_int_equal(rc, REVIVE_OK);
    assert_string_equal(outcome, "fixed");
    assert_int_equal(fake_count(&F, "reboot"), 0);           /* finished: not repeated */
    assert_int_equal(fake_count(&F, "restore_firmware"), 0); /* finished destructive: never again */
    assert_int_equal(fake_count(&F, "backup"), 0);
    assert_int_equal(fake_count(&F, "shutdown"), 1);         /* the unfinished step ran again */
    json_t *recs = journal();
    assert_int_equal(count_records(recs, "step_finished", "erase"), 1);
    assert_int_equal(count_records(recs, "step_started", "after"), 2);
    assert_int_equal(count_records(recs, "resumed", NULL), 1);
    assert_int_equal(count_records(recs, "device_found", NULL), 1);
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "summary")), "kept 42");
    json_decref(recs);
    /* A finished run is not resumed again. */
    assert_int_equal(run_book((struct opts){.resume = true, .yes = true}), REVIVE_E_INVALID);
}

static void test_crash_inside_destructive_step_reruns_it_once(void **s)
{
    (void)s;
    write_book(CRASHY);
    /* Dies in the middle of the erase: the backup before it had finished. */
    run_until_crash("restore_firmware", 1, (struct opts){.yes = true});
    fake_init(&F);
    assert_int_equal(run_book((struct opts){.resume = true, .yes = true}), REVIVE_OK);
    assert_int_equal(fake_count(&F, "reboot"), 0);
    assert_int_equal(fake_count(&F, "backup"), 0);           /* the safety backup had finished */
    assert_int_equal(fake_count(&F, "restore_firmware"), 1); /* unfinished: runs again */
    assert_int_equal(fake_count(&F, "shutdown"), 1);
}

static void test_changed_playbook_refused_unless_forced(void **s)
{
    (void)s;
    write_book(CRASHY);
    run_until_crash("shutdown", 1, (struct opts){.yes = true});
    write_book(CRASHY); /* same bytes: fine */
    FILE *f = fopen(book, "a");
    fputs("-- a shop edited this\n", f);
    fclose(f);
    fake_init(&F);
    assert_int_equal(run_book((struct opts){.resume = true, .yes = true}), REVIVE_E_INVALID);
    assert_non_null(strstr(err.message, "changed"));
    assert_null(strstr(err.message, "stack traceback")); /* a message for people, not a fault */
    assert_int_equal(fake_count(&F, "shutdown"), 0);
    assert_int_equal(run_book((struct opts){.resume = true, .yes = true, .force = true}), REVIVE_OK);
    assert_int_equal(fake_count(&F, "shutdown"), 1);
    assert_int_equal(fake_count(&F, "restore_firmware"), 0);
}

static void test_resume_refuses_another_phone(void **s)
{
    (void)s;
    write_book(CRASHY);
    run_until_crash("shutdown", 1, (struct opts){.yes = true});
    fake_init(&F);
    F.ecid = 0x9999;
    assert_int_equal(run_book((struct opts){.resume = true, .yes = true}), REVIVE_E_INVALID);
    assert_non_null(strstr(err.message, "ECID"));
    assert_int_equal(fake_count(&F, "shutdown"), 0);
}

static void test_policy_cannot_change_at_run_time(void **s)
{
    (void)s;
    write_book("local pb\n"
               "pb = playbook { name = 't', summary = 'a test', policy = {},\n"
               "  run = function() pb.policy.restore_backup = true device.restore_backup{path = '/b'} return outcome.fixed() end }\n"
               "return pb\n");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_E_POLICY);
    assert_int_equal(fake_count(&F, "restore_backup"), 0);
}

static void test_policy_gates_destructive_verbs(void **s)
{
    (void)s;
    write_book(HEADER "run = function() device.restore_backup{path = '/b'} return outcome.fixed() end }");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_E_POLICY);
    assert_int_equal(fake_count(&F, "restore_backup"), 0);
    assert_non_null(strstr(err.message, "restore_backup = true"));
    /* Generic calls cannot sneak around it. */
    write_book(HEADER "run = function() device.call('wipe_all') return outcome.fixed() end }");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_E_POLICY);
}

static const char *ERASE =
    HEADER "policy = { erase = true },\n"
    "run = function()\n"
    "  local r, e = device.restore_firmware{erase = true, firmware = 'x'}\n"
    "  if not r then return outcome.needs_person{tried = {'erase'}, state = e.name, next = {'ask'}} end\n"
    "  return outcome.fixed()\n"
    "end }\n";

static void test_backup_then_consent_before_erase(void **s)
{
    (void)s;
    write_book(ERASE);
    assert_int_equal(run_book((struct opts){0}), REVIVE_OK);
    assert_string_equal(outcome, "fixed");
    assert_string_equal(F.order, "backup,restore_firmware");
    assert_int_equal(F.confirms, 1);
    json_t *recs = journal();
    assert_int_equal(count_records(recs, "answer", NULL), 1);
    assert_int_equal(count_records(recs, "step_finished", "safety.backup"), 1);
    json_decref(recs);
}

static void test_declined_consent_changes_nothing(void **s)
{
    (void)s;
    write_book(ERASE);
    F.confirm_answer = false;
    assert_int_equal(run_book((struct opts){0}), REVIVE_OK);
    assert_string_equal(outcome, "needs_person");
    assert_int_equal(fake_count(&F, "restore_firmware"), 0);
}

static void test_waived_backup_is_journaled(void **s)
{
    (void)s;
    write_book(ERASE);
    assert_int_equal(run_book((struct opts){.yes = true, .waive = true}), REVIVE_OK);
    assert_string_equal(F.order, "restore_firmware");
    assert_int_equal(F.confirms, 0); /* --yes */
    json_t *recs = journal();
    assert_true(count_records(recs, "waiver", NULL) >= 1);
    json_decref(recs);
}

static void test_unreadable_device_gets_no_backup_but_a_note(void **s)
{
    (void)s;
    write_book(ERASE);
    snprintf(F.mode, sizeof F.mode, "recovery");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(F.order, "restore_firmware");
    json_t *recs = journal();
    assert_int_equal(count_records(recs, "note", NULL), 1);
    json_decref(recs);
}

static void test_retry_with_backoff(void **s)
{
    (void)s;
    write_book(HEADER "run = function()\n"
               "  local r, e = retry({attempts = 4, backoff = 2, retry_on = {'disconnected'}}, function(a)\n"
               "    return step('reboot ' .. a, function() return device.reboot() end) end)\n"
               "  assert(r, e)\n"
               "  local r2, e2 = retry({attempts = 3}, function() return device.call('unknown_verb') end)\n"
               "  assert(r2 == nil and e2.name == 'unsupported')\n"
               "  return outcome.fixed()\n"
               "end }");
    F.fail_verb = "reboot";
    F.fail_code = REVIVE_E_DISCONNECTED;
    F.fail_times = 2;
    assert_int_equal(run_book((struct opts){0}), REVIVE_OK);
    assert_int_equal(fake_count(&F, "reboot"), 3);
    assert_int_equal(fake_count(&F, "unknown_verb"), 1); /* not worth retrying */
    assert_true(F.slept >= 6.0 - 1e-9 && F.slept <= 6.0 + 1e-9); /* 2 + 4 */
}

static void test_ladder_and_needs_person(void **s)
{
    (void)s;
    write_book(HEADER "run = function()\n"
               "  local well, report = ladder{ name = 'rescue',\n"
               "    check = function() local m = device.mode() return m == 'normal', m end,\n"
               "    { name = 'exit recovery', when = function(st) return st == 'recovery' end,\n"
               "      run = function() return device.exit_recovery() end },\n"
               "    { name = 'force restart', run = function() return person.force_restart() end },\n"
               "  }\n"
               "  if well then return outcome.fixed('by ' .. report.by) end\n"
               "  return outcome.needs_person{tried = report.tried, state = report.state, next = {'take it to a service provider'}}\n"
               "end }");
    snprintf(F.mode, sizeof F.mode, "recovery");
    F.fail_verb = "exit_recovery";
    F.fail_code = REVIVE_E_DISCONNECTED;
    F.fail_times = 1;
    F.person_obeys = false;
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "needs_person");
    json_t *recs = journal();
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "state")), "recovery");
    assert_int_equal(json_array_size(json_object_get(last, "tried")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(last, "next"), 0)),
                        "take it to a service provider");
    json_decref(recs);

    /* The same ladder when the exit works. */
    teardown(NULL);
    setup(NULL);
    write_book(HEADER "run = function()\n"
               "  local well, report = ladder{ check = function() local m = device.mode() return m == 'normal', m end,\n"
               "    { name = 'exit recovery', run = function() return device.exit_recovery() end } }\n"
               "  return well and outcome.fixed(report.by) or outcome.needs_person{state = '?', next = {'x'}}\n"
               "end }");
    snprintf(F.mode, sizeof F.mode, "recovery");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "fixed");
}

static void test_person_prompts_for_the_model(void **s)
{
    (void)s;
    write_book(HEADER "run = function() assert(person.dfu()) return outcome.fixed() end }");
    snprintf(F.mode, sizeof F.mode, "recovery");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(F.mode, "dfu");
    assert_non_null(strstr(F.last_prompt, "DFU"));
    assert_true(F.slept >= 10); /* the countdown ran on the engine's clock */

    fake_init(&F);
    snprintf(F.product_type, sizeof F.product_type, "iPhone9,3"); /* iPhone 7 */
    write_book(HEADER "run = function() assert(person.force_restart()) return outcome.fixed() end }");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    json_t *recs = journal();
    bool seen = false;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
        if (json_is_string(json_object_get(r, "model")) &&
            strcmp(json_string_value(json_object_get(r, "model")), "iPhone 7") == 0)
            seen = true;
    assert_true(seen);
    json_decref(recs);
}

static void test_force_restart_needs_the_phone_to_restart(void **s)
{
    (void)s;
    write_book(HEADER "run = function() local ok, e = person.force_restart{attempts = 1}\n"
               "  return ok and outcome.fixed() or outcome.needs_person{state = e.name, next = {'x'}} end }");
    /* Already in recovery (one of the modes it may come back in): seeing it there is not
     * enough, it has to restart. */
    snprintf(F.mode, sizeof F.mode, "recovery");
    F.person_obeys = false;
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "needs_person");
    fake_init(&F);
    snprintf(F.mode, sizeof F.mode, "recovery");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "fixed");
}

static void test_model_table(void **s)
{
    (void)s;
    write_book(HEADER "run = function()\n"
               "  local m = require('revive.models')\n"
               "  local function fam(pt) local f, b = m.family(pt) return tostring(f) .. '/' .. tostring(b) end\n"
               "  assert(fam('iPhone5,1') == 'home/Top', fam('iPhone5,1'))\n"
               "  assert(fam('iPhone7,2') == 'home/Side')\n"
               "  assert(fam('iPhone8,1') == 'home/Side')\n"
               "  assert(fam('iPhone8,4') == 'home/Top')\n"
               "  assert(fam('iPhone9,3') == 'iphone7/nil')\n"
               "  assert(fam('iPhone10,1') == 'modern/nil')\n"
               "  assert(fam('iPhone12,8') == 'modern/nil')\n"
               "  assert(fam('iPhone14,6') == 'modern/nil')\n"
               "  assert(fam('iPad7,5') == 'nil/nil' and fam(nil) == 'nil/nil')\n"
               "  assert(m.name('iPhone12,8') == 'iPhone SE (2nd generation)')\n"
               "  for _, kind in ipairs({'force_restart', 'dfu', 'recovery'}) do\n"
               "    for _, pt in ipairs({'iPhone6,1', 'iPhone9,1', 'iPhone11,8', 'iPad13,1'}) do\n"
               "      local g = m.guide(kind, pt)\n"
               "      assert(#g.lines >= 2 and #g.lines <= 17, kind .. ' ' .. pt .. ': ' .. #g.lines .. ' lines')\n"
               "    end\n"
               "  end\n"
               "  local d = m.guide('dfu', 'iPhone11,8')\n"
               "  assert(d.lines[2]:find('Volume Up') and #d.phases == 4 and d.phases[2].seconds == 10)\n"
               "  local h = m.guide('dfu', 'iPhone8,1')\n"
               "  assert(h.lines[2]:find('Side button and the Home button') and h.phases[1].seconds == 8)\n"
               "  assert(m.guide('force_restart', 'iPhone9,3').lines[1]:find('Volume Down'))\n"
               "  return outcome.fixed()\n"
               "end }");
    if (run_book((struct opts){0}) != REVIVE_OK)
        fail_msg("%s", err.message);
}

static void test_params(void **s)
{
    (void)s;
    write_book(HEADER "params = { tries = {type = 'integer', default = 2}, fw = {type = 'string'},\n"
               "  mode = {type = 'enum', values = {'update', 'erase'}, default = 'update'} },\n"
               "run = function(p) return outcome.fixed(p.fw .. ' ' .. p.tries .. ' ' .. p.mode) end }");
    const char *ok[] = {"fw=x.ipsw", "tries=5", NULL};
    assert_int_equal(run_book((struct opts){.params = ok}), REVIVE_OK);
    json_t *recs = journal();
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "summary")), "x.ipsw 5 update");
    json_decref(recs);
    const char *unknown[] = {"fw=x", "colour=red", NULL};
    assert_int_equal(run_book((struct opts){.params = unknown}), REVIVE_E_INVALID);
    const char *bad[] = {"fw=x", "tries=many", NULL};
    assert_int_equal(run_book((struct opts){.params = bad}), REVIVE_E_INVALID);
    const char *no_equals[] = {"fw", NULL};
    assert_int_equal(run_book((struct opts){.params = no_equals}), REVIVE_E_INVALID);
    const char *missing[] = {NULL};
    assert_int_equal(run_book((struct opts){.params = missing}), REVIVE_E_INVALID);
    assert_non_null(strstr(err.message, "fw"));
}

static void test_budget_in_a_run(void **s)
{
    (void)s;
    write_book(HEADER "run = function() step('spin', function() while true do end end) end }");
    assert_int_equal(run_book((struct opts){.budget = 5 * 1000 * 1000}), REVIVE_E_LIMIT);
    json_t *recs = journal();
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "outcome")), "failed");
    json_decref(recs);
}

static void test_no_run_left_when_the_playbook_does_not_load(void **s)
{
    (void)s;
    write_book("return playbook {");
    assert_int_equal(run_book((struct opts){0}), REVIVE_E_PLAYBOOK);
    json_t *runs;
    assert_int_equal(rv_journal_runs(state, &runs, &err), REVIVE_OK);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);
}

static void use_shipped(const char *name)
{
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(book, sizeof book, "%s/scripts/%s", src ? src : ".", name);
}

static void test_interrupted_restore_exits_recovery(void **s)
{
    (void)s;
    use_shipped("interrupted-restore.lua");
    snprintf(F.mode, sizeof F.mode, "recovery");
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "fixed");
    assert_string_equal(F.order, "exit_recovery");
}

static void test_interrupted_restore_whole_ladder(void **s)
{
    (void)s;
    use_shipped("interrupted-restore.lua");
    snprintf(F.mode, sizeof F.mode, "recovery");
    F.stuck = true;
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "needs_person");
    /* Every remedy, in order; each restore tried `attempts` (2) times. */
    assert_non_null(strstr(F.order, "exit_recovery,fetch,restore_firmware,restore_firmware,fetch,restore_firmware"));
    assert_true(F.prompts >= 2); /* force restart and DFU were guided */
    json_t *recs = journal();
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "outcome")), "needs_person");
    assert_int_equal(json_array_size(json_object_get(last, "tried")), 6);
    const char *nxt = json_string_value(json_array_get(json_object_get(last, "next"), 0));
    assert_non_null(strstr(nxt, "Service Provider"));
    assert_int_equal(count_records(recs, "answer", NULL) >= 1, 1); /* consent for the factory reset */
    json_decref(recs);
}

static void test_interrupted_restore_reports_why_each_remedy_failed(void **s)
{
    (void)s;
    use_shipped("interrupted-restore.lua");
    snprintf(F.mode, sizeof F.mode, "recovery");
    F.stuck = true;
    F.fail_verb = "fetch";
    F.fail_code = REVIVE_E_NETWORK;
    F.fail_times = 1000;
    assert_int_equal(run_book((struct opts){.yes = true}), REVIVE_OK);
    assert_string_equal(outcome, "needs_person");
    assert_int_equal(fake_count(&F, "restore_firmware"), 0);
    json_t *recs = journal();
    json_t *tried = json_object_get(json_array_get(recs, json_array_size(recs) - 1), "tried");
    size_t i;
    json_t *t;
    int network = 0;
    json_array_foreach(tried, i, t) {
        const char *line = json_string_value(t);
        assert_null(strstr(line, "(done)")); /* nothing worked, and the report says so */
        network += strstr(line, "network") != NULL;
    }
    assert_int_equal(network, 4); /* both restores, the DFU restore and the factory reset */
    json_decref(recs);
}

static void test_every_shipped_playbook_runs_on_a_healthy_phone(void **s)
{
    (void)s;
    static const char *const books[] = {"interrupted-restore.lua", "stuck-in-recovery.lua",
        "safe-restore.lua", "update.lua", "dfu-restore.lua", "factory-reset.lua",
        "restore-backup.lua", NULL};
    for (const char *const *b = books; *b; b++) {
        fake_init(&F);
        use_shipped(*b);
        const char *params[] = {"backup=/backups/x", NULL};
        const char *none[] = {NULL};
        int rc = run_book((struct opts){.yes = true, .params = strcmp(*b, "restore-backup.lua") ? none : params});
        if (rc != REVIVE_OK || strcmp(outcome, "fixed") != 0)
            fail_msg("%s: rc %d outcome %s: %s", *b, rc, outcome, err.message);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fixed_outcome_and_journal),
        T(test_resume_replays_finished_steps),
        T(test_crash_inside_destructive_step_reruns_it_once),
        T(test_changed_playbook_refused_unless_forced),
        T(test_policy_gates_destructive_verbs),
        T(test_resume_refuses_another_phone),
        T(test_policy_cannot_change_at_run_time),
        T(test_backup_then_consent_before_erase),
        T(test_declined_consent_changes_nothing),
        T(test_waived_backup_is_journaled),
        T(test_unreadable_device_gets_no_backup_but_a_note),
        T(test_retry_with_backoff),
        T(test_ladder_and_needs_person),
        T(test_person_prompts_for_the_model),
        T(test_force_restart_needs_the_phone_to_restart),
        T(test_model_table),
        T(test_params),
        T(test_budget_in_a_run),
        T(test_no_run_left_when_the_playbook_does_not_load),
        T(test_interrupted_restore_exits_recovery),
        T(test_interrupted_restore_whole_ladder),
        T(test_interrupted_restore_reports_why_each_remedy_failed),
        T(test_every_shipped_playbook_runs_on_a_healthy_phone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
