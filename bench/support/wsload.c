// wsload: a WebSocket load generator in C, for benchmarks on a box whose cores the load
// generator shares with the server (issue #15's "load generator included" on 2 cores).
//
// Why C: the JavaScript load generator (`wirehub bench`, the `ws` client) spends more CPU per
// message than the server it measures (≈7 µs per echo against the server's ≈4.6 µs), so on two
// cores it, not the server, sets the ceiling. This one is a single epoll loop: no per-message
// allocation, frames parsed in place, outgoing frames masked with a zero key (valid framing,
// no XOR pass), all replies of one wake-up written with one write(2) per connection.
//
// Modes (all over plain ws://, one thread):
//   echo    N connections, each keeping W messages in flight; a reply must carry the sequence
//           number sent (per connection, in order); round-trip latency per message.
//   fanout  N subscribers of a broadcast endpoint (every text frame sent goes to every client,
//           the sender included); connection 0 publishes (or connections 0..P-1 in turn, with
//           --publishers P), flat out (K publications not yet received by everyone) or at a
//           fixed rate (latency from when each was due, so a stalled server cannot hide its
//           queueing). Loss is checked per subscriber, order per subscriber and publisher (the
//           server orders one publisher's messages, not two publishers' against each other).
//
// It reads the server's CPU (the process and its children: a `--workers` primary and its
// workers), write syscalls and RSS from /proc at the edges of the measured window, and its own
// CPU from getrusage, and prints one JSON object on stdout. bench/support/native-load.ts builds
// and runs it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------- options

static struct {
  const char *mode;
  const char *host;
  int port;
  const char *path;
  int connections;
  int window;       // echo: messages in flight per connection
  int in_flight;    // fanout flat out: publications not yet received by all
  double rate;      // fanout: publications per second; 0 = flat out
  int publishers;   // fanout: connections 0..publishers-1 publish in turn
  int payload;      // bytes per message (at least the sequence header)
  long warmup_ms;
  long duration_ms;
  long drain_ms;
  long count;       // stop sending after this many messages/publications (0 = no bound)
  int server_pid;
} opt = {"echo", "127.0.0.1", 0, "/", 50, 10, 8, 0, 1, 64, 1000, 4000, 5000, 0, 0};

// ---------------------------------------------------------------- errors

#define MAX_ERRORS 8
static char errors[MAX_ERRORS][160];
static int n_errors;

static void error_note(const char *fmt, ...) {
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (int i = 0; i < n_errors; i++)
    if (strcmp(errors[i], line) == 0) return;
  if (n_errors < MAX_ERRORS) snprintf(errors[n_errors++], sizeof errors[0], "%s", line);
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "wsload: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

// ---------------------------------------------------------------- time and latency

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Log-linear histogram of microseconds: exact below 128, then 64 steps per power of two (~1.6%).
#define HIST_BUCKETS (128 + 40 * 64)
static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_count, hist_max;
static double hist_sum_us;

static int bucket_of(uint64_t us) {
  if (us < 128) return (int)us;
  int e = 63 - __builtin_clzll(us);
  int i = 128 + (e - 7) * 64 + (int)((us >> (e - 6)) & 63);
  return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static double bucket_value(int i) {
  if (i < 128) return i;
  int e = (i - 128) / 64 + 7;
  int sub = (i - 128) % 64;
  return (double)((64ull + (uint64_t)sub) << (e - 6)) + (double)(1ull << (e - 6)) / 2;
}

static void record(uint64_t ns) {
  uint64_t us = ns / 1000;
  hist[bucket_of(us)]++;
  hist_count++;
  hist_sum_us += (double)ns / 1000.0;
  if (us > hist_max) hist_max = us;
}

static double quantile_ms(double q) {
  if (hist_count == 0) return 0;
  uint64_t want = (uint64_t)(q * (double)hist_count);
  if (want >= hist_count) want = hist_count - 1;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += hist[i];
    if (seen > want) return bucket_value(i) / 1000.0;
  }
  return (double)hist_max / 1000.0;
}

// ---------------------------------------------------------------- /proc readings

typedef struct {
  double cpu_ms, system_ms, children_cpu_ms;
  double writes;
  double rss_bytes;
} server_sample;

static long clk_tck;

static int read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return (int)n;
}

// utime + stime (and stime alone) of one process, in ms; -1 when it is gone.
static double proc_cpu_ms(int pid, double *system_ms) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (read_file(path, buf, sizeof buf) < 0) return -1;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2;
  // p is at field 3 (state); utime and stime are fields 14 and 15.
  unsigned long utime = 0, stime = 0;
  int field = 3;
  char *save = NULL;
  for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
    if (field == 14) utime = strtoul(tok, NULL, 10);
    if (field == 15) {
      stime = strtoul(tok, NULL, 10);
      break;
    }
  }
  if (system_ms) *system_ms = stime * 1000.0 / clk_tck;
  return (utime + stime) * 1000.0 / clk_tck;
}

static double proc_rss_bytes(int pid) {
  char path[64], buf[8192];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  if (read_file(path, buf, sizeof buf) < 0) return 0;
  char *p = strstr(buf, "VmRSS:");
  return p ? strtod(p + 6, NULL) * 1024 : 0;
}

static double proc_writes(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/io", pid);
  if (read_file(path, buf, sizeof buf) < 0) return -1;
  char *p = strstr(buf, "syscw:");
  return p ? strtod(p + 6, NULL) : -1;
}

// The server process and its children (the workers of a `--workers` primary), added up.
static server_sample sample_server(void) {
  server_sample s = {0};
  if (opt.server_pid <= 0) return s;
  s.cpu_ms = proc_cpu_ms(opt.server_pid, &s.system_ms);
  s.writes = proc_writes(opt.server_pid);
  s.rss_bytes = proc_rss_bytes(opt.server_pid);
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", opt.server_pid);
  DIR *d = opendir(dir);
  if (!d) return s;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[352], buf[4096];
    snprintf(path, sizeof path, "%s/%s/children", dir, e->d_name);
    if (read_file(path, buf, sizeof buf) <= 0) continue;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
      int child = atoi(tok);
      double sys = 0, cpu = proc_cpu_ms(child, &sys);
      if (cpu < 0) continue;
      s.children_cpu_ms += cpu;
      s.system_ms += sys;
      s.rss_bytes += proc_rss_bytes(child);
      double w = proc_writes(child);
      if (w >= 0 && s.writes >= 0) s.writes += w;
    }
  }
  closedir(d);
  return s;
}

static double self_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

// ---------------------------------------------------------------- connections

typedef struct {
  unsigned char *data;
  size_t len, cap;
} buffer;

static void reserve(buffer *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) die("out of memory");
  b->cap = cap;
}

typedef struct conn {
  int fd;
  int open;
  int dirty;      // has output queued and is on the flush list
  int want_out;   // registered for EPOLLOUT (the socket buffer was full)
  buffer in, out;
  size_t out_off;
  // echo: sequence numbers sent and expected back, and when each in-flight one was sent
  uint64_t next_send, next_reply;
  uint64_t *sent_at;  // ring of `window` entries
  // fanout: the next publication this subscriber should see from each publisher (publication
  // `seq` comes from publisher seq % P)
  uint64_t *next_seq;
  // a fragmented message's sequence number, from its first frame
  int64_t frag_seq;
} conn;

static conn *conns;
static int n_open;
static int epfd;
static conn **flush_list;
static int n_flush;

static int connect_one(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  if (inet_pton(AF_INET, opt.host, &a.sin_addr) != 1) die("bad host %s", opt.host);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    error_note("connect: %s", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

// The opening handshake, blocking. Bytes the server sent after its 101 stay in `c->in`.
static int handshake(conn *c) {
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: d3Nsb2FkLWJlbmNobWFyaw==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   opt.path, opt.host, opt.port);
  if (write(c->fd, req, (size_t)n) != n) {
    error_note("handshake write: %s", strerror(errno));
    return -1;
  }
  char head[4096];
  size_t got = 0;
  char *end = NULL;
  while (!end) {
    if (got == sizeof head - 1) {
      error_note("handshake: response head too long");
      return -1;
    }
    ssize_t r = read(c->fd, head + got, sizeof head - 1 - got);
    if (r <= 0) {
      error_note("handshake read: %s", r == 0 ? "closed" : strerror(errno));
      return -1;
    }
    got += (size_t)r;
    head[got] = 0;
    end = strstr(head, "\r\n\r\n");
  }
  if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr(head, "\r\n");
    if (eol) *eol = 0;
    error_note("handshake refused: %s", head);
    return -1;
  }
  size_t body = (size_t)(end + 4 - head);
  if (got > body) {
    reserve(&c->in, got - body);
    memcpy(c->in.data, head + body, got - body);
    c->in.len = got - body;
  }
  return 0;
}

static void mark_dirty(conn *c) {
  if (c->dirty) return;
  c->dirty = 1;
  flush_list[n_flush++] = c;
}

// A client frame: FIN + opcode, the mask bit with a zero key, so the payload goes out as is.
static void queue_frame(conn *c, int opcode, const unsigned char *payload, size_t len) {
  reserve(&c->out, len + 14);
  unsigned char *p = c->out.data + c->out.len;
  *p++ = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    *p++ = (unsigned char)(0x80 | len);
  } else if (len < 65536) {
    *p++ = 0x80 | 126;
    *p++ = (unsigned char)(len >> 8);
    *p++ = (unsigned char)len;
  } else {
    *p++ = 0x80 | 127;
    for (int i = 7; i >= 0; i--) *p++ = (unsigned char)((uint64_t)len >> (8 * i));
  }
  memset(p, 0, 4);
  p += 4;
  memcpy(p, payload, len);
  p += len;
  c->out.len = (size_t)(p - c->out.data);
  mark_dirty(c);
}

static unsigned char *filler;

// A text message "<seq>:" padded with 'x' to the payload size.
static void queue_message(conn *c, uint64_t seq) {
  char head[24];
  int n = snprintf(head, sizeof head, "%llu:", (unsigned long long)seq);
  size_t len = (size_t)opt.payload > (size_t)n ? (size_t)opt.payload : (size_t)n;
  memcpy(filler, head, (size_t)n);
  queue_frame(c, 1, filler, len);
}

static void close_conn(conn *c, const char *why) {
  if (!c->open) return;
  c->open = 0;
  n_open--;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (why) error_note("%s", why);
}

static void flush(conn *c) {
  c->dirty = 0;
  if (!c->open) return;
  while (c->out_off < c->out.len) {
    ssize_t w = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!c->want_out) {
          struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
          c->want_out = 1;
        }
        return;
      }
      close_conn(c, "write failed");
      return;
    }
    c->out_off += (size_t)w;
  }
  c->out.len = 0;
  c->out_off = 0;
  if (c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = 0;
  }
}

// ---------------------------------------------------------------- the run

enum phase { WARMUP, MEASURE, DRAIN, DONE };
static enum phase phase = WARMUP;
static int sending = 1;

static uint64_t sent_total;        // echo messages or fan-out publications sent
static uint64_t received_total;    // echo replies or fan-out deliveries received
static uint64_t mismatched, out_of_order, disconnects, saturated;
static uint64_t expected_deliveries;

// Fan-out: publications not yet received by every subscriber, in a ring by sequence number.
#define RING 1048576
static struct {
  uint64_t due;
  int remaining;
} *ring;
static uint64_t oldest_open;  // lowest sequence number that may still be outstanding
static uint64_t outstanding;

// The sequence number of a message "<seq>:xxxx", after a short prefix an endpoint may add
// (the guide's `/echo` answers "Echo: <text>"); -1 when there is none.
static int64_t parse_seq(const unsigned char *p, size_t len) {
  size_t i = 0;
  while (i < len && i < 16 && (p[i] < '0' || p[i] > '9')) i++;
  size_t first = i;
  int64_t v = 0;
  for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) v = v * 10 + (p[i] - '0');
  return i > first && i < len && p[i] == ':' ? v : -1;
}

static void publish(uint64_t due) {
  conn *pub = &conns[sent_total % (uint64_t)opt.publishers];
  if (!pub->open) return;
  uint64_t seq = sent_total++;
  ring[seq % RING].due = due;
  ring[seq % RING].remaining = n_open;
  outstanding++;
  expected_deliveries += (uint64_t)n_open;
  queue_message(pub, seq);
  if (opt.count && sent_total >= (uint64_t)opt.count) sending = 0;
}

static void on_fanout_message(conn *c, int64_t seq, uint64_t now) {
  received_total++;
  if (seq < 0 || (uint64_t)seq >= sent_total) {
    mismatched++;
    return;
  }
  uint64_t *next = &c->next_seq[(uint64_t)seq % (uint64_t)opt.publishers];
  if ((uint64_t)seq != *next) out_of_order++;
  *next = (uint64_t)seq + (uint64_t)opt.publishers;
  if ((uint64_t)seq < oldest_open || sent_total - (uint64_t)seq > RING) return;
  int *remaining = &ring[seq % RING].remaining;
  if (*remaining <= 0) return;
  record(now - ring[seq % RING].due);
  if (--*remaining == 0) {
    outstanding--;
    while (oldest_open < sent_total && ring[oldest_open % RING].remaining <= 0) oldest_open++;
    if (opt.rate <= 0 && sending && phase != DRAIN) publish(now_ns());
  }
}

static void on_echo_message(conn *c, int64_t seq, uint64_t now) {
  received_total++;
  if (seq < 0 || (uint64_t)seq != c->next_reply) mismatched++;
  record(now - c->sent_at[c->next_reply % (uint64_t)opt.window]);
  c->next_reply++;
  if (sending && phase != DRAIN && (!opt.count || sent_total < (uint64_t)opt.count)) {
    c->sent_at[c->next_send % (uint64_t)opt.window] = now;
    queue_message(c, c->next_send++);
    sent_total++;
  }
}

static int is_fanout;

// Everything sent has been answered (echo) or received by every subscriber (fan-out).
static int settled(void) {
  if (is_fanout) return outstanding == 0;
  for (int i = 0; i < opt.connections; i++)
    if (conns[i].open && conns[i].next_reply != conns[i].next_send) return 0;
  return 1;
}

// Parses every complete frame in the connection's input; returns -1 if it closed.
static int on_readable(conn *c, uint64_t now) {
  for (;;) {
    reserve(&c->in, 65536);
    size_t space = c->in.cap - c->in.len;
    ssize_t r = read(c->fd, c->in.data + c->in.len, space);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      close_conn(c, "read failed");
      disconnects++;
      return -1;
    }
    if (r == 0) {
      close_conn(c, "server closed the connection without a close frame");
      disconnects++;
      return -1;
    }
    c->in.len += (size_t)r;
    if ((size_t)r < space) break;  // a short read: the socket is drained
  }
  size_t off = 0;
  while (c->in.len - off >= 2) {
    unsigned char *p = c->in.data + off;
    size_t avail = c->in.len - off;
    int fin = p[0] & 0x80, opcode = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (p[1] & 0x80) {
      close_conn(c, "server sent a masked frame");
      return -1;
    }
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 2; i < 10; i++) len = (len << 8) | p[i];
      hdr = 10;
    }
    if (avail < hdr + len) {
      reserve(&c->in, hdr + len - avail);
      break;
    }
    const unsigned char *payload = p + hdr;
    off += hdr + len;
    if (opcode == 0x9) {
      queue_frame(c, 0xA, payload, len);
    } else if (opcode == 0x8) {
      unsigned code = len >= 2 ? (unsigned)(payload[0] << 8 | payload[1]) : 1005;
      error_note("server closed the connection: %u %.*s", code, (int)(len > 2 ? len - 2 : 0),
                 payload + 2);
      disconnects++;
      close_conn(c, NULL);
      return -1;
    } else if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
      int64_t seq = opcode == 0x0 ? c->frag_seq : parse_seq(payload, len);
      if (!fin) {
        c->frag_seq = seq;
        continue;
      }
      if (is_fanout) on_fanout_message(c, seq, now);
      else on_echo_message(c, seq, now);
    }
  }
  if (off > 0) {
    memmove(c->in.data, c->in.data + off, c->in.len - off);
    c->in.len -= off;
  }
  return 0;
}

static const char *arg_value(int *i, int argc, char **argv) {
  if (*i + 1 >= argc) die("%s needs a value", argv[*i]);
  return argv[++*i];
}

static void parse_args(int argc, char **argv) {
  if (argc < 2) die("usage: wsload echo|fanout --port P [--path /p] [options]");
  opt.mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--host")) opt.host = arg_value(&i, argc, argv);
    else if (!strcmp(a, "--port")) opt.port = atoi(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--path")) opt.path = arg_value(&i, argc, argv);
    else if (!strcmp(a, "--connections")) opt.connections = atoi(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--window")) opt.window = atoi(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--in-flight")) opt.in_flight = atoi(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--rate")) opt.rate = atof(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--publishers")) opt.publishers = atoi(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--payload")) opt.payload = atoi(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--warmup-ms")) opt.warmup_ms = atol(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--duration-ms")) opt.duration_ms = atol(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--drain-ms")) opt.drain_ms = atol(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--count")) opt.count = atol(arg_value(&i, argc, argv));
    else if (!strcmp(a, "--server-pid")) opt.server_pid = atoi(arg_value(&i, argc, argv));
    else die("unknown option %s", a);
  }
  if (strcmp(opt.mode, "echo") && strcmp(opt.mode, "fanout")) die("unknown mode %s", opt.mode);
  if (opt.port <= 0) die("--port is required");
  if (opt.connections < 1 || opt.window < 1 || opt.in_flight < 1 || opt.publishers < 1)
    die("counts must be >= 1");
  if (opt.publishers > opt.connections) die("--publishers is at most --connections");
  if (opt.payload < 1 || opt.payload > 16 * 1024 * 1024) die("--payload out of range");
}

static void json_sample(const char *name, server_sample a, server_sample b, int last) {
  printf("\"%s\":{\"cpuMs\":%.1f,\"childrenCpuMs\":%.1f,\"systemMs\":%.1f,\"writes\":%.0f,"
         "\"rssStartBytes\":%.0f,\"rssEndBytes\":%.0f}%s",
         name, b.cpu_ms - a.cpu_ms, b.children_cpu_ms - a.children_cpu_ms, b.system_ms - a.system_ms,
         a.writes >= 0 && b.writes >= 0 ? b.writes - a.writes : -1, a.rss_bytes, b.rss_bytes,
         last ? "" : ",");
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  clk_tck = sysconf(_SC_CLK_TCK);
  is_fanout = !strcmp(opt.mode, "fanout");
  filler = malloc((size_t)opt.payload + 32);
  memset(filler, 'x', (size_t)opt.payload + 32);
  ring = calloc(RING, sizeof *ring);
  conns = calloc((size_t)opt.connections, sizeof *conns);
  flush_list = calloc((size_t)opt.connections, sizeof *flush_list);
  if (!filler || !ring || !conns || !flush_list) die("out of memory");
  epfd = epoll_create1(0);

  int failures = 0;
  for (int i = 0; i < opt.connections; i++) {
    conn *c = &conns[i];
    c->frag_seq = -1;
    if (is_fanout) {
      c->next_seq = calloc((size_t)opt.publishers, sizeof(uint64_t));
      if (!c->next_seq) die("out of memory");
      for (int k = 0; k < opt.publishers; k++) c->next_seq[k] = (uint64_t)k;
    }
    c->fd = connect_one();
    if (c->fd < 0 || handshake(c) < 0) {
      if (c->fd >= 0) close(c->fd);
      failures++;
      continue;
    }
    struct timeval zero = {0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
    if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
    c->open = 1;
    n_open++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    if (!is_fanout) c->sent_at = calloc((size_t)opt.window, sizeof(uint64_t));
  }
  int publishers_open = 1;
  for (int k = 0; is_fanout && k < opt.publishers; k++) publishers_open &= conns[k].open;
  if (n_open == 0 || !publishers_open) {
    printf("{\"mode\":\"%s\",\"connections\":0,\"connectFailures\":%d,\"errors\":[\"%s\"]}\n",
           opt.mode, failures, n_errors ? errors[0] : "no connection");
    return 1;
  }

  uint64_t start = now_ns();
  uint64_t measure_at = start + (uint64_t)opt.warmup_ms * 1000000ull;
  uint64_t stop_at = measure_at + (uint64_t)opt.duration_ms * 1000000ull;
  uint64_t drain_until = 0;
  uint64_t period = opt.rate > 0 ? (uint64_t)(1e9 / opt.rate) : 0;
  uint64_t next_due = start;
  uint64_t max_outstanding = opt.rate > 0 ? (uint64_t)(opt.rate * 5 > 100 ? opt.rate * 5 : 100) : 0;

  // Start the load: every echo connection fills its window; flat-out fan-out fills in-flight.
  if (is_fanout) {
    if (opt.rate <= 0)
      for (int k = 0; k < opt.in_flight && sending; k++) publish(start);
  } else {
    for (int i = 0; i < opt.connections; i++) {
      conn *c = &conns[i];
      if (!c->open) continue;
      for (int k = 0; k < opt.window && (!opt.count || sent_total < (uint64_t)opt.count); k++) {
        c->sent_at[c->next_send % (uint64_t)opt.window] = start;
        queue_message(c, c->next_send++);
        sent_total++;
      }
    }
  }

  server_sample s0 = {0}, s1 = {0};
  double self0 = 0, self1 = 0;
  uint64_t recv0 = 0, recv1 = 0, sent0 = 0, sent1 = 0, t0 = 0, t1 = 0;
  struct epoll_event events[256];

  while (phase != DONE) {
    for (int i = 0; i < n_flush; i++) flush(flush_list[i]);
    n_flush = 0;
    uint64_t now = now_ns();
    if (phase == WARMUP && now >= measure_at) {
      phase = MEASURE;
      hist_count = hist_max = 0;
      hist_sum_us = 0;
      memset(hist, 0, sizeof hist);
      s0 = sample_server();
      self0 = self_cpu_ms();
      recv0 = received_total;
      sent0 = sent_total;
      t0 = now;
    }
    // A run bounded by --count ends its window once all of it is sent and settled: the
    // duration is then only an upper bound (a slow machine must not cut a counted run short).
    if (phase == MEASURE && opt.count && sent_total >= (uint64_t)opt.count && settled()) stop_at = now;
    if (phase == MEASURE && now >= stop_at) {
      s1 = sample_server();
      self1 = self_cpu_ms();
      recv1 = received_total;
      sent1 = sent_total;
      t1 = now;
      phase = DRAIN;
      sending = 0;
      drain_until = now + (uint64_t)opt.drain_ms * 1000000ull;
    }
    if (phase == DRAIN) {
      if (settled() || now >= drain_until || n_open == 0) {
        phase = DONE;
        break;
      }
    }
    // Fixed rate: publish every publication that is due (open loop), unless saturated.
    if (is_fanout && opt.rate > 0 && sending && phase != DRAIN) {
      while (next_due <= now && sending) {
        if (outstanding >= max_outstanding) {
          saturated = 1;
          sending = 0;
          error_note("saturated: %llu publications outstanding", (unsigned long long)outstanding);
          break;
        }
        publish(next_due);
        next_due += period;
      }
      if (n_flush) continue;
    }
    uint64_t wake = phase == WARMUP ? measure_at : phase == MEASURE ? stop_at : drain_until;
    if (is_fanout && opt.rate > 0 && sending && next_due < wake) wake = next_due;
    int timeout = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
    int n = epoll_wait(epfd, events, 256, timeout);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    now = now_ns();
    for (int i = 0; i < n; i++) {
      conn *c = events[i].data.ptr;
      if (!c->open) continue;
      if (events[i].events & EPOLLOUT) flush(c);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c, now);
    }
  }

  uint64_t lost = 0;
  if (is_fanout)
    for (uint64_t s = oldest_open; s < sent_total; s++)
      if (ring[s % RING].remaining > 0) lost += (uint64_t)ring[s % RING].remaining;
  double window_ms = t1 > t0 ? (double)(t1 - t0) / 1e6 : 0;
  uint64_t messages = recv1 - recv0;
  printf("{\"mode\":\"%s\",\"connections\":%d,\"connectFailures\":%d,\"publishers\":%d,"
         "\"windowMs\":%.1f,",
         opt.mode, opt.connections - failures, failures, is_fanout ? opt.publishers : 0, window_ms);
  printf("\"messages\":%llu,\"perSec\":%.1f,\"sentInWindow\":%llu,\"sent\":%llu,\"received\":%llu,",
         (unsigned long long)messages, window_ms > 0 ? messages / (window_ms / 1000) : 0,
         (unsigned long long)(sent1 - sent0), (unsigned long long)sent_total,
         (unsigned long long)received_total);
  printf("\"expectedDeliveries\":%llu,\"lost\":%llu,\"outOfOrder\":%llu,\"mismatched\":%llu,"
         "\"disconnects\":%llu,\"saturated\":%llu,",
         (unsigned long long)expected_deliveries, (unsigned long long)lost,
         (unsigned long long)out_of_order, (unsigned long long)mismatched,
         (unsigned long long)disconnects, (unsigned long long)saturated);
  printf("\"latencyMs\":{\"count\":%llu,\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
         "\"max\":%.3f},",
         (unsigned long long)hist_count, hist_count ? hist_sum_us / (double)hist_count / 1000.0 : 0,
         quantile_ms(0.5), quantile_ms(0.9), quantile_ms(0.99), hist_max / 1000.0);
  json_sample("server", s0, s1, 0);
  printf("\"selfCpuMs\":%.1f,\"errors\":[", self1 - self0);
  for (int i = 0; i < n_errors; i++) {
    printf("%s\"", i ? "," : "");
    for (const char *p = errors[i]; *p; p++) {
      if (*p == '"' || *p == '\\') putchar('\\');
      putchar((unsigned char)*p < 32 ? ' ' : *p);
    }
    putchar('"');
  }
  printf("]}\n");
  return 0;
}
