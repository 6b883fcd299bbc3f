#!/usr/bin/env bash
# Creates every Secret the local overlay needs, with fresh random values (never for production: there the
# ExternalSecrets of overlays/production pull them from the secret manager). Re-running keeps existing Secrets;
# to regenerate, delete all of them first (SERVICE_TOKENS of connector-auth must match each caller's SERVICE_TOKEN).
#   LWA_CLIENT_SECRET=... deploy/k8s/local-secrets.sh
set -euo pipefail
ns=amazon-connector
random() { python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }
exists() { kubectl -n "$ns" get secret "$1" >/dev/null 2>&1; }
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"

callers=(orders-ingest catalog-sync stock-publisher shipment-relay pii-redactor)
declare -A token
service_tokens=""
for caller in "${callers[@]}"; do
    token[$caller]=$(random)
    service_tokens+="${service_tokens:+,}$caller:${token[$caller]}"
done

db_url() { # service -> DATABASE_URL with the service's own role, whose password goes into <service>-db
    local role=${1//-/_} password
    password=$(random)
    exists "$1-db" || kubectl -n "$ns" create secret generic "$1-db" --type=kubernetes.io/basic-auth \
        --from-literal=username="$role" --from-literal=password="$password" >/dev/null
    password=$(kubectl -n "$ns" get secret "$1-db" -o jsonpath='{.data.password}' | base64 -d)
    echo "postgresql://$role:$password@connector-db-rw:5432/connector"
}

create() { # name, then --from-literal arguments
    local name=$1
    shift
    if exists "$name"; then echo "kept $name"; else kubectl -n "$ns" create secret generic "$name" "$@" >/dev/null && echo "created $name"; fi
}

create connector-auth-env --from-literal=DATABASE_URL="$(db_url connector-auth)" \
    --from-literal=SERVICE_TOKENS="$service_tokens" --from-literal=TOKEN_ENCRYPTION_KEYS="k1:$(random)" \
    --from-literal=STATE_SIGNING_KEY="$(random)" --from-literal=LWA_CLIENT_SECRET="${LWA_CLIENT_SECRET:-$(random)}"
create orders-ingest-env --from-literal=DATABASE_URL="$(db_url orders-ingest)" \
    --from-literal=SERVICE_TOKEN="${token[orders-ingest]}" --from-literal=BUYER_REF_KEY="$(random)" \
    --from-literal=AWS_ACCESS_KEY_ID=local --from-literal=AWS_SECRET_ACCESS_KEY=local
for service in catalog-sync stock-publisher shipment-relay; do
    create "$service-env" --from-literal=DATABASE_URL="$(db_url "$service")" --from-literal=SERVICE_TOKEN="${token[$service]}"
done
create pii-redactor-env --from-literal=DATABASE_URL="$(db_url pii-redactor)" \
    --from-literal=SERVICE_TOKEN="${token[pii-redactor]}" --from-literal=PII_ENCRYPTION_KEYS="k1:$(random)"
# KEDA's lag reader: the password the Strimzi User Operator generated for the `keda` KafkaUser, and the cluster CA.
if exists keda && exists connector-cluster-ca-cert; then
    create keda-kafka --from-literal=username=keda \
        --from-literal=password="$(kubectl -n "$ns" get secret keda -o jsonpath='{.data.password}' | base64 -d)" \
        --from-literal=ca.crt="$(kubectl -n "$ns" get secret connector-cluster-ca-cert -o jsonpath='{.data.ca\.crt}' | base64 -d)"
else
    echo "keda-kafka: run again once Strimzi has created the 'keda' user and the cluster CA"
fi
