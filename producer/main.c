/* ferry-producer: publishes export requests (now or at a time), manages the
 * durable schedules, and runs the scheduler daemon. See usage() and README.
 *
 * Exit status: 0 success; 1 failure (Kafka, an export that failed or was
 * rejected, no outcome within --timeout); 2 bad input, with nothing published. */
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "log.h"
#include "plan.h"
#include "protocol.h"
#include "schedule.h"
#include "scheduler.h"
#include "timeutil.h"
#include "wait.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define EXIT_BAD_INPUT 2
#define KAFKA_TIMEOUT_MS 10000
/* An --at this little in the past still means "now" (a slow shell, clock skew);
 * further back it is refused, since it is more likely a mistake. */
#define AT_PAST_TOLERANCE_MS 5000
#define WAIT_TIMEOUT_DEFAULT_S 300

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ferry-producer export --config F --source ENV --target ENV (--objects A,B | --all)\n"
            "           [--content all|metadata|data] [--at TIME] [--wait [--timeout SECONDS]]\n"
            "       ferry-producer schedule add --config F --id ID\n"
            "           (--every DURATION [--from TIME] | --cron \"SEC MIN HOUR DOM MON DOW\")\n"
            "           --source ENV --target ENV --objects A,B [--content all|metadata|data]\n"
            "       ferry-producer schedule list --config F\n"
            "       ferry-producer schedule rm --config F ID\n"
            "       ferry-producer scheduler --config F [--id NAME]\n"
            "TIME is RFC 3339 (2026-11-27T10:00:00Z); DURATION e.g. 500ms, 2s, 5m, 1h, 1d, "
            "1h30m;\ncron fields are in UTC. --at in the future registers a one-shot schedule "
            "(a scheduler\nfires it); up to 5 s in the past it means now. --timeout (default "
            "300) counts from\nthe export's time. Exit status: 0 success, 1 failure, 2 bad "
            "input (nothing published).\n--all exports every exportable table of the source (the "
            "request's objects: [\"*\"]).\n");
}

/* Prints a message about bad input and returns the exit status for it. */
__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;

    fputs("ferry-producer: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_BAD_INPUT;
}

/* The same for a failure that is not the input's fault (exit status 1). */
static int fail(const char *what, const char *err)
{
    fprintf(stderr, "ferry-producer: %s: %s\n", what, err);
    return 1;
}

enum opt {
    OPT_CONFIG, OPT_SOURCE, OPT_TARGET, OPT_OBJECTS, OPT_CONTENT, OPT_AT, OPT_WAIT,
    OPT_TIMEOUT, OPT_ID, OPT_EVERY, OPT_FROM, OPT_CRON, OPT_ALL, OPT_HELP, N_OPTS
};
#define BIT(o) (1u << (o))
/* getopt_long's value for option o: above every character it returns itself. */
#define OPT_VAL(o) (256 + (o))

/* Indexed by enum opt. */
static const struct option long_opts[] = {
    {"config", required_argument, NULL, OPT_VAL(OPT_CONFIG)},
    {"source", required_argument, NULL, OPT_VAL(OPT_SOURCE)},
    {"target", required_argument, NULL, OPT_VAL(OPT_TARGET)},
    {"objects", required_argument, NULL, OPT_VAL(OPT_OBJECTS)},
    {"content", required_argument, NULL, OPT_VAL(OPT_CONTENT)},
    {"at", required_argument, NULL, OPT_VAL(OPT_AT)},
    {"wait", no_argument, NULL, OPT_VAL(OPT_WAIT)},
    {"timeout", required_argument, NULL, OPT_VAL(OPT_TIMEOUT)},
    {"id", required_argument, NULL, OPT_VAL(OPT_ID)},
    {"every", required_argument, NULL, OPT_VAL(OPT_EVERY)},
    {"from", required_argument, NULL, OPT_VAL(OPT_FROM)},
    {"cron", required_argument, NULL, OPT_VAL(OPT_CRON)},
    {"all", no_argument, NULL, OPT_VAL(OPT_ALL)},
    {"help", no_argument, NULL, OPT_VAL(OPT_HELP)},
    {NULL, 0, NULL, 0},
};

typedef struct args {
    const char *opt[N_OPTS]; /* the values given; "" for a flag */
    const char *positional;
    const ferry_config_t *cfg;
} args_t;

static int cmd_export(const args_t *a);
static int cmd_schedule_add(const args_t *a);
static int cmd_schedule_list(const args_t *a);
static int cmd_schedule_rm(const args_t *a);
static int cmd_scheduler(const args_t *a);

/* The options that describe an export: what, from where, to where. */
#define JOB_OPTS (BIT(OPT_CONFIG) | BIT(OPT_SOURCE) | BIT(OPT_TARGET) | BIT(OPT_OBJECTS))

static const struct command {
    const char *name;
    unsigned accepts, requires;
    int positional; /* how many arguments follow the options */
    int (*run)(const args_t *a);
} commands[] = {
    {"export",
     JOB_OPTS | BIT(OPT_ALL) | BIT(OPT_CONTENT) | BIT(OPT_AT) | BIT(OPT_WAIT) | BIT(OPT_TIMEOUT),
     JOB_OPTS & ~BIT(OPT_OBJECTS), 0, cmd_export},
    {"schedule add",
     JOB_OPTS | BIT(OPT_CONTENT) | BIT(OPT_ID) | BIT(OPT_EVERY) | BIT(OPT_FROM) | BIT(OPT_CRON),
     JOB_OPTS | BIT(OPT_ID), 0, cmd_schedule_add},
    {"schedule list", BIT(OPT_CONFIG), BIT(OPT_CONFIG), 0, cmd_schedule_list},
    {"schedule rm", BIT(OPT_CONFIG), BIT(OPT_CONFIG), 1, cmd_schedule_rm},
    {"scheduler", BIT(OPT_CONFIG) | BIT(OPT_ID), BIT(OPT_CONFIG), 0, cmd_scheduler},
};

/* What export and schedule add share, checked against the config. */
typedef struct job {
    char *source, *target;
    char **objects; /* owned, pointing into names */
    size_t nobjects;
    char *names;
    ferry_content_t content;
} job_t;

static void job_free(job_t *job)
{
    free(job->objects);
    free(job->names);
}

static int parse_job(const args_t *a, job_t *job)
{
    const char *env[2] = {a->opt[OPT_SOURCE], a->opt[OPT_TARGET]};
    int content = a->opt[OPT_CONTENT] ? ferry_content_from_name(a->opt[OPT_CONTENT])
                                      : FERRY_CONTENT_ALL;
    size_t max = 1;

    for (int i = 0; i < 2; i++)
        if (!ferry_config_env_store(a->cfg, env[i]))
            return bad("environment \"%s\" is not declared in %s", env[i], a->opt[OPT_CONFIG]);
    if (strcmp(env[0], env[1]) == 0)
        return bad("source and target are the same environment \"%s\"", env[0]);
    if (content < 0)
        return bad("--content must be all, metadata or data, not \"%s\"", a->opt[OPT_CONTENT]);
    job->source = (char *)env[0];
    job->target = (char *)env[1];
    job->content = (ferry_content_t)content;
    /* --all: the one object name that means every exportable table. */
    if (a->opt[OPT_ALL] && a->opt[OPT_OBJECTS])
        return bad("--all and --objects exclude each other");
    if (!a->opt[OPT_ALL] && !a->opt[OPT_OBJECTS])
        return bad("export needs --objects or --all");
    if (a->opt[OPT_ALL]) {
        if (!(job->names = strdup(FERRY_PLAN_ALL)) ||
            !(job->objects = calloc(1, sizeof(*job->objects))))
            return fail("--all", "out of memory");
        job->objects[job->nobjects++] = job->names;
        return 0;
    }

    /* Split the comma-separated names in place, trimming spaces. */
    for (const char *p = a->opt[OPT_OBJECTS]; *p; p++)
        max += *p == ',';
    if (max > FERRY_REQUEST_MAX_OBJECTS)
        return bad("--objects names more than %d objects", FERRY_REQUEST_MAX_OBJECTS);
    if (!(job->names = strdup(a->opt[OPT_OBJECTS])) ||
        !(job->objects = calloc(max, sizeof(*job->objects))))
        return fail("--objects", "out of memory");
    for (char *name = job->names, *next; name; name = next) {
        char *end;
        if ((next = strchr(name, ',')))
            *next++ = '\0';
        name += strspn(name, " ");
        for (end = name + strlen(name); end > name && end[-1] == ' ';)
            *--end = '\0';
        if (!*name || strlen(name) > FERRY_NAME_MAX)
            return bad("--objects \"%s\": object %zu has an empty or too long name",
                       a->opt[OPT_OBJECTS], job->nobjects + 1);
        job->objects[job->nobjects++] = name;
    }
    return 0;
}

/* Writes prefix and 16 random hex digits: unique without coordination. */
static int random_id(const char *prefix, char *out, size_t size)
{
    unsigned char r[8];
    int n;

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return fail("making an export id", "no random bytes");
    n = snprintf(out, size, "%s", prefix);
    for (size_t i = 0; i < sizeof(r); i++)
        n += snprintf(out + n, size - (size_t)n, "%02x", r[i]);
    return 0;
}

/* A producer with the ferry topics (and target's records topic, if not NULL)
 * created when missing. */
static int open_producer(const ferry_config_t *cfg, const char *target, rd_kafka_t **out)
{
    char err[1024];
    int rc = ferry_kafka_producer_new(cfg, FERRY_KAFKA_IDEMPOTENT, NULL, NULL, out, err,
                                      sizeof(err), NULL);

    if (rc == FERRY_EINVAL)
        return bad("%s", err);
    if (rc)
        return fail("kafka producer", err);
    if (ferry_kafka_ensure_ferry_topics(*out, cfg, target, KAFKA_TIMEOUT_MS, err, sizeof(err)))
        return fail("creating topics", err);
    return 0;
}

static int flush_producer(rd_kafka_t *rk)
{
    char err[512];

    if (ferry_kafka_flush(rk, KAFKA_TIMEOUT_MS, err, sizeof(err)))
        return fail("publishing", err);
    return 0;
}

static void close_producer(rd_kafka_t *rk)
{
    if (rk)
        rd_kafka_destroy(rk);
}

static int64_t min_interval(const ferry_config_t *cfg)
{
    return ferry_config_int(cfg, "scheduler", "min_interval_ms");
}

/* Publishes sched (validated by the caller) on the schedules topic. */
static int publish_schedule(const ferry_config_t *cfg, rd_kafka_t *rk,
                            const ferry_schedule_t *sched)
{
    char err[1024];

    if (ferry_scheduler_put(rk, cfg, sched, err, sizeof(err)))
        return fail("publishing the schedule", err);
    return flush_producer(rk);
}

static int cmd_export(const args_t *a)
{
    job_t job = {0};
    ferry_schedule_t sched = {0};
    int64_t now = ferry_now_ms(), at = 0;
    long timeout_s = WAIT_TIMEOUT_DEFAULT_S;
    rd_kafka_t *rk = NULL, *follow = NULL;
    char export_id[FERRY_EXPORT_ID_MAX], id[FERRY_NAME_MAX + 1];
    char err[1024];
    int rc = parse_job(a, &job);

    if (!rc && a->opt[OPT_AT]) {
        if (ferry_time_parse(a->opt[OPT_AT], &at, err, sizeof(err)))
            rc = bad("--at: %s", err);
        else if (at < now - AT_PAST_TOLERANCE_MS)
            rc = bad("--at %s lies in the past; leave --at out to export now", a->opt[OPT_AT]);
        else if (at <= now)
            at = 0; /* now */
    }
    if (!rc && a->opt[OPT_TIMEOUT]) {
        char *end;
        timeout_s = strtol(a->opt[OPT_TIMEOUT], &end, 10);
        if (!a->opt[OPT_WAIT])
            rc = bad("--timeout applies to --wait only");
        else if (*end || end == a->opt[OPT_TIMEOUT] || timeout_s < 1 || timeout_s > 86400 * 7)
            rc = bad("--timeout \"%s\" must be a number of seconds (1 to 604800)",
                     a->opt[OPT_TIMEOUT]);
    }
    if (!rc && at) {
        /* A one-shot schedule: the scheduler fires it at `at`, then removes it. */
        rc = random_id("at-", id, sizeof(id));
        sched = (ferry_schedule_t){.id = id, .source = job.source, .target = job.target,
                                   .objects = job.objects, .nobjects = job.nobjects,
                                   .content = job.content, .at_ms = at, .created_ms = now};
        if (!rc && ferry_schedule_validate(&sched, min_interval(a->cfg), err, sizeof(err)))
            rc = bad("%s", err);
        if (!rc && ferry_schedule_export_id(id, at, export_id, sizeof(export_id)))
            rc = bad("--at %s: no export id", a->opt[OPT_AT]);
    } else if (!rc) {
        rc = random_id("once-", export_id, sizeof(export_id));
    }
    if (!rc)
        rc = open_producer(a->cfg, job.target, &rk);
    /* Follow the status topic from before publishing, or events could be missed. */
    if (!rc && a->opt[OPT_WAIT] && producer_wait_begin(a->cfg, &follow, err, sizeof(err)))
        rc = fail("--wait", err);
    if (!rc && at) {
        rc = publish_schedule(a->cfg, rk, &sched);
    } else if (!rc) {
        ferry_request_t req = {.export_id = export_id, .source = job.source,
                               .target = job.target, .objects = job.objects,
                               .nobjects = job.nobjects, .content = job.content,
                               .requested_at_ms = now};
        /* Keyed by the request's stream key (ferry_request_stream_key), as the worker expects. */
        if (ferry_scheduler_send_request(rk, a->cfg, &req, err, sizeof(err)))
            rc = fail("publishing the request", err);
        if (!rc)
            rc = flush_producer(rk);
    }
    if (!rc) {
        printf("%s\n", export_id);
        fflush(stdout);
    }
    if (!rc && follow) {
        /* For an export at a later time, the timeout starts at that time. */
        rc = producer_wait_run(follow, export_id,
                               (int)(timeout_s + (at ? (at - now + 999) / 1000 : 0)), &stop);
        follow = NULL;
    }
    producer_wait_end(follow);
    close_producer(rk);
    job_free(&job);
    return rc;
}

static int cmd_schedule_add(const args_t *a)
{
    job_t job = {0};
    int64_t now = ferry_now_ms();
    ferry_schedule_t sched = {.id = (char *)a->opt[OPT_ID], .cron = (char *)a->opt[OPT_CRON],
                              .created_ms = now};
    rd_kafka_t *rk = NULL;
    char err[1024];
    int rc = parse_job(a, &job);

    if (!rc && !a->opt[OPT_EVERY] == !a->opt[OPT_CRON])
        rc = bad("schedule add needs exactly one of --every and --cron");
    if (!rc && a->opt[OPT_FROM] && !a->opt[OPT_EVERY])
        rc = bad("--from applies to --every only");
    if (!rc && a->opt[OPT_EVERY] &&
        ferry_duration_parse(a->opt[OPT_EVERY], &sched.every_ms, err, sizeof(err)))
        rc = bad("--every: %s", err);
    if (!rc && a->opt[OPT_EVERY] && sched.every_ms == 0)
        rc = bad("--every %s: the interval must be longer than zero", a->opt[OPT_EVERY]);
    /* Without --from, the first due time is the first whole second at least a
     * second away, so that the schedule reaches the scheduler before it. */
    sched.from_ms = (now / 1000 + 2) * 1000;
    if (!rc && a->opt[OPT_FROM] &&
        ferry_time_parse(a->opt[OPT_FROM], &sched.from_ms, err, sizeof(err)))
        rc = bad("--from: %s", err);
    if (!rc) {
        sched.source = job.source;
        sched.target = job.target;
        sched.objects = job.objects;
        sched.nobjects = job.nobjects;
        sched.content = job.content;
        if (!sched.every_ms)
            sched.from_ms = 0;
        if (ferry_schedule_validate(&sched, min_interval(a->cfg), err, sizeof(err)))
            rc = bad("%s", err);
    }
    if (!rc)
        rc = open_producer(a->cfg, NULL, &rk);
    if (!rc)
        rc = publish_schedule(a->cfg, rk, &sched);
    if (!rc)
        printf("%s\n", sched.id);
    close_producer(rk);
    job_free(&job);
    return rc;
}

/* Reads the live schedules (creating the topics first if missing). */
static int read_schedules(const args_t *a, ferry_schedule_t ***list, size_t *n, rd_kafka_t **rk)
{
    char err[1024];
    int rc = open_producer(a->cfg, NULL, rk);

    if (!rc && ferry_scheduler_list(a->cfg, KAFKA_TIMEOUT_MS, list, n, err, sizeof(err)))
        rc = fail("reading schedules", err);
    return rc;
}

static int cmd_schedule_list(const args_t *a)
{
    ferry_schedule_t **list = NULL;
    size_t n = 0;
    rd_kafka_t *rk = NULL;
    int64_t now = ferry_now_ms();
    int rc = read_schedules(a, &list, &n, &rk);

    if (!rc)
        printf("ID\tKIND\tSPEC\tNEXT\tSTREAM\tOBJECTS\tCONTENT\n");
    for (size_t i = 0; !rc && i < n; i++) {
        const ferry_schedule_t *s = list[i];
        char spec[512] = "?", next[FERRY_TIME_MAX] = "-";
        int64_t due;

        ferry_schedule_spec(s, spec, sizeof(spec));
        if (ferry_schedule_next_due(s, now, &due) == FERRY_OK)
            ferry_time_format(due, next, sizeof(next));
        printf("%s\t%s\t%s\t%s\t%s->%s\t", s->id, ferry_schedule_kind(s), spec, next, s->source,
               s->target);
        for (size_t j = 0; j < s->nobjects; j++)
            printf("%s%s", j ? "," : "", s->objects[j]);
        printf("\t%s\n", ferry_content_name(s->content));
    }
    ferry_scheduler_list_free(list, n);
    close_producer(rk);
    return rc;
}

static int cmd_schedule_rm(const args_t *a)
{
    ferry_schedule_t **list = NULL;
    size_t n = 0, i = 0;
    rd_kafka_t *rk = NULL;
    char err[1024];
    int rc = read_schedules(a, &list, &n, &rk);

    while (!rc && i < n && strcmp(list[i]->id, a->positional) != 0)
        i++;
    if (!rc && i == n)
        rc = bad("no schedule \"%s\" in topic %s", a->positional,
                 ferry_config_topic(a->cfg, FERRY_TOPIC_SCHEDULES));
    if (!rc && ferry_scheduler_remove(rk, a->cfg, a->positional, err, sizeof(err)))
        rc = fail("removing the schedule", err);
    if (!rc)
        rc = flush_producer(rk);
    ferry_scheduler_list_free(list, n);
    close_producer(rk);
    return rc;
}

static int cmd_scheduler(const args_t *a)
{
    ferry_scheduler_t *s = NULL;
    char err[1024];
    int rc = ferry_scheduler_new(a->cfg, a->opt[OPT_ID], &s, err, sizeof(err));

    if (rc)
        return rc == FERRY_EINVAL ? bad("%s", err) : fail("scheduler", err);
    ferry_log(FERRY_LOG_INFO, "scheduler started name=%s", a->opt[OPT_ID] ? a->opt[OPT_ID] : "-");
    while (!stop && !rc)
        if ((rc = ferry_scheduler_poll(s, 100, err, sizeof(err))))
            fail("scheduler", err);
    if (ferry_scheduler_close(s, KAFKA_TIMEOUT_MS, err, sizeof(err)))
        rc = fail("scheduler close", err);
    ferry_scheduler_destroy(s);
    ferry_log(FERRY_LOG_INFO, "scheduler stopped");
    return rc ? 1 : 0;
}

/* Finds the command named by argv[1] (and argv[2] for "schedule ..."). */
static const struct command *find_command(int argc, char **argv, int *words)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const char *name = commands[i].name, *space = strchr(name, ' ');
        if (!space && strcmp(argv[1], name) == 0) {
            *words = 1;
            return &commands[i];
        }
        if (space && argc > 2 && strncmp(argv[1], name, (size_t)(space - name)) == 0 &&
            argv[1][space - name] == '\0' && strcmp(argv[2], space + 1) == 0) {
            *words = 2;
            return &commands[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const struct command *cmd;
    args_t a = {0};
    ferry_config_t *cfg = NULL;
    struct sigaction sa = {0};
    char err[1024];
    int words = 0, c, nargs, rc;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD_INPUT : 0;
    }
    if (!(cmd = find_command(argc, argv, &words))) {
        usage(stderr);
        int two = argc > 2 && strcmp(argv[1], "schedule") == 0;
        return bad("unknown command \"%s%s%s\"", argv[1], two ? " " : "", two ? argv[2] : "");
    }
    /* Parse after the command words; the last of them stands in for argv[0]. */
    nargs = argc - words;
    argv += words;
    opterr = 0;
    while ((c = getopt_long(nargs, argv, ":", long_opts, NULL)) != -1) {
        int o = c - OPT_VAL(0);
        if (c == '?')
            return bad("unknown option \"%s\" for %s", argv[optind - 1], cmd->name);
        if (c == ':')
            return bad("option \"%s\" needs a value", argv[optind - 1]);
        if (o != OPT_HELP && !(cmd->accepts & BIT(o)))
            return bad("option --%s does not apply to %s", long_opts[o].name, cmd->name);
        if (a.opt[o])
            return bad("option --%s is given twice", long_opts[o].name);
        a.opt[o] = optarg ? optarg : "";
    }
    if (a.opt[OPT_HELP]) {
        usage(stdout);
        return 0;
    }
    if (nargs - optind != cmd->positional)
        return nargs - optind > cmd->positional
                   ? bad("unexpected argument \"%s\" for %s", argv[optind + cmd->positional],
                         cmd->name)
                   : bad("%s needs an ID", cmd->name);
    a.positional = cmd->positional ? argv[optind] : NULL;
    for (int o = 0; o < N_OPTS; o++)
        if ((cmd->requires & BIT(o)) && !a.opt[o])
            return bad("%s needs --%s", cmd->name, long_opts[o].name);
    if ((rc = ferry_config_load(a.opt[OPT_CONFIG], &cfg, err, sizeof(err))))
        return bad("%s", err);
    a.cfg = cfg;

    ferry_log_set_handler(ferry_log_stderr, "ferry-producer", FERRY_LOG_INFO);
    ferry_kafka_warn_scram(cfg);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = cmd->run(&a);
    ferry_config_destroy(cfg);
    return rc;
}
