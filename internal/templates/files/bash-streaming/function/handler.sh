#!/usr/bin/env bash
# Runs once per request: the request body arrives on stdin, and whatever is
# written to stdout is streamed back as the response body.
set -euo pipefail

bytes=$(wc -c | tr -d ' ')
echo "Hello from gofaas! You sent ${bytes} bytes to ${Http_Method:-a request} ${Http_Path:-/}."
