/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The PostgreSQL APIs whose signatures differ between the major versions
 *	  booking builds on: 15, 16, 17 and 18.
 *
 * One source tree builds against every supported version.  A call whose
 * signature changed goes through a wrapper here, with the version test in
 * this file only, as pgvector and pg_cron do.  The wrappers keep the behaviour
 * of the oldest version; new arguments get the value that means "as before".
 *
 * The same in the 15, 17 and 18 server headers, and in 16 by its history (16
 * changed none of them), so called directly: table_open, index_open, index_rescan,
 * index_getnext_slot, index_endscan, RelationGetIndexList, table_slot_create,
 * SPI_connect, SPI_prepare, SPI_keepplan, SPI_execute_snapshot,
 * SPI_plan_is_valid, SPI_freeplan, GetUserIdAndSecContext,
 * SetUserIdAndSecContext, GetLatestSnapshot, GetTransactionSnapshot,
 * InitDirtySnapshot, LockAcquire, LockRelease, check_enable_rls,
 * pg_class_aclcheck, get_attnum, get_func_namespace, get_relname_relid,
 * CacheRegisterRelcacheCallback, CacheRegisterSyscacheCallback,
 * pg_parse_query, raw_parser, make_parsestate, transformExpr,
 * addRangeTableEntryForRelation, assign_expr_collations, coerce_to_boolean,
 * contain_subplans, contain_agg_clause, expression_returns_set,
 * quote_qualified_identifier.
 *
 * Also changed, with no wrapper yet since nothing calls them: 16 replaced
 * ExecCheckRTPerms(rangeTable, ereport) by ExecCheckPermissions(rangeTable,
 * rteperminfos, ereport), permissions now living in RTEPermissionInfo
 * entries (ParseState.p_rteperminfos) rather than in the RTEs.
 *
 * IDENTIFICATION
 *	  src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BOOKING_COMPAT_H
#define BOOKING_COMPAT_H

#include "access/genam.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_database_d.h"
#include "catalog/pg_namespace_d.h"
#include "catalog/pg_proc_d.h"
#include "catalog/pg_type_d.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/relcache.h"

#if PG_VERSION_NUM < 150000
#error "booking requires PostgreSQL 15 or later"
#endif

/*
 * The OID of the table's primary key index, or InvalidOid.
 *
 * 18 added deferrable_ok; passing false keeps what every earlier version
 * does, which is to ignore a deferrable primary key.
 */
static inline Oid
RelationGetPrimaryKeyIndexCompat(Relation relation)
{
#if PG_VERSION_NUM >= 180000
	return RelationGetPrimaryKeyIndex(relation, false);
#else
	return RelationGetPrimaryKeyIndex(relation);
#endif
}

/*
 * Begin a plain index scan.
 *
 * 18 added an IndexScanInstrumentation pointer, between the snapshot and
 * the key counts, for EXPLAIN ANALYZE's index search counts; NULL asks for
 * none.
 */
static inline IndexScanDesc
index_beginscan_compat(Relation heapRelation, Relation indexRelation,
					   Snapshot snapshot, int nkeys, int norderbys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heapRelation, indexRelation, snapshot, NULL,
						   nkeys, norderbys);
#else
	return index_beginscan(heapRelation, indexRelation, snapshot,
						   nkeys, norderbys);
#endif
}

/*
 * Take a lock with the lock manager's extra options.
 *
 * 18 added logLockFailure (log a lock not granted under dontWait, when
 * log_lock_failures is on); false keeps the earlier silence.
 */
static inline LockAcquireResult
LockAcquireExtendedCompat(const LOCKTAG *locktag, LOCKMODE lockmode,
						  bool sessionLock, bool dontWait,
						  bool reportMemoryError, LOCALLOCK **locallockp)
{
#if PG_VERSION_NUM >= 180000
	return LockAcquireExtended(locktag, lockmode, sessionLock, dontWait,
							   reportMemoryError, locallockp, false);
#else
	return LockAcquireExtended(locktag, lockmode, sessionLock, dontWait,
							   reportMemoryError, locallockp);
#endif
}

/*
 * Privilege and ownership checks on objects other than relations.
 *
 * 16 replaced pg_namespace_aclcheck, pg_proc_aclcheck, pg_type_aclcheck and
 * the like by object_aclcheck(classid, ...), and pg_*_ownercheck by
 * object_ownercheck(classid, ...).  pg_class_aclcheck is unchanged.  On 15,
 * provide the 16 names for the catalogs booking may check.
 */
#if PG_VERSION_NUM < 160000
static inline AclResult
object_aclcheck(Oid classid, Oid objectid, Oid roleid, AclMode mode)
{
	switch (classid)
	{
		case NamespaceRelationId:
			return pg_namespace_aclcheck(objectid, roleid, mode);
		case ProcedureRelationId:
			return pg_proc_aclcheck(objectid, roleid, mode);
		case TypeRelationId:
			return pg_type_aclcheck(objectid, roleid, mode);
		case DatabaseRelationId:
			return pg_database_aclcheck(objectid, roleid, mode);
	}
	elog(ERROR, "object_aclcheck: unsupported catalog %u", classid);
	pg_unreachable();
}

static inline bool
object_ownercheck(Oid classid, Oid objectid, Oid roleid)
{
	switch (classid)
	{
		case NamespaceRelationId:
			return pg_namespace_ownercheck(objectid, roleid);
		case ProcedureRelationId:
			return pg_proc_ownercheck(objectid, roleid);
		case TypeRelationId:
			return pg_type_ownercheck(objectid, roleid);
		case RelationRelationId:
			return pg_class_ownercheck(objectid, roleid);
		case DatabaseRelationId:
			return pg_database_ownercheck(objectid, roleid);
	}
	elog(ERROR, "object_ownercheck: unsupported catalog %u", classid);
	pg_unreachable();
}
#endif

/*
 * The module's magic block.  18 can also record the module's name and
 * version, which pg_get_loaded_modules() reports.
 */
#ifdef PG_MODULE_MAGIC_EXT
#define BOOKING_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "booking", .version = BOOKING_VERSION)
#else
#define BOOKING_MODULE_MAGIC PG_MODULE_MAGIC
#endif

#endif							/* BOOKING_COMPAT_H */
