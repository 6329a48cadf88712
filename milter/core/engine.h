/*
 * engine.h - the verification engine: one address in, one verdict out.
 *
 * The engine is a library. Front ends (the milter, the FastCGI plugin, the
 * CLI) build a request, ask, and turn the verdict and action into their
 * own protocol's answer. The call's return value says whether the engine
 * answered (mv_call); the verdict says what it found about the address.
 * The two are kept apart, as Postfix's verify client keeps request status
 * apart from address status.
 *
 * This version runs the offline path -- steps 1-3 of DESIGN.md: parse and
 * normalize, local signals (disposable, role, free, typo), policy. The
 * network steps (DNS, SMTP) are asked for with the request's mode and are
 * refused with MV_ENOTSUP until they exist.
 */
#ifndef MV_ENGINE_H
#define MV_ENGINE_H

#include "config.h"
#include "verdict.h"

typedef enum {
    MV_OK = 0,
    MV_ENOMEM,                  /* out of memory: try again later */
    MV_ENOTSUP,                 /* this mode is not available */
    MV_EINVAL,                  /* a bad request (not a bad address) */
} mv_call;

typedef enum {
    MV_MODE_OFFLINE,            /* syntax, lists, typo: no network */
    MV_MODE_DNS,                /* + MX lookup */
    MV_MODE_SMTP,               /* + SMTP RCPT probe */
} mv_mode;

enum {
    MV_REQ_CANONICAL = 1 << 0,  /* fill in the canonical form */
};

typedef struct {
    const char *address;        /* any bytes; need not be NUL-terminated */
    size_t len;
    mv_context context;
    mv_mode mode;
    int flags;
} mv_request;

typedef struct mv_engine mv_engine;

/* mv_engine_new - an engine on this config (takes its own reference) */
mv_engine *mv_engine_new(mv_config *cfg);

/* mv_engine_check - verify one address; MV_OK and a filled verdict */
mv_call mv_engine_check(mv_engine *e, const mv_request *req, mv_verdict *out);

/* mv_engine_free - release; NULL is fine */
void mv_engine_free(mv_engine *e);

/* mv_call_name - a call status as text */
const char *mv_call_name(mv_call c);

#endif
