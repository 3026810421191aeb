#!/usr/bin/env python3
"""Calling booking from psycopg2 (Debian: python3-psycopg2).

Connects with the PG* environment; needs CREATE EXTENSION booking done.
Run by test/sh/clients.sh, which compares its output with
test/client/expected/psycopg2_example.out.
"""
import psycopg2
import psycopg2.errors as errors

BOOK = "SELECT book_resource(%s, %s)"   # psycopg2 inlines ints as literals

conn = psycopg2.connect("")
cur = conn.cursor()

# Autocommit: each call is its own transaction, committed when it returns.
conn.autocommit = True
cur.execute(BOOK, (1, 42))
print("book 1 for user 42:", cur.fetchone()[0])
cur.execute(BOOK, (1, 7))
print("book 1 for user 7: ", cur.fetchone()[0])

# Inside a larger transaction (psycopg2's default): "with conn" commits, or
# rolls back if the block raises.
conn.autocommit = False
try:
    with conn:
        cur.execute(BOOK, (2, 42))
        print("book 2 in a transaction:", cur.fetchone()[0])
        raise RuntimeError("payment failed")
except RuntimeError:
    pass
cur.execute("SELECT resource_holder(2)")
print("holder of 2 after ROLLBACK:", cur.fetchone()[0])
conn.rollback()                         # end the read's transaction too
conn.autocommit = True

# A Python list becomes ARRAY[3,4,5]: all of them or none.
cur.execute("SELECT book_resources(%s, %s)", ([3, 4, 5], 42))
print("book [3, 4, 5]:", cur.fetchone()[0])

# Server-side prepared statements: SQL PREPARE / EXECUTE, per connection.
cur.execute("PREPARE book(bigint, bigint) AS SELECT book_resource($1, $2)")
for r in (10, 11):
    cur.execute("EXECUTE book(%s, %s)", (r, 42))
    print("book %d, prepared:" % r, cur.fetchone()[0])

# Errors carry their SQLSTATE in pgcode.
try:
    cur.execute(BOOK, (None, 42))
except errors.NullValueNotAllowed as e:
    print("NULL id:", e.pgcode, e.diag.message_primary)
try:
    cur.execute(BOOK, (2**63, 42))      # the literal 9223372036854775808 is numeric
except errors.UndefinedFunction as e:
    print("2**63:", e.pgcode, e.diag.message_primary)
conn.close()
