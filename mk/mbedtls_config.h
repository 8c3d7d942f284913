/*
 * authd's changes to mbedTLS 3.6's default configuration, applied as
 * MBEDTLS_USER_CONFIG_FILE when the build compiles mbedTLS itself.
 *
 * authd speaks TLS 1.3 (and TLS 1.2 with ECDHE + AEAD only) with ECDSA
 * P-256 certificates. Everything below that we never use is switched off to
 * cut attack surface: static RSA / DHE / PSK key exchanges, CBC and the other
 * non-AEAD modes, renegotiation, DTLS, DES, finite-field DH and curves other
 * than P-256, P-384 and X25519. Threading is on because the daemon signs and
 * generates keys on libuv's thread pool.
 */
#ifndef AUTHD_MK_MBEDTLS_CONFIG_H
#define AUTHD_MK_MBEDTLS_CONFIG_H

#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD

/* Key exchanges: ECDHE with ECDSA certificates only (TLS 1.2). */
#undef MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED

/* TLS 1.3 resumption only with a fresh (EC)DHE share: forward secrecy. */
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_ENABLED

/* Non-AEAD cipher modes and the suites built on them. */
#undef MBEDTLS_CIPHER_MODE_CBC
#undef MBEDTLS_CIPHER_MODE_CFB
#undef MBEDTLS_CIPHER_MODE_OFB
#undef MBEDTLS_CIPHER_MODE_XTS
#undef MBEDTLS_SSL_ENCRYPT_THEN_MAC
#undef MBEDTLS_DES_C
#undef MBEDTLS_DHM_C

/*
 * Memory per connection. mbedTLS keeps one input and one output buffer per
 * session for its whole life (no equivalent of OpenSSL's RELEASE_BUFFERS).
 * Input must take a peer's full 16 KiB records; output records can be
 * smaller, and 4 KiB is plenty for heads, our certificate chain (~1.3 KiB)
 * and tickets. (Dropping the peer's parsed certificate after the
 * handshake would save more, but mbedTLS 3.6 requires keeping it for TLS 1.3.)
 */
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

/* Faster P-256 scalar multiplication for a little more memory (per process, not per connection). */
#define MBEDTLS_ECP_WINDOW_SIZE 6

/* Features a mesh proxy never needs. */
#undef MBEDTLS_SSL_RENEGOTIATION
#undef MBEDTLS_SSL_CONTEXT_SERIALIZATION
#undef MBEDTLS_SSL_PROTO_DTLS
#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY
#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY
#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE
#undef MBEDTLS_SSL_DTLS_CONNECTION_ID
#undef MBEDTLS_SSL_COOKIE_C

/* Curves: P-256 (our keys), P-384 (peer CAs), X25519 (key exchange). */
#undef MBEDTLS_ECP_DP_SECP192R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP521R1_ENABLED
#undef MBEDTLS_ECP_DP_SECP192K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP224K1_ENABLED
#undef MBEDTLS_ECP_DP_SECP256K1_ENABLED
#undef MBEDTLS_ECP_DP_BP256R1_ENABLED
#undef MBEDTLS_ECP_DP_BP384R1_ENABLED
#undef MBEDTLS_ECP_DP_BP512R1_ENABLED
#undef MBEDTLS_ECP_DP_CURVE448_ENABLED

#endif
