#!/usr/bin/env python3
"""Calling booking from psycopg 3 (Debian: python3-psycopg).

Connects with the PG* environment; needs CREATE EXTENSION booking done.
Run by test/sh/clients.sh, which compares its output with
test/client/expected/psycopg3_example.out.
"""
import psycopg
from psycopg import errors

# Cast the parameters: psycopg 3 sends a Python int as int2, int4, int8 or
# numeric depending on its value, and a numeric argument matches no function.
BOOK = "SELECT book_resource(%s::bigint, %s::bigint)"
LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"


def one(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


with psycopg.connect(autocommit=True) as conn:
    # Autocommit: each call is its own transaction, committed when it returns.
    print("book 1 for user 42:", one(conn, BOOK, (1, 42)))
    print("book 1 for user 7: ", one(conn, BOOK, (1, 7)))

    # Inside a larger transaction: the booking commits or rolls back with it.
    with conn.transaction():
        print("book 2 in a transaction:", one(conn, BOOK, (2, 42)))
        raise psycopg.Rollback()        # e.g. the payment failed
    print("holder of 2 after ROLLBACK:", one(conn, "SELECT resource_holder(2)"))

    # book_resources takes a Python list: all of them or none.
    print("book [3, 4, 5]:", one(conn, "SELECT book_resources(%s::bigint[], %s::bigint)", ([3, 4, 5], 42)))
    print("book [5, 6]:   ", one(conn, "SELECT book_resources(%s::bigint[], %s::bigint)", ([5, 6], 7)))
    print("holder of 6:", one(conn, "SELECT resource_holder(6)"))

    # Server-side prepared statement: prepare=True (psycopg also prepares by
    # itself once a query has run prepare_threshold = 5 times).
    print("book 10, 11, 12:", [one(conn, BOOK, (r, 42)) for r in (10, 11, 12)])
    print("prepared:", conn.execute("SELECT statement FROM pg_prepared_statements").fetchall())
    print("book 13, prepared:", conn.execute(BOOK, (13, 42), prepare=True).fetchone()[0])
    print("prepared:", conn.execute("SELECT statement FROM pg_prepared_statements").fetchall())

    # Errors carry their SQLSTATE.
    try:
        conn.execute(BOOK, (None, 42))
    except errors.NullValueNotAllowed as e:
        print("NULL id:", e.sqlstate, e.diag.message_primary)

    # An int >= 2**63 is sent as numeric.  Uncast, no function matches it.
    try:
        conn.execute("SELECT book_resource(%s, %s)", (2**63, 42))
    except errors.UndefinedFunction as e:
        print("2**63 uncast:", e.sqlstate, e.diag.message_primary)
    try:
        conn.execute(BOOK, (2**63, 42))
    except errors.NumericValueOutOfRange as e:
        print("2**63 cast:  ", e.sqlstate, e.diag.message_primary)

    # Pipeline mode: the batch up to the sync point is ONE transaction.  Its
    # locks are held until then, and one error undoes the whole batch.
    with conn.pipeline():
        conn.execute(BOOK, (20, 42))
        conn.execute(BOOK, (21, 42))
        cur = conn.execute(LOCKS)
    print("locks held inside the pipeline:", cur.fetchone()[0], "after it:", one(conn, LOCKS))
    try:
        with conn.pipeline():
            conn.execute(BOOK, (22, 42))
            conn.execute(BOOK, (None, 42))
    except errors.NullValueNotAllowed as e:
        print("pipeline failed:", e.sqlstate)
    print("holder of 22 after the failed pipeline:", one(conn, "SELECT resource_holder(22)"))
