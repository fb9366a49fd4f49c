#!/usr/bin/env bash
# Installs the optional tools some end-to-end tests use — Prometheus and
# AlertManager from Debian's packages, for test/e2e/autoscale_test.go — when
# they are missing and we are root. Idempotent, and it never fails its
# caller: without the tools those tests skip with a message.
# Usage: ./scripts/test-deps.sh
set -u

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }

if have prometheus && { have prometheus-alertmanager || have alertmanager; }; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: prometheus not installed (needs root and apt-get); its e2e test will skip" >&2
  exit 0
fi
echo "test-deps: installing prometheus and prometheus-alertmanager from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends prometheus prometheus-alertmanager >/dev/null 2>&1; then
  apt-get update >/dev/null 2>&1 || true
  apt-get install -y --no-install-recommends prometheus prometheus-alertmanager >/dev/null 2>&1 ||
    echo "test-deps: could not install prometheus; its e2e test will skip" >&2
fi
# The packages start services of their own where an init system runs; the
# tests start their own instances on free ports, so stop those.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null 2>&1 || true
fi
exit 0
