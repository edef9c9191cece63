/* revive/revive.h — everything a plugin needs, in one include. */
#ifndef REVIVE_REVIVE_H
#define REVIVE_REVIVE_H
#include <revive/types.h>
#include <revive/errors.h>
#include <revive/host.h>
#include <revive/plugin.h>
#endif
