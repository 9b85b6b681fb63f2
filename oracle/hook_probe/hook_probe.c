/*
 * hook_probe: logs one line per ClientAuthentication_hook call so that the
 * pg-authsim oracle can count how often (and with which status, over which
 * transport) the hook ran for each client attempt.
 *
 * Load it BEFORE auth_delay in shared_preload_libraries: auth_delay then
 * saves our hook as its "previous" hook and calls it first, so our line is
 * written before auth_delay starts sleeping.
 *
 * One source, one set of headers (PostgreSQL 15's pgxs), four servers.
 * Built without PROBE_MAJOR (or with the headers' own major) it is an
 * ordinary extension for that server.  Built with -DPROBE_MAJOR=16, 17 or 18
 * it is loaded by that major instead, which works because everything it
 * touches has the same ABI in 15 to 18:
 *   - the hook variable and its type, void (*)(Port *, int);
 *   - errstart/errmsg/errhidestmt/errfinish, which ereport(LOG) expands to,
 *     and LOG's value;
 *   - be_tls_get_version(Port *), which gives the ssl flag without our
 *     reading any Port field (Port's layout differs between majors);
 *   - MyProcPid.
 * Only the magic block differs; it is written out below for each major.
 * The user name is a Port field, so a cross-major build leaves it out: the
 * log_line_prefix escape %u shows it anyway.
 *
 * Line:  hook_probe: status=OK|ERROR|EOF ssl=on|off [user=<name> ]pid=<pid>
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"

#define PROBE_HEADERS_MAJOR (PG_VERSION_NUM / 10000)

#ifndef PROBE_MAJOR
#define PROBE_MAJOR PROBE_HEADERS_MAJOR
#endif

#if PROBE_MAJOR == PROBE_HEADERS_MAJOR

PG_MODULE_MAGIC;
#define PROBE_NATIVE 1

#else

#if PROBE_HEADERS_MAJOR != 15
#error "cross-major builds are written against PostgreSQL 15 headers"
#endif
#if PROBE_MAJOR < 16 || PROBE_MAJOR > 18
#error "PROBE_MAJOR must be 15, 16, 17 or 18"
#endif
#ifndef USE_SSL
#error "the ssl flag comes from be_tls_get_version, which needs an SSL build"
#endif
#define PROBE_NATIVE 0

/*
 * The loader compares these fields with its own (dfmgr.c), so they must be
 * that server's values: its major, then the build constants, which the
 * stock builds of 15 to 18 share (15's headers provide them here).
 */
typedef struct
{
	int			version;
	int			funcmaxargs;
	int			indexmaxkeys;
	int			namedatalen;
	int			float8byval;
	char		abi_extra[32];
} probe_abi_values;

/* 18 appends the PG_MODULE_MAGIC_EXT fields; len tells the loader which layout it got. */
typedef struct
{
	int			len;
	probe_abi_values abi_fields;
#if PROBE_MAJOR >= 18
	const char *name;
	const char *version;
#endif
} probe_magic_struct;

extern PGDLLEXPORT const probe_magic_struct *Pg_magic_func(void);

const probe_magic_struct *
Pg_magic_func(void)
{
	static const probe_magic_struct magic = {
		.len = sizeof(probe_magic_struct),
		.abi_fields = {
			PROBE_MAJOR * 100,	/* PG_VERSION_NUM / 100 of that server */
			FUNC_MAX_ARGS,
			INDEX_MAX_KEYS,
			NAMEDATALEN,
			FLOAT8PASSBYVAL,
			FMGR_ABI_EXTRA,
		},
#if PROBE_MAJOR >= 18
		.name = "hook_probe",
		.version = "1",
#endif
	};

	return &magic;
}

#endif							/* PROBE_MAJOR == PROBE_HEADERS_MAJOR */

void		_PG_init(void);

static ClientAuthentication_hook_type prev_client_auth_hook = NULL;

static const char *
probe_status_name(int status)
{
	switch (status)
	{
		case STATUS_OK:
			return "OK";
		case STATUS_ERROR:
			return "ERROR";
		case STATUS_EOF:
			return "EOF";
		default:
			return "UNKNOWN";
	}
}

static void
probe_client_auth(Port *port, int status)
{
	bool		ssl = false;

#ifdef USE_SSL
	/*
	 * Non-NULL once TLS was set up on this connection.  A failed handshake
	 * ends the backend before authentication, so at this point it is the
	 * same as port->ssl_in_use, without depending on Port's layout.
	 */
	ssl = be_tls_get_version(port) != NULL;
#endif

	/* LOG never reaches the client during authentication, only the log. */
#if PROBE_NATIVE
	ereport(LOG,
			(errmsg("hook_probe: status=%s ssl=%s user=%s pid=%d",
					probe_status_name(status),
					ssl ? "on" : "off",
					port->user_name ? port->user_name : "",
					MyProcPid),
			 errhidestmt(true)));
#else
	ereport(LOG,
			(errmsg("hook_probe: status=%s ssl=%s pid=%d",
					probe_status_name(status),
					ssl ? "on" : "off",
					MyProcPid),
			 errhidestmt(true)));
#endif

	/* Chain, so that a hook loaded before us keeps working. */
	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);
}

void
_PG_init(void)
{
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = probe_client_auth;
}
