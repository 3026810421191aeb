\set rid random(1, :rmax)
\set uid random(1, 1000000)
BEGIN;
SELECT pg_advisory_xact_lock(:rid);
INSERT INTO seed_sql.bookings (resource_id, user_id) SELECT CAST(:rid AS bigint), CAST(:uid AS bigint) WHERE NOT EXISTS (SELECT 1 FROM seed_sql.bookings WHERE resource_id = :rid);
COMMIT;
