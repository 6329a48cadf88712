/* SPDX-License-Identifier: MIT */
/*
 * sslload.h - OpenSSL (libssl.so.3 and libcrypto.so.3), loaded on first use.
 *
 * Linking libssl and libcrypto cost every process the dynamic linker's
 * ~4,100 symbol relocations of the two, most of a cold CGI request of
 * mailverify.fcgi, which needs OpenSSL only for STARTTLS in an SMTP
 * probe, TLS to Redis and a webhook's signature. So the programs do not
 * link them: the first caller dlopen()s libssl.so.3 (which brings
 * libcrypto.so.3), resolves the functions below once, and the library
 * then stays for the life of the process, as curlload.h does for
 * libcurl. The OpenSSL headers are still compiled against for types and
 * constants, and each slot has the type of the header's own prototype,
 * so the ABI is the one the headers describe (stable within 3.x).
 *
 * Call sites read api->SSL_new(...). The macros OpenSSL defines over
 * functions are spelt out with the function they stand for:
 * SSL_CTX_set_min_proto_version and SSL_CTX_set_mode are SSL_CTX_ctrl,
 * SSL_set_tlsext_host_name is SSL_ctrl, SSL_get_cipher_name is
 * SSL_CIPHER_get_name of SSL_get_current_cipher.
 */
#ifndef MV_SSLLOAD_H
#define MV_SSLLOAD_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Exactly the OpenSSL functions the tree calls: tls.c (STARTTLS),
 * redis_tls.c (Redis), hmac.c (webhook signatures), seal.c (cache.hash_keys). */
/* clang-format off */
#define MV_SSL_FUNCTIONS(X)                                                                  \
    X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl)                      \
    X(SSL_CTX_set_verify) X(SSL_CTX_load_verify_locations) X(SSL_CTX_set_default_verify_paths) \
    X(SSL_CTX_use_certificate_chain_file) X(SSL_CTX_use_PrivateKey_file)                     \
    X(SSL_CTX_check_private_key)                                                             \
    X(SSL_new) X(SSL_free) X(SSL_set_fd) X(SSL_ctrl) X(SSL_set_connect_state)                \
    X(SSL_do_handshake) X(SSL_connect) X(SSL_read) X(SSL_write) X(SSL_get_error)             \
    X(SSL_get_version) X(SSL_get_current_cipher) X(SSL_CIPHER_get_name)                      \
    X(SSL_get_verify_result) X(SSL_get0_param) X(SSL_set1_host)                              \
    X(X509_VERIFY_PARAM_set1_ip_asc) X(X509_verify_cert_error_string)                        \
    X(ERR_clear_error) X(ERR_get_error) X(ERR_peek_last_error) X(ERR_reason_error_string)    \
    X(ERR_error_string_n)                                                                    \
    X(EVP_MAC_fetch) X(EVP_MAC_free) X(EVP_MAC_CTX_new) X(EVP_MAC_CTX_free) X(EVP_MAC_init)  \
    X(EVP_MAC_update) X(EVP_MAC_final)                                                       \
    X(OSSL_PARAM_construct_utf8_string) X(OSSL_PARAM_construct_end) X(CRYPTO_memcmp)        \
    X(EVP_aes_256_gcm) X(EVP_CIPHER_CTX_new) X(EVP_CIPHER_CTX_free) X(EVP_CIPHER_CTX_ctrl)   \
    X(EVP_EncryptInit_ex) X(EVP_EncryptUpdate) X(EVP_EncryptFinal_ex)                        \
    X(EVP_DecryptInit_ex) X(EVP_DecryptUpdate) X(EVP_DecryptFinal_ex)
/* clang-format on */

/* one pointer per function, of the type its header declares */
#define MV_SSL_SLOT(f) __typeof__(f) *f;
typedef struct {
    MV_SSL_FUNCTIONS(MV_SSL_SLOT)
} mv_ssl_api;
#undef MV_SSL_SLOT

/* mv_ssl - the functions, loading libssl the first time (thread-safe);
 * NULL if it cannot be, with why in *why (a static string, the same for
 * every later call: a failure is final) */
const mv_ssl_api *mv_ssl(const char **why);

#endif
