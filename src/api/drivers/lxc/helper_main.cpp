// zlh-lxc-helper: the single-threaded helper of the lxc driver
// (docs/drivers.md). liblxc's start() forks its caller to make the
// container's monitor; from the multithreaded zlh-api that monitor would be
// a copy of the API (its heap, its listening sockets, locks held by other
// threads). So the driver never calls start() itself: it runs this helper
// through the one spawn door (nothing inherited), and the monitor is a copy
// of this small process instead (LXD's forkstart pattern).
//
//   zlh-lxc-helper start LXCPATH NAME
//       starts the container daemonized; exit 0 once it runs, else 1 with
//       the reason on stderr.
//   zlh-lxc-helper net-up NAME net up veth HOSTIF
//       lxc.net.0.script.up: run on the host once the veth exists and is on
//       the bridge, before the container's init runs: isolates the bridge
//       port, so a container never reaches its neighbours, not even for its
//       first packet. liblxc passes the host interface as the last
//       argument (and in LXC_NET_PEER).
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int start(const char* lxcpath, const char* name) {
  lxc_container* c = lxc_container_new(name, lxcpath);
  if (c == nullptr) {
    std::fprintf(stderr, "cannot load container %s in %s\n", name, lxcpath);
    return 1;
  }
  if (!c->is_defined(c)) {
    std::fprintf(stderr, "container %s is not defined\n", name);
    lxc_container_put(c);
    return 1;
  }
  if (c->is_running(c)) {
    lxc_container_put(c);
    return 0;
  }
  c->want_daemonize(c, true);
  c->want_close_all_fds(c, true);
  bool ok = c->start(c, 0, nullptr);
  if (ok && !c->wait(c, "RUNNING", 30)) ok = false;
  if (!ok) std::fprintf(stderr, "liblxc could not start %s (error %d)\n", name, c->error_num);
  lxc_container_put(c);
  return ok ? 0 : 1;
}

int net_up(int argc, char** argv) {
  const char* peer = std::getenv("LXC_NET_PEER");
  std::string port = peer && *peer ? peer : (argc > 0 ? argv[argc - 1] : "");
  if (port.empty() || port.find('/') != std::string::npos) {
    std::fprintf(stderr, "net-up: no host interface\n");
    return 1;
  }
  std::string p = "/sys/class/net/" + port + "/brport/isolated";
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, "1", 1) != 1) {
    std::fprintf(stderr, "net-up: cannot isolate %s: %s\n", port.c_str(), std::strerror(errno));
    return 1;  // liblxc then refuses to start the container
  }
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::umask(022);  // the container's files and its init's, not zlh-api's 077
  if (argc == 4 && std::strcmp(argv[1], "start") == 0) return start(argv[2], argv[3]);
  if (argc >= 2 && std::strcmp(argv[1], "net-up") == 0) return net_up(argc - 2, argv + 2);
  std::fprintf(stderr,
               "usage: zlh-lxc-helper start LXCPATH NAME | net-up NAME net up veth HOSTIF\n");
  return 2;
}
