#!/usr/bin/env bash
# Installs what `make interop` needs, when some of it is missing:
#   python3-aiosmtpd (SMTP server), dovecot-core + dovecot-lmtpd (LMTP server and Postfix's
#   SASL), postfix (smtp-sink, and Postfix itself as a full MTA), openssl (test certificates),
#   libidn12 (the one library exim4-daemon-light needs that a Debian base system lacks);
#   Exim: Debian's exim4-daemon-light, fetched with `apt-get download` and unpacked with
#   `dpkg -x` into $EXIM_ROOT (not installed: it Provides mail-transport-agent and would
#   displace postfix), plus the Debian-exim system user its binary insists on.
#
# Nothing is configured or started by the packages:
#   - postfix is preseeded with "No configuration" (no main.cf, no debconf questions);
#   - a temporary /usr/sbin/policy-rc.d (exit 101) stops maintainer scripts from
#     starting the system services (only if none exists; removed afterwards);
#   - on a systemd machine, the dovecot and postfix units are disabled afterwards,
#     so nothing starts at the next boot either.
# The interop servers are started by hand by run.sh, on loopback only.
#
# apt waits (up to 10 minutes) for the dpkg lock another apt holds, and each apt command is
# retried every 10 s, up to 30 times, while it still fails on a lock.
#
# `install.sh --exim-path` prints the unpacked exim4 binary's path and installs nothing.
set -euo pipefail

PKGS=(python3-aiosmtpd dovecot-core dovecot-lmtpd postfix openssl libidn12)
# The unpacked Exim, one directory per package version.
EXIM_ROOT=${POSTWIRE_EXIM_ROOT:-/opt/postwire-interop/exim4-daemon-light}
exim_bin() { ls -d "$EXIM_ROOT"/*/usr/sbin/exim4 2>/dev/null | sort | tail -n 1; }
if [ "${1:-}" = --exim-path ]; then
	bin=$(exim_bin)
	if [ -z "$bin" ]; then
		echo "interop: no exim4 unpacked under $EXIM_ROOT (run install.sh as root)" >&2
		exit 1
	fi
	echo "$bin"
	exit 0
fi

# apt_retry CMD...: runs an apt command, waiting for the dpkg lock, again if it failed on a
# lock another process held.
apt_retry() {
	local n out
	for n in $(seq 30); do
		if out=$("$@" -o DPkg::Lock::Timeout=600 2>&1); then
			return 0
		fi
		if ! grep -qiE 'could not get lock|unable to acquire|lock-frontend|is another process using it' <<<"$out"; then
			echo "$out" >&2
			return 1
		fi
		echo "interop: apt is busy (another apt running?); retrying in 10 s" >&2
		sleep 10
	done
	echo "$out" >&2
	return 1
}

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
need_exim=
if [ -z "$(exim_bin)" ] || ! getent passwd Debian-exim >/dev/null; then
	need_exim=1
fi
if [ ${#missing[@]} -eq 0 ] && [ -z "$need_exim" ]; then
	echo "interop: packages present: ${PKGS[*]}; exim4 at $(exim_bin)"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "interop: missing: ${missing[*]} ${need_exim:+exim4 (unpacked)}; run as root to install them" >&2
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

echo "interop: installing ${missing[*]} ${need_exim:+exim4-daemon-light (unpacked)}"
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

apt_retry apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
	apt_retry apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}"
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	systemctl disable --quiet dovecot.socket dovecot.service postfix.service 2>/dev/null || true
fi

if [ -n "$need_exim" ]; then
	# The binary is built with EXIM_USER=Debian-exim and stops before reading any
	# configuration if that user does not exist (exim4-base's postinst would create it).
	if ! getent passwd Debian-exim >/dev/null; then
		getent group Debian-exim >/dev/null || groupadd --system Debian-exim
		useradd --system --gid Debian-exim --home-dir /nonexistent --no-create-home \
			--shell /usr/sbin/nologin Debian-exim
	fi
	if [ -z "$(exim_bin)" ]; then
		dl=$(mktemp -d)
		chown _apt "$dl" 2>/dev/null || true # apt downloads as _apt when it can
		(cd "$dl" && apt_retry apt-get download exim4-daemon-light)
		deb=$(ls "$dl"/exim4-daemon-light_*.deb)
		version=$(dpkg-deb -f "$deb" Version)
		mkdir -p "$EXIM_ROOT"
		dpkg -x "$deb" "$EXIM_ROOT/$version"
		rm -rf "$dl"
	fi
	if ldd "$(exim_bin)" | grep -q 'not found'; then
		echo "interop: $(exim_bin) lacks libraries:" >&2
		ldd "$(exim_bin)" | grep 'not found' >&2
		exit 1
	fi
fi

echo "interop: installed in $(($(date +%s) - start)) s"
