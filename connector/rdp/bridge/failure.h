/* Why a connection failed, as the stable reason the bridge reports (`error` instruction): pure, so the
 * mapping is tested without a server (test/bridge-test.c). */
#ifndef PSM_FAILURE_H
#define PSM_FAILURE_H
#include <freerdp/freerdp.h>

/* `cert_mismatch`: the pin refused the server's certificate. `last_error`: freerdp_get_last_error after
 * freerdp_connect failed. `reached`: the connection's state when freerdp_connect gave up (after its one
 * reconnect, if it made one). Returns certificate_mismatch, auth_failed, security_refused or
 * unreachable. */
const char* psm_failure_reason(int cert_mismatch, UINT32 last_error, CONNECTION_STATE reached);
#endif
