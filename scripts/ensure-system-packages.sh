#!/usr/bin/env bash
# ensure-system-packages.sh GROUP...
#
# Installs the Debian packages a group of tasks needs (npm test, npm run bench, interop tests), and only the ones
# that are missing, so it is cheap to call before every run. Exit codes: 0 all present, 2 usage, 3 missing and we
# are not root (the command to run is printed), 4 a package the archive does not offer, other: apt-get failed.
#
# A package written "a|b" is satisfied by either; the first one the archive offers is installed (nginx-light
# exists on Debian 12 but not on later releases, where nginx is the small build).
set -euo pipefail

# One line per group: adding a group is adding a line.
declare -A PKG_GROUPS=(
  [test]="curl openssl python3 python3-requests python3-requests-ntlm libwww-perl libauthen-ntlm-perl openjdk-17-jre-headless|default-jre-headless chromium php-cgi"
  [bench]="wrk nginx-light|nginx apache2 apache2-utils curl"
)

# Packages that bring a daemon whose default configuration listens on :80.
DAEMON_PIDFILES=(/run/nginx.pid /run/apache2/apache2.pid)

usage() {
  echo "usage: $0 GROUP..." >&2
  echo "groups: ${!PKG_GROUPS[*]}" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

has_candidate() {
  local candidate
  candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

# Collect the alternatives that are not satisfied, without duplicates across groups.
declare -a missing=()
declare -A seen=()
for group in "$@"; do
  [[ -n "${PKG_GROUPS[$group]+x}" ]] || { echo "unknown group: $group" >&2; usage; }
  for spec in ${PKG_GROUPS[$group]}; do
    [[ -z "${seen[$spec]+x}" ]] || continue
    seen[$spec]=1
    satisfied=0
    IFS='|' read -r -a alternatives <<<"$spec"
    for pkg in "${alternatives[@]}"; do
      if is_installed "$pkg"; then satisfied=1; break; fi
    done
    [[ $satisfied -eq 1 ]] || missing+=("$spec")
  done
done

[[ ${#missing[@]} -gt 0 ]] || exit 0

if [[ $EUID -ne 0 ]]; then
  echo "missing Debian packages: ${missing[*]//|/ or }" >&2
  first_choices=()
  for spec in "${missing[@]}"; do first_choices+=("${spec%%|*}"); done
  echo "install them as root with:" >&2
  echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${first_choices[*]}" >&2
  exit 3
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt/dpkg (another helper, unattended upgrades) instead of failing at once.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)

apt-get "${APT_OPTS[@]}" update -qq

to_install=()
for spec in "${missing[@]}"; do
  IFS='|' read -r -a alternatives <<<"$spec"
  chosen=""
  for pkg in "${alternatives[@]}"; do
    if has_candidate "$pkg"; then chosen="$pkg"; break; fi
  done
  if [[ -z "$chosen" ]]; then
    echo "no installable package for: ${spec//|/ or } (not in the configured Debian archive)" >&2
    exit 4
  fi
  to_install+=("$chosen")
done

# A policy-rc.d that answers 101 keeps invoke-rc.d from starting packaged daemons (nginx and Apache would take :80
# with their default sites). Keep any existing one aside and put it back whatever happens.
POLICY=/usr/sbin/policy-rc.d
policy_backup=""
if [[ -e "$POLICY" || -L "$POLICY" ]]; then
  policy_backup="$(mktemp /usr/sbin/.policy-rc.d.persona.XXXXXX)"
  mv -f "$POLICY" "$policy_backup"
fi
restore_policy() {
  rm -f "$POLICY"
  if [[ -n "$policy_backup" ]]; then mv -f "$policy_backup" "$POLICY"; fi
}
trap restore_policy EXIT
trap 'exit 130' INT TERM HUP # turn fatal signals into an exit so that the EXIT trap runs
printf '#!/bin/sh\n# written by persona scripts/ensure-system-packages.sh for the time of one install\nexit 101\n' >"$POLICY"
chmod 755 "$POLICY"

port80_busy() { (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null; }
busy_before=0
if port80_busy; then busy_before=1; fi

echo "installing: ${to_install[*]}" >&2
apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${to_install[@]}"

# Should a daemon have started anyway (a postinst that ignores policy-rc.d), stop it: it would sit on :80 and
# compete with the benchmarks for the two cores. Only what appeared during this install is stopped.
if [[ $busy_before -eq 0 ]]; then
  for pidfile in "${DAEMON_PIDFILES[@]}"; do
    [[ -s "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      echo "stopping daemon pid $pid ($pidfile) started by the install" >&2
      kill -TERM "$pid" || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  # No pid file (or a stale one): find the listener itself, but only ever stop a packaged web server.
  if port80_busy && command -v ss >/dev/null; then
    for pid in $(ss -ltnpH 'sport = :80' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
      case "$comm" in
        nginx | apache2 | httpd) echo "stopping $comm pid $pid listening on :80" >&2; kill -TERM "$pid" || true ;;
      esac
    done
    sleep 1
  fi
  if port80_busy; then
    echo "warning: something still listens on 127.0.0.1:80 after the install" >&2
  fi
fi
exit 0
