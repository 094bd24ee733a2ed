#!/usr/bin/env bash
# Fault injection on each step of the open path (SECURITY-CHECKS.md): in a
# build configured with --enable-fault-injection, NSESS_FAULT=STEP makes that
# step fail through the same error path a real failure takes. For each step,
# rootless and as root (--user), and through the PAM module (pamtester via
# pam_wrapper), the open must fail with the right code and one error line that
# names the stage, and leave nothing behind: no process of the run, no host
# mount, no TAP device on the host, no /run/nsession record, no sanitizer
# report (the build is expected to be ASan+UBSan; reports go to per-process
# files so that the holder and the engine, whose stdio is /dev/null, count too).
# Needs root. Run by scripts/dev test against the sanitized build.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
	not_ok "e2e fault tests need root"
	e2e_done
	exit 1
fi
if ! grep -a -q 'NSESS_FAULT' "$NSESSION" "$NSESS_BUILDDIR/.libs/nsession" 2>/dev/null; then
	not_ok "the build honours NSESS_FAULT" "configure $NSESS_BUILDDIR with --enable-fault-injection"
	e2e_done
	exit 1
fi

MODULE=$NSESS_BUILDDIR/.libs/pam_nsession.so
PWRAP_LIB=$(dpkg -L libpam-wrapper 2>/dev/null | grep '/libpam_wrapper\.so$' | head -n 1)
U=$E2E_USER
wd=$(mktemp -d /tmp/nsess-fault.XXXXXX)
chmod 755 "$wd"
# sanitizer logs of every process of a run (the holder writes as a subordinate id)
mkdir -m 1777 "$wd/san"
TAG=nsess-fault-$$-$RANDOM
cleanup() {
	local p
	for p in $(tagged_pids); do kill -9 "$p" 2>/dev/null; done
	e2e_restore_tun
	rm -rf "$wd"
}
trap cleanup EXIT

e2e_users
e2e_tun_open
uid=$(id -u "$U")

# The processes of our runs: every one inherits NSESS_FAULT_TAG (forks that
# do not exec keep the environment block of nsession's exec).
tagged_pids() {
	local f
	for f in /proc/[0-9]*/environ; do
		{ tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qx "NSESS_FAULT_TAG=$TAG" && {
			f=${f#/proc/}
			echo "${f%/environ}"
		}
	done
	return 0
}
# leftovers, polled for up to 3 s: "PID uid=UID COMM" of each tagged process
leftovers() {
	local i p out
	for i in $(seq 30); do
		out=
		for p in $(tagged_pids); do
			out+="$p uid=$(stat -c %u "/proc/$p" 2>/dev/null) $(cat "/proc/$p/comm" 2>/dev/null); "
		done
		[ -z "$out" ] && return 0
		sleep 0.1
	done
	echo "$out"
}
host_taps() { ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | grep -E '^tap' | sort; }
mounts() { cut -d' ' -f1,5 /proc/self/mountinfo | sort; }
records() { ls -1 /run/nsession 2>/dev/null | sort; }
san_reports() {
	cat "$wd"/san/* 2>/dev/null | grep -a -E 'Sanitizer|runtime error' | head -n 3
	grep -a -E 'Sanitizer|runtime error' "$1" | head -n 3
	return 0
}

# What the error line must say, by step.
stage_text() {
	case $1 in
	userns) echo "creating the user namespace" ;;
	maps) echo "writing id maps" ;;
	mounts) echo "setting up mounts" ;;
	tap) echo "creating the TAP device" ;;
	net) echo "configuring the network" ;;
	engine) echo "engine: injected fault" ;;
	fork) echo "fork: " ;;
	join) echo "joining the namespaces" ;;
	exec) echo "cannot run 'true'" ;;
	state) echo "creating the session record" ;;
	esac
}

SAN_ENV=(ASAN_OPTIONS="detect_leaks=1:log_path=$wd/san/asan"
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$wd/san/ubsan")

# check_after NAME STDERR-FILE MOUNTS-BEFORE TAPS-BEFORE RECORDS-BEFORE
check_after() {
	check_eq "$1: no process of the run left (user $U, holder, engine, nsession)" "" "$(leftovers)"
	check_eq "$1: host mount table unchanged" "$3" "$(mounts)"
	check_eq "$1: no TAP device on the host" "$4" "$(host_taps)"
	check_eq "$1: no new /run/nsession record" "$5" "$(records)"
	check_eq "$1: no sanitizer report" "" "$(san_reports "$2")"
	rm -f "$wd"/san/*
}

# ---- nsession run: rootless and root --user ----------------------------------
for who in rootless root; do
	for step in userns maps mounts tap net engine fork join exec; do
		[ "$who" = rootless ] && [ "$step" = join ] && continue # nothing is joined
		name="$who NSESS_FAULT=$step"
		m0=$(mounts) t0=$(host_taps) r0=$(records)
		env=(env NSESS_FAULT="$step" NSESS_FAULT_TAG="$TAG" "${SAN_ENV[@]}")
		# A rootless run starts its engine lazily: a command as short as
		# true ends before it would start. The engine step needs one that
		# outlives the idle timer, and has a child of its own: the failed
		# engine must end both at once.
		cmd=(true)
		[ "$who" = rootless ] && [ "$step" = engine ] && cmd=(sh -c 'sleep 20 & sleep 20')
		t_start=$(date +%s%N)
		if [ "$who" = rootless ]; then
			(cd / && as_user "$U" "${env[@]}" timeout 30 "$NSESSION" run -- "${cmd[@]}") 2>"$wd/err"
		else
			(cd / && "${env[@]}" timeout 30 "$NSESSION" run --user "$U" -- "${cmd[@]}") 2>"$wd/err"
		fi
		rc=$?
		t_ms=$((($(date +%s%N) - t_start) / 1000000))
		if [ "${cmd[0]}" = sh ]; then
			check_eq "$name: the command is ended with the session, not waited for (${t_ms} ms)" \
				yes "$([ "$t_ms" -lt 10000 ] && echo yes || echo no)"
		fi
		err=$(cat "$wd/err")
		want=125
		[ "$step" = exec ] && want=127
		check_eq "$name: exit code $want" "$want" "$rc"
		check_eq "$name: exactly one line on stderr" "1" "$(grep -c . "$wd/err")"
		check_contains "$name: it is an error naming the stage" "nsession: error: " "$err"
		check_contains "$name: ... $(stage_text "$step")" "$(stage_text "$step")" "$err"
		check_after "$name" "$wd/err" "$m0" "$t0" "$r0"
	done
done

# control: the same environment without a fault opens a session
out=$(cd / && env NSESS_FAULT= NSESS_FAULT_TAG="$TAG" "${SAN_ENV[@]}" timeout 30 "$NSESSION" run --user "$U" -- id -u 2>"$wd/err")
check_eq "control (no fault): root --user runs the command" "$uid" "$out"
check_eq "control (no fault): no sanitizer report" "" "$(san_reports "$wd/err")"
rm -f "$wd"/san/*

# ---- PAM: pamtester through pam_wrapper --------------------------------------
# The module is built with ASan, pamtester is not: pam_host_env (lib.sh)
# preloads the ASan runtime ahead of pam_wrapper and turns off the leak
# check of pamtester itself, which leaks by design at exit.
if ! command -v pamtester >/dev/null 2>&1 || [ -z "$PWRAP_LIB" ] || [ ! -f "$MODULE" ]; then
	not_ok "PAM fault checks: pamtester, libpam-wrapper and the module are there"
else
	ASAN_OPTIONS="log_path=$wd/san/asan" pam_host_env PAM_HOST "$MODULE" "$PWRAP_LIB" ||
		not_ok "PAM fault checks: libasan.so for the preload" \
			"gcc -print-file-name=libasan.so: $(gcc -print-file-name=libasan.so 2>&1)"
	POL=$wd/policy.conf
	printf 'sandbox = yes\n' >"$POL"
	chmod 644 "$POL"
	svc=$wd/pam.d
	SVC=nsess-fault-$$
	mkdir "$svc"
	cat >"$svc/$SVC" <<EOF
auth	required	pam_permit.so
account	required	pam_permit.so
session	required	$MODULE engine=$NSESS_ENGINE join=open config=$POL
EOF
	printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' >"$svc/other"
	pam() {
		(cd / && env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc" "${PAM_HOST[@]}" \
			UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$wd/san/ubsan" \
			NSESS_FAULT="$1" NSESS_FAULT_TAG="$TAG" \
			timeout 30 pamtester "$SVC" "$U" open_session close_session </dev/null)
	}
	# control: without a fault the module opens and closes a session
	pam "" >"$wd/out" 2>"$wd/err"
	check_eq "PAM control (no fault): open_session close_session succeed" "0" "$?"
	check_contains "PAM control: the session was closed" "successfully been closed" "$(cat "$wd/out")"
	check_eq "PAM control: no sanitizer report" "" "$(san_reports "$wd/err")"
	rm -f "$wd"/san/*
	for step in userns maps mounts tap net engine state join; do
		name="PAM NSESS_FAULT=$step"
		m0=$(mounts) t0=$(host_taps) r0=$(records)
		pam "$step" >"$wd/out" 2>"$wd/err"
		rc=$?
		check_eq "$name: pamtester fails" "1" "$([ $rc -ne 0 ] && echo 1 || echo "0 (rc $rc)")"
		# pam_wrapper shows the module's pam_syslog lines on stderr
		check_eq "$name: exactly one log line" "1" "$(grep -c 'SYSLOG' "$wd/err")"
		want=$(stage_text "$step")
		[ "$step" = join ] && want="NSESS_FAULT=join" # the module's join has no stage prefix
		check_contains "$name: it refuses the session, naming the stage" \
			"SYSLOG(3): refusing the session of $U: " "$(cat "$wd/err")"
		check_contains "$name: ... $want" "$want" "$(cat "$wd/err")"
		check_after "$name" "$wd/err" "$m0" "$t0" "$r0"
	done
fi

e2e_done
[ "$fail" -eq 0 ]
