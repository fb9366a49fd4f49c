#!/usr/bin/env bash
# The env function of the gofaas store (template bash-streaming): it
# answers with its environment, one NAME=value per line, sorted. Besides the
# function's own variables, the watchdog sets Http_Method, Http_Path,
# Http_Query and one Http_<Header> per request header.
set -euo pipefail

cat > /dev/null # the request body is not used
env | LC_ALL=C sort
