#!/usr/bin/env bash
# deploy/prometheus checked by promtool: the scrape config (and the rule files
# it loads), every rule file, and the rule unit tests in tests.yml.
# Exits 77 (ctest SKIP) when promtool is missing (Debian package prometheus).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=$ROOT/deploy/prometheus

command -v promtool >/dev/null || { echo "SKIP: promtool not installed (Debian package prometheus)"; exit 77; }

promtool check config "$DIR/prometheus.yml"
promtool check rules "$DIR"/rules/*.yml
promtool test rules "$DIR/tests.yml"
echo "PASS: promtool check config, check rules, test rules"
