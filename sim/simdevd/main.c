/* simdevd: the simulated iPhone daemon. Entry point; the world, protocols and modules
 * live in their own files (see world.h). */
#include <stdio.h>
#include <string.h>

#include "world.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: simdevd --scenario FILE [--dir DIR] [--foreground]\n");
            return 0;
        }
    }
    fprintf(stderr, "simdevd: not built yet: only the module interface (world.h) exists so far\n");
    return 2;
}
