# Sourced by kafka.sh and elasticmq.sh: a JVM server from Maven Central jars, run in the background and stopped by
# its PID file. The caller sets `name`, `here` (its folder, holding pom.xml), `cache`, `libs`, `port`, `pidfile`
# and `log` before sourcing, and defines `ready` (true once the server serves).

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# Start only when needed: 0 when ours already answers, exit 1 when another process holds the port.
already_running() {
  if running && answers; then echo "$name: already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0; fi
  if answers; then echo "$name: port $port is taken by another process" >&2; exit 1; fi
  return 1
}

resolve_jars() {
  [ -f "$libs/.complete" ] && return 0
  echo "$name: resolving the server's jars from Maven Central into $libs"
  rm -rf "$libs"
  mkdir -p "$cache"
  # Maven 3.8's default dependency plugin (2.8) is too old for copy-dependencies here: pin it.
  if ! mvn -B -q -f "$here/pom.xml" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs" >"$cache/maven.log" 2>&1; then
    cat "$cache/maven.log" >&2; echo "$name: could not resolve the server's jars (see above)" >&2; exit 1
  fi
  touch "$libs/.complete"
}

# launch JAVA_ARGS...: starts the server in the background and waits until `ready`, at most $ready_seconds (60).
launch() {
  local t0; t0=$(date +%s%N)
  nohup java "$@" >"$log" 2>&1 &
  echo $! > "$pidfile"
  local wait=${ready_seconds:-60}
  for _ in $(seq 1 $((wait * 10))); do
    if ready; then
      echo "$name: started on 127.0.0.1:$port in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(cat "$pidfile"), log $log)"
      return 0
    fi
    running || { echo "$name: server exited; last log lines:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name: not ready after ${wait}s; see $log" >&2; exit 1
}

# stop [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 30).
stop() {
  if ! running; then echo "$name: not running"; rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 $(( ${1:-30} * 10 ))); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "$name: stopped"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"; echo "$name: killed after ${1:-30}s"
}

status() {
  if running && answers; then echo "$name: running on 127.0.0.1:$port"; else echo "$name: stopped"; exit 1; fi
}
