/* booking--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION booking UPDATE TO '1.1'" to load this file. \quit

-- The registry of tables under the protocol: the extension's own bookings
-- table needs no row (it may have one, to choose its lock space); any other
-- table is guarded once booking_attach has put it here.  Written only by
-- booking_attach, booking_detach and booking_set_default; the protocol's
-- settings are no secret, so anyone may read it.
CREATE TABLE @extschema@.booking_tables (
	tbl regclass PRIMARY KEY,
	resource_column name NOT NULL,
	user_column name NOT NULL,
	active_when text,
	release_sets text,
	lock_space text NOT NULL DEFAULT 'shared'
		CHECK (lock_space IN ('shared', 'private')),
	is_default boolean NOT NULL DEFAULT false,
	CHECK (release_sets IS NULL OR active_when IS NOT NULL)
);

CREATE UNIQUE INDEX booking_tables_one_default
	ON @extschema@.booking_tables (is_default) WHERE is_default;

COMMENT ON TABLE @extschema@.booking_tables IS
'tables under the booking protocol and their settings; written by booking_attach, booking_detach and booking_set_default';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.booking_tables', '');

REVOKE ALL ON @extschema@.booking_tables FROM PUBLIC;
GRANT SELECT ON @extschema@.booking_tables TO PUBLIC;

-- pg_dump reads the identity's position of every dumped table: without this
-- a database owner who is not a superuser could not dump the bookings.
GRANT SELECT ON SEQUENCE @extschema@.bookings_id_seq TO PUBLIC;

CREATE FUNCTION @extschema@.booking_attach(tbl regclass,
	resource_column name DEFAULT 'resource_id',
	user_column name DEFAULT 'user_id',
	active_when text DEFAULT NULL,
	release_sets text DEFAULT NULL,
	lock_space text DEFAULT 'shared')
RETURNS void
AS 'MODULE_PATHNAME', 'booking_attach'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.booking_attach(regclass, name, name, text, text, text) IS
'put a table under the booking protocol, or change its settings; only its owner may';

CREATE FUNCTION @extschema@.booking_detach(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'booking_detach'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.booking_detach(regclass) IS
'take a table out from under the booking protocol; its rows stay';

CREATE FUNCTION @extschema@.booking_set_default(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'booking_set_default'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.booking_set_default(regclass) IS
'make an attached table the target of the functions that take no table; NULL goes back to the own table';

CREATE FUNCTION @extschema@.book_resource(tbl regclass, resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'book_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.book_resource(regclass, bigint, bigint) IS
'book a resource in a table, waiting for its lock; true if booked, false if already booked';

CREATE FUNCTION @extschema@.try_book_resource(tbl regclass, resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'try_book_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.try_book_resource(regclass, bigint, bigint) IS
'book a resource in a table without waiting; false if it is booked or its lock is held';

CREATE FUNCTION @extschema@.book_resources(tbl regclass, resource_ids bigint[], user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'book_resources'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.book_resources(regclass, bigint[], bigint) IS
'book every resource of a set in a table or none; locks them in ascending order';

CREATE FUNCTION @extschema@.release_resource(tbl regclass, resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'release_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.release_resource(regclass, bigint, bigint) IS
'cancel the booking of a resource in a table if user_id holds it; true if released';

CREATE FUNCTION @extschema@.resource_holder(tbl regclass, resource_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'resource_holder'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.resource_holder(regclass, bigint) IS
'user_id holding a resource in a table as the caller may see it, or NULL; takes no resource lock';

-- A dropped table leaves the registry with it (a dangling regclass would
-- break the next dump's restore), except the default table: dropping that
-- would silently send every two-argument call to another table.
CREATE FUNCTION @extschema@.booking_forget_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dflt text;
BEGIN
	IF pg_catalog.to_regclass('@extschema@.booking_tables') IS NULL THEN
		RETURN;					-- the extension itself is being dropped
	END IF;
	SELECT d.object_identity INTO dflt
	FROM pg_catalog.pg_event_trigger_dropped_objects() d
	JOIN @extschema@.booking_tables t ON t.tbl::oid = d.objid
	WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
	  AND t.is_default;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot drop table % because it is the default booking table', dflt
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Reset the default first with SELECT booking_set_default(NULL).';
	END IF;
	DELETE FROM @extschema@.booking_tables t
	USING pg_catalog.pg_event_trigger_dropped_objects() d
	WHERE t.tbl::oid = d.objid
	  AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0;
END
$$;

COMMENT ON FUNCTION @extschema@.booking_forget_dropped() IS
'event trigger: drop the registry row of a dropped table; refuse to drop the default table';

CREATE EVENT TRIGGER booking_forget_dropped ON sql_drop
	EXECUTE FUNCTION @extschema@.booking_forget_dropped();
