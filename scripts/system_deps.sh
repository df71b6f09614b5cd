#!/usr/bin/env bash
# Installs the Debian packages tests need, where they are missing (make test runs this).
# A real browser for the web tests (chromium, its driver, a CJK font so Chinese renders);
# PostgreSQL for the SQL source tests; SoftHSM2 for the key-custody tests; promtool for the
# alert-rule tests.
set -euo pipefail
missing=()
need() { # need PACKAGE CHECK-PATH
  [ -e "$2" ] || missing+=("$1")
}
need chromium /usr/bin/chromium
need chromium-driver /usr/bin/chromedriver
need fonts-wqy-zenhei /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
# a real PostgreSQL server for the SQL source tests (bench/postgres.py starts a throwaway cluster)
need postgresql /usr/lib/postgresql
# SoftHSM2, a software PKCS#11 token, for the key-custody tests (tests/softhsm.py)
need softhsm2 /usr/bin/softhsm2-util
# promtool (Debian's prometheus package) checks and unit-tests deploy/prometheus/alerts.yml
need prometheus /usr/bin/promtool
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]} (install them: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
