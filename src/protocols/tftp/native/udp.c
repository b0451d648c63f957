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
 * the caller's Buffer: no copy and no request object. The protocol stays in
 * TypeScript; timers stay in JavaScript.
 *
 * Built by scripts/build-native.sh (gcc, headers from /usr/include/node).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define MAX_SLOTS 64

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
} transfer_socket;

static void maybe_free(transfer_socket *s) {
  if (s->handle_done && s->finalized) free(s);
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
  }
  s->on_read = s->on_error = s->recv_ref = s->lens_ref = NULL;
  s->async = NULL;
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
  for (int i = 0; i < n; i++) s->lens[i] = (int32_t)s->msgs[i].msg_len;
  call_js_int(s, s->on_read, n);
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
  };
  napi_value cls;
  if (napi_define_class(env, "TransferSocket", NAPI_AUTO_LENGTH, ctor, NULL, 3, props, &cls) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "TransferSocket", cls);
  return exports;
}
