/*
 * The pod sandbox's process, our own stand-in for registry.k8s.io/pause: it holds the pod's namespaces, reaps
 * orphans (it is PID 1 when the pod shares its process namespace) and exits 0 on SIGTERM or SIGINT, which is how
 * the runtime stops a sandbox.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction term = {.sa_handler = stop};
  struct sigaction child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (sigaction(SIGTERM, &term, NULL) != 0 || sigaction(SIGINT, &term, NULL) != 0 ||
      sigaction(SIGCHLD, &child, NULL) != 0) {
    return 1;
  }
  for (;;) {
    pause();
  }
}
