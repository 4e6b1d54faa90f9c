#!/usr/bin/env bash
# Validate the Kubernetes manifests offline (used by .ci/run): render the base and every
# overlay with kustomize (kubectl's built-in, or a kustomize binary), fail on any warning it
# prints, then check each rendered resource against the Kubernetes API schemas, strictly
# (unknown fields are errors), for the oldest and newest Kubernetes versions Lyo supports.
# Needs: kubectl or kustomize, .venv with kubernetes-validate (requirements/ci-tools.txt).
set -Eeuo pipefail
cd "$(dirname "$0")"
BIN=${BIN:-../../.venv/bin}
OLDEST=${LYO_K8S_OLDEST:-1.30.0}
NEWEST=${LYO_K8S_NEWEST:-1.37.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if command -v kustomize >/dev/null 2>&1; then
  render=(kustomize build)
elif command -v kubectl >/dev/null 2>&1; then
  render=(kubectl kustomize)
else
  echo "neither kustomize nor kubectl is installed" >&2
  exit 1
fi

for dir in base overlays/*/; do
  dir=${dir%/}
  out="$work/$(echo "$dir" | tr / -).yaml"
  "${render[@]}" "$dir" >"$out" 2>"$work/stderr"
  if [ -s "$work/stderr" ]; then
    echo "kustomize printed warnings for $dir:" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  for version in "$OLDEST" "$NEWEST"; do
    "$BIN/kubernetes-validate" --strict --quiet -k "$version" "$out"
  done
  echo "$dir: $(grep -c '^kind: ' "$out") resources render and validate (Kubernetes $OLDEST and $NEWEST)"
done
