#!/usr/bin/env bash
# Installs what the local stack and the Python workspace need, only where it is missing:
# uv (PyPI), PostgreSQL server, a Java runtime, Maven, a CJK font, Chromium and ChromeDriver (Debian
# packages), then `uv sync`.
# Kafka's jars are resolved by `leadflow stack up` with Maven; nothing downloads a binary at run time.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1m» %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  say "installing PostgreSQL (Debian packages)"
  apt_install postgresql postgresql-contrib
fi
if ! command -v java >/dev/null 2>&1; then
  say "installing a Java runtime for Kafka"
  apt_install openjdk-17-jre-headless
fi
if ! command -v mvn >/dev/null 2>&1; then
  say "installing Maven to resolve Kafka's jars"
  apt_install maven
fi
# The charts (leadflow_opportunity.charts) draw Chinese labels; they look for these files and refuse without one.
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] \
   && [ ! -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then
  say "installing a CJK font (Noto Sans CJK) for the charts' Chinese labels"
  apt_install fonts-noto-cjk
fi

# The console's browser tests drive Debian's Chromium through its ChromeDriver (no browser download at run time).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  say "installing Chromium and ChromeDriver for the console's browser tests"
  apt_install chromium chromium-driver
fi

# uv from PyPI: into the user's pip where allowed, else into a venv of our own (PEP 668 systems).
export PATH="$HOME/.local/bin:$PWD/.local/uv/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv"
  if ! python3 -m pip install --quiet --user uv 2>/dev/null; then
    python3 -m venv .local/uv 2>/dev/null || { apt_install python3-venv; python3 -m venv .local/uv; }
    .local/uv/bin/pip install --quiet uv
  fi
fi

# Never let uv fetch a Python build: use the machine's (3.11+).
export UV_PYTHON_DOWNLOADS=never
uv sync --frozen --quiet
