# contrib-style PGXS build of the booking extension

MODULE_big = booking
OBJS = \
	src/booking.o \
	src/bookings_table.o \
	src/resource_lock.o

EXTENSION = booking
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")
DATA = $(EXTENSION)--$(EXTVERSION).sql
PGFILEDESC = "booking - exactly one booking per resource"

REGRESS = booking api
REGRESS_OPTS = --load-extension=booking

ISOLATION = book_blocking book_distinct seed_protocol repeatable_read serializable savepoint timeouts cancel try_book book_resources release release_rr
ISOLATION_OPTS = --inputdir=test --load-extension=booking

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
