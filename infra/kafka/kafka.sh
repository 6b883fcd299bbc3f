#!/usr/bin/env bash
# Runs one local Apache Kafka broker (KRaft) from Maven Central jars: `kafka.sh start|stop|status`.
# Idempotent: start reuses a broker that already answers; state lives in a git-ignored cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${KAFKA_CACHE_DIR:-$root/.cache/kafka}
port=${KAFKA_PORT:-19092}
controller_port=${KAFKA_CONTROLLER_PORT:-19093}
# Jars are shared between brokers (tests start private ones beside the local one).
libs=${KAFKA_LIBS_DIR:-$root/.cache/kafka/libs}
data=$cache/data
pidfile=$cache/kafka.pid
log=$cache/kafka.log

name=kafka
ready() { answers && grep -q "Kafka Server started" "$log"; }
# shellcheck source=../jvm-server.sh
. "$here/../jvm-server.sh"

start() {
  already_running && return 0
  resolve_jars
  mkdir -p "$data"
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$controller_port#g" -e "s#@DATA_DIR@#$data#g" \
    "$here/server.properties.in" > "$cache/server.properties"
  local java_opts=(-Xms256m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
                   "-Dlog4j2.configurationFile=$here/log4j2.properties")
  if [ ! -f "$data/meta.properties" ]; then
    local cid
    cid=$(java -cp "$libs/*" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)
    java -cp "$libs/*" "${java_opts[@]}" kafka.tools.StorageTool format \
      --cluster-id="$cid" --config "$cache/server.properties" >/dev/null
  fi
  launch "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$cache/server.properties"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
