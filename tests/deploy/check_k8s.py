#!/usr/bin/env python3
"""Offline structural validation of deploy/k8s (no cluster, no kubectl).

Loads kustomization.yaml and every resource it lists (plus the Secrets
template) and checks what a cluster would reject or what would break at
run time:
  - every document: a known kind with its apiVersion, metadata.name, and
    nothing else (the kustomization sets the namespace);
  - workloads: selector matches the pod template's labels; every container
    has an image, CPU and memory requests, a memory limit, liveness and
    readiness probes on ports it declares;
  - Services select some workload's pods and target ports those pods
    declare; ServiceMonitors select a Service and scrape a port it has;
  - every Secret a workload references (env, volumes) is in
    secrets.template.yaml with the keys used; every file a flag points at
    under a mounted Secret is one of that Secret's keys;
  - the coordinator: several replicas; its --listen/--metrics-listen ports
    are its container ports; the Service's ports are those;
  - the worker DaemonSet: requests nvidia.com/gpu, runs on GPU nodes
    (nodeSelector) and tolerates their taint, and its
    terminationGracePeriodSeconds exceeds --drain-grace + --kill-grace +
    --drain-report-timeout; its --coordinator is the coordinator Service;
  - PostgreSQL: a StatefulSet with a volumeClaimTemplate behind a Service;
  - every flag in the containers' args is one the binary's --help lists
    (ladder-coordinator and ladder-worker from BIN_DIR).
Usage: check_k8s.py SOURCE_DIR BIN_DIR
"""
import re
import subprocess
import sys
from pathlib import Path

import yaml

SRC = Path(sys.argv[1])
BIN = Path(sys.argv[2])
K8S = SRC / "deploy/k8s"
failures = []


def fail(msg):
    failures.append(msg)


API = {
    "Namespace": "v1", "Service": "v1", "Secret": "v1", "ConfigMap": "v1", "ServiceAccount": "v1",
    "Deployment": "apps/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
    "PodMonitor": "monitoring.coreos.com/v1", "PrometheusRule": "monitoring.coreos.com/v1",
}
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet"}

kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
if kustomization.get("kind") != "Kustomization":
    fail("kustomization.yaml: kind Kustomization")
namespace = kustomization.get("namespace")
if namespace != "ladder":
    fail("kustomization.yaml: namespace ladder")
docs = []
for res in kustomization.get("resources", []):
    path = K8S / res
    if not path.exists():
        fail(f"kustomization.yaml lists {res}, which does not exist")
        continue
    for d in yaml.safe_load_all(path.read_text()):
        if d:
            docs.append((res, d))
listed = set(kustomization.get("resources", []))
for f in K8S.glob("*.yaml"):
    if f.name not in listed and f.name not in ("kustomization.yaml", "secrets.template.yaml"):
        fail(f"{f.name} is not in kustomization.yaml")
image_names = {i["name"] for i in kustomization.get("images", [])}

secrets = {}
for d in yaml.safe_load_all((K8S / "secrets.template.yaml").read_text()):
    if not d:
        continue
    if d.get("kind") != "Secret":
        fail(f"secrets.template.yaml: {d.get('kind')} is not a Secret")
        continue
    keys = set((d.get("stringData") or {}).keys()) | set((d.get("data") or {}).keys())
    secrets[d["metadata"]["name"]] = keys
    if d["metadata"].get("namespace") != "ladder":
        fail(f"secret {d['metadata']['name']}: namespace ladder")
    for k, v in (d.get("stringData") or {}).items():
        if "REPLACE" not in str(v):
            fail(f"secret {d['metadata']['name']}.{k}: a template holds placeholders only, not {v!r}")
if any(d.get("kind") == "Secret" for _, d in docs):
    fail("Secrets must not be in kustomization.yaml (apply would overwrite the real ones)")

by_kind = {}
for src, d in docs:
    kind = d.get("kind")
    name = d.get("metadata", {}).get("name")
    where = f"{src}: {kind}/{name}"
    if kind not in API:
        fail(f"{where}: unexpected kind")
    elif d.get("apiVersion") != API[kind]:
        fail(f"{where}: apiVersion {d.get('apiVersion')}, want {API[kind]}")
    if not name or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
        fail(f"{where}: bad metadata.name")
    if kind != "Namespace" and d["metadata"].get("namespace") not in (None, namespace):
        fail(f"{where}: namespace set against the kustomization's")
    by_kind.setdefault(kind, []).append(d)


def flag_values(args):
    out = {}
    for a in args:
        m = re.fullmatch(r"(--[a-z0-9-]+)(?:=(.*))?", a)
        if not m:
            fail(f"argument {a!r}: write flags as --flag=value")
            continue
        out[m.group(1)] = m.group(2)
    return out


def duration_s(text):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m|h)?", text or "")
    if not m:
        return None
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def help_flags(binary):
    path = BIN / binary
    out = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        fail(f"{path} --help exited {out.returncode}")
    return set(re.findall(r"(--[a-z0-9-]+)", out.stdout))


HELP = {"ladder-coordinator": help_flags("ladder-coordinator"), "ladder-worker": help_flags("ladder-worker")}


def pod_labels(w):
    return w["spec"]["template"]["metadata"].get("labels", {})


def matches(selector, labels):
    return selector and all(labels.get(k) == v for k, v in selector.items())


workload_ports = {}  # workload name -> {port name or number}
for kind in WORKLOADS:
    for w in by_kind.get(kind, []):
        name = w["metadata"]["name"]
        spec = w["spec"]
        sel = spec.get("selector", {}).get("matchLabels", {})
        if not matches(sel, pod_labels(w)):
            fail(f"{kind}/{name}: selector {sel} does not match the pod labels {pod_labels(w)}")
        pod = spec["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for claim in spec.get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"persistentVolumeClaim": claim}
        ports = set()
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            init = c in pod.get("initContainers", [])
            cname = f"{kind}/{name}/{c.get('name')}"
            if not c.get("image"):
                fail(f"{cname}: no image")
            elif "/" not in c["image"] and ":" not in c["image"] and c["image"] not in image_names:
                fail(f"{cname}: image {c['image']} is neither pinned nor set in kustomization images")
            res = c.get("resources", {})
            for r in ("cpu", "memory"):
                if r not in res.get("requests", {}):
                    fail(f"{cname}: no {r} request")
            if "memory" not in res.get("limits", {}):
                fail(f"{cname}: no memory limit")
            cports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            ports |= cports
            if not init:
                for probe in ("livenessProbe", "readinessProbe"):
                    pr = c.get(probe)
                    if not pr:
                        fail(f"{cname}: no {probe}")
                        continue
                    port = (pr.get("httpGet") or pr.get("tcpSocket") or pr.get("grpc") or {}).get("port")
                    if port is not None and port not in cports:
                        fail(f"{cname}: {probe} port {port} is not a container port")
            # Secrets referenced.
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    if ref["name"] not in secrets:
                        fail(f"{cname}: env {e['name']} uses secret {ref['name']}, not in secrets.template.yaml")
                    elif ref["key"] not in secrets[ref["name"]]:
                        fail(f"{cname}: secret {ref['name']} has no key {ref['key']}")
            mounts = {}
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    fail(f"{cname}: mounts undefined volume {m['name']}")
                    continue
                mounts[m["mountPath"]] = volumes[m["name"]]
            # Files under a mounted Secret that flags point at are keys of it.
            for a in c.get("args", []) + c.get("command", []):
                value = a.split("=", 1)[-1]
                for path, vol in mounts.items():
                    if "secret" in vol and value.startswith(path + "/"):
                        key = value[len(path) + 1:]
                        sname = vol["secret"]["secretName"]
                        if sname not in secrets:
                            fail(f"{cname}: volume uses secret {sname}, not in secrets.template.yaml")
                        elif key not in secrets[sname]:
                            fail(f"{cname}: {a} needs key {key} in secret {sname} (has {sorted(secrets[sname])})")
            binary = {"ladder-coordinator": "ladder-coordinator", "ladder-worker-gpu": "ladder-worker"}.get(c["image"])
            if binary and not init:
                for flag in flag_values(c.get("args", [])):
                    if flag not in HELP[binary]:
                        fail(f"{cname}: {flag} is not a {binary} flag")
        for v in volumes.values():
            if "secret" in v and v["secret"]["secretName"] not in secrets:
                fail(f"{kind}/{name}: volume {v['name']} uses secret {v['secret']['secretName']}, not in the template")
        workload_ports[name] = (pod_labels(w), ports, w)

services = {}
for s in by_kind.get("Service", []):
    name = s["metadata"]["name"]
    services[name] = s
    sel = s["spec"].get("selector", {})
    targets = [wn for wn, (labels, _, _) in workload_ports.items() if matches(sel, labels)]
    if not targets:
        fail(f"Service/{name}: selector {sel} matches no workload")
    for p in s["spec"].get("ports", []):
        tp = p.get("targetPort", p["port"])
        for wn in targets:
            if tp not in workload_ports[wn][1]:
                fail(f"Service/{name}: targetPort {tp} is not a port of {wn}")

for sm in by_kind.get("ServiceMonitor", []):
    name = sm["metadata"]["name"]
    sel = sm["spec"].get("selector", {}).get("matchLabels", {})
    picked = [s for s in services.values() if matches(sel, s["metadata"].get("labels", {}))]
    if not picked:
        fail(f"ServiceMonitor/{name}: selects no Service")
    if namespace not in sm["spec"].get("namespaceSelector", {}).get("matchNames", [namespace]):
        fail(f"ServiceMonitor/{name}: namespaceSelector misses {namespace}")
    for ep in sm["spec"].get("endpoints", []):
        for s in picked:
            if ep.get("port") not in {p.get("name") for p in s["spec"]["ports"]}:
                fail(f"ServiceMonitor/{name}: port {ep.get('port')} is not a named port of Service/{s['metadata']['name']}")
        if ep.get("path", "/metrics") != "/metrics":
            fail(f"ServiceMonitor/{name}: path must be /metrics")
sm_names = {sm["metadata"]["name"] for sm in by_kind.get("ServiceMonitor", [])}
if not {"ladder-coordinator", "ladder-worker"} <= sm_names:
    fail("ServiceMonitors for both the coordinator and the workers are needed")


def container(w, image):
    for c in w["spec"]["template"]["spec"]["containers"]:
        if c["image"] == image:
            return c
    return None


# ---------------------------------------------------------------- the coordinator
deps = [d for d in by_kind.get("Deployment", []) if container(d, "ladder-coordinator")]
if len(deps) != 1:
    fail("want one coordinator Deployment")
else:
    d = deps[0]
    if d["spec"].get("replicas", 1) < 2:
        fail("coordinator Deployment: several replicas share the database; want >= 2")
    c = container(d, "ladder-coordinator")
    flags = flag_values(c["args"])
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for flag, pname in (("--listen", "grpc"), ("--metrics-listen", "metrics")):
        value = flags.get(flag) or ""
        if not value.startswith("0.0.0.0:"):
            fail(f"coordinator {flag}={value}: must listen on all addresses in a pod")
        elif int(value.rsplit(":", 1)[1]) != cports.get(pname):
            fail(f"coordinator {flag}={value} but container port {pname} is {cports.get(pname)}")
    if "--insecure-plaintext" in flags:
        fail("coordinator: no plaintext outside loopback")
    if not any(e["name"] == "LADDER_DATABASE_URL" for e in c.get("env", [])):
        fail("coordinator: LADDER_DATABASE_URL from a Secret")
    svc = services.get("ladder-coordinator")
    if not svc:
        fail("no Service ladder-coordinator")
    else:
        sp = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        if sp.get("grpc") != cports.get("grpc") or sp.get("metrics") != cports.get("metrics"):
            fail(f"Service ladder-coordinator ports {sp} differ from the container's {cports}")

# ---------------------------------------------------------------- the workers
ds = [d for d in by_kind.get("DaemonSet", []) if container(d, "ladder-worker-gpu")]
if len(ds) != 1:
    fail("want one worker DaemonSet")
else:
    d = ds[0]
    pod = d["spec"]["template"]["spec"]
    c = container(d, "ladder-worker-gpu")
    gpus = c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
    if not isinstance(gpus, int) or gpus < 1:
        fail("worker DaemonSet: limits nvidia.com/gpu (a positive count) needed")
    if not pod.get("nodeSelector") and not pod.get("affinity"):
        fail("worker DaemonSet: runs on GPU nodes only (nodeSelector)")
    if not any(t.get("key") == "nvidia.com/gpu" for t in pod.get("tolerations", [])):
        fail("worker DaemonSet: tolerate the nvidia.com/gpu taint")
    flags = flag_values(c["args"])
    grace = sum(duration_s(flags.get(f)) or 0 for f in ("--drain-grace", "--kill-grace", "--drain-report-timeout"))
    if duration_s(flags.get("--drain-grace")) is None:
        fail("worker DaemonSet: set --drain-grace explicitly")
    if pod.get("terminationGracePeriodSeconds", 30) <= grace:
        fail(f"worker DaemonSet: terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds')} "
             f"must exceed drain + kill grace + report timeout ({grace:g} s)")
    coord = flags.get("--coordinator", "")
    svc = services.get("ladder-coordinator")
    if svc:
        grpc_port = {p["name"]: p["port"] for p in svc["spec"]["ports"]}.get("grpc")
        if not re.fullmatch(rf"ladder-coordinator(\.{namespace}(\.svc(\.cluster\.local)?)?)?:{grpc_port}", coord):
            fail(f"worker --coordinator={coord} is not the coordinator Service's gRPC port")
    if flags.get("--metrics-listen") != "0.0.0.0:9401" or 9401 not in {p["containerPort"] for p in c["ports"]}:
        fail("worker: --metrics-listen=0.0.0.0:9401 and container port 9401")
    if "--insecure" in flags:
        fail("worker: no plaintext outside loopback")
    for f in ("--tls-ca", "--tls-cert", "--tls-key"):
        if f not in flags:
            fail(f"worker: {f} (mutual TLS)")

# ---------------------------------------------------------------- PostgreSQL
pg = by_kind.get("StatefulSet", [])
if len(pg) != 1:
    fail("want one PostgreSQL StatefulSet")
else:
    st = pg[0]
    if not st["spec"].get("volumeClaimTemplates"):
        fail("PostgreSQL StatefulSet: a volumeClaimTemplate for its data")
    if st["spec"].get("serviceName") not in services:
        fail("PostgreSQL StatefulSet: serviceName must be a Service")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print(f"ok: {len(docs)} documents, {len(secrets)} secret templates")
