/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The PostgreSQL APIs whose signatures differ between the major versions
 *	  booking builds on: 15, 16, 17 and 18.
 *
 * One source tree builds against every supported version.  A call whose
 * signature changed goes through a wrapper here, with the version test in
 * this file only, as pgvector and pg_cron do.  The wrappers keep the
 * behaviour of the oldest version; new arguments get the value that means
 * "as before".
 *
 * Read in the 15, 16, 17 and 18 server headers and found the same, so
 * called directly: table_open, relation_open, try_relation_open,
 * index_open, index_rescan, index_getnext_slot, index_endscan,
 * RelationGetIndexList, table_slot_create, SPI_connect, SPI_prepare_cursor,
 * SPI_keepplan, SPI_execute_snapshot, SPI_execute_with_args,
 * SPI_plan_get_plan_sources, SPI_plan_get_cached_plan, ReleaseCachedPlan,
 * GetUserIdAndSecContext, SetUserIdAndSecContext, GetLatestSnapshot,
 * GetTransactionSnapshot, RegisterSnapshot, InitDirtySnapshot, LockAcquire,
 * LockRelease, LockRelationOid, pg_class_aclcheck, pg_attribute_aclcheck,
 * get_func_namespace, get_relname_relid, get_extension_oid,
 * CacheRegisterRelcacheCallback, CacheRegisterSyscacheCallback,
 * CacheInvalidateRelcacheByRelid, raw_parser, make_parsestate,
 * transformExpr, transformAssignedExpr, addRangeTableEntryForRelation,
 * addNSItemToQuery, assign_expr_collations, coerce_to_boolean,
 * deparse_expression, deparse_context_for, NewGUCNestLevel,
 * set_config_option, AtEOXact_GUC, quote_qualified_identifier.
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
#include "utils/acl.h"
#include "utils/relcache.h"

#if PG_VERSION_NUM < 150000
#error "booking requires PostgreSQL 15 or later"
#endif

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
 * Whether a role owns (or is a superuser over) a table.
 *
 * 16 folded pg_class_ownercheck and its siblings into
 * object_ownercheck(classid, ...).
 */
static inline bool
table_ownercheck_compat(Oid relid, Oid roleid)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, roleid);
#else
	return pg_class_ownercheck(relid, roleid);
#endif
}

/*
 * Whether a raw UPDATE statement has a RETURNING clause.
 *
 * 18 wrapped the returning list in a ReturningClause, for OLD/NEW aliases.
 */
#if PG_VERSION_NUM >= 180000
#define update_stmt_has_returning(stmt) ((stmt)->returningClause != NULL)
#else
#define update_stmt_has_returning(stmt) ((stmt)->returningList != NIL)
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
