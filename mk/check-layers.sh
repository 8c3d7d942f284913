#!/usr/bin/env bash
# The layer rules of docs/architecture.md, checked.
#
#   mk/check-layers.sh [ROOT]            every #include "..." in the source tree
#   mk/check-layers.sh --calls OBJ...    the daemon's objects: which file calls which
#                                        (or one directory: its authd/*.o)
#
# Folders are layers and dependence points down only: a file may include a
# header of its own folder or of a folder its folder may use; inside authd/,
# a file may include the headers of its own layer or a lower one. A
# library's private header (*_int.h) stays in its folder, and only authd/
# holds a libuv loop. With --calls, nm reads every authd/*.o and checks that
# no function call goes up a layer and that no two daemon files call each
# other (directly or round a circle). Each breach is printed as FILE:LINE
# (or OBJECT) and a reason; the exit status is 1 when there is one.
set -u

# The folder table: what each folder may include besides itself.
declare -A USES=(
	[common]=""
	[certs]="common"
	[wire]="common certs"
	[policy]="common certs"
	[kube]="common certs wire policy"
	[authctl]="common certs policy"
	[authd]="common certs wire policy kube"
)
# The daemon's layers, bottom up (docs/architecture.md, "Inside authd/").
declare -A RANK=(
	[log]=0 [config]=0 [metrics]=0 [accesslog]=0 [admin]=0
	[trust]=1 [ident]=1 [served]=1 [bound]=1
	[conn]=2 [kube_http]=2
	[listener]=3 [inbound]=3 [outbound]=3
	[worker]=4
	[issuance]=5 [kube_watch]=5
	[daemon]=6 [reconcile]=6 [ca_watch]=6 [admin_api]=6 [kube_sync]=6
	[dev]=7 [main]=7
)
LAYER_NAMES=(support values connections directions loops issuance composition entry)

bad=0
breach() {
	echo "check-layers: $1" >&2
	bad=1
}

# rank_of FILE: the daemon layer of authd/NAME.c or .h (empty when not listed).
rank_of() {
	local base
	base=$(basename "$1")
	base=${base%.*}
	echo "${RANK[$base]:-}"
}

check_includes() {
	local root=$1 file line text target folder tfolder allowed r tr
	cd "$root" || exit 2
	while read -r file; do
		[ -n "$(rank_of "$file")" ] ||
			breach "$file: not in the daemon's layer table (mk/check-layers.sh RANK)"
	done < <(git ls-files -- 'authd/*.c' 'authd/*.h')
	while IFS=: read -r file line text; do
		folder=${file%%/*}
		[ -n "${USES[$folder]+x}" ] || continue
		if [[ $text =~ \#[[:space:]]*include[[:space:]]*\<uv\.h\> ]]; then
			[ "$folder" = authd ] ||
				breach "$file:$line: includes <uv.h>: only authd/ holds a libuv loop"
			continue
		fi
		[[ $text =~ \#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
		target=${BASH_REMATCH[1]}
		if [[ $target != */* ]]; then
			breach "$file:$line: includes \"$target\": name the folder (\"$folder/$target\")"
			continue
		fi
		tfolder=${target%%/*}
		if [ "$tfolder" != "$folder" ]; then
			allowed=" ${USES[$folder]} "
			if [[ $allowed != *" $tfolder "* ]]; then
				breach "$file:$line: includes \"$target\": $folder/ may use only ${USES[$folder]:-itself}${USES[$folder]:+ (and itself)}"
				continue
			fi
			if [[ $target == *_int.h ]]; then
				breach "$file:$line: includes \"$target\": a library's private header stays in $tfolder/"
				continue
			fi
		fi
		[ -f "$target" ] || breach "$file:$line: includes \"$target\", which does not exist"
		if [ "$folder" = authd ] && [ "$tfolder" = authd ]; then
			r=$(rank_of "$file")
			tr=$(rank_of "$target")
			if [ -z "$r" ]; then
				:	# named above
			elif [ -z "$tr" ]; then
				breach "$file:$line: includes \"$target\", which is not in the daemon's layer table"
			elif [ "$tr" -gt "$r" ]; then
				breach "$file:$line: includes \"$target\": ${LAYER_NAMES[$r]} may not use ${LAYER_NAMES[$tr]}, a layer above"
			fi
		fi
	done < <(git ls-files -z -- '*.c' '*.h' 2>/dev/null | xargs -0 -r grep -nE '^[[:space:]]*#[[:space:]]*include' --)
}

# check_calls OBJ...: the daemon's objects, by what each defines and calls.
# Only the objects named count, so a stale one left in a build directory
# by a file that has moved does not.
check_calls() {
	local o name r tr sym caller callee
	declare -A def=()
	local edges objs=("$@")
	if [ ${#objs[@]} -eq 1 ] && [ -d "${objs[0]}" ]; then
		objs=("${objs[0]}"/authd/*.o)
	fi
	edges=$(mktemp)
	for o in "${objs[@]}"; do
		[ -f "$o" ] || { echo "check-layers: no object $o" >&2; exit 2; }
		name=$(basename "$o" .o)
		while read -r sym; do def[$sym]=$name; done < <(nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ {print $3}')
	done
	for o in "${objs[@]}"; do
		caller=$(basename "$o" .o)
		r=$(rank_of "$caller")
		if [ -z "$r" ]; then
			breach "authd/$caller.o: not in the daemon's layer table (mk/check-layers.sh RANK)"
			continue
		fi
		while read -r sym; do
			callee=${def[$sym]:-}
			[ -n "$callee" ] && [ "$callee" != "$caller" ] || continue
			tr=$(rank_of "$callee")
			echo "$caller $callee" >>"$edges"
			if [ -n "$tr" ] && [ "$tr" -gt "$r" ]; then
				breach "authd/$caller.o calls $sym (authd/$callee.c): ${LAYER_NAMES[$r]} may not call ${LAYER_NAMES[$tr]}, a layer above"
			fi
		done < <(nm -u "$o" | awk '{print $2}')
	done
	# A circle of calls between files, found by depth-first search.
	local cyc
	cyc=$(sort -u "$edges" | awk '
		{ n[$1] = n[$1] " " $2; nodes[$1] = 1; nodes[$2] = 1 }
		function visit(v, path,    k, m, parts, i) {
			if (state[v] == 1) { print path; found = 1; return }
			if (state[v] == 2) return
			state[v] = 1
			m = split(n[v], parts, " ")
			for (i = 1; i <= m && !found; i++)
				visit(parts[i], path " -> " parts[i])
			state[v] = 2
		}
		END { for (v in nodes) if (!found) visit(v, v) }')
	[ -n "$cyc" ] && breach "a circle of calls between daemon files: $cyc"
	rm -f "$edges"
}

if [ "${1:-}" = --calls ]; then
	[ -n "${2:-}" ] || { echo "usage: $0 --calls OBJ... | OBJDIR" >&2; exit 2; }
	shift
	check_calls "$@"
else
	check_includes "${1:-$(cd "$(dirname "$0")/.." && pwd)}"
fi
[ $bad -eq 0 ] && echo "check-layers: ok"
exit $bad
