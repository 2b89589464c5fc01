#!/usr/bin/env bash
# Runs every check and test of tracenode: formatting, clippy (warnings denied), the whole
# test suite on SQLite and on a real PostgreSQL server, and the real-browser console tests.
# On a fresh machine it installs and starts what it needs (PostgreSQL, the aiosmtpd mail
# server, libxml2's xmllint, Chromium and ChromeDriver from the distribution's packages) or stops saying
# exactly what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"
  else sudo -u postgres sh -c "$1"
  fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain"
command -v cargo-nextest >/dev/null || cargo nextest --version >/dev/null 2>&1 \
  || die "cargo-nextest not found: cargo install cargo-nextest"

# Build dependencies of the -sys crates, and a Chinese font for console screenshots.
for pkg in libpq-dev libssl-dev pkg-config fonts-wqy-microhei; do
  dpkg -s "$pkg" >/dev/null 2>&1 || { say "installing $pkg"; apt_install "$pkg"; }
done

say "formatting"
cargo fmt --all -- --check

say "clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "benchmarks build (they are run by hand: see docs/benchmarks.md)"
cargo build --benches --locked

say "PostgreSQL"
PGPORT="${TRACENODE_TEST_PG_PORT:-5432}"
if ! command -v pg_ctlcluster >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing PostgreSQL"; apt_install postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
    as_root pg_createcluster "$version" main >/dev/null
  fi
  as_root pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p "$PGPORT" || die "PostgreSQL did not start on 127.0.0.1:$PGPORT"
fi
as_postgres "psql -q -p $PGPORT -tc \"SELECT 1 FROM pg_roles WHERE rolname='tracenode_test'\" | grep -q 1 \
  || psql -q -p $PGPORT -c \"CREATE ROLE tracenode_test LOGIN PASSWORD 'tracenode_test' CREATEDB\""
export TRACENODE_TEST_PG_URL="postgres://tracenode_test:tracenode_test@127.0.0.1:$PGPORT/postgres"

say "mail server (aiosmtpd, for the alert mail tests)"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || { say "installing python3"; apt_install python3; }
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || { say "installing python3-aiosmtpd"; apt_install python3-aiosmtpd; }
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || die "python3-aiosmtpd is installed but $PYTHON cannot import aiosmtpd"
export TRACENODE_TEST_PYTHON="$PYTHON"

say "XML Schema validator (libxml2's xmllint, for the envelope schema tests)"
command -v xmllint >/dev/null || { say "installing libxml2-utils"; apt_install libxml2-utils; }
export TRACENODE_TEST_XMLLINT="$(command -v xmllint)"

say "browser"
command -v chromium >/dev/null || { say "installing chromium"; apt_install chromium; }
command -v chromedriver >/dev/null || { say "installing chromedriver"; apt_install chromium-driver; }
export TRACENODE_TEST_CHROMEDRIVER="$(command -v chromedriver)"
export TRACENODE_TEST_CHROMIUM="$(command -v chromium)"
mkdir -p test-artifacts
export TRACENODE_TEST_ARTIFACTS="$PWD/test-artifacts"

say "the node's binary (the end-to-end scenarios in tests/ run it as a process)"
cargo build -p tracenode --bin tracenode --locked

say "tests (SQLite and PostgreSQL, browser, end-to-end)"
cargo nextest run --workspace --locked --no-fail-fast
