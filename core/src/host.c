/* The host services table (sdk/include/revive/host.h), as the core implements it. */
#include "call.h"
#include "cancel.h"
#include "config.h"
#include "dirs.h"
#include "error.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

void rv_call_init(revive_call *c, const char *run, const char *device, const char *plugin)
{
    memset(c, 0, sizeof *c);
    c->run = run;
    c->device = device;
    c->plugin = plugin;
    rv_error_clear(&c->err);
    rv_fields_init(&c->results);
    c->password_file = rv_config_get("password_file");
}

void rv_call_free(revive_call *c)
{
    rv_fields_free(&c->results);
}

static void host_log(revive_call *call, int level, const char *fmt, ...) REVIVE_PRINTF(3, 4);
static int host_fail(revive_call *call, int code, const char *origin, int origin_code, const char *fmt, ...)
    REVIVE_PRINTF(5, 6);

static void host_log(revive_call *call, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rv_logv(level, call ? call->plugin : NULL, fmt, ap);
    va_end(ap);
}

static int host_fail(revive_call *call, int code, const char *origin, int origin_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (call) {
        rv_failv(&call->err, code, origin, origin_code, fmt, ap);
    } else {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        rv_log(REVIVE_LOG_ERROR, "%s [%s]", msg, revive_error_name(code));
    }
    va_end(ap);
    return code;
}

static void host_progress(revive_call *call, const char *phase, uint64_t done, uint64_t total, const char *unit)
{
    static rv_progress global; /* calls without a handle share one: rare, and harmless */
    rv_progress_report(call ? &call->progress : &global, call ? call->run : NULL,
                       call ? call->device : NULL, phase ? phase : "progress", done, total, unit);
}

static void host_event(revive_call *call, const char *type, const revive_field *fields, size_t n)
{
    if (!type || !*type)
        return;
    rv_emit(call ? call->run : NULL, call ? call->device : NULL, type, fields, n);
}

static bool host_cancelled(revive_call *call)
{
    return rv_cancelled() || (call && call->cancel);
}

static const char *host_config(revive_call *call, const char *key)
{
    (void)call;
    return key ? rv_config_get(key) : NULL;
}

static const char *host_dir(int which) { return rv_dir(which); }

static int host_result(revive_call *call, const revive_field *field)
{
    if (!call || !field)
        return REVIVE_E_INVALID;
    return rv_fields_put(&call->results, field) == 0 ? REVIVE_OK : REVIVE_E_NO_MEMORY;
}

/* Read one line from fd into buf without the newline; -1 if nothing could be read. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

static int host_secret(revive_call *call, const char *purpose, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return REVIVE_E_INVALID;
    buf[0] = '\0';
    const char *env = getenv("REVIVE_BACKUP_PASSWORD");
    if (env && *env) {
        if (strlen(env) >= cap)
            return REVIVE_E_INVALID;
        memcpy(buf, env, strlen(env) + 1);
        return REVIVE_OK;
    }
    const char *file = call && call->password_file ? call->password_file : rv_config_get("password_file");
    if (file && *file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (call)
                rv_fail(&call->err, REVIVE_E_PASSWORD_NEEDED, NULL, errno,
                        "cannot read the password file %s: %s", file, strerror(errno));
            return REVIVE_E_PASSWORD_NEEDED;
        }
        int rc = read_line(fd, buf, cap);
        close(fd);
        return rc == 0 ? REVIVE_OK : REVIVE_E_PASSWORD_NEEDED;
    }
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (tty < 0)
        return REVIVE_E_PASSWORD_NEEDED;
    struct termios old, quiet;
    bool have_termios = tcgetattr(tty, &old) == 0;
    if (have_termios) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(tty, TCSAFLUSH, &quiet);
    }
    dprintf(tty, "%s: ", purpose && *purpose ? purpose : "Password");
    int rc = read_line(tty, buf, cap);
    if (have_termios)
        tcsetattr(tty, TCSAFLUSH, &old);
    dprintf(tty, "\n");
    close(tty);
    if (rv_cancelled())
        return REVIVE_E_CANCELLED;
    return rc == 0 ? REVIVE_OK : REVIVE_E_PASSWORD_NEEDED;
}

static const revive_host host_table = {
    .size = sizeof(revive_host),
    .abi_major = REVIVE_ABI_MAJOR,
    .abi_minor = REVIVE_ABI_MINOR,
    .log = host_log,
    .fail = host_fail,
    .progress = host_progress,
    .event = host_event,
    .cancelled = host_cancelled,
    .config = host_config,
    .dir = host_dir,
    .result = host_result,
    .secret = host_secret,
};

const revive_host *rv_host(void) { return &host_table; }
