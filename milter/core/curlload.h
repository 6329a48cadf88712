/* SPDX-License-Identifier: MIT */
/*
 * curlload.h - libcurl, loaded on first use.
 *
 * libcurl drags about 35 shared objects into a process (TLS, Kerberos,
 * LDAP, SSH, RTMP, HTTP/2), and the dynamic linker's time on them was
 * most of a cold CGI request of mailverify.fcgi, which needs curl only
 * to send a webhook or to forward pass-through to an http upstream. So
 * the programs do not link it: the first caller dlopen()s libcurl.so.4,
 * resolves the functions below once and runs curl_global_init; the
 * library then stays for the life of the process. curl/curl.h is still
 * compiled against for types and constants, so the ABI is the one the
 * headers describe (libcurl.so.4's is stable).
 */
#ifndef MV_CURLLOAD_H
#define MV_CURLLOAD_H

#include <curl/curl.h>

/* Exactly the curl_* functions the tree calls. */
typedef struct {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *c);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *h, const char *line);
    void (*slist_free_all)(struct curl_slist *h);
} mv_curl_api;

/* mv_curl - the functions, loading and initialising libcurl the first
 * time (thread-safe); NULL if it cannot be, with why in *why (a static
 * string, the same for every later call) */
const mv_curl_api *mv_curl(const char **why);

#endif
