/* registry.c: the tables modules fill from their constructors (services behind
 * StartService, fixed ports in other modes, control commands). Constructors run before
 * main and before any thread, so the tables need no lock: they are only read afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simcore.h"

#define MAX_ENTRIES 64

struct named { const char *name; void *fn; };
static struct named services[MAX_ENTRIES];
static size_t nservices;
static struct named controls[MAX_ENTRIES];
static size_t ncontrols;
static struct { sim_mode mode; uint16_t port; sim_service_fn fn; } ports[MAX_ENTRIES];
static size_t nports;

static void add(struct named *t, size_t *n, const char *what, const char *name, void *fn)
{
    if (*n == MAX_ENTRIES) {
        fprintf(stderr, "simdevd: too many %s registrations, cannot add '%s'\n", what, name);
        abort();
    }
    t[*n].name = name;
    t[*n].fn = fn;
    (*n)++;
}

static void *find(struct named *t, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].fn;
    return NULL;
}

void sim_service_register(const char *name, sim_service_fn fn)
{
    add(services, &nservices, "service", name, (void *)fn);
}

void sim_control_register(const char *cmd, sim_control_fn fn)
{
    add(controls, &ncontrols, "control command", cmd, (void *)fn);
}

void sim_port_register(sim_mode mode, uint16_t port, sim_service_fn fn)
{
    if (nports == MAX_ENTRIES) {
        fprintf(stderr, "simdevd: too many port registrations\n");
        abort();
    }
    ports[nports].mode = mode;
    ports[nports].port = port;
    ports[nports].fn = fn;
    nports++;
}

sim_service_fn sim_service_find(const char *name)
{
    return (sim_service_fn)find(services, nservices, name);
}

sim_control_fn sim_control_find(const char *cmd)
{
    return (sim_control_fn)find(controls, ncontrols, cmd);
}

size_t sim_control_names(const char **out, size_t max)
{
    size_t i;
    for (i = 0; i < ncontrols && i < max; i++)
        out[i] = controls[i].name;
    return i;
}

sim_service_fn sim_port_find(sim_mode mode, uint16_t port)
{
    for (size_t i = 0; i < nports; i++)
        if (ports[i].mode == mode && ports[i].port == port)
            return ports[i].fn;
    return NULL;
}
