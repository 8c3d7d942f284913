#!/usr/bin/python3
"""Independent check of an X509-SVID chain against the SPIFFE X509-SVID
standard and authd's issuance profile.

    check_svid.py --chain svid.pem --bundle bundle.pem --id spiffe://TD/PATH [--ttl SECONDS]

The chain is the leaf followed by its issuer (what authd hands a workload).
Prints "ok WHAT" or "FAIL WHAT: DETAIL" per check and a summary line; exits
0 when every check passes, 1 when any fails, 2 on a usage or parse error.

Written against Debian 12's /usr/bin/python3 and python3-cryptography 38,
deliberately not sharing code or libraries (mbedTLS) with authd, so it
catches mistakes the C verifier would agree with. cryptography 38 has no
load_pem_x509_certificates() and no *_utc validity properties: PEM blocks
are split by hand and validity comes from the naive-UTC properties (the
*_utc ones when a newer cryptography has them).
"""

import argparse
import calendar
import re
import sys
import time

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID
except ImportError as e:  # e.g. run with a python that lacks the Debian package
    print(f"check_svid: cannot import cryptography ({e}); run with /usr/bin/python3", file=sys.stderr)
    sys.exit(2)

BACKDATE = 60  # authd back-dates notBefore by this much (certs/ca.h CERTS_BACKDATE)
MAX_BACKDATE = 600  # a just-issued SVID's notBefore is no older than this
TTL_SLACK = 2  # seconds of tolerance on the lifetime

PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.S)
# SPIFFE-ID standard, section 2: lower-case trust domain of [a-z0-9._-], path
# segments of [A-Za-z0-9._-], no empty/"."/".." segment, no trailing slash,
# no query, fragment, port, userinfo or percent-encoding.
TD_RE = re.compile(r"[a-z0-9._-]+")
SEG_RE = re.compile(r"[A-Za-z0-9._-]+")


class ParseError(Exception):
    pass


def load_certs(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ParseError(f"{path}: {e.strerror}")
    blocks = PEM_RE.findall(data)
    if not blocks:
        raise ParseError(f"{path}: no PEM certificate")
    certs = []
    for i, b in enumerate(blocks):
        try:
            c = x509.load_pem_x509_certificate(b)
            # Extensions are parsed lazily; force it so a malformed extension
            # is a parse error here rather than an exception in some check.
            c.extensions
        except Exception as e:
            raise ParseError(f"{path}: certificate {i}: {e}")
        certs.append(c)
    return certs


def epoch(dt):
    """Seconds since the epoch of a UTC datetime (naive or aware)."""
    return calendar.timegm(dt.utctimetuple())


def not_before(cert):
    """cryptography 38 only has the naive-UTC not_valid_before; newer
    releases deprecate it for not_valid_before_utc."""
    return epoch(getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before)


def not_after(cert):
    return epoch(getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after)


def utc(t):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def ext(cert, cls):
    """The extension of type cls, or None."""
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def uri_sans(cert):
    san = ext(cert, x509.SubjectAlternativeName)
    return [] if san is None else san.value.get_values_for_type(x509.UniformResourceIdentifier)


def spiffe_id_error(s, need_path):
    """None when s is a valid SPIFFE ID, else why not."""
    if len(s.encode()) > 2048:
        return "longer than 2048 bytes"
    if not s.startswith("spiffe://"):
        return "scheme is not spiffe://"
    rest = s[len("spiffe://"):]
    td, slash, path = rest.partition("/")
    if not td:
        return "empty trust domain"
    if len(td) > 255:
        return "trust domain longer than 255 bytes"
    if not TD_RE.fullmatch(td):
        return f"trust domain {td!r} has a character outside [a-z0-9._-]"
    if not slash:
        return "no path" if need_path else None
    if path == "":
        return "trailing slash"
    for seg in path.split("/"):
        if seg == "":
            return "empty path segment"
        if seg in (".", ".."):
            return "'.' or '..' path segment"
        if not SEG_RE.fullmatch(seg):
            return f"path segment {seg!r} has a character outside [A-Za-z0-9._-]"
    return None if need_path else "has a path"


def trust_domain(spiffe_id):
    return spiffe_id[len("spiffe://"):].split("/", 1)[0]


def signed_by(cert, signer):
    """None when signer's key verifies cert's signature, else why not."""
    key = signer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return f"signer key is {type(key).__name__}, not EC"
    if cert.signature_hash_algorithm is None:
        return "no signature hash algorithm"
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    except InvalidSignature:
        return "signature does not verify"
    return None


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        """Record one check; ok is a bool, detail explains a failure."""
        if ok:
            self.passed += 1
            print(f"ok {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}: {detail}")
        return ok


def check_ca_cert(c, cert, who):
    """basicConstraints cA=true critical, keyUsage keyCertSign critical."""
    bc = ext(cert, x509.BasicConstraints)
    c.check(f"{who} basicConstraints cA=true, critical",
            bc is not None and bc.critical and bc.value.ca,
            "missing" if bc is None else f"critical={bc.critical} ca={bc.value.ca}")
    ku = ext(cert, x509.KeyUsage)
    c.check(f"{who} keyUsage keyCertSign, critical",
            ku is not None and ku.critical and ku.value.key_cert_sign,
            "missing" if ku is None else f"critical={ku.critical} keyCertSign={ku.value.key_cert_sign}")


def check_leaf(c, leaf, issuer, want_id, ttl, now):
    # SPIFFE ID: exactly one URI SAN, equal to --id, a valid workload ID.
    uris = uri_sans(leaf)
    c.check("leaf has exactly one URI SAN", len(uris) == 1, f"{len(uris)} URI SANs: {uris}")
    if uris:
        c.check("leaf URI SAN starts with spiffe://", all(u.startswith("spiffe://") for u in uris), f"{uris}")
        c.check(f"leaf URI SAN is {want_id}", uris == [want_id], f"{uris}")
        err = spiffe_id_error(uris[0], need_path=True)
        c.check("leaf URI SAN is a valid SPIFFE workload ID", err is None, f"{uris[0]!r}: {err}")

    bc = ext(leaf, x509.BasicConstraints)
    c.check("leaf basicConstraints cA=false, critical",
            bc is not None and bc.critical and not bc.value.ca,
            "missing" if bc is None else f"critical={bc.critical} ca={bc.value.ca}")

    ku = ext(leaf, x509.KeyUsage)
    if c.check("leaf keyUsage present, critical", ku is not None and ku.critical,
               "missing" if ku is None else "not critical"):
        k = ku.value
        c.check("leaf keyUsage digitalSignature", k.digital_signature, "not set")
        c.check("leaf keyUsage no keyCertSign", not k.key_cert_sign, "set")
        c.check("leaf keyUsage no cRLSign", not k.crl_sign, "set")

    eku = ext(leaf, x509.ExtendedKeyUsage)
    usages = [] if eku is None else list(eku.value)
    names = [u._name for u in usages]
    c.check("leaf extendedKeyUsage serverAuth and clientAuth",
            ExtendedKeyUsageOID.SERVER_AUTH in usages and ExtendedKeyUsageOID.CLIENT_AUTH in usages,
            "missing" if eku is None else f"{names}")

    ski = ext(leaf, x509.SubjectKeyIdentifier)
    c.check("leaf subjectKeyIdentifier present", ski is not None, "missing")
    aki = ext(leaf, x509.AuthorityKeyIdentifier)
    issuer_ski = ext(issuer, x509.SubjectKeyIdentifier) if issuer is not None else None
    if c.check("leaf authorityKeyIdentifier present with a keyIdentifier",
               aki is not None and aki.value.key_identifier is not None, "missing"):
        if issuer is not None:
            c.check("leaf authorityKeyIdentifier equals the issuer's subjectKeyIdentifier",
                    issuer_ski is not None and aki.value.key_identifier == issuer_ski.value.digest,
                    "issuer has no SKI" if issuer_ski is None else
                    f"{aki.value.key_identifier.hex()} != {issuer_ski.value.digest.hex()}")

    # Serial: RFC 5280 wants a positive integer of at most 20 octets; the
    # CA/Browser Forum (and our profile) want at least 64 bits of CSPRNG
    # output in it. Entropy cannot be measured from one value, and a
    # "serial > 2**63" test would be wrong: a random serial legitimately has
    # leading zero bits (a uniformly random 64-bit value is below 2**63 half
    # the time). What we can reject is a short, counter-like serial: the DER
    # INTEGER content must be at least 8 octets. A positive n takes
    # bit_length()//8 + 1 octets (DER adds a sign bit), so that is
    # bit_length() >= 56. authd draws more than 64 random bits, so a false
    # failure has negligible odds; a CA drawing exactly 64 bits would fail
    # this 1 time in 256.
    serial = leaf.serial_number
    der_len = serial.bit_length() // 8 + 1 if serial > 0 else 0
    c.check("leaf serial is positive", serial > 0, f"{serial}")
    c.check("leaf serial is at least 8 DER octets (not counter-like)", der_len >= 8,
            f"{der_len} octets: {serial:#x}")
    c.check("leaf serial is at most 20 DER octets (RFC 5280)", der_len <= 20, f"{der_len} octets")

    c.check("leaf signature algorithm is ecdsa-with-SHA256",
            leaf.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256,
            f"{leaf.signature_algorithm_oid._name} ({leaf.signature_algorithm_oid.dotted_string})")
    key = leaf.public_key()
    c.check("leaf public key is EC secp256r1",
            isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1",
            f"{type(key).__name__} {getattr(getattr(key, 'curve', None), 'name', '')}")

    nb, na = not_before(leaf), not_after(leaf)
    c.check("leaf notBefore <= now", nb <= now, f"notBefore is {nb - now} s in the future")
    c.check(f"leaf notBefore >= now - {MAX_BACKDATE} s (back-dated, not stale)", nb >= now - MAX_BACKDATE,
            f"notBefore is {now - nb} s ago")
    c.check("leaf notAfter > now", na > now, f"expired {now - na} s ago")
    if issuer is not None:
        ina = not_after(issuer)
        c.check("leaf notAfter <= issuer notAfter", na <= ina, f"{na - ina} s past the issuer")
    if ttl is not None:
        life = na - nb
        want = ttl + BACKDATE
        clamped = issuer is not None and na == not_after(issuer)
        if clamped:
            c.check(f"leaf lifetime <= ttl + {BACKDATE} s (clamped to the issuer)", life <= want + TTL_SLACK,
                    f"{life} s, want <= {want}")
        else:
            c.check(f"leaf lifetime is ttl + {BACKDATE} s (±{TTL_SLACK})", abs(life - want) <= TTL_SLACK,
                    f"{life} s, want {want}")


def check_issuer(c, leaf, issuer, roots, td, now):
    check_ca_cert(c, issuer, "issuer")
    uris = uri_sans(issuer)
    c.check(f"issuer URI SANs are spiffe://{td} only", all(u == f"spiffe://{td}" for u in uris), f"{uris}")
    c.check("issuer is valid now",
            not_before(issuer) <= now < not_after(issuer),
            f"{utc(not_before(issuer))} .. {utc(not_after(issuer))}")
    err = signed_by(leaf, issuer)
    c.check("leaf signature verifies with the issuer's key", err is None, err)
    # The issuer must chain to one of the bundle's roots: same name and a
    # signature that verifies with that root's key.
    errs = []
    for r in roots:
        if r.subject != issuer.issuer:
            errs.append(f"{r.subject.rfc4514_string()}: name differs")
            continue
        e = signed_by(issuer, r)
        if e is None:
            errs = None
            break
        errs.append(f"{r.subject.rfc4514_string()}: {e}")
    c.check("issuer is signed by a root in the bundle", errs is None,
            f"issuer's issuer {issuer.issuer.rfc4514_string()}; " + "; ".join(errs or []))


def check_roots(c, roots):
    for i, r in enumerate(roots):
        who = f"bundle root {i} ({r.subject.rfc4514_string()})"
        err = signed_by(r, r) if r.subject == r.issuer else "subject != issuer"
        c.check(f"{who} is self-signed", err is None, err)
        check_ca_cert(c, r, who)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chain", required=True, help="PEM: leaf then issuer")
    ap.add_argument("--bundle", required=True, help="PEM trust anchors")
    ap.add_argument("--id", required=True, help="the expected SPIFFE ID")
    ap.add_argument("--ttl", type=int, help="the requested lifetime in seconds")
    a = ap.parse_args()  # exits 2 on a usage error
    if spiffe_id_error(a.id, need_path=True) is not None:
        ap.error(f"--id {a.id!r}: {spiffe_id_error(a.id, need_path=True)}")
    try:
        chain = load_certs(a.chain)
        roots = load_certs(a.bundle)
    except ParseError as e:
        print(f"check_svid: {e}", file=sys.stderr)
        return 2

    now = int(time.time())
    c = Checker()
    td = trust_domain(a.id)
    c.check("chain is leaf + issuer", len(chain) == 2, f"{len(chain)} certificates")
    leaf = chain[0]
    issuer = chain[1] if len(chain) > 1 else None
    check_leaf(c, leaf, issuer, a.id, a.ttl, now)
    if issuer is not None:
        check_issuer(c, leaf, issuer, roots, td, now)
    check_roots(c, roots)

    print(f"check_svid: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
