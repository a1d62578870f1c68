#!/bin/sh
# The server image creates no namespace: create Outdial's and register the search attributes runs set.
set -eu
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" | grep -q SERVING; do echo 'waiting for Temporal'; sleep 1; done
temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 || temporal operator namespace create -n "$NAMESPACE" --retention 7d
# Registration is eventually visible: retry until both are listed.
until temporal operator search-attribute list --namespace "$NAMESPACE" | grep -q OutdialRunId; do
  temporal operator search-attribute create --namespace "$NAMESPACE" \
    --name OutdialBusinessId --type Keyword --name OutdialRunId --type Keyword || sleep 1
done
echo "namespace $NAMESPACE ready"
