/*-------------------------------------------------------------------------
 *
 * bookings_table.h
 *	  Reading and writing the extension's bookings table.
 *
 * IDENTIFICATION
 *	  src/bookings_table.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BOOKING_BOOKINGS_TABLE_H
#define BOOKING_BOOKINGS_TABLE_H

#include "storage/itemptr.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* An open bookings table and its resource_id index, for one call. */
typedef struct BookingsTable
{
	Relation	heap;
	Relation	index;
	LOCKMODE	lockmode;
	bool		spi_connected;
	struct TupleTableSlot *slot;	/* for index probes */
	Snapshot	latest;			/* the last lookup's snapshot */
} BookingsTable;

/* One resource's booking, as a lookup found it. */
typedef struct Booking
{
	bool		found;
	int64		user_id;
	ItemPointerData tid;
} Booking;

extern void bookings_open(BookingsTable *bt, Oid caller_fn, bool for_write);
extern void bookings_close(BookingsTable *bt);
extern bool bookings_surely_booked(BookingsTable *bt, int64 resource_id);
extern void bookings_lookup(BookingsTable *bt, int64 resource_id, Booking *booking);
extern void bookings_insert(BookingsTable *bt, int64 resource_id, int64 user_id);
extern void bookings_delete(BookingsTable *bt, const Booking *booking);

#endif							/* BOOKING_BOOKINGS_TABLE_H */
