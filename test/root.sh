#!/usr/bin/env bash
# Debian roots that carry a PostgreSQL major version this machine's Debian
# does not ship, for test/matrix.sh.
#
#   test/root.sh prepare V     make (or refresh) the root for PostgreSQL V
#   test/root.sh run V CMD...  copy the work tree into the root and run CMD
#                              there, as root, in the copy's top directory
#   test/root.sh path V        print the root's directory
#   test/root.sh tools         install debootstrap if missing
#
# The roots live outside the clone, in $BOOKING_ROOTS (default
# /var/cache/booking-matrix), one per Debian suite, so that later runs and
# fresh clones reuse them.  A root is made again from scratch when it is
# missing or broken, and upgraded when its package lists are older than
# $BOOKING_ROOT_MAX_AGE hours (default 24).  The packages the tests need are
# installed by the project's own test/setup.sh, run inside the root.
#
# Needs root, debootstrap, and the network to Debian's archive (the same
# mirror this machine's apt uses).
set -euo pipefail

cd "$(dirname "$0")/.."
roots=${BOOKING_ROOTS:-/var/cache/booking-matrix}
max_age_hours=${BOOKING_ROOT_MAX_AGE:-24}
# a root made by an older version of this script is made again
layout=1

die() {
	echo "root: $*" >&2
	exit 1
}

# Debian suite that ships PostgreSQL V.
suite_of() {
	case $1 in
		15) echo bookworm ;;
		17) echo trixie ;;
		18) echo forky ;;
		*) die "no Debian suite known for PostgreSQL $1" ;;
	esac
}

# The Debian mirror this machine's apt uses for its own release: the first
# URI of a deb822 stanza, or of a one-line entry, serving its codename.
host_mirror() {
	local codename uri
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v c="$codename" '
		/^[ \t]*$/ { if (ok && uri != "") { print uri; exit } ok = 0; uri = ""; next }
		tolower($1) == "uris:" { uri = $2 }
		tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
		END { if (ok && uri != "") print uri }' | head -n 1)
	if [ -z "$uri" ]; then
		uri=$(cat /etc/apt/sources.list 2>/dev/null | awk -v c="$codename" '
			$1 == "deb" {
				for (i = 2; i <= NF; i++) if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; continue } else break
				if ($(i + 1) == c) { print $i; exit }
			}')
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

# Nothing may be mounted below a root that is about to be removed.
assert_unmounted() {
	local dir=$1
	if awk -v d="$dir/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		die "$dir still has file systems mounted below it; not touching it"
	fi
}

mounted=()
unmount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
	done
	mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM

# What pg_virtualenv, the shell tests and apt need from the host.
mount_all() {
	local root=$1
	mkdir -p "$root/proc" "$root/sys" "$root/dev"
	mount -t proc proc "$root/proc" && mounted+=("$root/proc")
	mount --bind /dev "$root/dev" && mounted+=("$root/dev")
	mount --bind /dev/pts "$root/dev/pts" && mounted+=("$root/dev/pts")
	mount -t tmpfs -o mode=1777 shm "$root/dev/shm" && mounted+=("$root/dev/shm")
	mount -t sysfs sysfs "$root/sys" 2>/dev/null && mounted+=("$root/sys") || true
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}

in_root() {
	local root=$1; shift
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# debootstrap on this machine (test/matrix.sh asks first, before making
# roots side by side, so that only one apt runs).
tools() {
	command -v debootstrap >/dev/null && return 0
	echo "root: installing debootstrap"
	{ apt-get install -y -qq -o DPkg::Lock::Timeout=600 debootstrap >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 debootstrap >/dev/null; }
	} || die "cannot install debootstrap"
}

bootstrap() {
	local v=$1 root=$2 suite mirror script=()
	suite=$(suite_of "$v")
	mirror=$(host_mirror)
	# Debian 12's debootstrap knows no forky; sid's script serves testing.
	[ -e "/usr/share/debootstrap/scripts/$suite" ] ||
		script=(/usr/share/debootstrap/scripts/sid)
	tools

	# the old root stays until the new one is complete
	assert_unmounted "$root.new"
	rm -rf "$root.new"
	mkdir -p "$roots"
	echo "root: bootstrapping Debian $suite for PostgreSQL $v (a few minutes)"
	if ! debootstrap --variant=minbase --components=main \
		"$suite" "$root.new" "$mirror" "${script[@]}" >"$roots/$suite.log" 2>&1; then
		tail -n 20 "$roots/$suite.log" >&2
		assert_unmounted "$root.new"
		rm -rf "$root.new"
		die "debootstrap of $suite failed (log: $roots/$suite.log)"
	fi

	# One suite only; testing's Release may be served past its Valid-Until.
	rm -f "$root.new/etc/apt/sources.list"
	{
		echo "Types: deb"
		echo "URIs: $mirror"
		echo "Suites: $suite"
		echo "Components: main"
		echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
		[ "$suite" = forky ] && echo "Check-Valid-Until: no"
	} >"$root.new/etc/apt/sources.list.d/debian.sources"
	# Lean installs; never start a service or make a cluster of the root's
	# own (the host's network is shared, and so are its ports).
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$root.new/etc/apt/apt.conf.d/90booking-matrix"
	printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
	chmod 755 "$root.new/usr/sbin/policy-rc.d"
	mkdir -p "$root.new/etc/postgresql-common/createcluster.d"
	echo "create_main_cluster = false" \
		>"$root.new/etc/postgresql-common/createcluster.d/booking-matrix.conf"
	echo "$layout $suite $v" >"$root.new/.booking-matrix"
	assert_unmounted "$root"
	rm -rf "$root"
	mv "$root.new" "$root"
}

# Upgrade the root when its package lists are old, then install what the
# tests need with the project's own setup script.  Returns 2 when the root's
# apt or dpkg is broken (the root must be made again), 1 when only the set-up
# failed.
refresh() {
	local v=$1 root=$2 stamp=$2/var/lib/apt/booking-matrix-updated
	local copy rc=0
	mount_all "$root"
	if ! in_root "$root" apt-get check -qq >/dev/null 2>&1 ||
		[ -n "$(in_root "$root" dpkg --audit 2>&1)" ]; then
		rc=2
	elif [ ! -e "$stamp" ] ||
		[ -n "$(find "$stamp" -mmin +$((max_age_hours * 60)) 2>/dev/null)" ]; then
		echo "root: updating the PostgreSQL $v root's packages"
		if in_root "$root" apt-get update -qq &&
			in_root "$root" apt-get dist-upgrade -y -qq >/dev/null; then
			touch "$stamp"
		else
			rc=2
		fi
	fi
	if [ $rc -eq 0 ]; then
		copy=$(mktemp -d "$root/tmp/setup.XXXXXX")
		cp test/setup.sh test/pgversion.sh "$copy/"
		in_root "$root" env PGVERSION="$v" bash "/${copy#"$root"/}/setup.sh" || rc=1
		rm -rf "$copy"
		# the downloaded packages are not needed again
		in_root "$root" apt-get clean
	fi
	unmount_all
	return $rc
}

prepare() {
	local v=$1 root rc=0
	root=$roots/$(suite_of "$v")
	if [ ! -x "$root/usr/bin/apt-get" ] || [ ! -e "$root/.booking-matrix" ] ||
		[ "$(cut -d' ' -f1 "$root/.booking-matrix")" != "$layout" ]; then
		bootstrap "$v" "$root"
	fi
	refresh "$v" "$root" || rc=$?
	if [ $rc -eq 2 ]; then
		echo "root: the PostgreSQL $v root's packages are broken; making it again"
		bootstrap "$v" "$root"
		rc=0
		refresh "$v" "$root" || rc=$?
	fi
	[ $rc -eq 0 ] || die "cannot set up the PostgreSQL $v root"
}

# Copy the tracked files, as they are in the work tree (uncommitted changes
# included), to a fresh directory in the root and run a command there.
run() {
	local v=$1 root dir rc=0
	shift
	root=$roots/$(suite_of "$v")
	# no prepare may remake the root under a run
	exec 8>"$root.lock"
	flock -s 8
	[ -e "$root/.booking-matrix" ] || die "no root for PostgreSQL $v; run: test/root.sh prepare $v"
	mkdir -p "$root/build"
	dir=$(mktemp -d "$root/build/booking.XXXXXX")
	chmod 755 "$dir"
	git ls-files -z | while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar --null -T - -cf - | tar -xf - -C "$dir"
	# node-postgres as the host's npm fetched it: the root need not trust
	# every certificate authority the host does to reach the registry
	if command -v npm >/dev/null && [ ! -d test/client/node/node_modules/pg ]; then
		(cd test/client/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || true
	fi
	if [ -d test/client/node/node_modules ]; then
		cp -a test/client/node/node_modules "$dir/test/client/node/"
	fi
	mount_all "$root"
	in_root "$root" env PGVERSION="$v" ${PGPORT:+PGPORT="$PGPORT"} \
		${BOOKING_SRC_PGHOST:+BOOKING_SRC_PGHOST="$BOOKING_SRC_PGHOST"} \
		${BOOKING_SRC_PGPORT:+BOOKING_SRC_PGPORT="$BOOKING_SRC_PGPORT"} \
		${BOOKING_SRC_PGUSER:+BOOKING_SRC_PGUSER="$BOOKING_SRC_PGUSER"} \
		${BOOKING_SRC_PGPASSWORD:+BOOKING_SRC_PGPASSWORD="$BOOKING_SRC_PGPASSWORD"} \
		${BOOKING_SRC_PGDATABASE:+BOOKING_SRC_PGDATABASE="$BOOKING_SRC_PGDATABASE"} \
		bash -c 'cd "$1" && shift && exec "$@"' - "/${dir#"$root"/}" "$@" || rc=$?
	unmount_all
	rm -rf "$dir"
	return $rc
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
# In a mount namespace of our own, whatever is mounted into a root goes away
# with us even if the trap never runs, and never shows on the host.
if [ -z "${BOOKING_ROOT_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
	BOOKING_ROOT_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
case ${1:-} in
	prepare)
		mkdir -p "$roots"
		exec 9>"$roots/$(suite_of "$2").lock"
		flock 9
		prepare "$2"
		;;
	run) shift; run "$@" ;;
	path) echo "$roots/$(suite_of "$2")" ;;
	tools) tools ;;
	*) die "usage: test/root.sh prepare V | run V CMD... | path V | tools" ;;
esac
