#!/usr/bin/env bash
# Post-deploy smoke test of a Google Cloud stack: trade the environment's long-lived Identity
# Platform refresh token (an environment secret of a dedicated test user) for a short-lived ID
# token at Google's secure token endpoint, then run ops.smoke.
# Needs API_URL, IDENTITY_API_KEY (the project's Identity Platform web API key, a public
# identifier), SMOKE_REFRESH_TOKEN; optional SMOKE_PRACTICE_ID. Never prints the token.
set -euo pipefail
: "${API_URL:?API_URL is empty: the deploy job exported no api_url output}"
: "${IDENTITY_API_KEY:?set the GCP_IDENTITY_API_KEY variable (see docs/policy-plan-cost.md)}"
: "${SMOKE_REFRESH_TOKEN:?set the GCP_SMOKE_REFRESH_TOKEN secret on this environment (see docs/policy-plan-cost.md)}"
SMOKE_TOKEN="$(curl --silent --show-error --fail --max-time 30 \
  "https://securetoken.googleapis.com/v1/token?key=${IDENTITY_API_KEY}" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=${SMOKE_REFRESH_TOKEN}" \
  | python -c 'import json, sys; print(json.load(sys.stdin)["id_token"])')"
echo "::add-mask::$SMOKE_TOKEN"
export SMOKE_TOKEN
args=(--requests 200 --json smoke.json)
if [ -n "${SMOKE_PRACTICE_ID:-}" ]; then
  args+=(--practice-id "$SMOKE_PRACTICE_ID")
fi
python -m ops.smoke "$API_URL" "${args[@]}"
