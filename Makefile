# contrib-style PGXS build of the booking extension

MODULE_big = booking
OBJS = \
	src/attach.o \
	src/booking.o \
	src/bookings_table.o \
	src/resource_lock.o

EXTENSION = booking
# A fresh install runs the 1.0 script and then every upgrade, so a new and
# an updated installation are made by the same statements.
DATA = $(EXTENSION)--1.0.sql $(EXTENSION)--1.0--1.1.sql
PGFILEDESC = "booking - exactly one booking per resource"
# the module reports its version where the server can ask (PostgreSQL 18+)
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
PG_CPPFLAGS = -DBOOKING_VERSION=\"$(EXTVERSION)\"

REGRESS = booking api attach holder_privileges trigger_reentry
REGRESS_OPTS = --load-extension=booking

ISOLATION = book_blocking book_distinct seed_protocol repeatable_read serializable savepoint timeouts cancel try_book book_resources release release_rr \
	failed_resolution drop_extension table_replaced index_rebuilt \
	ddl_while_waiting false_unlocks serializable_read lock_space \
	attach_blocking attach_seed_protocol attach_isolation attach_release attach_two_tables attach_private
ISOLATION_OPTS = --inputdir=test --load-extension=booking

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies unless the server was configured with
# --enable-depend: a changed struct must rebuild every object using it.
$(OBJS): $(wildcard src/*.h)
