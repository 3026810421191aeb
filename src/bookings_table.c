/*-------------------------------------------------------------------------
 *
 * bookings_table.c
 *	  Reading and writing the extension's bookings table.
 *
 * Lookups go straight to the primary key index, whose leading column is
 * resource_id: that costs one index probe whatever the table's statistics
 * say, and lets each lookup choose its snapshot.  Writes go through SPI with
 * plans prepared once per backend, run as the table's owner, since ordinary
 * roles may not write to the table themselves (every write must come through
 * the lock protocol).
 *
 * IDENTIFICATION
 *	  src/bookings_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "bookings_table.h"
#include "compat.h"

#define BOOKINGS_RELNAME	"bookings"

/*
 * What a backend learns once about the bookings table, and keeps until an
 * invalidation says the table, its indexes or its schema changed.
 */
typedef struct BookingsCache
{
	bool		valid;
	Oid			relid;
	Oid			indexid;
	Oid			owner;
	AttrNumber	user_attnum;
	char	   *qualname;		/* quoted schema.bookings, for SPI text */
	SPIPlanPtr	insert_plan;
	SPIPlanPtr	delete_plan;
} BookingsCache;

static BookingsCache cache;
static bool callbacks_registered = false;

static void
invalidate_relcache(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cache.relid)
		cache.valid = false;
}

static void
invalidate_namespace(Datum arg, int cacheid, uint32 hashvalue)
{
	cache.valid = false;
}

static void
forget_plan(SPIPlanPtr *plan)
{
	if (*plan != NULL)
		SPI_freeplan(*plan);
	*plan = NULL;
}

static AttrNumber
column_of_type(Relation rel, const char *colname, Oid typid)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), colname);

	if (attnum == InvalidAttrNumber ||
		TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != typid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no bigint column \"%s\"",
						RelationGetRelationName(rel), colname),
				 errhint("Reinstall the booking extension.")));
	return attnum;
}

/*
 * Find the bookings table in the schema of the calling function (the
 * extension's schema, wherever CREATE EXTENSION put it) and check it still
 * has the shape the lookups rely on.
 */
static void
resolve_table(Oid caller_fn)
{
	Oid			nspid;
	Oid			relid;
	Relation	rel;
	Relation	index;
	Oid			indexid;
	AttrNumber	resource_attnum;
	char	   *nspname;
	char	   *qualname;

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_relcache, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, invalidate_namespace, (Datum) 0);
		callbacks_registered = true;
	}

	/* Invalidations arriving from here on must force another pass. */
	cache.valid = true;

	nspid = get_func_namespace(caller_fn);
	nspname = get_namespace_name(nspid);
	if (nspname == NULL)
		elog(ERROR, "cache lookup failed for namespace of function %u", caller_fn);
	relid = get_relname_relid(BOOKINGS_RELNAME, nspid);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						nspname, BOOKINGS_RELNAME),
				 errhint("Reinstall the booking extension.")));

	rel = table_open(relid, AccessShareLock);
	resource_attnum = column_of_type(rel, "resource_id", INT8OID);
	cache.user_attnum = column_of_type(rel, "user_id", INT8OID);

	indexid = RelationGetPrimaryKeyIndexCompat(rel);
	if (!OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no primary key", BOOKINGS_RELNAME),
				 errhint("Reinstall the booking extension.")));
	index = index_open(indexid, AccessShareLock);
	if (index->rd_rel->relam != BTREE_AM_OID ||
		index->rd_index->indkey.values[0] != resource_attnum ||
		index->rd_opcintype[0] != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("primary key of table \"%s\" does not lead with resource_id",
						BOOKINGS_RELNAME),
				 errhint("Reinstall the booking extension.")));
	cache.indexid = indexid;
	cache.owner = rel->rd_rel->relowner;
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);

	qualname = quote_qualified_identifier(nspname, BOOKINGS_RELNAME);
	if (relid != cache.relid || cache.qualname == NULL ||
		strcmp(qualname, cache.qualname) != 0)
	{
		forget_plan(&cache.insert_plan);
		forget_plan(&cache.delete_plan);
		if (cache.qualname)
			pfree(cache.qualname);
		cache.qualname = MemoryContextStrdup(TopMemoryContext, qualname);
	}
	cache.relid = relid;
}

/*
 * Open the table and its index for one call.  Locks are kept to the end of
 * the transaction, as the executor does.
 */
void
bookings_open(BookingsTable *bt, Oid caller_fn, bool for_write)
{
	bt->lockmode = for_write ? RowExclusiveLock : AccessShareLock;
	bt->spi_connected = false;

	for (;;)
	{
		while (!cache.valid)
			resolve_table(caller_fn);
		bt->heap = table_open(cache.relid, bt->lockmode);
		bt->index = index_open(cache.indexid, bt->lockmode);
		if (cache.valid)
			break;
		/* the table changed while we were locking it: look again */
		index_close(bt->index, NoLock);
		table_close(bt->heap, NoLock);
	}

	/* made here, outside any SPI connection, so SPI_finish cannot free it */
	bt->slot = table_slot_create(bt->heap, NULL);
}

void
bookings_close(BookingsTable *bt)
{
	ExecDropSingleTupleTableSlot(bt->slot);
	if (bt->spi_connected && SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	index_close(bt->index, NoLock);
	table_close(bt->heap, NoLock);
}

/*
 * Look one resource up in the index under the given snapshot.  For
 * SnapshotDirty the snapshot's xmin/xmax report on the tuple found.
 */
static bool
probe(BookingsTable *bt, int64 resource_id, Snapshot snapshot, Booking *booking)
{
	ScanKeyData key;
	IndexScanDesc scan;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(resource_id));
	scan = index_beginscan_compat(bt->heap, bt->index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	booking->found = index_getnext_slot(scan, ForwardScanDirection, bt->slot);
	if (booking->found)
	{
		bool		isnull;

		booking->user_id = DatumGetInt64(slot_getattr(bt->slot, cache.user_attnum,
													  &isnull));
		booking->tid = bt->slot->tts_tid;
	}
	index_endscan(scan);
	ExecClearTuple(bt->slot);
	return booking->found;
}

/*
 * The fast path for an attempt on a resource that is already taken: true
 * when a committed booking exists that no open transaction is deleting.
 * Only release_resource removes bookings, so that answer stays true until a
 * release commits, and the caller may answer "already booked" without
 * queueing for the lock.  Anything uncertain (an insert or delete still in
 * progress) returns false and the caller takes the lock as usual.
 *
 * Under SERIALIZABLE every read must be seen by SSI, which a dirty read is
 * not, so the caller there always takes the slow path.
 */
bool
bookings_surely_booked(BookingsTable *bt, int64 resource_id)
{
	SnapshotData dirty;
	Booking		booking;

	if (IsolationIsSerializable())
		return false;

	InitDirtySnapshot(dirty);
	if (!probe(bt, resource_id, &dirty, &booking))
		return false;
	return !TransactionIdIsValid(dirty.xmin) && !TransactionIdIsValid(dirty.xmax);
}

/*
 * Look a resource's booking up as of now, for a caller that holds the
 * resource's lock.
 *
 * The statement's snapshot predates the lock wait, and under REPEATABLE
 * READ so does the transaction's; a check under either would miss a booking
 * committed while we waited.  As ri_triggers.c does for its checks, read
 * the latest committed state instead, after a CommandCounterIncrement so
 * this transaction's own earlier bookings count too.
 *
 * Under SERIALIZABLE, acting on state the transaction's snapshot cannot see
 * would not be serializable: if the two disagree, fail with a serialization
 * error (as INSERT ... ON CONFLICT does) rather than guess.
 */
void
bookings_lookup(BookingsTable *bt, int64 resource_id, Booking *booking)
{
	CommandCounterIncrement();
	bt->latest = GetLatestSnapshot();
	probe(bt, resource_id, bt->latest, booking);

	if (IsolationIsSerializable())
	{
		Booking		seen;

		probe(bt, resource_id, GetTransactionSnapshot(), &seen);
		if (seen.found != booking->found ||
			(seen.found && !ItemPointerEquals(&seen.tid, &booking->tid)))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent booking change"),
					 errdetail("Resource %lld was booked or released by a transaction that committed after this transaction's snapshot was taken.",
							   (long long) resource_id),
					 errhint("The transaction might succeed if retried.")));
	}
}

static void
spi_connect(BookingsTable *bt)
{
	if (bt->spi_connected)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bt->spi_connected = true;
}

/* Prepare a statement once per backend, replanning only if it went stale. */
static SPIPlanPtr
kept_plan(SPIPlanPtr *plan, const char *fmt, int nargs, Oid *argtypes)
{
	if (*plan != NULL && !SPI_plan_is_valid(*plan))
		forget_plan(plan);
	if (*plan == NULL)
	{
		char	   *sql = psprintf(fmt, cache.qualname);
		SPIPlanPtr	newplan = SPI_prepare(sql, nargs, argtypes);

		if (newplan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(newplan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = newplan;
	}
	return *plan;
}

/*
 * Run a kept write plan as the table's owner.  Ordinary roles have no write
 * privilege on the table; the switch is undone by transaction abort if the
 * statement fails.
 */
static void
run_as_owner(BookingsTable *bt, SPIPlanPtr *plan, const char *fmt,
			 int nargs, Oid *argtypes, Datum *values,
			 Snapshot snapshot, int expected)
{
	Oid			save_userid;
	int			save_sec_context;
	int			rc;

	spi_connect(bt);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(cache.owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);
	kept_plan(plan, fmt, nargs, argtypes);
	rc = SPI_execute_snapshot(*plan, values, NULL, snapshot, InvalidSnapshot,
							  false, true, 1);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	if (rc != expected || SPI_processed != 1)
		elog(ERROR, "unexpected result from write to bookings: %s, %llu rows",
			 SPI_result_code_string(rc), (unsigned long long) SPI_processed);
}

/*
 * Insert a booking after bookings_lookup found none.  Under READ COMMITTED
 * SPI would take yet another snapshot for the statement; the lookup's, taken
 * after the lock was granted, serves as well.  (It is the backend's static
 * latest snapshot, still current here: nothing has taken another since, and
 * SPI copies it.)  Under REPEATABLE READ and SERIALIZABLE the statement runs
 * under the transaction's snapshot as usual.
 */
void
bookings_insert(BookingsTable *bt, int64 resource_id, int64 user_id)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];

	values[0] = Int64GetDatum(resource_id);
	values[1] = Int64GetDatum(user_id);
	run_as_owner(bt, &cache.insert_plan,
				 "INSERT INTO %s (resource_id, user_id) VALUES ($1, $2)",
				 2, argtypes, values,
				 IsolationUsesXactSnapshot() ? InvalidSnapshot : bt->latest,
				 SPI_OK_INSERT);
}

/*
 * Delete a booking found by bookings_lookup.  It may be newer than the
 * transaction's snapshot, so the delete runs under the lookup's snapshot.
 */
void
bookings_delete(BookingsTable *bt, const Booking *booking)
{
	Oid			argtypes[1] = {TIDOID};
	Datum		values[1];

	Assert(booking->found);
	values[0] = PointerGetDatum(&booking->tid);
	run_as_owner(bt, &cache.delete_plan,
				 "DELETE FROM ONLY %s WHERE ctid OPERATOR(pg_catalog.=) $1",
				 1, argtypes, values, bt->latest, SPI_OK_DELETE);
}
