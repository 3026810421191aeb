\set rid random(1, :rmax)
\set uid random(1, 1000000)
INSERT INTO uniq.bookings (resource_id, user_id) VALUES (:rid, :uid) ON CONFLICT DO NOTHING;
