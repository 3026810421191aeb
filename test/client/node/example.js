// Calling booking from node-postgres (npm: pg).
//
// Connects with the PG* environment; needs CREATE EXTENSION booking done.
// Run by test/sh/clients.sh, which compares its output with
// test/client/expected/node_example.out.
'use strict';
const { Pool } = require('pg');

const BOOK = 'SELECT book_resource($1, $2) AS booked';
const pool = new Pool({ max: 4 });

async function main() {
  // A pool: each pool.query is one autocommit call.  Pass ids as strings
  // (or BigInt); a bigint comes back as a string.
  let r = await pool.query(BOOK, ['1', '42']);
  console.log('book 1 for user 42:', r.rows[0].booked);
  r = await pool.query(BOOK, ['1', '7']);
  console.log('book 1 for user 7: ', r.rows[0].booked);

  // Concurrent calls: 8 users race for resource 2, exactly one wins.
  const won = await Promise.all(
    [1, 2, 3, 4, 5, 6, 7, 8].map((u) => pool.query(BOOK, ['2', String(u)])));
  console.log('8 concurrent bookers of 2:',
    won.filter((x) => x.rows[0].booked).length, 'true');

  // A transaction: one client of the pool, BEGIN ... ROLLBACK.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    r = await client.query(BOOK, ['3', '42']);
    console.log('book 3 in a transaction:', r.rows[0].booked);
    await client.query('ROLLBACK'); // e.g. the payment failed
  } finally {
    client.release();
  }
  r = await pool.query('SELECT resource_holder($1) AS holder', ['3']);
  console.log('holder of 3 after ROLLBACK:', r.rows[0].holder);

  // book_resources: a JavaScript array of strings.
  r = await pool.query('SELECT book_resources($1, $2) AS booked', [['4', '5', '6'], '42']);
  console.log('book [4, 5, 6]:', r.rows[0].booked);

  // Ids above 2^53: a Number has already lost the last digit before it is sent.
  const id = '9007199254740993';
  for (const v of [Number(id), id, BigInt(id)]) {
    r = await pool.query('SELECT $1::bigint::text AS arrived', [v]);
    console.log(`${typeof v} ${v} arrives as ${r.rows[0].arrived}`);
  }
  r = await pool.query(BOOK, [BigInt(id), 42n]);
  r = await pool.query('SELECT resource_id, user_id FROM bookings WHERE resource_id = $1', [id]);
  console.log('booked with BigInt:', r.rows);

  // A client-side timeout (query_timeout) gives up waiting but cancels
  // nothing: the call stays queued on the server, and once the holder lets
  // go it books and commits for a caller that was told it failed.
  const holder = await pool.connect();
  await holder.query('BEGIN');
  await holder.query(BOOK, ['7', '1']);
  try {
    await pool.query({ text: BOOK, values: ['7', '2'], query_timeout: 300 });
  } catch (err) {
    console.log('book 7 for user 2:', err.message);
  }
  await holder.query('ROLLBACK');
  holder.release();
  for (let i = 0; i < 50; i++) { // the abandoned call ends on its own
    r = await pool.query('SELECT resource_holder($1) AS holder', ['7']);
    if (r.rows[0].holder !== null) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  console.log('holder of 7 all the same:', r.rows[0].holder);

  // Errors: err.code is the SQLSTATE.
  try {
    await pool.query(BOOK, [null, '42']);
  } catch (err) {
    console.log('NULL id:', err.code, err.message);
  }
  await pool.end();
}

main().catch((err) => { console.error(err); process.exit(1); });
