/*-------------------------------------------------------------------------
 *
 * bookings_table.h
 *	  Reading and writing a table under the booking protocol: the
 *	  extension's own bookings table or one attached with booking_attach.
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
#include "utils/acl.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#include "resource_lock.h"

struct BookingTarget;

/* One call's hold on its table. */
typedef struct BookingCall
{
	Oid			caller_fn;		/* finds the extension's schema */
	Oid			requested;		/* the table asked for, or InvalidOid */
	struct BookingTarget *target;	/* what it resolved to */
	Oid			relid;
	LockSpace	lock_space;
	LOCKMODE	lockmode;		/* held on relid since booking_open */
	bool		spi_connected;
	Snapshot	latest;			/* the last lookup's, registered */
	Relation	heap;			/* for direct index probes, else NULL */
	Relation	index;
	struct TupleTableSlot *slot;
} BookingCall;

/* One resource's booking, as a lookup found it. */
typedef struct Booking
{
	bool		found;
	int64		user_id;
	Oid			tableoid;
	ItemPointerData tid;
} Booking;

extern void booking_target(BookingCall *call, Oid caller_fn, Oid relid);
extern void booking_check_ids(BookingCall *call, int64 resource_id,
							  const int64 *user_id);
extern void booking_check_privilege(BookingCall *call, AclMode mode);
extern bool booking_surely_booked(BookingCall *call, const int64 *resource_ids,
								  int nids);
extern void booking_open(BookingCall *call, LOCKMODE lockmode);
extern void booking_lookup(BookingCall *call, int64 resource_id,
						   Booking *booking);
extern void booking_insert(BookingCall *call, int64 resource_id,
						   int64 user_id);
extern void booking_release(BookingCall *call, int64 resource_id,
							const Booking *booking);
extern bool booking_holder(BookingCall *call, int64 resource_id,
						   int64 *user_id);
extern void booking_close(BookingCall *call);
extern void booking_invalidate_registry(Oid caller_fn, Oid relid);

/* attach.c: the shape a table must have, checked on attach and on use */
typedef struct TableShape
{
	AttrNumber	res_attnum;
	Oid			res_type;
	AttrNumber	user_attnum;
	Oid			user_type;
	Oid			probe_index;	/* a plain btree index on the resource
								 * column usable for direct probes, or
								 * InvalidOid */
} TableShape;

extern void booking_check_shape(Relation rel, const char *res_column,
								const char *user_column, TableShape *shape);

#endif							/* BOOKING_BOOKINGS_TABLE_H */
