/* SPDX-License-Identifier: MIT */
/*
 * nullmilter.c - a libmilter milter that does no work: the floor for
 * `make bench-milter`.
 *
 *   nullmilter SOCKET same    the callbacks and negotiation mailverifyd
 *                             has (connect, helo, envfrom, envrcpt, eom,
 *                             abort, close; headers, body, DATA and unknown
 *                             commands skipped), every one answering
 *                             "continue" at once
 *   nullmilter SOCKET data    the same, but DATA is not skipped: Postfix
 *                             sends it and waits for the answer
 *
 * Why "data": Postfix sends the DATA stage's macros even when the milter
 * skips DATA, as a packet that gets no answer, and the end of message
 * follows as another small packet; over TCP (Nagle's algorithm on
 * Postfix's side, delayed ACK on the milter's) the end of message then
 * waits about 40 ms for the first packet's ACK. Answering DATA acknowledges
 * the macros at once.
 *
 * What it measures: what the milter protocol itself (Postfix's side and
 * libmilter's: a connection and a thread per SMTP session, one round trip
 * per command that wants a reply) costs, with nothing verified.
 * SOCKET is a libmilter spec (inet:PORT@127.0.0.1). Runs until SIGTERM.
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int data;

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)ctx;
    (void)host;
    (void)sa;
    return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    (void)ctx;
    (void)helo;
    return SMFIS_CONTINUE;
}

static sfsistat on_args(SMFICTX *ctx, char **argv)
{
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat on_ctx(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    unsigned long want = SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA;

    (void)ctx;
    (void)f2;
    (void)f3;
    if (data)
        want &= ~SMFIP_NODATA;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}");
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
        smfi_setsymlist(ctx, SMFIM_EOM, "i");
    }
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    struct smfiDesc desc = {
        "nullmilter", SMFI_VERSION, SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
        on_connect,   on_helo,      on_args,
        on_args,      NULL,         NULL,
        NULL,         on_ctx,       on_ctx,
        on_ctx,       NULL,         NULL,
        on_negotiate,
    };

    if (argc != 3 || (strcmp(argv[2], "same") != 0 && strcmp(argv[2], "data") != 0)) {
        fputs("usage: nullmilter inet:PORT@HOST same|data\n", stderr);
        return 64;
    }
    data = strcmp(argv[2], "data") == 0;
    if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
        return 71;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
