/* Holds a logind inhibitor through rv_inhibit_take and checks, against the stand-in
 * logind's record, that the lock lasts until rv_inhibit_release and ends there (while
 * this process still lives).   inhibit_hold RECORD_FILE   (exit 0 = as expected) */
#include "hostcheck.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool record_has(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    char line[512];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    rv_hostcheck c;
    rv_inhibit *inh = rv_inhibit_take("restore of iPhone12,1", &c);
    if (!inh) {
        fprintf(stderr, "not taken: %s\n", c.message);
        return 1;
    }
    if (c.status != RV_CHECK_OK || !record_has(argv[1], "why=restore of iPhone12,1")) {
        fprintf(stderr, "logind did not see the call\n");
        return 1;
    }
    usleep(500 * 1000);
    if (record_has(argv[1], "released")) {
        fprintf(stderr, "the lock ended while held\n");
        return 1;
    }
    rv_inhibit_release(inh);
    for (int i = 0; i < 30; i++) {
        if (record_has(argv[1], "released")) {
            printf("held, then released\n");
            return 0;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "the lock did not end at release\n");
    return 1;
}
