/*-------------------------------------------------------------------------
 *
 * stress.c
 *	  Drive the booking functions from many libpq connections at once, then
 *	  check the bookings table against every outcome the server reported.
 *
 * One process, one thread: every connection is non-blocking and a poll()
 * loop over all of them runs each through its transactions, so hundreds of
 * connections cost no more than their sockets.  Each attempt is one
 * transaction: "BEGIN; SELECT <function>(...)", then COMMIT or ROLLBACK
 * (chosen at random, or ROLLBACK after an error).
 *
 * The check (see check_resource) relies only on what the server told us:
 * a COMMIT that answered "COMMIT" committed; a COMMIT that got no answer
 * (the connection died) may or may not have committed, and is allowed
 * either way; anything else did not commit.
 *
 * With --attached NAME the same load runs through the table-taking forms
 * on a table of the user's (attached with booking_attach) that keeps its
 * history: a release marks the holder's row cancelled instead of deleting
 * it.  The check then also holds the whole history against the outcomes
 * (see check_history).
 *
 * Exit status: 0 all good, 1 an invariant was violated, 2 unexpected errors
 * or the run could not be completed.
 *
 * IDENTIFICATION
 *	  test/stress/stress.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define APPNAME			"booking-stress"
#define MAX_MULTI		16
#define MAX_VIOLATIONS	20
#define MAX_SQLSTATES	32

typedef enum Fn
{
	FN_BOOK,
	FN_TRY,
	FN_MULTI,
	FN_RELEASE,
	NFN
} Fn;

static const char *const fn_names[NFN] = {
	"book_resource", "try_book_resource", "book_resources", "release_resource"
};
static const char *const fn_keys[NFN] = {"book", "try", "multi", "release"};

typedef enum Outcome
{
	OUT_TRUE,
	OUT_FALSE,
	OUT_ERROR,
	NOUT
} Outcome;

/* What became of an attempt's transaction, as far as the server told us. */
typedef enum TxOutcome
{
	TX_COMMITTED,				/* COMMIT answered "COMMIT" */
	TX_ROLLBACK_CHOSEN,			/* we rolled back on purpose */
	TX_ROLLBACK_ERROR,			/* the call failed, so we rolled back */
	TX_COMMIT_FAILED,			/* COMMIT answered with an error */
	TX_LOST,					/* connection died before COMMIT was sent */
	TX_IN_DOUBT					/* connection died waiting for COMMIT's answer */
} TxOutcome;

typedef enum ClientState
{
	CS_DOWN,					/* no connection */
	CS_IDLE,					/* connected, no transaction */
	CS_CALL,					/* waiting for "BEGIN; SELECT fn()" */
	CS_END						/* waiting for COMMIT or ROLLBACK */
} ClientState;

typedef struct Attempt
{
	Fn			fn;
	int64_t		user;
	int			nres;
	int64_t		res[MAX_MULTI];
	bool		rollback;		/* roll back even if the call succeeds */
	Outcome		outcome;
	bool		answered;		/* the call's result arrived */
	char		sqlstate[6];
	char		errmsg[160];
	double		t_start;
	double		t_call;
} Attempt;

typedef struct Client
{
	PGconn	   *conn;
	ClientState state;
	bool		flushing;		/* output still queued in libpq */
	bool		sent_commit;	/* CS_END: COMMIT (not ROLLBACK) was sent */
	bool		commit_answered;
	bool		commit_ok;
	Attempt		a;
	double		down_since;
	double		next_retry;
} Client;

/*
 * A committed (or in-doubt) write the server reported: a booking or a
 * release of one resource by one user.  Rows present before the run count as
 * committed bookings.
 */
typedef struct Event
{
	int64_t		res;
	int64_t		user;
	uint8_t		release;
	uint8_t		certain;
} Event;

typedef struct Row
{
	int64_t		res;
	int64_t		user;
} Row;

/* A row of an attached table that keeps its history (--attached). */
typedef struct HistRow
{
	int64_t		res;
	int64_t		user;
	int64_t		id;
	bool		active;			/* active_when holds */
	bool		released;		/* released_clock is set */
	int64_t		booked_us;		/* clock_timestamp() at the insert */
	int64_t		released_us;	/* clock_timestamp() at the release */
} HistRow;

typedef struct SqlstateCount
{
	char		code[6];
	long		n;
	char		example[160];
} SqlstateCount;

/* options */
static int	nclients = 32;
static long nattempts = 20000;	/* 0: until stopped */
static long nresources = 1000;
static long nusers = 1000;
static bool dist_hot = false;
static long nhot = 10;
static double hot_share = 0.9;
static uint64_t seed = 0;
static bool seed_given = false;
static int	weights[NFN] = {60, 15, 10, 15};
static int	multi_max = 4;
static double rollback_rate = 0.1;
static double wrong_user_rate = 0.2;
static const char *isolation = "read committed";
static const char *conninfo = "";
static bool unsafe_sql = false;
static double reconnect_secs = 0;
static double duration_secs = 0;
static double progress_secs = 5;
static bool clean_first = false;
static bool monitor_on = true;
static const char *attached = NULL;	/* --attached NAME */

/* run state */
static Client *clients;
static char *schema;
static char *target_lit;		/* --attached: the table as an SQL literal */
static char *target_ident;		/* --attached: the table, quoted, qualified */
static char *active_when;		/* --attached: its active_when, deparsed */
static char *release_sets;		/* --attached: its release_sets */
static long issued;
static long finished;
static volatile sig_atomic_t got_signal = 0;
static bool stopping = false;
static const char *stop_reason = NULL;	/* why we stopped before the end */
static bool stop_asked = false; /* by a signal or --duration */
static bool gave_up = false;
static int64_t *believed;		/* believed holder per resource, 0 = none */
static double t_begin;
static double t_last_reconnect = -1;

/* statistics */
static long calls[NFN][NOUT];
static long committed_true[NFN];
static long tx[TX_IN_DOUBT + 1];
static long commits_after_reconnect;
static long conn_lost;
static long reconnects;
static uint32_t *lat_call;		/* microseconds, one per answered call */
static long nlat_call;
static long maxlat_call;
static uint32_t *lat_tx;		/* microseconds, one per committed transaction */
static long nlat_tx;
static long maxlat_tx;
static SqlstateCount sqlstates[MAX_SQLSTATES];
static int	nsqlstates;
static long unexpected_errors;

static Event *events;
static long nevents;
static long maxevents;

/* lock-wait sampling */
static PGconn *mon;
static bool mon_busy;
static double mon_next;
static long mon_samples;
static long mon_waiting_samples;
static long mon_waiters_sum;
static long mon_waiters_max;

/* violations, by kind */
typedef enum Violation
{
	V_DOUBLE,					/* a resource booked twice */
	V_MISSING,					/* a committed booking not in the table */
	V_PHANTOM,					/* a row no committed call explains */
	V_OVERLAP,					/* --attached: a booking made while another was active */
	V_HISTORY,					/* --attached: history and outcomes disagree */
	V_OTHER,
	NV
} Violation;

static const char *const v_names[NV] = {
	"double bookings", "missing bookings", "unexplained rows",
	"overlapping bookings", "history", "other"
};
static long nviolations;
static long violations[NV];
static long baseline_rows;

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static double
rnd01(uint64_t *s)
{
	return (splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void *
xmalloc(size_t n)
{
	void	   *p = calloc(1, n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "stress: out of memory\n");
		exit(2);
	}
	return p;
}

static void
violation(Violation kind, const char *fmt,...)
{
	va_list		ap;

	nviolations++;
	violations[kind]++;
	if (nviolations > MAX_VIOLATIONS)
		return;
	printf("VIOLATION: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
handle_signal(int sig)
{
	got_signal = 1;
	signal(sig, SIG_DFL);		/* a second one ends us */
}

/* Warnings such as "terminating connection due to ..." would flood stderr. */
static void
quiet_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

static PGconn *
connect_one(bool quiet)
{
	const char *keys[] = {"dbname", "fallback_application_name", "connect_timeout", NULL};
	const char *vals[] = {conninfo, APPNAME, "5", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		if (!quiet)
			fprintf(stderr, "stress: could not connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	return conn;
}

/* Run a query that must succeed on a blocking connection. */
static PGresult *
must_exec(PGconn *conn, const char *sql, ExecStatusType expected)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != expected)
	{
		fprintf(stderr, "stress: query failed: %s\n%s", sql, PQerrorMessage(conn));
		exit(2);
	}
	return res;
}

static void
count_sqlstate(const char *code, const char *msg)
{
	int			i;

	for (i = 0; i < nsqlstates; i++)
		if (strcmp(sqlstates[i].code, code) == 0)
			break;
	if (i == nsqlstates)
	{
		if (nsqlstates == MAX_SQLSTATES)
			i = MAX_SQLSTATES - 1;	/* lump the rest into the last slot */
		else
		{
			nsqlstates++;
			snprintf(sqlstates[i].code, sizeof(sqlstates[i].code), "%s", code);
			snprintf(sqlstates[i].example, sizeof(sqlstates[i].example), "%s", msg);
		}
	}
	sqlstates[i].n++;
}

/*
 * Errors a run may see without anything being wrong: serialization failures
 * under SERIALIZABLE, and, when we were told to ride out server restarts,
 * the ways a connection dies with its server.
 */
static bool
error_expected(const char *code)
{
	if (strcmp(code, "40001") == 0 && strcmp(isolation, "serializable") == 0)
		return true;
	if (reconnect_secs > 0 &&
		(strncmp(code, "08", 2) == 0 || strncmp(code, "57P", 3) == 0))
		return true;
	return false;
}

static int64_t
pick_resource(uint64_t *rng)
{
	if (dist_hot && rnd01(rng) < hot_share)
		return 1 + (int64_t) (splitmix64(rng) % (uint64_t) nhot);
	return 1 + (int64_t) (splitmix64(rng) % (uint64_t) nresources);
}

/*
 * Choose attempt number seq.  Its random choices come from (seed, seq)
 * alone; only the user of a release also depends on what has committed so
 * far (we mostly ask the believed holder to release, so releases succeed).
 */
static void
make_attempt(Attempt *a, long seq)
{
	uint64_t	rng = seed ^ ((uint64_t) seq * UINT64_C(0xD1B54A32D192ED03));
	int			total = 0;
	int			pick;
	int			f;

	splitmix64(&rng);
	memset(a, 0, sizeof(*a));
	for (f = 0; f < NFN; f++)
		total += weights[f];
	pick = (int) (splitmix64(&rng) % (uint64_t) total);
	for (f = 0; f < NFN - 1; f++)
	{
		if (pick < weights[f])
			break;
		pick -= weights[f];
	}
	a->fn = (Fn) f;
	a->user = 1 + (int64_t) (splitmix64(&rng) % (uint64_t) nusers);
	a->rollback = rnd01(&rng) < rollback_rate;

	if (a->fn == FN_MULTI)
	{
		int			want = 2 + (int) (splitmix64(&rng) % (uint64_t) (multi_max - 1));

		/* distinct ids; the server dedupes too, but our events must not */
		while (a->nres < want)
		{
			int64_t		r = pick_resource(&rng);
			bool		dup = false;

			for (int i = 0; i < a->nres; i++)
				dup |= (a->res[i] == r);
			if (!dup)
				a->res[a->nres++] = r;
			else if (dist_hot && a->nres >= nhot)
				break;
			else if (a->nres >= nresources)
				break;
		}
	}
	else
	{
		a->nres = 1;
		a->res[0] = pick_resource(&rng);
	}

	if (a->fn == FN_RELEASE && believed[a->res[0]] != 0 &&
		rnd01(&rng) >= wrong_user_rate)
		a->user = believed[a->res[0]];
}

static void
build_call(char *buf, size_t len, const Attempt *a)
{
	char		begin[64];
	char		ids[MAX_MULTI * 24];
	size_t		off = 0;

	snprintf(begin, sizeof(begin), "BEGIN ISOLATION LEVEL %s", isolation);

	if (unsafe_sql && (a->fn == FN_BOOK || a->fn == FN_TRY) && target_ident)
	{
		/* the same broken protocol on the attached table, its rows the active ones */
		snprintf(buf, len,
				 "%s; INSERT INTO %s (resource_id, user_id) "
				 "SELECT %" PRId64 ", %" PRId64 " WHERE NOT EXISTS "
				 "(SELECT 1 FROM %s WHERE resource_id = %" PRId64 " AND %s) "
				 "RETURNING true",
				 begin, target_ident, a->res[0], a->user, target_ident, a->res[0],
				 active_when);
		return;
	}
	if (unsafe_sql && (a->fn == FN_BOOK || a->fn == FN_TRY))
	{
		/*
		 * The broken protocol the extension exists to replace: check, then
		 * insert, with no lock.  Needs the right to write the table directly
		 * (a superuser).
		 */
		snprintf(buf, len,
				 "%s; INSERT INTO %s.bookings (resource_id, user_id) "
				 "SELECT %" PRId64 ", %" PRId64 " WHERE NOT EXISTS "
				 "(SELECT 1 FROM %s.bookings WHERE resource_id = %" PRId64 ") "
				 "RETURNING true",
				 begin, schema, a->res[0], a->user, schema, a->res[0]);
		return;
	}

	switch (a->fn)
	{
		case FN_BOOK:
		case FN_TRY:
		case FN_RELEASE:
			snprintf(buf, len, "%s; SELECT %s.%s(%s%s%" PRId64 ", %" PRId64 ")",
					 begin, schema, fn_names[a->fn],
					 target_lit ? target_lit : "", target_lit ? ", " : "",
					 a->res[0], a->user);
			break;
		case FN_MULTI:
			for (int i = 0; i < a->nres; i++)
				off += snprintf(ids + off, sizeof(ids) - off, "%s%" PRId64,
								i ? "," : "", a->res[i]);
			snprintf(buf, len, "%s; SELECT %s.book_resources(%s%s'{%s}', %" PRId64 ")",
					 begin, schema,
					 target_lit ? target_lit : "", target_lit ? ", " : "",
					 ids, a->user);
			break;
		default:
			break;
	}
}

static void
add_latency(uint32_t **arr, long *n, long *max, double secs)
{
	if (*n == *max)
	{
		*max = *max ? *max * 2 : 65536;
		*arr = realloc(*arr, *max * sizeof(uint32_t));
		if (*arr == NULL)
		{
			fprintf(stderr, "stress: out of memory\n");
			exit(2);
		}
	}
	(*arr)[(*n)++] = (uint32_t) fmin(secs * 1e6, 4e9);
}

static void
add_event(int64_t res, int64_t user, bool release, bool certain)
{
	if (nevents == maxevents)
	{
		maxevents = maxevents ? maxevents * 2 : 65536;
		events = realloc(events, maxevents * sizeof(Event));
		if (events == NULL)
		{
			fprintf(stderr, "stress: out of memory\n");
			exit(2);
		}
	}
	events[nevents].res = res;
	events[nevents].user = user;
	events[nevents].release = release;
	events[nevents].certain = certain;
	nevents++;
}

static void
send_query(Client *c, const char *sql)
{
	int			rc;

	if (!PQsendQuery(c->conn, sql))
	{
		c->flushing = false;
		return;					/* the caller sees the dead connection */
	}
	rc = PQflush(c->conn);
	c->flushing = (rc == 1);
}

static void lose_connection(Client *c, double now);

static void
start_attempt(Client *c, long seq, double now)
{
	char		sql[MAX_MULTI * 24 + 2048];

	make_attempt(&c->a, seq);
	build_call(sql, sizeof(sql), &c->a);
	c->a.t_start = now;
	c->state = CS_CALL;
	send_query(c, sql);
	if (PQstatus(c->conn) == CONNECTION_BAD)
		lose_connection(c, now);
}

/* Everything about an attempt is known: count it and remember its writes. */
static void
finish_attempt(Client *c, TxOutcome outcome, double now)
{
	Attempt    *a = &c->a;
	bool		wrote = a->answered && a->outcome == OUT_TRUE;

	calls[a->fn][a->outcome]++;
	tx[outcome]++;
	finished++;

	if (outcome == TX_COMMITTED || outcome == TX_IN_DOUBT)
	{
		bool		certain = (outcome == TX_COMMITTED);

		if (certain)
		{
			add_latency(&lat_tx, &nlat_tx, &maxlat_tx, now - a->t_start);
			if (t_last_reconnect >= 0 && a->t_start >= t_last_reconnect)
				commits_after_reconnect++;
		}
		if (wrote)
		{
			if (certain)
				committed_true[a->fn]++;
			for (int i = 0; i < a->nres; i++)
			{
				add_event(a->res[i], a->user, a->fn == FN_RELEASE, certain);
				if (!certain)
					believed[a->res[i]] = 0;
				else
					believed[a->res[i]] = (a->fn == FN_RELEASE) ? 0 : a->user;
			}
		}
	}
}

static void
record_error(Client *c, const PGresult *res)
{
	Attempt    *a = &c->a;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (a->answered && a->outcome == OUT_ERROR)
		return;					/* keep the first error */
	if (code == NULL)
		code = "08006";			/* libpq's own: the connection failed */
	if (msg == NULL)
		msg = PQerrorMessage(c->conn);
	a->answered = true;
	a->outcome = OUT_ERROR;
	snprintf(a->sqlstate, sizeof(a->sqlstate), "%s", code);
	snprintf(a->errmsg, sizeof(a->errmsg), "%s", msg);
	a->errmsg[strcspn(a->errmsg, "\n")] = '\0';
	count_sqlstate(a->sqlstate, a->errmsg);
	if (!error_expected(a->sqlstate))
		unexpected_errors++;
}

/*
 * The connection died.  An attempt in flight did not commit, unless COMMIT
 * was already sent: then nobody can know until we look at the table.
 */
static void
lose_connection(Client *c, double now)
{
	if (c->state == CS_CALL)
	{
		if (!c->a.answered || c->a.outcome != OUT_ERROR)
		{
			c->a.answered = false;
			record_error(c, NULL);
		}
		finish_attempt(c, TX_LOST, now);
	}
	else if (c->state == CS_END)
	{
		if (c->sent_commit && !c->commit_answered)
			finish_attempt(c, TX_IN_DOUBT, now);
		else if (c->sent_commit)
			finish_attempt(c, c->commit_ok ? TX_COMMITTED : TX_IN_DOUBT, now);
		else
			finish_attempt(c, c->a.outcome == OUT_ERROR ? TX_ROLLBACK_ERROR
						   : TX_ROLLBACK_CHOSEN, now);
	}
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	c->state = CS_DOWN;
	c->flushing = false;
	c->down_since = now;
	c->next_retry = now + 0.2;
	conn_lost++;
	if (reconnect_secs <= 0)
	{
		/* nobody asked us to survive this */
		if (!stopping)
			stop_reason = "because a connection was lost";
		stopping = true;
	}
}

static void
handle_result(Client *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (c->state == CS_CALL)
	{
		if (st == PGRES_TUPLES_OK)
		{
			Attempt    *a = &c->a;

			a->answered = true;
			a->t_call = now_sec();
			add_latency(&lat_call, &nlat_call, &maxlat_call, a->t_call - a->t_start);
			if (unsafe_sql && (a->fn == FN_BOOK || a->fn == FN_TRY))
				a->outcome = PQntuples(res) == 1 ? OUT_TRUE : OUT_FALSE;
			else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
					 strcmp(PQgetvalue(res, 0, 0), "t") == 0)
				a->outcome = OUT_TRUE;
			else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
					 strcmp(PQgetvalue(res, 0, 0), "f") == 0)
				a->outcome = OUT_FALSE;
			else
			{
				a->outcome = OUT_ERROR;
				snprintf(a->sqlstate, sizeof(a->sqlstate), "XXRES");
				count_sqlstate("XXRES", "function returned neither true nor false");
				unexpected_errors++;
			}
		}
		else if (st != PGRES_COMMAND_OK)
			record_error(c, res);
	}
	else if (c->state == CS_END)
	{
		if (st == PGRES_COMMAND_OK)
		{
			c->commit_answered = true;
			c->commit_ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
		}
		else
		{
			const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/*
			 * An error from COMMIT itself means it failed, unless the
			 * server is going away: a shutdown can interrupt us after the
			 * commit record is written, so that one stays in doubt.
			 */
			if (c->sent_commit && code != NULL &&
				strncmp(code, "08", 2) != 0 && strncmp(code, "57P", 3) != 0)
			{
				c->commit_answered = true;
				c->commit_ok = false;
			}
			{
				const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
				char		buf[160];

				if (msg == NULL)
				{
					snprintf(buf, sizeof(buf), "%s", PQerrorMessage(c->conn));
					buf[strcspn(buf, "\n")] = '\0';
					msg = buf;
				}
				count_sqlstate(code ? code : "08006", msg);
			}
			if (!error_expected(code ? code : "08006"))
				unexpected_errors++;
		}
	}
}

/* The current query has returned all its results. */
static void
query_done(Client *c, double now)
{
	if (PQstatus(c->conn) == CONNECTION_BAD)
	{
		lose_connection(c, now);
		return;
	}
	if (c->state == CS_CALL)
	{
		bool		commit;

		if (!c->a.answered)
		{
			/* no error and no row: cannot happen, but never count it true */
			c->a.answered = true;
			c->a.outcome = OUT_ERROR;
			count_sqlstate("XXRES", "call returned no result");
			unexpected_errors++;
		}
		commit = c->a.outcome != OUT_ERROR && !c->a.rollback;
		c->state = CS_END;
		c->sent_commit = commit;
		c->commit_answered = false;
		c->commit_ok = false;
		send_query(c, commit ? "COMMIT" : "ROLLBACK");
		if (PQstatus(c->conn) == CONNECTION_BAD)
			lose_connection(c, now);
	}
	else if (c->state == CS_END)
	{
		TxOutcome	outcome;

		if (!c->sent_commit)
			outcome = c->a.outcome == OUT_ERROR ? TX_ROLLBACK_ERROR : TX_ROLLBACK_CHOSEN;
		else if (!c->commit_answered)
			outcome = TX_IN_DOUBT;
		else
			outcome = c->commit_ok ? TX_COMMITTED : TX_COMMIT_FAILED;
		finish_attempt(c, outcome, now);
		c->state = CS_IDLE;
	}
}

static void
service(Client *c, short revents, double now)
{
	if (c->flushing && (revents & (POLLOUT | POLLERR | POLLHUP)))
	{
		int			rc = PQflush(c->conn);

		if (rc < 0)
		{
			lose_connection(c, now);
			return;
		}
		c->flushing = (rc == 1);
	}
	if (revents & (POLLIN | POLLERR | POLLHUP))
	{
		if (!PQconsumeInput(c->conn) && PQisBusy(c->conn))
		{
			lose_connection(c, now);
			return;
		}
		while (c->conn && !PQisBusy(c->conn))
		{
			PGresult   *res = PQgetResult(c->conn);

			if (res == NULL)
			{
				query_done(c, now);
				break;
			}
			handle_result(c, res);
			PQclear(res);
		}
	}
}

static void
try_reconnect(Client *c, double now)
{
	if (now - c->down_since > reconnect_secs)
	{
		if (!gave_up)
			fprintf(stderr, "stress: server did not come back within %.0f s\n",
					reconnect_secs);
		gave_up = true;
		if (!stopping)
			stop_reason = "because the server did not come back";
		stopping = true;
		return;
	}
	c->conn = connect_one(true);
	if (c->conn == NULL)
	{
		c->next_retry = now + 0.2;
		return;
	}
	if (PQsetnonblocking(c->conn, 1) != 0)
	{
		fprintf(stderr, "stress: cannot make connection non-blocking\n");
		exit(2);
	}
	c->state = CS_IDLE;
	reconnects++;
	t_last_reconnect = now;
	commits_after_reconnect = 0;
}

/* Sample how many sessions wait for a resource lock right now. */
static void
monitor_tick(double now)
{
	if (!monitor_on || mon_busy || now < mon_next)
		return;
	mon_next = now + 0.1;
	if (mon == NULL)
	{
		mon = connect_one(true);
		if (mon == NULL)
			return;
		PQsetnonblocking(mon, 1);
	}
	if (!PQsendQuery(mon,
					 "SELECT count(*) FROM pg_catalog.pg_locks "
					 "WHERE locktype = 'advisory' AND NOT granted "
					 "AND database = (SELECT oid FROM pg_catalog.pg_database "
					 "WHERE datname = current_database())"))
	{
		PQfinish(mon);
		mon = NULL;
		return;
	}
	PQflush(mon);
	mon_busy = true;
}

static void
monitor_service(void)
{
	if (!PQconsumeInput(mon) && PQisBusy(mon))
		goto dead;
	while (!PQisBusy(mon))
	{
		PGresult   *res = PQgetResult(mon);

		if (res == NULL)
		{
			mon_busy = false;
			if (PQstatus(mon) == CONNECTION_BAD)
				goto dead;
			return;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		{
			long		n = atol(PQgetvalue(res, 0, 0));

			mon_samples++;
			mon_waiters_sum += n;
			if (n > 0)
				mon_waiting_samples++;
			if (n > mon_waiters_max)
				mon_waiters_max = n;
		}
		PQclear(res);
	}
	return;

dead:
	PQfinish(mon);
	mon = NULL;
	mon_busy = false;
}

static void
progress(double now)
{
	int			down = 0;
	char		total[32] = "";

	for (int i = 0; i < nclients; i++)
		down += (clients[i].state == CS_DOWN);
	if (nattempts > 0)
		snprintf(total, sizeof(total), " of %ld", nattempts);
	fprintf(stderr,
			"progress: %5.0f s  %ld attempts%s  %.0f/s  commits %ld  errors %ld  in doubt %ld  down %d/%d\n",
			now - t_begin, finished, total,
			finished / fmax(now - t_begin, 1e-9), tx[TX_COMMITTED],
			calls[FN_BOOK][OUT_ERROR] + calls[FN_TRY][OUT_ERROR] +
			calls[FN_MULTI][OUT_ERROR] + calls[FN_RELEASE][OUT_ERROR],
			tx[TX_IN_DOUBT], down, nclients);
}

static bool
more_to_issue(void)
{
	return nattempts == 0 || issued < nattempts;
}

static void
run(void)
{
	struct pollfd *pfds = xmalloc(sizeof(struct pollfd) * (nclients + 1));
	int		   *who = xmalloc(sizeof(int) * (nclients + 1));
	double		next_progress = t_begin + progress_secs;

	for (;;)
	{
		double		now = now_sec();
		int			busy = 0;
		int			n = 0;
		int			rc;

		if (!stopping &&
			(got_signal || (duration_secs > 0 && now - t_begin >= duration_secs)))
		{
			stopping = true;
			stop_asked = true;
			stop_reason = got_signal ? "on a signal" : "at the end of --duration";
		}

		for (int i = 0; i < nclients; i++)
		{
			Client	   *c = &clients[i];

			if (c->state == CS_DOWN && !stopping && more_to_issue() &&
				reconnect_secs > 0 && now >= c->next_retry)
				try_reconnect(c, now);
			if (c->state == CS_IDLE && !stopping && more_to_issue())
				start_attempt(c, issued++, now);
			if (c->state == CS_CALL || c->state == CS_END)
			{
				busy++;
				pfds[n].fd = PQsocket(c->conn);
				pfds[n].events = POLLIN | (c->flushing ? POLLOUT : 0);
				pfds[n].revents = 0;
				who[n++] = i;
			}
		}
		if (busy == 0 && (stopping || !more_to_issue()))
			break;

		monitor_tick(now);
		if (mon && mon_busy)
		{
			pfds[n].fd = PQsocket(mon);
			pfds[n].events = POLLIN;
			pfds[n].revents = 0;
			who[n++] = -1;
		}

		rc = poll(pfds, n, 100);
		if (rc < 0 && errno != EINTR)
		{
			perror("stress: poll");
			exit(2);
		}
		now = now_sec();
		for (int k = 0; rc > 0 && k < n; k++)
		{
			if (pfds[k].revents == 0)
				continue;
			if (who[k] < 0)
				monitor_service();
			else if (clients[who[k]].state == CS_CALL || clients[who[k]].state == CS_END)
				service(&clients[who[k]], pfds[k].revents, now);
		}

		if (progress_secs > 0 && now >= next_progress)
		{
			progress(now);
			next_progress = now + progress_secs;
		}
	}
	free(pfds);
	free(who);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;

	return (x > y) - (x < y);
}

static int
cmp_event(const void *a, const void *b)
{
	const Event *x = a;
	const Event *y = b;

	if (x->res != y->res)
		return (x->res > y->res) - (x->res < y->res);
	return (x->user > y->user) - (x->user < y->user);
}

static int
cmp_row(const void *a, const void *b)
{
	const Row  *x = a;
	const Row  *y = b;

	if (x->res != y->res)
		return (x->res > y->res) - (x->res < y->res);
	return (x->user > y->user) - (x->user < y->user);
}

static int
cmp_hist_user(const void *a, const void *b)
{
	const HistRow *x = a;
	const HistRow *y = b;

	if (x->res != y->res)
		return (x->res > y->res) - (x->res < y->res);
	if (x->user != y->user)
		return (x->user > y->user) - (x->user < y->user);
	return (x->id > y->id) - (x->id < y->id);
}

static int
cmp_hist_time(const void *a, const void *b)
{
	const HistRow *x = a;
	const HistRow *y = b;

	if (x->booked_us != y->booked_us)
		return (x->booked_us > y->booked_us) - (x->booked_us < y->booked_us);
	return (x->id > y->id) - (x->id < y->id);
}

static double
pct(uint32_t *v, long n, double p)
{
	long		i;

	if (n == 0)
		return 0;
	i = (long) ceil(p * n) - 1;
	if (i < 0)
		i = 0;
	return v[i] / 1000.0;
}

/*
 * Why the check below is sound.
 *
 * Only two things change the table: a booking call that returned true and
 * committed (one row per resource it booked), and a release_resource that
 * returned true and committed (it deleted the holder's row).  Each of them
 * held the resource's lock from before its look-up until its commit, so the
 * committed writes on one resource happen one after the other, each seeing
 * the one before.  A booking returns true only if no row exists and a
 * release only if the releasing user holds the row; so per resource the
 * committed writes form a chain  book(u1) release(u1) book(u2) release(u2)
 * ... that may end with a booking, whose user then holds the one row.
 *
 * We cannot observe the order of that chain reliably (answers from
 * different connections may arrive out of order), but we do not need to:
 * in such a chain, for every user u, books(u) - releases(u) is 0 or 1, it
 * is 1 for at most one user, and that user is the holder.  So per resource
 * and user we compare that difference with the table:
 *
 *	- certain events (COMMIT answered) must be matched exactly;
 *	- an in-doubt event (COMMIT sent, connection died) may or may not have
 *	  happened: with kb/kl certain books/releases and ub/ul in-doubt ones,
 *	  the rows held by u must lie in [kb - kl - ul, kb - kl + ub];
 *	- no resource may have two rows, and at most one user may have more
 *	  certain books than releases (+ in-doubt releases) on a resource;
 *	- a row whose (resource, user) no committed true explains is a phantom.
 *
 * Without in-doubt events this is exactly "the final table is what the
 * reported commits say", and it catches every double booking still visible
 * at the end: two rows, or two users each with an unreleased committed
 * booking.  (A double booking later undone by a release may leave no
 * trace; nothing that reads only outcomes and the final table could see
 * it.)  The totals then follow: rows = committed books - committed releases.
 */
static void
check_resource(int64_t res, Event *ev, long nev, Row *rows, long nrows)
{
	long		i = 0;
	long		j = 0;
	long		holders_for_sure = 0;

	if (nrows > 1)
	{
		char		users[128] = "";
		size_t		off = 0;

		for (long k = 0; k < nrows && k < 4 && off < sizeof(users); k++)
			off += snprintf(users + off, sizeof(users) - off, "%s%" PRId64,
							k ? ", " : "", rows[k].user);
		violation(V_DOUBLE, "resource %" PRId64 " has %ld bookings, users %s%s (double booking)",
				  res, nrows, users, nrows > 4 ? ", ..." : "");
	}

	while (i < nev || j < nrows)
	{
		int64_t		user;
		long		kb = 0,
					kl = 0,
					ub = 0,
					ul = 0,
					held = 0,
					lo,
					hi;

		if (j >= nrows || (i < nev && ev[i].user <= rows[j].user))
			user = ev[i].user;
		else
			user = rows[j].user;
		for (; i < nev && ev[i].user == user; i++)
		{
			if (ev[i].release && ev[i].certain)
				kl++;
			else if (ev[i].release)
				ul++;
			else if (ev[i].certain)
				kb++;
			else
				ub++;
		}
		for (; j < nrows && rows[j].user == user; j++)
			held++;

		lo = kb - kl - ul;
		hi = kb - kl + ub;
		if (lo > 0)
			holders_for_sure++;
		if (hi < 0)
			violation(V_PHANTOM, "resource %" PRId64 ": user %" PRId64 " released it %ld times but booked it %ld times",
					  res, user, kl, kb + ub);
		else if (held > hi)
		{
			if (kb + ub == 0)
				violation(V_PHANTOM, "resource %" PRId64 ": row for user %" PRId64 " that no committed call booked",
						  res, user);
			else
				violation(V_PHANTOM, "resource %" PRId64 ": user %" PRId64 " holds %ld rows, committed history allows at most %ld",
						  res, user, held, hi);
		}
		else if (held < lo)
		{
			if (lo >= 2)
				violation(V_DOUBLE, "resource %" PRId64 ": user %" PRId64 " booked it %ld times, released %ld (double booking)",
						  res, user, kb, kl);
			else
				violation(V_MISSING, "resource %" PRId64 ": committed booking by user %" PRId64 " is missing from the table",
						  res, user);
		}
	}
	if (holders_for_sure > 1 && nrows <= 1)
		violation(V_DOUBLE, "resource %" PRId64 ": %ld users hold committed, unreleased bookings (double booking)",
				  res, holders_for_sure);
}

/*
 * --attached: the whole history of one resource against its events.
 *
 * A table that keeps its history never loses a row: a committed booking is
 * a row for good, and a committed release turned the holder's row inactive
 * (release_sets).  So per resource and user, beyond what check_resource
 * asks of the active rows:
 *
 *	- all rows, active or not, lie in [kb, kb + ub]: every committed booking
 *	  left its row, and no row is left that no committed booking explains;
 *	- inactive rows lie in [kl, kl + ul]: every committed release cancelled
 *	  a row, and no row was cancelled by anything else;
 *	- an inactive row carries the clock of its release (the tool's trigger
 *	  sets it in the releasing UPDATE), an active one none.
 *
 * And across users, the bookings' lifetimes must not overlap.  Each row
 * holds clock_timestamp() of its INSERT and of its releasing UPDATE, both
 * taken under the resource's lock; a release's lock is given back only at
 * its commit, so the next booking's INSERT, made under the same lock, reads
 * a later clock.  A booking made while another was still active (one that
 * was later released included, which the final active rows alone cannot
 * show) starts before the earlier one's release.  This relies on the
 * server's clock not being stepped back during the run.
 */
static void
check_history(int64_t res, Event *ev, long nev, HistRow *h, long nh)
{
	long		i = 0;
	long		j = 0;
	int64_t		end_us = INT64_MIN;
	long		end_k = -1;

	while (i < nev || j < nh)
	{
		int64_t		user;
		long		kb = 0,
					kl = 0,
					ub = 0,
					ul = 0,
					all = 0,
					cancelled = 0;

		if (j >= nh || (i < nev && ev[i].user <= h[j].user))
			user = ev[i].user;
		else
			user = h[j].user;
		for (; i < nev && ev[i].user == user; i++)
		{
			if (ev[i].release && ev[i].certain)
				kl++;
			else if (ev[i].release)
				ul++;
			else if (ev[i].certain)
				kb++;
			else
				ub++;
		}
		for (; j < nh && h[j].user == user; j++)
		{
			all++;
			cancelled += !h[j].active;
			if (h[j].active == h[j].released)
				violation(V_HISTORY, "resource %" PRId64 ": row id %" PRId64 " of user %" PRId64 " is %s but has %s release clock (not released by release_resource)",
						  res, h[j].id, user, h[j].active ? "active" : "inactive",
						  h[j].released ? "a" : "no");
		}
		if (all < kb)
			violation(V_MISSING, "resource %" PRId64 ": user %" PRId64 " has %ld rows, active or not, but %ld committed bookings",
					  res, user, all, kb);
		else if (all > kb + ub)
			violation(V_PHANTOM, "resource %" PRId64 ": user %" PRId64 " has %ld rows, active or not, committed bookings explain %ld",
					  res, user, all, kb + ub);
		if (cancelled < kl)
			violation(V_HISTORY, "resource %" PRId64 ": user %" PRId64 " has %ld cancelled rows but %ld committed releases",
					  res, user, cancelled, kl);
		else if (cancelled > kl + ul)
			violation(V_HISTORY, "resource %" PRId64 ": user %" PRId64 " has %ld cancelled rows, committed releases explain %ld",
					  res, user, cancelled, kl + ul);
	}

	qsort(h, nh, sizeof(HistRow), cmp_hist_time);
	for (long k = 0; k < nh; k++)
	{
		if (end_k >= 0 && h[k].booked_us < end_us)
		{
			if (h[end_k].active)
				violation(V_OVERLAP, "resource %" PRId64 ": row id %" PRId64 " (user %" PRId64 ") was booked while row id %" PRId64 " (user %" PRId64 ") was active, and it still is (double booking)",
						  res, h[k].id, h[k].user, h[end_k].id, h[end_k].user);
			else
				violation(V_OVERLAP, "resource %" PRId64 ": row id %" PRId64 " (user %" PRId64 ") was booked %.3f ms before row id %" PRId64 " (user %" PRId64 ") was released (double booking)",
						  res, h[k].id, h[k].user, (end_us - h[k].booked_us) / 1000.0,
						  h[end_k].id, h[end_k].user);
		}
		if (h[k].active || h[k].released_us > end_us)
		{
			end_us = h[k].active ? INT64_MAX : h[k].released_us;
			end_k = k;
		}
	}
}

/*
 * Read the table and hold it against the recorded events.  Returns false if
 * the server could not be reached.
 */
static bool
verify(void)
{
	PGconn	   *conn = NULL;
	PGresult   *res;
	Row		   *rows;
	long		nrows;
	long		i,
				j;
	long		kb = 0,
				kl = 0,
				ub = 0,
				ul = 0;
	long		leftover;
	HistRow    *hist = NULL;
	long		nhist = 0;
	char		sql[4096];
	double		deadline = now_sec() + fmax(reconnect_secs, 0);

	for (;;)
	{
		struct timespec ts = {0, 200000000};

		conn = connect_one(now_sec() < deadline);
		if (conn || now_sec() >= deadline)
			break;
		nanosleep(&ts, NULL);
	}
	if (conn == NULL)
		return false;

	if (target_ident)
	{
		/* every row, active or not; the active ones are the bookings */
		snprintf(sql, sizeof(sql),
				 "SELECT resource_id, user_id, id, (%s) IS TRUE, released_clock IS NOT NULL, "
				 "(extract(epoch FROM booked_clock) * 1000000)::int8, "
				 "coalesce((extract(epoch FROM released_clock) * 1000000)::int8, 0) "
				 "FROM %s", active_when, target_ident);
		res = must_exec(conn, sql, PGRES_TUPLES_OK);
		nhist = PQntuples(res);
		hist = xmalloc(sizeof(HistRow) * nhist);
		rows = xmalloc(sizeof(Row) * nhist);
		nrows = 0;
		for (i = 0; i < nhist; i++)
		{
			hist[i].res = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			hist[i].user = strtoll(PQgetvalue(res, i, 1), NULL, 10);
			hist[i].id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
			hist[i].active = strcmp(PQgetvalue(res, i, 3), "t") == 0;
			hist[i].released = strcmp(PQgetvalue(res, i, 4), "t") == 0;
			hist[i].booked_us = strtoll(PQgetvalue(res, i, 5), NULL, 10);
			hist[i].released_us = strtoll(PQgetvalue(res, i, 6), NULL, 10);
			if (hist[i].active)
			{
				rows[nrows].res = hist[i].res;
				rows[nrows].user = hist[i].user;
				nrows++;
			}
		}
		PQclear(res);
	}
	else
	{
		snprintf(sql, sizeof(sql),
				 "SELECT resource_id, user_id FROM %s.bookings ORDER BY 1, 2", schema);
		res = must_exec(conn, sql, PGRES_TUPLES_OK);
		nrows = PQntuples(res);
		rows = xmalloc(sizeof(Row) * nrows);
		for (i = 0; i < nrows; i++)
		{
			rows[i].res = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			rows[i].user = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		}
		PQclear(res);
	}

	/* every transaction of ours has ended, so none may still hold a lock */
	res = must_exec(conn,
					"SELECT count(*) FROM pg_catalog.pg_locks l "
					"JOIN pg_catalog.pg_stat_activity a USING (pid) "
					"WHERE l.locktype = 'advisory' AND a.application_name = '" APPNAME "'",
					PGRES_TUPLES_OK);
	leftover = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);

	qsort(events, nevents, sizeof(Event), cmp_event);
	qsort(rows, nrows, sizeof(Row), cmp_row);

	printf("check:\n");
	if (leftover > 0)
		violation(V_OTHER, "%ld advisory locks still held by this tool's sessions after all transactions ended",
				  leftover);

	i = 0;
	j = 0;
	while (i < nevents || j < nrows)
	{
		int64_t		r;
		long		ei = i,
					rj = j;

		if (j >= nrows || (i < nevents && events[i].res <= rows[j].res))
			r = events[i].res;
		else
			r = rows[j].res;
		while (i < nevents && events[i].res == r)
			i++;
		while (j < nrows && rows[j].res == r)
			j++;
		check_resource(r, events + ei, i - ei, rows + rj, j - rj);
	}

	if (target_ident)
	{
		long		hk = 0;

		qsort(hist, nhist, sizeof(HistRow), cmp_hist_user);
		i = 0;
		while (i < nevents || hk < nhist)
		{
			int64_t		r;
			long		ei = i,
						hj = hk;

			if (hk >= nhist || (i < nevents && events[i].res <= hist[hk].res))
				r = events[i].res;
			else
				r = hist[hk].res;
			while (i < nevents && events[i].res == r)
				i++;
			while (hk < nhist && hist[hk].res == r)
				hk++;
			check_history(r, events + ei, i - ei, hist + hj, hk - hj);
		}
	}

	for (i = 0; i < nevents; i++)
	{
		if (events[i].release && events[i].certain)
			kl++;
		else if (events[i].release)
			ul++;
		else if (events[i].certain)
			kb++;
		else
			ub++;
	}
	if (nrows < kb - kl - ul || nrows > kb - kl + ub)
		violation(V_OTHER, "table has %ld rows, committed books %ld - releases %ld (in doubt: +%ld books, -%ld releases) do not allow that",
				  nrows, kb, kl, ub, ul);
	if (ub + ul == 0)
		printf("  rows %ld = committed books %ld (incl. %ld there before) - committed releases %ld\n",
			   nrows, kb, baseline_rows, kl);
	else
		printf("  rows %ld within committed books %ld (incl. %ld there before) - releases %ld, allowing for in-doubt +%ld books / -%ld releases\n",
			   nrows, kb, baseline_rows, kl, ub, ul);
	if (target_ident)
		printf("  history: %ld rows in all, %ld of them active (committed books %ld, releases %ld; in doubt +%ld books / +%ld releases)\n",
			   nhist, nrows, kb, kl, ub, ul);
	if (nviolations > MAX_VIOLATIONS)
		printf("  ... %ld more violations not shown\n", nviolations - MAX_VIOLATIONS);
	free(rows);
	free(hist);
	return true;
}

/*
 * --attached NAME: create the table if it does not exist, as an application
 * that keeps its history would (a row per booking, cancelled_at set on
 * release), plus the two clocks check_history reads, and attach it; then
 * learn how to name it and which rows are active from the registry.
 */
static void
setup_attached(PGconn *conn)
{
	PGresult   *res;
	char	   *lit = PQescapeLiteral(conn, attached, strlen(attached));
	char		sql[4096];

	snprintf(sql, sizeof(sql), "SELECT pg_catalog.to_regclass(%s) IS NULL", lit);
	res = must_exec(conn, sql, PGRES_TUPLES_OK);
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
	{
		PQclear(res);
		snprintf(sql, sizeof(sql),
				 "BEGIN;"
				 "CREATE TABLE %s ("
				 " id bigserial PRIMARY KEY,"
				 " resource_id int,"
				 " user_id int,"
				 " cancelled_at timestamptz,"
				 " booked_clock timestamptz NOT NULL DEFAULT clock_timestamp(),"
				 " released_clock timestamptz);"
				 "CREATE INDEX ON %s (resource_id);"
				 "CREATE OR REPLACE FUNCTION booking_stress_release_clock() RETURNS trigger"
				 " LANGUAGE plpgsql AS $f$ BEGIN"
				 " IF OLD.cancelled_at IS NULL AND NEW.cancelled_at IS NOT NULL THEN"
				 " NEW.released_clock := clock_timestamp(); END IF;"
				 " RETURN NEW; END $f$;"
				 "CREATE TRIGGER booking_stress_release_clock BEFORE UPDATE ON %s"
				 " FOR EACH ROW EXECUTE FUNCTION booking_stress_release_clock();"
				 "SELECT %s.booking_attach(%s, active_when => 'cancelled_at IS NULL',"
				 " release_sets => 'cancelled_at = now()');"
				 "COMMIT",
				 attached, attached, attached, schema, lit);
		PQclear(must_exec(conn, sql, PGRES_COMMAND_OK));
	}
	else
		PQclear(res);

	snprintf(sql, sizeof(sql),
			 "SELECT pg_catalog.quote_literal(pg_catalog.format('%%I.%%I', n.nspname, c.relname)),"
			 " pg_catalog.format('%%I.%%I', n.nspname, c.relname),"
			 " t.active_when, t.release_sets, t.resource_column, t.user_column"
			 " FROM %s.booking_tables t"
			 " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tbl"
			 " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
			 " WHERE t.tbl OPERATOR(pg_catalog.=) pg_catalog.to_regclass(%s)",
			 schema, lit);
	res = must_exec(conn, sql, PGRES_TUPLES_OK);
	if (PQntuples(res) != 1)
	{
		fprintf(stderr, "stress: table %s exists but is not attached to booking\n", attached);
		exit(2);
	}
	if (PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3) ||
		strcmp(PQgetvalue(res, 0, 4), "resource_id") != 0 ||
		strcmp(PQgetvalue(res, 0, 5), "user_id") != 0)
	{
		fprintf(stderr, "stress: table %s must be attached on resource_id and user_id, with active_when and release_sets\n",
				attached);
		exit(2);
	}
	target_lit = strdup(PQgetvalue(res, 0, 0));
	target_ident = strdup(PQgetvalue(res, 0, 1));
	active_when = strdup(PQgetvalue(res, 0, 2));
	release_sets = strdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	PQfreemem(lit);

	/* the columns check_history reads */
	snprintf(sql, sizeof(sql),
			 "SELECT id, resource_id, user_id, booked_clock, released_clock FROM %s LIMIT 0",
			 target_ident);
	PQclear(must_exec(conn, sql, PGRES_TUPLES_OK));
}

/*
 * Find the extension, note the server's settings, and take the rows already
 * in the table as committed bookings: the tool then also runs on a table
 * that is not empty (it must be the only writer while it runs).
 */
static void
setup(char *settings, size_t len)
{
	PGconn	   *conn = connect_one(false);
	PGresult   *res;
	char		sql[2048];

	if (conn == NULL)
		exit(2);
	res = must_exec(conn,
					"SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e "
					"JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
					"WHERE e.extname = 'booking'", PGRES_TUPLES_OK);
	if (PQntuples(res) != 1)
	{
		fprintf(stderr, "stress: extension \"booking\" is not installed in this database\n");
		exit(2);
	}
	schema = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);

	res = must_exec(conn,
					"SELECT pg_catalog.current_setting('server_version'), "
					"pg_catalog.current_setting('fsync'), "
					"pg_catalog.current_setting('synchronous_commit'), "
					"pg_catalog.current_setting('max_connections')", PGRES_TUPLES_OK);
	snprintf(settings, len, "PostgreSQL %s, fsync=%s, synchronous_commit=%s, max_connections=%s",
			 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
			 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	PQclear(res);

	if (attached)
		setup_attached(conn);

	if (clean_first)
	{
		if (target_ident)
			snprintf(sql, sizeof(sql), "TRUNCATE %s", target_ident);
		else
			snprintf(sql, sizeof(sql), "TRUNCATE %s.bookings", schema);
		PQclear(must_exec(conn, sql, PGRES_COMMAND_OK));
	}
	/*
	 * On an attached table every row is a committed booking, and an
	 * inactive one a committed release too.
	 */
	if (target_ident)
		snprintf(sql, sizeof(sql), "SELECT resource_id, user_id, (%s) IS TRUE FROM %s",
				 active_when, target_ident);
	else
		snprintf(sql, sizeof(sql), "SELECT resource_id, user_id, true FROM %s.bookings", schema);
	res = must_exec(conn, sql, PGRES_TUPLES_OK);
	baseline_rows = PQntuples(res);
	for (long i = 0; i < baseline_rows; i++)
	{
		int64_t		r = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		int64_t		u = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		bool		active = strcmp(PQgetvalue(res, i, 2), "t") == 0;

		add_event(r, u, false, true);
		if (!active)
			add_event(r, u, true, true);
		else if (r >= 1 && r <= nresources)
			believed[r] = u;
	}
	PQclear(res);
	PQfinish(conn);
}

static void
report(const char *settings, double elapsed)
{
	qsort(lat_call, nlat_call, sizeof(uint32_t), cmp_u32);
	qsort(lat_tx, nlat_tx, sizeof(uint32_t), cmp_u32);

	printf("booking stress%s%s: %d clients, %ld attempts over %ld resources (%s), %ld users, seed %" PRIu64 "\n",
		   target_ident ? " on an attached table" : "",
		   unsafe_sql ? " (UNSAFE plain-SQL booking, no lock)" : "",
		   nclients, finished, nresources,
		   dist_hot ? "hot-spot" : "uniform", nusers, seed);
	if (target_ident)
		printf("  table: %s, attached with active_when %s, release_sets %s\n",
			   target_ident, active_when, release_sets);
	if (dist_hot)
		printf("  hot-spot: %.0f%% of picks on resources 1..%ld\n", hot_share * 100, nhot);
	printf("  mix book=%d try=%d multi=%d (2..%d ids) release=%d, rollback %.0f%%, %s\n",
		   weights[FN_BOOK], weights[FN_TRY], weights[FN_MULTI], multi_max,
		   weights[FN_RELEASE], rollback_rate * 100, isolation);
	printf("  server: %s\n", settings);
	printf("elapsed %.1f s: %.0f attempts/s, %.0f commits/s\n",
		   elapsed, finished / fmax(elapsed, 1e-9), tx[TX_COMMITTED] / fmax(elapsed, 1e-9));
	printf("%-18s %10s %10s %10s %10s %14s\n", "function", "calls", "true", "false", "error", "committed true");
	for (int f = 0; f < NFN; f++)
		printf("%-18s %10ld %10ld %10ld %10ld %14ld\n", fn_names[f],
			   calls[f][OUT_TRUE] + calls[f][OUT_FALSE] + calls[f][OUT_ERROR],
			   calls[f][OUT_TRUE], calls[f][OUT_FALSE], calls[f][OUT_ERROR],
			   committed_true[f]);
	printf("transactions: %ld committed, %ld rolled back by choice, %ld after an error, %ld failed COMMIT, %ld lost before COMMIT, %ld in doubt\n",
		   tx[TX_COMMITTED], tx[TX_ROLLBACK_CHOSEN], tx[TX_ROLLBACK_ERROR],
		   tx[TX_COMMIT_FAILED], tx[TX_LOST], tx[TX_IN_DOUBT]);
	printf("errors by SQLSTATE:%s\n", nsqlstates ? "" : " none");
	for (int i = 0; i < nsqlstates; i++)
		printf("  %s x %ld  (%s)\n", sqlstates[i].code, sqlstates[i].n, sqlstates[i].example);
	printf("call latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f   (transaction p50 %.3f  p99 %.3f)\n",
		   pct(lat_call, nlat_call, 0.5), pct(lat_call, nlat_call, 0.9),
		   pct(lat_call, nlat_call, 0.99), pct(lat_call, nlat_call, 1.0),
		   pct(lat_tx, nlat_tx, 0.5), pct(lat_tx, nlat_tx, 0.99));
	{
		long		over1 = 0,
					over10 = 0,
					over100 = 0;

		for (long i = 0; i < nlat_call; i++)
		{
			over1 += lat_call[i] > 1000;
			over10 += lat_call[i] > 10000;
			over100 += lat_call[i] > 100000;
		}
		printf("waits: calls > 1 ms %ld (%.1f%%), > 10 ms %ld, > 100 ms %ld",
			   over1, 100.0 * over1 / fmax(nlat_call, 1), over10, over100);
	}
	if (mon_samples > 0)
		printf("; lock waiters per 100 ms sample: mean %.1f, max %ld, %.0f%% of %ld samples had one\n",
			   (double) mon_waiters_sum / mon_samples, mon_waiters_max,
			   100.0 * mon_waiting_samples / mon_samples, mon_samples);
	else
		printf("\n");
	if (conn_lost > 0 || reconnects > 0)
		printf("connections: %ld lost, %ld reconnected, %ld commits after the last reconnect\n",
			   conn_lost, reconnects, commits_after_reconnect);
	if (stop_reason)
		printf("stopped %s after %ld attempts\n", stop_reason, finished);
}

static void
usage(void)
{
	printf("Usage: stress [options]\n"
		   "Drive the booking extension's functions from many connections, then check\n"
		   "the bookings table against every outcome the server reported.\n\n"
		   "  -c, --clients N         connections (default 32)\n"
		   "  -n, --attempts N        transactions to run (default 20000; 0: until stopped)\n"
		   "  -r, --resources N       resource ids 1..N (default 1000)\n"
		   "  -u, --users N           user ids 1..N (default 1000)\n"
		   "      --dist uniform|hot  how resources are picked (default uniform)\n"
		   "      --hot N             hot-spot size: resources 1..N (default 10)\n"
		   "      --hot-share P       share of picks on the hot spot (default 0.9)\n"
		   "  -s, --seed N            random seed (default: from the clock, printed)\n"
		   "      --mix SPEC          weights, e.g. book=60,try=15,multi=10,release=15\n"
		   "      --multi-max K       book_resources takes 2..K ids (default 4, max %d)\n"
		   "      --rollback-rate P   share of successful calls rolled back (default 0.1)\n"
		   "      --wrong-user-rate P share of releases asked of a non-holder (default 0.2)\n"
		   "      --isolation L       read-committed|repeatable-read|serializable\n"
		   "  -d, --conninfo STR      libpq connection string (default: PG* environment)\n"
		   "      --unsafe-sql        book with check-then-insert plain SQL, no lock\n"
		   "                          (a broken protocol, to show the check catches it)\n"
		   "      --reconnect SECS    ride out server restarts: reconnect for up to SECS\n"
		   "      --duration SECS     stop starting attempts after SECS\n"
		   "      --progress SECS     progress line to stderr every SECS (0: none; default 5)\n"
		   "      --attached NAME     drive table NAME through the table-taking forms: a\n"
		   "                          table that keeps its history (created and attached\n"
		   "                          with active_when and release_sets if missing)\n"
		   "      --clean             TRUNCATE bookings (or the --attached table) first\n"
		   "      --no-monitor        do not sample pg_locks for lock waiters\n"
		   "SIGINT/SIGTERM: stop starting attempts, finish those in flight, check.\n"
		   "Exit status: 0 ok, 1 invariant violated, 2 unexpected errors or incomplete run.\n",
		   MAX_MULTI);
}

static void
parse_mix(const char *spec)
{
	char	   *copy = strdup(spec);
	char	   *save = NULL;

	memset(weights, 0, sizeof(weights));
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strchr(tok, '=');
		int			f;

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		for (f = 0; f < NFN; f++)
			if (strcmp(tok, fn_keys[f]) == 0)
				break;
		if (f == NFN || atoi(eq + 1) < 0)
			goto bad;
		weights[f] = atoi(eq + 1);
	}
	free(copy);
	if (weights[0] + weights[1] + weights[2] + weights[3] > 0)
		return;
bad:
	fprintf(stderr, "stress: bad --mix \"%s\" (want e.g. book=60,try=15,multi=10,release=15)\n", spec);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"clients", required_argument, NULL, 'c'},
		{"attempts", required_argument, NULL, 'n'},
		{"resources", required_argument, NULL, 'r'},
		{"users", required_argument, NULL, 'u'},
		{"dist", required_argument, NULL, 1},
		{"hot", required_argument, NULL, 2},
		{"hot-share", required_argument, NULL, 3},
		{"seed", required_argument, NULL, 's'},
		{"mix", required_argument, NULL, 4},
		{"multi-max", required_argument, NULL, 5},
		{"rollback-rate", required_argument, NULL, 6},
		{"wrong-user-rate", required_argument, NULL, 7},
		{"isolation", required_argument, NULL, 8},
		{"conninfo", required_argument, NULL, 'd'},
		{"unsafe-sql", no_argument, NULL, 9},
		{"reconnect", required_argument, NULL, 10},
		{"duration", required_argument, NULL, 11},
		{"progress", required_argument, NULL, 12},
		{"clean", no_argument, NULL, 13},
		{"no-monitor", no_argument, NULL, 14},
		{"attached", required_argument, NULL, 15},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	char		settings[256];
	double		t_end;
	int			opt;
	bool		ok;

	while ((opt = getopt_long(argc, argv, "c:n:r:u:s:d:h", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case 'c':
				nclients = atoi(optarg);
				break;
			case 'n':
				nattempts = atol(optarg);
				break;
			case 'r':
				nresources = atol(optarg);
				break;
			case 'u':
				nusers = atol(optarg);
				break;
			case 1:
				if (strcmp(optarg, "hot") == 0)
					dist_hot = true;
				else if (strcmp(optarg, "uniform") == 0)
					dist_hot = false;
				else
				{
					fprintf(stderr, "stress: --dist must be uniform or hot\n");
					exit(2);
				}
				break;
			case 2:
				nhot = atol(optarg);
				break;
			case 3:
				hot_share = atof(optarg);
				break;
			case 's':
				seed = strtoull(optarg, NULL, 10);
				seed_given = true;
				break;
			case 4:
				parse_mix(optarg);
				break;
			case 5:
				multi_max = atoi(optarg);
				break;
			case 6:
				rollback_rate = atof(optarg);
				break;
			case 7:
				wrong_user_rate = atof(optarg);
				break;
			case 8:
				if (strcmp(optarg, "read-committed") == 0)
					isolation = "read committed";
				else if (strcmp(optarg, "repeatable-read") == 0)
					isolation = "repeatable read";
				else if (strcmp(optarg, "serializable") == 0)
					isolation = "serializable";
				else
				{
					fprintf(stderr, "stress: bad --isolation \"%s\"\n", optarg);
					exit(2);
				}
				break;
			case 'd':
				conninfo = optarg;
				break;
			case 9:
				unsafe_sql = true;
				break;
			case 10:
				reconnect_secs = atof(optarg);
				break;
			case 11:
				duration_secs = atof(optarg);
				break;
			case 12:
				progress_secs = atof(optarg);
				break;
			case 13:
				clean_first = true;
				break;
			case 14:
				monitor_on = false;
				break;
			case 15:
				attached = optarg;
				break;
			case 'h':
				usage();
				exit(0);
			default:
				usage();
				exit(2);
		}
	}
	if (optind < argc || nclients < 1 || nattempts < 0 || nresources < 1 ||
		nusers < 1 || nhot < 1 || nhot > nresources || multi_max < 2 ||
		multi_max > MAX_MULTI || hot_share < 0 || hot_share > 1 ||
		(attached && (nresources > INT32_MAX || nusers > INT32_MAX)))
	{
		fprintf(stderr, "stress: bad arguments (try --help)\n");
		exit(2);
	}
	if (!seed_given)
		seed = (uint64_t) time(NULL);

	believed = xmalloc(sizeof(int64_t) * (nresources + 1));
	clients = xmalloc(sizeof(Client) * nclients);

	setup(settings, sizeof(settings));

	for (int i = 0; i < nclients; i++)
	{
		clients[i].conn = connect_one(false);
		if (clients[i].conn == NULL)
		{
			fprintf(stderr, "stress: connection %d of %d failed (max_connections?)\n",
					i + 1, nclients);
			exit(2);
		}
		if (PQsetnonblocking(clients[i].conn, 1) != 0)
		{
			fprintf(stderr, "stress: cannot make connection non-blocking\n");
			exit(2);
		}
		clients[i].state = CS_IDLE;
	}

	signal(SIGINT, handle_signal);
	signal(SIGTERM, handle_signal);
	signal(SIGPIPE, SIG_IGN);

	t_begin = now_sec();
	run();
	t_end = now_sec();

	report(settings, t_end - t_begin);
	ok = verify();
	if (!ok)
		printf("check: could not connect to verify\n");
	else if (nviolations == 0 && target_ident)
		printf("check: OK (at most one active row per resource, every committed booking and release in the history, no unexplained row, no overlapping bookings)\n");
	else if (nviolations == 0)
		printf("check: OK (no double booking, every committed booking present, no unexplained row)\n");
	else
	{
		printf("check: FAILED, %ld violations:", nviolations);
		for (int v = 0; v < NV; v++)
			if (violations[v] > 0)
				printf(" %s %ld", v_names[v], violations[v]);
		printf("\n");
	}
	if (unexpected_errors > 0)
		printf("unexpected errors: %ld\n", unexpected_errors);
	fflush(stdout);

	for (int i = 0; i < nclients; i++)
		if (clients[i].conn)
			PQfinish(clients[i].conn);
	if (mon)
		PQfinish(mon);

	if (nviolations > 0)
		return 1;
	/* stopping early on request is fine; on a lost connection it is not */
	if (!ok || gave_up || unexpected_errors > 0 ||
		(!stop_asked && (finished < nattempts || nattempts == 0)))
		return 2;
	return 0;
}
