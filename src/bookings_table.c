/*-------------------------------------------------------------------------
 *
 * bookings_table.c
 *	  Reading and writing a table under the booking protocol.
 *
 * The target is the extension's own bookings table or a table attached with
 * booking_attach, whose settings live in the registry table booking_tables
 * in the extension's schema.  What a backend learns about a target is kept
 * in a cache entry until an invalidation says the table, the registry or a
 * schema changed.  An entry is trusted only after a resolution that ran to
 * its end with no invalidation arriving meanwhile; a failed resolution
 * leaves it untrusted, so the next call starts afresh.
 *
 * Writes, and the lookups of tables that need the planner (partitioned,
 * with an active_when condition, or where Citus may have distributed them),
 * go through SPI plans built from schema-qualified text, so the planner
 * finds the rows wherever they live.  Other tables, the extension's own
 * among them, are looked up by probing their resource index directly: the
 * same answer for a fifth of the cost.  The plans are kept per backend and
 * are checked against the table's OID before each use: a plan is re-made
 * from its text only by the plan cache, and the text names a relation by
 * name, so a rename could otherwise point it at another table.
 *
 * The protocol's own lookup runs as the table's owner, as ri_triggers.c
 * runs its checks, so that it sees every row whatever row-level security
 * hides from the caller.  Writes and resource_holder run as the caller,
 * with the caller's privileges, except on the extension's own table, which
 * only the functions may write.
 *
 * IDENTIFICATION
 *	  src/bookings_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "bookings_table.h"
#include "compat.h"

#define OWN_RELNAME			"bookings"
#define REGISTRY_RELNAME	"booking_tables"

/* A kept SPI plan and the text it was made from. */
typedef struct KeptPlan
{
	char	   *sql;
	SPIPlanPtr	plan;
} KeptPlan;

/* What a backend knows about one target table. */
typedef struct BookingTarget
{
	Oid			relid;			/* hash key */
	bool		valid;
	bool		changed;		/* invalidated since resolution began */
	bool		own;			/* the extension's own table */
	bool		partitioned;
	LockSpace	lock_space;
	Oid			owner;
	char	   *relname;		/* for messages */
	TableShape	shape;
	bool		has_active;		/* active_when is set */
	bool		has_release_sets;
	bool		direct;			/* protocol lookups probe probe_index */
	KeptPlan	lookup;			/* run as the owner */
	KeptPlan	holder;			/* the same text, run as the caller */
	KeptPlan	insert;
	KeptPlan	release;
} BookingTarget;

/* What a backend knows about the extension itself. */
static struct
{
	bool		valid;
	bool		changed;
	Oid			nspid;
	char	   *nspname;
	Oid			own_relid;
	Oid			registry_relid;
	Oid			default_relid;	/* InvalidOid: the own table */
}			ext;

static HTAB *targets = NULL;
static MemoryContext cache_cxt = NULL;

/* Plans whose text went stale; freed when no call can be running them. */
static List *retired_plans = NIL;

static void
invalidate_all(void)
{
	HASH_SEQ_STATUS status;
	BookingTarget *t;

	ext.valid = false;
	ext.changed = true;
	if (targets == NULL)
		return;
	hash_seq_init(&status, targets);
	while ((t = hash_seq_search(&status)) != NULL)
	{
		t->valid = false;
		t->changed = true;
	}
}

static void
invalidate_relcache(Datum arg, Oid relid)
{
	BookingTarget *t;

	if (relid == InvalidOid || relid == ext.registry_relid)
	{
		invalidate_all();
		return;
	}
	if (relid == ext.own_relid)
	{
		ext.valid = false;
		ext.changed = true;
	}
	if (targets != NULL &&
		(t = hash_search(targets, &relid, HASH_FIND, NULL)) != NULL)
	{
		t->valid = false;
		t->changed = true;
	}
}

static void
invalidate_namespace(Datum arg, int cacheid, uint32 hashvalue)
{
	invalidate_all();
}

/*
 * A kept plan may be executing further up the stack (a trigger on the table
 * can call the API), so a stale one is freed only once the transaction is
 * over.
 */
static void
free_retired_plans(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT)
		return;
	foreach(lc, retired_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(retired_plans);
	retired_plans = NIL;
}

static void
set_plan_text(KeptPlan *kp, const char *sql)
{
	MemoryContext oldcxt;

	if (kp->sql != NULL && sql != NULL && strcmp(kp->sql, sql) == 0)
		return;
	if (kp->plan != NULL)
	{
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		retired_plans = lappend(retired_plans, kp->plan);
		MemoryContextSwitchTo(oldcxt);
		kp->plan = NULL;
	}
	if (kp->sql != NULL)
		pfree(kp->sql);
	kp->sql = sql ? MemoryContextStrdup(cache_cxt, sql) : NULL;
}

static void
init_cache(void)
{
	HASHCTL		ctl;

	if (targets != NULL)
		return;
	cache_cxt = AllocSetContextCreate(CacheMemoryContext, "booking cache",
									  ALLOCSET_SMALL_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(BookingTarget);
	ctl.hcxt = cache_cxt;
	targets = hash_create("booking targets", 8, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(invalidate_relcache, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, invalidate_namespace, (Datum) 0);
	RegisterXactCallback(free_retired_plans, NULL);
}

static char *
cache_strdup(const char *s)
{
	return s ? MemoryContextStrdup(cache_cxt, s) : NULL;
}

static char *
qualified_registry(void)
{
	return quote_qualified_identifier(ext.nspname, REGISTRY_RELNAME);
}

/*
 * Find the extension's tables in the schema of the calling function
 * (wherever CREATE EXTENSION put them) and the database's default table.
 */
static void
resolve_extension(Oid caller_fn)
{
	Oid			nspid;
	char	   *nspname;
	Oid			default_relid = InvalidOid;
	char	   *sql;
	int			rc;

	ext.valid = false;
	ext.changed = false;

	/*
	 * The running function itself is gone when a DROP EXTENSION committed
	 * while the call waited (for the registry, say): a user's error, not an
	 * internal one.
	 */
	nspid = get_func_namespace(caller_fn);
	nspname = OidIsValid(nspid) ? get_namespace_name(nspid) : NULL;
	if (nspname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("extension \"booking\" was dropped while the call was running"),
				 errhint("Call the function again if the extension was created anew.")));
	ext.nspid = nspid;
	if (ext.nspname)
		pfree(ext.nspname);
	ext.nspname = cache_strdup(nspname);
	ext.own_relid = get_relname_relid(OWN_RELNAME, nspid);
	ext.registry_relid = get_relname_relid(REGISTRY_RELNAME, nspid);
	if (!OidIsValid(ext.own_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", nspname, OWN_RELNAME),
				 errhint("Reinstall the booking extension.")));

	/*
	 * No registry: the database still runs the 1.0 SQL objects under this
	 * library (installed, not yet ALTER EXTENSION UPDATEd).  1.0 has only the
	 * own table; ensure_extension looks again at every call until the
	 * registry appears.
	 */
	if (!OidIsValid(ext.registry_relid))
	{
		ext.default_relid = InvalidOid;
		ext.valid = !ext.changed;
		return;
	}

	sql = psprintf("SELECT tbl::pg_catalog.oid FROM %s WHERE is_default",
				   qualified_registry());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(sql, true, 2);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the booking registry: %s",
			 SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;

		default_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc,
													   1, &isnull));
	}
	SPI_finish();
	ext.default_relid = default_relid;

	ext.valid = !ext.changed;
}

/*
 * Make ext current.  Without a registry (1.0 SQL objects) nothing tells us
 * when ALTER EXTENSION UPDATE creates it, so look again at every call.
 */
static void
ensure_extension(Oid caller_fn)
{
	if (ext.valid && !OidIsValid(ext.registry_relid))
		ext.valid = false;
	while (!ext.valid)
		resolve_extension(caller_fn);
}

/* A table's settings, as the registry holds them. */
typedef struct Settings
{
	bool		attached;
	char	   *res_column;
	char	   *user_column;
	char	   *active_when;
	char	   *release_sets;
	LockSpace	lock_space;
} Settings;

static char *
text_column(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s ? pstrdup(s) : NULL;
}

static void
read_settings(Oid relid, Settings *s)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	char	   *sql;
	int			rc;
	MemoryContext oldcxt = CurrentMemoryContext;

	memset(s, 0, sizeof(*s));
	if (!OidIsValid(ext.registry_relid))
		return;					/* 1.0 SQL objects: nothing is attached */
	values[0] = ObjectIdGetDatum(relid);
	sql = psprintf("SELECT resource_column, user_column, active_when, release_sets, lock_space"
				   " FROM %s WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
				   qualified_registry());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, 1, argtypes, values, NULL, true, 2);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the booking registry: %s",
			 SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spicxt = MemoryContextSwitchTo(oldcxt);
		char	   *space;

		s->attached = true;
		s->res_column = text_column(tup, desc, 1);
		s->user_column = text_column(tup, desc, 2);
		s->active_when = text_column(tup, desc, 3);
		s->release_sets = text_column(tup, desc, 4);
		space = text_column(tup, desc, 5);
		s->lock_space = strcmp(space, "private") == 0 ?
			LOCK_SPACE_PRIVATE : LOCK_SPACE_SHARED;
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
}

/*
 * Learn everything a call needs about one table: its settings, its shape
 * (checked as booking_attach checks it), and the text of its statements.
 */
static void
resolve_target(BookingTarget *t)
{
	Relation	rel;
	Settings	s;
	char	   *qual;
	const char *only;
	char	   *res;
	char	   *usr;
	StringInfoData sql;

	t->valid = false;
	t->changed = false;

	rel = try_relation_open(t->relid, AccessShareLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with OID %u does not exist", t->relid)));

	t->own = t->relid == ext.own_relid;
	read_settings(t->relid, &s);
	if (t->own)
	{
		s.res_column = "resource_id";
		s.user_column = "user_id";
		s.active_when = NULL;
		s.release_sets = NULL;
	}
	else if (!s.attached)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not attached to booking",
						RelationGetRelationName(rel)),
				 errhint("Attach it first with SELECT %s.booking_attach('%s').",
						 quote_identifier(ext.nspname),
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)))));

	booking_check_shape(rel, s.res_column, s.user_column, &t->shape);

	t->partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	t->owner = rel->rd_rel->relowner;
	t->lock_space = s.lock_space;
	t->has_active = s.active_when != NULL;
	t->has_release_sets = s.release_sets != NULL;
	t->direct = OidIsValid(t->shape.probe_index) && !t->has_active &&
		!OidIsValid(get_extension_oid("citus", true));
	if (t->relname)
		pfree(t->relname);
	t->relname = cache_strdup(RelationGetRelationName(rel));

	qual = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
	only = t->partitioned ? "" : "ONLY ";
	res = pstrdup(quote_identifier(s.res_column));
	usr = pstrdup(quote_identifier(s.user_column));

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT tableoid, ctid, %s FROM %s%s WHERE %s OPERATOR(pg_catalog.=) $1",
					 usr, only, qual, res);
	if (s.active_when)
		appendStringInfo(&sql, " AND (%s)", s.active_when);
	appendStringInfoString(&sql, " LIMIT 1");
	set_plan_text(&t->lookup, sql.data);
	set_plan_text(&t->holder, sql.data);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (%s, %s) VALUES ($1, $2)",
					 qual, res, usr);
	set_plan_text(&t->insert, sql.data);

	resetStringInfo(&sql);
	if (s.release_sets)
		appendStringInfo(&sql, "UPDATE %s%s SET %s", only, qual, s.release_sets);
	else
		appendStringInfo(&sql, "DELETE FROM %s%s", only, qual);
	/* the resource column too, so that a distributed table routes it */
	appendStringInfo(&sql,
					 " WHERE ctid OPERATOR(pg_catalog.=) $1"
					 " AND tableoid OPERATOR(pg_catalog.=) $2"
					 " AND %s OPERATOR(pg_catalog.=) $3", res);
	set_plan_text(&t->release, sql.data);

	relation_close(rel, AccessShareLock);
	t->valid = !t->changed;
}

/*
 * Resolve the table a call works on, taking no lock that outlives this
 * function: the call may go on to wait for a resource's lock, and must hold
 * nothing on the table while it does.
 */
void
booking_target(BookingCall *call, Oid caller_fn, Oid relid)
{
	BookingTarget *t;
	Oid			target;
	bool		found;

	init_cache();
	memset(call, 0, sizeof(*call));
	call->caller_fn = caller_fn;
	call->requested = relid;
	call->lockmode = NoLock;

	ensure_extension(caller_fn);
	for (;;)
	{
		while (!ext.valid)
			resolve_extension(caller_fn);
		target = relid;
		if (!OidIsValid(target))
			target = OidIsValid(ext.default_relid) ? ext.default_relid : ext.own_relid;
		t = hash_search(targets, &target, HASH_ENTER, &found);
		if (!found)
		{
			memset((char *) t + sizeof(Oid), 0, sizeof(BookingTarget) - sizeof(Oid));
			t->relid = target;
		}
		while (!t->valid)
			resolve_target(t);
		if (ext.valid)
			break;
	}
	call->target = t;
	call->relid = t->relid;
	call->lock_space = t->lock_space;
}

/* An id as the column's own type; false if it does not fit. */
static bool
id_datum(Oid typid, int64 id, Datum *datum)
{
	switch (typid)
	{
		case INT2OID:
			if (id < PG_INT16_MIN || id > PG_INT16_MAX)
				return false;
			*datum = Int16GetDatum((int16) id);
			return true;
		case INT4OID:
			if (id < PG_INT32_MIN || id > PG_INT32_MAX)
				return false;
			*datum = Int32GetDatum((int32) id);
			return true;
		default:
			*datum = Int64GetDatum(id);
			return true;
	}
}

static int64
datum_id(Oid typid, Datum d)
{
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

static void
check_fits(BookingTarget *t, const char *what, AttrNumber attnum, Oid typid,
		   int64 id)
{
	Datum		d;

	if (!id_datum(typid, id, &d))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s %lld is out of range for column \"%s\" of type %s",
						what, (long long) id,
						get_attname(t->relid, attnum, false),
						format_type_be(typid))));
}

/* A booking's ids must fit the table's columns: say so before locking. */
void
booking_check_ids(BookingCall *call, int64 resource_id, const int64 *user_id)
{
	BookingTarget *t = call->target;

	check_fits(t, "resource_id", t->shape.res_attnum, t->shape.res_type,
			   resource_id);
	if (user_id)
		check_fits(t, "user_id", t->shape.user_attnum, t->shape.user_type,
				   *user_id);
}

/*
 * Refuse a caller who could not write the table before taking any lock, so
 * that an answer given without writing (already booked, not the holder) is
 * never given to a role that may not write at all.  The statements check
 * again when they run.  ACL_DELETE asks for what a release needs: UPDATE
 * where the table releases by release_sets.
 */
void
booking_check_privilege(BookingCall *call, AclMode mode)
{
	BookingTarget *t = call->target;
	Oid			userid = GetUserId();

	if (t->own)
		return;
	if (mode == ACL_DELETE && t->has_release_sets)
		mode = ACL_UPDATE;
	if (pg_class_aclcheck(t->relid, userid, mode) == ACLCHECK_OK)
		return;
	if (pg_attribute_aclcheck(t->relid, t->shape.res_attnum, userid, mode) == ACLCHECK_OK &&
		pg_attribute_aclcheck(t->relid, t->shape.user_attnum, userid, mode) == ACLCHECK_OK)
		return;
	aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, t->relname);
}

/*
 * Look a resource up in the table's resource index under the given
 * snapshot.  For SnapshotDirty the snapshot's xmin/xmax report on the row
 * found.
 */
static bool
probe(BookingTarget *t, Relation heap, Relation index, TupleTableSlot *slot,
	  Datum key_value, Snapshot snapshot, Booking *booking)
{
	ScanKeyData key;
	IndexScanDesc scan;
	RegProcedure eqproc;

	eqproc = t->shape.res_type == INT2OID ? F_INT2EQ :
		t->shape.res_type == INT4OID ? F_INT4EQ : F_INT8EQ;
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, eqproc, key_value);
	scan = index_beginscan_compat(heap, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	booking->found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (booking->found)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, t->shape.user_attnum, &isnull);

		booking->user_id = isnull ? 0 : datum_id(t->shape.user_type, d);
		booking->tableoid = RelationGetRelid(heap);
		booking->tid = slot->tts_tid;
	}
	index_endscan(scan);
	ExecClearTuple(slot);
	return booking->found;
}

/*
 * The fast path for an attempt on resources whose lock may be held
 * elsewhere: true when, for one of them, a committed row exists that no
 * open transaction is inserting or deleting.  Only a release removes a
 * booking, and a release holds the lock, so that answer stays true until
 * one commits; the caller may answer "already booked" without queueing.
 * Anything uncertain returns false and the caller waits for the locks.
 *
 * It reads the index directly with a dirty snapshot, so it serves only a
 * table looked up directly (every row a booking, a plain btree index on the
 * resource column); the table and index locks it takes are given back
 * before it returns.  Under SERIALIZABLE every read must be seen by SSI,
 * which a dirty read is not: there the caller always waits.
 */
bool
booking_surely_booked(BookingCall *call, const int64 *resource_ids, int nids)
{
	BookingTarget *t = call->target;
	Oid			indexid = t->shape.probe_index;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	bool		sure = false;

	if (IsolationIsSerializable() || !t->direct)
		return false;

	heap = try_relation_open(t->relid, AccessShareLock);
	if (heap == NULL)
		return false;
	LockRelationOid(indexid, AccessShareLock);
	if (!t->valid || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(indexid)))
	{
		/* changed under us: let the slow path sort it out */
		UnlockRelationOid(indexid, AccessShareLock);
		relation_close(heap, AccessShareLock);
		return false;
	}
	index = index_open(indexid, NoLock);
	slot = table_slot_create(heap, NULL);

	for (int i = 0; i < nids && !sure; i++)
	{
		SnapshotData dirty;
		Booking		booking;
		Datum		d;

		CHECK_FOR_INTERRUPTS();
		if (!id_datum(t->shape.res_type, resource_ids[i], &d))
			continue;
		InitDirtySnapshot(dirty);
		if (probe(t, heap, index, slot, d, &dirty, &booking))
			sure = !TransactionIdIsValid(dirty.xmin) &&
				!TransactionIdIsValid(dirty.xmax);
	}

	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	relation_close(heap, AccessShareLock);
	return sure;
}

/*
 * Lock the table for the call's reads and writes, after the resource's lock
 * is held.  Taking the lock processes invalidations: if the table, its
 * settings or the default changed meanwhile, resolve again and lock what
 * that resolves to.  The resource lock already taken is right for whatever
 * table the call ends up on, unless that table's lock space differs.
 */
void
booking_open(BookingCall *call, LOCKMODE lockmode)
{
	for (;;)
	{
		BookingTarget *t;

		LockRelationOid(call->relid, lockmode);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(call->relid)))
		{
			UnlockRelationOid(call->relid, lockmode);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"%s\" was dropped", call->target->relname)));
		}
		t = call->target;
		if (ext.valid && t->valid &&
			(OidIsValid(call->requested) || call->relid ==
			 (OidIsValid(ext.default_relid) ? ext.default_relid : ext.own_relid)))
		{
			if (!t->direct)
				break;
			/* the index may have been rebuilt under another OID meanwhile */
			LockRelationOid(t->shape.probe_index, lockmode);
			if (t->valid &&
				SearchSysCacheExists1(RELOID, ObjectIdGetDatum(t->shape.probe_index)))
				break;
			UnlockRelationOid(t->shape.probe_index, lockmode);
		}
		UnlockRelationOid(call->relid, lockmode);
		{
			LockSpace	space = call->lock_space;

			booking_target(call, call->caller_fn, call->requested);
			if (call->lock_space != space)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to a concurrent change of the lock space of table \"%s\"",
								call->target->relname),
						 errhint("The transaction might succeed if retried.")));
		}
	}
	call->lockmode = lockmode;
	if (call->target->direct)
	{
		call->heap = relation_open(call->relid, NoLock);
		call->index = index_open(call->target->shape.probe_index, NoLock);
		/* made here, outside any SPI connection, so SPI_finish cannot free it */
		call->slot = table_slot_create(call->heap, NULL);
	}
}

void
booking_close(BookingCall *call)
{
	if (call->spi_connected && SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	call->spi_connected = false;
	if (call->latest)
		UnregisterSnapshot(call->latest);
	call->latest = NULL;
	if (call->heap)
	{
		ExecDropSingleTupleTableSlot(call->slot);
		index_close(call->index, NoLock);
		relation_close(call->heap, NoLock);
		call->heap = NULL;
	}
}

static void
spi_connect(BookingCall *call)
{
	if (call->spi_connected)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	call->spi_connected = true;
}

/* The relation a plan reads or writes, as its current analysis has it. */
static Oid
plan_relation(CachedPlanSource *ps)
{
	Query	   *query = linitial_node(Query, ps->query_list);

	return rt_fetch(query->resultRelation ? query->resultRelation : 1,
					query->rtable)->relid;
}

/* How to run one kept statement. */
typedef struct RunSpec
{
	KeptPlan   *kp;
	int			nargs;
	Oid		   *argtypes;
	Datum	   *values;
	Snapshot	snapshot;
	bool		as_owner;
	bool		lookup;			/* a read: generic plan, never a seq scan */
	int			expected;
} RunSpec;

/*
 * Run a kept statement.  A lookup is planned here, before it runs, as a
 * generic plan with sequential scans disabled, and again whenever the plan
 * cache has dropped that plan: so it uses the resource index whatever the
 * table's statistics say (never analysed, truncated, just grown), rather
 * than whatever the first execution's statistics favoured.
 *
 * As the owner, a statement whose text holds the table's own expressions
 * runs under search_path pg_catalog, pg_temp, as a SECURITY DEFINER
 * function should: the caller's path must not pick the functions or
 * operators that run with the owner's rights.  The user, the path and the
 * planner settings are all undone by (sub)transaction abort on error.
 */
static int
run_statement(BookingCall *call, RunSpec *rs)
{
	BookingTarget *t = call->target;
	KeptPlan   *kp = rs->kp;
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel = -1;
	int			rc;
	Oid			planrel;
	CachedPlanSource *ps;

	spi_connect(call);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (rs->as_owner)
		SetUserIdAndSecContext(t->owner,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_NOFORCE_RLS);
	if (rs->as_owner && (t->has_active || t->has_release_sets))
	{
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}

	if (kp->plan == NULL)
	{
		SPIPlanPtr	plan;

		plan = SPI_prepare_cursor(kp->sql, rs->nargs, rs->argtypes,
								  rs->lookup ? CURSOR_OPT_GENERIC_PLAN : 0);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 kp->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		kp->plan = plan;
	}
	ps = linitial(SPI_plan_get_plan_sources(kp->plan));
	if (!ps->is_valid ||
		(rs->lookup && (ps->gplan == NULL || !ps->gplan->is_valid)))
	{
		int			planlevel = NewGUCNestLevel();
		CachedPlan *cplan;

		if (rs->lookup)
			(void) set_config_option("enable_seqscan", "off",
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		cplan = SPI_plan_get_cached_plan(kp->plan);
		if (cplan == NULL)
			elog(ERROR, "could not plan \"%s\"", kp->sql);
		ReleaseCachedPlan(cplan, CurrentResourceOwner);
		AtEOXact_GUC(true, planlevel);
	}

	/*
	 * The text names the table; the lock we hold on its OID keeps it from
	 * being renamed, but make sure the plan's relation is ours all the same:
	 * then what a lookup finds and what a write changes are in one table.
	 */
	planrel = plan_relation(ps);
	if (planrel != t->relid)
	{
		t->valid = false;
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent rename of table \"%s\"",
						t->relname),
				 errhint("The transaction might succeed if retried.")));
	}

	rc = SPI_execute_snapshot(kp->plan, rs->values, NULL, rs->snapshot,
							  InvalidSnapshot, false, true, 1);

	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	if (rc != rs->expected)
		elog(ERROR, "unexpected result from \"%s\": %s",
			 kp->sql, SPI_result_code_string(rc));
	return rc;
}

/* Run a lookup or holder plan and copy out what it found. */
static void
find(BookingCall *call, KeptPlan *kp, bool as_owner, int64 resource_id,
	 Snapshot snapshot, Booking *booking)
{
	BookingTarget *t = call->target;
	Oid			argtypes[1] = {t->shape.res_type};
	Datum		values[1];
	RunSpec		rs = {0};

	booking->found = false;
	if (!id_datum(t->shape.res_type, resource_id, &values[0]))
		return;
	if (as_owner && call->heap != NULL)
	{
		/* as the owner's SPI lookup would, this sees every row */
		probe(t, call->heap, call->index, call->slot, values[0], snapshot,
			  booking);
		return;
	}
	rs.kp = kp;
	rs.nargs = 1;
	rs.argtypes = argtypes;
	rs.values = values;
	rs.snapshot = snapshot;
	rs.as_owner = as_owner;
	rs.lookup = true;
	rs.expected = SPI_OK_SELECT;
	run_statement(call, &rs);

	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		booking->found = true;
		booking->tableoid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		booking->tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		booking->user_id = isnull ? 0 : datum_id(t->shape.user_type, d);
	}
	SPI_freetuptable(SPI_tuptable);
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
booking_lookup(BookingCall *call, int64 resource_id, Booking *booking)
{
	Assert(call->lockmode != NoLock);
	CommandCounterIncrement();
	if (call->latest)
		UnregisterSnapshot(call->latest);
	call->latest = RegisterSnapshot(GetLatestSnapshot());
	find(call, &call->target->lookup, true, resource_id, call->latest, booking);

	if (IsolationIsSerializable())
	{
		Booking		seen;

		find(call, &call->target->lookup, true, resource_id,
			 GetTransactionSnapshot(), &seen);
		if (seen.found != booking->found ||
			(seen.found && (seen.tableoid != booking->tableoid ||
							!ItemPointerEquals(&seen.tid, &booking->tid))))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent booking change"),
					 errdetail("Resource %lld was booked or released by a transaction that committed after this transaction's snapshot was taken.",
							   (long long) resource_id),
					 errhint("The transaction might succeed if retried.")));
	}
}

/*
 * Insert a booking after booking_lookup found none.  Under READ COMMITTED
 * the statement runs under the lookup's snapshot, taken after the lock was
 * granted; under REPEATABLE READ and SERIALIZABLE under the transaction's.
 * Other columns take their defaults, triggers fire and partitions route as
 * for the caller's own INSERT.
 */
void
booking_insert(BookingCall *call, int64 resource_id, int64 user_id)
{
	BookingTarget *t = call->target;
	Oid			argtypes[2] = {t->shape.res_type, t->shape.user_type};
	Datum		values[2];
	RunSpec		rs = {0};

	booking_check_ids(call, resource_id, &user_id);
	(void) id_datum(t->shape.res_type, resource_id, &values[0]);
	(void) id_datum(t->shape.user_type, user_id, &values[1]);
	rs.kp = &t->insert;
	rs.nargs = 2;
	rs.argtypes = argtypes;
	rs.values = values;
	rs.snapshot = IsolationUsesXactSnapshot() ? InvalidSnapshot : call->latest;
	rs.as_owner = t->own;
	rs.expected = SPI_OK_INSERT;
	run_statement(call, &rs);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("booking of resource %lld was not inserted into table \"%s\"",
						(long long) resource_id, t->relname),
				 errdetail("A trigger or rule on the table suppressed the row.")));

	/* a row that does not count as a booking would let a second one in */
	if (t->has_active)
	{
		Booking		now;

		booking_lookup(call, resource_id, &now);
		if (!now.found)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("new booking of resource %lld in table \"%s\" is not active",
							(long long) resource_id, t->relname),
					 errdetail("The inserted row does not satisfy the table's active_when condition."),
					 errhint("Give the table's columns defaults under which a new row is active.")));
	}
}

/*
 * Release the booking booking_lookup found: delete its row, or update it
 * with the table's release_sets, which must leave it inactive.  The row may
 * be newer than the transaction's snapshot, so the statement runs under the
 * lookup's.
 */
void
booking_release(BookingCall *call, int64 resource_id, const Booking *booking)
{
	BookingTarget *t = call->target;
	Oid			argtypes[3] = {TIDOID, OIDOID, t->shape.res_type};
	Datum		values[3];
	RunSpec		rs = {0};

	Assert(booking->found);
	values[0] = PointerGetDatum(&booking->tid);
	values[1] = ObjectIdGetDatum(booking->tableoid);
	(void) id_datum(t->shape.res_type, resource_id, &values[2]);
	rs.kp = &t->release;
	rs.nargs = 3;
	rs.argtypes = argtypes;
	rs.values = values;
	rs.snapshot = call->latest;
	rs.as_owner = t->own;
	rs.expected = t->has_release_sets ? SPI_OK_UPDATE : SPI_OK_DELETE;
	run_statement(call, &rs);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("could not release resource %lld in table \"%s\"",
						(long long) resource_id, t->relname),
				 errdetail("The booking's row is hidden from the current user by row-level security, or a trigger or rule suppressed the change.")));

	if (t->has_release_sets)
	{
		Booking		now;

		booking_lookup(call, resource_id, &now);
		if (now.found)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("release of resource %lld left its booking in table \"%s\" active",
							(long long) resource_id, t->relname),
					 errdetail("The row updated by release_sets still satisfies active_when."),
					 errhint("Attach the table again with a release_sets that makes the row inactive.")));
	}
}

/*
 * Who holds a resource, as the caller may see it: SELECT privilege and
 * row-level security apply as to any query.  Under SERIALIZABLE the answer
 * comes from the transaction's snapshot, so that SSI tracks the read and a
 * read-only deferrable transaction never fails; otherwise from the latest
 * committed state.
 */
bool
booking_holder(BookingCall *call, int64 resource_id, int64 *user_id)
{
	Booking		booking;
	Snapshot	snapshot = InvalidSnapshot;

	if (!IsolationIsSerializable())
	{
		CommandCounterIncrement();
		call->latest = RegisterSnapshot(GetLatestSnapshot());
		snapshot = call->latest;
	}
	find(call, &call->target->holder, false,
		 resource_id, snapshot, &booking);
	*user_id = booking.user_id;
	return booking.found;
}

/*
 * After booking_attach, booking_detach or booking_set_default changed the
 * registry: every backend must drop what it knows, at commit.
 */
void
booking_invalidate_registry(Oid caller_fn, Oid relid)
{
	init_cache();
	ensure_extension(caller_fn);
	CacheInvalidateRelcacheByRelid(ext.registry_relid);
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
}
