#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at 127.0.0.1:5432 and lets the
# `postgres` user in without a password from this machine (development and
# tests only). In order: an answering server is used as it is; an installed
# but stopped Debian cluster is started; on Debian/Ubuntu as root, PostgreSQL
# is installed from the distribution's packages. Otherwise it says what to do.
set -euo pipefail

host=127.0.0.1
port=5432

answers() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }
trusts() { psql -h "$host" -p "$port" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }

if ! command -v pg_isready >/dev/null 2>&1 || ! answers; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "dev-db: installing PostgreSQL from the distribution's packages" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq postgresql postgresql-client >/dev/null
    else
      echo "dev-db: no PostgreSQL answers at $host:$port. Start one with 'docker compose up -d db' or install PostgreSQL 15+." >&2
      exit 1
    fi
  fi
  if ! answers; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do answers && break; sleep 1; done
  fi
fi

if ! trusts; then
  # A fresh Debian cluster asks for a password over TCP: trust local TCP
  # connections, as the project's default DATABASE_URL expects.
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$hba" ] && [ "$(id -u)" = 0 ]; then
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    version=$(basename "$(dirname "$(dirname "$hba")")")
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    sleep 1
  fi
fi

if ! trusts; then
  echo "dev-db: PostgreSQL answers at $host:$port but user 'postgres' cannot log in without a password; set DATABASE_URL and TEST_DATABASE_URL with credentials." >&2
  exit 1
fi
echo "dev-db: PostgreSQL ready at $host:$port" >&2
