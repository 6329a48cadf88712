/* SPDX-License-Identifier: MIT */
/*
 * seal.c - keyed names and sealed values; see seal.h.
 *
 * Two keys are derived from the admin's secret with HMAC-SHA256 and fixed
 * labels, one for names and one for values, so that neither use can
 * reveal the other's key. Names are truncated to 128 bits: collisions
 * between a site's addresses are out of reach (2^64 addresses for an even
 * chance), and a shorter key saves Redis memory on every entry. Nonces
 * come from getrandom(2): with 96 random bits, GCM's bound on writes under
 * one key (2^32) is far past what a cache's lifetime writes.
 */
#include "seal.h"

#include "hmac.h"
#include "sslload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define VERSION 0x01
#define NONCE 12
#define TAG 16
#define NAME_HEX 32

struct mv_seal {
    unsigned char name_key[MV_HMAC_LEN];
    unsigned char value_key[MV_HMAC_LEN];
};

/* mv_seal_new - derive the two keys */
mv_seal *mv_seal_new(const char *secret, size_t len, char *err, size_t errlen)
{
    static const char name_label[] = "mailverify cache key names v1";
    static const char value_label[] = "mailverify cache values v1";
    const char *why = NULL;
    mv_seal *s;

    if (len < MV_SEAL_SECRET_MIN || len > MV_SEAL_SECRET_MAX) {
        snprintf(err, errlen, "cache.hash_secret must be %d to %d bytes long", MV_SEAL_SECRET_MIN,
                 MV_SEAL_SECRET_MAX);
        return NULL;
    }
    if (mv_ssl(&why) == NULL) {
        snprintf(err, errlen, "cache.hash_keys: %s", why);
        return NULL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!mv_hmac_sha256(secret, len, name_label, sizeof(name_label) - 1, s->name_key) ||
        !mv_hmac_sha256(secret, len, value_label, sizeof(value_label) - 1, s->value_key)) {
        snprintf(err, errlen, "cache.hash_keys: cannot derive the keys (OpenSSL HMAC failed)");
        mv_seal_free(s);
        return NULL;
    }
    return s;
}

/* mv_seal_free - wipe the keys */
void mv_seal_free(mv_seal *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, sizeof(*s));
    free(s);
}

/* kind_len - the key's kind: one or two lowercase words of at most 8
 * letters, each ending in ':' ("s:", "c:dha:", "lease:h:"); 0 if none.
 * Two at most, so that what follows ("dead:beef::1") is never kept. */
static size_t kind_len(const char *k, size_t klen)
{
    size_t n = 0;

    for (int words = 0; words < 2; words++) {
        size_t w = 0;

        while (n + w < klen && w < 8 && k[n + w] >= 'a' && k[n + w] <= 'z')
            w++;
        if (w == 0 || n + w >= klen || k[n + w] != ':')
            break;
        n += w + 1;
    }
    return n;
}

/* mv_seal_name - kind + 32 hex digits of the HMAC of the rest */
size_t mv_seal_name(const mv_seal *s, const void *key, size_t klen, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    const char *k = key;
    size_t kl = kind_len(k, klen), n;
    unsigned char mac[MV_HMAC_LEN];

    if (kl == 0) {
        k = "h:";
        kl = 2;
    }
    n = kl + NAME_HEX;
    if (size < n + 1 ||
        !mv_hmac_sha256(s->name_key, sizeof(s->name_key), (const char *)key + (k == key ? kl : 0),
                        klen - (k == key ? kl : 0), mac))
        return 0;
    memcpy(out, k, kl);
    for (size_t i = 0; i < NAME_HEX / 2; i++) {
        out[kl + 2 * i] = hex[mac[i] >> 4];
        out[kl + 1 + 2 * i] = hex[mac[i] & 15];
    }
    out[n] = '\0';
    return n;
}

/* gcm - one AES-256-GCM pass; false on any OpenSSL failure */
static bool gcm(const mv_ssl_api *api, bool enc, const unsigned char *key, const unsigned char *nonce,
                const void *aad, size_t aadlen, const unsigned char *in, size_t len, unsigned char *out,
                unsigned char *tag)
{
    EVP_CIPHER_CTX *c = api->EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok;

    if (c == NULL)
        return false;
    if (enc)
        ok = api->EVP_EncryptInit_ex(c, api->EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             (aadlen == 0 || api->EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) == 1) &&
             (len == 0 || api->EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1) &&
             api->EVP_EncryptFinal_ex(c, out + (len ? n : 0), &fin) == 1 &&
             api->EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, tag) == 1;
    else
        ok = api->EVP_DecryptInit_ex(c, api->EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             (aadlen == 0 || api->EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) == 1) &&
             (len == 0 || api->EVP_DecryptUpdate(c, out, &n, in, (int)len) == 1) &&
             api->EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1 &&
             api->EVP_DecryptFinal_ex(c, out + (len ? n : 0), &fin) == 1;
    api->EVP_CIPHER_CTX_free(c);
    return ok;
}

/* mv_seal_value - version, nonce, ciphertext, tag */
size_t mv_seal_value(const mv_seal *s, const void *name, size_t nlen, const void *in, size_t len, void *out,
                     size_t size)
{
    const char *why;
    const mv_ssl_api *api = mv_ssl(&why);
    unsigned char *o = out;

    if (api == NULL || len > (size_t)1 << 30 || size < len + MV_SEAL_OVERHEAD)
        return 0;
    o[0] = VERSION;
    if (getrandom(o + 1, NONCE, 0) != NONCE)
        return 0;
    if (!gcm(api, true, s->value_key, o + 1, name, nlen, in, len, o + 1 + NONCE, o + 1 + NONCE + len))
        return 0;
    return len + MV_SEAL_OVERHEAD;
}

/* mv_seal_open - check and decrypt */
bool mv_seal_open(const mv_seal *s, const void *name, size_t nlen, const void *in, size_t len, void *out,
                  size_t size, size_t *outlen)
{
    const char *why;
    const mv_ssl_api *api = mv_ssl(&why);
    const unsigned char *i = in;
    unsigned char tag[TAG];
    size_t n;

    if (api == NULL || len < MV_SEAL_OVERHEAD || i[0] != VERSION || (n = len - MV_SEAL_OVERHEAD) > size ||
        n > (size_t)1 << 30)
        return false;
    memcpy(tag, i + 1 + NONCE + n, TAG);
    if (!gcm(api, false, s->value_key, i + 1, name, nlen, i + 1 + NONCE, n, out, tag)) {
        explicit_bzero(out, n);
        return false;
    }
    *outlen = n;
    return true;
}
