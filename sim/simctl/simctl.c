/* simctl: talks to simdevd's control socket ($SIMDEVD_CONTROL or --socket).
 *
 *   simctl [--socket PATH] [--raw] COMMAND [key=value ...]
 *   simctl [--socket PATH] --json '{"cmd":"state"}'
 *   simctl --get devices.0.mode state        (prints one field of the answer)
 *
 * Each key=value becomes a member of the JSON request; a value that parses as JSON
 * (numbers, true/false, null, objects) is sent as such, anything else as a string.
 * "device=0" selects a device by index, ECID ("0x...") or UDID. Every reply line is
 * printed (pretty unless --raw); the exit status is 0 when the last one says ok.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: simctl [--socket PATH] [--raw] [--get FIELD] COMMAND [key=value ...]\n"
            "       simctl [--socket PATH] [--raw] [--get FIELD] --json '{\"cmd\":...}'\n"
            "--get devices.0.nvram_saved.auto-boot prints only that field of the answer (strings bare).\n"
            "Commands include: state, log, set, unplug, plug, power-loss, power-on, force-restart,\n"
            "dfu-buttons, trust, wait, notify, help (the daemon lists all with 'simctl help').\n"
            "Examples: simctl state; simctl log device=0; simctl set device=0 mode=recovery;\n"
            "          simctl set 'nvram={\"auto-boot\":\"false\"}' nvram_save=true; simctl trust answer=deny\n");
}

/* Follows a dotted path ("devices.0.mode") through objects and arrays. */
static json_t *dig(json_t *v, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    for (char *part = strtok_r(copy, ".", &save); v && part; part = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v)) {
            char *end = NULL;
            unsigned long i = strtoul(part, &end, 10);
            v = (*part && end && *end == '\0') ? json_array_get(v, i) : NULL;
        } else {
            v = json_object_get(v, part);
        }
    }
    free(copy);
    return v;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "simctl: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "simctl: cannot connect to simdevd at %s: %s (is simdevd running? is SIMDEVD_CONTROL right?)\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *sock = getenv("SIMDEVD_CONTROL");
    const char *json_text = NULL, *get = NULL;
    int raw = 0, i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            sock = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_text = argv[++i];
        else if (!strcmp(argv[i], "--get") && i + 1 < argc)
            get = argv[++i];
        else if (!strcmp(argv[i], "--raw"))
            raw = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else
            break;
    }
    if (!sock) {
        fprintf(stderr, "simctl: set SIMDEVD_CONTROL (eval \"$(simdevd ...)\") or pass --socket PATH\n");
        return 2;
    }
    json_t *req;
    if (json_text) {
        json_error_t e;
        req = json_loads(json_text, 0, &e);
        if (!json_is_object(req)) {
            fprintf(stderr, "simctl: --json needs a JSON object: %s\n", req ? "wrong type" : e.text);
            return 2;
        }
    } else {
        if (i >= argc) {
            usage(stderr);
            return 2;
        }
        req = json_pack("{s:s}", "cmd", argv[i++]);
        for (; i < argc; i++) {
            char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i]) {
                fprintf(stderr, "simctl: argument '%s' is not key=value\n", argv[i]);
                json_decref(req);
                return 2;
            }
            char *key = strndup(argv[i], (size_t)(eq - argv[i]));
            json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
            if (!v)
                v = json_string(eq + 1);
            json_object_set_new(req, key, v);
            free(key);
        }
    }
    int fd = connect_to(sock);
    if (fd < 0) {
        json_decref(req);
        return 1;
    }
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    size_t len = strlen(line);
    line = realloc(line, len + 2);
    line[len] = '\n';
    if (write(fd, line, len + 1) != (ssize_t)(len + 1)) {
        fprintf(stderr, "simctl: writing the request failed: %s\n", strerror(errno));
        free(line);
        return 1;
    }
    free(line);
    shutdown(fd, SHUT_WR);
    FILE *in = fdopen(fd, "r");
    char *buf = NULL;
    size_t cap = 0;
    int ok = 0, got = 0;
    while (getline(&buf, &cap, in) > 0) {
        json_t *reply = json_loads(buf, 0, NULL);
        if (!reply) {
            fprintf(stderr, "simctl: simdevd sent a line that is not JSON: %s", buf);
            continue;
        }
        got = 1;
        json_t *okv = json_object_get(reply, "ok");
        ok = json_is_true(okv);
        if (okv && !ok && json_is_string(json_object_get(reply, "error")))
            fprintf(stderr, "simctl: %s\n", json_string_value(json_object_get(reply, "error")));
        if (get && okv) {
            json_t *field = dig(reply, get);
            if (!field) {
                fprintf(stderr, "simctl: the answer has no field %s\n", get);
                ok = 0;
            } else if (json_is_string(field)) {
                printf("%s\n", json_string_value(field));
            } else {
                char *out = json_dumps(field, JSON_COMPACT | JSON_ENCODE_ANY);
                printf("%s\n", out);
                free(out);
            }
        } else if (!get) {
            char *out = json_dumps(reply, raw ? JSON_COMPACT : JSON_INDENT(2));
            printf("%s\n", out);
            free(out);
        }
        json_decref(reply);
    }
    free(buf);
    fclose(in);
    if (!got) {
        fprintf(stderr, "simctl: simdevd closed the connection without an answer\n");
        return 1;
    }
    return ok ? 0 : 1;
}
