/* SPDX-License-Identifier: MIT */
/*
 * hmac.c - the webhook signature; see hmac.h.
 *
 * HMAC-SHA256 through OpenSSL 3's EVP_MAC, fed in pieces so that the
 * signed string "timestamp.body" is never copied. Verification compares
 * in constant time (CRYPTO_memcmp) and accepts a header listing several
 * signatures ("v1=aa..,v1=bb..") so that a receiver can be told about a
 * new secret before the old one is retired; entries of other schemes are
 * skipped, never an error. OpenSSL is loaded (sslload.h) at the first
 * signature; if it cannot be, signing and verifying fail as they would
 * on any other OpenSSL failure.
 */
#include "hmac.h"

#include "sslload.h"

#include <openssl/core_names.h>
#include <string.h>

/* mac_parts - HMAC-SHA256 of the concatenated parts; false on failure */
static bool mac_parts(const mv_ssl_api *api, const void *key, size_t keylen, const void *const *parts,
                      const size_t *lens, size_t n, unsigned char out[MV_HMAC_LEN])
{
    static const unsigned char nokey[1];
    EVP_MAC *mac = api->EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? api->EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        api->OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        api->OSSL_PARAM_construct_end(),
    };
    size_t got = 0;
    bool ok = ctx != NULL && api->EVP_MAC_init(ctx, keylen ? key : nokey, keylen, params) == 1;

    for (size_t i = 0; ok && i < n; i++)
        ok = lens[i] == 0 || api->EVP_MAC_update(ctx, parts[i], lens[i]) == 1;
    ok = ok && api->EVP_MAC_final(ctx, out, &got, MV_HMAC_LEN) == 1 && got == MV_HMAC_LEN;
    api->EVP_MAC_CTX_free(ctx);
    api->EVP_MAC_free(mac);
    return ok;
}

/* mv_hmac_sha256 - HMAC-SHA256 of msg under key into out */
bool mv_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    unsigned char out[MV_HMAC_LEN])
{
    const void *parts[] = {msg};
    size_t lens[] = {msglen};
    const mv_ssl_api *api;
    const char *why;

    return (api = mv_ssl(&why)) != NULL && mac_parts(api, key, keylen, parts, lens, 1, out);
}

/* signed_mac - the HMAC of timestamp "." body */
static bool signed_mac(const mv_ssl_api *api, const char *secret, size_t secretlen, const char *timestamp,
                       const void *body, size_t len, unsigned char out[MV_HMAC_LEN])
{
    const void *parts[] = {timestamp, ".", body};
    size_t lens[] = {strlen(timestamp), 1, len};

    return mac_parts(api, secret, secretlen, parts, lens, 3, out);
}

/* mv_webhook_sign - "v1=<hex>" for this timestamp and body into out */
bool mv_webhook_sign(const char *secret, size_t secretlen, const char *timestamp, const void *body,
                     size_t len, char out[MV_SIG_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[MV_HMAC_LEN];
    char *o = out + strlen(MV_SIG_SCHEME);
    const mv_ssl_api *api;
    const char *why;

    out[0] = '\0';
    if ((api = mv_ssl(&why)) == NULL || !signed_mac(api, secret, secretlen, timestamp, body, len, mac))
        return false;
    memcpy(out, MV_SIG_SCHEME, strlen(MV_SIG_SCHEME));
    for (size_t i = 0; i < MV_HMAC_LEN; i++) {
        *o++ = hex[mac[i] >> 4];
        *o++ = hex[mac[i] & 15];
    }
    *o = '\0';
    return true;
}

/* unhex - one hex digit's value (either case), or -1 */
static int unhex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* entry_matches - is s[0..n) "v1=" and 64 hex digits equal to mac? */
static bool entry_matches(const mv_ssl_api *api, const char *s, size_t n,
                          const unsigned char mac[MV_HMAC_LEN])
{
    size_t scheme = strlen(MV_SIG_SCHEME);
    unsigned char got[MV_HMAC_LEN];

    if (n != scheme + 2 * MV_HMAC_LEN || strncmp(s, MV_SIG_SCHEME, scheme) != 0)
        return false;
    s += scheme;
    for (size_t i = 0; i < MV_HMAC_LEN; i++) {
        int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    return api->CRYPTO_memcmp(got, mac, MV_HMAC_LEN) == 0;
}

/* mv_webhook_verify - does the header hold a valid "v1=" entry? */
bool mv_webhook_verify(const char *secret, size_t secretlen, const char *timestamp, const void *body,
                       size_t len, const char *header)
{
    unsigned char mac[MV_HMAC_LEN];
    const mv_ssl_api *api;
    const char *why;
    bool ok = false;

    if (header == NULL || (api = mv_ssl(&why)) == NULL ||
        !signed_mac(api, secret, secretlen, timestamp, body, len, mac))
        return false;
    while (*header != '\0') {
        size_t n;

        header += strspn(header, ", \t");
        n = strcspn(header, ", \t");
        ok = entry_matches(api, header, n, mac) || ok; /* every entry looked at: no early exit */
        header += n;
    }
    return ok;
}

/* mv_webhook_fresh - is the timestamp within tolerance seconds of now? */
mv_ts_check mv_webhook_fresh(const char *timestamp, long long now, long long tolerance, long long *value)
{
    size_t n = strspn(timestamp, "0123456789");
    long long t = 0;

    if (n == 0 || n > 18 || timestamp[n] != '\0')
        return MV_TS_MALFORMED;
    for (size_t i = 0; i < n; i++)
        t = t * 10 + (timestamp[i] - '0');
    if (value != NULL)
        *value = t;
    return t < now - tolerance || t > now + tolerance ? MV_TS_STALE : MV_TS_FRESH;
}
