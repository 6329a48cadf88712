/* SPDX-License-Identifier: MIT */
/*
 * sslload.c - OpenSSL through dlopen, once; see sslload.h.
 *
 * pthread_once makes the first caller do the loading while any others
 * wait for it; the outcome (the table, or the reason it failed) is then
 * read without a lock. A failure is final: a library missing at the
 * first STARTTLS or webhook is not looked for again on every probe,
 * each of which would cost the same failed search of the library path.
 * Nothing is initialised by hand: OpenSSL 3 initialises itself at its
 * first call and cleans up at exit, as it does when linked.
 */
#include "sslload.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* the library's name; a unit test (test_sslload_missing.c) compiles
 * this file with a name that does not exist, to see the failure path */
#ifndef MV_LIBSSL_SONAME
#define MV_LIBSSL_SONAME "libssl.so.3"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static mv_ssl_api api;
static bool loaded;
static char why_not[512];

/* where each function goes in the table */
#define MV_SSL_ENTRY(f) {#f, offsetof(mv_ssl_api, f)},
static const struct {
    const char *name;
    size_t offset;
} functions[] = {MV_SSL_FUNCTIONS(MV_SSL_ENTRY)};
#undef MV_SSL_ENTRY

/* sym - one function into its slot; false (and why) if the library lacks it */
static bool sym(void *lib, const char *name, size_t offset)
{
    void *f;

    dlerror();
    if ((f = dlsym(lib, name)) == NULL) {
        const char *e = dlerror();

        snprintf(why_not, sizeof(why_not), "%s: %s", MV_LIBSSL_SONAME, e ? e : name);
        return false;
    }
    /* POSIX guarantees a data pointer from dlsym converts to a function
     * pointer; every slot is one */
    memcpy((char *)&api + offset, &f, sizeof(f));
    return true;
}

/* load - the once routine: open libssl (libcrypto comes as its
 * dependency, and dlsym on the handle searches both), resolve */
static void load(void)
{
    void *lib;

    /* RTLD_LOCAL: nothing of OpenSSL's enters the global namespace; a
     * libcurl loaded later (curlload.c) shares these same two objects */
    if ((lib = dlopen(MV_LIBSSL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        const char *e = dlerror();

        snprintf(why_not, sizeof(why_not), "cannot load OpenSSL: %s", e ? e : MV_LIBSSL_SONAME);
        return;
    }
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        if (!sym(lib, functions[i].name, functions[i].offset)) {
            memset(&api, 0, sizeof(api));
            dlclose(lib);
            return;
        }
    }
    loaded = true;
}

/* mv_ssl - the table, loaded on the first call */
const mv_ssl_api *mv_ssl(const char **why)
{
    if ((errno = pthread_once(&once, load)) != 0) {
        *why = "cannot load OpenSSL: pthread_once failed";
        return NULL;
    }
    if (!loaded) {
        *why = why_not;
        return NULL;
    }
    return &api;
}
