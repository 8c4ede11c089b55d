#!/usr/bin/env bash
# Install the system packages Postroom's tests need, and only those missing:
# PostgreSQL server binaries (the suite starts a throwaway cluster), chromium
# (browser tests), Postfix's smtp-sink (benchmarks), Dovecot (the bounce mailbox tests start
# a throwaway one), gettext (tests/languages extracts the translatable strings with its
# xgettext), a Chinese font (the zh-hans screenshots show boxes without one), SpamAssassin
# (tests/campaigns/test_gallery.py scores the gallery's layouts with its shipped rules) and
# Python's venv module.
# Debian/Ubuntu; installing needs root. Repeated runs install nothing and are fast.
set -euo pipefail

missing=()
if ! command -v initdb >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    missing+=(postgresql)
fi
if ! command -v chromium >/dev/null; then
    missing+=(chromium)
fi
if ! command -v smtp-sink >/dev/null && [ ! -x /usr/sbin/smtp-sink ]; then
    missing+=(postfix)
fi
if ! command -v dovecot >/dev/null && [ ! -x /usr/sbin/dovecot ]; then
    missing+=(dovecot-imapd dovecot-pop3d)
fi
if ! command -v xgettext >/dev/null; then
    missing+=(gettext)
fi
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    missing+=(fonts-wqy-microhei)
fi
if ! command -v spamassassin >/dev/null; then
    missing+=(spamassassin)
fi
if ! python3.11 -c "import ensurepip, venv" 2>/dev/null; then
    missing+=(python3.11-venv)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only wanted for its smtp-sink tool: tell its installer not to set up a mail system.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
