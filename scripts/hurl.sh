#!/usr/bin/env bash
# The HTTP collection (tests/hurl/*.hurl) against the real `sintra` binary:
# a state system's whole flow (token, a commission with its session and an
# agreement, a victim and a repeat with a duplicate warning, investigation →
# criminal case → defendant → sentence, the changes since a cursor) and the
# refusals it may meet. A fresh database on the test PostgreSQL, the server
# on a free local port; an administrator creates an institution of Nuevo
# León and a service account through the API, and the account's id and
# secret reach Hurl as --variable. Fails when any request or assert fails.
# The server and the database it made are removed on exit, whatever
# happened; the report and the server's log stay in target/hurl/.
#
# Hurl is installed with cargo (pinned) when missing or of another version:
# it is not among Debian's packages, and its npm package downloads a binary.
set -euo pipefail
cd "$(dirname "$0")/.."

HURL_VERSION=8.0.1

if [ "$(hurl --version 2>/dev/null | awk 'NR == 1 {print $2}')" != "$HURL_VERSION" ]; then
  echo "hurl: installing hurl $HURL_VERSION with cargo (a few minutes)" >&2
  # Hurl links libxml2 and libcurl. libxml2: with LIBXML2 naming the
  # library, the libxml crate uses its shipped bindings (made for libxml2
  # older than 2.12, as Debian 12's 2.9) instead of generating them with
  # bindgen, which would need libclang. libcurl: curl-sys builds its bundled
  # copy when pkg-config finds none, against OpenSSL (libssl-dev).
  missing=""
  for pkg in libxml2-dev libssl-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
  fi
  if printf '%s\n' 2.12 "$(pkg-config --modversion libxml-2.0)" | sort -V -C; then
    # 2.12 or newer: the shipped bindings do not fit; bindgen needs libclang.
    dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed" ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev; }
    cargo install hurl --locked --version "$HURL_VERSION" --quiet
  else
    LIBXML2="$(pkg-config --variable=libdir libxml-2.0)/libxml2.so" \
      cargo install hurl --locked --version "$HURL_VERSION" --quiet
  fi
fi

server=${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
server=${server%/*}
dbname="sintra_hurl_$$"
work=$PWD/target/hurl
rm -rf "$work" && mkdir -p "$work"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
pid=""

cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS \"$dbname\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cargo build -q -p sintra-http --bin sintra
admin_password="hurl-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
DATABASE_URL="$server/$dbname" SINTRA_BIND="127.0.0.1:$port" RUST_LOG=warn \
  SINTRA_ADMIN_USER=admin SINTRA_ADMIN_PASSWORD="$admin_password" \
  target/debug/sintra serve >"$work/server.out" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 120); do
  curl -sf "$base/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done

# The state system's account, as an administrator creates it: prints the
# client id and its secret (one line each).
python3 - "$base" "$admin_password" >"$work/account" <<'PY'
import json, sys, urllib.request, urllib.error

base, admin_password = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

def token(password):
    status, answer = call("POST", "/api/v1/auth/token",
                          {"grant_type": "password", "username": "admin", "password": password})
    assert status == 200, (status, answer)
    return answer["access_token"]

# The first admin's password is one-time: changed before anything else.
new_password = admin_password + "-nueva"
status, answer = call("POST", "/api/v1/auth/password",
                      {"current_password": admin_password, "new_password": new_password},
                      token(admin_password))
assert status in (200, 204), (status, answer)
admin = token(new_password)
status, inst = call("POST", "/api/v1/institutions",
                    {"entity_code": "19", "name": "Fiscalía General de Justicia de Nuevo León",
                     "institution_type": "FISCALIA"}, admin)
assert status == 201, (status, inst)
status, sa = call("POST", "/api/v1/service-accounts",
                  {"client_id": "fgj-nl.sistema", "name": "Sistema de casos de la FGJ Nuevo León",
                   "institution_id": inst["id"]}, admin)
assert status == 201, (status, sa)
print(sa["user"]["username"])
print(sa["one_time_secret"])
PY
{ read -r client_id; read -r client_secret; } <"$work/account"
rm -f "$work/account"

status=0
hurl --test --jobs 1 \
  --variable "base=$base" \
  --variable "client_id=$client_id" \
  --secret "client_secret=$client_secret" \
  --report-junit "$work/report.xml" \
  tests/hurl/*.hurl || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
  echo "hurl: the server died" >&2
  tail -n 40 "$work/server.log" >&2
  status=1
fi
if [ "$status" != 0 ]; then
  echo "hurl: failed; server log tail:" >&2
  grep -E '"level":"(ERROR|WARN)"' "$work/server.log" | tail -n 20 >&2 || true
  exit 1
fi
echo "hurl: the state system's collection passed" >&2
