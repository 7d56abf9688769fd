#!/bin/sh
# Fetch a Debian source package and unpack it, for code the build uses
# unchanged but never keeps in the tree (postmark today; lwIP next).
#
#   tools/fetch-source.sh PKG[=VERSION] DEST
#
# DEST ends up holding the unpacked source (dpkg-source -x, Debian's
# patches applied) and DEST/.dmos-source naming the package and version.
# Idempotent: when that file is there and names PKG (and VERSION, if
# given), nothing is done and nothing goes to the network.
#
# The machine's apt configuration is not touched: the script makes its own
# sources list, the machine's Debian mirrors with "deb-src" in place of
# "deb", and gives apt private lists and cache directories (in
# $DMOS_SRC_CACHE, default build/src-cache at the top of the tree), where the
# downloaded .dsc and tarballs stay too. Needs apt-get, apt-cache and
# dpkg-source (dpkg-dev), and the network the first time.
set -eu

die() {
	echo "fetch-source: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: $0 PKG[=VERSION] DEST"
SPEC=$1
DEST=$2
PKG=${SPEC%%=*}
VERSION=""
[ "$PKG" = "$SPEC" ] || VERSION=${SPEC#*=}
case $PKG in
"" | -* | */* | *[!a-z0-9.+-]*) die "'$PKG' is not a Debian source package name" ;;
esac

STAMP=$DEST/.dmos-source
if [ -f "$STAMP" ]; then
	read -r have_pkg have_version <"$STAMP" || true
	if [ "$have_pkg" = "$PKG" ] && { [ -z "$VERSION" ] || [ "$have_version" = "$VERSION" ]; }; then
		exit 0
	fi
fi

for tool in apt-get apt-cache dpkg-source; do
	command -v $tool >/dev/null 2>&1 ||
		die "needs $tool (apt-get install dpkg-dev apt; or run tools/deps.sh)"
done

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${DMOS_SRC_CACHE:-$TOP/build/src-cache}
mkdir -p "$CACHE/lists/partial" "$CACHE/cache/archives/partial" "$CACHE/sources.list.d" "$CACHE/dl"
CACHE=$(cd "$CACHE" && pwd)

# The machine's mirrors, as deb-src entries: one-line lists and deb822 files.
SRC_LIST=$CACHE/sources.list
: >"$SRC_LIST.tmp"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' "$f" >>"$SRC_LIST.tmp"
done
mv "$SRC_LIST.tmp" "$SRC_LIST"
rm -f "$CACHE"/sources.list.d/*.sources
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	sed 's/^Types:.*/Types: deb-src/' "$f" >"$CACHE/sources.list.d/${f##*/}"
done
if ! [ -s "$SRC_LIST" ] && ! ls "$CACHE"/sources.list.d/*.sources >/dev/null 2>&1; then
	die "no Debian mirrors in /etc/apt/sources.list or /etc/apt/sources.list.d to fetch $PKG from"
fi

private_apt() {
	tool=$1
	shift
	$tool -q -o Dir::Etc::SourceList="$SRC_LIST" -o Dir::Etc::SourceParts="$CACHE/sources.list.d" \
		-o Dir::State::Lists="$CACHE/lists" -o Dir::Cache="$CACHE/cache" \
		-o APT::Sandbox::User="$(id -un)" "$@"
}

# The version of PKG to fetch, from the lists we have: VERSION if they
# have it, else their newest. Return: it on stdout, or nothing.
pick_version() {
	best=""
	for v in $(private_apt apt-cache --only-source showsrc "$PKG" 2>/dev/null |
		awk -v pkg="$PKG" '$1 == "Package:" { p = $2 } $1 == "Version:" && p == pkg { print $2 }'); do
		if [ -n "$VERSION" ]; then
			[ "$v" = "$VERSION" ] && best=$v
		elif [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	echo "$best"
}

updated=""
update_lists() {
	echo "  FETCH   updating the source package lists (in $CACHE)"
	private_apt apt-get update >"$CACHE/update.log" 2>&1 || true
	updated=yes
}

# Download PKG=$have into $DL unless its .dsc is there. Return: 0 if it is.
download() {
	DSC=$DL/${PKG}_${have#*:}.dsc
	[ -f "$DSC" ] && return 0
	echo "  FETCH   $PKG $have (apt-get source)"
	(cd "$DL" && private_apt apt-get source --download-only "$PKG=$have") >"$DL/source.log" 2>&1 &&
		[ -f "$DSC" ]
}

DL=$CACHE/dl/$PKG
mkdir -p "$DL"
have=$(pick_version)
if [ -z "$have" ]; then
	update_lists
	have=$(pick_version)
fi
if [ -z "$have" ]; then
	if grep -qE "^(W|E): (Failed to fetch|Some index files failed)" "$CACHE/update.log"; then
		grep -E "^(W|E):" "$CACHE/update.log" | head -n 4 >&2
		die "cannot reach the Debian archive to fetch $SPEC (offline?); the build needs its source once"
	fi
	die "no source package $SPEC in the mirrors of /etc/apt (see $CACHE/update.log)"
fi
if ! download; then
	# Lists older than the mirror name files it no longer has: once more, fresh.
	if [ -z "$updated" ]; then
		update_lists
		have=$(pick_version)
	fi
	if [ -z "$have" ] || ! download; then
		tail -n 5 "$DL/source.log" >&2
		die "apt-get source $SPEC failed (offline? log: $DL/source.log)"
	fi
fi

# Unpacked beside the cache's copy, then moved: dpkg-source puts a copy of
# the upstream tarball next to what it unpacks, which DEST's folder need not get.
echo "  UNPACK  $PKG $have into $DEST"
WORK=$DL/unpack
rm -rf "$WORK" "$DEST"
mkdir -p "$WORK" "$(dirname "$DEST")"
dpkg-source -q -x "$DSC" "$WORK/src" >"$DL/unpack.log" 2>&1 || {
	tail -n 5 "$DL/unpack.log" >&2
	rm -rf "$WORK"
	die "dpkg-source -x $DSC failed (log: $DL/unpack.log)"
}
echo "$PKG $have" >"$WORK/src/.dmos-source"
mv "$WORK/src" "$DEST"
rm -rf "$WORK"
