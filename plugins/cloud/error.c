/*
 * error.c — how cloud_core says what went wrong.
 *
 * libcurl and HTTP failures are mapped to revive codes here, in one place, together with
 * the decision whether another attempt can help. The rule: retry what a flaky network or
 * a busy server causes (resets, timeouts, stalls, 5xx, 408, 429), never what will fail the
 * same way again (404, 403, TLS verification, a redirect loop, a local write error).
 */
#include "cloud.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int cloud_fail(revive_error *err, int code, const char *origin, int origin_code,
               const char *fmt, ...)
{
    if (!err)
        return code;
    err->size = sizeof(*err);
    err->code = code;
    err->origin_code = origin_code;
    snprintf(err->origin, sizeof(err->origin), "%s", origin ? origin : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

int cloud_curl_code(int cc, int *retry)
{
    int r = 0, code;
    switch ((CURLcode)cc) {
    case CURLE_OK:
        code = REVIVE_OK;
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        code = REVIVE_E_NETWORK;
        r = 1;
        break;
    case CURLE_OPERATION_TIMEDOUT: /* also what the low-speed limit (a stall) gives */
        code = REVIVE_E_TIMEOUT;
        r = 1;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        code = REVIVE_E_NETWORK;
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        code = REVIVE_E_PERMISSION;
        break;
    case CURLE_SSL_CONNECT_ERROR:
        code = REVIVE_E_NETWORK;
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        code = REVIVE_E_LIMIT;
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        code = REVIVE_E_CANCELLED;
        break;
    case CURLE_WRITE_ERROR:
        code = REVIVE_E_IO;
        break;
    case CURLE_OUT_OF_MEMORY:
        code = REVIVE_E_NO_MEMORY;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        code = REVIVE_E_INVALID;
        break;
    case CURLE_FILESIZE_EXCEEDED:
        code = REVIVE_E_LIMIT;
        break;
    default:
        code = REVIVE_E_NETWORK;
        break;
    }
    if (retry)
        *retry = r;
    return code;
}

int cloud_http_code(long status, int *retry)
{
    int r = 0, code;
    if (status == 404 || status == 410)
        code = REVIVE_E_NOT_FOUND;
    else if (status == 401 || status == 403)
        code = REVIVE_E_PERMISSION;
    else if (status == 408) {
        code = REVIVE_E_TIMEOUT;
        r = 1;
    } else if (status == 429) {
        code = REVIVE_E_BUSY;
        r = 1;
    } else if (status >= 500 && status <= 599) {
        code = status == 503 ? REVIVE_E_BUSY : REVIVE_E_NETWORK;
        r = 1;
    } else
        code = REVIVE_E_PROTOCOL;
    if (retry)
        *retry = r;
    return code;
}

void cloud_log(const cloud_io *io, int level, const char *fmt, ...)
{
    if (!io || !io->log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    io->log(io->ud, level, line);
}

bool cloud_is_cancelled(const cloud_io *io)
{
    return io && io->cancelled && io->cancelled(io->ud);
}

bool cloud_is_url(const char *s)
{
    return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

bool cloud_hex_valid(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}
