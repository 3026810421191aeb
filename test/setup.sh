#!/usr/bin/env bash
# Install what building and testing booking needs on a Debian machine:
# PostgreSQL $PGVERSION (by default the one the release ships: 15 on Debian
# 12, 17 on 13, 18 on testing) with its server headers, libpq for the stress
# tool, psycopg2 for the real-client check, gnuplot for the benchmark's plot,
# pgbouncer, psycopg 3 and asyncpg for the pooler and client-library tests
# (node-postgres comes from npm: test/client/node, installed below).
# Idempotent: apt runs only when something is missing.
set -euo pipefail

. "$(dirname "$0")/pgversion.sh"

pkgs=(make gcc "postgresql-$PGVERSION" "postgresql-server-dev-$PGVERSION" postgresql-common
	  libpq-dev python3 python3-psycopg2 gnuplot-nox procps iproute2
	  pgbouncer python3-psycopg python3-asyncpg)
# node and npm: Debian's when the machine has none of its own
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node-postgres for the JavaScript example, at the versions package-lock.json
# pins, into test/client/node/node_modules (not committed); skipped where
# only this script was copied (test/root.sh preparing a root)
node_dir="$(dirname "$0")/client/node"
if [ -f "$node_dir/package.json" ] && [ ! -d "$node_dir/node_modules/pg" ]; then
	echo "setup: npm ci in test/client/node"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
