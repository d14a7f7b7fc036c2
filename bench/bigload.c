/*
 * A load generator for large bodies: N keep-alive connections, one GET at a time on each, read with
 * 1 MiB read() calls. wrk reads 8 KiB per call, so at 10 MiB bodies its own core saturates before a
 * fast server's does; this client measures the server instead. Content-Length framed 200s only.
 *
 *   bigload HOST PORT PATH CONNECTIONS SECONDS     prints one JSON line
 *
 * Compiled by bench/bigload.ts (cc -O2) into bench/out/.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (1 << 20)
#define HEAD_MAX 16384
#define MAX_SAMPLES 1000000

struct conn {
  int fd;
  int in_head;
  size_t head_len;
  long long need;
  long long got;
  double started;
  char head[HEAD_MAX + 1];
};

static char request[1024];
static size_t request_len;
static long long errors;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void send_request(struct conn *c) {
  c->in_head = 1;
  c->head_len = 0;
  c->need = 0;
  c->got = 0;
  c->started = now();
  if (write(c->fd, request, request_len) != (ssize_t)request_len) {
    perror("bigload: write");
    exit(1);
  }
}

/* Consumes head bytes; returns how many were used, or -1 while the head is incomplete (all used). */
static long take_head(struct conn *c, const char *p, size_t n) {
  size_t room = HEAD_MAX - c->head_len;
  size_t take = n < room ? n : room;
  memcpy(c->head + c->head_len, p, take);
  size_t before = c->head_len;
  c->head_len += take;
  c->head[c->head_len] = 0;
  char *end = strstr(c->head, "\r\n\r\n");
  if (end == NULL) {
    if (c->head_len == HEAD_MAX) {
      fprintf(stderr, "bigload: response head larger than %d bytes\n", HEAD_MAX);
      exit(1);
    }
    return -1;
  }
  size_t head_size = (size_t)(end + 4 - c->head);
  if (strncmp(c->head, "HTTP/1.1 200 ", 13) != 0) errors++;
  char *cl = strcasestr(c->head, "\r\ncontent-length:");
  if (cl == NULL) {
    fprintf(stderr, "bigload: response without Content-Length\n");
    exit(1);
  }
  c->need = atoll(cl + 17);
  c->in_head = 0;
  return (long)(head_size - before);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: bigload HOST PORT PATH CONNECTIONS SECONDS\n");
    return 2;
  }
  int n = atoi(argv[4]);
  double seconds = atof(argv[5]);
  if (n < 1 || n > 10000 || seconds <= 0) {
    fprintf(stderr, "bigload: bad CONNECTIONS or SECONDS\n");
    return 2;
  }
  int len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: peerweb-bench\r\n\r\n", argv[3], argv[1], argv[2]);
  if (len < 0 || (size_t)len >= sizeof request) {
    fprintf(stderr, "bigload: request line too long\n");
    return 2;
  }
  request_len = (size_t)len;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "bigload: HOST must be an IPv4 address\n");
    return 2;
  }
  int ep = epoll_create1(0);
  struct conn *conns = calloc((size_t)n, sizeof *conns);
  char *buf = malloc(READ_SIZE);
  double *samples = malloc(sizeof(double) * MAX_SAMPLES);
  if (ep < 0 || conns == NULL || buf == NULL || samples == NULL) {
    perror("bigload");
    return 1;
  }
  for (int i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      perror("bigload: connect");
      return 1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  long long done = 0;
  long nsamples = 0;
  double start = now();
  double stop = start + seconds;
  for (int i = 0; i < n; i++) send_request(&conns[i]);
  struct epoll_event events[64];
  while (now() < stop) {
    int k = epoll_wait(ep, events, 64, 100);
    for (int j = 0; j < k; j++) {
      struct conn *c = events[j].data.ptr;
      ssize_t r = read(c->fd, buf, READ_SIZE);
      if (r <= 0) {
        fprintf(stderr, "bigload: connection closed by the server (%s)\n", r == 0 ? "EOF" : strerror(errno));
        return 1;
      }
      const char *p = buf;
      size_t left = (size_t)r;
      while (left > 0) {
        if (c->in_head) {
          long used = take_head(c, p, left);
          if (used < 0) break;
          p += used;
          left -= (size_t)used;
        }
        long long want = c->need - c->got;
        size_t take = (long long)left < want ? left : (size_t)want;
        c->got += (long long)take;
        p += take;
        left -= take;
        if (c->got == c->need) {
          done++;
          if (nsamples < MAX_SAMPLES) samples[nsamples++] = now() - c->started;
          if (left > 0) {
            fprintf(stderr, "bigload: bytes after the end of a response\n");
            return 1;
          }
          send_request(c);
        }
      }
    }
  }
  double elapsed = now() - start;
  qsort(samples, (size_t)nsamples, sizeof(double), cmp_double);
  double p50 = nsamples ? samples[nsamples / 2] * 1000 : 0;
  double p99 = nsamples ? samples[(long)((double)nsamples * 0.99)] * 1000 : 0;
  printf("{\"requests\":%lld,\"seconds\":%.3f,\"reqPerSec\":%.1f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"errors\":%lld}\n", done, elapsed, (double)done / elapsed, p50, p99, errors);
  return 0;
}
