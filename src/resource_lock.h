/*-------------------------------------------------------------------------
 *
 * resource_lock.h
 *	  The per-resource transaction lock shared with pg_advisory_xact_lock.
 *
 * IDENTIFICATION
 *	  src/resource_lock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BOOKING_RESOURCE_LOCK_H
#define BOOKING_RESOURCE_LOCK_H

extern bool resource_lock(int64 resource_id, bool wait);
extern void resource_lock_many(const int64 *resource_ids, int nids);

#endif							/* BOOKING_RESOURCE_LOCK_H */
