/* SPDX-License-Identifier: MIT */
/*
 * curlload.c - libcurl through dlopen, once; see curlload.h.
 *
 * pthread_once makes the first caller do the loading while any others
 * wait for it; the outcome (the table, or the reason it failed) is then
 * read without a lock. A failure is final: a library missing at the
 * first webhook or pass-through is not looked for again on every retry,
 * each of which would cost the same failed search of the library path.
 */
#include "curlload.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LIBCURL_SONAME "libcurl.so.4"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static mv_curl_api api;
static bool loaded;
static char why_not[512];

/* sym - one function of the library; false (and why) if it lacks it */
static bool sym(void *lib, const char *name, void *slot, size_t size)
{
    void *f;

    dlerror();
    if ((f = dlsym(lib, name)) == NULL) {
        const char *e = dlerror();

        snprintf(why_not, sizeof(why_not), "%s: %s", LIBCURL_SONAME, e ? e : name);
        return false;
    }
    /* POSIX guarantees a data pointer from dlsym converts to a function pointer */
    memcpy(slot, &f, size);
    return true;
}

/* load - the once routine: open, resolve, curl_global_init */
static void load(void)
{
    CURLcode (*global_init)(long) = NULL;
    void *lib;

    /* RTLD_LOCAL: curl's dependencies stay out of the global namespace,
     * where they could interpose on the program's own libraries; its
     * libssl/libcrypto are the same objects sslload.c opens */
    if ((lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        const char *e = dlerror();

        snprintf(why_not, sizeof(why_not), "cannot load libcurl: %s", e ? e : LIBCURL_SONAME);
        return;
    }
#define SYM(field, name) sym(lib, name, &api.field, sizeof(api.field))
    if (!sym(lib, "curl_global_init", &global_init, sizeof(global_init)) ||
        !SYM(easy_init, "curl_easy_init") || !SYM(easy_setopt, "curl_easy_setopt") ||
        !SYM(easy_perform, "curl_easy_perform") || !SYM(easy_getinfo, "curl_easy_getinfo") ||
        !SYM(easy_cleanup, "curl_easy_cleanup") || !SYM(easy_strerror, "curl_easy_strerror") ||
        !SYM(slist_append, "curl_slist_append") || !SYM(slist_free_all, "curl_slist_free_all")) {
        dlclose(lib);
        return;
    }
#undef SYM
    /* once per process, never cleaned up: users come and go (a webhook
     * sender, each pass-through request) but the library stays mapped,
     * and curl_global_cleanup while another thread still used it would
     * pull its TLS state out from under that thread */
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(why_not, sizeof(why_not), "%s: curl_global_init failed", LIBCURL_SONAME);
        dlclose(lib);
        return;
    }
    loaded = true;
}

/* mv_curl - the table, loaded on the first call */
const mv_curl_api *mv_curl(const char **why)
{
    if ((errno = pthread_once(&once, load)) != 0) {
        *why = "cannot load libcurl: pthread_once failed";
        return NULL;
    }
    if (!loaded) {
        *why = why_not;
        return NULL;
    }
    return &api;
}
