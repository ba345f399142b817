#!/usr/bin/env bash
# The project's test command (README): installs missing system packages when run as root, runs every
# test project, and closes with one summary line, "N passed, N failed, N skipped", summed over the
# per-project summaries dotnet test prints. Exit status: dotnet test's, and non-zero if nothing ran.
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [[ -n "${ANOMALY_ACTORS_TEST_POSTGRES:-}" ]] && [[ "$(id -u)" != 0 ]]; then
    # An external server is configured, so the local PostgreSQL binaries are optional here.
    bash .ci/install-test-deps.sh --if-missing || echo "test.sh: continuing without local packages (ANOMALY_ACTORS_TEST_POSTGRES is set)" >&2
else
    bash .ci/install-test-deps.sh --if-missing
fi

log=$(mktemp -t anomaly-actors-test.XXXXXX)
trap 'rm -f "$log"' EXIT

set +e
dotnet test AnomalyActors.sln -c Release --logger "console;verbosity=normal" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# Each test project closes its run (console logger, normal verbosity) with a block such as
#   Test Run Failed.
#   Total tests: 10
#        Passed: 8
#        Failed: 2
# (Failed/Skipped only when non-zero). Individual results read "  Passed Name [1 ms]", without the colon,
# so they do not match. A project whose test host crashed prints no block; the exit status covers it.
read -r projects passed failed skipped < <(
    sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
        /^Total tests: [0-9]+[[:space:]]*$/ { n++ }
        /^[[:space:]]+Passed: [0-9]+[[:space:]]*$/ { p += $2 }
        /^[[:space:]]+Failed: [0-9]+[[:space:]]*$/ { f += $2 }
        /^[[:space:]]+Skipped: [0-9]+[[:space:]]*$/ { s += $2 }
        END { printf "%d %d %d %d\n", n, p, f, s }'
)

echo
echo "test.sh: ${projects} test project(s) reported; dotnet test exit status ${status}"
if ((projects == 0)); then
    echo "test.sh: no test project reported results (build error?)" >&2
    exit $((status != 0 ? status : 1))
fi
if ((status != 0 && failed == 0)); then
    # Counting 0 failures here would hide the real problem (a build error or a crashed test host).
    echo "test.sh: dotnet test failed without a failing test (build error or crashed test host); see above" >&2
fi
if ((failed > 0)); then
    # CI keeps only the tail of the output, so the failures are repeated here, each with the first
    # lines of its message and stack trace.
    echo "test.sh: failed tests:"
    sed -E 's/\x1b\[[0-9;]*m//g' "$log" | awk '
        /^  Failed [^ ]/ { shown = 0; on = 1 }
        on && (/^  (Passed|Skipped) / || /^\[xUnit/ || /^Test Run/) { on = 0 }
        on && shown < 30 { print; shown++ }'
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if ((status == 0 && passed == 0)); then
    exit 1
fi
exit "$status"
