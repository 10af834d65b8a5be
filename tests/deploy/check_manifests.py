#!/usr/bin/env python3
"""Consistency checks over the deploy kit that no tool here can run for real.

  check_manifests.py dashboard-rules OUT.yml
      Writes every PromQL query of deploy/grafana/adaptd.json as a recording
      rule (Grafana's $variables replaced) so that `promtool check rules`
      parses them all.
  check_manifests.py metric-names
      Every adaptd_* metric that the rules, the dashboard and the
      prometheus-adapter config read is one the server exports (the names in
      server/**/*.cc).
  check_manifests.py kubernetes
      The manifests in deploy/kubernetes/base agree with each other and with
      adaptd's flags: grace period vs drain, probes and ports, selectors, and
      the replicas share adapters (--adapter_store=redis on the kit's Redis).
      Needs PyYAML (Debian: python3-yaml); exits 77 without it.

Standard library only, except PyYAML for `kubernetes`.
"""
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "adaptd.json")
RULES_DIR = os.path.join(ROOT, "deploy", "prometheus", "rules")
K8S = os.path.join(ROOT, "deploy", "kubernetes")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def dashboard_exprs():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        m = re.match(r"label_values\((.*),\s*\w+\)$", q or "")
        if m:
            out.append(("variable " + var["name"], m.group(1)))
    return dash, out


def grafana_to_promql(expr):
    expr = expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
    expr = expr.replace("$__interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def cmd_dashboard_rules(out_path):
    dash, exprs = dashboard_exprs()
    ds_vars = [v for v in dash["templating"]["list"] if v.get("type") == "datasource"]
    if not ds_vars or ds_vars[0].get("query") != "prometheus":
        fail("the dashboard has no Prometheus datasource variable")
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        fail("panel ids repeat")
    with open(out_path, "w") as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (title, expr) in enumerate(exprs):
            f.write("      # %s\n" % title.replace("\n", " "))
            f.write("      - record: dashboard:query_%d\n" % i)
            f.write("        expr: %s\n" % json.dumps(grafana_to_promql(expr)))
    print("dashboard: %d queries written to %s" % (len(exprs), out_path))


METRIC = re.compile(r"(?<![:\w])(adaptd_[a-z0-9_]+)(?![:\w])")


def exported_metrics():
    names = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, "server")):
        for name in files:
            if name.endswith((".cc", ".h")):
                with open(os.path.join(dirpath, name), errors="replace") as f:
                    names.update(re.findall(r'"(adaptd_[a-z0-9_]+)"', f.read()))
    return names


def cmd_metric_names():
    exported = exported_metrics()
    if not exported:
        fail("found no adaptd_* metric names under server/")
        return
    used = {}
    _, exprs = dashboard_exprs()
    for title, expr in exprs:
        for m in METRIC.findall(expr):
            used.setdefault(m, set()).add("dashboard: " + title)
    for name in sorted(os.listdir(RULES_DIR)):
        with open(os.path.join(RULES_DIR, name)) as f:
            for line in f:
                if line.lstrip().startswith("#"):
                    continue
                for m in METRIC.findall(line):
                    used.setdefault(m, set()).add("rules/" + name)
    with open(os.path.join(K8S, "prometheus-adapter-values.yaml")) as f:
        for line in f:
            if "seriesQuery" in line:
                for m in METRIC.findall(line):
                    used.setdefault(m, set()).add("prometheus-adapter-values.yaml")
    for metric, where in sorted(used.items()):
        base = re.sub(r"_(bucket|sum|count)$", "", metric)
        if metric not in exported and base not in exported:
            fail("%s (read by %s) is not exported by the server" % (metric, ", ".join(sorted(where))))
    print("metric names: %d read, all among the %d the server exports" % (len(used), len(exported)))


def load_base():
    import yaml  # noqa: PLC0415 (optional dependency)

    docs = []
    base = os.path.join(K8S, "base")
    for name in sorted(os.listdir(base)):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            with open(os.path.join(base, name)) as f:
                docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", text)
    if not m:
        raise ValueError("cannot read duration " + text)
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": n / 1000, "s": n, "m": 60 * n}[unit]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def cmd_kubernetes():
    try:
        docs = load_base()
    except ImportError:
        print("SKIP: PyYAML missing (Debian package python3-yaml)")
        sys.exit(77)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    dep = next(d for d in by_kind["Deployment"] if d["metadata"]["name"] == "adaptd")
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    if not matches(dep["spec"]["selector"]["matchLabels"], pod_labels):
        fail("Deployment selector does not select its own pods")
    c = next(c for c in pod["spec"]["containers"] if c["name"] == "adaptd")
    flags = dict(a[2:].split("=", 1) for a in c["args"] if a.startswith("--") and "=" in a)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}

    # Ports: flags, container ports and gRPC probes agree.
    if int(flags.get("port", 50051)) != ports.get("grpc"):
        fail("--port and the container's grpc port differ")
    if int(flags.get("metrics_port", 9464)) != ports.get("metrics"):
        fail("--metrics_port and the container's metrics port differ")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c.get(probe)
        if not p or "grpc" not in p:
            fail("%s is not a gRPC health probe" % probe)
        elif p["grpc"]["port"] != ports["grpc"]:
            fail("%s asks port %s, not the grpc port" % (probe, p["grpc"]["port"]))

    # Shutdown: preStop + --shutdown_grace must fit the grace period, and the
    # liveness probe must not kill a draining (NOT_SERVING) pod.
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    drain = duration_seconds(flags.get("shutdown_grace", "10s"))
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    pre_s = int(pre[1]) if pre[0] == "sleep" else 0
    if not pre_s + drain < grace:
        fail("preStop %ss + --shutdown_grace %ss does not fit terminationGracePeriodSeconds %s"
             % (pre_s, drain, grace))
    live = c["livenessProbe"]
    if live["periodSeconds"] * live["failureThreshold"] <= grace:
        fail("the liveness probe may restart a draining pod (period x threshold <= grace period)")
    print("kubernetes: preStop %ss + drain %ss < grace %ss; liveness gives up after %ss"
          % (pre_s, drain, grace, live["periodSeconds"] * live["failureThreshold"]))

    # Services select the pods and name ports they have.
    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    for name in ("adaptd", "adaptd-headless"):
        s = services[name]
        if not matches(s["spec"]["selector"], pod_labels):
            fail("Service %s does not select the adaptd pods" % name)
        for p in s["spec"]["ports"]:
            if p["targetPort"] not in ports:
                fail("Service %s targets port %s, which the pod lacks" % (name, p["targetPort"]))

    # The ServiceMonitor finds exactly the adaptd Service, and its port.
    sm = by_kind["ServiceMonitor"][0]
    picked = [n for n, s in services.items()
              if matches(sm["spec"]["selector"]["matchLabels"], s["metadata"].get("labels", {}))]
    if picked != ["adaptd"]:
        fail("the ServiceMonitor selects Services %s, not just adaptd" % picked)
    else:
        names = {p["name"] for p in services["adaptd"]["spec"]["ports"]}
        for e in sm["spec"]["endpoints"]:
            if e["port"] not in names:
                fail("the ServiceMonitor scrapes port %s, which Service adaptd lacks" % e["port"])

    # The HPA scales the Deployment on per-pod averages, never a raw counter.
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    if hpa["spec"]["scaleTargetRef"]["name"] != "adaptd":
        fail("the HPA does not scale the adaptd Deployment")
    for m in hpa["spec"]["metrics"]:
        name = m.get("pods", {}).get("metric", {}).get("name", "")
        if m["type"] != "Pods" or name.endswith("_total"):
            fail("HPA metric %s is not a per-pod gauge or rate" % (name or m))
    if hpa["spec"]["minReplicas"] < 2:
        fail("HPA minReplicas < 2 leaves a single replica during a rolling deploy")

    pdb = by_kind["PodDisruptionBudget"][0]
    if not matches(pdb["spec"]["selector"]["matchLabels"], pod_labels):
        fail("the PodDisruptionBudget does not select the adaptd pods")

    # Redis: its Services select the StatefulSet's pods; only adaptd reaches it.
    sts = by_kind["StatefulSet"][0]
    redis_labels = sts["spec"]["template"]["metadata"]["labels"]
    for name in ("adaptd-redis", sts["spec"]["serviceName"]):
        if not matches(services[name]["spec"]["selector"], redis_labels):
            fail("Service %s does not select the Redis pod" % name)
    if services[sts["spec"]["serviceName"]]["spec"].get("clusterIP") != "None":
        fail("the StatefulSet's serviceName is not a headless Service")
    if matches(services["adaptd"]["spec"]["selector"], redis_labels):
        fail("Service adaptd also selects the Redis pod")
    np = by_kind["NetworkPolicy"][0]
    if not matches(np["spec"]["podSelector"]["matchLabels"], redis_labels):
        fail("the NetworkPolicy does not guard the Redis pod")
    if not matches(np["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"], pod_labels):
        fail("the NetworkPolicy does not admit the adaptd pods")
    conf = next(d for d in by_kind["ConfigMap"] if d["metadata"]["name"] == "adaptd-redis")
    redis_conf = conf["data"]["redis.conf"]
    for line in ("appendonly yes", "maxmemory-policy noeviction"):
        if line not in redis_conf:
            fail("redis.conf lacks '%s'" % line)

    # Replicas share adapters: adaptd runs on the kit's Redis, which the
    # kustomization deploys. Without it an Adapt on one pod is NOT_FOUND on
    # the next, and every scale-down loses adapters.
    check_shared_store(flags, services, sts, kustomization_resources(), dep, hpa)
    print("kubernetes: %d objects consistent" % len(docs))


def kustomization_resources():
    import yaml  # noqa: PLC0415 (optional dependency)

    with open(os.path.join(K8S, "base", "kustomization.yaml")) as f:
        return yaml.safe_load(f).get("resources", [])


def check_shared_store(flags, services, sts, resources, dep, hpa):
    store = flags.get("adapter_store", "memory")
    replicas = max(dep["spec"].get("replicas", 1), hpa["spec"]["minReplicas"])
    if store != "redis":
        fail("adaptd runs with --adapter_store=%s, not redis, although the Deployment runs %d "
             "replicas: each would keep its own adapters" % (store, replicas))
        return
    address = flags.get("redis_address")
    if not address:
        fail("--adapter_store=redis without --redis_address (its default, 127.0.0.1:6379, is "
             "not the kit's Redis)")
        return
    host, _, port = address.rpartition(":")
    host = host.split(".")[0]  # adaptd-redis, adaptd-redis.adaptd, adaptd-redis.adaptd.svc...
    if host not in services:
        fail("--redis_address=%s names no Service of the kit (have: %s)"
             % (address, ", ".join(sorted(services))))
        return
    if not matches(services[host]["spec"]["selector"],
                   sts["spec"]["template"]["metadata"]["labels"]):
        fail("--redis_address=%s: Service %s does not select the Redis StatefulSet" % (address, host))
    if int(port or 0) not in [p["port"] for p in services[host]["spec"]["ports"]]:
        fail("--redis_address=%s: Service %s has no port %s" % (address, host, port))
    missing = [n for n in ("redis.yaml", "deployment.yaml") if n not in resources]
    for name in missing:
        fail("base/kustomization.yaml does not deploy %s" % name)
    if not failures:
        print("kubernetes: --adapter_store=redis on %s, a Service of the kit's Redis" % address)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = sys.argv[1]
    if cmd == "dashboard-rules" and len(sys.argv) == 3:
        cmd_dashboard_rules(sys.argv[2])
    elif cmd == "metric-names":
        cmd_metric_names()
    elif cmd == "kubernetes":
        cmd_kubernetes()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
