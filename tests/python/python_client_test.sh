#!/usr/bin/env bash
# The Python client as a user installs it: a virtual environment over
# Debian's python3 packages, `pip install --no-index --no-deps --no-build-isolation` of
# client/python (offline; the stubs are generated from proto/ by the build),
# then tests/python/client_test.py against the real adaptd.
#
# Environment: ADAPTD, ADAPT_TRAIN (the binaries); PYTHON (an interpreter
# with grpc, google.protobuf, grpc_tools, setuptools and wheel; default
# /usr/bin/python3, Debian's). Exits 77 (ctest SKIP) when PYTHON lacks them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
: "${ADAPTD:?set ADAPTD to the adaptd binary}" "${ADAPT_TRAIN:?set ADAPT_TRAIN to the adapt-train binary}"

missing=$("$PYTHON" - <<'PY' 2>/dev/null || echo "$PYTHON itself"
import importlib.util
mods = {"grpc": "python3-grpcio", "google.protobuf": "python3-protobuf",
        "grpc_tools": "python3-grpc-tools", "setuptools": "python3-setuptools",
        "wheel": "python3-wheel", "ensurepip": "python3-venv"}
def have(m):
    try:
        return importlib.util.find_spec(m) is not None
    except ImportError:
        return False
print(" ".join(p for m, p in mods.items() if not have(m)))
PY
)
if [[ -n $missing ]]; then
  echo "SKIP: $PYTHON lacks what the Python client needs; install: $missing (make deps)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/python_client_test.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A copy of the package and the protos, laid out as in the repository, so
# that the in-place build leaves nothing in the source tree.
mkdir -p "$work/src/client"
cp -r "$ROOT/client/python" "$work/src/client/python"
cp -r "$ROOT/proto" "$work/src/proto"
rm -rf "$work/src/client/python/build" "$work/src/client/python/"*.egg-info

# The commands docs/operations.md gives.
"$PYTHON" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --no-deps --no-build-isolation --no-index --quiet \
  "$work/src/client/python"

# The installed package, not the sources, is what the test imports.
cd "$work"
"$work/venv/bin/python" -c 'import adaptd.v1.adaptd_pb2_grpc, adaptd; print("installed", adaptd.__file__)'
ADAPTD=$ADAPTD ADAPT_TRAIN=$ADAPT_TRAIN \
  "$work/venv/bin/python" "$ROOT/tests/python/client_test.py" -v 2>&1
