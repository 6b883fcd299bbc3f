#!/usr/bin/env bash
# Runs one local ElasticMQ (an SQS-compatible server) from Maven Central jars: `elasticmq.sh start|stop|status|url`.
# Idempotent: start reuses a server that already answers. SQS_QUEUES=none starts it without the default queues
# (orders-ingest-notifications and its dead-letter queue); queues live in memory and go with the process.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${SQS_CACHE_DIR:-$root/.cache/elasticmq}
port=${SQS_PORT:-19324}
# Jars are shared between servers (tests start private ones beside the local one).
libs=${SQS_LIBS_DIR:-$root/.cache/elasticmq/libs}
pidfile=$cache/elasticmq.pid
log=$cache/elasticmq.log

name=elasticmq
# ElasticMQ logs "started in" once its REST layer is bound; curl is not needed for the port check.
ready() { answers && grep -q "started in" "$log" 2>/dev/null; }
# shellcheck source=../jvm-server.sh
. "$here/../jvm-server.sh"

start() {
  already_running && return 0
  resolve_jars
  mkdir -p "$cache"
  local queues=""
  [ "${SQS_QUEUES:-default}" = none ] || queues=$(cat "$here/queues.conf")
  QUEUES=$queues awk -v port="$port" '{ gsub("@PORT@", port); if ($0 == "@QUEUES@") print ENVIRON["QUEUES"]; else print }' \
    "$here/elasticmq.conf.in" > "$cache/elasticmq.conf"
  launch -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    "-Dconfig.file=$cache/elasticmq.conf" "-Dlogback.configurationFile=$here/logback.xml" \
    -cp "$libs/*" org.elasticmq.server.Main
}

case "${1:-start}" in
  start) start ;;
  stop) stop 10 ;;
  status) status ;;
  # The endpoint for SQS clients (SQS_ENDPOINT_URL); queue URLs are <url>/000000000000/<queue name>.
  url) echo "http://127.0.0.1:$port" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
