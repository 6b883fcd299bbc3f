#!/usr/bin/env bash
# Offline checks of deploy/k8s, run by `make lint`: every overlay builds with kustomize, every rendered object
# validates strictly against the vendored Kubernetes and CRD schemas (kubeconform), and checkov's policies pass
# with the exceptions written down in checkov-skips.yaml. Tools are installed on first use into .cache/ at
# pinned versions (Go proxy for kustomize and kubeconform, PyPI for checkov); nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
KUSTOMIZE_VERSION=v5.7.1
KUBECONFORM_VERSION=v0.7.0
CHECKOV_VERSION=3.2.469
TOOLS="$ROOT/.cache/deploy-tools"
BIN="$TOOLS/bin"
export PATH="$HOME/.local/bin:$PATH"

install_go_tool() { # name module version
    local stamp="$BIN/$1.$3"
    [[ -x "$BIN/$1" && -f "$stamp" ]] && return
    echo "check.sh: installing $1 $3 from the Go proxy" >&2
    GOBIN="$BIN" GOPATH="$TOOLS/go" GOCACHE="$TOOLS/go-build" GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0 go install "$2@$3"
    touch "$stamp"
}
if ! command -v go >/dev/null && ! [[ -x "$BIN/kustomize" && -x "$BIN/kubeconform" ]]; then
    echo "check.sh: needs Go (1.22+) once, to install kustomize and kubeconform from the Go proxy" >&2
    exit 2
fi
install_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" &
kustomize_pid=$!
install_go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" &
kubeconform_pid=$!
if [[ ! -x "$TOOLS/checkov/bin/checkov" || ! -f "$TOOLS/checkov/.$CHECKOV_VERSION" ]]; then
    echo "check.sh: installing checkov $CHECKOV_VERSION from PyPI" >&2
    # Its own environment: checkov's dependencies must not enter the workspace lock.
    uv venv --quiet --allow-existing --python 3.11 "$TOOLS/checkov"
    uv pip install --quiet --python "$TOOLS/checkov/bin/python" "checkov==$CHECKOV_VERSION"
    touch "$TOOLS/checkov/.$CHECKOV_VERSION"
fi
wait "$kustomize_pid"
wait "$kubeconform_pid"

OUT="$TOOLS/rendered"
rm -rf "$OUT" && mkdir -p "$OUT"
status=0
for overlay in deploy/k8s/overlays/*/; do
    name=$(basename "$overlay")
    if ! "$BIN/kustomize" build "$overlay" > "$OUT/$name.yaml"; then
        echo "check.sh: kustomize build $overlay failed" >&2
        status=1
        continue
    fi
    "$BIN/kubeconform" -strict -summary -output text \
        -schema-location "deploy/k8s/schemas/kubernetes/{{.ResourceKind}}{{.KindSuffix}}.json" \
        -schema-location "deploy/k8s/schemas/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" \
        "$OUT/$name.yaml" || status=1
done
[[ $status == 0 ]] || exit $status

# --file, not --directory: checkov silently skips directories under a hidden one such as .cache/.
files=()
for rendered in "$OUT"/*.yaml; do files+=(--file "$rendered"); done
"$TOOLS/checkov/bin/checkov" --quiet --compact --framework kubernetes "${files[@]}" \
    --config-file deploy/k8s/checkov.yaml --skip-download
