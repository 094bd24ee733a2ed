#!/usr/bin/env bash
# End-to-end acceptance of pam_nsession.so (issue: a login session in a fresh
# user+net+mount namespace). Needs root. What it sets up, all removed again
# by the EXIT trap:
#   - a private PAM service dir used through libpam-wrapper (pamtester, su -l,
#     runuser -l), so the system's /etc/pam.d is never read for those;
#   - a copy of /usr/sbin/sshd named sshd-nsession on 127.0.0.1:<random port>
#     with its own config and host key, and /etc/pam.d/sshd-nsession (the
#     service name sshd uses is its program name; /etc/pam.d/sshd is never
#     touched);
#   - a syslog sink on /dev/log (tests/e2e/syslog-capture.py) when nothing
#     serves /dev/log, to read what the module logs through pam_syslog;
#   - temporary lines in /etc/subuid (restored byte for byte).
# Every wait is bounded; every assertion is a check_* so it counts.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
	not_ok "e2e PAM tests need root"
	e2e_done
	exit 1
fi

MODULE=$NSESS_BUILDDIR/.libs/pam_nsession.so
PWRAP_LIB=$(dpkg -L libpam-wrapper 2>/dev/null | grep '/libpam_wrapper\.so$' | head -n 1)
IP=$(command -v ip || echo /usr/sbin/ip)
for need in pamtester socat ssh ssh-keygen su runuser python3 /usr/sbin/sshd; do
	command -v "$need" >/dev/null 2>&1 || { not_ok "tool $need is installed"; e2e_done; exit 1; }
done
if [ ! -f "$MODULE" ]; then
	not_ok "the module is built" "missing: $MODULE (run make in \$NSESS_BUILDDIR)"
	e2e_done
	exit 1
fi
if [ -z "$PWRAP_LIB" ] || [ ! -f "$PWRAP_LIB" ]; then
	not_ok "libpam_wrapper.so is installed" "install the Debian package libpam-wrapper"
	e2e_done
	exit 1
fi

U=$E2E_USER
NOSUB=$E2E_NOSUB
wd=$(mktemp -d /tmp/nsess-pam.XXXXXX)   # root 0700: policies, keys, logs
pub=$(mktemp -d /tmp/nsess-pam-pub.XXXXXX) # 0755: what the session user reads
chmod 755 "$pub"
bgpids=()
sshd_pid=
syslog_pid=
sshd_pam=/etc/pam.d/sshd-nsession
sshd_pam_ours=0

BAD_SUBUID="$E2E_USER:0:100" # appended for the fail-closed cases, removed after each
TUN_MODE_SAVED=$(stat -c %a /dev/net/tun 2>/dev/null || true)

cleanup() {
	local p
	for p in "${bgpids[@]}" $sshd_pid $syslog_pid; do kill "$p" 2>/dev/null; done
	for p in "${bgpids[@]}" $sshd_pid $syslog_pid; do wait "$p" 2>/dev/null; done
	[ "$sshd_pam_ours" = 1 ] && rm -f "$sshd_pam"
	# /run/sshd stays: it is the directory openssh-server itself uses, and another
	# sshd started meanwhile (a second run, a benchmark) may need it
	# only our own line: other tests may edit these files meanwhile
	grep -qx "$BAD_SUBUID" /etc/subuid 2>/dev/null && sed -i "\|^$BAD_SUBUID\$|d" /etc/subuid
	[ -n "$TUN_MODE_SAVED" ] && chmod "$TUN_MODE_SAVED" /dev/net/tun
	[ -n "${NSESS_E2E_SYSLOG_COPY:-}" ] && cp "$SYSLOG_FILE" "$NSESS_E2E_SYSLOG_COPY" 2>/dev/null
	rm -rf "$wd" "$pub"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

e2e_users
HOST_USER=$(readlink /proc/self/ns/user)
HOST_NET=$(readlink /proc/self/ns/net)

# ---- helpers ------------------------------------------------------------------
state_list() { ls -A /run/nsession 2>/dev/null | sort; }
# entries of /run/nsession that are not in the baseline $1
new_state() { comm -13 <(printf '%s\n' "$1" | sed '/^$/d') <(state_list); }
# pids whose namespace of type $1 is $2
procs_in_ns() {
	local p
	[ -n "$2" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/$1" 2>/dev/null)" = "$2" ] && echo "${p#/proc/}"
	done
}
# processes of user $1 in the host network namespace (the engine), new since
# UBASE and not an engine of a concurrent `nsession run` (parent: the CLI)
engine_procs() {
	local p pp
	for p in $(pgrep -u "$1" 2>/dev/null); do
		[[ " $UBASE " == *" $p "* ]] && continue
		[ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$HOST_NET" ] || continue
		pp=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
		[ "$(cat "/proc/$pp/comm" 2>/dev/null)" = nsession ] && continue
		echo "$p"
	done
}
pslist() {
	local p
	for p in "$@"; do
		[ -d "/proc/$p" ] || continue
		printf '%s uid=%s %s\n' "$p" "$(stat -c %u "/proc/$p" 2>/dev/null)" \
			"$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
}
# value of "KEY rest" lines in a probe output file
val() { tr -d '\r' <"$2" | sed -n "s/^$1 //p" | head -n 1; }

# ---- syslog -------------------------------------------------------------------
SYSLOG_MODE=none
SYSLOG_FILE=$wd/syslog.txt
: >"$SYSLOG_FILE"
T0=$(date +%s)
log_live() {
	python3 - <<'EOF' 2>/dev/null
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect("/dev/log")
EOF
}
if [ -S /dev/log ] && log_live; then
	if pgrep -x systemd-journal >/dev/null 2>&1; then
		SYSLOG_MODE=journal
	elif pgrep -x rsyslogd >/dev/null 2>&1 && [ -f /var/log/auth.log ]; then
		SYSLOG_MODE=authlog
		AUTHLOG_OFF=$(stat -c %s /var/log/auth.log)
	fi
else
	python3 "$NSESS_SRCDIR/tests/e2e/syslog-capture.py" "$SYSLOG_FILE" >"$wd/syslog.ready" 2>"$wd/syslog.err" &
	syslog_pid=$!
	wait_until 50 grep -q ready "$wd/syslog.ready" && SYSLOG_MODE=own
fi
syslog_text() {
	case $SYSLOG_MODE in
	own) cat "$SYSLOG_FILE" ;;
	journal) journalctl -q --no-pager --since "@$T0" -o short 2>/dev/null ;;
	authlog) tail -c +$((AUTHLOG_OFF + 1)) /var/log/auth.log; tail -n 2000 /var/log/syslog 2>/dev/null ;;
	*) : ;;
	esac
}
syslog_mark() { syslog_text | wc -l; }
syslog_since() { syslog_text | tail -n +$(($1 + 1)); }
# module lines since MARK at severity err or worse (<PRI> with PRI % 8 <= 3)
module_errors() {
	syslog_since "$1" | grep 'pam_nsession' | while IFS= read -r line; do
		pri=${line#<}
		pri=${pri%%>*}
		[[ "$pri" =~ ^[0-9]+$ ]] && [ $((pri % 8)) -le 3 ] && echo "$line"
	done
}
if [ "$SYSLOG_MODE" = none ]; then
	not_ok "syslog can be read" "/dev/log is served by something this test cannot read" \
		"$(cat "$wd/syslog.err" 2>/dev/null)"
else
	ok "syslog can be read ($SYSLOG_MODE)"
fi

# ---- policies, probe ----------------------------------------------------------
POL_NOLOOP=$wd/policy-noloop.conf
POL_LOOP=$wd/policy-loop.conf
POL_EXCL=$wd/policy-excl.conf
cat >"$POL_NOLOOP" <<'EOF'
# nsession e2e: everyone sandboxed, host loopback unreachable
sandbox = yes
allow_host_loopback = no
EOF
cat >"$POL_LOOP" <<'EOF'
# nsession e2e: everyone sandboxed, host loopback reachable through 10.0.2.2
sandbox = yes
allow_host_loopback = yes
EOF
cat >"$POL_EXCL" <<EOF
# nsession e2e: $U is excluded
[user $U]
sandbox = no
EOF
chmod 644 "$POL_NOLOOP" "$POL_LOOP" "$POL_EXCL"

# What a session reports about itself; args: PORT SLEEP. Ends with READY, then
# sleeps so the host can look at the session while it is open, then DONE.
cat >"$pub/probe.sh" <<EOF
#!/bin/bash
port=\$1
nap=\${2:-0}
echo "ID \$(id -u) \$(id -g)"
for n in user net mnt; do echo "NS_\$n \$(readlink /proc/self/ns/\$n)"; done
while read -r a b c; do echo "UIDMAP \$a \$b \$c"; done </proc/self/uid_map
while read -r a b c; do echo "GIDMAP \$a \$b \$c"; done </proc/self/gid_map
grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status | tr -d '\t' | sed 's/:/ /'
if touch "\$HOME/.nsess-e2e-x" 2>/dev/null; then echo "HOME writable"; rm -f "\$HOME/.nsess-e2e-x"; else echo "HOME not-writable"; fi
echo "LINK \$($IP -o link show dev tap0 2>&1 | head -n 1)"
echo "ADDR \$($IP -o -4 addr show dev tap0 2>&1 | head -n 1)"
echo "TTY \$(tty 2>&1)"
for f in /proc/\$\$/fd/*; do echo "FD \$(readlink "\$f")"; done
r=\$(timeout 3 bash -c "exec 3<>/dev/tcp/10.0.2.2/\$port && head -n 1 <&3" 2>/dev/null)
echo "LOOPBACK \${r:-unreachable}"
echo READY
sleep "\$nap"
echo DONE
EOF
chmod 755 "$pub/probe.sh"

# A listener on host loopback, to see whether a session reaches it.
lport=$((20000 + RANDOM % 20000))
socat TCP-LISTEN:$lport,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo hello-from-host' >/dev/null 2>&1 &
bgpids+=($!)
wait_until 30 timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$lport" 2>/dev/null
check_eq "host loopback listener answers on the host" "hello-from-host" \
	"$(timeout 3 socat -t 2 - TCP:127.0.0.1:$lport </dev/null 2>/dev/null)"

# keep-id map check: each line is the id to itself (count 1) or inside the
# delegated range; at least one fill line. Prints OK or what is wrong.
map_verdict() { # PREFIX ID RANGESTART RANGECOUNT FILE
	awk -v p="$1" -v id="$2" -v s="$3" -v n="$4" '
	$1 == p { if ($2 == id && $3 == id && $4 == 1) { self = 1; next }
		  if ($3 + 0 >= s && $3 + $4 <= s + n) { fill++; next }
		  bad = bad " [" $2 " " $3 " " $4 "]" }
	END { if (!self) print "no identity line " id " " id " 1";
	      if (!fill) print "no fill line from the range";
	      if (bad != "") print "lines outside the delegation:" bad;
	      if (self && fill && bad == "") print "OK" }' "$5"
}

# check_probe LABEL FILE USER LOOPBACK(yes|no) [tty]: what a session printed
check_probe() {
	local l=$1 f=$2 user=$3 loop=$4 tty=${5:-} u g
	u=$(id -u "$user")
	g=$(id -g "$user")
	if ! grep -q '^READY' "$f"; then
		not_ok "$l: the session ran the probe" "output: $(head -c 1500 "$f")"
		return 1
	fi
	ok "$l: the session ran the probe"
	check_eq "$l: runs as $user" "$u $g" "$(val ID "$f")"
	local ns
	for ns in user net mnt; do
		local in host
		in=$(val "NS_$ns" "$f")
		host=$(readlink /proc/self/ns/$ns)
		if [ -n "$in" ] && [ "$in" != "$host" ]; then ok "$l: $ns ns differs from the host's"; else
			not_ok "$l: $ns ns differs from the host's" "inside: $in" "host: $host"; fi
	done
	if [ "$user" = "$U" ]; then
		check_contains "$l: uid_map maps $u to itself" "UIDMAP $u $u 1" "$(grep ^UIDMAP "$f")"
		check_contains "$l: uid_map fills 0.. from the subuid range" "UIDMAP 0 $E2E_SUBSTART $u" "$(grep ^UIDMAP "$f")"
		check_eq "$l: uid_map holds only $u and its delegated range" "OK" "$(map_verdict UIDMAP "$u" $E2E_SUBSTART 65536 "$f")"
		check_contains "$l: gid_map maps $g to itself" "GIDMAP $g $g 1" "$(grep ^GIDMAP "$f")"
		check_eq "$l: gid_map holds only $g and its delegated range" "OK" "$(map_verdict GIDMAP "$g" $E2E_SUBSTART 65536 "$f")"
	else
		check_eq "$l: no subid range: single-id uid map" "UIDMAP $u $u 1" "$(grep ^UIDMAP "$f")"
	fi
	check_eq "$l: CapEff 0" "0000000000000000" "$(val CapEff "$f" | tr -d ' ')"
	check_eq "$l: CapPrm 0" "0000000000000000" "$(val CapPrm "$f" | tr -d ' ')"
	check_eq "$l: home writable" "writable" "$(val HOME "$f")"
	check_contains "$l: tap0 is up" ",UP" "$(val LINK "$f")"
	check_contains "$l: tap0 has 10.0.2.100/24" "inet 10.0.2.100/24" "$(val ADDR "$f")"
	check_not_contains "$l: no /dev/net/tun fd in the session" "/dev/net/tun" "$(grep ^FD "$f")"
	check_not_contains "$l: no /run/nsession fd in the session" "/run/nsession" "$(grep ^FD "$f")"
	if [ "$loop" = yes ]; then
		check_eq "$l: host loopback reachable via 10.0.2.2 (policy allows)" "hello-from-host" "$(val LOOPBACK "$f")"
	else
		check_eq "$l: host loopback unreachable (policy default)" "unreachable" "$(val LOOPBACK "$f")"
	fi
	if [ "$tty" = tty ]; then
		check_contains "$l: has a pty" "/dev/pts/" "$(val TTY "$f")"
	fi
	return 0
}

# sfield ENTRY KEY: a value from /run/nsession/ENTRY/session (state.h format)
sfield() { sed -n "s/^$2=//p" "/run/nsession/$1/session" 2>/dev/null | head -n 1; }
# new state entries (since BASELINE) whose opener process is gone: leaked
orphan_state() {
	local e op
	for e in $(new_state "$1"); do
		op=$(sfield "$e" opener_pid)
		[ -d "/run/nsession/$e" ] || continue
		if [ -z "$op" ] || [ ! -d "/proc/$op" ]; then echo "$e(opener ${op:-?} gone)"; fi
	done
}

# observe_open LABEL USERNS BASELINE USER [EXCLUDE-PIDS]: while a session is
# open. Finds the session's record (the new entry whose holder is in USERNS;
# other tests may open sessions meanwhile), checks it, its holder and engine.
OUR_STATE=
observe_open() {
	local l=$1 uns=$2 base=$3 user=$4 excl=${5:-} e p hp ep holders=
	OUR_STATE=
	for e in $(new_state "$base"); do
		hp=$(sfield "$e" holder_pid)
		[ -n "$hp" ] && [ "$(readlink "/proc/$hp/ns/user" 2>/dev/null)" = "$uns" ] && OUR_STATE=$e
	done
	if [ -n "$OUR_STATE" ]; then ok "$l: state recorded under /run/nsession while open ($OUR_STATE)"; else
		not_ok "$l: state recorded under /run/nsession while open" "new entries: $(new_state "$base" | tr '\n' ' ')" \
			"(none whose holder_pid is in the session's user ns $uns)"; fi
	check_eq "$l: /run/nsession is root-owned, not writable by others" "root" \
		"$(stat -c %U /run/nsession 2>/dev/null)$(find /run/nsession -maxdepth 0 -perm /022 2>/dev/null | sed 's/^/ WRITABLE /')"
	if [ -n "$OUR_STATE" ]; then
		e=$OUR_STATE
		check_eq "$l: /run/nsession/$e is root 0700" "root 700" "$(stat -c '%U %a' "/run/nsession/$e" 2>&1)"
		check_eq "$l: /run/nsession/$e/session is root, not readable by others" "root" \
			"$(stat -c %U "/run/nsession/$e/session" 2>&1)$(find "/run/nsession/$e/session" -perm /077 2>/dev/null | sed 's/^/ MODE-GROUP-OTHER /')"
		check_eq "$l: the record names the user" "$user $(id -u "$user")" "$(sfield "$e" user) $(sfield "$e" uid)"
		hp=$(sfield "$e" holder_pid)
		ep=$(sfield "$e" engine_pid)
	else
		hp=
		ep=
	fi
	# the holder: from the record; else guess: in the session's user ns,
	# neither the PAM caller (and the hook) nor the session's own processes
	if [ -z "$hp" ]; then
		for p in $(procs_in_ns user "$uns"); do
			[[ " $excl " == *" $p "* ]] && continue
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qE '^bash [^ ]*probe\.sh|^sleep |@notty|@pts/' && continue
			holders+="$p "
		done
	else
		holders=$hp
	fi
	if [ -n "$holders" ] && [ "$(readlink "/proc/${holders%% *}/ns/user" 2>/dev/null)" = "$uns" ]; then
		ok "$l: a holder pins the session's namespaces ($(pslist $holders | tr '\n' ';'))"
		for p in $holders; do
			local hu hg
			hu=$(awk '$1=="Uid:"{print $2}' "/proc/$p/status" 2>/dev/null)
			hg=$(awk '$1=="Gid:"{print $2}' "/proc/$p/status" 2>/dev/null)
			if [ -n "$hu" ] && [ "$hu" != 0 ]; then ok "$l: the holder is not host root (uid $hu)"; else
				not_ok "$l: the holder is not host root" "$(pslist "$p")"; fi
			# a copy of su/sshd's memory running under ids the user controls
			# (their uid or a delegated subuid) must not be readable by them
			if [ -n "$hu" ] && setpriv --reuid="$hu" --regid="$hg" --clear-groups -- \
				head -c 1 "/proc/$p/environ" >/dev/null 2>&1; then
				not_ok "$l: the holder's memory is not readable with its own ids ($hu:$hg)" "read /proc/$p/environ as $hu:$hg"
			else
				ok "$l: the holder's memory is not readable with its own ids ($hu:$hg)"
			fi
		done
	else
		not_ok "$l: a holder pins the session's namespaces" "holder_pid: ${hp:-?} $(pslist $hp)" \
			"in the session's user ns: $(pslist $(procs_in_ns user "$uns") | tr '\n' ';')"
	fi
	[ -n "$ep" ] || ep=$(engine_procs "$user" | head -n 1)
	ENGINE_PIDS=$ep
	if [ -n "$ep" ] && [ -d "/proc/$ep" ]; then
		check_eq "$l: the engine runs as $user" "$(id -u "$user")" "$(stat -c %u "/proc/$ep")"
		check_eq "$l: the engine is outside the session netns (host netns)" "$HOST_NET" "$(readlink "/proc/$ep/ns/net")"
		check_eq "$l: engine CapEff 0, NoNewPrivs 1" "0000000000000000 1" \
			"$(awk '$1=="CapEff:"{c=$2} $1=="NoNewPrivs:"{n=$2} END{print c" "n}' "/proc/$ep/status" 2>&1)"
	else
		not_ok "$l: an engine runs for the session" "engine_pid: ${ep:-?}" "processes of $user: $(user_procs "$user" | tr '\n' ';')"
	fi
}

ppid_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2; }
# this script and its ancestors (an orphan may be reparented to a subreaper
# among them rather than to pid 1)
MY_ANCESTORS=" 1 "
a=$$
while [ -n "$a" ] && [ "$a" != 0 ] && [ "$a" != 1 ]; do MY_ANCESTORS+="$a "; a=$(ppid_of "$a"); done
# Processes of USER left behind by our session with user ns USERNS: new since
# UBASE, outside (host user ns: an engine) or in the session's ns, and either
# orphaned (parent: pid 1 or a subreaper above us) or still under our sshd or
# PAM caller (MY_ROOTS). Processes of other tests that run meanwhile as the
# same user (own user ns, or under their own live pamtester/nsession) are
# not ours.
MY_ROOTS=
user_leftovers() { # USER USERNS
	local p uns a n
	for p in $(pgrep -u "$1" 2>/dev/null); do
		[[ " $UBASE " == *" $p "* ]] && continue
		uns=$(readlink "/proc/$p/ns/user" 2>/dev/null) || continue
		[ "$uns" = "$HOST_USER" ] || [ "$uns" = "$2" ] || continue
		a=$(ppid_of "$p")
		if [[ "$MY_ANCESTORS" == *" $a "* ]]; then echo "$p"; continue; fi
		n=0
		while [ -n "$a" ] && [ "$a" != 1 ] && [ "$a" != 0 ] && [ $n -lt 30 ]; do
			if [[ " $MY_ROOTS $sshd_pid " == *" $a "* ]]; then echo "$p"; break; fi
			a=$(ppid_of "$a")
			n=$((n + 1))
		done
	done
}
session_start() { # USER: baseline before a session
	UBASE=$(pgrep -u "$1" 2>/dev/null | tr '\n' ' ')
	ENGINE_PIDS=
}
UBASE=
ENGINE_PIDS=

# check_gone LABEL USERNS BASELINE USER: after the session, within 5 s
check_gone() {
	local l=$1 uns=$2 base=$3 user=$4 p alive=
	ours_left() { [ -n "$OUR_STATE" ] && [ -e "/run/nsession/$OUR_STATE" ] && echo "$OUR_STATE"; }
	gone() { [ -z "$(ours_left)" ] && [ -z "$(orphan_state "$base")" ] && [ -z "$(procs_in_ns user "$uns")" ] &&
		[ -z "$(user_leftovers "$user" "$uns")" ]; }
	wait_until 50 gone
	check_eq "$l: after close: no state left under /run/nsession" "" "$({ ours_left; orphan_state "$base"; } | tr '\n' ' ')"
	check_eq "$l: after close: no process left in the session's user ns (holder)" "" "$(pslist $(procs_in_ns user "$uns"))"
	for p in $ENGINE_PIDS; do [ -d "/proc/$p" ] && alive+="$p "; done
	check_eq "$l: after close: the engine seen while open has exited" "" "$(pslist $alive)"
	check_eq "$l: after close: no new process of $user left" "" "$(pslist $(user_leftovers "$user" "$uns"))"
	OUR_STATE=
}

# ---- 1. pamtester through pam_wrapper ----------------------------------------
svc=$wd/pam.d
mkdir -p "$svc"
PW=(env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc" PAM_WRAPPER_USE_SYSLOG=1 LD_PRELOAD="$PWRAP_LIB")

# A pam_exec hook after the module: records the caller's namespaces and holds
# open_session until the host has looked (hook.go), at most 10 s.
cat >"$wd/hook.sh" <<EOF
#!/bin/sh
[ "\$PAM_TYPE" = open_session ] || exit 0
{ readlink /proc/self/ns/user; readlink /proc/self/ns/net; readlink /proc/self/ns/mnt; } >"$wd/hook.ns"
: >"$wd/hook.ready"
i=0
while [ ! -e "$wd/hook.go" ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
exit 0
EOF
chmod 755 "$wd/hook.sh"

# pw_services POLICY: the su/runuser/pamtester services of the private dir
pw_services() {
	local s
	for s in su su-l runuser runuser-l; do
		cat >"$svc/$s" <<EOF
auth	sufficient	pam_rootok.so
auth	required	pam_deny.so
account	required	pam_permit.so
session	required	$MODULE engine=$NSESS_ENGINE join=open config=$1 debug
EOF
	done
	cat >"$svc/nsess-pamtester" <<EOF
auth	sufficient	pam_rootok.so
account	required	pam_permit.so
session	required	$MODULE engine=$NSESS_ENGINE join=open config=$1 debug
session	optional	pam_exec.so quiet $wd/hook.sh
EOF
}

# pamtester_session LABEL POLICY: open_session close_session with a pause
pamtester_session() {
	local l=$1 base pid rc
	pw_services "$2"
	rm -f "$wd/hook.ready" "$wd/hook.go" "$wd/hook.ns"
	session_start "$U"
	base=$(state_list)
	timeout 30 "${PW[@]}" pamtester -v nsess-pamtester "$U" open_session close_session >"$wd/pamtester.out" 2>&1 &
	pid=$!
	MY_ROOTS=$pid
	wait_until 150 test -e "$wd/hook.ready"
	PT_BASE=$base
	PT_PID=$pid
}

pt_mark=$(syslog_mark)
pamtester_session "pamtester" "$POL_NOLOOP"
if [ -e "$wd/hook.ready" ]; then
	ok "pamtester: open_session reached the hook after the module"
	uns=$(sed -n 1p "$wd/hook.ns")
	i=0
	for n in user net mnt; do
		i=$((i + 1))
		in=$(sed -n ${i}p "$wd/hook.ns")
		host=$(readlink /proc/self/ns/$n)
		if [ -n "$in" ] && [ "$in" != "$host" ]; then ok "pamtester join=open: the caller joined a new $n ns"; else
			not_ok "pamtester join=open: the caller joined a new $n ns" "caller: $in" "host: $host"; fi
	done
	# pamtester itself (the child of timeout) and the hook (sh, sleep) are
	# root in that ns as well; a holder forked from pamtester is not excluded
	excl="$(pgrep -P "$PT_PID" | tr '\n' ' ')"
	for c in $(pgrep -f "$wd/hook.sh"); do excl+="$c $(pgrep -P "$c" | tr '\n' ' ') "; done
	observe_open "pamtester" "$uns" "$PT_BASE" "$U" "$excl"
else
	not_ok "pamtester: open_session reached the hook after the module" "$(cat "$wd/pamtester.out")"
	uns=
fi
: >"$wd/hook.go"
wait "$PT_PID"
rc=$?
check_eq "pamtester open_session close_session: exit 0" "0" "$rc"
check_contains "pamtester: session opened" "successfully opened a session" "$(cat "$wd/pamtester.out")"
check_contains "pamtester: session closed" "session has successfully been closed" "$(cat "$wd/pamtester.out")"
[ "$rc" = 0 ] || echo "    pamtester output: $(tr '\n' ' ' <"$wd/pamtester.out" | head -c 2000)"
check_gone "pamtester" "$uns" "$PT_BASE" "$U"
check_eq "pamtester: a normal close logs nothing about the engine having ended" "" \
	"$(syslog_since "$pt_mark" | grep pam_nsession | grep 'network engine')"

# the engine killed while the session is open: close_session still
# succeeds, and logs that the session was without a network
pt_mark=$(syslog_mark)
pamtester_session "pamtester engine kill" "$POL_NOLOOP"
eng=
if [ -e "$wd/hook.ready" ]; then
	ptp=$(pgrep -P "$PT_PID" | head -n 1)
	for e in $(new_state "$PT_BASE"); do
		[ "$(sfield "$e" opener_pid)" = "$ptp" ] && eng=$(sfield "$e" engine_pid)
	done
fi
if [ -n "$eng" ] && kill -KILL "$eng"; then
	ok "engine kill: the session's engine (pid $eng, from its record) killed"
	sleep 0.3
else
	not_ok "engine kill: the session's engine found in its record and killed" "$(cat "$wd/pamtester.out")"
fi
: >"$wd/hook.go"
wait "$PT_PID"
check_eq "engine kill: open_session close_session exit 0" "0" "$?"
lines=$(syslog_since "$pt_mark" | grep pam_nsession | grep 'network engine')
check_contains "engine kill: close_session logs that the engine had ended, and how" \
	"network engine (pid $eng) had ended before the session closed (killed by signal 9" "$lines"
check_contains "engine kill: ... and that the session was without a network" "no network" "$lines"
check_eq "engine kill: logged once, as a warning (severity 4)" "4" \
	"$(grep -oE '^<[0-9]+>' <<<"$lines" | tr -d '<>' | while read -r p; do echo $((p % 8)); done | tr '\n' ' ' | sed 's/ $//')"
check_gone "engine kill" "" "$PT_BASE" "$U"

# excluded by policy: untouched, no state, success
pamtester_session "pamtester excluded" "$POL_EXCL"
if [ -e "$wd/hook.ready" ]; then
	check_eq "excluded user: the caller stays in the host user ns" "$HOST_USER" "$(sed -n 1p "$wd/hook.ns")"
	check_eq "excluded user: the caller stays in the host net ns" "$HOST_NET" "$(sed -n 2p "$wd/hook.ns")"
	ptp=$(pgrep -P "$PT_PID" | head -n 1)
	mine=
	for e in $(new_state "$PT_BASE"); do [ "$(sfield "$e" opener_pid)" = "$ptp" ] && mine+="$e "; done
	check_eq "excluded user: no state created" "" "$mine"
	# no process of the user under our pamtester (an engine would be there)
	under=
	for p in $(pgrep -u "$U"); do
		a=$(ppid_of "$p")
		for _ in 1 2 3 4 5 6; do
			[ "$a" = "$PT_PID" ] && under+="$p " && break
			[ -z "$a" ] || [ "$a" -le 1 ] && break
			a=$(ppid_of "$a")
		done
	done
	check_eq "excluded user: no engine started" "" "$(pslist $under)"
else
	not_ok "excluded user: open_session reached the hook" "$(cat "$wd/pamtester.out")"
fi
: >"$wd/hook.go"
wait "$PT_PID"
check_eq "excluded user: pamtester open_session close_session exit 0" "0" "$?"
check_eq "excluded user: nothing left under /run/nsession" "" "$(orphan_state "$PT_BASE")"

# ---- 2. su -l and runuser -l through pam_wrapper -----------------------------
# pw_login LABEL TOOL USER POLICY LOOP(yes|no): a login running the probe
pw_login() {
	local l=$1 tool=$2 user=$3 loop=$5 base pid rc excl lmark
	pw_services "$4"
	session_start "$user"
	base=$(state_list)
	lmark=$(syslog_mark)
	: >"$wd/login.out" # here, not in the background job: no stale READY
	timeout 40 "${PW[@]}" "$tool" -l "$user" -c "bash $pub/probe.sh $lport 3" >"$wd/login.out" 2>&1 &
	pid=$!
	MY_ROOTS=$pid
	wait_until 200 grep -q '^READY' "$wd/login.out"
	if grep -q '^READY' "$wd/login.out"; then
		excl=$(pgrep -P "$pid" | tr '\n' ' ') # $tool itself (timeout's child)
		observe_open "$l" "$(val NS_user "$wd/login.out")" "$base" "$user" "$excl"
	fi
	wait "$pid"
	rc=$?
	check_eq "$l: exit 0" "0" "$rc"
	check_probe "$l" "$wd/login.out" "$user" "$loop"
	check_contains "$l: the command ran to the end" "DONE" "$(grep ^DONE "$wd/login.out")"
	check_gone "$l" "$(val NS_user "$wd/login.out")" "$base" "$user"
	check_eq "$l: the module logged no error" "" "$(module_errors "$lmark")"
}

pw_login "su -l" su "$U" "$POL_NOLOOP" no
pw_login "su -l, allow_host_loopback" su "$U" "$POL_LOOP" yes
pw_login "runuser -l" runuser "$U" "$POL_NOLOOP" no

# ---- the engine's own lines reach syslog (its stdio is /dev/null) -------------
# A session that tries the metadata service: the engine refuses it and says
# so, at notice, tagged nsession-engine, beside the module's lines.
mark=$(syslog_mark)
pw_services "$POL_NOLOOP"
session_start "$U"
base=$(state_list)
out=$(timeout 30 "${PW[@]}" su -l "$U" -c \
	'timeout 3 bash -c "exec 3<>/dev/tcp/169.254.169.254/80" 2>&1 || echo REFUSED' 2>&1)
check_contains "su -l: a connection to 169.254.169.254 is refused inside" "REFUSED" "$out"
wait_until 30 eval 'syslog_since "$mark" | grep -q "nsession-engine.*169.254.169.254"'
lines=$(syslog_since "$mark" | grep 'nsession-engine\[[0-9]*\]: ')
check_contains "engine log in syslog: the refused packet names 169.254.169.254" \
	"refused a packet from the session to 169.254.169.254" "$lines"
check_eq "engine log in syslog: at notice (severity 5), in authpriv (facility 10)" "85" \
	"$(grep -m 1 169.254.169.254 <<<"$lines" | grep -oE '^<[0-9]+>' | tr -d '<>')"
check_gone "engine log (su -l)" "" "$base" "$U"

# The syslog daemon restarts while a session is open: its /dev/log is a new
# socket, and the engine, whose seccomp filter allows no new socket, still
# gets its line there (it connects its one socket again). The test's own
# sink is the daemon it can restart; a machine's real daemon is left alone.
if [ "$SYSLOG_MODE" = own ]; then
	mark=$(syslog_mark)
	session_start "$U"
	base=$(state_list)
	# a first packet (to the gateway's closed port 1) has the engine running
	# and its log socket connected before the restart; the refused one comes after
	timeout 30 "${PW[@]}" su -l "$U" -c 'timeout 2 bash -c "exec 3<>/dev/tcp/10.0.2.2/1" 2>/dev/null;
		sleep 3;
		timeout 3 bash -c "exec 3<>/dev/tcp/169.254.169.254/80" 2>&1 || echo REFUSED' \
		>"$wd/restart.out" 2>&1 &
	restart_pid=$!
	sleep 1.5
	kill "$syslog_pid" 2>/dev/null
	wait "$syslog_pid" 2>/dev/null
	python3 "$NSESS_SRCDIR/tests/e2e/syslog-capture.py" "$SYSLOG_FILE" >"$wd/syslog.ready2" 2>"$wd/syslog.err" &
	syslog_pid=$!
	wait_until 50 grep -q ready "$wd/syslog.ready2"
	wait "$restart_pid"
	check_contains "syslog restarted mid-session: the connection to 169.254.169.254 is refused" \
		"REFUSED" "$(cat "$wd/restart.out")"
	wait_until 30 eval 'syslog_since "$mark" | grep -q "nsession-engine.*169.254.169.254"'
	check_contains "syslog restarted mid-session: the engine's line reaches the new /dev/log" \
		"refused a packet from the session to 169.254.169.254" \
		"$(syslog_since "$mark" | grep 'nsession-engine\[[0-9]*\]: ')"
	check_gone "syslog restart (su -l)" "" "$base" "$U"
fi

# ---- 4a. no subid entry: fallback with a warning (su -l) ----------------------
mark=$(syslog_mark)
pw_login "su -l, no subid entry" su "$NOSUB" "$POL_NOLOOP" no
lines=$(syslog_since "$mark" | grep -i "$NOSUB" | grep -i -E 'subuid|subordinate')
check_contains "no subid entry: a syslog line names $NOSUB and the missing range" "$NOSUB" "$lines"
check_contains "no subid entry: logged as a warning (severity 4)" "warning" \
	"$(grep -oE '^<[0-9]+>' <<<"$lines" | tr -d '<>' | while read -r p; do [ $((p % 8)) = 4 ] && echo warning; done | head -n 1)"

# ---- 4b. a malformed subuid line fails closed (su -l) -------------------------
echo "$BAD_SUBUID" >>/etc/subuid
bad_line=$(wc -l </etc/subuid)
mark=$(syslog_mark)
pw_services "$POL_NOLOOP"
session_start "$U"
base=$(state_list)
out=$(timeout 30 "${PW[@]}" su -l "$U" -c 'echo COMMAND-RAN' 2>&1)
rc=$?
sed -i "\|^$BAD_SUBUID\$|d" /etc/subuid
if [ "$rc" != 0 ]; then ok "malformed subuid (su -l): the login fails"; else
	not_ok "malformed subuid (su -l): the login fails" "exit $rc" "output: $out"; fi
check_not_contains "malformed subuid (su -l): the command did not run" "COMMAND-RAN" "$out"
lines=$(syslog_since "$mark" | grep "/etc/subuid:$bad_line")
check_contains "malformed subuid (su -l): syslog names /etc/subuid:$bad_line" "/etc/subuid:$bad_line" "$lines"
check_contains "malformed subuid (su -l): the line says cause; fix" "; " "${lines#*"/etc/subuid:$bad_line"}"
check_eq "malformed subuid (su -l): logged once, as an error" "1" "$(module_errors "$mark" | grep -c "/etc/subuid:$bad_line")"
check_gone "malformed subuid (su -l)" "" "$base" "$U"

# ---- 4c. engine= naming a program others may change fails closed (su -l) -------
cp "$NSESS_ENGINE" "$wd/engine-gw"
chmod 775 "$wd/engine-gw"
good_engine=$NSESS_ENGINE
NSESS_ENGINE=$wd/engine-gw
mark=$(syslog_mark)
pw_services "$POL_NOLOOP"
NSESS_ENGINE=$good_engine
base=$(state_list)
out=$(timeout 30 "${PW[@]}" su -l "$U" -c 'echo COMMAND-RAN' 2>&1)
rc=$?
pw_services "$POL_NOLOOP"
if [ "$rc" != 0 ]; then ok "group-writable engine= (su -l): the login fails"; else
	not_ok "group-writable engine= (su -l): the login fails" "exit $rc" "output: $out"; fi
check_not_contains "group-writable engine= (su -l): the command did not run" "COMMAND-RAN" "$out"
lines=$(module_errors "$mark")
check_contains "group-writable engine= (su -l): syslog names the program" "$wd/engine-gw" "$lines"
check_contains "group-writable engine= (su -l): syslog names the fix" "chmod go-w" "$lines"
check_gone "group-writable engine= (su -l)" "" "$base" "$U"

# ---- 3. a real sshd ------------------------------------------------------------
sshdir=$wd/sshd
mkdir "$sshdir"
cp /usr/sbin/sshd "$sshdir/sshd-nsession"
ssh-keygen -q -t ed25519 -N '' -C nsess-e2e-host -f "$sshdir/hostkey" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C nsess-e2e-user -f "$wd/userkey" >/dev/null
mkdir "$pub/keys"
cp "$wd/userkey.pub" "$pub/keys/$U"
cp "$wd/userkey.pub" "$pub/keys/$NOSUB"
chmod 644 "$pub/keys/"*
sport=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	p=$((20000 + RANDOM % 20000))
	[ "$p" = "$lport" ] && continue
	if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then sport=$p; break; fi
done
cat >"$sshdir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $sport
HostKey $sshdir/hostkey
PidFile $sshdir/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $pub/keys/%u
StrictModes no
PermitRootLogin no
AllowUsers $U $NOSUB
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
LoginGraceTime 30
LogLevel DEBUG
EOF
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }

# sshd_pam POLICY [JOIN-OPTION]: (re)write /etc/pam.d/sshd-nsession; read at
# each connection's pam_start, so switching between connections works.
cat >"$wd/sshd-hook.sh" <<EOF
#!/bin/sh
echo "\$PAM_SERVICE \$PAM_TYPE \$PAM_USER" >>"$wd/sshd-hook.log"
EOF
chmod 755 "$wd/sshd-hook.sh"
sshd_pam() {
	if [ -e "$sshd_pam" ] && [ "$sshd_pam_ours" != 1 ]; then
		not_ok "$sshd_pam does not exist before the test" "refusing to overwrite it"
		return 1
	fi
	sshd_pam_ours=1
	cat >"$sshd_pam" <<EOF
# Written by nsession tests/e2e/pam.sh for its private sshd; removed at the end.
auth	optional	$MODULE
auth	required	pam_permit.so
account	required	pam_permit.so
session	optional	pam_exec.so quiet $wd/sshd-hook.sh
session	required	$MODULE engine=$NSESS_ENGINE ${2:-} config=$1 debug
EOF
}

cfgtest=$("$sshdir/sshd-nsession" -t -f "$sshdir/sshd_config" 2>&1)
check_eq "sshd config is valid" "" "$cfgtest"
sshd_pam "$POL_NOLOOP" join=setcred
"$sshdir/sshd-nsession" -D -f "$sshdir/sshd_config" -E "$sshdir/sshd.log" &
sshd_pid=$!
if wait_until 50 timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$sport" 2>/dev/null; then
	ok "sshd-nsession listens on 127.0.0.1:$sport"
else
	not_ok "sshd-nsession listens on 127.0.0.1:$sport" "$(tail -n 20 "$sshdir/sshd.log")"
fi

SSH=(ssh -F /dev/null -i "$wd/userkey" -p "$sport" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)

# ssh_login LABEL FLAG(-T|-tt) USER POLICY LOOP JOIN-OPTION
ssh_login() {
	local l=$1 flag=$2 user=$3 loop=$5 base pid rc mon c post uns n host in tty='' lmark
	[ "$flag" = -tt ] && tty="tty"
	sshd_pam "$4" "$6" || return
	session_start "$user"
	base=$(state_list)
	lmark=$(syslog_mark)
	: >"$wd/sshd-hook.log"
	: >"$wd/ssh.out" # here, not in the background job: no stale READY
	timeout 40 "${SSH[@]}" "$flag" "$user@127.0.0.1" "bash $pub/probe.sh $lport 3" </dev/null >"$wd/ssh.out" 2>&1 &
	pid=$!
	wait_until 250 grep -q '^READY' "$wd/ssh.out"
	if grep -q '^READY' "$wd/ssh.out"; then
		uns=$(val NS_user "$wd/ssh.out")
		# the monitor: a child of our sshd titled "... [priv]"
		mon=
		for c in $(pgrep -P "$sshd_pid"); do
			tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q '\[priv\]' && mon=$c
		done
		if [ -n "$mon" ]; then
			ok "$l: found the monitor ($(tr '\0' ' ' <"/proc/$mon/cmdline"))"
			for n in user net mnt; do
				check_eq "$l: the monitor stays in the host $n ns" "$(readlink /proc/self/ns/$n)" "$(readlink "/proc/$mon/ns/$n")"
			done
			post=
			for c in $(pgrep -P "$mon"); do
				tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q "$user@" && post=$c
			done
			if [ -n "$post" ]; then
				check_eq "$l: the post-auth child ($user@...) joined the session user ns" "$uns" "$(readlink "/proc/$post/ns/user")"
				check_eq "$l: the post-auth child runs as $user with no capabilities" "$(id -u "$user") 0000000000000000 0000000000000000" \
					"$(awk '$1=="Uid:"{u=$2} $1=="CapEff:"{e=$2} $1=="CapPrm:"{p=$2} END{print u" "e" "p}' "/proc/$post/status" 2>&1)"
			else
				not_ok "$l: the post-auth child ($user@...) joined the session user ns" "children of the monitor: $(pslist $(pgrep -P "$mon") | tr '\n' ';')"
			fi
		else
			not_ok "$l: found the monitor" "children of sshd: $(pslist $(pgrep -P "$sshd_pid") | tr '\n' ';')"
		fi
		observe_open "$l" "$uns" "$base" "$user"
	fi
	wait "$pid"
	rc=$?
	sed -i 's/\r$//' "$wd/ssh.out" # ssh has exited: nothing writes it any more
	check_eq "$l: ssh exit 0" "0" "$rc"
	check_probe "$l" "$wd/ssh.out" "$user" "$loop" $tty ||
		echo "    sshd log tail: $(tail -n 15 "$sshdir/sshd.log" | tr '\n' '|')"
	check_contains "$l: the command ran to the end" "DONE" "$(grep ^DONE "$wd/ssh.out")"
	check_contains "$l: sshd used the PAM service sshd-nsession" "sshd-nsession open_session $user" "$(cat "$wd/sshd-hook.log")"
	check_gone "$l" "$(val NS_user "$wd/ssh.out")" "$base" "$user"
	check_eq "$l: the module logged no error" "" "$(module_errors "$lmark")"
}

if [ -n "$sport" ]; then
	ssh_login "ssh -T" -T "$U" "$POL_NOLOOP" no join=setcred
	ssh_login "ssh -tt" -tt "$U" "$POL_NOLOOP" no join=setcred
	ssh_login "ssh -T, allow_host_loopback" -T "$U" "$POL_LOOP" yes join=setcred
	ssh_login "ssh -T, join=auto" -T "$U" "$POL_NOLOOP" no ""

	# 4a over ssh: no subid entry
	mark=$(syslog_mark)
	ssh_login "ssh -T, no subid entry" -T "$NOSUB" "$POL_NOLOOP" no join=setcred
	check_contains "ssh, no subid entry: a syslog line names $NOSUB" "$NOSUB" \
		"$(syslog_since "$mark" | grep -i "$NOSUB" | grep -i -E 'subuid|subordinate')"

	# 4b over ssh: a malformed subuid line fails the login closed
	sshd_pam "$POL_NOLOOP" join=setcred
	echo "$BAD_SUBUID" >>/etc/subuid
	bad_line=$(wc -l </etc/subuid)
	mark=$(syslog_mark)
	session_start "$U"
	base=$(state_list)
	out=$(timeout 40 "${SSH[@]}" -T "$U@127.0.0.1" 'echo COMMAND-RAN' </dev/null 2>&1)
	rc=$?
	sed -i "\|^$BAD_SUBUID\$|d" /etc/subuid
	if [ "$rc" != 0 ]; then ok "malformed subuid (ssh): the login fails"; else
		not_ok "malformed subuid (ssh): the login fails" "exit $rc" "output: $out"; fi
	check_not_contains "malformed subuid (ssh): the command did not run" "COMMAND-RAN" "$out"
	lines=$(syslog_since "$mark" | grep "/etc/subuid:$bad_line")
	check_contains "malformed subuid (ssh): syslog names /etc/subuid:$bad_line" "/etc/subuid:$bad_line" "$lines"
	check_contains "malformed subuid (ssh): the line says cause; fix" "; " "${lines#*"/etc/subuid:$bad_line"}"
	check_eq "malformed subuid (ssh): logged once, as an error" "1" "$(module_errors "$mark" | grep -c "/etc/subuid:$bad_line")"
	check_gone "malformed subuid (ssh)" "" "$base" "$U"

	# the login still works once the file is fixed
	ssh_login "ssh -T, after the subuid fix" -T "$U" "$POL_NOLOOP" no join=setcred
fi

check_eq "/etc/subuid: the malformed line is gone again" "" "$(grep -x "$BAD_SUBUID" /etc/subuid)"
if [ "$fail" -gt 0 ]; then
	echo "# module lines in syslog (last 60):"
	syslog_text | grep -i nsession | tail -n 60 | sed 's/^/#   /'
fi
e2e_done
[ "$fail" -eq 0 ]
