/*-------------------------------------------------------------------------
 *
 * booking.c
 *	  SQL-callable functions of the booking extension.
 *
 * Every writer follows one protocol: take the resource's transaction-level
 * advisory lock, look the resource up as of now, then write.  The lock, not
 * a constraint, is what makes a booking exclusive.  No table lock is held
 * while a call waits for a resource's lock: one idle holder of one resource
 * must not queue DDL on the table, and everyone else behind that DDL.
 *
 * Each function comes in two forms: without a table, working on the
 * database's default table (the extension's own bookings table unless
 * booking_set_default chose another), and with the table as first argument.
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

/*
 * The table-taking forms have one argument more, the table first; the
 * others' arguments are numbered from 0 after it.
 */
static int
first_arg(FunctionCallInfo fcinfo, int nargs)
{
	return PG_NARGS() > nargs ? 1 : 0;
}

static Oid
table_arg(FunctionCallInfo fcinfo, int nargs)
{
	if (first_arg(fcinfo, nargs) == 0)
		return InvalidOid;
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tbl must not be null")));
	return PG_GETARG_OID(0);
}

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
 *
 * A call that answers false has written nothing, and gives back the lock if
 * it took it, so that it does not stand in the way of the holder's own
 * release.  That is safe at every isolation level: the lock protects a
 * look-then-write, and there was no write; anything this transaction does
 * with the resource later takes the lock again and looks again as of then.
 * Under SERIALIZABLE the lookup's read is known to SSI, which a lock does
 * not add to.
 */
static bool
book_one(FunctionCallInfo fcinfo, bool wait, const char *funcname)
{
	int			a = first_arg(fcinfo, 2);
	Oid			relid = table_arg(fcinfo, 2);
	int64		resource_id = id_arg(fcinfo, a, "resource_id");
	int64		user_id = id_arg(fcinfo, a + 1, "user_id");
	BookingCall call;
	Booking		existing;
	ResourceLockResult lock;
	bool		booked = false;

	check_writable(funcname);
	booking_target(&call, fcinfo->flinfo->fn_oid, relid);
	booking_check_ids(&call, resource_id, &user_id);
	booking_check_privilege(&call, ACL_INSERT);

	lock = resource_lock(call.lock_space, resource_id, false);
	if (lock == RESOURCE_LOCK_BUSY)
	{
		if (booking_surely_booked(&call, &resource_id, 1))
			return false;
		lock = resource_lock(call.lock_space, resource_id, wait);
		if (lock == RESOURCE_LOCK_BUSY)
			return false;
	}

	booking_open(&call, RowExclusiveLock);
	booking_lookup(&call, resource_id, &existing);
	if (!existing.found)
	{
		booking_insert(&call, resource_id, user_id);
		booked = true;
	}
	booking_close(&call);

	if (!booked && lock == RESOURCE_LOCK_TAKEN)
		resource_unlock(call.lock_space, resource_id);
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
	int			a = first_arg(fcinfo, 2);
	Oid			relid = table_arg(fcinfo, 2);
	ArrayType  *array;
	int64		user_id;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int64	   *ids;
	bool	   *taken;
	int			nids = 0;
	BookingCall call;
	Booking		existing;
	volatile bool booked = false;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (PG_ARGISNULL(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource_ids must not be null")));
	array = PG_GETARG_ARRAYTYPE_P(a);
	user_id = id_arg(fcinfo, a + 1, "user_id");

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
	taken = palloc0(nelems * sizeof(bool));
	for (int i = 0; i < nelems; i++)
		ids[i] = DatumGetInt64(elems[i]);
	qsort(ids, nelems, sizeof(int64), cmp_int64);
	for (int i = 0; i < nelems; i++)
		if (nids == 0 || ids[i] != ids[nids - 1])
			ids[nids++] = ids[i];

	booking_target(&call, fcinfo->flinfo->fn_oid, relid);
	for (int i = 0; i < nids; i++)
		booking_check_ids(&call, ids[i], &user_id);
	booking_check_privilege(&call, ACL_INSERT);

	if (booking_surely_booked(&call, ids, nids))
		PG_RETURN_BOOL(false);

	resource_lock_many(call.lock_space, ids, nids, taken);

	/*
	 * A set that only just fitted in the lock table may leave too little
	 * room for the locks the statements below take: say so as
	 * resource_lock_many does, not with a bare "out of shared memory".
	 */
	PG_TRY();
	{
		bool		all_free = true;

		booking_open(&call, RowExclusiveLock);
		for (int i = 0; i < nids && all_free; i++)
		{
			CHECK_FOR_INTERRUPTS();
			booking_lookup(&call, ids[i], &existing);
			all_free = !existing.found;
		}
		for (int i = 0; i < nids && all_free; i++)
		{
			CHECK_FOR_INTERRUPTS();
			booking_insert(&call, ids[i], user_id);
		}
		booked = all_free;
	}
	PG_CATCH();
	{
		resource_lock_rethrow(oldcxt, nids, nids);
	}
	PG_END_TRY();

	booking_close(&call);
	if (!booked)
		for (int i = 0; i < nids; i++)
			if (taken[i])
				resource_unlock(call.lock_space, ids[i]);
	PG_RETURN_BOOL(booked);
}

PG_FUNCTION_INFO_V1(release_resource);

/*
 * Cancel a booking, under the resource's lock, if user_id holds it.  A
 * booker waiting on the resource books it once this commits.  A call that
 * releases nothing gives the lock back, as a booking that answers false
 * does.
 */
Datum
release_resource(PG_FUNCTION_ARGS)
{
	int			a = first_arg(fcinfo, 2);
	Oid			relid = table_arg(fcinfo, 2);
	int64		resource_id = id_arg(fcinfo, a, "resource_id");
	int64		user_id = id_arg(fcinfo, a + 1, "user_id");
	BookingCall call;
	Booking		existing;
	ResourceLockResult lock;
	bool		released = false;

	check_writable("release_resource()");
	booking_target(&call, fcinfo->flinfo->fn_oid, relid);
	booking_check_privilege(&call, ACL_DELETE);
	lock = resource_lock(call.lock_space, resource_id, true);
	booking_open(&call, RowExclusiveLock);
	booking_lookup(&call, resource_id, &existing);
	if (existing.found && existing.user_id == user_id)
	{
		booking_release(&call, resource_id, &existing);
		released = true;
	}
	booking_close(&call);
	if (!released && lock == RESOURCE_LOCK_TAKEN)
		resource_unlock(call.lock_space, resource_id);
	PG_RETURN_BOOL(released);
}

PG_FUNCTION_INFO_V1(resource_holder);

/*
 * Who holds a resource now, as far as the caller may see: the latest
 * committed state (and this transaction's own changes), without taking the
 * resource's lock.
 */
Datum
resource_holder(PG_FUNCTION_ARGS)
{
	int			a = first_arg(fcinfo, 1);
	Oid			relid = table_arg(fcinfo, 1);
	int64		resource_id = id_arg(fcinfo, a, "resource_id");
	BookingCall call;
	int64		user_id;
	bool		found;

	booking_target(&call, fcinfo->flinfo->fn_oid, relid);
	booking_open(&call, AccessShareLock);
	found = booking_holder(&call, resource_id, &user_id);
	booking_close(&call);

	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT64(user_id);
}
