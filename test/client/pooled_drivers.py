#!/usr/bin/env python3
"""Drivers' prepared statements behind PgBouncer's transaction pooling.

PgBouncer 1.18 (Debian 12) does not track protocol-level prepared
statements (max_prepared_statements came in 1.21): a statement a driver
prepared on one server connection is missing on the next one its client is
given.  16 clients x 40 calls each through the pool (dbname from the PG*
environment), once with each driver's default and once with the setting
that turns its named statements off; prints the calls that failed by
SQLSTATE.  Used by test/sh/pgbouncer.sh.
"""
import asyncio
import collections
import threading

import asyncpg
import psycopg

CLIENTS, CALLS = 16, 40


def run_psycopg(base, **kw):
    errors = collections.Counter()

    def client(n):
        with psycopg.connect(autocommit=True, **kw) as conn:
            for i in range(CALLS):
                try:
                    conn.execute("SELECT book_resource(%s::bigint, %s::bigint)", (base + n * CALLS + i, 1))
                except psycopg.Error as e:
                    errors[e.sqlstate] += 1
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(errors)


async def run_asyncpg(base, **kw):
    errors = collections.Counter()

    async def client(n):
        conn = await asyncpg.connect(**kw)
        for i in range(CALLS):
            try:
                await conn.fetchval("SELECT book_resource($1, $2)", base + n * CALLS + i, 1)
            except asyncpg.PostgresError as e:
                errors[e.sqlstate] += 1
        await conn.close()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return dict(errors)


print("psycopg default (prepare_threshold=5):", run_psycopg(10000))
print("psycopg prepare_threshold=None:", run_psycopg(20000, prepare_threshold=None))
print("asyncpg default (statement cache):", asyncio.run(run_asyncpg(30000)))
print("asyncpg statement_cache_size=0:", asyncio.run(run_asyncpg(40000, statement_cache_size=0)))
