// dns-wait SERVER NAME SECONDS [MS]: asks SERVER (port 53, UDP) for NAME's A record every
// MS milliseconds (1), without waiting for the answers, until one holds an address; prints
// the moment that answer arrived (CLOCK_REALTIME, seconds with 9 decimals, the clock of
// bash's $EPOCHREALTIME) and the number of queries it sent, and exits 0; exits 1 when
// SECONDS pass first.
// Paced rather than flat out, so that the loop does not take the CPU from the command whose
// effect it waits for; the figure it gives is late by at most the pace plus a round trip
// (an answer to an earlier query is as good: the name resolved).
// It prints "ready" once the server has answered its first query (NXDOMAIN, SERVFAIL…),
// so the script knows it is asking before it starts the command.
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

// A query for NAME, type A, class IN, recursion desired, id ID: returns its length.
static size_t encode(unsigned char *out, const char *name, uint16_t id) {
    unsigned char *p = out;
    *p++ = id >> 8; *p++ = id & 0xff;
    *p++ = 0x01; *p++ = 0x00;                         // RD
    *p++ = 0; *p++ = 1; memset(p, 0, 6); p += 6;      // one question
    for (const char *label = name; *label;) {
        const char *dot = strchr(label, '.');
        size_t length = dot ? (size_t)(dot - label) : strlen(label);
        *p++ = (unsigned char)length;
        memcpy(p, label, length); p += length;
        label += length + (dot ? 1 : 0);
    }
    *p++ = 0;
    *p++ = 0; *p++ = 1; *p++ = 0; *p++ = 1;           // A, IN
    return p - out;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) { fprintf(stderr, "usage: dns-wait SERVER NAME SECONDS [MS]\n"); return 2; }
    double pace = argc == 5 ? atof(argv[4]) / 1000 : 0.001;
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(53)};
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) { fprintf(stderr, "dns-wait: bad address %s\n", argv[1]); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("dns-wait: socket"); return 2; }
    double deadline = now(CLOCK_MONOTONIC) + atof(argv[3]);
    unsigned char query[300], reply[1500];
    long sent = 0;
    int told = 0;
    // A query every pace, whatever came back: a slow negative answer (a forward
    // upstream) does not delay the next question.
    for (uint16_t id = 1; now(CLOCK_MONOTONIC) < deadline; id++) {
        double next = now(CLOCK_MONOTONIC) + pace;
        size_t length = encode(query, argv[2], id);
        if (send(fd, query, length, 0) == (ssize_t)length) sent++;
        for (double rest; (rest = next - now(CLOCK_MONOTONIC)) > 0;) {
            struct pollfd waiting = {.fd = fd, .events = POLLIN};
            if (poll(&waiting, 1, (int)(rest * 1000) + 1) != 1) continue;
            ssize_t n = recv(fd, reply, sizeof reply, 0);
            if (n < 12 || (reply[2] & 0x80) == 0) continue;
            double arrived = now(CLOCK_REALTIME);
            int rcode = reply[3] & 0x0f, answers = reply[6] << 8 | reply[7];
            if (rcode == 0 && answers > 0) {
                printf("%.9f %ld\n", arrived, sent);
                return 0;
            }
            if (!told) { printf("ready\n"); fflush(stdout); told = 1; }
        }
    }
    fprintf(stderr, "dns-wait: no address for %s after %s s (%ld queries)\n", argv[2], argv[3], sent);
    return 1;
}
