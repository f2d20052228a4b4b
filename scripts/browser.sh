#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian's `chromium` and `chromium-driver`)
# when they are missing, for tests/tests/shop_browser.rs. Safe to run again: it does nothing
# when both are there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "browser.sh: $(chromium --version 2>/dev/null); $(chromedriver --version | cut -d' ' -f1-2)"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Recommended packages stay: they bring the fonts the pages and screenshots need.
$sudo apt-get install -y -qq chromium chromium-driver >/dev/null
echo "browser.sh: installed $(chromium --version 2>/dev/null); $(chromedriver --version | cut -d' ' -f1-2)"
