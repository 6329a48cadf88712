/* SPDX-License-Identifier: MIT */
/*
 * config_meaning.c - the engine's settings that must agree with the world
 * or with each other, checked after every value is set (config.c's phase
 * 3): addresses that must be mailboxes, the resolvers' form, the TTL
 * bounds, the webhook URL's scheme, what the Redis client would refuse at
 * start, the LMDB file's directory (a warning: config-test may run on
 * another host). A front end's own checks are its table's check callback.
 */
#include "config_int.h"
#include "address.h"
#include "redact.h"
#include "redis.h"
#include "seal.h"
#include "store.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* mailbox_ok - an empty string or a valid mailbox */
static bool mailbox_ok(const char *v)
{
    mv_address a;

    return *v == '\0' || (mv_address_parse(v, strlen(v), 0, &a) == MV_SYN_OK && !a.literal);
}

/* servers_ok - "ip[:port],[ipv6]:port,..." as c-ares takes them */
static bool servers_ok(const char *v)
{
    char buf[1100], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", v);
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        unsigned char addr[16];
        char *port = NULL, *host = t;

        if (*t == '[') {
            char *close = strchr(t, ']');

            if (close == NULL)
                return false;
            *close = '\0';
            host = t + 1;
            port = close[1] == ':' ? close + 2 : close[1] ? (char *)"x" : NULL;
        } else if (strchr(t, ':') == strrchr(t, ':') && (port = strchr(t, ':')) != NULL) {
            *port++ = '\0';
        }
        if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
            return false;
        if (port != NULL && (strspn(port, "0123456789") != strlen(port) || *port == '\0' || atoi(port) < 1 ||
                             atoi(port) > 65535))
            return false;
    }
    return true;
}

/* check_redis - what the Redis client would refuse at start: a host name
 * (hiredis would resolve it with a blocking call on the loop), TLS on a
 * unix socket or with files OpenSSL cannot load, a long prefix */
static void check_redis(loader *L, config_t *lc, const mv_settings *s)
{
    mv_redis_params p = mv_store_redis_params(s);
    char err[256];

    p.hash_secret = NULL; /* check_seal says what is wrong with it, once */
    if (!mv_redis_check_params(&p, err, sizeof(err)))
        mv_config_error(L, config_lookup(lc, p.tls ? "cache.redis_tls" : "cache.redis_server"),
                        "cache.store \"redis\": %s", err);
}

/* check_lmdb_dir - the LMDB file's directory must exist (LMDB creates the
 * file, not its directory); a warning, as config-test may run elsewhere */
static void check_lmdb_dir(loader *L, config_t *lc, const char *path)
{
    char dir[1100];
    const char *slash = strrchr(path, '/');
    struct stat sb;

    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        const char *file;
        int line;

        mv_config_where(L, config_lookup(lc, "cache.lmdb_path"), &file, &line);
        mv_diag_add(L->diag, MV_DIAG_WARNING, file, line,
                    "'cache.lmdb_path': directory %s does not "
                    "exist; each process uses a memory cache of its own until it does (create it, "
                    "writable by the daemon's user)",
                    dir);
    }
}

/* url_ok - http:// or https://, then a host (libcurl would send anything
 * else nowhere, or to a scheme we do not want: file://, gopher:// ...) */
static bool url_ok(const char *u)
{
    size_t n = strncasecmp(u, "https://", 8) == 0 ? 8 : strncasecmp(u, "http://", 7) == 0 ? 7 : 0;

    return n > 0 && u[n] != '\0' && strchr("/?#:@", u[n]) == NULL && strpbrk(u, " \t\r\n") == NULL;
}

/* check_seal - cache.hash_keys needs a secret the seal takes (seal.h) */
static void check_seal(loader *L, config_t *lc, const mv_settings *s)
{
    size_t n = strlen(s->cache_hash_secret);

    if (s->cache_hash_keys && (n < MV_SEAL_SECRET_MIN || n > MV_SEAL_SECRET_MAX))
        mv_config_error(L, config_lookup(lc, n ? "cache.hash_secret" : "cache.hash_keys"),
                        "'cache.hash_keys' needs 'cache.hash_secret' of %d to %d bytes, the same in every "
                        "process sharing the store (it is %zu)",
                        MV_SEAL_SECRET_MIN, MV_SEAL_SECRET_MAX, n);
}

/* mv_config_check_meaning - values that must agree with the world or each other */
void mv_config_check_meaning(loader *L, config_t *lc)
{
    const mv_settings *s = &L->cfg->s;
    char norm[MV_DOMAIN_MAX + 1], masked[4 * 1024 + 16];

    if (!mailbox_ok(s->smtp_mail_from))
        mv_config_error(L, config_lookup(lc, "smtp.mail_from"),
                        "'smtp.mail_from' \"%s\" is not an address "
                        "(leave it empty for the null sender)",
                        s->smtp_mail_from);
    if (strcmp(s->smtp_fallback_from, "none") != 0 && !mailbox_ok(s->smtp_fallback_from))
        mv_config_error(L, config_lookup(lc, "smtp.fallback_from"),
                        "'smtp.fallback_from' \"%s\" is not an "
                        "address (\"\" derives one from the host name, \"none\" turns the retry off)",
                        s->smtp_fallback_from);
    if (s->smtp_helo_name[0] != '\0' && !mv_config_norm_domain(s->smtp_helo_name, norm))
        mv_config_error(L, config_lookup(lc, "smtp.helo_name"),
                        "'smtp.helo_name' \"%s\" is not a host name "
                        "(use this host's fully qualified name)",
                        s->smtp_helo_name);
    if (!servers_ok(s->dns_servers))
        mv_config_error(L, config_lookup(lc, "dns.servers"),
                        "'dns.servers' \"%s\" must be addresses like "
                        "\"127.0.0.1\", \"127.0.0.1:5353\" or \"[::1]:53\", separated by commas",
                        s->dns_servers);
    if (s->dns_min_ttl > s->dns_max_ttl)
        mv_config_error(L, config_lookup(lc, "dns.min_ttl"),
                        "'dns.min_ttl' (%lld) is above 'dns.max_ttl' (%lld)", s->dns_min_ttl, s->dns_max_ttl);
    if (s->webhook_url[0] != '\0' && !url_ok(s->webhook_url))
        mv_config_error(L, config_lookup(lc, "webhook.url"),
                        "'webhook.url' \"%s\" must be an http:// or "
                        "https:// URL with a host",
                        mv_redact_url(s->webhook_url, masked, sizeof(masked)));
    if (s->cache_store == MV_STORE_LMDB)
        check_lmdb_dir(L, lc, s->cache_lmdb_path);
    if (!mv_store_built(s->cache_store))
        mv_config_error(L, config_lookup(lc, "cache.store"),
                        "'cache.store' \"%s\" is not built yet in "
                        "this mailverify; use \"memory\" or \"lmdb\"",
                        mv_store_type_name(s->cache_store));
    else if (s->cache_store == MV_STORE_REDIS)
        check_redis(L, lc, s);
    check_seal(L, lc, s);
    /* the fleet's leases live in Redis: without it each process would
     * believe it shares limits it does not */
    if (s->smtp_fleet && s->cache_store != MV_STORE_REDIS)
        mv_config_error(L, config_lookup(lc, "smtp.fleet"),
                        "'smtp.fleet' is true but 'cache.store' is \"%s\": the fleet's leases "
                        "and back-offs live in Redis (set cache.store = \"redis\")",
                        mv_store_type_name(s->cache_store));
}

/* parse_port - a decimal port 1-65535; 0 if it is not one */
static unsigned short parse_port(const char *p)
{
    char *end;
    long v;

    if (*p < '0' || *p > '9')
        return 0;
    v = strtol(p, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535 ? (unsigned short)v : 0;
}

/* mv_config_parse_listen - "IPv4:PORT" or "[IPv6]:PORT" as an address */
bool mv_config_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    size_t hl;
    unsigned short port;
    bool v6;

    if (colon == NULL || (port = parse_port(colon + 1)) == 0)
        return false;
    hl = (size_t)(colon - spec);
    if ((v6 = spec[0] == '[')) {
        if (hl < 2 || spec[hl - 1] != ']')
            return false;
        spec++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host))
        return false;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (!v6 && inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
        *len = sizeof(struct sockaddr_in);
        return true;
    }
    if (v6 && inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
        *len = sizeof(struct sockaddr_in6);
        return true;
    }
    return false;
}
