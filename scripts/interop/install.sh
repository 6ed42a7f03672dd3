#!/usr/bin/env bash
# Installs the Debian packages `make interop` needs, when some are missing:
#   python3-aiosmtpd (SMTP server), dovecot-core + dovecot-lmtpd (LMTP server),
#   postfix (for smtp-sink only), openssl (test certificates).
#
# Nothing is configured or started by the packages:
#   - postfix is preseeded with "No configuration" (no main.cf, no debconf questions);
#   - a temporary /usr/sbin/policy-rc.d (exit 101) stops maintainer scripts from
#     starting the system services (only if none exists; removed afterwards);
#   - on a systemd machine, the dovecot and postfix units are disabled afterwards,
#     so nothing starts at the next boot either.
# The interop servers are started by hand by run.sh, on loopback only.
set -euo pipefail

PKGS=(python3-aiosmtpd dovecot-core dovecot-lmtpd postfix openssl)

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "interop: packages present: ${PKGS[*]}"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "interop: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi

# postfix Provides mail-transport-agent and would replace another MTA (exim4, ...): refuse
# rather than remove the machine's mail system.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
	other=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
		awk '$1 == "ii" && /mail-transport-agent/ {print $2}' | grep -vx postfix || true)
	if [ -n "$other" ]; then
		echo "interop: installing postfix (for smtp-sink) would replace the installed MTA: $other" >&2
		echo "interop: install postfix yourself if that is acceptable, then rerun" >&2
		exit 1
	fi
fi

echo "interop: installing ${missing[*]}"
start=$(date +%s)

created_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# temporary, from postwire scripts/interop/install.sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
EOF

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" >/dev/null

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	systemctl disable --quiet dovecot.socket dovecot.service postfix.service 2>/dev/null || true
fi

echo "interop: installed in $(($(date +%s) - start)) s"
