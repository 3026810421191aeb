/*-------------------------------------------------------------------------
 *
 * booking.c
 *	  SQL-callable functions of the booking extension.
 *
 * Every writer follows one protocol: take the resource's transaction-level
 * advisory lock, look the resource up as of now, then write.  The lock, not
 * a constraint, is what makes a booking exclusive.
 *
 * IDENTIFICATION
 *	  src/booking.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "bookings_table.h"
#include "compat.h"
#include "resource_lock.h"

BOOKING_MODULE_MAGIC;

/* Non-STRICT, so that a NULL argument is an error rather than a NULL. */
static int64
id_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	return PG_GETARG_INT64(argno);
}

/*
 * A write is refused in a read-only transaction even when it would write
 * nothing, as PostgreSQL refuses an INSERT there whatever it would insert.
 */
static void
check_writable(const char *funcname)
{
	PreventCommandIfReadOnly(funcname);
	PreventCommandDuringRecovery(funcname);
	PreventCommandIfParallelMode(funcname);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * book_resource and try_book_resource differ only in waiting for the lock.
 *
 * An uncontended attempt takes the free lock at once and needs one lookup.
 * Only when the lock is held elsewhere does the attempt first ask whether
 * the resource is surely booked already: then it answers false without
 * queueing behind the holders.
 */
static bool
book_one(FunctionCallInfo fcinfo, bool wait, const char *funcname)
{
	int64		resource_id = id_arg(fcinfo, 0, "resource_id");
	int64		user_id = id_arg(fcinfo, 1, "user_id");
	BookingsTable bt;
	Booking		existing;
	bool		booked = false;

	check_writable(funcname);
	bookings_open(&bt, fcinfo->flinfo->fn_oid, true);

	if (resource_lock(resource_id, false) ||
		(!bookings_surely_booked(&bt, resource_id) &&
		 resource_lock(resource_id, wait)))
	{
		bookings_lookup(&bt, resource_id, &existing);
		if (!existing.found)
		{
			bookings_insert(&bt, resource_id, user_id);
			booked = true;
		}
	}

	bookings_close(&bt);
	return booked;
}

PG_FUNCTION_INFO_V1(book_resource);

/*
 * Book a resource for a user, waiting while another transaction holds the
 * resource.  True if this call booked it, false if it was already booked.
 */
Datum
book_resource(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(book_one(fcinfo, true, "book_resource()"));
}

PG_FUNCTION_INFO_V1(try_book_resource);

/* As book_resource, but false at once if another transaction holds it. */
Datum
try_book_resource(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(book_one(fcinfo, false, "try_book_resource()"));
}

PG_FUNCTION_INFO_V1(book_resources);

/*
 * Book a set of resources all or nothing.  The distinct ids are locked in
 * ascending order, so overlapping calls queue instead of deadlocking.
 */
Datum
book_resources(PG_FUNCTION_ARGS)
{
	ArrayType  *array;
	int64		user_id;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int64	   *ids;
	int			nids = 0;
	BookingsTable bt;
	Booking		existing;
	bool		booked = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource_ids must not be null")));
	array = PG_GETARG_ARRAYTYPE_P(0);
	user_id = id_arg(fcinfo, 1, "user_id");

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("resource_ids must be a one-dimensional array")));
	if (ARR_NDIM(array) == 0 || ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resource_ids must not be empty")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource_ids must not contain null elements")));

	check_writable("book_resources()");

	deconstruct_array(array, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &elemnulls, &nelems);
	ids = palloc(nelems * sizeof(int64));
	for (int i = 0; i < nelems; i++)
		ids[i] = DatumGetInt64(elems[i]);
	qsort(ids, nelems, sizeof(int64), cmp_int64);
	for (int i = 0; i < nelems; i++)
		if (nids == 0 || ids[i] != ids[nids - 1])
			ids[nids++] = ids[i];

	bookings_open(&bt, fcinfo->flinfo->fn_oid, true);

	for (int i = 0; i < nids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (bookings_surely_booked(&bt, ids[i]))
			goto done;
	}

	resource_lock_many(ids, nids);

	for (int i = 0; i < nids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		bookings_lookup(&bt, ids[i], &existing);
		if (existing.found)
			goto done;
	}
	for (int i = 0; i < nids; i++)
	{
		CHECK_FOR_INTERRUPTS();
		bookings_insert(&bt, ids[i], user_id);
	}
	booked = true;

done:
	bookings_close(&bt);
	PG_RETURN_BOOL(booked);
}

PG_FUNCTION_INFO_V1(release_resource);

/*
 * Cancel a booking, under the resource's lock, if user_id holds it.  A
 * booker waiting on the resource books it once this commits.
 */
Datum
release_resource(PG_FUNCTION_ARGS)
{
	int64		resource_id = id_arg(fcinfo, 0, "resource_id");
	int64		user_id = id_arg(fcinfo, 1, "user_id");
	BookingsTable bt;
	Booking		existing;
	bool		released = false;

	check_writable("release_resource()");
	bookings_open(&bt, fcinfo->flinfo->fn_oid, true);
	(void) resource_lock(resource_id, true);
	bookings_lookup(&bt, resource_id, &existing);
	if (existing.found && existing.user_id == user_id)
	{
		bookings_delete(&bt, &existing);
		released = true;
	}
	bookings_close(&bt);
	PG_RETURN_BOOL(released);
}

PG_FUNCTION_INFO_V1(resource_holder);

/*
 * Who holds a resource now: the latest committed state (and this
 * transaction's own changes), without taking the lock.
 */
Datum
resource_holder(PG_FUNCTION_ARGS)
{
	int64		resource_id = id_arg(fcinfo, 0, "resource_id");
	BookingsTable bt;
	Booking		existing;

	bookings_open(&bt, fcinfo->flinfo->fn_oid, false);
	bookings_lookup(&bt, resource_id, &existing);
	bookings_close(&bt);

	if (!existing.found)
		PG_RETURN_NULL();
	PG_RETURN_INT64(existing.user_id);
}
