#!/usr/bin/env bash
# Release and upgrade of the booking extension, each in its own database of
# one throwaway cluster:
#
#  1. ALTER EXTENSION booking UPDATE from 1.0 with live bookings: the 1.0
#     functions keep working under the installed library before the update
#     (in the session that later updates, too), every booking and the
#     identity's position survive it, and the 1.1 functions work after it.
#  2. A fresh 1.1 install and an updated one are identical: a canonical
#     listing of every catalog object of the extension (functions with
#     their properties and comments, tables, columns, defaults, constraints,
#     indexes, views, ACLs and initial privileges, the event trigger, the
#     extension's config tables and its pg_depend membership) is diffed.
#  3. pg_dump / pg_restore (and a plain dump through psql) of a database
#     with attached tables, one of them keeping history and the default
#     table: the registry, the default, every row of every table come back,
#     and the functions work on the restored tables.
#  4. A database owner who is not a superuser can pg_dump its database.
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh

bindir=/usr/lib/postgresql/${PGVERSION:?run under pg_virtualenv}/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# booked_at / cancelled_at print the same in every database
export PGTZ=UTC

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# qd DB SQL: one query in database DB
qd() {
	local db=$1; shift
	psql -AtX -q -v ON_ERROR_STOP=1 -d "$db" -c "$*"
}

# check WHAT WANT GOT
check() {
	[ "$3" = "$2" ] || fail "$1: expected '$2', got '$3'"
	echo "ok: $1 ($3)"
}

# copy_out DB SQL FILE: the rows of a query, as COPY text
copy_out() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "COPY ($2) TO STDOUT" >"$3"
}

# same_rows WHAT FILE1 FILE2
same_rows() {
	diff -u "$2" "$3" || fail "$1 differ (diff above)"
	echo "ok: $1 identical ($(wc -l <"$2") rows)"
}

for db in up fresh upd src dst dst_plain owned; do
	dropdb --if-exists "regress_booking_$db"
done

###########################################################################
echo "== 1. ALTER EXTENSION UPDATE from 1.0 with live bookings"
up=regress_booking_up
createdb "$up"
qd "$up" "CREATE EXTENSION booking VERSION '1.0'"
check "installed version" 1.0 \
	"$(qd "$up" "SELECT extversion FROM pg_extension WHERE extname = 'booking'")"

# Bookings in separate transactions; releases leave gaps, the highest id
# ever issued among them, so max(id) lags the identity's position.
for r in 1 2 3 4 5; do
	check "1.0 book $r" t "$(qd "$up" "SELECT book_resource($r, 100 + $r)")"
done
check "1.0 book set" t "$(qd "$up" "SELECT book_resources('{10,11,12}', 200)")"
check "1.0 release 2" t "$(qd "$up" "SELECT release_resource(2, 102)")"
check "1.0 book 20" t "$(qd "$up" "SELECT book_resource(20, 300)")"
check "1.0 release 20" t "$(qd "$up" "SELECT release_resource(20, 300)")"
check "1.0 booked answers false" f "$(qd "$up" "SELECT book_resource(1, 999)")"
check "1.0 try on booked" f "$(qd "$up" "SELECT try_book_resource(3, 999)")"
check "1.0 holder" 104 "$(qd "$up" "SELECT resource_holder(4)")"

rows_sql="SELECT id, resource_id, user_id, booked_at FROM bookings ORDER BY id"
copy_out "$up" "$rows_sql" "$work/before.rows"
check "rows before the update" 7 "$(wc -l <"$work/before.rows")"
seq_sql="SELECT last_value, is_called FROM bookings_id_seq"
seq_before=$(qd "$up" "$seq_sql")
last_issued=$(qd "$up" "SELECT last_value FROM bookings_id_seq")
max_id=$(qd "$up" "SELECT max(id) FROM bookings")
[ "$last_issued" -gt "$max_id" ] ||
	fail "setup: the release of the last booking should leave last_value ($last_issued) above max(id) ($max_id)"

# One session books under 1.0, updates, and books again: what the backend
# learnt about the extension before the update must not stay in its way.
psql -AtX -q -v ON_ERROR_STOP=1 -d "$up" \
	-c "SELECT book_resource(30, 400)" \
	-c "ALTER EXTENSION booking UPDATE" \
	-c "SELECT extversion FROM pg_extension WHERE extname = 'booking'" \
	-c "SELECT book_resource(31, 401)" \
	-c "SELECT book_resource(30, 999)" \
	-c "SELECT book_resource('bookings', 32, 402)" >"$work/session.out"
check "one session across the update" "t 1.1 t f t" "$(tr '\n' ' ' <"$work/session.out" | sed 's/ $//')"

# Every booking made before the update is there, unchanged.
copy_out "$up" "SELECT id, resource_id, user_id, booked_at FROM bookings
	WHERE resource_id NOT IN (30, 31, 32) ORDER BY id" "$work/after.rows"
same_rows "bookings across the update" "$work/before.rows" "$work/after.rows"
check "still one row per resource" 0 \
	"$(qd "$up" "SELECT count(*) - count(DISTINCT resource_id) FROM bookings")"
# The identity went on from where it was: no id was reused.
min_new=$(qd "$up" "SELECT min(id) FROM bookings WHERE resource_id IN (30, 31, 32)")
[ "$min_new" -gt "$last_issued" ] ||
	fail "a booking after the update got id $min_new, not above the last id issued before it ($last_issued)"
echo "ok: ids after the update ($min_new..) are above every id issued before it ($last_issued; sequence was $seq_before)"
check "bookings table still dumped with the extension" "bookings bookings_id_seq" \
	"$(qd "$up" "SELECT string_agg(c::regclass::text, ' ' ORDER BY c::regclass::text)
		FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'booking'
		AND c::regclass::text LIKE 'bookings%'")"

# The 1.1 functions work on the updated database.
qd "$up" "CREATE TABLE hist (id serial PRIMARY KEY, resource_id int, user_id int,
	cancelled_at timestamptz)"
qd "$up" "CREATE INDEX ON hist (resource_id)"
qd "$up" "SELECT booking_attach('hist', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now()')" >/dev/null
check "1.1 registry row" "hist|resource_id|user_id|(cancelled_at IS NULL)|cancelled_at = now()|shared|f" \
	"$(qd "$up" "SELECT * FROM booking_tables")"
check "1.1 book on attached" t "$(qd "$up" "SELECT book_resource('hist', 1, 7)")"
check "1.1 booked answers false" f "$(qd "$up" "SELECT book_resource('hist', 1, 8)")"
check "1.1 try on attached" t "$(qd "$up" "SELECT try_book_resource('hist', 2, 8)")"
check "1.1 set on attached" t "$(qd "$up" "SELECT book_resources('hist', '{3,4}', 9)")"
check "1.1 holder on attached" 9 "$(qd "$up" "SELECT resource_holder('hist', 4)")"
check "1.1 release by non-holder" f "$(qd "$up" "SELECT release_resource('hist', 1, 8)")"
check "1.1 release" t "$(qd "$up" "SELECT release_resource('hist', 1, 7)")"
check "1.1 rebook after release" t "$(qd "$up" "SELECT book_resource('hist', 1, 8)")"
check "1.1 history kept" "2|1" \
	"$(qd "$up" "SELECT count(*), count(*) FILTER (WHERE cancelled_at IS NULL) FROM hist WHERE resource_id = 1")"
qd "$up" "SELECT booking_set_default('hist')" >/dev/null
check "1.1 default: booked answers false" f "$(qd "$up" "SELECT book_resource(2, 1)")"
check "1.1 default: new one books" t "$(qd "$up" "SELECT book_resource(40, 11)")"
check "1.1 default: holder" 11 "$(qd "$up" "SELECT resource_holder(40)")"
check "the default's booking went to hist" "1|0" \
	"$(qd "$up" "SELECT (SELECT count(*) FROM hist WHERE resource_id = 40),
		(SELECT count(*) FROM bookings WHERE resource_id = 40)")"
qd "$up" "SELECT booking_set_default(NULL)" >/dev/null
check "reset: the own table again" t "$(qd "$up" "SELECT book_resource(41, 20)")"
check "reset: holder" 20 "$(qd "$up" "SELECT resource_holder(41)")"
check "own table's rows after all that" 11 "$(qd "$up" "SELECT count(*) FROM bookings")"

###########################################################################
echo "== 2. a fresh 1.1 install and an updated one are identical"
# One line per fact about every object of the extension, with names, never
# OIDs.  The extension's objects are those pg_depend ties to it (deptype
# 'e'); for each, what the catalogs say that a dump or a call could notice.
cat >"$work/catalog.sql" <<'SQL'
WITH ext AS (
	SELECT * FROM pg_extension WHERE extname = 'booking'
), member AS (
	SELECT d.classid, d.objid
	FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
	  AND d.deptype = 'e'
), rel AS (
	SELECT c.* FROM pg_class c JOIN member m
		ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), facts(line) AS (
	-- the extension itself, its config tables and their dump conditions
	SELECT format('extension %s version %s relocatable %s schema %s',
				  extname, extversion, extrelocatable, extnamespace::regnamespace)
	FROM ext
	UNION ALL
	SELECT format('extension config %s condition %L', c.oid::regclass, cond)
	FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
	JOIN pg_class c ON c.oid = u.cfg
	UNION ALL
	-- membership
	SELECT format('member %s %s', i.type, i.identity)
	FROM member m, pg_identify_object(m.classid, m.objid, 0) i
	UNION ALL
	-- what the members depend on, and what depends on them
	SELECT format('depend %s %s (%s) -> %s %s (%s) %s',
				  a.type, a.identity, d.objsubid, b.type, b.identity, d.refobjsubid, d.deptype)
	FROM pg_depend d
	CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, 0) a
	CROSS JOIN LATERAL pg_identify_object(d.refclassid, d.refobjid, 0) b
	WHERE d.refclassid <> 'pg_extension'::regclass
	  AND EXISTS (SELECT FROM member m
				  WHERE (m.classid, m.objid) IN ((d.classid, d.objid), (d.refclassid, d.refobjid)))
	UNION ALL
	-- functions
	SELECT format('function %s returns %s language %s volatile %s strict %s parallel %s secdef %s leakproof %s cost %s rows %s kind %s config %s acl %s src %s bin %s args %s comment %L',
				  p.oid::regprocedure, pg_get_function_result(p.oid), l.lanname,
				  p.provolatile, p.proisstrict, p.proparallel, p.prosecdef,
				  p.proleakproof, p.procost, p.prorows, p.prokind, p.proconfig,
				  p.proacl, md5(p.prosrc), p.probin,
				  pg_get_function_arguments(p.oid),
				  obj_description(p.oid, 'pg_proc'))
	FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	JOIN pg_language l ON l.oid = p.prolang
	UNION ALL
	-- relations (tables, sequences, indexes, views)
	SELECT format('relation %s kind %s persistence %s options %s acl %s rls %s force %s replident %s comment %L',
				  c.oid::regclass, c.relkind, c.relpersistence, c.reloptions,
				  c.relacl, c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
				  obj_description(c.oid, 'pg_class'))
	FROM rel c
	UNION ALL
	SELECT format('column %s.%s #%s %s notnull %s default %s identity %L generated %L dropped %s acl %s comment %L',
				  a.attrelid::regclass, a.attname, a.attnum,
				  format_type(a.atttypid, a.atttypmod), a.attnotnull,
				  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
				  a.attisdropped, a.attacl, col_description(a.attrelid, a.attnum))
	FROM pg_attribute a JOIN rel c ON c.oid = a.attrelid
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE a.attnum > 0
	UNION ALL
	SELECT format('constraint %s on %s: %s deferrable %s validated %s',
				  co.conname, co.conrelid::regclass, pg_get_constraintdef(co.oid),
				  co.condeferrable, co.convalidated)
	FROM pg_constraint co JOIN rel c ON c.oid = co.conrelid
	UNION ALL
	SELECT format('index %s', pg_get_indexdef(i.indexrelid))
	FROM pg_index i JOIN rel c ON c.oid = i.indrelid
	UNION ALL
	SELECT format('view %s: %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
	FROM rel c WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('trigger %s', pg_get_triggerdef(t.oid))
	FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid
	UNION ALL
	SELECT format('policy %s on %s', po.polname, po.polrelid::regclass)
	FROM pg_policy po JOIN rel c ON c.oid = po.polrelid
	UNION ALL
	SELECT format('sequence %s type %s start %s inc %s min %s max %s cache %s cycle %s',
				  s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement,
				  s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
	FROM pg_sequence s JOIN rel c ON c.oid = s.seqrelid
	UNION ALL
	SELECT format('event trigger %s on %s function %s enabled %s tags %s comment %L',
				  e.evtname, e.evtevent, e.evtfoid::regprocedure, e.evtenabled,
				  e.evttags, obj_description(e.oid, 'pg_event_trigger'))
	FROM pg_event_trigger e
	JOIN member m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
	UNION ALL
	-- the privileges pg_dump treats as the extension's own
	SELECT format('init privs %s %s (%s) %s %s', i.type, i.identity, ip.objsubid, ip.privtype, ip.initprivs)
	FROM pg_init_privs ip
	JOIN member m ON m.classid = ip.classoid AND m.objid = ip.objoid
	CROSS JOIN LATERAL pg_identify_object(ip.classoid, ip.objoid, 0) i
)
-- a toast table's name holds its OID
SELECT l FROM facts,
	regexp_replace(line, 'pg_toast_[0-9]+', 'pg_toast_<oid>', 'g') AS l
ORDER BY l COLLATE "C";
SQL

fresh=regress_booking_fresh
upd=regress_booking_upd
createdb "$fresh"
createdb "$upd"
qd "$fresh" "CREATE EXTENSION booking"
qd "$upd" "CREATE EXTENSION booking VERSION '1.0'"
qd "$upd" "ALTER EXTENSION booking UPDATE"
for db in "$fresh" "$upd"; do
	psql -AtX -q -v ON_ERROR_STOP=1 -d "$db" -f "$work/catalog.sql" >"$work/catalog.$db"
done
# The listing covers what it claims to (so an empty or broken one fails).
# (17 added the MAINTAIN privilege, m, to a table's full set)
for want in '^extension booking version 1.1 ' \
	'^extension config bookings condition ' \
	'^extension config booking_tables condition ' \
	'^member event trigger booking_forget_dropped$' \
	'^member table public.booking_tables$' \
	'^member view public.booking_waits$' \
	'^view booking_locks: [0-9a-f]\{32\}$' \
	'^relation booking_waits kind v persistence p options {security_invoker=true} acl {postgres=arwdDxtm\{0,1\}/postgres,=r/postgres}' \
	'^function book_resource(regclass,bigint,bigint) returns boolean language c volatile v strict f parallel u ' \
	'^function booking_forget_dropped() .* secdef t .*config {"search_path=pg_catalog, pg_temp"}' \
	'^relation booking_tables kind r .*acl {postgres=arwdDxtm\{0,1\}/postgres,=r/postgres}' \
	'^relation bookings_id_seq kind S .*acl {postgres=rwU/postgres,=r/postgres}' \
	"^column bookings.id #1 bigint notnull t default  identity 'a' " \
	'^constraint booking_tables_lock_space_check on booking_tables: CHECK' \
	'^index CREATE UNIQUE INDEX booking_tables_one_default ON public.booking_tables USING btree (is_default) WHERE is_default$' \
	'^event trigger booking_forget_dropped on sql_drop function booking_forget_dropped() enabled O ' \
	'^init privs sequence public.bookings_id_seq (0) e {postgres=rwU/postgres,=r/postgres}$' \
	'^init privs table public.booking_tables (0) e {postgres=arwdDxtm\{0,1\}/postgres,=r/postgres}$' \
	'^depend toast table pg_toast.pg_toast_<oid> (0) -> table public.booking_tables (0) i$' \
	'^depend event trigger booking_forget_dropped (0) -> function public.booking_forget_dropped() (0) n$'; do
	grep -q -- "$want" "$work/catalog.$fresh" ||
		{ cat "$work/catalog.$fresh"; fail "the catalog listing has no line matching: $want"; }
done
echo "ok: the listing has $(wc -l <"$work/catalog.$fresh") lines, the expected kinds among them"
if ! diff -u "$work/catalog.$fresh" "$work/catalog.$upd"; then
	fail "a fresh 1.1 install and one updated from 1.0 differ (diff above: - fresh, + updated)"
fi
echo "ok: fresh and updated installations are identical"

###########################################################################
echo "== 3. dump and restore with attached tables and a default table"
src=regress_booking_src
createdb "$src"
# The application's own table is public.bookings, so the extension lives
# in a schema of its own; a second attached table keeps no history and
# uses the private lock space.
psql -X -q -v ON_ERROR_STOP=1 -d "$src" >/dev/null <<'SQL'
CREATE SCHEMA booking;
CREATE EXTENSION booking SCHEMA booking;
CREATE TABLE public.bookings (
	id serial PRIMARY KEY,
	resource_id int,
	user_id int,
	cancelled_at timestamptz
);
CREATE INDEX ON public.bookings (resource_id);
SELECT booking.booking_attach('public.bookings', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now()');
CREATE SCHEMA app;
CREATE TABLE app.rooms (night date DEFAULT '2026-01-01', room bigint NOT NULL, guest bigint NOT NULL);
CREATE INDEX ON app.rooms (room);
SELECT booking.booking_attach('app.rooms', 'room', 'guest', lock_space => 'private');
SELECT booking.booking_set_default('public.bookings');
SQL
# Two-argument calls now go to public.bookings.
for r in 1 2 3 4; do
	check "default book $r" t "$(qd "$src" "SELECT booking.book_resource($r, 10 + $r)")"
done
check "default release 2" t "$(qd "$src" "SELECT booking.release_resource(2, 12)")"
check "default rebook 2" t "$(qd "$src" "SELECT booking.book_resource(2, 22)")"
check "default release 4" t "$(qd "$src" "SELECT booking.release_resource(4, 14)")"
check "rooms set" t "$(qd "$src" "SELECT booking.book_resources('app.rooms', '{1,2,3}', 7)")"
check "rooms release" t "$(qd "$src" "SELECT booking.release_resource('app.rooms', 3, 7)")"
check "own table" t "$(qd "$src" "SELECT booking.book_resource('booking.bookings', 1, 99)")"
check "history in the user table" "5|3" \
	"$(qd "$src" "SELECT count(*), count(*) FILTER (WHERE cancelled_at IS NULL) FROM public.bookings")"

registry_sql="SELECT (SELECT format('%I.%I', relnamespace::regnamespace, relname)
		FROM pg_class WHERE oid = tbl), resource_column, user_column, active_when, release_sets, lock_space, is_default
	FROM booking.booking_tables ORDER BY 1"
user_rows_sql="SELECT id, resource_id, user_id, cancelled_at FROM public.bookings ORDER BY id"
rooms_sql="SELECT night, room, guest FROM app.rooms ORDER BY room"
own_sql="SELECT id, resource_id, user_id, booked_at FROM booking.bookings ORDER BY id"
for what in registry user_rows rooms own; do
	v=${what}_sql
	copy_out "$src" "${!v}" "$work/src.$what"
done
check "registry before the dump" 2 "$(wc -l <"$work/src.registry")"
grep -q $'^public.bookings\tresource_id\tuser_id\t(cancelled_at IS NULL)\tcancelled_at = now()\tshared\tt$' \
	"$work/src.registry" || fail "unexpected registry: $(cat "$work/src.registry")"

src_max_id=$(qd "$src" "SELECT max(id) FROM public.bookings")
"$bindir/pg_dump" -Fc -d "$src" -f "$work/src.dump"
"$bindir/pg_dump" -Fp -d "$src" -f "$work/src.sql"

dst=regress_booking_dst
dst_plain=regress_booking_dst_plain
createdb "$dst"
"$bindir/pg_restore" --exit-on-error -d "$dst" "$work/src.dump"
createdb "$dst_plain"
psql -X -q -v ON_ERROR_STOP=1 -d "$dst_plain" -f "$work/src.sql" >/dev/null

for db in "$dst" "$dst_plain"; do
	echo "-- restored into $db"
	for what in registry user_rows rooms own; do
		v=${what}_sql
		copy_out "$db" "${!v}" "$work/dst.$what"
		same_rows "$what" "$work/src.$what" "$work/dst.$what"
	done
	check "extension restored as an extension" "1.1 booking" \
		"$(qd "$db" "SELECT extversion || ' ' || extnamespace::regnamespace FROM pg_extension WHERE extname = 'booking'")"
	check "event trigger restored" booking_forget_dropped \
		"$(qd "$db" "SELECT evtname FROM pg_event_trigger")"

	# The two-argument functions still go to the restored default table,
	# which still guards its active bookings and only them.
	check "restored default: booked answers false" f "$(qd "$db" "SELECT booking.book_resource(1, 50)")"
	check "restored default: rebooked answers false" f "$(qd "$db" "SELECT booking.book_resource(2, 50)")"
	check "restored default: holder" 22 "$(qd "$db" "SELECT booking.resource_holder(2)")"
	check "restored default: released one books" t "$(qd "$db" "SELECT booking.book_resource(4, 50)")"
	check "restored default: new one books" t "$(qd "$db" "SELECT booking.book_resource(5, 51)")"
	check "restored default: release keeps history" t "$(qd "$db" "SELECT booking.release_resource(1, 11)")"
	check "restored table by name: booked answers false" f \
		"$(qd "$db" "SELECT booking.book_resource('public.bookings', 3, 52)")"
	check "restored table by name: new one books" t \
		"$(qd "$db" "SELECT booking.book_resource('public.bookings', 6, 52)")"
	check "restored user table's history" "8|5" \
		"$(qd "$db" "SELECT count(*), count(*) FILTER (WHERE cancelled_at IS NULL) FROM public.bookings")"
	check "at most one active row per resource" 0 \
		"$(qd "$db" "SELECT count(*) - count(DISTINCT resource_id) FROM public.bookings WHERE cancelled_at IS NULL")"
	# The user table's serial went on from where it was.
	new_id=$(qd "$db" "SELECT min(id) FROM public.bookings WHERE user_id IN (50, 51, 52)")
	[ "$new_id" -gt "$src_max_id" ] ||
		fail "a booking after the restore got id $new_id, not above the dumped rows' $src_max_id"
	echo "ok: user table ids after the restore ($new_id..) are above the dumped ones ($src_max_id)"
	check "the default's bookings stayed out of the own table" 1 \
		"$(qd "$db" "SELECT count(*) FROM booking.bookings")"
	check "rooms restored: booked answers false" f "$(qd "$db" "SELECT booking.book_resource('app.rooms', 1, 8)")"
	check "rooms restored: released one books" t "$(qd "$db" "SELECT booking.book_resource('app.rooms', 3, 8)")"
	check "own table restored: booked answers false" f \
		"$(qd "$db" "SELECT booking.book_resource('booking.bookings', 1, 98)")"
	# The restored default is still protected from being dropped.
	if err=$(qd "$db" "DROP TABLE public.bookings" 2>&1); then
		fail "the restored default table could be dropped"
	fi
	grep -q 'because it is the default booking table' <<<"$err" || fail "unexpected error: $err"
	echo "ok: the restored default table cannot be dropped"
done

###########################################################################
echo "== 4. a database owner who is not a superuser can dump it"
owned=regress_booking_owned
pw=${PGPASSWORD:-regress_booking_pw}
qd postgres "DROP ROLE IF EXISTS regress_booking_owner"
qd postgres "CREATE ROLE regress_booking_owner LOGIN PASSWORD '$pw'"
createdb -O regress_booking_owner "$owned"
qd "$owned" "CREATE EXTENSION booking"
check "a booking to dump" t "$(qd "$owned" "SELECT book_resource(1, 1)")"
PGPASSWORD=$pw PGUSER=regress_booking_owner psql -AtX -q -v ON_ERROR_STOP=1 -d "$owned" >/dev/null <<'SQL'
CREATE TABLE mine (id serial PRIMARY KEY, resource_id int, user_id int);
CREATE INDEX ON mine (resource_id);
SELECT booking_attach('mine');
SELECT book_resource('mine', 1, 2);
SQL
rc=0
PGPASSWORD=$pw "$bindir/pg_dump" -U regress_booking_owner -Fc -d "$owned" \
	-f "$work/owned.dump" 2>"$work/owned.err" || rc=$?
[ "$rc" -eq 0 ] || fail "pg_dump as the database owner failed: $(cat "$work/owned.err")"
"$bindir/pg_restore" -l "$work/owned.dump" | grep -q 'TABLE DATA public bookings' ||
	fail "the owner's dump has no data of the extension's bookings table"
"$bindir/pg_restore" -l "$work/owned.dump" | grep -q 'TABLE DATA public booking_tables' ||
	fail "the owner's dump has no data of the registry"
echo "ok: pg_dump by the non-superuser database owner succeeded"

for db in up fresh upd src dst dst_plain owned; do
	dropdb "regress_booking_$db"
done
qd postgres "DROP ROLE regress_booking_owner"
echo "upgrade: all checks passed"
