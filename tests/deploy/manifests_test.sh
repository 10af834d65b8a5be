#!/usr/bin/env bash
# The deploy kit's static checks, each run where its tool is present:
#   - deploy/kubernetes/base/prometheusrule.yaml is what gen-prometheusrule.sh
#     makes from deploy/prometheus/rules (bash only: always runs);
#   - every PromQL query of deploy/grafana/adaptd.json parses (python3, promtool);
#   - every adaptd_* metric the rules, dashboard and prometheus-adapter read is
#     one the server exports (python3);
#   - the Kubernetes manifests agree with each other and with adaptd's flags
#     (python3 with PyYAML: Debian's python3-yaml);
#   - kustomize builds the CPU and GPU variants, both with the shared Redis
#     adapter store (kubectl, where installed).
# A missing optional tool is reported as skipped; the test fails only on a
# check that ran and failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/deploy
work=$(mktemp -d "${TMPDIR:-/tmp}/manifests_test.XXXXXX")
trap 'rm -rf "$work"' EXIT

ran=() skipped=()

"$ROOT/deploy/kubernetes/gen-prometheusrule.sh" >"$work/prometheusrule.yaml"
if ! diff -u "$ROOT/deploy/kubernetes/base/prometheusrule.yaml" "$work/prometheusrule.yaml"; then
  echo "FAIL: deploy/kubernetes/base/prometheusrule.yaml is stale; regenerate it:" >&2
  echo "  deploy/kubernetes/gen-prometheusrule.sh > deploy/kubernetes/base/prometheusrule.yaml" >&2
  exit 1
fi
ran+=("PrometheusRule in sync")

if command -v python3 >/dev/null; then
  python3 "$HERE/check_manifests.py" metric-names
  ran+=("metric names")
  if command -v promtool >/dev/null; then
    python3 "$HERE/check_manifests.py" dashboard-rules "$work/dashboard-rules.yml"
    promtool check rules "$work/dashboard-rules.yml"
    ran+=("dashboard PromQL")
  else
    skipped+=("dashboard PromQL (no promtool)")
  fi
  rc=0
  python3 "$HERE/check_manifests.py" kubernetes || rc=$?
  case $rc in
    0) ran+=("Kubernetes consistency") ;;
    77) skipped+=("Kubernetes consistency (no python3-yaml)") ;;
    *) exit "$rc" ;;
  esac
else
  skipped+=("metric names, dashboard PromQL, Kubernetes consistency (no python3)")
fi

if command -v kubectl >/dev/null; then
  kubectl kustomize "$ROOT/deploy/kubernetes" >"$work/cpu.yaml"
  kubectl kustomize "$ROOT/deploy/kubernetes/overlays/gpu" >"$work/gpu.yaml"
  grep -q 'nvidia.com/gpu: 1' "$work/gpu.yaml" || { echo "FAIL: the GPU overlay asks for no GPU" >&2; exit 1; }
  grep -q -- '--device=cuda' "$work/gpu.yaml" || { echo "FAIL: the GPU overlay does not pass --device=cuda" >&2; exit 1; }
  if grep -q 'nvidia.com/gpu' "$work/cpu.yaml"; then echo "FAIL: the CPU variant asks for a GPU" >&2; exit 1; fi
  for variant in cpu gpu; do
    grep -q -- '- --adapter_store=redis$' "$work/$variant.yaml" ||
      { echo "FAIL: the $variant variant does not run adaptd with --adapter_store=redis" >&2; exit 1; }
    grep -q 'kind: StatefulSet' "$work/$variant.yaml" ||
      { echo "FAIL: the $variant variant deploys no Redis StatefulSet" >&2; exit 1; }
  done
  ran+=("kustomize CPU and GPU")
else
  skipped+=("kustomize builds (no kubectl)")
fi

echo "ran: $(IFS=,; echo "${ran[*]}")"
if ((${#skipped[@]})); then echo "skipped: $(IFS=,; echo "${skipped[*]}")"; fi
echo "PASS: deploy manifests"
