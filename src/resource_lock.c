/*-------------------------------------------------------------------------
 *
 * resource_lock.c
 *	  The per-resource transaction lock shared with pg_advisory_xact_lock.
 *
 * A resource's lock is the very heavyweight lock that
 * pg_advisory_xact_lock(resource_id) takes, so clients following the same
 * protocol in plain SQL serialize with the extension, and the lock shows in
 * pg_locks as an advisory lock.  Waiting goes through the lock manager, which
 * already honours cancellation, statement_timeout, lock_timeout and deadlock
 * detection.
 *
 * IDENTIFICATION
 *	  src/resource_lock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/memutils.h"

#include "resource_lock.h"

/*
 * Same tag as lockfuncs.c builds for an int8 key: field4 = 1 marks the
 * int8 key space, distinct from the (int4, int4) one.
 */
#define SET_LOCKTAG_INT64(tag, key64) \
	SET_LOCKTAG_ADVISORY(tag, \
						 MyDatabaseId, \
						 (uint32) ((key64) >> 32), \
						 (uint32) (key64), \
						 1)

/* Lock table entries the inserts after a large set may need at once. */
#define SPARE_LOCKS 2

/*
 * Take the transaction-level exclusive lock of one resource.  Returns false
 * only when wait is false and another transaction holds it.
 */
bool
resource_lock(int64 resource_id, bool wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_INT64(tag, resource_id);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Lock a set of resources, waiting for each.  The caller passes the ids
 * sorted and distinct: taking them in one global order is what keeps two
 * overlapping calls from deadlocking.
 *
 * Running out of room in the shared lock table surfaces from the lock
 * manager as a bare "out of shared memory"; say instead which call ran out,
 * how far it got, and what limits it.  The writes that follow need entries
 * of their own (this transaction's id lock, now and then a relation
 * extension lock): take the first before the set and check that room for
 * a few more remains after it, so that a set that fits does not fail halfway
 * through its inserts instead.
 */
void
resource_lock_many(const int64 *resource_ids, int nids)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile int nlocked = 0;

	(void) GetCurrentTransactionId();

	PG_TRY();
	{
		LOCKTAG		spare;

		for (int i = 0; i < nids; i++)
		{
			CHECK_FOR_INTERRUPTS();
			(void) resource_lock(resource_ids[i], true);
			nlocked++;
		}

		/* tags no SQL function uses, in a mode nobody conflicts with */
		for (uint32 i = 0; i < SPARE_LOCKS; i++)
		{
			SET_LOCKTAG_ADVISORY(spare, MyDatabaseId, 0, i, 3);
			(void) LockAcquire(&spare, AccessShareLock, false, false);
		}
		for (uint32 i = 0; i < SPARE_LOCKS; i++)
		{
			SET_LOCKTAG_ADVISORY(spare, MyDatabaseId, 0, i, 3);
			LockRelease(&spare, AccessShareLock, false);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		/* only the lock table's own error, not any other out-of-memory */
		if (edata->sqlerrcode != ERRCODE_OUT_OF_MEMORY ||
			edata->message_id == NULL ||
			strcmp(edata->message_id, "out of shared memory") != 0)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("too many resources to lock in one transaction"),
				 nlocked < nids ?
				 errdetail("The shared lock table filled after %d of the %d resources requested were locked.",
						   nlocked, nids) :
				 errdetail("All %d resources were locked, leaving the shared lock table no room for the bookings.",
						   nids),
				 errhint("Book fewer resources per transaction, or increase max_locks_per_transaction (now %d) and restart the server.",
						 max_locks_per_xact)));
	}
	PG_END_TRY();
}
