/*
 * Error codes of the certs library. Every certs_* function that can fail
 * returns 0 or one of these (or a negative errno for file I/O).
 * certs_reason() gives a short stable token for metrics and logs
 * ("expired", "two-uri-sans"); certs_strerror() a sentence for humans.
 */
#ifndef AUTHD_CERTS_ERROR_H
#define AUTHD_CERTS_ERROR_H

enum certs_err {
	CERTS_E_INVAL = -1000,		/* invalid argument */
	CERTS_E_NOMEM = -1001,
	CERTS_E_CRYPTO = -1002,		/* mbedTLS/PSA/libsodium failure */

	/* SPIFFE ID syntax (SPIFFE-ID standard, section 2). */
	CERTS_E_ID_EMPTY = -1010,
	CERTS_E_ID_TOO_LONG = -1011,	/* whole ID over 2048 bytes */
	CERTS_E_ID_SCHEME = -1012,	/* not "spiffe://" */
	CERTS_E_ID_TD_EMPTY = -1013,
	CERTS_E_ID_TD_TOO_LONG = -1014,	/* trust domain over 255 bytes */
	CERTS_E_ID_TD_CHAR = -1015,	/* trust domain character outside [a-z0-9.-_] */
	CERTS_E_ID_PORT = -1016,	/* ':' in the authority */
	CERTS_E_ID_USERINFO = -1017,	/* '@' in the authority */
	CERTS_E_ID_QUERY = -1018,
	CERTS_E_ID_FRAGMENT = -1019,
	CERTS_E_ID_PERCENT = -1020,	/* percent-encoding */
	CERTS_E_ID_SEG_EMPTY = -1021,	/* "//" in the path */
	CERTS_E_ID_SEG_DOT = -1022,	/* "." or ".." segment */
	CERTS_E_ID_TRAILING_SLASH = -1023,
	CERTS_E_ID_PATH_CHAR = -1024,	/* path character outside [A-Za-z0-9.-_] */
	CERTS_E_ID_NO_PATH = -1025,	/* a workload ID needs a path */

	/* CA material and files. */
	CERTS_E_PEM = -1040,		/* not a certificate/key in PEM or DER */
	CERTS_E_KEY = -1041,		/* key unusable or not P-256, or not the cert's */
	CERTS_E_SEAL = -1042,		/* sealed key does not open: wrong seal key or tampered */
	CERTS_E_SEAL_FORMAT = -1043,	/* not a sealed-key file / bad seal key file */
	CERTS_E_TTL = -1044,		/* TTL out of range */
	CERTS_E_CA_EXPIRED = -1045,	/* issuer cannot sign: expired or not yet valid */
	CERTS_E_EXISTS = -1046,		/* CA directory already initialized */
	CERTS_E_NO_CA = -1047,		/* no CA in that directory */
	CERTS_E_NO_ROOT_KEY = -1048,	/* operation needs the (offline) root key */
	CERTS_E_BUNDLE_LAST = -1049,	/* refusing to remove the last anchor */
	CERTS_E_BUNDLE_IN_USE = -1050,	/* anchor signs the current issuer */
	CERTS_E_BUNDLE_DUP = -1051,	/* anchor already in the bundle */
	CERTS_E_BUNDLE_NOT_ANCHOR = -1052, /* not a self-signed CA certificate */
	CERTS_E_NOT_FOUND = -1053,	/* no such anchor */
	CERTS_E_TOO_BIG = -1054,	/* input over its size bound */

	/* Peer chain verification reasons. */
	CERTS_E_MALFORMED = -1070,	/* chain does not parse */
	CERTS_E_NO_CHAIN = -1071,	/* no certificate presented */
	CERTS_E_EXPIRED = -1072,
	CERTS_E_NOT_YET_VALID = -1073,
	CERTS_E_UNKNOWN_AUTHORITY = -1074,
	CERTS_E_BAD_SIGNATURE = -1075,
	CERTS_E_NO_URI_SAN = -1076,
	CERTS_E_TWO_URI_SANS = -1077,
	CERTS_E_BAD_SPIFFE_ID = -1078,	/* the URI SAN is not a valid SPIFFE ID */
	CERTS_E_FOREIGN_TD = -1079,
	CERTS_E_LEAF_IS_CA = -1080,
	CERTS_E_LEAF_KEY_USAGE = -1081,	/* keyCertSign/cRLSign, or no digitalSignature */
	CERTS_E_LEAF_EKU = -1082,	/* extended key usage forbids the role */
	CERTS_E_WEAK_CRYPTO = -1083,	/* key or hash outside the profile */
	CERTS_E_CHAIN_TOO_LONG = -1084,
	CERTS_E_BAD_CA = -1085,		/* an intermediate is not a valid signing CA */
};

/* A short stable token for the code ("expired"); never NULL. */
const char *certs_reason(int err);
/* A sentence describing the code; never NULL. Handles negative errno too. */
const char *certs_strerror(int err);

#endif
