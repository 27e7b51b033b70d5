#!/usr/bin/env bash
# The HTTP API against its own OpenAPI schema, on a live server: Schemathesis generates requests from
# the schema (valid ones and broken ones) for every operation, as a student and then as a teacher of
# the seeded example project, and fails on any 5xx and any answer the schema does not describe (its
# status, content type, headers or body). See "Testing" in docs/http-api.rst.
#
# Usage: .ci/schemathesis.sh [PYTHON]   (default .venv/bin/python, with schemathesis installed beside it)
# SCHEMATHESIS_EXAMPLES (default 50) bounds the test cases per operation in the generating phases.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}
schemathesis="$(cd "$(dirname "$python")" && pwd)/schemathesis"
examples=${SCHEMATHESIS_EXAMPLES:-50}

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server"
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh database (its emails go to files beside it), migrated and seeded; the demo prints a token
# for its API student and its API teacher.
export LIVECLASS_DEMO_DB="$work/demo.sqlite3" DJANGO_SETTINGS_MODULE=example_project.settings
"$python" example_project/manage.py liveclass_demo --verbosity 0 >"$work/seed.txt"
token() { sed -n "s/^API token for $1: //p" "$work/seed.txt"; }
student=$(token s.chen)
teacher=$(token t.jones)
if [ -z "$student" ] || [ -z "$teacher" ]; then
  echo "liveclass_demo printed no API tokens:" >&2
  cat "$work/seed.txt" >&2
  exit 1
fi

# One request at a time (--nothreading): every answer then closes its connection. A threaded
# runserver keeps connections alive and stalls each answer about 40 ms (its headers and body go out
# in two writes), which makes the run four times slower.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$python" example_project/manage.py runserver --noreload --nothreading "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
if ! "$python" - "$base/api/schema/" <<'PY'; then
import sys
import time
import urllib.request

deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
            sys.exit(response.status != 200)
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.3)
PY
  echo "the example project did not answer at $base:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

# What the schema cannot tell (which ids exist, which times lie ahead), offered in about half of the
# generated requests, so that they get past a 404 or a start in the past to the rules behind: the
# seeded demo's small ids, instants over the next two weeks, lesson lengths, zones and rules.
"$python" - "$work/schemathesis.toml" <<'PY'
import datetime as dt
import json
import sys

hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
dictionaries = {
    "ids": [str(n) for n in range(1, 31)],  # as a path holds them
    "numbers": list(range(1, 31)),  # as a body or a query holds them
    "teachers": ["2", "3"],  # t.jones and m.garcia, the demo's second and third users
    "instants": [(hour + dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(20, 24 * 15, 3)],
    "minutes": [30, 45, 60, 90],
    "zones": ["Europe/London", "Europe/Madrid", "UTC", "America/New_York"],
    "rules": ["FREQ=WEEKLY;COUNT=3", "FREQ=DAILY;COUNT=2", "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"],
}
bindings = {
    "ids": ["path.id"],
    "numbers": ["body.session", "query.teacher"],
    "instants": ["body.start", "body.first_start", "body.from_start", "query.start", "query.end",
                 "query.start_after", "query.start_before"],
    "minutes": ["body.duration_minutes", "query.duration_minutes"],
    "zones": ["body.timezone"],
    "rules": ["body.rrule"],
}
with open(sys.argv[1], "w", encoding="utf-8") as toml:
    # The API ignores query parameters it does not know (DRF's `format`, a client's cache buster),
    # so an unknown one is no invalid request.
    toml.write("[generation]\nallow-extra-parameters = false\n\n")
    for name, values in dictionaries.items():
        toml.write(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n\n")
    toml.write("[parameters]\n")
    for name, keys in bindings.items():
        for key in keys:
            toml.write(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}\n')
    toml.write('\n[[operations]]\ninclude-path-regex = "^/teachers/"\n'
               'parameters = { "path.id" = { dictionary = "teachers", probability = 0.5 } }\n')
PY

# Every check that judges an answer against the schema, and whether the API rejects what the schema
# forbids and keeps refusing without credentials. Not positive_data_acceptance: a request the schema
# allows may still be refused by a rule it cannot express (a start in the past, a teacher's policy),
# with a 400 or 409 and a code the operation documents.
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance
checks=$checks,response_schema_conformance,negative_data_rejection,ignored_auth
status=0
for who in student teacher; do
  printf '\n--- as the %s\n' "$who"
  # In the work directory: Schemathesis keeps nothing in the checkout.
  (cd "$work" && "$schemathesis" --config-file "$work/schemathesis.toml" run "$base/api/schema/" \
    --header "Authorization: Token ${!who}" \
    --checks "$checks" \
    --max-examples "$examples" \
    --workers 2 \
    --generation-database none \
    --request-timeout 30 \
    --no-color) || status=1
done
if [ "$status" != 0 ]; then
  printf '\n--- the server log\n' >&2
  tail -n 200 "$work/server.log" >&2
fi
exit "$status"
