/* SPDX-License-Identifier: MIT */
/*
 * nullfcgi.c - a FastCGI responder that does no work: the peer of
 * mailverify.fcgi in make bench-fastcgi.
 *
 *   nullfcgi FILE [THREADS]     (the listening socket is stdin: spawn-fcgi)
 *
 * Answers every request with the bytes of FILE as application/json, with
 * the headers mailverify.fcgi sends, from THREADS threads (4) calling
 * FCGX_Accept_r on the shared socket without a lock (Linux wakes one
 * accept() per connection), as mailverify.fcgi does. What is left between
 * it and nginx's static file is the cost of FastCGI itself: nginx's
 * upstream connection and protocol, libfcgi's records and close.
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static char *body;
static long body_len;
static char head[256];
static int head_len;

static void *serve(void *arg)
{
    FCGX_Request req;

    (void)arg;
    if (FCGX_InitRequest(&req, 0, 0) != 0)
        return NULL;
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(head, head_len, req.out);
        FCGX_PutStr(body, (int)body_len, req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    FILE *f;
    long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 4;
    pthread_t t[64];

    if (argc < 2 || (f = fopen(argv[1], "rb")) == NULL || threads < 1 || threads > 64) {
        fputs("usage: nullfcgi FILE [THREADS]\n", stderr);
        return 64;
    }
    fseek(f, 0, SEEK_END);
    body_len = ftell(f);
    rewind(f);
    if ((body = malloc((size_t)body_len + 1)) == NULL ||
        fread(body, 1, (size_t)body_len, f) != (size_t)body_len)
        return 70;
    fclose(f);
    /* mailverify.fcgi's headers, in its order: the same response through nginx */
    head_len = snprintf(head, sizeof(head),
                        "Status: 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %ld\r\nCache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\n\r\n",
                        body_len);
    FCGX_Init();
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, serve, NULL);
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
