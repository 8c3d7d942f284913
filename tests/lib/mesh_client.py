#!/usr/bin/python3
"""Helpers for the integration tests (mesh_e2e, lifecycle, faults): a raw mesh client, certificate
fixtures authctl cannot make, and readers for /metrics and the access log.

  mesh_client.py leaf CA_DIR SPIFFE_ID FROM_DAYS TO_DAYS OUT_DIR
      A workload leaf valid from now+FROM_DAYS to now+TO_DAYS, signed by the
      CA's issuer (issuer.crt, issuer.key unsealed), with the X509-SVID
      extensions authctl's leaves carry. Writes OUT_DIR/svid.pem (leaf then
      issuer) and OUT_DIR/svid.key. Used for expired and foreign-trust-domain
      leaves: both chain to the real bundle, so only that one defect is judged.

  mesh_client.py issuer CA_DIR FROM_SECONDS TO_SECONDS
      Sign the CA's issuer again with root.key: same subject, key and
      extensions, valid from now+FROM_SECONDS to now+TO_SECONDS, replacing
      CA_DIR/issuer.crt by a rename. An issuer not yet valid makes every
      signing fail, for the renewal-failure tests.

  mesh_client.py connect ADDR CERT KEY CA TARGET MODE [N]
      Mutual TLS to ADDR (IP:PORT) presenting CERT/KEY (CERT may hold the
      chain), trusting CA for the chain only (SVIDs carry no DNS/IP name).
      Then, by MODE:
        get       CONNECT TARGET; on 200, GET /mesh-client through the tunnel
        big N     CONNECT TARGET with a padding header making the head N bytes
        slow      half a CONNECT head, then wait for the server (at most 15 s)
      Prints "local ADDR" (to find the access log line), then either the
      response head and body, or "closed: WHY" when the server closed
      without a response. Exit 0 whenever the exchange ran; 3 on usage or
      local errors.

  mesh_client.py echo ADDR WORD
      Plaintext to ADDR (an upstream listener in front of an echo app): send
      WORD, read it back. Prints "ok", "closed" (the server closed first) or
      "error WHY" (refused, reset, timed out).

  mesh_client.py stream ADDR STOPFILE
      Plaintext to ADDR (a node's upstream listener, in front of an echo
      app): 1 KiB chunks every 50 ms, each read back and compared, until the
      server closes the connection, STOPFILE exists, or 60 s pass. Prints
      "opened" once the first chunk came back, then at the end
      "closed|stopped|timeout bytes=N mismatches=M". A live tunnel that policy
      revokes ends "closed"; one left alone ends "stopped".

  mesh_client.py metric URL NAME [LABEL=VALUE...]
      Sum of the Prometheus samples NAME{...} whose labels include all the
      given ones (0 when none), from the text format at URL.

  mesh_client.py log FILE KEY=VALUE...
      Exit 0 and print the first access-log line (one JSON object per line)
      whose fields equal all the given values (compared as text; null is
      "null"), else exit 1 and print the last lines for the failure message.
"""
import datetime
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.request


def usage():
    sys.stderr.write(__doc__)
    sys.exit(3)


def make_leaf(ca_dir, spiffe_id, from_days, to_days, out_dir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with open(os.path.join(ca_dir, "issuer.crt"), "rb") as f:
        issuer = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(ca_dir, "issuer.key"), "rb") as f:
        issuer_key = serialization.load_pem_private_key(f.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "authd")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=float(from_days)))
        .not_valid_after(now + datetime.timedelta(days=float(to_days)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    os.makedirs(out_dir, exist_ok=True)
    pem = serialization.Encoding.PEM
    with open(os.path.join(out_dir, "svid.pem"), "wb") as f:
        f.write(cert.public_bytes(pem) + issuer.public_bytes(pem))
    fd = os.open(os.path.join(out_dir, "svid.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))


def resign_issuer(ca_dir, from_s, to_s):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    with open(os.path.join(ca_dir, "issuer.crt"), "rb") as f:
        old = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(ca_dir, "root.crt"), "rb") as f:
        root = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(ca_dir, "root.key"), "rb") as f:
        root_key = serialization.load_pem_private_key(f.read(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(root.subject)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(seconds=float(from_s)))
        .not_valid_after(now + datetime.timedelta(seconds=float(to_s)))
    )
    for ext in old.extensions:
        b = b.add_extension(ext.value, critical=ext.critical)
    cert = b.sign(root_key, hashes.SHA256())
    tmp = os.path.join(ca_dir, "issuer.crt.tmp")
    with open(tmp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, os.path.join(ca_dir, "issuer.crt"))


def read_response(s):
    """The server's bytes until it closes (at most 64 KiB), or why it closed."""
    data = b""
    try:
        while len(data) < 65536:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return data, "no answer within the client's bound"
    except (ssl.SSLError, OSError) as e:
        return data, "%s: %s" % (type(e).__name__, e)
    return data, "EOF"


def mesh_connect(addr, cert, key, ca, target, mode, n):
    host, port = addr.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection((host, int(port)), timeout=15)
    print("local %s:%d" % raw.getsockname()[:2], flush=True)
    try:
        s = ctx.wrap_socket(raw)
    except (ssl.SSLError, OSError) as e:
        print("closed: handshake: %s" % e)
        return
    head = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (target, target)
    try:
        if mode == "get":
            s.sendall((head + "\r\n").encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                s.sendall(b"GET /mesh-client HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
            rest, why = read_response(s)
            data += rest
        elif mode == "big":
            pad = max(0, n - len(head) - len("X-Pad: \r\n\r\n"))
            s.sendall((head + "X-Pad: " + "a" * pad + "\r\n\r\n").encode())
            data, why = read_response(s)
        elif mode == "slow":
            s.sendall(head[: len(head) // 2].encode())
            data, why = read_response(s)
        else:
            usage()
    except (ssl.SSLError, OSError) as e:
        data, why = read_response(s)
        why = "%s: %s" % (type(e).__name__, e)
    if data:
        sys.stdout.write(data.decode("latin-1"))
        if not data.endswith(b"\n"):
            print()
    else:
        print("closed: %s" % why)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def echo(addr, word):
    host, port = addr.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.settimeout(5)
        w = word.encode()
        s.sendall(w)
        got = b""
        while len(got) < len(w):
            d = s.recv(len(w) - len(got))
            if not d:
                break
            got += d
        s.close()
        print("ok" if got == w else "closed")
    except OSError as e:
        print("error", e)


def stream(addr, stop):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.settimeout(10)
    sent = mismatches = i = 0
    end = time.time() + 60
    how = "timeout"
    while time.time() < end:
        if os.path.exists(stop):
            how = "stopped"
            break
        chunk = (b"%08d" % i) * 128
        got = b""
        try:
            s.sendall(chunk)
            while len(got) < len(chunk):
                d = s.recv(len(chunk) - len(got))
                if not d:
                    break
                got += d
        except OSError:
            pass
        if len(got) < len(chunk):
            how = "closed"
            break
        mismatches += got != chunk
        sent += len(chunk)
        if i == 0:
            print("opened", flush=True)
        i += 1
        time.sleep(0.05)
    s.close()
    print("%s bytes=%d mismatches=%d" % (how, sent, mismatches), flush=True)


def metric(url, name, want):
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or m.group(1) != name:
            continue
        labels = dict(LABEL.findall(m.group(3) or ""))
        if all(labels.get(k) == v for k, v in want.items()):
            total += float(m.group(4))
    print(int(total) if total == int(total) else total)


def text(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def find_log(path, want):
    lines = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        print("cannot read %s: %s" % (path, e))
        return 1
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and all(k in obj and text(obj[k]) == v for k, v in want.items()):
            print(line)
            return 0
    print("no line with %s; last lines:\n%s" % (want, "\n".join(lines[-5:])))
    return 1


def pairs(args):
    out = {}
    for a in args:
        if "=" not in a:
            usage()
        k, v = a.split("=", 1)
        out[k] = v
    return out


def main(argv):
    if len(argv) == 7 and argv[1] == "leaf":
        make_leaf(*argv[2:])
    elif len(argv) == 5 and argv[1] == "issuer":
        resign_issuer(argv[2], argv[3], argv[4])
    elif len(argv) in (8, 9) and argv[1] == "connect":
        n = int(argv[8]) if len(argv) == 9 else 0
        mesh_connect(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], n)
    elif len(argv) == 4 and argv[1] == "echo":
        echo(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "stream":
        stream(argv[2], argv[3])
    elif len(argv) >= 4 and argv[1] == "metric":
        metric(argv[2], argv[3], pairs(argv[4:]))
    elif len(argv) >= 4 and argv[1] == "log":
        return find_log(argv[2], pairs(argv[3:]))
    else:
        usage()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
