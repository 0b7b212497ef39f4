// The account files a fresh container root starts with, written by the lxc
// driver when it builds a rootfs and by the agent when a root has none
// (docs/design.md §5): root, nobody and the groups useradd expects. Fixed
// Debian defaults, nothing copied from the host; the dev user is added by
// the agent with useradd. One table, so both writers agree on contents and
// modes (the shadow files are root-only: there is no shadow group here).
#pragma once

#include <sys/types.h>

namespace zlh::proto {

struct BaseAccountFile {
  const char* name;  // under etc/
  const char* text;
  mode_t mode;
};

inline constexpr BaseAccountFile kBaseAccountFiles[] = {
    {"passwd",
     "root:x:0:0:root:/root:/bin/bash\n"
     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
     0644},
    {"group", "root:x:0:\ntty:x:5:\nusers:x:100:\nnogroup:x:65534:\n", 0644},
    {"shadow", "root:*:20000:0:99999:7:::\nnobody:*:20000:0:99999:7:::\n", 0600},
    {"gshadow", "root:*::\ntty:*::\nusers:*::\nnogroup:*::\n", 0600},
};

}  // namespace zlh::proto
