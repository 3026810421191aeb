--
-- resource_holder answers as any query by the caller would: it needs SELECT
-- on the table (42501 without it) and row-level security applies to it
-- (NULL for a booking a policy hides).  The protocol's own lookup is not
-- the caller's: it sees every row, so a booking the caller cannot see
-- still makes book_resource answer false.  For the extension's own table
-- and an attached one.  (1.0 answered resource_holder past a REVOKE and
-- past any policy.)
--
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE bookings;

CREATE ROLE regress_holder_reader;
CREATE TABLE holder_att (id bigint GENERATED ALWAYS AS IDENTITY,
                         resource_id bigint NOT NULL,
                         user_id bigint NOT NULL);
CREATE INDEX ON holder_att (resource_id);
SELECT booking_attach('holder_att');
GRANT SELECT, INSERT, DELETE ON holder_att TO regress_holder_reader;

SELECT book_resource(1, 10), book_resource(2, 20),
       book_resource('holder_att', 1, 10), book_resource('holder_att', 2, 20);

SET ROLE regress_holder_reader;
SELECT resource_holder(1) AS own_1, resource_holder('holder_att', 1) AS att_1;
RESET ROLE;

-- no SELECT: 42501, as for SELECT ... FROM the table
REVOKE SELECT ON bookings FROM PUBLIC;
REVOKE SELECT ON holder_att FROM regress_holder_reader;
SET ROLE regress_holder_reader;
SELECT resource_holder(1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT resource_holder('holder_att', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- booking needs no SELECT on the own table, and its lookup still sees
-- the booking (the extension's table is written by the functions only)
SELECT book_resource(1, 30) AS own_booked_again;
RESET ROLE;
GRANT SELECT ON bookings TO PUBLIC;
GRANT SELECT ON holder_att TO regress_holder_reader;

-- row-level security hides user 10's bookings from the reader: NULL, as
-- the caller's own SELECT finds nothing; user 20's stay visible
ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
CREATE POLICY not_10 ON bookings USING (user_id <> 10);
ALTER TABLE holder_att ENABLE ROW LEVEL SECURITY;
CREATE POLICY not_10 ON holder_att USING (user_id <> 10);
SET ROLE regress_holder_reader;
SELECT count(*) AS own_rows_seen FROM bookings;
SELECT resource_holder(1) AS own_1, resource_holder(2) AS own_2,
       resource_holder('holder_att', 1) AS att_1,
       resource_holder('holder_att', 2) AS att_2;
-- the protocol's lookup sees the hidden booking: no second booking
SELECT book_resource(1, 30) AS own_1, book_resource('holder_att', 1, 30) AS att_1;
RESET ROLE;
SELECT 'own' AS tbl, resource_id, user_id FROM bookings
UNION ALL
SELECT 'att', resource_id, user_id FROM holder_att
ORDER BY 1, 2, 3;

DROP POLICY not_10 ON bookings;
ALTER TABLE bookings DISABLE ROW LEVEL SECURITY;
DROP TABLE holder_att;
DROP ROLE regress_holder_reader;
TRUNCATE bookings;
