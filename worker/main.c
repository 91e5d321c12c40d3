/* ferry-worker: consumes export requests, resolves their closure and streams
 * metadata and rows to the target's records topic (see lib/daemons/worker.h).
 *
 *   ferry-worker --config F [--id NAME] [--verbose]
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a fatal error, 2 on bad usage or
 * configuration. */
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "log.h"
#include "worker.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: ferry-worker --config FILE [--id NAME] [--verbose]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    char id[256] = "", host[200] = "localhost";
    int verbose = 0, c, rc;
    ferry_config_t *cfg = NULL;
    ferry_worker_t *w = NULL;
    char err[1024] = "";
    struct sigaction sa;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'i': snprintf(id, sizeof(id), "%s", optarg); break;
        case 'v': verbose = 1; break;
        case 'h': usage(); return 0;
        default: return usage();
        }
    }
    if (!config_path || optind != argc)
        return usage();
    if (!id[0]) {
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s-%d", host, (int)getpid());
    }
    ferry_log_set_handler(ferry_log_stderr, "ferry-worker",
                          verbose ? FERRY_LOG_DEBUG : FERRY_LOG_INFO);

    if ((rc = ferry_config_load(config_path, &cfg, err, sizeof(err)))) {
        fprintf(stderr, "ferry-worker: %s\n", err);
        return 2;
    }
    ferry_kafka_warn_scram(cfg);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = ferry_worker_new(cfg, id, &w, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "ferry-worker: %s\n", err);
        ferry_config_destroy(cfg);
        return 1;
    }
    ferry_log(FERRY_LOG_INFO, "worker %s serving requests", id);
    rc = ferry_worker_run(w, &stop, err, sizeof(err));
    if (rc)
        ferry_log(FERRY_LOG_ERROR, "%s", err);
    ferry_worker_destroy(w);
    ferry_config_destroy(cfg);
    ferry_log(FERRY_LOG_INFO, "worker %s stopped", id);
    return rc ? 1 : 0;
}
