#!/usr/bin/env python3
"""The metric names in deploy/ exist, and the metrics follow the conventions.

Reads the names the binaries register (server/coordinator_metrics.cc,
worker/worker_metrics.cc) and checks:
  - naming: ladder_ prefix, snake_case, counters end in _total and nothing
    else does, durations in _seconds, sizes in _bytes, fractions in _ratio;
  - every metric name in the Grafana dashboard's queries (panels,
    annotations, variables) and in the alert rules is one of them (with a
    histogram's _bucket/_sum/_count), or Prometheus's own (up, ALERTS);
  - the dashboard is provisioning-ready: parses, has a Prometheus
    datasource variable that every panel and query uses, a `sweep`
    variable, unique panel ids, panels inside the 24-column grid without
    overlaps, and shows what a sweep needs (runs by state, queue depth,
    throughput, devices, lease/RPC latency, fitted exponents, predicted loss);
  - the Grafana provisioning files parse and point at the dashboard's folder;
  - every worker metric is documented in deploy/README.md.
Usage: check_metric_names.py SOURCE_DIR
"""
import json
import re
import sys
from pathlib import Path

import yaml

SRC = Path(sys.argv[1])
failures = []


def fail(msg):
    failures.append(msg)


def registered(path):
    """{name: type} from BuildCounter()/BuildGauge()/BuildHistogram() ... .Name("...")."""
    text = path.read_text()
    found = {}
    for kind, name in re.findall(r'Build(Counter|Gauge|Histogram|Summary)\(\)\s*\.Name\("([^"]+)"\)', text):
        found[name] = kind
    if not found:
        fail(f"{path}: no metrics found (did the registration code change shape?)")
    return found


coordinator = registered(SRC / "server/coordinator_metrics.cc")
worker = registered(SRC / "worker/worker_metrics.cc")
metrics = {**coordinator, **worker}

# The coordinator's metrics the dashboards and alerts were written against.
for name in ["ladder_rpc_duration_seconds", "ladder_lease_duration_seconds", "ladder_leases_total",
             "ladder_leases_expired_total", "ladder_attempts_ended_total", "ladder_refit_duration_seconds",
             "ladder_runs", "ladder_queue_depth", "ladder_workers", "ladder_run_tokens_per_second",
             "ladder_run_flops_per_second", "ladder_fit_parameter", "ladder_predicted_loss",
             "ladder_prediction_target_flops", "ladder_predicted_epochs",
             "ladder_fit_parameters_at_bound"]:
    if name not in coordinator:
        fail(f"coordinator metric {name} is no longer registered in server/coordinator_metrics.cc")

# ---------------------------------------------------------------- conventions
for name, kind in metrics.items():
    if not re.fullmatch(r"ladder_[a-z0-9_]+", name):
        fail(f"{name}: not ladder_snake_case")
    if (kind == "Counter") != name.endswith("_total"):
        fail(f"{name}: a {kind}; only counters end in _total")
    if kind == "Histogram" and not name.endswith("_seconds"):
        fail(f"{name}: histograms here are durations, in _seconds")
    if "memory" in name and not name.endswith("_bytes"):
        fail(f"{name}: memory in _bytes")
    if "utilization" in name or "mfu" in name:
        if not name.endswith("_ratio"):
            fail(f"{name}: fractions in _ratio")
    for bad in ["_ms", "_millis", "_kb", "_mb", "_mib", "_percent"]:
        if bad in name:
            fail(f"{name}: use base units ({bad})")
for name in worker:
    if not name.startswith("ladder_worker_"):
        fail(f"worker metric {name}: prefix ladder_worker_ (no clash with the coordinator's)")

known = set()
for name, kind in metrics.items():
    known.add(name)
    if kind == "Histogram":
        known |= {name + "_bucket", name + "_sum", name + "_count"}
    if kind == "Summary":
        known |= {name + "_sum", name + "_count"}
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}


def metric_names(expr):
    """Metric-name tokens of a PromQL expression (strings and label matchers removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    # Grouping labels: by (...), without (...), on (...), ignoring (...), group_left/right (...).
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    tokens = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", e)
    return [t for t in tokens if t.startswith("ladder_") or t in PROMETHEUS_OWN]


def check_expr(where, expr):
    if not expr or not expr.strip():
        fail(f"{where}: empty query")
        return []
    names = metric_names(expr)
    if not names:
        fail(f"{where}: uses no metric: {expr}")
    for n in names:
        if n not in known and n not in PROMETHEUS_OWN:
            fail(f"{where}: unknown metric {n} in: {expr}")
    return names


# ---------------------------------------------------------------- dashboard
dash_path = SRC / "deploy/grafana/dashboards/ladder-sweep.json"
dash = json.loads(dash_path.read_text())
for key in ["title", "uid", "panels", "templating", "schemaVersion", "time", "refresh"]:
    if key not in dash:
        fail(f"dashboard: no '{key}'")
if "__inputs" in dash:
    fail("dashboard: has __inputs (an export for import); provisioning wants the datasource variable")
variables = {v["name"]: v for v in dash["templating"]["list"]}
ds = variables.get("datasource")
if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    fail("dashboard: needs a variable 'datasource' of type datasource, query prometheus")
sweep = variables.get("sweep")
if not sweep or sweep.get("type") != "query" or "sweep" not in json.dumps(sweep.get("query")):
    fail("dashboard: needs a query variable 'sweep' (label_values(..., sweep))")
for name, v in variables.items():
    if v.get("type") == "query":
        if v.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"dashboard variable {name}: datasource must be ${{datasource}}")
        q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
        if not m:
            fail(f"dashboard variable {name}: query {q!r} is not label_values(metric, label)")
        else:
            check_expr(f"variable {name}", m.group(1))

used = set()
ids = set()
cells = {}
for p in dash["panels"]:
    pid = p.get("id")
    if pid in ids:
        fail(f"dashboard: panel id {pid} twice")
    ids.add(pid)
    g = p.get("gridPos", {})
    if not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24 or g["x"] < 0:
        fail(f"dashboard panel {p.get('title')}: bad gridPos {g}")
    else:
        for y in range(g["y"], g["y"] + g["h"]):
            for x in range(g["x"], g["x"] + g["w"]):
                if (x, y) in cells:
                    fail(f"dashboard panel {p.get('title')} overlaps {cells[(x, y)]}")
                    break
                cells[(x, y)] = p.get("title")
    if p.get("type") == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${datasource}":
        fail(f"dashboard panel {p.get('title')}: datasource must be ${{datasource}}")
    if not p.get("targets"):
        fail(f"dashboard panel {p.get('title')}: no queries")
    for t in p.get("targets", []):
        if t.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"dashboard panel {p.get('title')} query {t.get('refId')}: datasource must be ${{datasource}}")
        used |= set(check_expr(f"panel {p.get('title')!r}", t.get("expr", "")))
        for var in re.findall(r"\$(\w+)", t.get("expr", "")):
            if var not in variables and not var.startswith("__"):
                fail(f"panel {p.get('title')!r}: undefined variable ${var}")
for a in dash.get("annotations", {}).get("list", []):
    if "expr" in a:
        used |= set(check_expr(f"annotation {a.get('name')!r}", a["expr"]))

for need in ["ladder_runs", "ladder_queue_depth", "ladder_run_tokens_per_second", "ladder_run_flops_per_second",
             "ladder_worker_device_utilization_ratio", "ladder_worker_device_memory_used_bytes",
             "ladder_lease_duration_seconds_bucket", "ladder_rpc_duration_seconds_bucket", "ladder_fit_parameter",
             "ladder_predicted_loss", "ladder_prediction_target_flops", "ladder_workers",
             "ladder_refit_duration_seconds_bucket", "ladder_predicted_epochs",
             "ladder_fit_parameters_at_bound"]:
    if need not in used:
        fail(f"dashboard: nothing shows {need}")

# ---------------------------------------------------------------- provisioning
prov = yaml.safe_load((SRC / "deploy/grafana/provisioning/dashboards/ladder.yml").read_text())
if prov.get("apiVersion") != 1 or not prov.get("providers"):
    fail("provisioning/dashboards/ladder.yml: want apiVersion 1 and providers")
else:
    for pr in prov["providers"]:
        if pr.get("type") != "file" or not pr.get("options", {}).get("path"):
            fail(f"provisioning provider {pr.get('name')}: want type file and options.path")
dsprov = yaml.safe_load((SRC / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
if dsprov.get("apiVersion") != 1 or not any(d.get("type") == "prometheus" for d in dsprov.get("datasources", [])):
    fail("provisioning/datasources/prometheus.yml: want a prometheus datasource")

# ---------------------------------------------------------------- alert rules
rules = yaml.safe_load((SRC / "deploy/prometheus/alerts.yml").read_text())
alerts = set()
for group in rules["groups"]:
    for rule in group["rules"]:
        alerts.add(rule.get("alert"))
        check_expr(f"alert {rule.get('alert')}", rule["expr"])
        if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
            fail(f"alert {rule.get('alert')}: severity critical or warning")
        if not rule.get("annotations", {}).get("summary"):
            fail(f"alert {rule.get('alert')}: no summary")
for need in ["LadderNoLiveWorker", "LadderLeaseExpiriesClimbing", "LadderSweepStalled", "LadderRefitFailing",
             "LadderRunDiverged"]:
    if need not in alerts:
        fail(f"alerts.yml: no {need}")
tests = yaml.safe_load((SRC / "deploy/prometheus/alerts_test.yml").read_text())
tested = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])}
for a in alerts:
    if a not in tested:
        fail(f"alerts_test.yml: {a} is never tested")
    firing = [t for case in tests["tests"] for t in case.get("alert_rule_test", [])
              if t["alertname"] == a and t.get("exp_alerts")]
    if not firing:
        fail(f"alerts_test.yml: {a} is never tested firing")

# ---------------------------------------------------------------- documentation
guide = (SRC / "deploy/README.md").read_text()
for name in worker:
    if name not in guide:
        fail(f"deploy/README.md does not document {name}")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print(f"ok: {len(metrics)} metrics ({len(worker)} worker), {len(ids)} panels, {len(alerts)} alerts checked")
