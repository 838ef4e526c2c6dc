#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx as an installed program: `make install` into a staging root puts the
# binary, espx(8), the bash completion, the systemd unit and
# /etc/default/espx where they belong, and `make uninstall` takes them away
# again; the man page passes mandoc's linter and names every command and
# option of `espx help`; the unit passes `systemd-analyze verify`; the
# completion completes commands, subcommands, keywords and devices.
source "$(dirname "$0")/lib/espx_test.sh"
cd "$(dirname "$0")/.." || exit 1
plan 12
STAGE=$(mktemp -d /tmp/espx-install.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT INT TERM
MAN=docs/espx.8

# --- the man page
if ! command -v mandoc >/dev/null; then
	fail man_lint "mandoc is missing: install it (make deps)"
elif out=$(mandoc -T lint -W warning "$MAN" 2>&1); then
	pass man_lint
else
	fail man_lint "$(echo "$out" | head -3)"
fi
help=$("$ESPX" help)
cmds=$(echo "$help" | sed -n '/^COMMAND :=/,/}/p' | tr -d '{}|' | sed 's/COMMAND :=//')
missing=""
for c in $cmds; do
	grep -q "^\.It Cm $c\b" "$MAN" || missing+=" $c"
done
if [[ -z $missing && -n $cmds ]]; then pass "man_has_every_command ($(echo $cmds | wc -w))"
else fail man_has_every_command "espx help names commands espx.8 does not describe:${missing:- (none parsed)}"; fi
missing=""
text=$(mandoc -T ascii "$MAN" 2>/dev/null | sed 's/.\x08//g')
for o in $(echo "$help" | grep -o -- '--[a-z-]*' | sort -u); do
	grep -q -- "$o" <<<"$text" || missing+=" $o"
done
if [[ -z $missing ]]; then pass man_has_every_option
else fail man_has_every_option "options of espx help missing from espx.8:$missing"; fi

# --- make install / uninstall into a staging root
if out=$(make -s install DESTDIR="$STAGE" PREFIX=/usr 2>&1); then pass make_install
else fail make_install "$(echo "$out" | tail -3)"; fi
want=(usr/sbin/espx usr/share/man/man8/espx.8 usr/share/bash-completion/completions/espx
      usr/lib/systemd/system/espx-daemon.service etc/default/espx)
missing=""
for f in "${want[@]}"; do [[ -f $STAGE/$f ]] || missing+=" $f"; done
if [[ -z $missing ]] && "$STAGE/usr/sbin/espx" version | grep -q '^espx '; then
	pass installed_files
else
	fail installed_files "missing:${missing:- none} (or the installed espx does not run)"
fi
if grep -q '^ExecStart=/usr/sbin/espx daemon ' "$STAGE/usr/lib/systemd/system/espx-daemon.service"; then
	pass unit_execstart_prefix
else
	fail unit_execstart_prefix "ExecStart does not name /usr/sbin/espx: $(grep ExecStart "$STAGE"/usr/lib/systemd/system/espx-daemon.service)"
fi
echo 'ESPX_DAEMON_ARGS="dev eth9"' >"$STAGE/etc/default/espx"
make -s uninstall DESTDIR="$STAGE" PREFIX=/usr >/dev/null 2>&1
left=$(cd "$STAGE" && find . -type f | sort | tr '\n' ' ')
if [[ $left == "./etc/default/espx " ]] && grep -q eth9 "$STAGE/etc/default/espx"; then
	pass uninstall_keeps_only_config
else
	fail uninstall_keeps_only_config "after uninstall: ${left:-nothing} (want only the edited ./etc/default/espx)"
fi

# --- the unit, verified by systemd against a binary that exists
if ! command -v systemd-analyze >/dev/null; then
	skip unit_verify "systemd-analyze is not installed (no systemd here)"
else
	rm -rf "$STAGE" && mkdir -p "$STAGE"
	make -s install DESTDIR="$STAGE" PREFIX=/usr SBINDIR="$STAGE/bin" >/dev/null 2>&1
	# the staged binary's path is DESTDIR + SBINDIR: name that one in the unit
	sed -i "s|^ExecStart=$STAGE/bin/|ExecStart=$STAGE$STAGE/bin/|" \
		"$STAGE/usr/lib/systemd/system/espx-daemon.service"
	if out=$(MANPATH=$STAGE/usr/share/man systemd-analyze verify \
			"$STAGE/usr/lib/systemd/system/espx-daemon.service" 2>&1); then
		pass unit_verify
	else
		fail unit_verify "$(echo "$out" | head -3)"
	fi
fi

# --- bash completion: COMPREPLY for a command line (words...; the last is completed)
complete_line() {
	bash -c 'source scripts/espx-completion.bash
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _espx; echo "${COMPREPLY[*]}"' _ "$@"
}
has_all() { local w; for w in "${@:2}"; do [[ " $1 " == *" $w "* ]] || return 1; done; }
r=$(complete_line espx st)
if has_all "$r" state status stats; then pass completion_commands
else fail completion_commands "espx st<TAB> gave '$r'"; fi
r=$(complete_line espx -j policy add src 10.0.0.0/8 dir "")
if has_all "$r" in out fwd; then pass completion_policy_dir
else fail completion_policy_dir "espx policy add ... dir <TAB> gave '$r'"; fi
r=$(complete_line espx state add flag "")
if has_all "$r" esn noecn && [[ " $r " != *" tunnel "* ]]; then pass completion_state_flags
else fail completion_state_flags "espx state add flag <TAB> gave '$r'"; fi
r=$(complete_line espx attach "")
if has_all "$r" lo; then pass completion_devices
else fail completion_devices "espx attach <TAB> gave '$r' (want the devices, lo among them)"; fi
