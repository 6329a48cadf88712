/* SPDX-License-Identifier: MIT */
/*
 * plugin.h - mailverify.fcgi's request handling, the same in CGI and
 * FastCGI modes.
 *
 *   POST /verify   form-encoded or JSON: email, optional context
 *   GET  /verify?email=...&context=...
 *   GET  /healthz, GET /metrics, OPTIONS (CORS preflight)
 * Answers JSON: the verdict of DESIGN.md, the action of the form policy,
 * a short message a page can show, and "pending" when the check outran
 * the form's deadline (the final verdict then goes to the webhook).
 */
#ifndef MV_PLUGIN_H
#define MV_PLUGIN_H

#include "config.h"
#include "engine.h"
#include "fcgi_config.h"
#include "http.h"
#include "metrics.h"
#include "ratelimit.h"

typedef struct mv_plugin mv_plugin;

/* Hooks that other modules fill in (NULL: not used). */
typedef struct {
    /* a final verdict for a request that was answered "pending" */
    void (*late)(void *arg, const char *json, size_t len);
    void *late_arg;
    /* a request that is not ours: hand it on (pass-through); its status */
    int (*pass)(mv_plugin *p, mv_http_req *r, void *arg);
    void *pass_arg;
} mv_plugin_hooks;

struct mv_plugin {
    mv_config *cfg;
    mv_engine *engine;
    mv_ratelimit *by_ip, *by_key;
    mv_metrics *metrics;
    mv_plugin_hooks hooks;
};

/* mv_plugin_init - engine, limits, metrics for this config; false on ENOMEM */
bool mv_plugin_init(mv_plugin *p, mv_config *cfg);

/* mv_plugin_handle - answer one request */
void mv_plugin_handle(mv_plugin *p, mv_http_req *r);

/* mv_plugin_verify_field - verify one address for pass-through: the
 * verdict into v; false if the engine could not answer */
bool mv_plugin_verify_field(mv_plugin *p, const char *addr, size_t len, mv_verdict *v);

/* mv_plugin_message - the short text a page shows for a verdict */
void mv_plugin_message(const mv_verdict *v, bool pending, char *out, size_t size);

/* mv_plugin_fini - release (answers what is pending first) */
void mv_plugin_fini(mv_plugin *p);

#endif
