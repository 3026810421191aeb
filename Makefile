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

REGRESS = booking api attach
REGRESS_OPTS = --load-extension=booking

ISOLATION = book_blocking book_distinct seed_protocol repeatable_read serializable savepoint timeouts cancel try_book book_resources release release_rr
ISOLATION += attach_blocking attach_seed_protocol attach_isolation attach_release attach_two_tables attach_private
ISOLATION_OPTS = --inputdir=test --load-extension=booking

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
