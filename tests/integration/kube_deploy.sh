#!/usr/bin/env bash
# deploy/: what a cluster operator applies (issue 12).
#
# Static, no cluster:
#   - every deploy/*.yaml passes `yamllint -s` (.yamllint), parses, and each
#     document has apiVersion, kind and metadata.name; kustomization.yaml
#     lists every manifest; no Secret (no key material) is in the repo;
#   - the DaemonSet's security properties: no host namespaces, not
#     privileged, no privilege escalation, every capability dropped (added
#     ones only from NET_ADMIN/SYS_ADMIN), read-only root, seccomp
#     RuntimeDefault, probes on the config's probes port, a grace period
#     longer than the config's drain_timeout, one node at a time,
#     system-node-critical, every taint tolerated, resources set and
#     `workers` equal to the CPU limit, the CA only from a 0400 Secret and
#     never a hostPath, an expiring projected token;
#   - RBAC: exactly get/list/watch on pods, namespaces and allowlists and
#     create/patch on events (core and events.k8s.io), nothing else;
#   - the Dockerfile: the stages, the non-root default user, and runtime
#     packages that provide every library build/authd and build/authctl load.
# Against a real kube-apiserver v1.20 (tests/lib/kube.sh):
#   - `kubectl apply --dry-run=server` of every manifest (CRD first), and of
#     a Pod made from the DaemonSet's template (the Priority admission
#     plugin lets system-node-critical into namespace authd);
#   - `kubectl apply -k deploy/` for real, then the service account's RBAC
#     with `kubectl auth can-i`;
#   - the CRD's schema: every selector and port form is accepted (and what
#     the server stores, authd's parser accepts: `authctl policy apply
#     --dry-run`), each invalid AllowList is refused with 422 naming the
#     field (and authd's parser refuses it too, but for the forms the CRD
#     refuses on purpose); what the schema cannot refuse reaches authd,
#     which refuses it; unknown fields are pruned by the server and refused
#     by kubectl; `kubectl delete -k deploy/` removes the CRD and its objects.
. "$(dirname "$0")/../lib/testlib.sh"
DEPLOY=$ROOT/deploy
PYY=/usr/bin/python3
command -v yamllint >/dev/null || { echo "kube_deploy: yamllint missing (Debian package yamllint)"; exit 1; }
"$PYY" -c 'import yaml' 2>/dev/null || { echo "kube_deploy: python3-yaml missing"; exit 1; }

# ---- Static ------------------------------------------------------------------
check "yamllint -s passes on deploy/" yamllint -s -c "$ROOT/.yamllint" "$DEPLOY"

# $T/manifests.py DEPLOY_DIR: one line per assertion, "ok<TAB>what" or
# "FAIL<TAB>what<TAB>why"; each becomes a pass or a fail of this suite.
cat >"$T/manifests.py" <<'PY'
import glob, math, os, re, sys
import yaml

deploy = sys.argv[1]
out = []
def ok(cond, what, why=""):
    out.append(("ok" if cond else "FAIL", what, why))
    return cond

files = sorted(glob.glob(os.path.join(deploy, "*.yaml")) +
               glob.glob(os.path.join(deploy, "examples", "*.yaml")))
docs = {}     # (kind, name) -> document
manifests = []
for f in files:
    rel = os.path.relpath(f, deploy)
    try:
        with open(f) as fh:
            ds = [d for d in yaml.safe_load_all(fh) if d is not None]
    except yaml.YAMLError as e:
        ok(False, f"{rel} parses", str(e).replace("\n", " "))
        continue
    ok(len(ds) > 0, f"{rel} parses and holds a document")
    for d in ds:
        name = (d.get("metadata") or {}).get("name") if isinstance(d, dict) else None
        good = isinstance(d, dict) and isinstance(d.get("apiVersion"), str) and \
            isinstance(d.get("kind"), str) and isinstance(name, str) and name != ""
        if rel == "kustomization.yaml":
            good = isinstance(d, dict) and d.get("kind") == "Kustomization"
            ok(good, f"{rel} is a Kustomization")
            continue
        ok(good, f"{rel}: {d.get('kind') if isinstance(d, dict) else d} {name} has apiVersion, kind, metadata.name")
        if good and not rel.startswith("examples/"):
            docs[(d["kind"], name)] = d
            manifests.append(rel)
            ok("app.kubernetes.io/name" in (d["metadata"].get("labels") or {}),
               f"{rel}: {d['kind']} {name} has the app.kubernetes.io/name label")

ok(not any(k == "Secret" for k, _ in docs), "no Secret in deploy/ (keys never in the repo)")

kust = yaml.safe_load(open(os.path.join(deploy, "kustomization.yaml")))
listed = set(kust.get("resources") or [])
ok(listed == set(manifests), "kustomization.yaml lists exactly the manifests in deploy/",
   f"listed {sorted(listed)}, present {sorted(set(manifests))}")

ns = docs.get(("Namespace", "authd"))
ok(ns is not None and ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
   "namespace authd enforces Pod Security 'privileged'")

# The config file the DaemonSet runs with.
cm = docs.get(("ConfigMap", "authd-config"))
ok(cm is not None and "authd.yaml" in (cm.get("data") or {}), "ConfigMap authd-config holds authd.yaml")
cfg = yaml.safe_load(cm["data"]["authd.yaml"]) if cm else {}
expect_cfg = {"trust_domain", "state_dir", "ca_dir", "admin", "probes", "log_level", "workers",
              "limits", "kubernetes"}
ok(set(cfg) == expect_cfg, "authd.yaml has the agreed keys", f"{sorted(set(cfg) ^ expect_cfg)}")
kcfg = cfg.get("kubernetes") or {}
ok(set(kcfg) == {"node_name", "server", "ca_file", "token_file", "enroll_label", "allowlists"},
   "authd.yaml's kubernetes block has the agreed keys", f"{sorted(kcfg)}")

def seconds(d):
    d = str(d)
    if d == "0":
        return 0.0
    parts = re.findall(r"(\d+)(ms|d|h|m|s)", d)
    if not parts or "".join(n + u for n, u in parts) != d:
        raise ValueError(f"not a duration: {d}")
    mult = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(int(n) * mult[u] for n, u in parts)

drain = seconds((cfg.get("limits") or {}).get("drain_timeout", "30s"))
probe_port = int(str(cfg.get("probes", "")).rsplit(":", 1)[-1])

ds = docs.get(("DaemonSet", "authd"))
if not ok(ds is not None and ds["metadata"].get("namespace") == "authd", "DaemonSet authd in namespace authd"):
    for o in out: print("\t".join(o))
    sys.exit(0)
pod = ds["spec"]["template"]["spec"]
psc = pod.get("securityContext") or {}
for k in ("hostNetwork", "hostPID", "hostIPC"):
    ok(pod.get(k) in (None, False), f"no {k}")
ctrs = pod.get("containers", []) + pod.get("initContainers", [])
ok(len(pod.get("containers", [])) == 1, "one container")
for c in ctrs:
    n = c["name"]
    sc = c.get("securityContext") or {}
    ok(sc.get("privileged") is False, f"{n}: privileged is false")
    ok(sc.get("allowPrivilegeEscalation") is False, f"{n}: allowPrivilegeEscalation is false")
    ok(sc.get("readOnlyRootFilesystem") is True, f"{n}: readOnlyRootFilesystem")
    caps = sc.get("capabilities") or {}
    ok(caps.get("drop") == ["ALL"], f"{n}: capabilities drop ALL", f"{caps.get('drop')}")
    ok(set(caps.get("add") or []) <= {"NET_ADMIN", "SYS_ADMIN"},
       f"{n}: capabilities added only from NET_ADMIN, SYS_ADMIN", f"{caps.get('add')}")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    ok(seccomp == "RuntimeDefault", f"{n}: seccomp RuntimeDefault", f"{seccomp}")
    res = c.get("resources") or {}
    ok(all(k in (res.get(w) or {}) for w in ("requests", "limits") for k in ("cpu", "memory")),
       f"{n}: cpu and memory requests and limits set", f"{res}")

c = pod["containers"][0]
ok(c.get("command") == ["authd", "--config", "/etc/authd/authd.yaml"],
   "runs authd --config /etc/authd/authd.yaml", f"{c.get('command')}")
env = {e["name"]: e for e in c.get("env", [])}
ok(((env.get("NODE_NAME") or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
   "NODE_NAME from the downward API (spec.nodeName)")

ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
def probe(kind, path):
    p = c.get(kind) or {}
    g = p.get("httpGet") or {}
    port = g.get("port")
    port = ports.get(port, port) if isinstance(port, str) else port
    ok(g.get("path") == path and port == probe_port,
       f"{kind}: GET {path} on the probes port {probe_port}", f"{g}")
    return p
sp = probe("startupProbe", "/healthz")
probe("readinessProbe", "/readyz")
probe("livenessProbe", "/healthz")
ok(sp.get("failureThreshold", 3) * sp.get("periodSeconds", 10) >= 120,
   "the startup probe allows at least 2 minutes")

tgp = pod.get("terminationGracePeriodSeconds", 30)
ok(tgp >= drain + 10, f"terminationGracePeriodSeconds {tgp} >= drain_timeout {drain:g}s + 10 s")
us = ds["spec"].get("updateStrategy") or {}
ok(us.get("type") == "RollingUpdate" and (us.get("rollingUpdate") or {}).get("maxUnavailable") == 1,
   "RollingUpdate with maxUnavailable 1", f"{us}")
ok(pod.get("priorityClassName") == "system-node-critical", "priorityClassName system-node-critical")
tol = pod.get("tolerations") or []
ok({"operator": "Exists"} in tol, "tolerates every taint (operator Exists, no key)")
ok({"key": "CriticalAddonsOnly", "operator": "Exists"} in tol, "tolerates CriticalAddonsOnly")

cpu = str(c["resources"]["limits"]["cpu"])
cores = math.ceil(int(cpu[:-1]) / 1000) if cpu.endswith("m") else math.ceil(float(cpu))
ok(cfg.get("workers") == cores, f"workers ({cfg.get('workers')}) equals the CPU limit ({cpu})")

vols = {v["name"]: v for v in pod.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
def vol_at(path):
    m = mounts.get(path)
    return (vols.get(m["name"]) if m else None), m
hostpaths = {v["hostPath"]["path"] for v in vols.values() if "hostPath" in v}
allowed = {"/var/lib/authd", "/run/authd", "/var/run/netns", "/proc",
           "/opt/cni/bin", "/etc/cni/net.d"}
ok(hostpaths <= allowed, "hostPath volumes only the agreed ones", f"{sorted(hostpaths - allowed)}")
ok(not any("ca" in p.split("/") or "secret" in p or "key" in p for p in hostpaths),
   "no hostPath to CA or key material")
v, m = vol_at(cfg["ca_dir"])
sec = (v or {}).get("secret") or {}
ok(sec.get("secretName") == "authd-ca" and m.get("readOnly") is True,
   f"ca_dir {cfg['ca_dir']} is the Secret authd-ca, read-only")
ok(sec.get("defaultMode", 0o644) & 0o077 == 0, "the CA files are readable by their owner only",
   f"defaultMode {oct(sec.get('defaultMode', 0o644))}")
ok({i["path"] for i in sec.get("items", [])} == {"root.crt", "issuer.crt", "issuer.key", "bundle.pem"},
   "only root.crt, issuer.crt, issuer.key and bundle.pem are mounted (never root.key)")
v, m = vol_at("/etc/authd")
ok(((v or {}).get("configMap") or {}).get("name") == "authd-config", "the ConfigMap is at /etc/authd")
v, m = vol_at(cfg["state_dir"])
ok(((v or {}).get("hostPath") or {}).get("type") == "DirectoryOrCreate",
   f"state_dir {cfg['state_dir']} is a hostPath (DirectoryOrCreate)")
sockdir = os.path.dirname(cfg["admin"][len("unix:"):]) if str(cfg["admin"]).startswith("unix:") else None
v, m = vol_at(sockdir or "")
ok(sockdir is not None and ((v or {}).get("hostPath") or {}).get("type") == "DirectoryOrCreate",
   f"the admin socket's directory {sockdir} is a hostPath (DirectoryOrCreate)")
ok(pod.get("automountServiceAccountToken") is False, "no automounted service-account token")
tokdir = os.path.dirname(kcfg.get("token_file", ""))
v, m = vol_at(tokdir)
srcs = ((v or {}).get("projected") or {}).get("sources", [])
tok = [s["serviceAccountToken"] for s in srcs if "serviceAccountToken" in s]
ok(len(tok) == 1 and os.path.join(tokdir, tok[0]["path"]) == kcfg["token_file"] and
   600 <= tok[0].get("expirationSeconds", 0) <= 3600,
   "a projected token at token_file, expiring within an hour")
cas = [i["path"] for s in srcs if "configMap" in s for i in s["configMap"].get("items", [])]
ok(os.path.join(tokdir, "ca.crt") == kcfg.get("ca_file") and "ca.crt" in cas,
   "the API server's CA at ca_file")
ok(ds["spec"]["template"]["metadata"]["labels"].get(kcfg.get("enroll_label")) == "disabled",
   "authd's own pods opt out of the mesh")
ok(pod.get("serviceAccountName") == "authd", "runs as service account authd")

# RBAC: exactly these (group, resource, verb) triples.
want = {(g, r, v) for g, r, vs in [
    ("", "pods", "get list watch"), ("", "namespaces", "get list watch"),
    ("authd.io", "allowlists", "get list watch"),
    ("", "events", "create patch"), ("events.k8s.io", "events", "create patch")]
    for v in vs.split()}
roles = [d for (k, _), d in docs.items() if k in ("Role", "ClusterRole")]
ok(len(roles) == 1 and roles[0]["kind"] == "ClusterRole", "one ClusterRole, no other role")
got, extra = set(), []
for r in (roles[0].get("rules", []) if roles else []):
    if set(r) - {"apiGroups", "resources", "verbs"}:
        extra.append(sorted(set(r) - {"apiGroups", "resources", "verbs"}))
    got |= {(g, res, v) for g in r.get("apiGroups", []) for res in r.get("resources", [])
            for v in r.get("verbs", [])}
ok(got == want and not extra, "the ClusterRole grants exactly the agreed verbs",
   f"missing {sorted(want - got)}, extra {sorted(got - want)} {extra}")
ok(not any(res == "secrets" or "*" in (g, res, v) for g, res, v in got), "no secrets, no wildcards")
crb = docs.get(("ClusterRoleBinding", "authd"))
ok(crb is not None and crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "authd"}
   and crb["subjects"] == [{"kind": "ServiceAccount", "name": "authd", "namespace": "authd"}],
   "the ClusterRoleBinding binds it to authd/authd only")
ok(("ServiceAccount", "authd") in docs, "ServiceAccount authd exists")

crd = docs.get(("CustomResourceDefinition", "allowlists.authd.io"))
spec = (crd or {}).get("spec", {})
ok(crd is not None and crd["apiVersion"] == "apiextensions.k8s.io/v1" and spec.get("scope") == "Cluster"
   and spec.get("group") == "authd.io" and spec["names"].get("kind") == "AllowList"
   and "al" in spec["names"].get("shortNames", []),
   "CRD allowlists.authd.io: v1 API, cluster-scoped, kind AllowList, short name al")
vs = spec.get("versions", [])
ok(len(vs) == 1 and vs[0]["name"] == "v1" and vs[0]["served"] and vs[0]["storage"]
   and "subresources" not in vs[0], "one version v1, served and stored, no subresources")

for o in out:
    print("\t".join(o))
PY

# run_py DESC CMD...: each line of the Python checker becomes a check.
run_py() {
	local desc=$1 st what why n=0; shift
	if ! "$@" >"$T/.py" 2>"$T/.pyerr"; then
		fail "$desc: the checker failed: $(tail -c 600 "$T/.pyerr")"
		return
	fi
	while IFS=$'\t' read -r st what why; do
		n=$((n + 1))
		if [ "$st" = ok ]; then pass "$what"; else fail "$what${why:+: $why}"; fi
	done <"$T/.py"
	[ "$n" -gt 0 ] || fail "$desc: no assertion ran"
}
run_py "manifests" "$PYY" "$T/manifests.py" "$DEPLOY"

# ---- The Dockerfile ------------------------------------------------------------
DF=$DEPLOY/Dockerfile
check_output "Dockerfile: a debian:12 builder" '^FROM debian:12 AS build$' cat "$DF"
check_output "Dockerfile: the builder installs with mk/deps.sh" '^RUN \["mk/deps.sh"\]' cat "$DF"
check_output "Dockerfile: builds authd and authctl with make" '^RUN \["make", "build/authd", "build/authctl"\]' cat "$DF"
check_output "Dockerfile: a debian:12-slim runtime" '^FROM debian:12-slim$' cat "$DF"
check_output "Dockerfile: the binaries go to /usr/local/bin" '^COPY --from=build /src/build/authd /src/build/authctl /usr/local/bin/$' cat "$DF"
check_output "Dockerfile: the image's default user is 65532" '^USER 65532:65532$' cat "$DF"
check_eq "Dockerfile: the last USER is the non-root one" "$(grep '^USER' "$DF" | tail -n 1)" "USER 65532:65532"
check_output ".dockerignore keeps build/ out of the context" '^build/$' cat "$ROOT/.dockerignore"
# The runtime packages named in the runtime stage must provide every
# library the binaries load (mbedTLS is static): checked against the real
# binaries, with dpkg telling which package ships each library.
runtime_pkgs=$(sed -n '/^FROM debian:12-slim/,$p' "$DF" | grep -Eo '^ +[a-z0-9][a-z0-9.+-]+ *\\?$' | tr -d ' \\' | sort -u)
needed_pkgs() {
	local b l
	for b in "$ROOT/$BUILD/authd" "$ROOT/$BUILD/authctl"; do
		[ -x "$b" ] || { echo "missing $b (make)" >&2; return 1; }
		ldd "$b" | awk '/=>/ {print $3}'
	done | sort -u | while read -r l; do
		dpkg -S "$(readlink -f "$l")" 2>/dev/null | head -n 1 | cut -d: -f1
	done | grep -v '^libc6$' | sort -u
}
libs_covered() {
	local need missing
	need=$(needed_pkgs) || return 1
	[ -n "$need" ] || { echo "no library found" >&2; return 1; }
	missing=$(comm -23 <(echo "$need") <(echo "$runtime_pkgs"))
	[ -z "$missing" ] || { echo "not installed in the runtime stage: $missing"; return 1; }
}
check "Dockerfile: the runtime stage installs every library authd and authctl load" libs_covered
check_output "Dockerfile: CA certificates in the runtime" '^ca-certificates$' echo "$runtime_pkgs"

# ---- A real API server -----------------------------------------------------------
. "$ROOT/tests/lib/kube.sh"
if ! kube_start; then
	fail "kube-apiserver and etcd start (kube.sh; make kube-deps)"
	finish
fi
pass "kube-apiserver v1.20 and etcd started"

# kubectl's kustomize renders the same set of objects.
kubectl kustomize "$DEPLOY" >"$T/kustomized.yaml" 2>"$T/.err"
check_eq "kubectl kustomize deploy/ renders the six files' objects" \
	"$("$PYY" -c 'import sys, yaml; print(sorted(d["kind"] for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "$T/kustomized.yaml")" \
	"['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'CustomResourceDefinition', 'DaemonSet', 'Namespace', 'ServiceAccount']"

# Server-side dry runs: admission and validation as for a real apply, with
# kubectl's own validation against the server's OpenAPI first. The CRD and
# the cluster-scoped objects first; the namespaced ones need the namespace.
for f in crd-allowlist namespace rbac; do
	check "kubectl apply --dry-run=server -f deploy/$f.yaml" kubectl apply --dry-run=server -f "$DEPLOY/$f.yaml"
done
check "the namespace is created" kubectl apply -f "$DEPLOY/namespace.yaml"
for f in serviceaccount configmap daemonset; do
	check "kubectl apply --dry-run=server -f deploy/$f.yaml" kubectl apply --dry-run=server -f "$DEPLOY/$f.yaml"
done
# A pod as the DaemonSet controller would make it (there is none here):
# the pod's own validation and admission, Priority included.
"$PYY" - "$DEPLOY/daemonset.yaml" >"$T/pod.json" <<'PY'
import json, sys, yaml
ds = yaml.safe_load(open(sys.argv[1]))
t = ds["spec"]["template"]
spec = dict(t["spec"], nodeName="node-a")
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "authd-node-a", "namespace": "authd", "labels": t["metadata"]["labels"],
                               "annotations": t["metadata"].get("annotations", {})},
                  "spec": spec}))
PY
check "a Pod from the DaemonSet's template passes a server dry run (system-node-critical admitted in authd)" \
	kubectl apply --dry-run=server -f "$T/pod.json"

check "kubectl apply -k deploy/" kubectl apply -k "$DEPLOY"
check "the CRD becomes Established" kubectl wait --for condition=established --timeout=30s crd/allowlists.authd.io
check_output "the CRD's schema is structural (no NonStructuralSchema condition)" '^NamesAccepted Established$' \
	kubectl get crd allowlists.authd.io -o 'jsonpath={.status.conditions[*].type}'

# What the service account may do, as the API's authorizer says.
SA=system:serviceaccount:authd:authd
for q in "list pods" "watch pods" "get pods" "list namespaces" "watch namespaces" \
	"list allowlists.authd.io" "watch allowlists.authd.io" "create events" "patch events" \
	"create events.events.k8s.io" "patch events.events.k8s.io"; do
	# shellcheck disable=SC2086
	check "authd may $q" kubectl auth can-i $q --all-namespaces --as "$SA"
done
for q in "get secrets" "list secrets" "create pods" "delete pods" "patch pods" "update namespaces" \
	"create allowlists.authd.io" "update allowlists.authd.io" "delete allowlists.authd.io" \
	"list configmaps" "delete events" "create tokenreviews"; do
	# shellcheck disable=SC2086
	check_fails "authd may not $q" kubectl auth can-i $q --all-namespaces --as "$SA"
done

# ---- The AllowList schema --------------------------------------------------------
STORE=$T/store.mdb
ALS=/apis/authd.io/v1/allowlists
n_al=0
# al_json SPEC: an AllowList document with a fresh name and that spec.
al_json() {
	n_al=$((n_al + 1))
	printf '{"apiVersion":"authd.io/v1","kind":"AllowList","metadata":{"name":"al-%d"},"spec":%s}\n' "$n_al" "$1"
}
# as_authd NAME: the stored object, reduced to what authd parses.
as_authd() {
	kube_api GET "$ALS/$1" | jq '{apiVersion, kind, metadata: {name: .metadata.name}, spec}' >"$T/$1.authd.json"
}
parser_takes() { "$AUTHCTL" policy apply --store "$STORE" --dry-run -f "$1"; }
parser_refuses() { check_exit "$1" 2 "$AUTHCTL" policy apply --store "$STORE" --dry-run -f "$2"; }

# accepted DESC SPEC: created (201), and authd's parser takes what was stored.
accepted() {
	local desc=$1 name
	al_json "$2" >"$T/req.json"
	name=al-$n_al
	if kube_api POST "$ALS" "$T/req.json" >/dev/null 2>"$T/.err"; then
		pass "accepted: $desc"
		as_authd "$name" && check "authd's parser takes the stored $desc" parser_takes "$T/$name.authd.json"
	else
		fail "accepted: $desc: HTTP $(cat "$KUBE_DIR/.code"): $(tail -c 400 "$T/.err")"
	fi
}
# refused DESC FIELD SPEC [parser]: 422 naming FIELD; then authd's parser
# refuses the same document too (exit 2), or with "parser", takes it: the
# CRD refuses it on purpose (IDs no cluster issues, non-canonical case).
refused() {
	local desc=$1 field=$2 code
	al_json "$3" >"$T/req.json"
	kube_api POST "$ALS" "$T/req.json" >/dev/null 2>"$T/.err"
	code=$(cat "$KUBE_DIR/.code")
	if [ "$code" = 422 ] && grep -qF -- "$field" "$T/.err"; then
		pass "refused with 422 ($field): $desc"
	else
		fail "refused with 422 ($field): $desc: HTTP $code: $(tail -c 400 "$T/.err")"
	fi
	cp "$T/req.json" "$T/refused-$n_al.json"
	if [ "${4:-}" = parser ]; then
		check "authd's parser would take it (the CRD is stricter here): $desc" parser_takes "$T/refused-$n_al.json"
	else
		parser_refuses "authd's parser refuses it too: $desc" "$T/refused-$n_al.json"
	fi
}

R='"from":"*","to":"spiffe://cluster.local/ns/shop/sa/db"'
rule() { printf '{"rules":[{%s}]}' "$1"; }
# Every selector form, both sides.
accepted "from an exact ID" "$(rule '"from":"spiffe://cluster.local/ns/shop/sa/web","to":"spiffe://cluster.local/ns/shop/sa/db"')"
accepted "from a namespace" "$(rule '"from":"spiffe://cluster.local/ns/shop/*","to":"spiffe://cluster.local/ns/shop/sa/db"')"
accepted "from a trust domain" "$(rule '"from":"spiffe://cluster.local/*","to":"spiffe://cluster.local/ns/shop/sa/db"')"
accepted "from any peer (*)" "$(rule "$R")"
accepted "to a namespace" "$(rule '"from":"*","to":"spiffe://cluster.local/ns/shop/*"')"
accepted "to a trust domain" "$(rule '"from":"*","to":"spiffe://other-td_1.example/*"')"
accepted "a service account with dots (a DNS subdomain)" "$(rule '"from":"spiffe://cluster.local/ns/a-1/sa/build.bot","to":"spiffe://cluster.local/ns/shop/sa/db"')"
accepted "63-byte namespace and 255-byte trust domain" \
	"$(rule "\"from\":\"spiffe://$(printf 'a%.0s' $(seq 255))/ns/$(printf 'b%.0s' $(seq 63))/sa/x\",\"to\":\"spiffe://cluster.local/*\"")"
# Every port form.
accepted "ports: 443" "$(rule "$R"',"ports":443')"
accepted "ports: 65535" "$(rule "$R"',"ports":65535')"
accepted 'ports: "443"' "$(rule "$R"',"ports":"443"')"
accepted 'ports: "8000-8099"' "$(rule "$R"',"ports":"8000-8099"')"
accepted 'ports: "80,443,8000-8099"' "$(rule "$R"',"ports":"80,443,8000-8099"')"
accepted 'ports: " 80 , 443 " (blanks around items)' "$(rule "$R"',"ports":" 80 , 443 "')"
accepted "ports: all" "$(rule "$R"',"ports":"all"')"
accepted 'ports: "*"' "$(rule "$R"',"ports":"*"')"
accepted 'ports: [80, "8000-8099", "443"]' "$(rule "$R"',"ports":[80,"8000-8099","443"]')"
accepted "expires and comment" "$(rule "$R"',"expires":"2099-01-01T00:00:00Z","comment":"orders, ünïcode ok"')"
accepted "a 256-character comment" "$(rule "$R,\"comment\":\"$(printf 'c%.0s' $(seq 256))\"")"
accepted "audit destinations" '{"audit":["spiffe://cluster.local/ns/batch/*","spiffe://cluster.local/ns/a/sa/b","spiffe://td/*"]}'
accepted "an empty spec (allows nothing)" '{}'

# The brief's list, then more of what the parser refuses.
refused 'to: "*"' spec.rules.to "$(rule '"from":"*","to":"*"')"
refused "a bad trust domain (bad!td)" spec.rules.from "$(rule '"from":"spiffe://bad!td/*","to":"spiffe://cluster.local/*"')"
refused "port 0" spec.rules.ports "$(rule "$R"',"ports":0')"
refused "port 70000" spec.rules.ports "$(rule "$R"',"ports":70000')"
refused 'ports: "80-"' spec.rules.ports "$(rule "$R"',"ports":"80-"')"
refused "a 300-character comment" spec.rules.comment "$(rule "$R,\"comment\":\"$(printf 'c%.0s' $(seq 300))\"")"
refused "a rule without to" spec.rules.to "$(rule '"from":"*"')"
refused "spiffe://td/ns/* (not a selector form)" spec.rules.from "$(rule '"from":"spiffe://td/ns/*","to":"spiffe://td/*"')"
refused "a rule without from" spec.rules.from "$(rule '"to":"spiffe://td/*"')"
refused "spiffe://td/ns/a/sa/* (a service-account wildcard)" spec.rules.to "$(rule '"from":"*","to":"spiffe://td/ns/a/sa/*"')"
refused "an empty trust domain" spec.rules.to "$(rule '"from":"*","to":"spiffe:///*"')"
refused "a trust domain of 256 bytes" spec.rules.to "$(rule "\"from\":\"*\",\"to\":\"spiffe://$(printf 'a%.0s' $(seq 256))/*\"")"
refused "a trailing slash" spec.rules.to "$(rule '"from":"*","to":"spiffe://td/ns/a/sa/b/"')"
refused "a port in the authority" spec.rules.to "$(rule '"from":"*","to":"spiffe://td:443/*"')"
refused "an audit destination *" spec.audit "$(printf '{"audit":["*"]}')"
refused "ports: 443.5" spec.rules.ports "$(rule "$R"',"ports":443.5')"
refused 'ports: "010" (a leading zero)' spec.rules.ports "$(rule "$R"',"ports":"010"')"
refused 'ports: "80,,443"' spec.rules.ports "$(rule "$R"',"ports":"80,,443"')"
refused 'ports: "all,80"' spec.rules.ports "$(rule "$R"',"ports":"all,80"')"
refused "ports: [] (allows no port)" spec.rules.ports "$(rule "$R"',"ports":[]')"
refused 'ports: ["80,443"] (one port or range per item)' spec.rules.ports "$(rule "$R"',"ports":["80,443"]')"
refused 'ports: ["all"]' spec.rules.ports "$(rule "$R"',"ports":["all"]')"
refused "ports: [0]" spec.rules.ports "$(rule "$R"',"ports":[0]')"
refused "ports: true" spec.rules.ports "$(rule "$R"',"ports":true')"
refused "ports: {} (a mapping)" spec.rules.ports "$(rule "$R"',"ports":{}')"
refused 'ports: {"a": 1}' spec.rules.ports "$(rule "$R"',"ports":{"a":1}')"
refused "ports: [[80]]" spec.rules.ports "$(rule "$R"',"ports":[[80]]')"
refused "expires with fractional seconds" spec.rules.expires "$(rule "$R"',"expires":"2099-01-01T00:00:00.5Z"')"
refused "expires with an offset" spec.rules.expires "$(rule "$R"',"expires":"2099-01-01T00:00:00+01:00"')"
refused "expires on 30 February" spec.rules.expires "$(rule "$R"',"expires":"2099-02-30T00:00:00Z"')"
refused "expires at the epoch (0 means never)" spec.rules.expires "$(rule "$R"',"expires":"1970-01-01T00:00:00Z"')"
refused "expires before 1970" spec.rules.expires "$(rule "$R"',"expires":"1969-12-31T23:59:59Z"')"
refused "a comment with a control character" spec.rules.comment "$(rule "$R"',"comment":"a\u0007b"')"
refused "a comment with a C1 control character" spec.rules.comment "$(rule "$R"',"comment":"a\u0085b"')"
refused "a rule that is not a mapping" spec.rules "$(printf '{"rules":["x"]}')"
# No spec at all (al_json always writes one).
printf '{"apiVersion":"authd.io/v1","kind":"AllowList","metadata":{"name":"no-spec"}}\n' >"$T/nospec.json"
kube_api POST "$ALS" "$T/nospec.json" >/dev/null 2>"$T/.err"
check_eq "refused with 422: an AllowList without spec" "$(cat "$KUBE_DIR/.code")" 422
parser_refuses "authd's parser refuses it too: an AllowList without spec" "$T/nospec.json"
# Stricter than the file parser, on purpose.
refused "an ID with another path (no cluster issues it)" spec.rules.to "$(rule '"from":"*","to":"spiffe://td/db"')" parser
refused "an upper-case trust domain (write the canonical form)" spec.rules.to "$(rule '"from":"*","to":"spiffe://TD/*"')" parser

# What OpenAPI cannot refuse reaches authd, which refuses it.
kept_for_authd() {
	local desc=$1 name
	al_json "$2" >"$T/req.json"
	name=al-$n_al
	if kube_api POST "$ALS" "$T/req.json" >/dev/null 2>"$T/.err"; then
		pass "stored by the API: $desc"
		as_authd "$name" && parser_refuses "authd's parser refuses the stored $desc" "$T/$name.authd.json"
	else
		fail "stored by the API: $desc: HTTP $(cat "$KUBE_DIR/.code"): $(tail -c 300 "$T/.err")"
	fi
}
kept_for_authd "ports: null (kept, not pruned into all ports)" "$(rule "$R"',"ports":null')"
check_output "the null ports are stored as null" '"ports":null' jq -c '.spec.rules[0]' "$T/al-$n_al.authd.json"
kept_for_authd "expires: null (kept, not pruned into never)" "$(rule "$R"',"expires":null')"
kept_for_authd 'ports: "90-80" (LO > HI)' "$(rule "$R"',"ports":"90-80"')"
kept_for_authd "33 separate port ranges" "$(rule "$R,\"ports\":\"$(seq -s, 1 2 65)\"")"
kept_for_authd "a comment of 256 characters but 512 bytes" "$(rule "$R,\"comment\":\"$(printf 'é%.0s' $(seq 256))\"")"

# Unknown fields: the server prunes them; kubectl's validation refuses them.
al_json "{\"rules\":[{$R,\"porst\":443}],\"extra\":1}" >"$T/req.json"
name=al-$n_al
check "the raw API accepts a rule with an unknown field" kube_api POST "$ALS" "$T/req.json"
as_authd "$name"
check_eq "the server prunes unknown fields (a misspelt ports: the stored rule covers all ports)" "$(jq -c .spec "$T/$name.authd.json")" \
	'{"rules":[{"from":"*","to":"spiffe://cluster.local/ns/shop/sa/db"}]}'
cat >"$T/typo.yaml" <<YAML
apiVersion: authd.io/v1
kind: AllowList
metadata:
  name: typo
spec:
  rules:
    - from: "*"
      to: spiffe://cluster.local/ns/shop/sa/db
      porst: 443
YAML
check_output "kubectl apply refuses the unknown field" 'unknown field "porst"' kubectl apply -f "$T/typo.yaml"

# The way an operator writes one: YAML through kubectl, an unquoted time.
cat >"$T/yaml.yaml" <<YAML
apiVersion: authd.io/v1
kind: AllowList
metadata:
  name: from-yaml
spec:
  rules:
    - from: spiffe://cluster.local/ns/shop/sa/web
      to: spiffe://cluster.local/ns/shop/sa/db
      ports: [5432, "8000-8099"]
      expires: 2099-01-01T00:00:00Z
YAML
check "kubectl apply of a YAML AllowList" kubectl apply -f "$T/yaml.yaml"
check_eq "an unquoted YAML time is stored as written" \
	"$(kube_api GET "$ALS/from-yaml" | jq -r '.spec.rules[0].expires')" "2099-01-01T00:00:00Z"
check "kubectl apply -f deploy/examples/allowlist.yaml" kubectl apply -f "$DEPLOY/examples/allowlist.yaml"
as_authd shop
check "authd's parser takes the stored example" parser_takes "$T/shop.authd.json"
check_output "kubectl get al lists them with their age" '^shop +[0-9]+[smh]' kubectl get al shop --no-headers

# ---- Uninstall -------------------------------------------------------------------
check "kubectl delete -k deploy/" kubectl delete -k "$DEPLOY" --wait=false
crd_gone() { ! kubectl get crd allowlists.authd.io >/dev/null 2>&1; }
check "the CRD and its AllowLists are removed" wait_for "the CRD to go" crd_gone
check_fails "no AllowList is left" kube_api GET "$ALS/shop"
finish
