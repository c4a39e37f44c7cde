/* server_version.c — the libmicrohttpd version, for quire_build_info. */
#include <microhttpd.h>

#include "buildinfo.h"

const char *qr_srv_mhd_version(void) { return MHD_get_version(); }
