/*
 * core/journal/journal.h — durable run journals.
 *
 * A run's journal is <state>/runs/<run-id>/journal.jsonl: one JSON object per line,
 * appended and fsync'd record by record, so that whatever moment the engine dies at, the
 * file holds every record that was reported written. Each record carries
 *   seq   1, 2, 3, ... without gaps
 *   time  wall-clock seconds (for people reading a timeline; never used for decisions)
 *   type  "run_started", "step_started", "step_finished", "step_failed", "prompt",
 *         "answer", "waiver", "note", "resumed", "outcome", ...
 *   prev  SHA-256 (hex) of the previous line's bytes ("" for the first)
 * plus the fields of its type. The prev chain makes an edited, removed or reordered
 * record a clear error rather than a silently different run. A last line without its
 * newline is a write torn by a crash: readers ignore it and a resume cuts it off.
 *
 * A writer holds an exclusive flock on the journal for as long as it is open, so two
 * engines cannot append to one run, and `revive runs` can tell running from interrupted.
 */
#ifndef RV_JOURNAL_H
#define RV_JOURNAL_H

#include <jansson.h>
#include <revive/errors.h>
#include <revive/types.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct rv_journal rv_journal;

#define RV_RUN_ID_MAX 40 /* including the NUL */

/* Start a new run: create <state_dir>/runs/<id>/journal.jsonl (directories fsync'd).
 * run_id NULL: a new id "YYYYMMDDTHHMMSSZ-xxxxxxxx". REVIVE_E_BUSY if it exists. */
int rv_journal_create(const char *state_dir, const char *run_id, rv_journal **out,
                      revive_error *err);

/* Open an existing run to continue it: read and verify every record (returned as a JSON
 * array in *records, the caller owns it), cut a torn last line, lock. REVIVE_E_CORRUPT if
 * the journal was changed; REVIVE_E_BUSY if another engine has it open. */
int rv_journal_resume(const char *state_dir, const char *run_id, rv_journal **out,
                      json_t **records, revive_error *err);

/* Append one record of `type` with the members of `fields` (an object, borrowed, may be
 * NULL; "seq", "time", "type" and "prev" are set here), then fsync. */
int rv_journal_append(rv_journal *j, const char *type, json_t *fields, revive_error *err);

const char *rv_journal_run_id(const rv_journal *j);
const char *rv_journal_file(const rv_journal *j);
/* Records appended so far, including those read on resume. */
size_t rv_journal_count(const rv_journal *j);
void rv_journal_close(rv_journal *j);

/* Read and verify a journal file. *torn tells whether a torn last line was ignored
 * (torn may be NULL). */
int rv_journal_read(const char *path, json_t **records, bool *torn, revive_error *err);

/* Every run under <state_dir>/runs, oldest first: an array of objects
 * {id, playbook, state: "running"|"finished"|"interrupted"|"corrupt", outcome, started,
 *  updated, steps, error}. */
int rv_journal_runs(const char *state_dir, json_t **runs, revive_error *err);

/* A run as a timeline for people, one line per record: "+12.3s  step_finished  backup". */
int rv_journal_timeline(const char *path, FILE *out, revive_error *err);

/* <state_dir>/runs/<run_id>/journal.jsonl into buf; false if it does not fit or the id is
 * not [A-Za-z0-9_-]{1,39}. */
bool rv_journal_path(const char *state_dir, const char *run_id, char *buf, size_t cap);
bool rv_journal_id_ok(const char *run_id);

/* SHA-256 of a file's bytes as 64 hex digits and a NUL. */
int rv_journal_sha256_file(const char *path, char hex[65], revive_error *err);

#endif
