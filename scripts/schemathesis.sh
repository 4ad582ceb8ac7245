#!/usr/bin/env bash
# A bounded schemathesis run against the real `sintra` binary: a fresh
# database on the test PostgreSQL, the server on a free local port, one
# account of every role (national admin, entity admin, operator, analyst,
# auditor, service account), a fixed seed, and a time budget per role
# (SINTRA_FUZZ_SECONDS, 45 by default: about 5 minutes in all;
# SINTRA_FUZZ_ROLES="operator analyst" runs only those). It fails on
# any 5xx answer (check `not_a_server_error`) and on any answer that breaks
# the spec: a status the operation does not list, a content type it does
# not declare, a body its schema refuses (the conformance checks). The
# server and the database
# it made are removed on exit, whatever happened; reports and the server's
# log stay in target/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
seconds=${SINTRA_FUZZ_SECONDS:-45}
seed=${SINTRA_FUZZ_SEED:-20261202}

if ! command -v st >/dev/null 2>&1 || [ "$(st --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "schemathesis: installing schemathesis==$SCHEMATHESIS_VERSION" >&2
  python3 -m pip install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

server=${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
server=${server%/*}
dbname="sintra_fuzz_$$"
# Reports and logs stay for reading after the run.
work=$PWD/target/schemathesis
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
admin_password="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
DATABASE_URL="$server/$dbname" SINTRA_BIND="127.0.0.1:$port" RUST_LOG=warn \
  SINTRA_ADMIN_USER=admin SINTRA_ADMIN_PASSWORD="$admin_password" \
  SINTRA_LOGIN_MAX_FAILURES=1000000 \
  target/debug/sintra serve >"$work/server.out" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 120); do
  curl -sf "$base/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done

# Accounts of every role, through the API as an administrator creates them.
python3 - "$base" "$admin_password" >"$work/tokens" <<'PY'
import json, sys, urllib.request, urllib.error

base, admin_password = sys.argv[1], sys.argv[2]
NEW = "otra-contrasena-de-prueba-1234"

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

def login(username, password, grant="password"):
    body = {"grant_type": grant}
    body.update({"client_id": username, "client_secret": password} if grant == "client_credentials"
                else {"username": username, "password": password})
    status, answer = call("POST", "/api/v1/auth/token", body)
    assert status == 200, (username, status, answer)
    token = answer["access_token"]
    # A one-time password logs in only to change itself.
    status, answer = call("GET", "/api/v1/auth/me", token=token)
    if status == 403 and answer.get("code") == "password_change_required":
        status, answer = call("POST", "/api/v1/auth/password",
                              {"current_password": password, "new_password": NEW}, token)
        assert status in (200, 204), (username, status, answer)
        return login(username, NEW, grant)
    assert status == 200, (username, status, answer)
    return token

admin = login("admin", admin_password)
status, inst = call("POST", "/api/v1/institutions",
                    {"entity_code": "19", "name": "Fiscalía General de Justicia de Nuevo León",
                     "institution_type": "FISCALIA"}, admin)
assert status == 201, (status, inst)
inst_id = inst["id"]
tokens = {"national_admin": admin}
for role in ["entity_admin", "operator", "analyst", "auditor"]:
    status, user = call("POST", "/api/v1/users",
                        {"username": "fuzz." + role, "full_name": "Cuenta " + role, "role": role,
                         "institution_id": inst_id}, admin)
    assert status == 201, (role, status, user)
    tokens[role] = login("fuzz." + role, user["one_time_secret"])
status, sa = call("POST", "/api/v1/service-accounts",
                  {"client_id": "fuzz.sistema", "name": "Sistema estatal", "institution_id": inst_id}, admin)
assert status == 201, (status, sa)
tokens["system"] = login("fuzz.sistema", sa["one_time_secret"], "client_credentials")
for role, token in tokens.items():
    print(role, token)
PY

failed=0
while read -r role token; do
  case " ${SINTRA_FUZZ_ROLES:-$role} " in *" $role "*) ;; *) continue ;; esac
  echo "schemathesis: $role, ${seconds}s, seed $seed" >&2
  # Logout would revoke the token the rest of the run uses.
  # From the report folder: schemathesis keeps a cache where it runs.
  if ! (cd "$work" && st run "$base/api/v1/openapi.json" \
      --url "$base" \
      --header "Authorization: Bearer $token" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --seed "$seed" \
      --max-time "$seconds" \
      --workers 2 \
      --generation-allow-x00 true \
      --exclude-path /api/v1/auth/logout \
      --request-timeout 30 \
      --no-color \
      --report junit --report-junit-path "$work/$role.xml") \
      >"$work/$role.out" 2>&1; then
    # awk, not head: head would close the pipe early and, under pipefail,
    # end the script with SIGPIPE (exit 141) before the verdict below.
    sed -n '/^=* \(ERRORS\|FAILURES\) =*$/,/^=* SUMMARY =*$/p' "$work/$role.out" | awk 'NR <= 200' >&2
    # A failed check is a 5xx or an answer the spec does not describe:
    # the run fails. An error of schemathesis's own (a generation or
    # runtime error, not an answer of the server) is shown but does not
    # fail CI; a dead server still does (checked below).
    if grep -qE '^=+ FAILURES =+$|Server error' "$work/$role.out"; then
      failed=1
      echo "schemathesis: a 5xx or an answer off the spec as $role (above)" >&2
    else
      echo "schemathesis: every answer as $role within the spec, but schemathesis reported an error of its own (above)" >&2
    fi
  else
    tail -n 4 "$work/$role.out" >&2
  fi
done <"$work/tokens"

if ! kill -0 "$pid" 2>/dev/null; then
  echo "schemathesis: the server died" >&2
  tail -n 40 "$work/server.log" >&2
  failed=1
fi
if [ "$failed" != 0 ]; then
  echo "schemathesis: failed; server log tail:" >&2
  grep -E '"level":"(ERROR|WARN)"' "$work/server.log" | tail -n 20 >&2 || true
  exit 1
fi
echo "schemathesis: no 5xx and no answer off the spec as any role" >&2
