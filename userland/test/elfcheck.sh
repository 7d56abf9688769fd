#!/bin/sh
# Check that each program is what the dmos loader expects: a static x86_64
# ELF executable (no interpreter, no dynamic section), entry at or above
# 0x400000, no undefined symbols, every PT_LOAD segment page-aligned, none
# both writable and executable. Usage: elfcheck.sh PROGRAM...
set -u
fail=0
for p in "$@"; do
	name=${p##*/}
	why=""
	h=$(readelf -hl "$p" 2>&1) || why="not an ELF file"
	echo "$h" | grep -q 'Type:.*EXEC' || why="$why; not EXEC"
	echo "$h" | grep -q 'Machine:.*X86-64' || why="$why; not x86_64"
	echo "$h" | grep -Eq '^ +(INTERP|DYNAMIC) ' && why="$why; dynamic"
	entry=$(echo "$h" | awk '/Entry point/ { print $4 }')
	[ $((entry)) -ge $((0x400000)) ] || why="$why; entry $entry below 0x400000"
	undef=$(nm -u "$p" | awk '{ print $2 }' | tr '\n' ' ')
	[ -z "$undef" ] || why="$why; undefined: $undef"
	# PT_LOAD lines of readelf -lW: LOAD offset vaddr paddr filesz memsz flags align
	bad=$(readelf -lW "$p" | awk '$1 == "LOAD" { fl = ""; for (i = 7; i < NF; i++) fl = fl $i;
		print $2, $3, fl }' | while read -r off va fl; do
		[ $((off % 4096)) -eq 0 ] && [ $((va % 4096)) -eq 0 ] || echo "segment at $va not page-aligned"
		case $fl in *W*E*) echo "segment at $va writable and executable";; esac
	done)
	[ -z "$bad" ] || why="$why; $bad"
	[ -n "$(echo "$h" | awk '/^ +LOAD /')" ] || why="$why; no PT_LOAD"
	if [ -z "$why" ]; then
		echo "ok $name (entry $entry, $(echo "$h" | grep -c '^ *LOAD ') segments)"
	else
		echo "not ok $name:${why#;}"
		fail=1
	fi
done
exit $fail
