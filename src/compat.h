/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The PostgreSQL server APIs that differ between the major versions
 *	  booking builds against (15 to 18), behind one spelling each.
 *
 * IDENTIFICATION
 *	  src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BOOKING_COMPAT_H
#define BOOKING_COMPAT_H

#include "access/genam.h"
#include "catalog/pg_class.h"
#include "utils/acl.h"

/* 16 folded the per-catalog owner checks into object_ownercheck() */
#if PG_VERSION_NUM >= 160000
#define booking_table_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define booking_table_ownercheck(relid, roleid) \
	pg_class_ownercheck((relid), (roleid))
#endif

/* 18 added the instrumentation argument to index_beginscan() */
#if PG_VERSION_NUM >= 180000
#define booking_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), 0)
#else
#define booking_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), 0)
#endif

#endif							/* BOOKING_COMPAT_H */
