/* ferry-import: applies the exports published for one target environment.
 *
 *   ferry-import --config FILE --target ENV [--once] [--verbose]
 *
 * Consumes ENV's records topic (read_committed) and applies each export in
 * one transaction of ENV's store, exactly once; outcomes go to ferry.status
 * and one log line per export to stderr. --once exits 0 as soon as every
 * assigned partition has been read to its end with no export open (for
 * tests and demos: it applies what is already committed, then stops).
 * SIGTERM or SIGINT rolls back an open export (redone at the next start from
 * the offsets stored in ENV) and exits 0.
 *
 * Exit status: 0 done, 1 failure (Kafka or store), 2 usage or configuration
 * error (including an environment the config does not declare). */
#include "config.h"
#include "error.h"
#include "importer.h"
#include "kafka.h"
#include "log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: ferry-import --config FILE --target ENV [--once] [--verbose]\n"
               "  --once     exit when every partition has been read to its end\n"
               "  --verbose  debug logging\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"target", required_argument, NULL, 't'},
        {"once", no_argument, NULL, 'o'},         {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *target = NULL;
    int once = 0, level = FERRY_LOG_INFO, opt, rc;
    ferry_config_t *cfg = NULL;
    ferry_importer_t *c = NULL;
    struct sigaction sa;
    char err[1024] = "";

    while ((opt = getopt_long(argc, argv, "c:t:ovh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 't': target = optarg; break;
        case 'o': once = 1; break;
        case 'v': level = FERRY_LOG_DEBUG; break;
        case 'h': return usage(stdout);
        default: return usage(stderr);
        }
    }
    if (!config_path || !target || optind < argc)
        return usage(stderr);
    ferry_log_set_handler(ferry_log_stderr, "ferry-import", level);

    if ((rc = ferry_config_load(config_path, &cfg, err, sizeof(err)))) {
        fprintf(stderr, "ferry-import: %s\n", err);
        return 2;
    }
    ferry_kafka_warn_scram(cfg);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    rc = ferry_importer_new(cfg, target, &c, err, sizeof(err));
    if (!rc)
        rc = ferry_importer_run(c, once, &stop, err, sizeof(err));
    ferry_importer_destroy(c);
    ferry_config_destroy(cfg);
    if (rc) {
        fprintf(stderr, "ferry-import: %s\n", err);
        return rc == FERRY_ENOTFOUND || rc == FERRY_EINVAL || rc == FERRY_EPERMANENT ? 2 : 1;
    }
    return 0;
}
