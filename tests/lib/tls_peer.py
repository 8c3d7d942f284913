#!/usr/bin/python3
"""A TLS client of authd's mesh listener that misbehaves on purpose, and reports what the
server answered as a user's TLS stack sees it (tests/integration/tls_alerts.sh).

  tls_peer.py corrupt ADDR CERT KEY CA TARGET WHEN [tls1.2|tls1.3]
      Mutual TLS to ADDR with CERT/KEY (TLS 1.3 unless told), then one record
      whose last ciphertext byte (part of the AEAD tag) is flipped:
        head    the CONNECT head itself is the corrupted record
        tunnel  CONNECT TARGET first; after the 200, a corrupted data record
      Python's ssl runs over memory buffers (ssl.MemoryBIO) so the bytes can
      be changed between it and the socket. Then reads until the server
      closes and decrypts what came.

  tls_peer.py hello ADDR KIND
      A hand-made TLS 1.3 ClientHello offering ECDHE-ECDSA, broken by KIND:
        oversized   a padding extension making the message 20000 bytes
                    (more than a 16384-byte record holds, so in two records)
        bad-share   a secp256r1 key share that is not a point on the curve
        bad-length  a message whose length fields disagree
        no-common   no cipher suite authd accepts (TLS_AES_128_CCM_SHA256 only)

  tls_peer.py cert12 ADDR KIND
      A hand-made TLS 1.2 handshake up to the client's Certificate (sent in
      the clear in TLS 1.2), broken by KIND:
        garbage     one 200-byte "certificate" that is not DER
        truncated   a certificate_list length past the end of the message
        huge-length a certificate whose length field says 65552 bytes

Each prints one line: "alert NAME" (the fatal alert read, by its RFC 8446
name), "eof" (the server closed without an alert), or "data ..." (it
answered), then exits 0; 3 on usage or local errors.
"""
import os
import socket
import ssl
import struct
import sys

TIMEOUT = 10

# RFC 8446 6 and its registry, the names a user's TLS stack prints.
ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
    50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 109: "missing_extension", 110: "unsupported_extension",
    112: "unrecognized_name", 116: "certificate_required", 120: "no_application_protocol",
}


def usage():
    sys.stderr.write(__doc__)
    sys.exit(3)


def dial(addr):
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def read_all(sock):
    """Everything until the server closes (or resets, or goes quiet)."""
    got = b""
    while True:
        try:
            b = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return got
        if not b:
            return got
        got += b


# ---- corrupt: python's ssl over memory buffers --------------------------------

class Bio:
    def __init__(self, sock, ctx):
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False)

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def pull(self):
        b = self.sock.recv(65536)
        if not b:
            self.inc.write_eof()
        else:
            self.inc.write(b)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.pull()

    def read_head(self):
        """Plaintext up to the end of an HTTP head."""
        got = b""
        while b"\r\n\r\n" not in got:
            try:
                got += self.obj.read(65536)
            except ssl.SSLWantReadError:
                self.pull()
        return got


def alert_name(e):
    """'SSLV3_ALERT_BAD_RECORD_MAC' and the like, as the RFC names it."""
    r = (getattr(e, "reason", None) or "").upper()
    for prefix in ("SSLV3_ALERT_", "TLSV13_ALERT_", "TLSV1_ALERT_"):
        if r.startswith(prefix):
            return r[len(prefix):].lower()
    return None


def corrupt(addr, cert, key, ca, target, when, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # SVIDs name workloads by URI SAN only
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    v = ssl.TLSVersion.TLSv1_2 if version == "tls1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = v
    sock = dial(addr)
    b = Bio(sock, ctx)
    b.handshake()
    head = ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode()
    if when == "tunnel":
        b.obj.write(head)
        b.flush()
        answer = b.read_head()
        if not answer.startswith(b"HTTP/1.1 200"):
            print("data " + answer.decode(errors="replace").splitlines()[0])
            return 0
        payload = b"these bytes never reach the app\n"
    else:
        payload = head
    b.obj.write(payload)
    record = bytearray(b.out.read())
    record[-1] ^= 0x01
    sock.sendall(bytes(record))
    b.inc.write(read_all(sock))
    b.inc.write_eof()
    seen = b""
    while True:
        try:
            d = b.obj.read(65536)
        except ssl.SSLWantReadError:
            break
        except ssl.SSLEOFError:
            break
        except ssl.SSLError as e:
            name = alert_name(e)
            print("alert %s" % name if name else "error %s" % e)
            return 0
        if not d:
            break
        seen += d
    print("data %r" % seen[:80] if seen else "eof")
    return 0


# ---- hand-made handshakes --------------------------------------------------------

def u8(n):
    return struct.pack("!B", n)


def u16(n):
    return struct.pack("!H", n)


def u24(n):
    return struct.pack("!I", n)[1:]


def vec16(b):
    return u16(len(b)) + b


def ext(kind, body):
    return u16(kind) + vec16(body)


def handshake(kind, body):
    return u8(kind) + u24(len(body)) + body


def records(content_type, payload, legacy=0x0301):
    out = b""
    for i in range(0, len(payload), 16384):
        chunk = payload[i:i + 16384]
        out += u8(content_type) + u16(legacy) + u16(len(chunk)) + chunk
    return out


def client_hello(suites, extensions):
    body = u16(0x0303) + os.urandom(32) + u8(32) + os.urandom(32)
    body += vec16(b"".join(u16(s) for s in suites)) + b"\x01\x00" + vec16(b"".join(extensions))
    return handshake(1, body)


GROUPS = ext(10, vec16(u16(0x001d) + u16(0x0017)))
SIGALGS = ext(13, vec16(u16(0x0403) + u16(0x0503)))
TLS13 = ext(43, u8(2) + u16(0x0304))


def tls13_hello(kind):
    share = ext(51, vec16(u16(0x001d) + vec16(os.urandom(32))))
    suites = [0x1301, 0x1302, 0x1303]
    extra = []
    if kind == "bad-share":
        # 0x04 || X || Y with X = Y = 0: (0, 0) is not on P-256.
        share = ext(51, vec16(u16(0x0017) + vec16(b"\x04" + bytes(64))))
    elif kind == "no-common":
        suites = [0x1304]
    elif kind == "oversized":
        extra = [ext(21, bytes(20000 - 300))]
    elif kind != "bad-length":
        usage()
    msg = client_hello(suites, [TLS13, GROUPS, SIGALGS, share] + extra)
    if kind == "bad-length":
        # The extensions block claims 4 bytes more than the message holds.
        body = bytearray(msg[4:])
        at = 2 + 32 + 1 + 32 + 2 + 2 * len(suites) + 2
        n = struct.unpack("!H", body[at:at + 2])[0]
        body[at:at + 2] = u16(n + 4)
        msg = handshake(1, bytes(body))
    return records(22, msg)


def read_records(sock, until_type=None):
    """(content type, payload) records until the server closes, or until a
    handshake message of until_type has been read."""
    buf = b""
    out = []
    hs = b""
    while True:
        while len(buf) >= 5:
            n = struct.unpack("!H", buf[3:5])[0]
            if len(buf) < 5 + n:
                break
            out.append((buf[0], buf[5:5 + n]))
            if buf[0] == 22:
                hs += buf[5:5 + n]
            buf = buf[5 + n:]
        if until_type is not None:
            p = 0
            while p + 4 <= len(hs):
                t, n = hs[p], struct.unpack("!I", b"\x00" + hs[p + 1:p + 4])[0]
                if t == until_type:
                    return out
                p += 4 + n
        try:
            b = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return out
        if not b:
            return out
        buf += b


def report(recs):
    for t, payload in recs:
        if t == 21 and len(payload) >= 2:
            print("alert %s" % ALERTS.get(payload[1], str(payload[1])))
            return 0
    print("eof" if not recs else "data %d records" % len(recs))
    return 0


def hello(addr, kind):
    sock = dial(addr)
    sock.sendall(tls13_hello(kind))
    return report(read_records(sock))


def cert12(addr, kind):
    hello12 = client_hello([0xc02b, 0xc02c], [
        GROUPS, SIGALGS, ext(11, u8(1) + u8(0)), ext(0xff01, u8(0)),
    ])
    sock = dial(addr)
    sock.sendall(records(22, hello12))
    flight = read_records(sock, until_type=14)  # ServerHelloDone
    if any(t == 21 for t, _ in flight):
        return report(flight)
    if kind == "garbage":
        der = b"\x30\x81\xc5" + os.urandom(197)
        msg = handshake(11, u24(3 + len(der)) + u24(len(der)) + der)
    elif kind == "truncated":
        der = b"\x30\x81\xc5" + os.urandom(197)
        msg = handshake(11, u24(3 + len(der) + 50) + u24(len(der)) + der)
    elif kind == "huge-length":
        # A certificate claiming 65552 bytes, more than TLS lets a 16-bit
        # length say, in a list whose own length is consistent.
        der = b"\x30\x81\xc5" + os.urandom(197)
        msg = handshake(11, u24(3 + len(der)) + b"\x01\x00\x10" + der)
    else:
        usage()
    sock.sendall(records(22, msg, legacy=0x0303))
    return report(read_records(sock))


def main(argv):
    if len(argv) < 3:
        usage()
    cmd = argv[1]
    try:
        if cmd == "corrupt" and len(argv) in (8, 9):
            return corrupt(*argv[2:8], argv[8] if len(argv) == 9 else "tls1.3")
        if cmd == "hello" and len(argv) == 4:
            return hello(argv[2], argv[3])
        if cmd == "cert12" and len(argv) == 4:
            return cert12(argv[2], argv[3])
    except (OSError, ssl.SSLError) as e:
        print("error %s" % e)
        return 3
    usage()
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
