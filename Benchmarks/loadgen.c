/* A bounded TCP load generator for netctl's firewall benchmark (no peer tool here measures
 * connection rate):
 *   loadgen serve PORT            accept; read until EOF; close (runs until killed)
 *   loadgen connect IP PORT SECS  connect, close, repeat for SECS seconds; prints conn/s
 *   loadgen stream IP PORT SECS   send for SECS seconds over one connection; prints Gbit/s
 * IPv4 only; every address it is given comes from the benchmark's own namespaces. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in address(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); exit(2); }
    return a;
}

static int serve(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 1024)) { perror("bind"); return 1; }
    static char buffer[1 << 16];
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        while (read(c, buffer, sizeof buffer) > 0) {}
        close(c);
    }
}

static int connections(const char *ip, int port, double seconds) {
    struct sockaddr_in a = address(ip, port);
    long count = 0;
    double start = now(), end = start + seconds;
    while (now() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct linger l = {1, 0}; /* RST on close: no TIME_WAIT pile-up over a long run */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
        close(fd);
        count++;
    }
    printf("%.0f\n", count / (now() - start));
    return 0;
}

static int stream(const char *ip, int port, double seconds) {
    struct sockaddr_in a = address(ip, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    static char buffer[1 << 16];
    double sent = 0, start = now(), end = start + seconds;
    while (now() < end) {
        ssize_t n = write(fd, buffer, sizeof buffer);
        if (n <= 0) { perror("write"); return 1; }
        sent += n;
    }
    printf("%.2f\n", sent * 8 / (now() - start) / 1e9);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && !strcmp(argv[1], "serve")) return serve(atoi(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "connect")) return connections(argv[2], atoi(argv[3]), atof(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "stream")) return stream(argv[2], atoi(argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: loadgen serve PORT | connect IP PORT SECS | stream IP PORT SECS\n");
    return 2;
}
