#!/usr/bin/env bash
# Build the service's virtual environment at DIR, made to run from FINAL (default: DIR).
#   packaging/build-venv.sh [--no-compile] PYTHON DIR [FINAL]
# `make install` builds into its destination; `make deb` into a staging tree whose files are
# later unpacked at FINAL. The new environment replaces DIR only once it is complete, so a
# failed build leaves the installed one as it was and a re-run starts from scratch.
set -euo pipefail

compile=--compile
if [ "${1:-}" = --no-compile ]; then
  compile=--no-compile # a package byte-compiles at installation instead (Debian forbids shipping .pyc)
  shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [--no-compile] PYTHON DIR [FINAL]" >&2; exit 2; }
python=$1 dir=${2%/} final=${3:-$2}
final=${final%/}
source=$(cd "$(dirname "$0")/.." && pwd)

# The environment links to the interpreter itself (/usr/bin/python3.11, not the python3 alias
# that a Debian upgrade moves to another version its compiled modules do not fit).
interpreter=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable))') || {
  echo "$python does not run: name an interpreter with PYTHON=/usr/bin/python3" >&2
  exit 1
}
# The service runs as an unprivileged user: an interpreter under /root (pyenv, a build of one's
# own) installs fine and then fails at every start. Tried as nobody, whose rights are no wider.
if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- "$interpreter" -c '' 2>/dev/null; then
  echo "$interpreter (PYTHON=$python) cannot be run by an unprivileged user, so not by the service." >&2
  echo "Use the system's: PYTHON=/usr/bin/python3 (the default)." >&2
  exit 1
fi
"$interpreter" -c 'import ensurepip, venv' 2>/dev/null || {
  echo "$interpreter has no venv module: apt-get install python3-venv" >&2
  exit 1
}

# pip builds in the source folder, where setuptools reuses build/lib and a module deleted since
# would live on in the package: build from a copy of the tree's own files.
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
if git -C "$source" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$source" ls-files -z --cached --others --exclude-standard |
    (cd "$source" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$tree"
else
  cp -a "$source/." "$tree/"
  rm -rf "$tree/build"
fi

building=$dir.new
rm -rf "$building"
mkdir -p "$(dirname "$dir")"
"$interpreter" -m venv "$building"
"$building/bin/pip" install --quiet "$compile" "$tree"

# Scripts, activate files and pyvenv.cfg name the directory they were built in.
if [ "$building" != "$final" ]; then
  grep -rlIZF -- "$building" "$building" | xargs -0 -r sed -i "s|$building|$final|g"
fi

rm -rf "$dir.old"
if [ -e "$dir" ]; then mv "$dir" "$dir.old"; fi
mv "$building" "$dir"
rm -rf "$dir.old"
