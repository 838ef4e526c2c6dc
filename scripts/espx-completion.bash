# SPDX-License-Identifier: GPL-2.0
# bash completion for espx(8): commands, subcommands, options, device names
# and the ip xfrm keywords of `state add` and `policy add`. Installed by
# `make install` into bash-completion's directory; needs nothing from the
# bash-completion package. Checked by tests/test_docs.sh.

_espx_devs()
{
	local d
	for d in /sys/class/net/*; do
		[[ -e $d ]] && printf '%s\n' "${d##*/}"
	done
}

# The words after the command (and its subcommand) that may come next.
_espx_words()
{
	local cmd=$1 sub=$2 prev=$3
	case $cmd in
	attach)
		case $prev in
		--xdp-mode) echo "auto native generic"; return ;;
		attach) _espx_devs; return ;;
		esac
		echo "--xdp-mode --xdp-dispatcher --redirect" ;;
	detach)
		[[ $prev == detach ]] && _espx_devs ;;
	status)
		echo "--all" ;;
	monitor)
		case $prev in
		--count | --timeout) return ;;
		esac
		echo "--count --timeout --backlog" ;;
	daemon)
		case $prev in
		dev) _espx_devs; return ;;
		--interval | --rcvbuf) return ;;
		esac
		echo "--interval --rcvbuf dev help" ;;
	bench)
		[[ $prev == bench ]] && echo "ab" ;;
	state)
		case $sub in
		"") echo "add del delete list show flush help" ;;
		add)
			case $prev in
			mode) echo "transport tunnel" ;;
			proto) echo "esp" ;;
			aead) echo "'rfc4106(gcm(aes))'" ;;
			flag) echo "esn noecn decap-dscp nopmtudisc af-unspec align4" ;;
			extra-flag) echo "dont-encap-dscp" ;;
			encap) echo "espinudp" ;;
			limit) echo "byte-soft byte-hard packet-soft packet-hard" ;;
			aes-driver) echo "kernel generic" ;;
			backend) echo "auto aead bpf" ;;
			src | dst | spi | reqid | replay-window | replay-seq | replay-oseq | \
			replay-seq-hi | replay-oseq-hi | sport | dport) ;;
			*) echo "src dst proto spi aead mode reqid replay-window replay-seq" \
				"replay-oseq replay-seq-hi replay-oseq-hi flag extra-flag encap" \
				"limit sel sport dport aes-driver backend" ;;
			esac ;;
		del | delete)
			case $prev in
			proto) echo "esp" ;;
			dst | spi) ;;
			*) echo "dst proto spi" ;;
			esac ;;
		esac ;;
	policy)
		case $sub in
		"") echo "add del delete list show flush help" ;;
		add | del | delete)
			case $prev in
			dir) echo "in out fwd" ;;
			action) echo "allow block" ;;
			ptype) echo "main" ;;
			mode) echo "transport tunnel" ;;
			level) echo "required use" ;;
			proto) echo "tcp udp icmp ipv6-icmp esp" ;;
			src | dst | sport | dport | priority | index | spi | reqid) ;;
			*) echo "src dst proto sport dport dir priority index action ptype" \
				"tmpl spi reqid mode level" ;;
			esac ;;
		esac ;;
	esac
}

_espx()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i w cmd="" sub=""
	local cmds="check attach detach status unload state policy stats monitor daemon bench version help"

	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-j | --json | -v | --verbose) continue ;;
		esac
		if [[ -z $cmd ]]; then
			cmd=$w
		elif [[ -z $sub && ($cmd == state || $cmd == policy) ]]; then
			sub=$w
		fi
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-j --json -v --verbose -h --help" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
		fi
		return 0
	fi
	w=$(_espx_words "$cmd" "$sub" "$prev")
	[[ $cur == -* ]] && w+=" -j --json -v --verbose"
	mapfile -t COMPREPLY < <(compgen -W "$w" -- "$cur")
	return 0
}
complete -F _espx espx
