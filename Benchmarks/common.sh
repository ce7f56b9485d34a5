# Shell helpers the benchmark scripts share (sourced).

wait_for() { # seconds, command…: polls the command until it succeeds (a bound, not a measure)
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -ge $deadline ] && { echo "gave up waiting for: $*" >&2; return 1; }
        sleep 0.05
    done
}
