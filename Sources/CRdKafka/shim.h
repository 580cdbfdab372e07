#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// The mock cluster API and the header/produceva calls we rely on appeared in 2.0.
#if RD_KAFKA_VERSION < 0x020000ff
#error "librdkafka >= 2.0 is required (Debian bookworm ships 2.0.2: apt-get install librdkafka-dev)"
#endif

#endif
