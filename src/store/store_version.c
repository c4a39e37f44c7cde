/* store_version.c — the SQLite library version, for quire_build_info. */
#include <sqlite3.h>

#include "buildinfo.h"

const char *qr_store_sqlite_version(void) { return sqlite3_libversion(); }
