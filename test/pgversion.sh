# Which PostgreSQL major version the build and the tests use (sourced by
# test/setup.sh and test/run.sh).  $PGVERSION if set; otherwise the one this
# machine's Debian release ships (15 on Debian 12, 17 on 13, 18 on testing);
# otherwise the newest installed.
if [ -z "${PGVERSION:-}" ]; then
	case $(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") in
		bookworm) PGVERSION=15 ;;
		trixie) PGVERSION=17 ;;
		forky|sid) PGVERSION=18 ;;
		*) PGVERSION=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1) ;;
	esac
fi
case $PGVERSION in
	''|*[!0-9]*) echo "cannot tell which PostgreSQL to use; set PGVERSION" >&2; exit 1 ;;
esac
export PGVERSION
export PG_CONFIG=/usr/lib/postgresql/$PGVERSION/bin/pg_config
