// card-c-relay: the C-speed baseline `fleet bench` runs beside its Swift relay (issue 14).
//
// One hop of a consume → produce relay written against librdkafka's C API with nothing else in
// the way: poll a batch from the group's queue, produce every message with its key, value and
// headers to the output topic, wait until every delivery report of the batch has arrived, then
// commit the batch's positions asynchronously. The same protocol as `fleet bench-relay` (the
// Swift relay) and the same client settings, so the ratio between the two is the Swift wrapper's
// own per-message cost, and the fleet's ratio to this relay is the fleet's distance from C.
//
// Usage: card-c-relay --brokers HOST:PORT --from TOPIC --to TOPIC --group GROUP [--batch-size N]
//                     [--poll-timeout-ms MS]
// Exits 0 on SIGTERM/SIGINT after a synchronous commit of the last positions; 1 on a bad
// argument, 2 on a client that cannot start, 3 on an undelivered record or a fatal error
// (a bench relay stops rather than skip a record).
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static volatile sig_atomic_t stop_requested = 0;
// The stop is bounded: with the brokers gone, delivery waits and rd_kafka_consumer_close can block
// for minutes, and a bench relay left behind outlived its CI run by most of an hour. SIGALRM's
// default action ends the process 20 s after the stop was asked for.
static void on_signal(int signo) { (void)signo; if (!stop_requested) alarm(20); stop_requested = 1; }

// Delivery reports of the batch in flight: outstanding count and failures.
static long outstanding = 0;
static long failed = 0;
static char first_failure[256] = "";

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    outstanding--;
    if (m->err) {
        if (failed++ == 0) snprintf(first_failure, sizeof first_failure, "%s", rd_kafka_err2str(m->err));
    }
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "card-c-relay: %s=%s: %s\n", key, value, error);
        exit(2);
    }
}

static void usage(void) {
    fprintf(stderr, "usage: card-c-relay --brokers HOST:PORT --from TOPIC --to TOPIC --group GROUP "
                    "[--batch-size N] [--poll-timeout-ms MS] [--consumer-property KEY=VALUE]... "
                    "[--producer-property KEY=VALUE]...\n");
    exit(1);
}

static long positive(const char *flag, const char *text, long minimum) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || value < minimum) {
        fprintf(stderr, "card-c-relay: %s must be an integer >= %ld, got '%s'\n", flag, minimum, text);
        exit(1);
    }
    return value;
}

/* Applies "key=value" over the defaults above it; `fleet bench` passes the Swift relay's own
 * settings this way, so both relays run with the same client configuration by construction. */
static void set_pair(rd_kafka_conf_t *conf, const char *pair) {
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair) {
        fprintf(stderr, "card-c-relay: expected KEY=VALUE, got '%s'\n", pair);
        exit(1);
    }
    char key[256];
    size_t length = (size_t)(eq - pair);
    if (length >= sizeof key) {
        fprintf(stderr, "card-c-relay: property name too long: '%s'\n", pair);
        exit(1);
    }
    memcpy(key, pair, length);
    key[length] = '\0';
    set(conf, key, eq + 1);
}

#define MAX_PROPERTIES 64

int main(int argc, char **argv) {
    const char *brokers = NULL, *from = NULL, *to = NULL, *group = NULL;
    const char *consumer_properties[MAX_PROPERTIES], *producer_properties[MAX_PROPERTIES];
    int consumer_count = 0, producer_count = 0;
    long batch_size = 500, poll_timeout_ms = 50;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *flag = argv[i], *value = argv[++i];
        if (!strcmp(flag, "--brokers")) brokers = value;
        else if (!strcmp(flag, "--from")) from = value;
        else if (!strcmp(flag, "--to")) to = value;
        else if (!strcmp(flag, "--group")) group = value;
        else if (!strcmp(flag, "--batch-size")) batch_size = positive(flag, value, 1);
        else if (!strcmp(flag, "--poll-timeout-ms")) poll_timeout_ms = positive(flag, value, 0);
        else if (!strcmp(flag, "--consumer-property") && consumer_count < MAX_PROPERTIES) consumer_properties[consumer_count++] = value;
        else if (!strcmp(flag, "--producer-property") && producer_count < MAX_PROPERTIES) producer_properties[producer_count++] = value;
        else usage();
    }
    if (!brokers || !from || !to || !group) usage();

    char error[512];
    // The consumer: the Swift relay's settings (KafkaConsumerConfiguration, prefetch 64 MiB).
    rd_kafka_conf_t *cconf = rd_kafka_conf_new();
    set(cconf, "bootstrap.servers", brokers);
    set(cconf, "client.id", "card-c-relay");
    set(cconf, "group.id", group);
    set(cconf, "enable.auto.commit", "false");
    set(cconf, "enable.auto.offset.store", "false");
    set(cconf, "enable.partition.eof", "false");
    set(cconf, "auto.offset.reset", "earliest");
    set(cconf, "session.timeout.ms", "10000");
    set(cconf, "fetch.wait.max.ms", "10");
    set(cconf, "queued.max.messages.kbytes", "65536");
    for (int i = 0; i < consumer_count; i++) set_pair(cconf, consumer_properties[i]);
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, error, sizeof error);
    if (!consumer) { fprintf(stderr, "card-c-relay: consumer: %s\n", error); return 2; }
    rd_kafka_poll_set_consumer(consumer);

    // The producer: the fleet's producer settings (KafkaProducerConfiguration) with librdkafka's
    // own 5 requests in flight, as the Swift relay uses them.
    rd_kafka_conf_t *pconf = rd_kafka_conf_new();
    set(pconf, "bootstrap.servers", brokers);
    set(pconf, "client.id", "card-c-relay");
    set(pconf, "enable.idempotence", "true");
    set(pconf, "acks", "all");
    set(pconf, "compression.codec", "lz4");
    set(pconf, "linger.ms", "5");
    set(pconf, "message.timeout.ms", "30000");
    set(pconf, "queue.buffering.max.messages", "1000000");
    set(pconf, "max.in.flight.requests.per.connection", "5");
    set(pconf, "partitioner", "murmur2_random");
    for (int i = 0; i < producer_count; i++) set_pair(pconf, producer_properties[i]);
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, error, sizeof error);
    if (!producer) { fprintf(stderr, "card-c-relay: producer: %s\n", error); return 2; }
    rd_kafka_topic_t *output = rd_kafka_topic_new(producer, to, NULL);

    rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, from, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    if (err) { fprintf(stderr, "card-c-relay: subscribe: %s\n", rd_kafka_err2str(err)); return 2; }

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "card-c-relay: relay started from=%s to=%s batch=%ld\n", from, to, batch_size);

    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(consumer);
    rd_kafka_message_t **batch = calloc((size_t)batch_size, sizeof *batch);
    long relayed = 0, batches = 0;
    int status = 0;
    // CARD_PARENT_PID (set by the fleet's ChildProcess, as for the workers' ParentWatch): stop when
    // the process that started this relay is gone, instead of relaying for ever as an orphan.
    const char *parent_text = getenv("CARD_PARENT_PID");
    pid_t parent = parent_text ? (pid_t)strtol(parent_text, NULL, 10) : 0;
    while (!stop_requested) {
        if (parent > 1 && getppid() != parent) {
            fprintf(stderr, "card-c-relay: the process that started it (%d) is gone: stopping\n", (int)parent);
            on_signal(SIGTERM);
            break;
        }
        ssize_t count = rd_kafka_consume_batch_queue(queue, (int)poll_timeout_ms, batch, (size_t)batch_size);
        if (count < 0) { fprintf(stderr, "card-c-relay: poll: %s\n", rd_kafka_err2str(rd_kafka_last_error())); status = 3; break; }
        if (count == 0) continue;
        rd_kafka_topic_partition_list_t *positions = rd_kafka_topic_partition_list_new((int)count);
        for (ssize_t i = 0; i < count; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err) {
                // A gap or a fatal error voids the measurement; anything else is reported and skipped.
                fprintf(stderr, "card-c-relay: consumer error: %s\n", rd_kafka_message_errstr(m));
                if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) status = 3;
                continue;
            }
            rd_kafka_headers_t *headers = NULL;
            rd_kafka_headers_t *read = NULL;
            if (rd_kafka_message_headers(m, &read) == RD_KAFKA_RESP_ERR_NO_ERROR && read) headers = rd_kafka_headers_copy(read);
            err = rd_kafka_producev(producer,
                                    RD_KAFKA_V_RKT(output),
                                    RD_KAFKA_V_KEY(m->key, m->key_len),
                                    RD_KAFKA_V_VALUE(m->payload, m->len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADERS(headers),
                                    RD_KAFKA_V_END);
            if (err) {
                if (headers) rd_kafka_headers_destroy(headers);
                fprintf(stderr, "card-c-relay: produce: %s\n", rd_kafka_err2str(err));
                status = 3;
                break;
            }
            outstanding++;
            rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(positions, rd_kafka_topic_name(m->rkt), m->partition);
            if (!p) p = rd_kafka_topic_partition_list_add(positions, rd_kafka_topic_name(m->rkt), m->partition);
            p->offset = m->offset + 1;
        }
        for (ssize_t i = 0; i < count; i++) rd_kafka_message_destroy(batch[i]);
        // Every delivery report of the batch before its positions are committed.
        while (outstanding > 0) rd_kafka_poll(producer, 100);
        if (failed > 0) {
            fprintf(stderr, "card-c-relay: %ld record(s) not delivered: %s\n", failed, first_failure);
            status = 3;
        }
        if (status) { rd_kafka_topic_partition_list_destroy(positions); break; }
        if (positions->cnt > 0) {
            err = rd_kafka_commit(consumer, positions, 1);
            if (err) fprintf(stderr, "card-c-relay: async commit failed: %s\n", rd_kafka_err2str(err));
        }
        rd_kafka_topic_partition_list_destroy(positions);
        relayed += (long)count;
        batches++;
    }
    free(batch);
    rd_kafka_queue_destroy(queue);
    // The last positions reach the group before it is left (a synchronous commit of the current
    // assignment's positions, as the Swift relay does).
    if (status == 0) {
        rd_kafka_topic_partition_list_t *assignment = NULL;
        if (rd_kafka_assignment(consumer, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR && assignment) {
            if (rd_kafka_position(consumer, assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_commit(consumer, assignment, 0);
            rd_kafka_topic_partition_list_destroy(assignment);
        }
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_flush(producer, 5000);
    rd_kafka_topic_destroy(output);
    rd_kafka_destroy(producer);
    fprintf(stderr, "card-c-relay: relay stopped relayed=%ld batches=%ld\n", relayed, batches);
    return status;
}
