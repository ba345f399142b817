#!/usr/bin/env bash
# Installs the system packages the test suite needs (Debian). Shared by test.sh (developers) and
# .ci/run, so both machines end up with the same tools.
#   --if-missing  only touch apt when something is actually missing (test.sh: a developer's rerun
#                 should not wait on apt-get update)
# The tests start their own PostgreSQL (tests/AnomalyActors.Node.Tests/PostgresServer.cs) and their
# own mosquitto on free loopback ports, so only the binaries are wanted: the distro services must not
# be started. kcat checks the Kafka test cluster from outside the test process; ss (iproute2) reads
# the kernel's socket buffers of the MQTT subscriber. chromium is the browser the dashboard's page is
# tested in (Playwright drives it); prometheus brings promtool, which checks /metrics.
set -euo pipefail

packages=(postgresql sqlite3 mosquitto mosquitto-clients kcat iproute2 chromium prometheus)

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
have_command() { command -v "$1" >/dev/null || [[ -x "/usr/sbin/$1" ]]; }
have_all() { have_postgres && have_command sqlite3 && have_command mosquitto && have_command mosquitto_pub && have_command kcat && have_command ss && have_command chromium && have_command promtool; }

if [[ "${1:-}" == "--if-missing" ]] && have_all; then
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    if have_all; then
        exit 0
    fi
    echo "install-test-deps: missing system packages and not root; run as root or:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
fi

# invoke-rc.d asks policy-rc.d whether a package may start its service; 101 means no. Without it the
# postgresql postinst would start the distro's 'main' cluster on 5432 (or fail where it cannot), and
# mosquitto's would start a broker on 1883, the embedded broker's default port.
# A policy that is already there (container images ship one) is left alone.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    added_policy=1
fi
cleanup() { if ((added_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# Lock timeout: another apt run on the same machine (unattended upgrades) should delay us, not fail us.
apt_opts=(-o DPkg::Lock::Timeout=300)
if ! apt-get "${apt_opts[@]}" update; then
    # A stale package index can still install; if the tools are already here nothing is lost.
    if have_all; then
        echo "install-test-deps: apt-get update failed, but everything needed is installed; continuing" >&2
        exit 0
    fi
    echo "install-test-deps: apt-get update failed; trying the install with the current index" >&2
fi
if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends "${packages[@]}"; then
    if have_all; then
        echo "install-test-deps: apt-get install failed, but everything needed is installed; continuing" >&2
        exit 0
    fi
    echo "install-test-deps: apt-get install ${packages[*]} failed" >&2
    exit 1
fi

if ! have_all; then
    echo "install-test-deps: installed ${packages[*]} but initdb (/usr/lib/postgresql/*/bin), sqlite3, mosquitto, mosquitto_pub, kcat, ss, chromium or promtool is still missing" >&2
    exit 1
fi
