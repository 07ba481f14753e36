#!/usr/bin/env bash
# deps.sh GROUP: makes sure the Debian packages a make target needs are installed.
# As root it installs what is missing with apt-get; otherwise it says exactly what to install.
set -euo pipefail
case "${1:-run}" in
  run)   pkgs="postgresql victoria-metrics" ;;
  test)  pkgs="postgresql postgresql-client victoria-metrics snmpd snmp nftables chromium prometheus-alertmanager fping prometheus docker-compose" ;;
  bench) pkgs="postgresql victoria-metrics snmpd nftables fping prometheus-blackbox-exporter prometheus-snmp-exporter wrk" ;;
  *) echo "deps.sh: unknown group $1" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  # postgresql may come from the machine's own build (initdb on PATH) rather than the package.
  if [ "$p" = postgresql ] && { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then continue; fi
  # pg_dump (the dump-has-no-secret test) may come from a versioned client package.
  if [ "$p" = postgresql-client ] && command -v pg_dump >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages:$missing" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages such as snmpd try to start their service on install; policy-rc.d stops that so the
# tests can start their own on loopback ports.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends $missing >/dev/null
