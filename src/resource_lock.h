/*-------------------------------------------------------------------------
 *
 * resource_lock.h
 *	  The per-resource transaction lock, shared with pg_advisory_xact_lock
 *	  or in a private space of its own.
 *
 * IDENTIFICATION
 *	  src/resource_lock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BOOKING_RESOURCE_LOCK_H
#define BOOKING_RESOURCE_LOCK_H

#include "utils/palloc.h"

/* Which keys a table's resource locks live in. */
typedef enum LockSpace
{
	LOCK_SPACE_SHARED,			/* pg_advisory_xact_lock(bigint)'s own */
	LOCK_SPACE_PRIVATE			/* no SQL-level advisory function reaches */
} LockSpace;

/* What taking a resource lock did. */
typedef enum ResourceLockResult
{
	RESOURCE_LOCK_BUSY,			/* held elsewhere, and we did not wait */
	RESOURCE_LOCK_TAKEN,		/* newly taken by this call */
	RESOURCE_LOCK_HELD			/* this transaction held it already */
} ResourceLockResult;

extern ResourceLockResult resource_lock(LockSpace space, int64 resource_id,
										bool wait);
extern void resource_unlock(LockSpace space, int64 resource_id);
extern void resource_lock_rethrow(MemoryContext oldcxt, int nlocked,
								  int nids);
extern void resource_lock_many(LockSpace space, const int64 *resource_ids,
							   int nids, bool *taken);

#endif							/* BOOKING_RESOURCE_LOCK_H */
