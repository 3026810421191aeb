/*-------------------------------------------------------------------------
 *
 * attach.c
 *	  Putting a table the user already has under the booking protocol.
 *
 * booking_attach checks that a table can be guarded (integer resource and
 * user columns, a btree index leading with the resource column, no other
 * column a booking could not fill) and records its settings in the
 * registry table booking_tables.  The same shape check runs again whenever
 * a backend resolves the table, so a table altered since it was attached
 * gets a clear error, never a stale plan.
 *
 * active_when and release_sets are checked as PostgreSQL checks a CHECK
 * constraint and an UPDATE's SET list, and are stored deparsed: what runs
 * later is exactly one expression (or one assignment per column), never
 * text a user could splice into the statements around it.
 *
 * IDENTIFICATION
 *	  src/attach.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_am.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parse_target.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "bookings_table.h"
#include "compat.h"

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static char *
relation_qualname(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

static AttrNumber
integer_column(Relation rel, const char *colname, Oid *typid)
{
	AttrNumber	attnum = attnameAttNum(rel, colname, false);
	Oid			t;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist",
						colname, RelationGetRelationName(rel))));
	t = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
	if (t != INT2OID && t != INT4OID && t != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of table \"%s\" is of type %s",
						colname, RelationGetRelationName(rel), format_type_be(t)),
				 errdetail("Resource and user columns must be of type smallint, integer or bigint.")));
	*typid = t;
	return attnum;
}

/*
 * Check that a table has what the protocol needs, and find the index a
 * lookup will use.
 */
void
booking_check_shape(Relation rel, const char *res_column,
					const char *user_column, TableShape *shape)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;
	ListCell   *lc;
	bool		indexed = false;

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errdetail("Only ordinary and partitioned tables can hold bookings.")));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot attach temporary table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Bookings must be visible to every session.")));

	shape->res_attnum = integer_column(rel, res_column, &shape->res_type);
	shape->user_attnum = integer_column(rel, user_column, &shape->user_type);
	if (shape->res_attnum == shape->user_attnum)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resource and user columns must differ")));

	/* every other column must fill itself, or no booking could be inserted */
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || !att->attnotnull || att->atthasdef ||
			att->attidentity || att->attgenerated ||
			att->attnum == shape->res_attnum || att->attnum == shape->user_attnum)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of table \"%s\" is NOT NULL and has no default",
						NameStr(att->attname), RelationGetRelationName(rel)),
				 errdetail("A booking sets only the resource and user columns."),
				 errhint("Give the column a default, or drop its NOT NULL constraint.")));
	}

	shape->probe_index = InvalidOid;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (index->rd_rel->relam == BTREE_AM_OID &&
			form->indkey.values[0] == shape->res_attnum &&
			form->indisvalid && form->indisready && form->indislive &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
		{
			indexed = true;
			if (!OidIsValid(shape->probe_index) &&
				rel->rd_rel->relkind == RELKIND_RELATION &&
				index->rd_opcintype[0] == shape->res_type)
				shape->probe_index = RelationGetRelid(index);
		}
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	if (!indexed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no btree index leading with column \"%s\"",
						RelationGetRelationName(rel), res_column),
				 errdetail("Every booking looks its resource up in such an index."),
				 errhint("Create one with: CREATE INDEX ON %s (%s);",
						 relation_qualname(rel), quote_identifier(res_column))));
}

/* A parse state in which the table's columns are the only names. */
static ParseState *
table_parse_state(Relation rel, const char *source)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;

	pstate->p_sourcetext = source;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   NULL, false, true);
	addNSItemToQuery(pstate, nsitem, true, true, true);
	/* as for an UPDATE of the table, which release_sets is part of */
	pstate->p_target_relation = rel;
	pstate->p_target_nsitem = nsitem;
	return pstate;
}

/*
 * Deparse under search_path pg_catalog alone, so that every name outside
 * pg_catalog comes out qualified and means the same thing whatever path the
 * statement later runs under.
 */
static char *
deparse(Relation rel, Node *expr)
{
	int			nestlevel = NewGUCNestLevel();
	char	   *s;

	(void) set_config_option("search_path", "pg_catalog",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	s = deparse_expression(expr,
						   deparse_context_for(RelationGetRelationName(rel),
											   RelationGetRelid(rel)),
						   false, false);
	AtEOXact_GUC(true, nestlevel);
	return s;
}

/*
 * An error in active_when or release_sets points into that text, not into
 * the query that called booking_attach: report its position as an
 * internal query's.  release_sets is parsed behind a prefix of offset
 * characters.
 */
typedef struct SettingErrorContext
{
	const char *source;
	int			offset;
} SettingErrorContext;

static void
setting_error_callback(void *arg)
{
	SettingErrorContext *ctx = (SettingErrorContext *) arg;
	int			pos = geterrposition();

	if (pos <= 0)
		return;
	errposition(0);
	if (pos > ctx->offset)
	{
		internalerrposition(pos - ctx->offset);
		internalerrquery(ctx->source);
	}
}

/* active_when: one boolean expression on the table's own columns. */
static char *
check_active_when(Relation rel, const char *source)
{
	List	   *raw;
	SelectStmt *stmt = NULL;
	ResTarget  *target;
	ParseState *pstate;
	Node	   *expr;
	SettingErrorContext ctx = {source, 0};
	ErrorContextCallback errcallback;

	errcallback.callback = setting_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	raw = raw_parser(source, RAW_PARSE_PLPGSQL_EXPR);
	if (list_length(raw) == 1)
		stmt = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
	if (stmt == NULL || !IsA(stmt, SelectStmt) ||
		list_length(stmt->targetList) != 1 || stmt->fromClause != NIL ||
		stmt->whereClause || stmt->groupClause != NIL || stmt->havingClause ||
		stmt->windowClause != NIL || stmt->sortClause != NIL ||
		stmt->limitCount || stmt->limitOffset || stmt->lockingClause != NIL ||
		stmt->distinctClause != NIL || stmt->withClause ||
		stmt->valuesLists != NIL || stmt->op != SETOP_NONE || stmt->intoClause ||
		((ResTarget *) linitial(stmt->targetList))->name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("active_when must be a single expression: %s", source)));
	target = linitial(stmt->targetList);

	pstate = table_parse_state(rel, source);
	expr = transformExpr(pstate, target->val, EXPR_KIND_CHECK_CONSTRAINT);
	expr = coerce_to_boolean(pstate, expr, "active_when");
	assign_expr_collations(pstate, expr);
	pstate->p_target_relation = NULL;	/* the caller closes it */
	free_parsestate(pstate);
	error_context_stack = errcallback.previous;
	return deparse(rel, expr);
}

/* release_sets: a SET list of the table's own columns, one value each. */
static char *
check_release_sets(Relation rel, const char *source)
{
	char	   *sql;
	List	   *raw;
	UpdateStmt *stmt = NULL;
	ParseState *pstate;
	ListCell   *lc;
	Bitmapset  *assigned = NULL;
	StringInfoData out;
	SettingErrorContext ctx;
	ErrorContextCallback errcallback;

	sql = psprintf("UPDATE pg_catalog.pg_class SET %s", source);
	ctx.source = source;
	ctx.offset = strlen(sql) - strlen(source);
	errcallback.callback = setting_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(raw) == 1)
		stmt = (UpdateStmt *) linitial_node(RawStmt, raw)->stmt;
	if (stmt == NULL || !IsA(stmt, UpdateStmt) || stmt->whereClause ||
		stmt->fromClause != NIL || update_stmt_has_returning(stmt) || stmt->withClause)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("release_sets must be a list of column = value assignments: %s",
						source)));

	/* the parse tree's locations are in sql */
	pstate = table_parse_state(rel, sql);
	initStringInfo(&out);
	foreach(lc, stmt->targetList)
	{
		ResTarget  *rt = lfirst_node(ResTarget, lc);
		AttrNumber	attnum;
		Expr	   *expr;

		if (rt->indirection != NIL || IsA(rt->val, MultiAssignRef))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("release_sets must assign whole columns one at a time")));
		attnum = attnameAttNum(rel, rt->name, false);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table \"%s\" does not exist",
							rt->name, RelationGetRelationName(rel))));
		/* as the UPDATE would refuse it, but when attaching */
		if (bms_is_member(attnum, assigned))
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("multiple assignments to same column \"%s\"",
							rt->name)));
		assigned = bms_add_member(assigned, attnum);
		expr = (Expr *) rt->val;
		if (!IsA(expr, SetToDefault))
			expr = (Expr *) transformExpr(pstate, (Node *) expr,
										  EXPR_KIND_UPDATE_SOURCE);
		expr = transformAssignedExpr(pstate, expr,
									 EXPR_KIND_UPDATE_SOURCE, rt->name, attnum,
									 NIL, rt->location);
		if (checkExprHasSubLink((Node *) expr))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("release_sets must not contain subqueries")));
		assign_expr_collations(pstate, (Node *) expr);
		appendStringInfo(&out, "%s%s = %s", out.len > 0 ? ", " : "",
						 quote_identifier(rt->name),
						 IsA(expr, SetToDefault) ? "DEFAULT" :
						 deparse(rel, (Node *) expr));
	}
	pstate->p_target_relation = NULL;	/* the caller closes it */
	free_parsestate(pstate);
	error_context_stack = errcallback.previous;
	return out.data;
}

static char *
name_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	return NameStr(*PG_GETARG_NAME(argno));
}

static char *
text_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static Oid
table_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tbl must not be null")));
	return PG_GETARG_OID(0);
}

/* Open a table its owner is changing the settings of. */
static Relation
open_owned(Oid relid)
{
	Relation	rel = try_relation_open(relid, ShareUpdateExclusiveLock);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table with OID %u does not exist", relid)));
	if (!table_ownercheck_compat(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	return rel;
}

/*
 * Run a statement on the registry as its owner: the registry is written
 * only through these functions, which check the caller's rights first.
 */
static uint64
registry_write(Oid caller_fn, const char *fmt, int nargs, Oid *argtypes,
			   Datum *values, const char *nulls, int expected)
{
	Oid			nspid = get_func_namespace(caller_fn);
	Oid			regid = get_relname_relid("booking_tables", nspid);
	Oid			save_userid;
	int			save_sec_context;
	char	   *sql;
	int			rc;
	uint64		processed;

	if (!OidIsValid(regid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"booking_tables\" does not exist"),
				 errhint("Reinstall the booking extension.")));
	sql = psprintf(fmt, quote_qualified_identifier(get_namespace_name(nspid),
												   "booking_tables"));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(relation_owner(regid),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (rc != expected)
		elog(ERROR, "unexpected result from \"%s\": %s", sql,
			 SPI_result_code_string(rc));
	processed = SPI_processed;
	SPI_finish();
	return processed;
}

static Oid
own_table(Oid caller_fn)
{
	return get_relname_relid("bookings", get_func_namespace(caller_fn));
}

PG_FUNCTION_INFO_V1(booking_attach);

/*
 * Put a table under the protocol, or change its settings.  Only its owner
 * may: the settings decide what every caller's booking writes.
 */
Datum
booking_attach(PG_FUNCTION_ARGS)
{
	Oid			relid = table_arg(fcinfo);
	char	   *res_column = name_arg(fcinfo, 1, "resource_column");
	char	   *user_column = name_arg(fcinfo, 2, "user_column");
	char	   *active_when = text_arg(fcinfo, 3);
	char	   *release_sets = text_arg(fcinfo, 4);
	char	   *lock_space = text_arg(fcinfo, 5);
	Relation	rel;
	TableShape	shape;
	Oid			argtypes[6] = {OIDOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[7] = "      ";

	if (lock_space == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lock_space must not be null")));
	if (strcmp(lock_space, "shared") != 0 && strcmp(lock_space, "private") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lock_space must be 'shared' or 'private'")));
	if (release_sets != NULL && active_when == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("release_sets needs active_when"),
				 errdetail("A released row must stop being active, so the table must say which rows are.")));

	rel = open_owned(relid);
	if (relid == own_table(fcinfo->flinfo->fn_oid) &&
		(strcmp(res_column, "resource_id") != 0 ||
		 strcmp(user_column, "user_id") != 0 ||
		 active_when != NULL || release_sets != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the booking extension's own table keeps its columns"),
				 errdetail("Only the lock space of the extension's own table can be chosen.")));

	booking_check_shape(rel, res_column, user_column, &shape);
	if (active_when)
		active_when = check_active_when(rel, active_when);
	if (release_sets)
		release_sets = check_release_sets(rel, release_sets);
	relation_close(rel, NoLock);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	values[3] = active_when ? CStringGetTextDatum(active_when) : (Datum) 0;
	values[4] = release_sets ? CStringGetTextDatum(release_sets) : (Datum) 0;
	values[5] = CStringGetTextDatum(lock_space);
	nulls[3] = active_when ? ' ' : 'n';
	nulls[4] = release_sets ? ' ' : 'n';
	nulls[6] = '\0';
	registry_write(fcinfo->flinfo->fn_oid,
				   "INSERT INTO %s AS r (tbl, resource_column, user_column, active_when, release_sets, lock_space)"
				   " VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5, $6)"
				   " ON CONFLICT (tbl) DO UPDATE SET resource_column = EXCLUDED.resource_column,"
				   " user_column = EXCLUDED.user_column, active_when = EXCLUDED.active_when,"
				   " release_sets = EXCLUDED.release_sets, lock_space = EXCLUDED.lock_space",
				   6, argtypes, values, nulls, SPI_OK_INSERT);
	booking_invalidate_registry(fcinfo->flinfo->fn_oid, relid);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(booking_detach);

/* Take a table out from under the protocol: its rows stay as they are. */
Datum
booking_detach(PG_FUNCTION_ARGS)
{
	Oid			relid = table_arg(fcinfo);
	Relation	rel = open_owned(relid);
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *relname = pstrdup(RelationGetRelationName(rel));

	relation_close(rel, NoLock);
	if (registry_write(fcinfo->flinfo->fn_oid,
					   "SELECT 1 FROM %s WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1 AND is_default",
					   1, argtypes, values, NULL, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("table \"%s\" is the database's default booking table", relname),
				 errhint("Reset the default first with SELECT booking_set_default(NULL).")));
	if (registry_write(fcinfo->flinfo->fn_oid,
					   "DELETE FROM %s WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					   1, argtypes, values, NULL, SPI_OK_DELETE) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not attached to booking", relname)));
	booking_invalidate_registry(fcinfo->flinfo->fn_oid, relid);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(booking_set_default);

/*
 * Make an attached table the target of the functions that take no table,
 * or with NULL (or the extension's own table) go back to the extension's
 * own table.  It redirects every application's bookings, so only a
 * superuser or the extension's owner may.
 */
Datum
booking_set_default(PG_FUNCTION_ARGS)
{
	Oid			caller_fn = fcinfo->flinfo->fn_oid;
	Oid			own = own_table(caller_fn);
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (!OidIsValid(own))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"bookings\" does not exist"),
				 errhint("Reinstall the booking extension.")));
	if (!superuser() && !has_privs_of_role(GetUserId(), relation_owner(own)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set the default booking table"),
				 errdetail("Only a superuser or the owner of the booking extension may.")));

	if (relid == own)
		relid = InvalidOid;
	registry_write(caller_fn, "UPDATE %s SET is_default = false WHERE is_default",
				   0, NULL, NULL, NULL, SPI_OK_UPDATE);
	if (OidIsValid(relid) &&
		registry_write(caller_fn,
					   "UPDATE %s SET is_default = true WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
					   1, argtypes, values, NULL, SPI_OK_UPDATE) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not attached to booking",
						get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errhint("Attach it first with booking_attach.")));
	booking_invalidate_registry(caller_fn, InvalidOid);
	PG_RETURN_VOID();
}
