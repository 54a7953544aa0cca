#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a browser a test tool downloads itself).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "error: the browser tests need Debian's chromium: sudo apt-get install chromium" >&2
  exit 1
fi
