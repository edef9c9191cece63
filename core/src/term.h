/* The terminal: whether stderr is a TTY and the one line a progress bar may own. */
#ifndef RV_TERM_H
#define RV_TERM_H
#include <stdbool.h>
#include <stdio.h>

bool rv_term_is_tty(void);            /* stderr is a terminal and TERM is not "dumb" */
void rv_term_force(int tty);          /* tests: 1 = pretend TTY, 0 = not, -1 = detect */
/* If a progress line is showing, erase it so a normal line can be printed. */
void rv_term_clear_line(FILE *f);
/* Show `text` as the live status line (replacing the previous one). */
void rv_term_status(FILE *f, const char *text);
int rv_term_width(void);
#endif
