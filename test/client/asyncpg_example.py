#!/usr/bin/env python3
"""Calling booking from asyncpg (Debian: python3-asyncpg).

asyncpg runs every query as a server-side prepared statement and sends
parameters and results in the binary format; bigint is a Python int.
Connects with the PG* environment; needs CREATE EXTENSION booking done.
Run by test/sh/clients.sh, which compares its output with
test/client/expected/asyncpg_example.out.
"""
import asyncio

import asyncpg

BOOK = "SELECT book_resource($1, $2)"
# asyncpg's type introspection query, kept as a prepared statement
TYPE_LOOKUPS = ("SELECT count(*) FROM pg_prepared_statements "
                "WHERE statement LIKE 'WITH RECURSIVE typeinfo_tree%'")


async def main():
    conn = await asyncpg.connect()

    print("book 1 for user 42:", await conn.fetchval(BOOK, 1, 42))
    print("book 1 for user 7: ", await conn.fetchval(BOOK, 1, 7))

    # An explicit prepared statement, reused; the server says what it takes.
    book = await conn.prepare(BOOK)
    print("parameter types:", [t.name for t in book.get_parameters()])
    print("book 2, 3, 4:", [await book.fetchval(r, 42) for r in (2, 3, 4)])

    # Inside a larger transaction: rolled back with it.
    try:
        async with conn.transaction():
            print("book 5 in a transaction:", await book.fetchval(5, 42))
            raise RuntimeError("payment failed")
    except RuntimeError:
        pass
    print("holder of 5 after ROLLBACK:", await conn.fetchval("SELECT resource_holder($1)", 5))

    # A list for bigint[].  The first array argument on a connection makes
    # asyncpg look the type up (one more round trip, once).
    print("type lookups before:", await conn.fetchval(TYPE_LOOKUPS))
    print("book [6, 7, 8]:", await conn.fetchval("SELECT book_resources($1, $2)", [6, 7, 8], 42))
    print("type lookups after: ", await conn.fetchval(TYPE_LOOKUPS))

    # Server errors carry their SQLSTATE; out-of-range ints fail in the client.
    try:
        await book.fetchval(None, 42)
    except asyncpg.NullValueNotAllowedError as e:
        print("NULL id:", e.sqlstate, e)
    try:
        await book.fetchval(2**63, 42)
    except asyncpg.DataError as e:
        print("2**63:", type(e).__name__, "(client side, nothing sent)")
    await conn.close()

    # A pool and concurrent calls: 8 users race for resource 100, one wins.
    async with asyncpg.create_pool(min_size=4, max_size=4) as pool:
        won = await asyncio.gather(*(pool.fetchval(BOOK, 100, u) for u in range(1, 9)))
        print("8 concurrent bookers of 100: %d true, %d false" % (won.count(True), won.count(False)))


asyncio.run(main())
