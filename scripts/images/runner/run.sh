#!/usr/bin/env bash
# The runner stand-in's start script, at /home/runner/run.sh as in ghcr.io/actions/actions-runner. It keeps the
# contract of the real run.sh for one JIT-configured job, over the runner broker's protocol
# (stand-ins/runner-broker.ts) instead of GitHub's:
#   POST {serverUrlV2}session             {agentId, clientId, version}  -> 200 {jobId, jobName, script} | 204 | 401 | 403
#   POST {serverUrlV2}jobs/{id}/complete  {agentId, clientId, result, exitCode}
# Exit codes, as actions/runner's src/Misc/layoutroot/run.sh and run-helper.sh.template give them in the official
# image (which sets RUNNER_MANUALLY_TRAP_SIG=1): the listener's 0 (done), 1 (terminated), 5 (session conflict) and
# any other code end run.sh with 0; 2 (retryable) and 3/4 (updated) restart the listener; 7 (version deprecated)
# ends it with 7 when ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1 (without it the listener says 1).
# A job that fails is still a listener that is done: its result goes to the service and run.sh exits 0.
set -uo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
poll_seconds=${RUNNER_STAND_IN_POLL_SECONDS:-1}

# The listener's own return codes (src/Runner.Common/Constants.cs, Runner.ReturnCode).
readonly SUCCESS=0 TERMINATED=1 RETRYABLE=2 VERSION_DEPRECATED=7

log() { printf '%s [runner] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# post URL JSON OUT: POSTs JSON (from stdin, kept out of the process list) and prints the status, 000 when the
# service cannot be reached.
post() {
  printf '%s' "$2" | curl --silent --show-error --max-time 30 --output "$3" --write-out '%{http_code}' \
    --header 'content-type: application/json' --data-binary @- "$1" || true
}

# The JIT config is a base64 JSON map of the runner's settings files, each base64 too. The runner writes them into
# its root folder before it starts, as config.sh would have.
write_settings() {
  local config=${ACTIONS_RUNNER_INPUT_JITCONFIG:-}
  if [ -z "$config" ]; then
    log "no JIT config: set ACTIONS_RUNNER_INPUT_JITCONFIG (the runner's --jitconfig)"
    return 1
  fi
  local files
  if ! files=$(printf '%s' "$config" | base64 -d 2>/dev/null | jq -er 'to_entries[] | "\(.key) \(.value)"'); then
    log "the JIT config is not base64 JSON of the runner's settings files"
    return 1
  fi
  local name content
  while read -r name content; do
    case $name in
      .runner | .credentials | .credentials_rsaparams) ;;
      *) log "the JIT config names an unknown settings file: $name"; return 1 ;;
    esac
    (umask 077 && printf '%s' "$content" | base64 -d >"$dir/$name") || return 1
  done <<<"$files"
}

# One run of the listener: returns its return code.
listen() {
  write_settings || return $TERMINATED
  local server agent client work version
  server=$(jq -er '.serverUrlV2' "$dir/.runner") || { log ".runner has no serverUrlV2"; return $TERMINATED; }
  agent=$(jq -er '.agentId' "$dir/.runner") || { log ".runner has no agentId"; return $TERMINATED; }
  client=$(jq -er '.data.clientId' "$dir/.credentials") || { log ".credentials has no clientId"; return $TERMINATED; }
  work="$dir/$(jq -r '.workFolder // "_work"' "$dir/.runner")"
  version=$(cat "$dir/.runner-version") || { log "no .runner-version beside run.sh"; return $TERMINATED; }
  server=${server%/}
  local proof
  proof=$(jq -cn --argjson agentId "$agent" --arg clientId "$client" --arg version "$version" \
    '{agentId: $agentId, clientId: $clientId, version: $version}')

  local answer status
  answer=$(mktemp)
  log "runner $version: asking $server for a job"
  while [ -z "$stopping" ]; do
    status=$(post "$server/session" "$proof" "$answer")
    case $status in
      200) break ;;
      204) sleep "$poll_seconds" ;;
      401)
        # GitHub's answer to a runner whose registration was deleted: the listener gives up.
        log "the service refused this runner's credentials (401): its registration is gone"
        return $TERMINATED
        ;;
      403)
        log "the service refused this runner: $(jq -r '.message // empty' "$answer" 2>/dev/null)"
        [ "${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-}" = 1 ] && return $VERSION_DEPRECATED
        return $TERMINATED
        ;;
      *)
        # The service unreachable (000) or failing: the listener keeps trying, as the real one does.
        log "the service answered $status; asking again in ${poll_seconds}s"
        sleep "$poll_seconds"
        ;;
    esac
  done
  [ -n "$stopping" ] && return $SUCCESS

  local job_id job_name script
  if ! job_id=$(jq -er '.jobId' "$answer") || ! script=$(jq -er '.script' "$answer"); then
    log "the service's job has no jobId or script"
    return $RETRYABLE
  fi
  job_name=$(jq -r '.jobName // empty' "$answer")
  mkdir -p "$work/_temp"
  local file="$work/_temp/job-$job_id.sh"
  printf '%s\n' "$script" >"$file"
  log "running job $job_id ($job_name)"

  # The job runs in its own session, so that a stop reaches every process it started. As the real runner does, it
  # sees none of the runner's inputs (ACTIONS_RUNNER_INPUT_*: src/Runner.Listener/CommandSettings.cs).
  local hidden=() name
  for name in $(compgen -e); do
    [[ $name == ACTIONS_RUNNER_INPUT_* ]] && hidden+=(-u "$name")
  done
  (cd "$work" && exec env "${hidden[@]}" setsid --wait bash -e "$file") &
  job_pid=$!
  local code
  wait "$job_pid"
  code=$?
  # A trapped signal ends `wait` early (code > 128): wait for the job itself.
  while kill -0 "$job_pid" 2>/dev/null; do
    wait "$job_pid"
    code=$?
  done
  job_pid=
  local result=succeeded
  if [ -n "$stopping" ]; then
    result=canceled
  elif [ "$code" -ne 0 ]; then
    result=failed
  fi
  log "job $job_id $result (exit code $code)"

  local report
  report=$(jq -cn --argjson proof "$proof" --arg result "$result" --argjson exitCode "$code" \
    '$proof | del(.version) + {result: $result, exitCode: $exitCode}')
  local attempt
  for attempt in 1 2 3 4 5; do
    status=$(post "$server/jobs/$job_id/complete" "$report" "$answer")
    [ "$status" = 200 ] && break
    log "reporting job $job_id: the service answered $status (attempt $attempt)"
    sleep "$poll_seconds"
  done
  rm -f "$answer"
  return $SUCCESS
}

# A stop (the kubelet's SIGTERM) cancels the job and lets the listener report it.
job_pid=
stopping=
stop() {
  stopping=1
  log "stopping"
  if [ -n "$job_pid" ]; then
    kill -TERM -- "-$job_pid" 2>/dev/null || kill -TERM "$job_pid" 2>/dev/null
  fi
  return 0
}
trap stop INT TERM

# run-helper.sh: as the official image runs it, root only when asked for.
if [ "$(id -u)" -eq 0 ] && [ -z "${RUNNER_ALLOW_RUNASROOT:-}" ]; then
  echo "Must not run interactively with sudo"
  exit 1
fi

while :; do
  listen
  code=$?
  case $code in
    "$RETRYABLE" | 3 | 4)
      [ -n "$stopping" ] && exit 0
      log "listener exit code $code: restarting it"
      sleep "$poll_seconds"
      ;;
    "$VERSION_DEPRECATED")
      if [ "${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-}" = 1 ]; then
        log "listener exit code 7: version deprecated"
        exit "$VERSION_DEPRECATED"
      fi
      exit 0
      ;;
    *)
      log "listener exit code $code: exiting"
      exit 0
      ;;
  esac
done
