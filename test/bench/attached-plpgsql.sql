\set rid random(1, :rmax)
\set uid random(1, 1000000)
SELECT att.book(:rid, :uid);
