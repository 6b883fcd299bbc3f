#!/usr/bin/env bash
# Rolls an overlay out with migrations first: deploy/k8s/rollout.sh <overlay> (local|production).
# 1. The previous migration Jobs are deleted (a Job's pod template is immutable), 2. the new ones are applied and
# awaited, 3. only then is everything else applied, so no Deployment rolls onto a schema it does not know.
# `serve` also migrates (idempotent, under an advisory lock per schema), so a skipped step 1-2 is safe, just slower.
set -euo pipefail
overlay=${1:?usage: rollout.sh <overlay>}
dir="$(dirname "$0")/overlays/$overlay"
ns=amazon-connector
selector=app.kubernetes.io/component=migration
kubectl -n "$ns" delete job -l "$selector" --ignore-not-found --wait=true
kubectl apply -k "$dir" -l "$selector"
kubectl -n "$ns" wait --for=condition=complete job -l "$selector" --timeout=10m
kubectl apply -k "$dir"
for deployment in $(kubectl -n "$ns" get deploy -l app.kubernetes.io/part-of=amazon-connector -o name); do
    kubectl -n "$ns" rollout status "$deployment" --timeout=10m
done
