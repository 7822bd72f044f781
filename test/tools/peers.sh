#!/usr/bin/env bash
# The real peers the tests use, from Debian's packages: openssl (the sandbox's dev CA),
# Postfix and its smtp-sink (a receiving MTA and DSN generator we did not write), postfix-pcre,
# python3-dkim (an independent DKIM verifier) and chromium (the dashboard's browser test,
# driven by playwright-core). Runs before `npm test` (the pretest step):
# installs what is missing when it can (root with apt-get), otherwise stops at once with the
# one command to run. No test skips for a missing peer.
set -euo pipefail

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/sbin/postfix ] || need+=(postfix)
[ -f /etc/postfix/dynamicmaps.cf.d/pcre ] || [ -e /usr/lib/postfix/postfix-pcre.so ] || need+=(postfix-pcre)
# The system python3 (not a pyenv or venv one) is the one Debian's python3-dkim serves.
/usr/bin/python3 -c 'import dkim, nacl' >/dev/null 2>&1 || need+=(python3-dkim)
[ -x /usr/bin/chromium ] || need+=(chromium)

[ ${#need[@]} -eq 0 ] && exit 0

command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${need[*]}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test needs Debian packages that are missing (${need[*]}): run as root: $command" >&2
  exit 1
fi

echo "pretest: installing the tests' real peers: ${need[*]}" >&2
# Postfix asks what kind of mail system this is; the tests configure it themselves.
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
