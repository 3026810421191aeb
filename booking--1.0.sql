/* booking--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION booking" to load this file. \quit

-- No UNIQUE (resource_id), partial unique index or EXCLUDE constraint: the
-- per-resource lock taken by the functions below is the guarantee.  The
-- primary key leads with resource_id: it is the index every lookup probes,
-- and the key a deployment sharded by resource_id needs.
CREATE TABLE @extschema@.bookings (
	id bigint GENERATED ALWAYS AS IDENTITY,
	resource_id bigint NOT NULL,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (resource_id, id)
);

COMMENT ON TABLE @extschema@.bookings IS
'one row per booked resource; written only by the booking functions';

-- Bookings are user data: pg_dump keeps the rows and the identity's position.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.bookings', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.bookings_id_seq', '');

-- Anyone may read; only the functions (running as the owner) may write, so
-- no row can bypass the lock protocol.
REVOKE ALL ON @extschema@.bookings FROM PUBLIC;
GRANT SELECT ON @extschema@.bookings TO PUBLIC;

CREATE FUNCTION @extschema@.book_resource(resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'book_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.book_resource(bigint, bigint) IS
'book a resource, waiting for its lock; true if booked, false if already booked';

CREATE FUNCTION @extschema@.try_book_resource(resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'try_book_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.try_book_resource(bigint, bigint) IS
'book a resource without waiting; false if it is booked or its lock is held';

CREATE FUNCTION @extschema@.book_resources(resource_ids bigint[], user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'book_resources'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.book_resources(bigint[], bigint) IS
'book every resource of a set or none; locks them in ascending order';

CREATE FUNCTION @extschema@.release_resource(resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'release_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.release_resource(bigint, bigint) IS
'cancel the booking of a resource if user_id holds it; true if released';

CREATE FUNCTION @extschema@.resource_holder(resource_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'resource_holder'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.resource_holder(bigint) IS
'user_id holding a resource as of now, or NULL; takes no lock';
