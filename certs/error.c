/*
 * error.c: names and sentences for the certs library's error codes.
 */
#include "certs/error.h"

#include <stddef.h>
#include <string.h>

#include "common/util.h"

static const struct {
	int code;
	const char *reason;
	const char *text;
} certs_errors[] = {
	{ CERTS_E_INVAL, "invalid-argument", "invalid argument" },
	{ CERTS_E_NOMEM, "no-memory", "out of memory" },
	{ CERTS_E_CRYPTO, "crypto-failure", "cryptographic operation failed" },
	{ CERTS_E_ID_EMPTY, "id-empty", "SPIFFE ID is empty" },
	{ CERTS_E_ID_TOO_LONG, "id-too-long", "SPIFFE ID is longer than 2048 bytes" },
	{ CERTS_E_ID_SCHEME, "id-scheme", "SPIFFE ID must start with spiffe://" },
	{ CERTS_E_ID_TD_EMPTY, "id-trust-domain-empty", "trust domain is empty" },
	{ CERTS_E_ID_TD_TOO_LONG, "id-trust-domain-too-long",
	    "trust domain is longer than 255 bytes" },
	{ CERTS_E_ID_TD_CHAR, "id-trust-domain-char",
	    "trust domain may hold only letters, digits, '.', '-' and '_'" },
	{ CERTS_E_ID_PORT, "id-port", "SPIFFE ID may not have a port" },
	{ CERTS_E_ID_USERINFO, "id-userinfo", "SPIFFE ID may not have user info" },
	{ CERTS_E_ID_QUERY, "id-query", "SPIFFE ID may not have a query" },
	{ CERTS_E_ID_FRAGMENT, "id-fragment", "SPIFFE ID may not have a fragment" },
	{ CERTS_E_ID_PERCENT, "id-percent", "SPIFFE ID may not be percent-encoded" },
	{ CERTS_E_ID_SEG_EMPTY, "id-empty-segment", "SPIFFE ID path has an empty segment" },
	{ CERTS_E_ID_SEG_DOT, "id-dot-segment", "SPIFFE ID path has a '.' or '..' segment" },
	{ CERTS_E_ID_TRAILING_SLASH, "id-trailing-slash", "SPIFFE ID may not end with '/'" },
	{ CERTS_E_ID_PATH_CHAR, "id-path-char",
	    "SPIFFE ID path may hold only letters, digits, '.', '-' and '_'" },
	{ CERTS_E_ID_NO_PATH, "id-no-path", "a workload SPIFFE ID needs a path" },
	{ CERTS_E_PEM, "malformed-pem", "not a valid certificate or key (PEM or DER)" },
	{ CERTS_E_KEY, "bad-key", "key is not an ECDSA P-256 key matching its certificate" },
	{ CERTS_E_SEAL, "seal-open-failed",
	    "sealed key does not open: wrong seal key, or the file was altered" },
	{ CERTS_E_SEAL_FORMAT, "seal-format",
	    "sealed key or seal key file is malformed (a seal key is 32 bytes in base64)" },
	{ CERTS_E_TTL, "ttl-out-of-range", "TTL is out of the allowed range" },
	{ CERTS_E_CA_EXPIRED, "issuer-not-valid", "the issuer is expired or not yet valid" },
	{ CERTS_E_EXISTS, "ca-exists", "the directory already holds a CA" },
	{ CERTS_E_NO_CA, "no-ca", "no CA in that directory, or a file of it is missing" },
	{ CERTS_E_NO_ROOT_KEY, "no-root-key",
	    "the root key is not in the CA directory (needed to sign a new issuer)" },
	{ CERTS_E_BUNDLE_LAST, "bundle-last-anchor", "refusing to remove the last trust anchor" },
	{ CERTS_E_BUNDLE_IN_USE, "bundle-anchor-in-use",
	    "that anchor signs the current issuer; rotate first" },
	{ CERTS_E_BUNDLE_DUP, "bundle-duplicate", "that anchor is already in the bundle" },
	{ CERTS_E_BUNDLE_NOT_ANCHOR, "bundle-not-anchor",
	    "a trust anchor must be a self-signed CA certificate" },
	{ CERTS_E_NOT_FOUND, "not-found", "no such trust anchor" },
	{ CERTS_E_TOO_BIG, "too-big", "input is larger than allowed" },
	{ CERTS_E_MALFORMED, "malformed-chain", "certificate chain does not parse" },
	{ CERTS_E_NO_CHAIN, "no-certificate", "no certificate was presented" },
	{ CERTS_E_EXPIRED, "expired", "certificate has expired" },
	{ CERTS_E_NOT_YET_VALID, "not-yet-valid", "certificate is not valid yet" },
	{ CERTS_E_UNKNOWN_AUTHORITY, "unknown-authority",
	    "certificate does not chain to a trust anchor in the bundle" },
	{ CERTS_E_BAD_SIGNATURE, "bad-signature", "a signature in the chain does not verify" },
	{ CERTS_E_NO_URI_SAN, "no-uri-san", "leaf has no URI SAN (SPIFFE ID)" },
	{ CERTS_E_TWO_URI_SANS, "two-uri-sans", "leaf has more than one URI SAN" },
	{ CERTS_E_BAD_SPIFFE_ID, "bad-spiffe-id", "leaf's URI SAN is not a valid SPIFFE ID" },
	{ CERTS_E_FOREIGN_TD, "foreign-trust-domain",
	    "SPIFFE ID belongs to another trust domain" },
	{ CERTS_E_LEAF_IS_CA, "leaf-is-ca", "leaf certificate is a CA" },
	{ CERTS_E_LEAF_KEY_USAGE, "leaf-key-usage",
	    "leaf key usage must be digitalSignature without keyCertSign or cRLSign" },
	{ CERTS_E_LEAF_EKU, "leaf-eku", "leaf extended key usage does not allow this TLS role" },
	{ CERTS_E_WEAK_CRYPTO, "weak-crypto", "key or signature algorithm is not allowed" },
	{ CERTS_E_CHAIN_TOO_LONG, "chain-too-long", "certificate chain is too long" },
	{ CERTS_E_BAD_CA, "bad-ca", "an intermediate is not a CA allowed to sign certificates" },
};

static int
certs_err_index(int err)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(certs_errors); i++)
		if (certs_errors[i].code == err)
			return (int)i;
	return -1;
}

const char *
certs_reason(int err)
{
	int i = certs_err_index(err);

	if (err == 0)
		return "ok";
	return i >= 0 ? certs_errors[i].reason : "error";
}

const char *
certs_strerror(int err)
{
	int i;

	if (err == 0)
		return "success";
	if (err < 0 && err > -1000)
		return strerror(-err);
	i = certs_err_index(err);
	return i >= 0 ? certs_errors[i].text : "unknown error";
}
