#!/usr/bin/env bash
# runtime-packages.sh BINARY...: the Debian packages that hold the shared
# libraries the binaries link directly (their ELF NEEDED entries), one per
# line, sorted. The Dockerfile installs these, and apt their dependencies, in
# the slim runtime image, so that image follows the build's link line instead
# of a hand-kept list.
#
# Libraries no package owns (a LibTorch unpacked under /opt/libtorch, say) are
# reported on stderr and left out: the Dockerfile copies those itself. A
# library that does not resolve at all is an error, except libcuda.so.1, the
# driver, which the NVIDIA container runtime mounts at run time.
set -euo pipefail

[[ $# -gt 0 ]] || { echo "usage: $0 BINARY..." >&2; exit 2; }

owner() {  # the package owning a file, trying the /usr-merged spellings
  local f=$1 candidate p
  for candidate in "$f" "$(readlink -f "$f")" "/usr$f" "${f#/usr}"; do
    p=$(dpkg-query -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1)
    [[ -n $p ]] && { echo "$p"; return 0; }
  done
  return 1
}

packages=()
status=0
for bin in "$@"; do
  # soname -> resolved path, from ldd: "libx.so.1 => /path (0x...)", and
  # "/lib64/ld-linux-x86-64.so.2 (0x...)" for the dynamic loader.
  declare -A path=()
  while read -r first second third _; do
    if [[ $second == "=>" ]]; then
      path[$first]=$third
    elif [[ $first == /* ]]; then
      path[$(basename "$first")]=$first
    fi
  done < <(ldd "$bin")
  while read -r soname; do
    where=${path[$soname]:-}
    if [[ -z $where || $where == not ]]; then
      [[ $soname == libcuda.so.* ]] && continue
      echo "runtime-packages: $bin needs $soname, which does not resolve" >&2
      status=1
    elif pkg=$(owner "$where") && [[ -n $pkg ]]; then
      packages+=("$pkg")
    else
      echo "runtime-packages: $bin: $soname ($where) belongs to no package; copy it yourself" >&2
    fi
  done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
  unset path
done
printf '%s\n' "${packages[@]}" | sort -u
exit "$status"
