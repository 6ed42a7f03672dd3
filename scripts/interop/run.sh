#!/usr/bin/env bash
# `make interop`: postwire against real servers, on loopback only.
#
#  1. installs the Debian packages if missing (install.sh; needs root);
#  2. makes a temporary directory ($WORK) with a test CA and server certificate;
#  3. starts, each on 127.0.0.1 (ports chosen by the kernel) or a Unix socket in $WORK:
#       aiosmtpd (aiosmtpd_server.py): plain, STARTTLS+AUTH, and implicit-TLS+AUTH listeners;
#       Dovecot LMTP (dovecot.conf.in): a Unix socket and a 127.0.0.1 TCP port;
#       Postfix smtp-sink: with PIPELINING, without PIPELINING/8BITMIME, refusing every RCPT,
#         LMTP on a Unix socket, and four misbehaving ones (hang up after the dot, 421 at RCPT,
#         550 right after the 354, 30 s before answering DATA); each dumps the messages it
#         takes into $WORK/sink/<name>/;
#       Postfix as a full MTA (postfix/*.in): master, smtpd with STARTTLS and AUTH (checked by
#         Dovecot's auth socket), virtual(8) delivery into $WORK/postfix/mail/all;
#       Exim (exim.conf.in), the exim4-daemon-light that install.sh unpacked: STARTTLS, AUTH,
#         delivery into $WORK/exim/mail;
#  4. waits (bounded) until each listens, exports the addresses as POSTWIRE_INTEROP_* and runs
#     `go test -tags interop ./interop/...` (twice: the MTA tests, TestMTA*, timed apart);
#  5. always stops the servers it started, by PID, and prints their logs if anything failed.
#
# KEEP=1 keeps $WORK afterwards (its path is printed).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/scripts/interop
GO=${GO:-go}
PY=/usr/bin/python3 # Debian's python3-aiosmtpd lives in the system interpreter's dist-packages

bash "$HERE/install.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "interop: run as root (Dovecot switches to the mail user, smtp-sink to nobody)" >&2
	exit 1
fi

# The servers write dates and messages; pin their zone and locale so that what they write,
# and so what the tests must accept, does not depend on the machine (the Received-header
# patterns in interop/received_test.go still accept any numeric zone).
export TZ=UTC LC_ALL=C.UTF-8

t0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/postwire-interop.XXXXXX")
chmod 755 "$WORK" # the mail user (nobody) must reach its Maildir below

pids=()
names=()
result=1
stop_servers() {
	local i pid n
	for i in "${!pids[@]}"; do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
	done
	for i in "${!pids[@]}"; do
		pid=${pids[$i]}
		for n in $(seq 50); do # at most 5 s each, then SIGKILL
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "interop: ${names[$i]} (pid $pid) ignored SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
on_exit() {
	local rc=$?
	trap - EXIT
	stop_servers
	if [ "$result" -ne 0 ]; then
		for f in "$WORK"/logs/*.log "$WORK"/dovecot/dovecot.log; do
			[ -s "$f" ] || continue
			echo "===== ${f#"$WORK"/} (last 60 lines) ====="
			tail -n 60 "$f"
		done
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "interop: kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/logs" "$WORK/tls" "$WORK/aiosmtpd" "$WORK/sink" "$WORK/dovecot" "$WORK/mail"

# start NAME CMD...: runs CMD in the background, its output in logs/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$WORK/logs/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}
alive() { kill -0 "${pids[$1]}" 2>/dev/null; }

# wait_for INDEX WHAT TEST...: polls TEST every 0.1 s, at most 15 s, while the server lives.
wait_for() {
	local idx=$1 what=$2 n
	shift 2
	for n in $(seq 150); do
		if "$@" 2>/dev/null; then return 0; fi
		if ! alive "$idx"; then
			echo "interop: ${names[$idx]} exited before $what was ready" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "interop: ${names[$idx]}: $what not ready after 15 s" >&2
	return 1
}
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- certificates: a CA and a server certificate for 127.0.0.1, ::1 and localhost -----------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=postwire interop CA" -keyout "$WORK/tls/ca.key" -out "$WORK/tls/ca.pem" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj "/CN=localhost" -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$WORK/tls/ext.cnf"
openssl x509 -req -in "$WORK/tls/server.csr" -CA "$WORK/tls/ca.pem" -CAkey "$WORK/tls/ca.key" \
	-CAcreateserial -days 2 -extfile "$WORK/tls/ext.cnf" -out "$WORK/tls/server.pem" 2>/dev/null

# --- aiosmtpd -------------------------------------------------------------------------------
start aiosmtpd "$PY" "$HERE/aiosmtpd_server.py" --dir "$WORK/aiosmtpd" \
	--addr-file "$WORK/aiosmtpd/addrs.json" --cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key"
i_aiosmtpd=$((${#pids[@]} - 1))

# --- Dovecot LMTP ---------------------------------------------------------------------------
MAIL_UID=$(id -u nobody)
MAIL_GID=$(id -g nobody)
DOVECOT_PORT=$(free_port)
sed -e "s|@WORK@|$WORK|g" -e "s|@LMTP_PORT@|$DOVECOT_PORT|g" \
	-e "s|@UID@|$MAIL_UID|g" -e "s|@GID@|$MAIL_GID|g" \
	"$HERE/dovecot.conf.in" >"$WORK/dovecot/dovecot.conf"
: >"$WORK/dovecot/users"
for u in alice bob carol; do
	echo "$u:{PLAIN}interop-secret:$MAIL_UID:$MAIL_GID::$WORK/mail/$u::" >>"$WORK/dovecot/users"
	mkdir -p "$WORK/mail/$u"
done
# The user Postfix's smtpd authenticates through Dovecot's auth socket (it gets no mail here).
echo "postwire:{PLAIN}interop-secret:$MAIL_UID:$MAIL_GID::$WORK/mail/postwire::" >>"$WORK/dovecot/users"
chown -R "$MAIL_UID:$MAIL_GID" "$WORK/mail"
# "frozen" exists but its home is not writable by the mail user: Dovecot accepts the RCPT and
# can only fail after the data, which exercises LMTP's per-recipient replies.
echo "frozen:{PLAIN}interop-secret:$MAIL_UID:$MAIL_GID::$WORK/mail/frozen::" >>"$WORK/dovecot/users"
mkdir -p "$WORK/mail/frozen"
chmod 555 "$WORK/mail/frozen"
start dovecot dovecot -F -c "$WORK/dovecot/dovecot.conf"
i_dovecot=$((${#pids[@]} - 1))

# --- Postfix smtp-sink ----------------------------------------------------------------------
SINK=/usr/sbin/smtp-sink
sink() { # sink NAME LISTEN OPTIONS...
	local name=$1 listen=$2
	shift 2
	mkdir -p "$WORK/sink/$name"
	chown nobody "$WORK/sink/$name"
	start "sink-$name" "$SINK" -u nobody -h smtp-sink.interop -t 60 \
		-d "$WORK/sink/$name/msg." "$@" "$listen" 16
}
SINK_PORT=$(free_port)
SINK_NOPIPE_PORT=$(free_port)
SINK_REJECT_PORT=$(free_port)
sink pipelining "127.0.0.1:$SINK_PORT"
i_sink=$((${#pids[@]} - 1))
sink nopipe "127.0.0.1:$SINK_NOPIPE_PORT" -p -8
i_sink_nopipe=$((${#pids[@]} - 1))
sink reject "127.0.0.1:$SINK_REJECT_PORT" -f RCPT
i_sink_reject=$((${#pids[@]} - 1))
sink lmtp "unix:$WORK/sink/lmtp.sock" -L
i_sink_lmtp=$((${#pids[@]} - 1))
SINK_HANGUP_PORT=$(free_port)
SINK_421_PORT=$(free_port)
SINK_ABORT_PORT=$(free_port)
sink hangup "127.0.0.1:$SINK_HANGUP_PORT" -q .
i_sink_hangup=$((${#pids[@]} - 1))
sink 421 "127.0.0.1:$SINK_421_PORT" -Q RCPT
i_sink_421=$((${#pids[@]} - 1))
sink abort "127.0.0.1:$SINK_ABORT_PORT" -A 0
i_sink_abort=$((${#pids[@]} - 1))
SINK_SLOW_PORT=$(free_port)
sink slow "127.0.0.1:$SINK_SLOW_PORT" -w 30
i_sink_slow=$((${#pids[@]} - 1))

# --- Postfix as a full MTA (postfix/main.cf.in) -------------------------------------------
# Its own config_directory, queue_directory and data_directory under $WORK/postfix; `postfix
# check` creates the queue directories with the owners Postfix wants, then master runs in the
# foreground (-s) so that its PID is ours to stop; it stops its children itself.
PF=$WORK/postfix
POSTFIX_PORT=$(free_port)
mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$PF/mail"
for f in main.cf master.cf; do
	sed -e "s|@WORK@|$WORK|g" -e "s|@PF@|$PF|g" -e "s|@PORT@|$POSTFIX_PORT|g" \
		-e "s|@UID@|$MAIL_UID|g" -e "s|@GID@|$MAIL_GID|g" "$HERE/postfix/$f.in" >"$PF/etc/$f"
done
cp "$HERE/postfix/mailboxes" "$PF/etc/mailboxes"
chown postfix "$PF/data"
chown "$MAIL_UID:$MAIL_GID" "$PF/mail"
postfix -c "$PF/etc" check >"$WORK/logs/postfix-check.log" 2>&1
start postfix /usr/lib/postfix/sbin/master -c "$PF/etc" -s
i_postfix=$((${#pids[@]} - 1))

# --- Exim (exim.conf.in), the binary install.sh unpacked ---------------------------------------
# It runs as Debian-exim (see exim.conf.in), so its directories, log files and a copy of the
# key belong to that user; the configuration itself must belong to root.
EXIM=$(bash "$HERE/install.sh" --exim-path)
EX=$WORK/exim
EXIM_PORT=$(free_port)
mkdir -p "$EX/spool" "$EX/mail"
cp "$WORK/tls/server.pem" "$WORK/tls/server.key" "$EX/"
for l in main reject panic; do : >"$WORK/logs/exim-${l}log.log"; done
sed -e "s|@WORK@|$WORK|g" -e "s|@EX@|$EX|g" -e "s|@PORT@|$EXIM_PORT|g" -e "s|@EXIM@|$EXIM|g" \
	-e "s|@USER@|postwire|g" -e "s|@PASSWORD@|interop-secret|g" "$HERE/exim.conf.in" >"$EX/exim.conf"
chown -R Debian-exim:Debian-exim "$EX" "$WORK"/logs/exim-*.log
chown root:root "$EX/exim.conf" # Exim refuses a configuration owned by anyone but root
start exim "$EXIM" -C "$EX/exim.conf" -bdf
i_exim=$((${#pids[@]} - 1))

# --- wait until everything listens -----------------------------------------------------------
wait_for "$i_aiosmtpd" "aiosmtpd" test -s "$WORK/aiosmtpd/addrs.json"
wait_for "$i_dovecot" "the LMTP socket" test -S "$WORK/dovecot/run/lmtp"
wait_for "$i_dovecot" "the LMTP port" tcp_open 127.0.0.1 "$DOVECOT_PORT"
wait_for "$i_sink" "port $SINK_PORT" tcp_open 127.0.0.1 "$SINK_PORT"
wait_for "$i_sink_nopipe" "port $SINK_NOPIPE_PORT" tcp_open 127.0.0.1 "$SINK_NOPIPE_PORT"
wait_for "$i_sink_reject" "port $SINK_REJECT_PORT" tcp_open 127.0.0.1 "$SINK_REJECT_PORT"
wait_for "$i_sink_lmtp" "the LMTP socket" test -S "$WORK/sink/lmtp.sock"
wait_for "$i_sink_hangup" "port $SINK_HANGUP_PORT" tcp_open 127.0.0.1 "$SINK_HANGUP_PORT"
wait_for "$i_sink_421" "port $SINK_421_PORT" tcp_open 127.0.0.1 "$SINK_421_PORT"
wait_for "$i_sink_abort" "port $SINK_ABORT_PORT" tcp_open 127.0.0.1 "$SINK_ABORT_PORT"
wait_for "$i_sink_slow" "port $SINK_SLOW_PORT" tcp_open 127.0.0.1 "$SINK_SLOW_PORT"
wait_for "$i_dovecot" "the auth socket" test -S "$WORK/dovecot/run/auth-postfix"
wait_for "$i_postfix" "port $POSTFIX_PORT" tcp_open 127.0.0.1 "$POSTFIX_PORT"
wait_for "$i_exim" "port $EXIM_PORT" tcp_open 127.0.0.1 "$EXIM_PORT"

aio() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/aiosmtpd/addrs.json" "$1"; }
export POSTWIRE_INTEROP_DIR=$WORK
export POSTWIRE_INTEROP_CA=$WORK/tls/ca.pem
export POSTWIRE_INTEROP_USER=postwire
export POSTWIRE_INTEROP_PASSWORD=interop-secret
export POSTWIRE_INTEROP_AIOSMTPD_PLAIN=$(aio plain)
export POSTWIRE_INTEROP_AIOSMTPD_STARTTLS=$(aio starttls)
export POSTWIRE_INTEROP_AIOSMTPD_SMTPS=$(aio smtps)
export POSTWIRE_INTEROP_AIOSMTPD_DIR=$WORK/aiosmtpd
export POSTWIRE_INTEROP_DOVECOT_SOCKET=$WORK/dovecot/run/lmtp
export POSTWIRE_INTEROP_DOVECOT_TCP=127.0.0.1:$DOVECOT_PORT
export POSTWIRE_INTEROP_DOVECOT_MAIL=$WORK/mail
export POSTWIRE_INTEROP_SINK=127.0.0.1:$SINK_PORT
export POSTWIRE_INTEROP_SINK_NOPIPE=127.0.0.1:$SINK_NOPIPE_PORT
export POSTWIRE_INTEROP_SINK_REJECT=127.0.0.1:$SINK_REJECT_PORT
export POSTWIRE_INTEROP_SINK_LMTP=$WORK/sink/lmtp.sock
export POSTWIRE_INTEROP_SINK_HANGUP=127.0.0.1:$SINK_HANGUP_PORT
export POSTWIRE_INTEROP_SINK_421=127.0.0.1:$SINK_421_PORT
export POSTWIRE_INTEROP_SINK_ABORT=127.0.0.1:$SINK_ABORT_PORT
export POSTWIRE_INTEROP_SINK_SLOW=127.0.0.1:$SINK_SLOW_PORT
export POSTWIRE_INTEROP_SINK_DIR=$WORK/sink
export POSTWIRE_INTEROP_POSTFIX=127.0.0.1:$POSTFIX_PORT
export POSTWIRE_INTEROP_POSTFIX_MAILDIR=$PF/mail/all
export POSTWIRE_INTEROP_POSTFIX_QUEUE=$PF/queue/incoming:$PF/queue/active:$PF/queue/deferred:$PF/queue/hold
export POSTWIRE_INTEROP_EXIM=127.0.0.1:$EXIM_PORT
export POSTWIRE_INTEROP_EXIM_MAILDIR=$EX/mail
export POSTWIRE_INTEROP_EXIM_QUEUE=$EX/spool/input

echo "interop: servers (work dir $WORK, ready in $(($(date +%s) - t0)) s):"
echo "  aiosmtpd $(dpkg-query -W -f='${Version}' python3-aiosmtpd): plain $POSTWIRE_INTEROP_AIOSMTPD_PLAIN, starttls $POSTWIRE_INTEROP_AIOSMTPD_STARTTLS, smtps $POSTWIRE_INTEROP_AIOSMTPD_SMTPS"
echo "  dovecot $(dovecot --version): lmtp $POSTWIRE_INTEROP_DOVECOT_SOCKET and $POSTWIRE_INTEROP_DOVECOT_TCP"
echo "  smtp-sink (postfix $(dpkg-query -W -f='${Version}' postfix)): $POSTWIRE_INTEROP_SINK, nopipe $POSTWIRE_INTEROP_SINK_NOPIPE, reject $POSTWIRE_INTEROP_SINK_REJECT,"
echo "    lmtp $POSTWIRE_INTEROP_SINK_LMTP, hangup $POSTWIRE_INTEROP_SINK_HANGUP, 421 $POSTWIRE_INTEROP_SINK_421, abort $POSTWIRE_INTEROP_SINK_ABORT, slow $POSTWIRE_INTEROP_SINK_SLOW"
echo "  postfix $(postconf -c "$PF/etc" -h mail_version) (master, smtpd, virtual; SASL via Dovecot): $POSTWIRE_INTEROP_POSTFIX"
echo "  exim $("$EXIM" -C "$EX/exim.conf" -bV 2>/dev/null | awk '/^Exim version/ {print $3}') (exim4-daemon-light, unpacked in ${EXIM%/usr/sbin/exim4}): $POSTWIRE_INTEROP_EXIM"

# Nothing of ours may listen beyond loopback.
if command -v ss >/dev/null; then
	for pid in "${pids[@]}"; do
		bad=$(ss -Hltnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | grep -Ev '^(127\.0\.0\.1|\[::1\]):' || true)
		if [ -n "$bad" ]; then
			echo "interop: pid $pid listens beyond loopback: $bad" >&2
			exit 1
		fi
	done
fi

# First the tests against aiosmtpd, Dovecot and smtp-sink, then those against Postfix and Exim
# (TestMTA*), timed apart.
t1=$(date +%s)
rc=0
"$GO" test -tags interop -count=1 -timeout 150s -v -skip '^TestMTA' ./interop/... || rc=$?
t2=$(date +%s)
"$GO" test -tags interop -count=1 -timeout 300s -v -run '^TestMTA' ./interop/... || rc=$?
t3=$(date +%s)
echo "interop: go test took $((t3 - t1)) s ($((t2 - t1)) s aiosmtpd/Dovecot/smtp-sink, $((t3 - t2)) s Postfix/Exim), whole run (after install) $((t3 - t0)) s"
if [ "$rc" -eq 0 ]; then
	result=0
fi
exit "$rc"
