/* The bridge's failure reasons (failure.h). A server that refuses the credential during NLA says so in
 * one of two ways: Windows answers with an NTSTATUS in the TSRequest's errorCode (CredSSP 3 and later),
 * which FreeRDP turns into ERRCONNECT_LOGON_FAILURE and the like; FreeRDP's own servers (shadow server
 * 2.11) and CredSSP peers before version 3 just close the connection, which FreeRDP reports as a
 * transport failure. A close while NLA is in progress (TLS is up and the pin was checked; NLA began,
 * and it had not finished) is therefore the server refusing the credential, not an unreachable server. */
#include "failure.h"

#include <freerdp/error.h>

const char* psm_failure_reason(int cert_mismatch, UINT32 last_error, CONNECTION_STATE reached) {
  if (cert_mismatch) return "certificate_mismatch";
  /* Only the connect class: other classes reuse the same low numbers for other things. */
  if (GET_FREERDP_ERROR_CLASS(last_error) != FREERDP_ERROR_CONNECT_CLASS) return "unreachable";
  switch (GET_FREERDP_ERROR_TYPE(last_error)) {
    case ERRCONNECT_AUTHENTICATION_FAILED:
    case ERRCONNECT_LOGON_FAILURE:
    case ERRCONNECT_WRONG_PASSWORD:
    case ERRCONNECT_ACCESS_DENIED:
    case ERRCONNECT_ACCOUNT_DISABLED:
    case ERRCONNECT_ACCOUNT_LOCKED_OUT:
    case ERRCONNECT_ACCOUNT_EXPIRED:
    case ERRCONNECT_ACCOUNT_RESTRICTION:
    case ERRCONNECT_LOGON_TYPE_NOT_GRANTED:
    case ERRCONNECT_PASSWORD_EXPIRED:
    case ERRCONNECT_PASSWORD_MUST_CHANGE:
    case ERRCONNECT_PASSWORD_CERTAINLY_EXPIRED:
    case ERRCONNECT_NO_OR_MISSING_CREDENTIALS:
      return "auth_failed";
    case ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED:
      return "security_refused";
    case ERRCONNECT_CONNECT_TRANSPORT_FAILED:
      return reached == CONNECTION_STATE_NLA ? "auth_failed" : "unreachable";
    default:
      return "unreachable";
  }
}
