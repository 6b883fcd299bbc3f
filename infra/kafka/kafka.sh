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

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

resolve_jars() {
  [ -f "$libs/.complete" ] && return 0
  echo "kafka: resolving the broker's jars from Maven Central into $libs"
  rm -rf "$libs"
  # Maven 3.8's default dependency plugin (2.8) is too old for copy-dependencies here: pin it.
  mkdir -p "$cache"
  if ! mvn -B -q -f "$here/pom.xml" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs" >"$cache/maven.log" 2>&1; then
    cat "$cache/maven.log" >&2; echo "kafka: could not resolve the broker's jars (see above)" >&2; exit 1
  fi
  touch "$libs/.complete"
}

start() {
  if running && answers; then echo "kafka: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; fi
  if answers; then echo "kafka: port $port is taken by another process" >&2; exit 1; fi
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
  local t0=$SECONDS
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$cache/server.properties" >"$log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if answers && grep -q "Kafka Server started" "$log"; then
      echo "kafka: started on 127.0.0.1:$port in $((SECONDS - t0))s (pid $(cat "$pidfile"), log $log)"
      return 0
    fi
    running || { echo "kafka: broker exited; last log lines:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.5
  done
  echo "kafka: not ready after 120s; see $log" >&2; exit 1
}

stop() {
  if ! running; then echo "kafka: not running"; rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "kafka: stopped"; return 0; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"; echo "kafka: killed after 30s"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running && answers; then echo "kafka: running on 127.0.0.1:$port"; else echo "kafka: stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
