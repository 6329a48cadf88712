/* SPDX-License-Identifier: MIT */
/*
 * idnload.c - libidn2 through dlopen, once; see idnload.h.
 *
 * pthread_once makes the first caller load while any others wait; the
 * outcome is then read without a lock. A failure is final: it is not
 * looked for again at every non-ASCII domain.
 */
#include "idnload.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* the library's name; a unit test (test_idnload_missing.c) compiles this
 * file with one that does not exist */
#ifndef MV_LIBIDN2_SONAME
#define MV_LIBIDN2_SONAME "libidn2.so.0"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static mv_idn_api api;
static bool loaded;
static char why_not[512];

/* sym - one function of the library; false (and why) if it lacks it */
static bool sym(void *lib, const char *name, void *slot, size_t size)
{
    void *f;

    dlerror();
    if ((f = dlsym(lib, name)) == NULL) {
        const char *e = dlerror();

        snprintf(why_not, sizeof(why_not), "%s: %s", MV_LIBIDN2_SONAME, e ? e : name);
        return false;
    }
    /* POSIX guarantees a data pointer from dlsym converts to a function pointer */
    memcpy(slot, &f, size);
    return true;
}

/* load - the once routine */
static void load(void)
{
    void *lib;

    /* RTLD_LOCAL: its libunistring stays out of the global namespace */
    if ((lib = dlopen(MV_LIBIDN2_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        const char *e = dlerror();

        snprintf(why_not, sizeof(why_not), "cannot load libidn2: %s", e ? e : MV_LIBIDN2_SONAME);
        return;
    }
    if (!sym(lib, "idn2_lookup_u8", &api.lookup_u8, sizeof(api.lookup_u8)) ||
        !sym(lib, "idn2_free", &api.free, sizeof(api.free))) {
        dlclose(lib);
        return;
    }
    loaded = true; /* the library stays open for the process's life */
}

/* mv_idn - the functions, or NULL and why */
const mv_idn_api *mv_idn(const char **why)
{
    if (pthread_once(&once, load) != 0 && why_not[0] == '\0')
        snprintf(why_not, sizeof(why_not), "cannot load libidn2: pthread_once failed");
    if (loaded)
        return &api;
    if (why != NULL)
        *why = why_not;
    return NULL;
}
