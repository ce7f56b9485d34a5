// libarchive, for reading image layers and archives (tar; gzip, zstd or none).
#pragma once
#include <archive.h>
#include <archive_entry.h>
