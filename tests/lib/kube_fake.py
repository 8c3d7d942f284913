#!/usr/bin/env python3
"""A scripted fake Kubernetes API server for tests/integration/kube_faults.sh.

  kube_fake.py --listen HOST:PORT --cert CERT --key KEY --scenario FILE
               --log FILE [--token-file FILE] [--tls12]

Serves TLS 1.3 only (TLS 1.2 only with --tls12) and answers authd's LIST and
WATCH requests for pods, namespaces and allowlists from the scenario, a JSON
file read again on every request (so a suite can switch it while authd
runs). When its content changes, the per-resource answer counters restart.

  {"pods": {"list": [ANSWER...], "watch": [ANSWER...]}, "namespaces": ..., "allowlists": ...}

The Nth LIST (or WATCH) of a resource gets the Nth ANSWER; the last one
repeats. A missing resource lists empty (resourceVersion "1") and its
watches hang. An ANSWER is an object:
  status   HTTP status (default 200); not 200: a Status body (reason, message)
  items    LIST items; a string is shorthand: for pods a running pod
           "shop/NAME" (or "NS/NAME"), for namespaces a namespace labelled
           authd.io/mesh=enabled (a name ending in "-" is not labelled)
  rv       the LIST's resourceVersion (default "100")
  events   WATCH events, each {"type": T, "object": OBJ or shorthand, "rv": RV}
           or a raw string sent as one line as is
  big      a WATCH line of this many bytes (an ADDED event padded), sent in pieces
  cut      a string: a chunk that announces its full length but carries only
           this much, then the connection is reset (RST)
  fin      true with cut: a TLS close_notify and FIN instead of the reset
  hang     seconds a WATCH stays open after its events (default 120), then ends
With --token-file, a request whose Authorization is not "Bearer <the file's
content, stripped>" (read again per request) gets 401.
Every request is logged to the log file as a JSON line: method, path,
resource, watch, rv, auth, status.
"""
import argparse
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
counters = {}
scenario_hash = [None]


def load_scenario(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        data = b"{}"
    h = hashlib.sha256(data).hexdigest()
    with lock:
        if h != scenario_hash[0]:
            scenario_hash[0] = h
            counters.clear()
    return json.loads(data or b"{}")


def next_answer(sc, resource, kind):
    answers = sc.get(resource, {}).get(kind) or []
    with lock:
        n = counters.get((resource, kind), 0)
        counters[(resource, kind)] = n + 1
    if not answers:
        return {}
    return answers[min(n, len(answers) - 1)]


def expand(resource, item, node):
    if not isinstance(item, str):
        return item
    if resource == "pods":
        ns, _, name = item.rpartition("/")
        ns = ns or "shop"
        return {"metadata": {"name": name, "namespace": ns, "uid": "uid-" + ns + "-" + name,
                             "resourceVersion": "100"},
                "spec": {"nodeName": node, "serviceAccountName": "app",
                         "containers": [{"name": "app", "image": "app:1"}]},
                "status": {"phase": "Running", "podIP": "10.1.0.%d" % (sum(map(ord, name)) % 200 + 10)}}
    if resource == "namespaces":
        labels = {} if item.endswith("-") else {"authd.io/mesh": "enabled"}
        name = item.rstrip("-")
        return {"metadata": {"name": name, "uid": "uid-ns-" + name, "resourceVersion": "100",
                             "labels": labels}}
    return {"metadata": {"name": item, "uid": "uid-al-" + item, "resourceVersion": "100",
                         "generation": 1}, "spec": {"rules": []}}


def log_request(path, rec):
    with lock:
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def send_head(conn, status, headers):
    reason = {200: "OK", 201: "Created", 401: "Unauthorized", 410: "Gone",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Status")
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    conn.sendall((head + "\r\n").encode())


def send_whole(conn, status, body):
    b = json.dumps(body).encode()
    send_head(conn, status, [("Content-Type", "application/json"), ("Content-Length", len(b)),
                             ("Connection", "close")])
    conn.sendall(b)


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def chunk(conn, data):
    conn.sendall(b"%x\r\n" % len(data) + data + b"\r\n")


def reset(conn):
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


def serve_watch(conn, resource, ans, node):
    send_head(conn, 200, [("Content-Type", "application/json"),
                          ("Transfer-Encoding", "chunked"), ("Connection", "close")])
    for ev in ans.get("events", []):
        if isinstance(ev, str):
            line = ev.encode()
        else:
            obj = expand(resource, ev.get("object", {}), node)
            if "rv" in ev:
                obj = json.loads(json.dumps(obj))
                obj.setdefault("metadata", {})["resourceVersion"] = ev["rv"]
            line = json.dumps({"type": ev["type"], "object": obj}).encode()
        chunk(conn, line + b"\n")
    if "big" in ans:
        head = b'{"type":"ADDED","object":{"metadata":{"name":"huge","namespace":"shop","uid":"u","x":"'
        left = ans["big"] - len(head)
        chunk(conn, head)
        piece = b"a" * 65536
        while left > 0:
            n = min(left, len(piece))
            chunk(conn, piece[:n])
            left -= n
        chunk(conn, b'"}}}\n')
    if "cut" in ans:
        data = ans["cut"].encode()
        conn.sendall(b"%x\r\n" % (len(data) * 2 + 1) + data)
        time.sleep(0.2)
        if ans.get("fin"):
            try:
                conn.settimeout(2)
                conn = conn.unwrap()
                conn.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
            conn.close()
        else:
            reset(conn)
        return
    deadline = time.time() + ans.get("hang", 120)
    while time.time() < deadline:
        time.sleep(0.2)
    conn.sendall(b"0\r\n\r\n")


def handle(raw, ctx, args):
    try:
        raw.settimeout(10)
        conn = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    try:
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = conn.recv(65536)
            if not d:
                return
            buf += d
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        clen = int(hdrs.get("content-length", "0"))
        while len(body) < clen:
            d = conn.recv(65536)
            if not d:
                break
            body += d
        conn.settimeout(None)
        u = urllib.parse.urlsplit(target)
        q = urllib.parse.parse_qs(u.query)
        resource = {"/api/v1/pods": "pods", "/api/v1/namespaces": "namespaces",
                    "/apis/authd.io/v1/allowlists": "allowlists"}.get(u.path, "other")
        watch = q.get("watch", [""])[0] in ("1", "true")
        fs = q.get("fieldSelector", [""])[0]
        node = fs.split("=", 1)[1] if fs.startswith("spec.nodeName=") else ""
        auth = hdrs.get("authorization", "")
        rec = {"method": method, "path": target, "resource": resource, "watch": watch,
               "rv": q.get("resourceVersion", [""])[0], "auth": auth,
               "connection": hdrs.get("connection", "")}
        want = None
        if args.token_file:
            try:
                with open(args.token_file) as f:
                    want = "Bearer " + f.read().strip()
            except OSError:
                want = "Bearer -"
        if want is not None and auth != want:
            rec["status"] = 401
            log_request(args.log, rec)
            send_whole(conn, 401, status_body(401, "Unauthorized", "Unauthorized"))
            return
        if method == "POST":
            rec["status"] = 201
            log_request(args.log, rec)
            send_whole(conn, 201, {"kind": "Event", "metadata": {"name": "e"}})
            return
        sc = load_scenario(args.scenario)
        ans = next_answer(sc, resource, "watch" if watch else "list")
        status = ans.get("status", 200)
        rec["status"] = status
        log_request(args.log, rec)
        if status != 200:
            send_whole(conn, status, status_body(status, ans.get("reason", "InternalError"),
                                                 ans.get("message", "scripted failure")))
            return
        if watch:
            serve_watch(conn, resource, ans, node)
        else:
            items = [expand(resource, i, node) for i in ans.get("items", [])]
            send_whole(conn, 200, {"kind": "List", "apiVersion": "v1",
                                   "metadata": {"resourceVersion": ans.get("rv", "100")},
                                   "items": items})
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--token-file")
    ap.add_argument("--tls12", action="store_true")
    args = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if args.tls12:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(args.cert, args.key)
    host, _, port = args.listen.rpartition(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(64)
    open(args.log, "a").close()
    print("listening", flush=True)
    while True:
        raw, _ = s.accept()
        threading.Thread(target=handle, args=(raw, ctx, args), daemon=True).start()


if __name__ == "__main__":
    main()
