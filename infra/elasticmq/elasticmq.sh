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

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
# A GET of the root answers 400 from ElasticMQ once its REST layer is bound; curl is not needed for the port check.
ready() { answers && grep -q "started in" "$log" 2>/dev/null; }

resolve_jars() {
  [ -f "$libs/.complete" ] && return 0
  echo "elasticmq: resolving the server's jars from Maven Central into $libs"
  rm -rf "$libs"
  mkdir -p "$cache"
  # Maven 3.8's default dependency plugin (2.8) is too old for copy-dependencies here: pin it.
  if ! mvn -B -q -f "$here/pom.xml" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs" >"$cache/maven.log" 2>&1; then
    cat "$cache/maven.log" >&2; echo "elasticmq: could not resolve the server's jars (see above)" >&2; exit 1
  fi
  touch "$libs/.complete"
}

start() {
  if running && answers; then echo "elasticmq: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; fi
  if answers; then echo "elasticmq: port $port is taken by another process" >&2; exit 1; fi
  resolve_jars
  mkdir -p "$cache"
  local queues=""
  [ "${SQS_QUEUES:-default}" = none ] || queues=$(cat "$here/queues.conf")
  QUEUES=$queues awk -v port="$port" '{ gsub("@PORT@", port); if ($0 == "@QUEUES@") print ENVIRON["QUEUES"]; else print }' \
    "$here/elasticmq.conf.in" > "$cache/elasticmq.conf"
  local t0; t0=$(date +%s%N)
  nohup java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    "-Dconfig.file=$cache/elasticmq.conf" "-Dlogback.configurationFile=$here/logback.xml" \
    -cp "$libs/*" org.elasticmq.server.Main >"$log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if ready; then
      echo "elasticmq: started on 127.0.0.1:$port in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(cat "$pidfile"), log $log)"
      return 0
    fi
    running || { echo "elasticmq: server exited; last log lines:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "elasticmq: not ready after 24s; see $log" >&2; exit 1
}

stop() {
  if ! running; then echo "elasticmq: not running"; rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "elasticmq: stopped"; return 0; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"; echo "elasticmq: killed after 10s"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running && answers; then echo "elasticmq: running on 127.0.0.1:$port"; else echo "elasticmq: stopped"; exit 1; fi ;;
  # The endpoint for SQS clients (SQS_ENDPOINT_URL); queue URLs are <url>/000000000000/<queue name>.
  url) echo "http://127.0.0.1:$port" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
