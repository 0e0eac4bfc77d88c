/* The pod sandbox ("pause") process of the harness's real node: holds the pod's namespaces,
 * reaps orphaned children (it is PID 1 of the pod when the PID namespace is shared) and exits
 * on SIGINT/SIGTERM. Built with `gcc -static` by e2e/node.sh, so the image is one file and
 * needs no registry. Same behaviour as Kubernetes' build/pause/linux/pause.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { _exit(sig == SIGINT || sig == SIGTERM ? 0 : 2); }

static void reap(int sig) {
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int main(void) {
	struct sigaction stop = {.sa_handler = on_stop};
	struct sigaction child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
	if (getpid() != 1) {
		fprintf(stderr, "pause: warning: not PID 1\n");
	}
	if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
	    sigaction(SIGCHLD, &child, NULL) < 0) {
		perror("pause: sigaction");
		return 1;
	}
	for (;;) {
		pause();
	}
}
