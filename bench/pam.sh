#!/bin/bash
# bench/pam.sh - what pam_nsession adds to a real ssh login.
# Two private copies of /usr/sbin/sshd, named sshd-nsbench-plain and
# sshd-nsbench-pam (sshd uses its program name as PAM service), each on
# 127.0.0.1 and a free port, with their own config and host key in a temp
# dir. /etc/pam.d/sshd-nsbench-plain has Debian's common-auth/account/session
# stack; /etc/pam.d/sshd-nsbench-pam is the same plus the module lines the
# nsession docs give for sshd (auth and session, join=setcred) and a policy
# file of ours (sandbox = yes). Both files are created here and removed at
# exit (never overwritten if they exist). `ssh -i KEY -p PORT
# nsbench@127.0.0.1 true` is timed with hyperfine for both, interleaved in
# rounds as in startup.sh.
set -u
. "$(dirname "$0")/lib.sh"
bench_mkwork
chmod 700 "$W"
BUILDDIR=${NSESS_BUILDDIR:-$(dirname "$NSESSION")}
MODULE=$BUILDDIR/.libs/pam_nsession.so
SVC_PLAIN=sshd-nsbench-plain
SVC_PAM=sshd-nsbench-pam
pam_made=()
run_sshd_made=0
sshd_pids=()
cleanup() {
	bench_cleanup_procs
	[ ${#sshd_pids[@]} -gt 0 ] && kill_tree "${sshd_pids[@]}"
	local f
	for f in "${pam_made[@]}"; do rm -f "$f"; done
	# /run/sshd stays: openssh-server uses it, and another sshd may be running
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BENCH_QUICK" = 1 ]; then ROUNDS=2; K=3; else ROUNDS=6; K=5; fi
notes=()
ensure_bench_user

not_measured() {
	{
		echo "## PAM login overhead (ssh to a private sshd)"
		echo
		echo "Not measured: $*"
		echo
	} >"$BENCH_OUT"
	exit 0
}
[ -x /usr/sbin/sshd ] || not_measured "/usr/sbin/sshd is not installed."
[ -f "$MODULE" ] || not_measured "the module is not built ($MODULE)."
for s in $SVC_PLAIN $SVC_PAM; do
	[ -e /etc/pam.d/$s ] && not_measured "/etc/pam.d/$s exists already (another run?); not touching it."
done

ssh-keygen -q -t ed25519 -N '' -C nsbench-host -f "$W/hostkey" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C nsbench-user -f "$W/userkey" >/dev/null
mkdir -m 755 "$W/keys"
chmod 711 "$W"
cp "$W/userkey.pub" "$W/keys/$BENCH_USER"
chmod 644 "$W/keys/$BENCH_USER"
cat >"$W/policy.conf" <<'EOF'
# nsession bench: everyone gets a sandbox with the default network (slirp)
sandbox = yes
EOF
chmod 644 "$W/policy.conf"
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }

pam_file() { # SERVICE WITH_MODULE(0|1)
	local f=/etc/pam.d/$1
	pam_made+=("$f")
	{
		echo "# Written by nsession bench/pam.sh for its private sshd; removed at the end."
		echo "@include common-auth"
		[ "$2" = 1 ] && echo "auth	required	$MODULE engine=$BUILDDIR/nsession-engine join=setcred config=$W/policy.conf"
		echo "@include common-account"
		echo "@include common-session"
		[ "$2" = 1 ] && echo "session	required	$MODULE engine=$BUILDDIR/nsession-engine join=setcred config=$W/policy.conf"
	} >"$f"
}
start_sshd() { # SERVICE PORT
	local d=$W/$1
	mkdir "$d"
	cp /usr/sbin/sshd "$d/$1"
	cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $2
HostKey $W/hostkey
PidFile $d/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $W/keys/%u
StrictModes no
PermitRootLogin no
AllowUsers $BENCH_USER
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
LoginGraceTime 30
MaxStartups 100
EOF
	"$d/$1" -D -f "$d/sshd_config" -E "$d/sshd.log" &
	sshd_pids+=($!)
	wait_until 50 port_open 127.0.0.1 "$2"
}
pam_file $SVC_PLAIN 0
pam_file $SVC_PAM 1
p1=$(free_port)
start_sshd $SVC_PLAIN "$p1" || not_measured "sshd $SVC_PLAIN did not listen: $(tail -n 5 "$W/$SVC_PLAIN/sshd.log")"
p2=$(free_port)
[ "$p2" = "$p1" ] && p2=$((p1 + 1))
start_sshd $SVC_PAM "$p2" || not_measured "sshd $SVC_PAM did not listen: $(tail -n 5 "$W/$SVC_PAM/sshd.log")"

SSH="ssh -F /dev/null -i $W/userkey -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR"
host_net=$(readlink /proc/self/ns/net)
# sanity: both log in; with the module the login lands in another netns
out1=$(timeout 30 $SSH -p "$p1" "$BENCH_USER@127.0.0.1" 'readlink /proc/self/ns/net' </dev/null 2>&1)
rc1=$?
out2=$(timeout 30 $SSH -p "$p2" "$BENCH_USER@127.0.0.1" 'readlink /proc/self/ns/net; ip route show default' </dev/null 2>&1)
rc2=$?
sweep_strays >/dev/null
[ $rc1 -eq 0 ] && [ "$out1" = "$host_net" ] ||
	not_measured "login without the module failed ($(rc_text $rc1)): $(echo "$out1" | tail -n 2 | tr '\n' ' ') sshd log: $(tail -n 5 "$W/$SVC_PLAIN/sshd.log" | tr '\n' ' ')"
if [ $rc2 -ne 0 ] || [ "$(echo "$out2" | head -n 1)" = "$host_net" ] || ! grep -q '^default via' <<<"$out2"; then
	not_measured "the login through pam_nsession did not land in a session with a network ($(rc_text $rc2)): $(echo "$out2" | tail -n 3 | tr '\n' ' ') sshd log: $(tail -n 5 "$W/$SVC_PAM/sshd.log" | tr '\n' ' ')"
fi

ROWS=(
	"ssh plain PAM stack|$SSH -p $p1 $BENCH_USER@127.0.0.1 true"
	"ssh + pam_nsession|$SSH -p $p2 $BENCH_USER@127.0.0.1 true"
)
for ((round = 0; round < ROUNDS; round++)); do
	log "round $((round + 1))/$ROUNDS"
	ensure_bench_user
	args=()
	for ((i = 0; i < 2; i++)); do
		r=${ROWS[$(((i + round) % 2))]}
		args+=(-n "${r%%|*}" "${r#*|}")
	done
	timeout 300 hyperfine -N --style none --warmup 1 --runs "$K" --export-json "$W/r$round.json" "${args[@]}" \
		</dev/null >/dev/null 2>"$W/hf.err" ||
		notes+=("- round $((round + 1)) failed: $(tail -n 1 "$W/hf.err")")
	left=$(sweep_strays)
	[ -n "$left" ] && notes+=("- after round $((round + 1)), processes of $BENCH_USER outlived the logins: $left(killed)")
done
$REPORT hyperfine "$W/samples.tsv" "$W"/r*.json

{
	echo "## PAM login overhead (ssh to a private sshd on 127.0.0.1)"
	echo
	echo "hyperfine wall time of a full \`ssh ... true\` (key exchange, pubkey auth, PAM"
	echo "account/setcred/session, the command, logout), $ROUNDS rounds x $K runs, rows rotated."
	echo
	$REPORT table "$W/samples.tsv" --label login --order "ssh plain PAM stack,ssh + pam_nsession" \
		--ratio "ssh plain PAM stack"
	echo
	echo "Commands (as root; KEY, PORT1/PORT2 in a temp dir):"
	echo
	{
		echo "sshd:   cp /usr/sbin/sshd DIR/$SVC_PLAIN (and DIR/$SVC_PAM); DIR/NAME -D -f DIR/sshd_config"
		echo "        (ListenAddress 127.0.0.1, UsePAM yes, pubkey only, AllowUsers $BENCH_USER)"
		echo "/etc/pam.d/$SVC_PLAIN: @include common-auth / common-account / common-session"
		echo "/etc/pam.d/$SVC_PAM:   the same plus"
		echo "        auth     required  $MODULE engine=$BUILDDIR/nsession-engine join=setcred config=POLICY"
		echo "        session  required  $MODULE engine=$BUILDDIR/nsession-engine join=setcred config=POLICY"
		echo "POLICY: sandbox = yes"
		echo "plain:  ${ROWS[0]#*|}" | sed "s|$W|DIR|g; s/-p $p1/-p PORT1/"
		echo "module: ${ROWS[1]#*|}" | sed "s|$W|DIR|g; s/-p $p2/-p PORT2/"
	} | cmd_block
	echo
	echo "The difference of the medians is what the module costs a login: creating the"
	echo "session (namespaces, newuidmap/newgidmap, the engine) and joining it in setcred."
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
	echo
} >"$BENCH_OUT"
