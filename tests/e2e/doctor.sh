#!/usr/bin/env bash
# End-to-end acceptance of `nsession doctor` (issue: the admin diagnostics
# command) on the real machine, as root: /dev/net/tun 0600 vs 0666 (mode
# saved and restored), a user without subordinate ids, a user whose range
# overlaps another owner's, a helper copy without its setuid bit, a stale
# session record, hostile subuid files under a test root, the JSON schema
# and the exit codes. Lines this script adds to /etc/subuid and /etc/subgid
# are removed again at the end.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
	not_ok "e2e doctor tests need root"
	e2e_done
	exit 1
fi

DOC_NOSUB=nsedoc1
DOC_OVER=nsedoc2
workdir=$(mktemp -d)
chmod 755 "$workdir"
# the mode as found, restored at exit whatever happens in between
TUN_ORIG=$(stat -c %a /dev/net/tun)
cleanup() {
	local f
	chmod "$TUN_ORIG" /dev/net/tun
	for f in /etc/subuid /etc/subgid; do
		[ -f "$f" ] && sed -i "/^$DOC_NOSUB:/d;/^$DOC_OVER:/d;/^nsedocx:/d" "$f"
	done
	rm -f /etc/pam.d/nsedoc-engine
	rm -rf "$workdir"
}
trap cleanup EXIT

e2e_users
for u in "$DOC_NOSUB" "$DOC_OVER"; do
	id "$u" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$u"
done
for f in /etc/subuid /etc/subgid; do
	sed -i "/^$DOC_NOSUB:/d;/^$DOC_OVER:/d;/^nsedoc[x]:/d" "$f"
done
# an empty policy: the machine's own (or another test's) must not change the verdicts
: >"$workdir/policy.conf"
chmod 0644 "$workdir/policy.conf"
POL=(--policy "$workdir/policy.conf")

# field STATUS of the first finding ID in a JSON report on stdin
jq_status() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
for f in d["findings"]:
    if f["id"] == sys.argv[1]:
        print(f["status"]); break
else:
    print("absent")' "$1"
}
jq_field() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
for f in d["findings"]:
    if f["id"] == sys.argv[1]:
        print(f[sys.argv[2]]); break' "$1" "$2"
}

# ---- JSON schema -------------------------------------------------------------
out=$("$NSESSION" doctor --user "$E2E_USER" --json "${POL[@]}")
rc=$?
schema=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
errs = []
want = {"schema": int, "user": str, "as_root": bool, "status": str, "counts": dict,
        "findings": list, "dropped": int}
for k, t in want.items():
    if not isinstance(d.get(k), t): errs.append("top-level %s not %s" % (k, t.__name__))
if set(d) != set(want): errs.append("keys %s" % sorted(d))
if d.get("schema") != 1: errs.append("schema != 1")
st = {"ok", "info", "warn", "fail"}
if set(d["counts"]) != st: errs.append("counts keys")
areas = ["kernel", "tun", "helpers", "subid", "user", "pam", "engine", "sessions"]
last = -1
for f in d["findings"]:
    if set(f) != {"area", "id", "status", "seen", "fix", "needs_root"}: errs.append("finding keys %s" % sorted(f))
    for k in ("area", "id", "status", "seen", "fix"):
        if not isinstance(f[k], str): errs.append("%s not a string" % k)
    if not isinstance(f["needs_root"], bool): errs.append("needs_root not bool")
    if f["status"] not in st: errs.append("status %s" % f["status"])
    if f["area"] not in areas: errs.append("area %s" % f["area"])
    elif areas.index(f["area"]) < last: errs.append("area order")
    else: last = areas.index(f["area"])
for s in st:
    if d["counts"][s] != sum(1 for f in d["findings"] if f["status"] == s): errs.append("count " + s)
rank = ["ok", "info", "warn", "fail"]
worst = max([rank.index(f["status"]) for f in d["findings"]] + [0])
if d["status"] != rank[worst]: errs.append("status is not the worst")
print("; ".join(errs) if errs else "valid")' <<<"$out" 2>&1)
check_eq "--json: document matches the documented schema" "valid" "$schema"
check_eq "--json: one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check_contains "--json: the user is named" '"user":"'"$E2E_USER"'"' "$out"
check_contains "--json: ran as root" '"as_root":true' "$out"
for area in kernel tun helpers subid user pam engine sessions; do
	check_contains "--json: area $area present" "\"area\":\"$area\"" "$out"
done

# ---- /dev/net/tun: 0666 vs 0600 --------------------------------------------------
chmod 0666 /dev/net/tun
out=$("$NSESSION" doctor --json "${POL[@]}")
check_eq "tun 0666: ok" "ok" "$(jq_status tun <<<"$out")"
chmod 0600 /dev/net/tun
out=$("$NSESSION" doctor --json "${POL[@]}")
check_eq "tun 0600 (as root): warn" "warn" "$(jq_status tun <<<"$out")"
check_contains "tun 0600: the fix opens it" "chmod 0666 /dev/net/tun" "$(jq_field tun fix <<<"$out")"
check_contains "tun 0600: the fix makes it last" "udev" "$(jq_field tun fix <<<"$out")"
# an unprivileged user cannot open it at all: a failure for them
out=$(as_user "$E2E_USER" "$NSESSION" doctor --json 2>&1)
rc=$?
check_eq "tun 0600 (as a user): fail" "fail" "$(jq_status tun <<<"$out")"
check_eq "tun 0600 (as a user): exit 1" "1" "$rc"
check_contains "as a user: as_root false" '"as_root":false' "$out"
check_contains "as a user: checks the caller by default" "\"user\":\"$E2E_USER\"" "$out"
if [ -d /run/nsession ]; then
	check_contains "as a user: /run/nsession needs root" '"needs_root":true' "$out"
fi
chmod 0666 /dev/net/tun

# ---- a user without subordinate ids -----------------------------------------------------
out=$("$NSESSION" doctor --user "$DOC_NOSUB" --json "${POL[@]}")
check_eq "no subids: subuid_range warns" "warn" "$(jq_status subuid_range <<<"$out")"
check_eq "no subids: subgid_range warns" "warn" "$(jq_status subgid_range <<<"$out")"
check_contains "no subids: the fix names usermod and the user" "usermod --add-subuids" "$(jq_field subuid_range fix <<<"$out")"
check_contains "no subids: the fix names the user" "$DOC_NOSUB" "$(jq_field subuid_range fix <<<"$out")"
check_eq "no subids: login falls back to single-id" "warn" "$(jq_status login_map <<<"$out")"
check_contains "no subids: says single-id" "single-id" "$(jq_field login_map seen <<<"$out")"
# the suggested range really is free: add it and the user is fine
range=$(jq_field subuid_range fix <<<"$out" | sed -n 's/.*--add-subuids \([0-9]*\)-\([0-9]*\).*/\1/p')
if [ -n "$range" ]; then
	echo "$DOC_NOSUB:$range:65536" >>/etc/subuid
	echo "$DOC_NOSUB:$range:65536" >>/etc/subgid
	out=$("$NSESSION" doctor --user "$DOC_NOSUB" --json "${POL[@]}")
	check_eq "suggested range: accepted" "ok" "$(jq_status subuid_range <<<"$out")"
	check_eq "suggested range: keep-id login" "ok" "$(jq_status login_map <<<"$out")"
	sed -i "/^$DOC_NOSUB:/d" /etc/subuid /etc/subgid
else
	not_ok "no subids: a free range is suggested" "$out"
fi

# a policy that refuses the fallback makes it a failure
printf '[user %s]\nfallback = refuse\n' "$DOC_NOSUB" >"$workdir/refuse.conf"
chmod 0644 "$workdir/refuse.conf"
out=$("$NSESSION" doctor --user "$DOC_NOSUB" --json --policy "$workdir/refuse.conf")
rc=$?
check_eq "fallback = refuse: subuid_range fails" "fail" "$(jq_status subuid_range <<<"$out")"
check_eq "fallback = refuse: exit 1" "1" "$rc"

# ---- a user whose range overlaps another owner's ------------------------------------------
echo "$DOC_OVER:700000:65536" >>/etc/subuid
echo "nsedocx:720000:65536" >>/etc/subuid
echo "$DOC_OVER:700000:65536" >>/etc/subgid
out=$("$NSESSION" doctor --user "$DOC_OVER" --json "${POL[@]}")
rc=$?
check_eq "overlap: subuid_range fails" "fail" "$(jq_status subuid_range <<<"$out")"
check_contains "overlap: names both owners" "nsedocx" "$(jq_field subuid_range seen <<<"$out")"
check_contains "overlap: names file:line" "/etc/subuid:" "$(jq_field subuid_range seen <<<"$out")"
check_contains "overlap: the fix gives a free range" "usermod --add-subuids" "$(jq_field subuid_range fix <<<"$out")"
check_eq "overlap: login fails closed" "fail" "$(jq_status login_map <<<"$out")"
check_eq "overlap: exit 1" "1" "$rc"
text=$("$NSESSION" doctor --user "$DOC_OVER" "${POL[@]}")
check_contains "overlap (text): a FAIL line" "[FAIL] subuid_range: " "$text"
check_contains "overlap (text): the fix indented below" "      fix: " "$text"
check_not_contains "text on a pipe: no colour" $'\033' "$text"
sed -i "/^$DOC_OVER:/d;/^nsedoc[x]:/d" /etc/subuid /etc/subgid

# ---- the engine program ---------------------------------------------------------------------
out=$("$NSESSION" doctor --user "$E2E_USER" --json "${POL[@]}")
check_eq "engine program: found beside nsession" "ok" "$(jq_status engine_program <<<"$out")"
check_contains "engine program: its path is named" "$(dirname "$NSESSION")/nsession-engine" "$(jq_field engine_program seen <<<"$out")"
check_contains "engine program: its version, asked of the program" "(nsession-engine $("$NSESSION" --version | awk '{print $2; exit}'))" "$(jq_field engine_program seen <<<"$out")"
check_contains "libslirp: the version the engine runs with" "libslirp $(pkg-config --modversion slirp) (what nsession-engine runs with)" "$(jq_field libslirp seen <<<"$out")"
mkdir -p "$workdir/solo"
cp "$NSESSION" "$workdir/solo/nsession"
installed=$(strings -a "$NSESSION" | grep -m 1 '/nsession-engine$' || true)
out=$("$workdir/solo/nsession" doctor --user "$E2E_USER" --json "${POL[@]}")
if [ -n "$installed" ] && [ -x "$installed" ]; then
	check_eq "engine program: the installed one is found" "ok" "$(jq_status engine_program <<<"$out")"
else
	check_eq "engine program missing: a failure (no session with a network can start)" "fail" "$(jq_status engine_program <<<"$out")"
	check_contains "engine program missing: names where it belongs" "$installed" "$(jq_field engine_program seen <<<"$out")"
	check_contains "engine program missing: says to reinstall" "make install puts nsession-engine" "$(jq_field engine_program fix <<<"$out")"
fi

# ---- pam_nsession's engine=: checked as the module checks it ---------------------------------
pam_svc() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
for f in d["findings"]:
    if f["id"] == "pam_service" and f["seen"].startswith(sys.argv[1] + ":"):
        print(f["status"] + "|" + f["seen"] + "|" + f["fix"]); break
else:
    print("absent")' "$1"
}
module=$NSESS_BUILDDIR/.libs/pam_nsession.so
printf 'session required %s engine=%s join=open\n' "$module" "$NSESS_ENGINE" >/etc/pam.d/nsedoc-engine
got=$("$NSESSION" doctor --json "${POL[@]}" | pam_svc nsedoc-engine)
check_eq "engine= naming the built nsession-engine: ok" "ok" "${got%%|*}"
cp "$NSESS_ENGINE" "$workdir/engine-gw"
chmod 775 "$workdir/engine-gw"
printf 'session required %s engine=%s join=open\n' "$module" "$workdir/engine-gw" >/etc/pam.d/nsedoc-engine
got=$("$NSESSION" doctor --json "${POL[@]}" | pam_svc nsedoc-engine)
check_eq "engine= naming a group-writable program: fail" "fail" "${got%%|*}"
check_contains "engine= group-writable: the mode is named" "mode 0775" "$got"
check_contains "engine= group-writable: the fix names the line" "point engine= at nsedoc-engine:1" "$got"
printf 'session required %s engine=%s join=open\n' "$module" "$workdir/none" >/etc/pam.d/nsedoc-engine
got=$("$NSESSION" doctor --json "${POL[@]}" | pam_svc nsedoc-engine)
check_eq "engine= naming a missing program: fail" "fail" "${got%%|*}"
check_contains "engine= missing: says so" "No such file or directory" "$got"
rm -f /etc/pam.d/nsedoc-engine

# ---- a helper without its setuid bit ---------------------------------------------------------
cp /usr/bin/newuidmap "$workdir/newuidmap"
chmod u-s "$workdir/newuidmap"
out=$("$NSESSION" doctor --newuidmap "$workdir/newuidmap" --user "$E2E_USER" --json "${POL[@]}")
rc=$?
check_eq "helper without setuid: fail" "fail" "$(jq_status newuidmap <<<"$out")"
check_contains "helper without setuid: the path is named" "$workdir/newuidmap" "$(jq_field newuidmap seen <<<"$out")"
check_contains "helper without setuid: fix chmod u+s or setcap" "chmod u+s $workdir/newuidmap, or setcap cap_setuid+ep" "$(jq_field newuidmap fix <<<"$out")"
check_eq "helper without setuid: newgidmap still ok" "ok" "$(jq_status newgidmap <<<"$out")"
check_eq "helper without setuid: rootless runs fall back" "warn" "$(jq_status rootless_map <<<"$out")"
check_eq "helper without setuid: exit 1" "1" "$rc"
if command -v setcap >/dev/null; then
	setcap cap_setuid+ep "$workdir/newuidmap"
	out=$("$NSESSION" doctor --newuidmap "$workdir/newuidmap" --json "${POL[@]}")
	check_eq "helper with cap_setuid instead: ok" "ok" "$(jq_status newuidmap <<<"$out")"
fi

# ---- sessions: a stale record -----------------------------------------------------------------
rd=$workdir/run-nsession
mkdir -m 0700 "$rd" "$rd/0000000000000007"
printf 'user=%s\nuid=%s\nholder_pid=%s\nengine_pid=%s\nopener_pid=%s\nstarted=%s\n' \
	"$E2E_USER" "$(id -u "$E2E_USER")" 4194000 4194001 4194002 "$(date +%s)" >"$rd/0000000000000007/session"
mkdir -m 0700 "$rd/0000000000000008"
printf 'user=%s\nuid=%s\nholder_pid=%s\nengine_pid=%s\nopener_pid=%s\nstarted=%s\n' \
	"$E2E_USER" "$(id -u "$E2E_USER")" $$ $$ $$ "$(date +%s)" >"$rd/0000000000000008/session"
out=$("$NSESSION" doctor --run-dir "$rd" --json "${POL[@]}")
check_eq "stale session: warn" "warn" "$(jq_status session_stale <<<"$out")"
check_contains "stale session: the gone holder is named" "4194000 is gone" "$(jq_field session_stale seen <<<"$out")"
check_contains "stale session: fix" "rm -r $rd/0000000000000007" "$(jq_field session_stale fix <<<"$out")"
check_contains "sessions: the live one counts as running" "1 running, 1 stale" "$(jq_field sessions seen <<<"$out")"
chmod 0755 "$rd"
out=$("$NSESSION" doctor --run-dir "$rd" --json "${POL[@]}")
check_eq "run dir 0755: fail" "fail" "$(jq_status run_dir <<<"$out")"

# ---- hostile subuid files (under a test root) ---------------------------------------------------
hr=$workdir/hostile
mkdir -p "$hr/etc"
echo 'alice:x:1000:1000::/home/alice:/bin/sh' >"$hr/etc/passwd"
printf 'alice:100000:65536\nmallory\033]0;pwned\007\033[2J:1:2\n' >"$hr/etc/subuid"
out=$(timeout 20 "$NSESSION" doctor --root "$hr" --user alice 2>&1)
check_not_contains "hostile subuid (text): no raw ESC" $'\033' "$out"
check_contains "hostile subuid (text): shown escaped" 'mallory\x1b]0;pwned\x07' "$out"
out=$(timeout 20 "$NSESSION" doctor --root "$hr" --user alice --json 2>&1)
check_not_contains "hostile subuid (json): no raw ESC" $'\033' "$out"
check_eq "hostile subuid (json): valid" "ok" "$(python3 -c 'import json,sys; json.load(sys.stdin); print("ok")' <<<"$out" 2>&1)"
rm "$hr/etc/subuid"
mkfifo "$hr/etc/subuid"
out=$(timeout 20 "$NSESSION" doctor --root "$hr" --user alice --json 2>&1)
rc=$?
check_eq "FIFO subuid: does not hang, fails" "1" "$rc"
check_contains "FIFO subuid: says FIFO" "FIFO" "$(jq_field subuid_file seen <<<"$out")"
rm "$hr/etc/subuid"
ln -s /etc/subuid "$hr/etc/subuid"
out=$(timeout 20 "$NSESSION" doctor --root "$hr" --user alice --json 2>&1)
check_contains "symlinked subuid: not followed" "symbolic link" "$(jq_field subuid_file seen <<<"$out")"
rm "$hr/etc/subuid"
head -c 20000000 /dev/zero | tr '\0' 'x' >"$hr/etc/subuid"
out=$(timeout 60 "$NSESSION" doctor --root "$hr" --user alice --json 2>&1)
rc=$?
check_eq "huge subuid: finishes with a failure" "1" "$rc"

# ---- exit codes --------------------------------------------------------------------------------
out=$("$NSESSION" doctor --user "$E2E_USER" "${POL[@]}" 2>&1)
rc=$?
if [ "$rc" = 0 ]; then ok "exit 0 when nothing fails"; else not_ok "exit 0 when nothing fails" "rc=$rc" "$(grep -A1 FAIL <<<"$out")"; fi
"$NSESSION" doctor --bogus >/dev/null 2>&1
check_eq "exit 2: unknown option" "2" "$?"
"$NSESSION" doctor --user >/dev/null 2>&1
check_eq "exit 2: --user without a name" "2" "$?"
"$NSESSION" doctor extra >/dev/null 2>&1
check_eq "exit 2: stray argument" "2" "$?"
"$NSESSION" doctor --policy relative.conf >/dev/null 2>&1
check_eq "exit 2: relative policy path" "2" "$?"
out=$("$NSESSION" doctor --help)
check_eq "--help: exit 0" "0" "$?"
check_contains "--help: usage" "usage: nsession doctor" "$out"
check_not_contains "--help: hidden options stay hidden" "--root" "$out"
out=$("$NSESSION" doctor --user nsedoc-no-such-user "${POL[@]}" 2>&1)
check_eq "unknown user: exit 1" "1" "$?"
check_contains "unknown user: says so" "unknown user" "$out"

e2e_done
[ "$fail" = 0 ]
