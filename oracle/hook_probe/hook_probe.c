/*
 * hook_probe: logs one line per ClientAuthentication_hook call so that the
 * pg-authsim oracle can count how often (and with which status, over which
 * transport) the hook ran for each client attempt.
 *
 * Load it BEFORE auth_delay in shared_preload_libraries: auth_delay then
 * saves our hook as its "previous" hook and calls it first, so our line is
 * written before auth_delay starts sleeping.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;

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
	ssl = port->ssl_in_use;
#endif

	/* LOG never reaches the client during authentication, only the log. */
	ereport(LOG,
			(errmsg("hook_probe: status=%s ssl=%s user=%s pid=%d",
					probe_status_name(status),
					ssl ? "on" : "off",
					port->user_name ? port->user_name : "",
					MyProcPid),
			 errhidestmt(true)));

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
