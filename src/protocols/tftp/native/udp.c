/*
 * Native datagram path for TFTP transfers (docs/tftp.md "Native datagram
 * path", docs/decisions.md). One TransferSocket owns a non-blocking UDP socket
 * bound to an ephemeral port and connected to the client (RFC 1350 section 4:
 * one TID per transfer; the kernel drops datagrams from any other TID). It is
 * watched with a uv_poll_t on the loop of the environment that created it, so
 * it works on the main thread and in worker threads.
 *
 * Per readable event: one recvmmsg into a receive Buffer that JavaScript
 * shares (fixed slots, lengths written into a shared Int32Array), then one
 * call of the JS callback with the count. No per-datagram allocation, no
 * address object, no second read that returns EAGAIN. send() is send(2) from
 * the caller's Buffer: no copy and no request object. Timers stay in
 * JavaScript.
 *
 * Window engine (octet read transfers, docs/tftp.md "Native datagram path"):
 * once JavaScript has handled the OACK phase it calls go(), and from then on
 * every ACK in a batch is handled here, without entering JavaScript, by the
 * same rules as ReadTransfer (transfer.ts):
 *  - block numbers are 16 bits on the wire and roll over past 65535; an ACK is
 *    mapped onto [base-1, next-1] (the blocks sent so far);
 *  - RFC 1123 section 4.2.3.1: a duplicate ACK is counted and never sends;
 *  - an ACK for a block never sent is counted as ignored;
 *  - RFC 7440 section 4: an ACK for block n acknowledges every block up to n,
 *    the sender continues from n + 1 (resending the rest of a partially lost
 *    window) and sends while next < base + windowsize;
 *  - RFC 1350 section 6: the ACK of the final (short, possibly empty) block
 *    completes the transfer.
 * A window goes out in one sendmmsg, each DATA a 2-element iovec (a 4-byte
 * header, the payload straight from a file chunk). The file's bytes are
 * Buffers fed by JavaScript (feed()); the engine holds them referenced until
 * every block in them is acknowledged and asks for more (onEvent(NEED)) when
 * it runs short; a block not yet fed stalls the window until the next feed.
 * No file I/O and no mmap here (a truncated file would SIGBUS). Progress
 * (base, next, counters, the time of the last send) is mirrored into a
 * Float64Array JavaScript reads for its retransmission timer and the result;
 * on timeout JavaScript calls resend(). ERROR packets, odd datagrams and the
 * OACK phase still go up to JavaScript through onRead.
 *
 * Built by scripts/build-native.sh (gcc, headers from /usr/include/node).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define MAX_SLOTS 64
/* File chunks held at once (the window's chunks plus read-ahead). */
#define MAX_CHUNKS 8
/* DATA packets per sendmmsg call (a larger window is sent in several calls). */
#define MAX_BATCH 256

/* Float64Array state shared with JavaScript (native-socket.ts ENGINE_STATE). */
enum {
  ST_SENT_AT, /* wall clock ms (CLOCK_REALTIME, as Date.now) of the last (re)send */
  ST_BASE,    /* lowest unacknowledged block (absolute) */
  ST_NEXT,    /* next block to send */
  ST_SENT_MAX,/* highest block sent */
  ST_PROGRESS,/* ACKs that moved the window */
  ST_DUPS,    /* duplicate ACKs */
  ST_IGNORED, /* ACKs for blocks never sent */
  ST_FINAL,   /* final block, 0 while unknown */
  ST_FINAL_LEN,
  ST_DROPPED, /* DATA the kernel did not take (EAGAIN, ENOBUFS, EPERM) */
  ST_WANT,    /* 1: the engine wants another chunk (cleared by feed) */
  ST_FED,     /* bytes fed so far */
  ST_COUNT
};

/* onEvent codes. */
#define EV_COMPLETE 1
#define EV_NEED 2

typedef struct {
  napi_ref ref;
  const uint8_t *data;
  uint64_t start; /* file offset of data[0] */
  size_t len;
} chunk_t;

typedef struct engine {
  int configured;
  int active;   /* data phase: ACKs handled here */
  int done;     /* final block acknowledged */
  int last_fed; /* the chunk ending the file was fed */
  int want;     /* a chunk was asked for and not fed yet */
  uint32_t blksize, window;
  uint64_t base, next, sent_max, final, final_len, fed, progress, dups, ignored, dropped;
  double sent_at;
  chunk_t chunks[MAX_CHUNKS];
  unsigned nchunks;
  double *state;
  napi_ref state_ref;
  napi_ref on_event;
  unsigned batch;
  uint8_t (*hdr)[4];
  struct mmsghdr *msgs;
  struct iovec *iov;
} engine_t;

typedef struct transfer_socket {
  napi_env env;
  int fd;
  uv_poll_t poll;
  int polling;      /* uv_poll_init succeeded: the handle must be uv_close()d */
  int closed;       /* close() ran: no more reads, sends or callbacks */
  int handle_done;  /* the poll handle's close callback ran (or it never existed) */
  int finalized;    /* the JS wrapper is gone */
  int in_hook;      /* an env cleanup hook is registered */
  napi_ref on_read;
  napi_ref on_error;
  napi_ref recv_ref;
  napi_ref lens_ref;
  napi_async_context async;
  char *recv;       /* nslots * slot bytes, owned by the JS Buffer in recv_ref */
  int32_t *lens;    /* nslots lengths, owned by the JS Int32Array in lens_ref */
  size_t slot;
  unsigned nslots;
  struct mmsghdr msgs[MAX_SLOTS];
  struct iovec iov[MAX_SLOTS];
  engine_t eng;
} transfer_socket;

static void maybe_free(transfer_socket *s) {
  if (s->handle_done && s->finalized) {
    free(s->eng.hdr);
    free(s->eng.msgs);
    free(s->eng.iov);
    free(s);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  transfer_socket *s = (transfer_socket *)h->data;
  s->handle_done = 1;
  maybe_free(s);
}

static void env_cleanup(void *arg);

/* Stop watching, close the descriptor, drop the JS references. Idempotent. */
static void do_close(transfer_socket *s, int may_use_js) {
  if (s->closed) return;
  s->closed = 1;
  if (s->polling) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  } else {
    s->handle_done = 1;
  }
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  if (s->in_hook) {
    napi_remove_env_cleanup_hook(s->env, env_cleanup, s);
    s->in_hook = 0;
  }
  if (may_use_js) {
    napi_env env = s->env;
    if (s->on_read) napi_delete_reference(env, s->on_read);
    if (s->on_error) napi_delete_reference(env, s->on_error);
    if (s->recv_ref) napi_delete_reference(env, s->recv_ref);
    if (s->lens_ref) napi_delete_reference(env, s->lens_ref);
    if (s->async) napi_async_destroy(env, s->async);
    if (s->eng.state_ref) napi_delete_reference(env, s->eng.state_ref);
    if (s->eng.on_event) napi_delete_reference(env, s->eng.on_event);
    for (unsigned i = 0; i < s->eng.nchunks; i++)
      if (s->eng.chunks[i].ref) napi_delete_reference(env, s->eng.chunks[i].ref);
  }
  /* At env teardown (may_use_js == 0) the references die with the environment. */
  s->on_read = s->on_error = s->recv_ref = s->lens_ref = NULL;
  s->async = NULL;
  s->eng.state_ref = s->eng.on_event = NULL;
  s->eng.state = NULL;
  s->eng.nchunks = 0;
  s->eng.active = 0;
}

/* The environment (thread) is going away: release the socket and its handle. */
static void env_cleanup(void *arg) {
  transfer_socket *s = (transfer_socket *)arg;
  s->in_hook = 0; /* being run: Node removes it */
  do_close(s, 0);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  transfer_socket *s = (transfer_socket *)data;
  do_close(s, 0);
  s->finalized = 1;
  maybe_free(s);
}

/* Call a JS callback from the loop, draining microtasks after it (napi_make_callback). */
static void call_js(transfer_socket *s, napi_ref fn_ref, napi_value arg) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (!fn_ref || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || !fn) return;
  /* napi_make_callback needs an object receiver (undefined would throw). */
  napi_get_global(env, &recv);
  napi_status st = napi_make_callback(env, s->async, recv, fn, 1, &arg, &result);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

/* Call `fn` with one integer argument inside its own handle scope. */
static void call_js_int(transfer_socket *s, napi_ref fn, int32_t v) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value arg;
  napi_create_int32(env, v, &arg);
  call_js(s, fn, arg);
  napi_close_handle_scope(env, scope);
}

static void report_error(transfer_socket *s, int err) { call_js_int(s, s->on_error, err); }

/* ---- window engine ---------------------------------------------------- */

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Mirror the engine into the Float64Array JavaScript reads. */
static void sync_state(transfer_socket *s) {
  engine_t *e = &s->eng;
  double *st = e->state;
  if (!st || s->closed) return;
  st[ST_SENT_AT] = e->sent_at;
  st[ST_BASE] = (double)e->base;
  st[ST_NEXT] = (double)e->next;
  st[ST_SENT_MAX] = (double)e->sent_max;
  st[ST_PROGRESS] = (double)e->progress;
  st[ST_DUPS] = (double)e->dups;
  st[ST_IGNORED] = (double)e->ignored;
  st[ST_FINAL] = (double)e->final;
  st[ST_FINAL_LEN] = (double)e->final_len;
  st[ST_DROPPED] = (double)e->dropped;
  st[ST_WANT] = e->want ? 1 : 0;
  st[ST_FED] = (double)e->fed;
}

/*
 * Release the chunks whose blocks are all acknowledged (everything below
 * base), then decide whether to ask for another: while the file is not fully
 * fed, keep at least two chunks (the one being sent and one read ahead) and
 * at least two windows of bytes beyond the last acknowledged block.
 * Returns 1 when a chunk should be asked for now.
 */
static int release_and_check(transfer_socket *s) {
  engine_t *e = &s->eng;
  uint64_t acked = (e->base - 1) * e->blksize;
  unsigned drop = 0;
  /* A resend starts at base, so a chunk that ends at or below block base-1 is never read again. */
  while (drop < e->nchunks && e->chunks[drop].start + e->chunks[drop].len <= acked) drop++;
  if (drop) {
    for (unsigned i = 0; i < drop; i++) napi_delete_reference(s->env, e->chunks[i].ref);
    memmove(e->chunks, e->chunks + drop, (e->nchunks - drop) * sizeof(chunk_t));
    e->nchunks -= drop;
  }
  if (e->last_fed || e->want || e->nchunks >= MAX_CHUNKS) return 0;
  if (e->nchunks < 2 || e->fed < (e->base - 1 + 2 * (uint64_t)e->window) * e->blksize) {
    e->want = 1;
    return 1;
  }
  return 0;
}

/* Payload of block b: 1 (and p, len) when it was fed, else 0 (the window stalls). */
static int block_payload(engine_t *e, uint64_t b, const uint8_t **p, size_t *len) {
  uint64_t off = (b - 1) * e->blksize;
  size_t want = (e->final && b == e->final) ? (size_t)e->final_len : e->blksize;
  if (off + want > e->fed) return 0;
  if (want == 0) {
    *p = NULL;
    *len = 0;
    return 1;
  }
  for (unsigned i = 0; i < e->nchunks; i++) {
    chunk_t *c = &e->chunks[i];
    if (off >= c->start && off + want <= c->start + c->len) {
      *p = c->data + (off - c->start);
      *len = want;
      return 1;
    }
  }
  return 0; /* not reached: non-final chunks are whole blocks */
}

/* sendmmsg msgs[0..n), retrying EINTR. Returns ECONNREFUSED when the peer is gone, else 0 (other failures are counted as dropped). */
static int flush(transfer_socket *s, unsigned n) {
  engine_t *e = &s->eng;
  unsigned off = 0;
  while (off < n) {
    int r = sendmmsg(s->fd, e->msgs + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      off += (unsigned)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    int err = r < 0 ? errno : EIO;
    if (err == ECONNREFUSED) return err;
    /* EAGAIN/ENOBUFS/EPERM: this DATA is lost like a dropped packet; the timer resends it. */
    e->dropped++;
    off++;
  }
  return 0;
}

/*
 * Send blocks from `next` while next < base + window and next <= final
 * (RFC 7440 section 4), in sendmmsg batches; stops early at a block not fed
 * yet. Returns ECONNREFUSED when the peer is gone, else 0.
 */
static int pump(transfer_socket *s) {
  engine_t *e = &s->eng;
  if (!e->active || e->done || s->closed) return 0;
  uint64_t limit = e->base + e->window;
  unsigned n = 0;
  int sent = 0, err = 0;
  while (e->next < limit && (e->final == 0 || e->next <= e->final)) {
    const uint8_t *p;
    size_t len;
    if (!block_payload(e, e->next, &p, &len)) break;
    uint8_t *h = e->hdr[n];
    h[0] = 0;
    h[1] = 3; /* DATA, RFC 1350 figure 5-2 */
    h[2] = (uint8_t)(e->next >> 8);
    h[3] = (uint8_t)e->next;
    struct iovec *iov = &e->iov[2 * n];
    iov[0].iov_base = h;
    iov[0].iov_len = 4;
    iov[1].iov_base = (void *)p;
    iov[1].iov_len = len;
    struct msghdr *m = &e->msgs[n].msg_hdr;
    m->msg_iov = iov;
    m->msg_iovlen = len ? 2 : 1;
    if (e->next > e->sent_max) e->sent_max = e->next;
    e->next++;
    if (++n == e->batch) {
      sent = 1;
      if ((err = flush(s, n)) != 0) break;
      n = 0;
    }
  }
  if (n && !err) {
    sent = 1;
    err = flush(s, n);
  }
  if (sent) e->sent_at = wall_ms();
  return err;
}

/*
 * One ACK in the data phase (the rules of ReadTransfer.onAck). Returns 1 when
 * it completed the transfer; *err gets ECONNREFUSED from a send.
 */
static int engine_ack(transfer_socket *s, uint16_t block, int *err) {
  engine_t *e = &s->eng;
  uint64_t last = e->base - 1;
  /* Map the 16-bit block onto [base-1, next-1] (rollover past 65535). */
  uint16_t d = (uint16_t)(block - (uint16_t)last);
  if (d == 0) {
    /* RFC 1123 section 4.2.3.1: a duplicate ACK never causes a send. */
    e->dups++;
    return 0;
  }
  uint64_t abs = last + d;
  if (abs >= e->next) {
    /* An ACK for a block never sent (future, or from a previous wrap). */
    e->ignored++;
    return 0;
  }
  e->base = abs + 1;
  e->progress++;
  if (e->final && abs >= e->final) {
    e->done = 1;
    e->active = 0;
    return 1;
  }
  /* RFC 7440 section 4: continue after the acknowledged block. */
  if (abs < e->next - 1) e->next = abs + 1;
  int r = pump(s);
  if (r) *err = r;
  return 0;
}

/* Call onEvent(code) (completion, or a chunk wanted). */
static void engine_event(transfer_socket *s, int code) {
  if (!s->closed && s->eng.on_event) call_js_int(s, s->eng.on_event, code);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  transfer_socket *s = (transfer_socket *)h->data;
  (void)events;
  if (s->closed) return;
  if (status < 0) {
    /*
     * libuv reports POLLERR as UV_EBADF and stops polling. On a connected UDP
     * socket POLLERR is a pending socket error, usually ECONNREFUSED (an ICMP
     * port unreachable from the client): report that error instead.
     */
    int err = -status, soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0) err = soerr;
    report_error(s, err);
    return;
  }
  for (unsigned i = 0; i < s->nslots; i++) {
    s->iov[i].iov_base = s->recv + i * s->slot;
    s->iov[i].iov_len = s->slot;
    memset(&s->msgs[i].msg_hdr, 0, sizeof(s->msgs[i].msg_hdr));
    s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
    s->msgs[i].msg_hdr.msg_iovlen = 1;
    s->msgs[i].msg_len = 0;
  }
  /* One batch per readable event; level-triggered polling brings us back for the rest. */
  int n = recvmmsg(s->fd, s->msgs, s->nslots, MSG_DONTWAIT, NULL);
  if (n < 0) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return;
    /* ECONNREFUSED: an ICMP port unreachable from the client on the connected socket. */
    report_error(s, e);
    return;
  }
  if (n == 0) return;
  engine_t *e = &s->eng;
  int up = 0, complete = 0, send_err = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = (int32_t)s->msgs[i].msg_len;
    const uint8_t *d = (const uint8_t *)s->recv + (size_t)i * s->slot;
    if (complete) {
      len = -1; /* the transfer is over: like ReadTransfer after 'done' */
    } else if (e->active && len >= 4 && d[0] == 0 && d[1] == 4) {
      /* ACK (RFC 1350 figure 5-3) in the data phase: handled here. */
      complete = engine_ack(s, (uint16_t)((d[2] << 8) | d[3]), &send_err);
      len = -1;
    } else {
      up++;
    }
    s->lens[i] = len;
  }
  int need = 0;
  if (e->configured) {
    if (!complete) need = release_and_check(s);
    sync_state(s);
  }
  if (up) call_js_int(s, s->on_read, n);
  if (complete) engine_event(s, EV_COMPLETE);
  if (need) engine_event(s, EV_NEED);
  if (send_err && !s->closed) report_error(s, send_err);
}

/* Throw an Error whose `code` is the errno's name (libuv's table, as Node's own errors use). */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, uv_err_name(uv_translate_sys_error(err)), msg);
  return NULL;
}

static int get_ipv4(napi_env env, napi_value v, struct in_addr *out) {
  char buf[64];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok) return 0;
  return inet_pton(AF_INET, buf, out) == 1;
}

/*
 * new TransferSocket(bind, peerAddress, peerPort, recvBuffer, lengths, onRead, onError)
 * Binds an ephemeral port on `bind`, connects to the peer and starts polling.
 * `recvBuffer` is split into lengths.length equal slots. onRead(count) after
 * datagrams were read (lengths[0..count) hold their sizes); onError(errno).
 */
static napi_value ctor(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "TransferSocket: 7 arguments expected");
    return NULL;
  }
  struct in_addr bind_addr, peer_addr;
  if (!get_ipv4(env, argv[0], &bind_addr) || !get_ipv4(env, argv[1], &peer_addr)) {
    napi_throw_type_error(env, "EINVAL", "TransferSocket: bind and peer must be IPv4 literals");
    return NULL;
  }
  uint32_t port;
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port == 0 || port > 65535) {
    napi_throw_type_error(env, "EINVAL", "TransferSocket: bad peer port");
    return NULL;
  }
  void *recv_data;
  size_t recv_len;
  bool is_buf = false;
  napi_is_buffer(env, argv[3], &is_buf);
  if (!is_buf || napi_get_buffer_info(env, argv[3], &recv_data, &recv_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "TransferSocket: recvBuffer must be a Buffer");
    return NULL;
  }
  napi_typedarray_type tt;
  size_t nlens;
  void *lens_data;
  bool is_ta = false;
  napi_is_typedarray(env, argv[4], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[4], &tt, &nlens, &lens_data, NULL, NULL) != napi_ok || tt != napi_int32_array || nlens == 0 || nlens > MAX_SLOTS || recv_len / nlens < 4) {
    napi_throw_type_error(env, NULL, "TransferSocket: lengths must be an Int32Array of 1..64 slots");
    return NULL;
  }
  napi_valuetype t1, t2;
  napi_typeof(env, argv[5], &t1);
  napi_typeof(env, argv[6], &t2);
  if (t1 != napi_function || t2 != napi_function) {
    napi_throw_type_error(env, NULL, "TransferSocket: callbacks expected");
    return NULL;
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr = bind_addr;
  sa.sin_port = 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  sa.sin_addr = peer_addr;
  sa.sin_port = htons((uint16_t)port);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "connect", e);
  }

  transfer_socket *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, "ENOMEM", "TransferSocket: out of memory");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->recv = recv_data;
  s->lens = lens_data;
  s->nslots = (unsigned)nlens;
  s->slot = recv_len / nlens;
  napi_create_reference(env, argv[3], 1, &s->recv_ref);
  napi_create_reference(env, argv[4], 1, &s->lens_ref);
  napi_create_reference(env, argv[5], 1, &s->on_read);
  napi_create_reference(env, argv[6], 1, &s->on_error);
  napi_value name;
  napi_create_string_utf8(env, "crowbar:tftp-transfer-socket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &s->async);

  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    s->finalized = 1; /* no wrapper will ever finalize it */
    do_close(s, 1);
    maybe_free(s);
    napi_throw_error(env, NULL, "TransferSocket: wrap failed");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, s);
  s->in_hook = 1;

  uv_loop_t *loop;
  int r = -1;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok) r = uv_poll_init(loop, &s->poll, fd);
  if (r == 0) {
    s->polling = 1;
    s->poll.data = s;
    r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  }
  if (r != 0) {
    do_close(s, 1);
    return throw_errno(env, "uv_poll", r < 0 ? -r : EIO);
  }
  return self;
}

static transfer_socket *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return (transfer_socket *)data;
}

/* send(buffer, length) -> 0 when sent, else the errno (EAGAIN/ENOBUFS: dropped; ECONNREFUSED: peer gone). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  transfer_socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  int result = 0;
  if (s->closed) {
    result = EBADF;
  } else {
    void *data;
    size_t len;
    uint32_t n;
    if (argc < 2 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || napi_get_value_uint32(env, argv[1], &n) != napi_ok || n > len) {
      napi_throw_type_error(env, NULL, "send(buffer, length) with length <= buffer.length");
      return NULL;
    }
    ssize_t w;
    do {
      w = send(s->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0) result = errno;
  }
  napi_create_int32(env, result, &out);
  return out;
}


/* engine(blksize, windowsize, state: Float64Array(ST_COUNT), onEvent(code)): configure the window engine (once). */
static napi_value js_engine(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  transfer_socket *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  engine_t *e = &s->eng;
  uint32_t blksize, window;
  napi_typedarray_type tt;
  size_t n;
  void *data;
  bool is_ta = false;
  napi_valuetype ft;
  if (argc < 4 || napi_get_value_uint32(env, argv[0], &blksize) != napi_ok || napi_get_value_uint32(env, argv[1], &window) != napi_ok || blksize < 8 || blksize > 65464 || window < 1 || window > 65535) {
    napi_throw_type_error(env, NULL, "engine(blksize 8..65464, windowsize 1..65535, state, onEvent)");
    return NULL;
  }
  napi_is_typedarray(env, argv[2], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[2], &tt, &n, &data, NULL, NULL) != napi_ok || tt != napi_float64_array || n < ST_COUNT) {
    napi_throw_type_error(env, NULL, "engine: state must be a Float64Array of the engine's state length");
    return NULL;
  }
  napi_typeof(env, argv[3], &ft);
  if (ft != napi_function) {
    napi_throw_type_error(env, NULL, "engine: onEvent must be a function");
    return NULL;
  }
  if (e->configured) {
    napi_throw_error(env, NULL, "engine: already configured");
    return NULL;
  }
  if (s->closed) return NULL;
  unsigned batch = window < MAX_BATCH ? window : MAX_BATCH;
  e->hdr = malloc(batch * sizeof *e->hdr);
  e->msgs = calloc(batch, sizeof *e->msgs);
  e->iov = calloc(2 * (size_t)batch, sizeof *e->iov);
  if (!e->hdr || !e->msgs || !e->iov) {
    napi_throw_error(env, "ENOMEM", "engine: out of memory");
    return NULL;
  }
  e->batch = batch;
  e->blksize = blksize;
  e->window = window;
  e->base = e->next = 1;
  e->state = data;
  napi_create_reference(env, argv[2], 1, &e->state_ref);
  napi_create_reference(env, argv[3], 1, &e->on_event);
  e->configured = 1;
  release_and_check(s); /* wants the first chunk */
  sync_state(s);
  return NULL;
}

static napi_value int_result(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

static transfer_socket *unwrap_engine(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  transfer_socket *s = unwrap(env, info, argc, argv);
  if (s && !s->eng.configured) {
    napi_throw_error(env, NULL, "window engine not configured");
    return NULL;
  }
  return s;
}

/*
 * feed(buffer, length, last): the next `length` bytes of the file. Every
 * chunk but the last is a whole number of blocks; `last` marks the end of the
 * file (the final block is the one holding its last byte, or an empty block
 * when the size is a multiple of blksize; RFC 1350 section 6). The Buffer is
 * kept referenced until its blocks are acknowledged. A stalled window
 * continues. Returns ECONNREFUSED when a send found the peer gone, else 0.
 */
static napi_value js_feed(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  transfer_socket *s = unwrap_engine(env, info, &argc, argv);
  if (!s) return NULL;
  engine_t *e = &s->eng;
  void *data;
  size_t blen;
  uint32_t len;
  bool last = false;
  if (argc < 3 || napi_get_buffer_info(env, argv[0], &data, &blen) != napi_ok || napi_get_value_uint32(env, argv[1], &len) != napi_ok || len > blen || napi_get_value_bool(env, argv[2], &last) != napi_ok) {
    napi_throw_type_error(env, NULL, "feed(buffer, length <= buffer.length, last)");
    return NULL;
  }
  if (s->closed || e->last_fed) return int_result(env, 0);
  if (!last && (len == 0 || len % e->blksize != 0)) {
    napi_throw_range_error(env, NULL, "feed: a chunk before the last must be a non-empty multiple of blksize");
    return NULL;
  }
  if (len > 0) {
    if (e->nchunks >= MAX_CHUNKS) {
      napi_throw_range_error(env, NULL, "feed: too many chunks held (feed only when asked)");
      return NULL;
    }
    chunk_t *c = &e->chunks[e->nchunks];
    if (napi_create_reference(env, argv[0], 1, &c->ref) != napi_ok) {
      napi_throw_error(env, NULL, "feed: reference failed");
      return NULL;
    }
    c->data = data;
    c->start = e->fed;
    c->len = len;
    e->nchunks++;
    e->fed += len;
  }
  if (last) {
    e->last_fed = 1;
    e->final = e->fed / e->blksize + 1;
    e->final_len = e->fed % e->blksize;
  }
  e->want = 0;
  int err = pump(s);
  release_and_check(s);
  sync_state(s);
  return int_result(env, err);
}

/* go(): the data phase starts (after ACK 0 of an OACK, or at once): send the first window. Returns ECONNREFUSED or 0. */
static napi_value js_go(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  transfer_socket *s = unwrap_engine(env, info, &argc, NULL);
  if (!s) return NULL;
  if (s->closed || s->eng.active || s->eng.done) return int_result(env, 0);
  s->eng.active = 1;
  s->eng.sent_at = wall_ms();
  int err = pump(s);
  sync_state(s);
  return int_result(env, err);
}

/* resend(): the retransmission timer fired: send the window again from base (RFC 7440 section 4). Returns ECONNREFUSED or 0. */
static napi_value js_resend(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  transfer_socket *s = unwrap_engine(env, info, &argc, NULL);
  if (!s) return NULL;
  engine_t *e = &s->eng;
  if (s->closed || !e->active) return int_result(env, 0);
  e->next = e->base;
  e->sent_at = wall_ms(); /* also when the base block is not fed yet: one try per timeout */
  int err = pump(s);
  sync_state(s);
  return int_result(env, err);
}

/*
 * ack(block): an ACK JavaScript received in the data phase (one read in the
 * same batch as the ACK 0 that started it). Returns -1 when it completed the
 * transfer, else ECONNREFUSED or 0.
 */
static napi_value js_ack(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  transfer_socket *s = unwrap_engine(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t block;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &block) != napi_ok || block > 65535) {
    napi_throw_type_error(env, NULL, "ack(block 0..65535)");
    return NULL;
  }
  if (s->closed || !s->eng.active) return int_result(env, 0);
  int err = 0;
  int complete = engine_ack(s, (uint16_t)block, &err);
  if (!complete) release_and_check(s);
  sync_state(s);
  return int_result(env, complete ? -1 : err);
}

/* close(): idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  transfer_socket *s = unwrap(env, info, &argc, NULL);
  if (s) do_close(s, 1);
  return NULL;
}

/* localPort(): the ephemeral port (the transfer's TID), 0 once closed. */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out;
  transfer_socket *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  uint32_t port = 0;
  if (!s->closed && getsockname(s->fd, (struct sockaddr *)&sa, &sl) == 0) port = ntohs(sa.sin_port);
  napi_create_uint32(env, port, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL},
    {"engine", NULL, js_engine, NULL, NULL, NULL, napi_default, NULL},
    {"feed", NULL, js_feed, NULL, NULL, NULL, napi_default, NULL},
    {"go", NULL, js_go, NULL, NULL, NULL, napi_default, NULL},
    {"resend", NULL, js_resend, NULL, NULL, NULL, napi_default, NULL},
    {"ack", NULL, js_ack, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "TransferSocket", NAPI_AUTO_LENGTH, ctor, NULL, sizeof props / sizeof props[0], props, &cls) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "TransferSocket", cls);
  return exports;
}
