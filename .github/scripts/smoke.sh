#!/usr/bin/env bash
# Post-deploy smoke test: trade the environment's long-lived Cognito refresh token (an environment
# secret of a dedicated test user) for a short-lived access token, then run ops.smoke.
# Needs API_URL, CLIENT_ID, SMOKE_REFRESH_TOKEN; optional SMOKE_PRACTICE_ID. Never prints the token.
set -euo pipefail
: "${API_URL:?API_URL is empty: the deploy job exported no api_url output}"
: "${CLIENT_ID:?CLIENT_ID is empty: the deploy job exported no app_client_id output}"
: "${SMOKE_REFRESH_TOKEN:?set the SMOKE_REFRESH_TOKEN secret on this environment (see docs/policy-plan-cost.md)}"
SMOKE_TOKEN="$(aws cognito-idp initiate-auth --auth-flow REFRESH_TOKEN_AUTH \
  --client-id "$CLIENT_ID" --auth-parameters "REFRESH_TOKEN=$SMOKE_REFRESH_TOKEN" \
  --query AuthenticationResult.AccessToken --output text)"
echo "::add-mask::$SMOKE_TOKEN"
export SMOKE_TOKEN
args=(--requests 200 --json smoke.json)
if [ -n "${SMOKE_PRACTICE_ID:-}" ]; then
  args+=(--practice-id "$SMOKE_PRACTICE_ID")
fi
python -m ops.smoke "$API_URL" "${args[@]}"
