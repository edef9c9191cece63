#include "term.h"
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int forced = -1;
static bool line_shown; /* guarded by the callers' locks (log and event sinks) */

void rv_term_force(int tty) { forced = tty; }

bool rv_term_is_tty(void)
{
    if (forced >= 0)
        return forced == 1;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(STDERR_FILENO) == 1;
}

int rv_term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

void rv_term_clear_line(FILE *f)
{
    if (line_shown && rv_term_is_tty()) {
        fputs("\r\033[K", f);
        line_shown = false;
    }
}

void rv_term_status(FILE *f, const char *text)
{
    if (!rv_term_is_tty())
        return;
    fputs("\r\033[K", f);
    fputs(text, f);
    fflush(f);
    line_shown = true;
}
