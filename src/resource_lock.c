/*-------------------------------------------------------------------------
 *
 * resource_lock.c
 *	  The per-resource transaction lock shared with pg_advisory_xact_lock.
 *
 * In the shared space, a resource's lock is the very heavyweight lock that
 * pg_advisory_xact_lock(resource_id) takes, so clients following the same
 * protocol in plain SQL serialize with the extension, and the lock shows in
 * pg_locks as an advisory lock.  The price is that any role may take that
 * lock and hold a resource hostage; a table in the private space uses tags
 * that no SQL-level advisory function can build.  Waiting goes through the lock manager, which
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
 * In the shared space, the tag lockfuncs.c builds for an int8 key: field4 = 1
 * marks the int8 key space, 2 the (int4, int4) one.  The SQL functions build
 * no other field4, so 4 is a space only this extension reaches.  (3 is the
 * spare entries' below.)
 */
#define KEYSPACE_INT8		1
#define KEYSPACE_SPARE		3
#define KEYSPACE_PRIVATE	4

#define SET_LOCKTAG_RESOURCE(tag, space, key64) \
	SET_LOCKTAG_ADVISORY(tag, \
						 MyDatabaseId, \
						 (uint32) ((key64) >> 32), \
						 (uint32) (key64), \
						 (space) == LOCK_SPACE_PRIVATE ? KEYSPACE_PRIVATE : KEYSPACE_INT8)

/* Lock table entries the inserts after a large set may need at once. */
#define SPARE_LOCKS 2

/*
 * Take the transaction-level exclusive lock of one resource, and say whether
 * this call took it: only a lock the call took may be given back early.
 */
ResourceLockResult
resource_lock(LockSpace space, int64 resource_id, bool wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RESOURCE(tag, space, resource_id);
	switch (LockAcquire(&tag, ExclusiveLock, false, !wait))
	{
		case LOCKACQUIRE_NOT_AVAIL:
			return RESOURCE_LOCK_BUSY;
		case LOCKACQUIRE_OK:
			return RESOURCE_LOCK_TAKEN;
		default:
			return RESOURCE_LOCK_HELD;
	}
}

/*
 * Give back a lock this call took and did not use: the call wrote nothing
 * under it, so nothing of this transaction depends on keeping others out.
 */
void
resource_unlock(LockSpace space, int64 resource_id)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RESOURCE(tag, space, resource_id);
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * Called in a PG_CATCH block around the locking of a set of resources, or
 * around the lookups and inserts that follow it: re-throw the error, unless
 * it is the lock table's own "out of shared memory", which becomes an error
 * saying which call ran out, how far it got, and what limits it.  After a
 * set that only just fits, the statements that follow may still need more
 * entries than the spare ones kept for them (the planner's and executor's
 * relation and catalog locks go to the shared table once the backend's
 * fast-path slots are full), so the same translation covers them.
 */
void
resource_lock_rethrow(MemoryContext oldcxt, int nlocked, int nids)
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

/*
 * Lock a set of resources, waiting for each, and mark in taken[] the ones
 * this call took.  The caller passes the ids sorted and distinct: taking them in one global order is what keeps two
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
resource_lock_many(LockSpace space, const int64 *resource_ids, int nids,
				   bool *taken)
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
			taken[i] = resource_lock(space, resource_ids[i], true) ==
				RESOURCE_LOCK_TAKEN;
			nlocked++;
		}

		/* tags no SQL function uses, in a mode nobody conflicts with */
		for (uint32 i = 0; i < SPARE_LOCKS; i++)
		{
			SET_LOCKTAG_ADVISORY(spare, MyDatabaseId, 0, i, KEYSPACE_SPARE);
			(void) LockAcquire(&spare, AccessShareLock, false, false);
		}
		for (uint32 i = 0; i < SPARE_LOCKS; i++)
		{
			SET_LOCKTAG_ADVISORY(spare, MyDatabaseId, 0, i, KEYSPACE_SPARE);
			LockRelease(&spare, AccessShareLock, false);
		}
	}
	PG_CATCH();
	{
		resource_lock_rethrow(oldcxt, nlocked, nids);
	}
	PG_END_TRY();
}
