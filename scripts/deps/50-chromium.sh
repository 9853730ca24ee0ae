#!/usr/bin/env bash
# Chromium and its driver for the headless browser test of the IAM login
# page (e2e/browser, driven by playwright-core with
# executablePath /usr/bin/chromium). Idempotent: installs only when the
# browser is missing. dpkg sometimes fails a first attempt on a fresh
# machine (a trigger or a half-configured dependency): it is retried once
# after `dpkg --configure -a`.
set -euo pipefail
if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
echo "deps: chromium missing; installing chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
install() { apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null; }
if ! install; then
  echo "deps: apt-get failed once; retrying after dpkg --configure -a" >&2
  dpkg --configure -a >/dev/null 2>&1 || true
  install
fi
/usr/bin/chromium --version >&2
