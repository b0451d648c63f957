/*
 * Zero-copy HTTP file bodies (docs/tftp.md "HTTP", docs/decisions.md): send
 * bytes [offset, offset + length) of a file to a connected TCP socket with
 * non-blocking sendfile(2), driven by the event loop of the calling
 * environment.
 *
 * The socket belongs to Node (a libuv TCP handle that keeps polling it for
 * reads). We dup() its descriptor and watch the dup with a uv_poll_t for
 * UV_WRITABLE: epoll keys registrations by (descriptor, open file
 * description), so the dup's registration is separate from libuv's own one on
 * the original descriptor. Per writable event: sendfile until EAGAIN (or a
 * per-event budget, so one fast client cannot starve the loop), then wait.
 * The JS callback runs once, at the end or on the first error. While a
 * transfer runs, JavaScript must not write to the socket.
 *
 * abort() stops at once (no callback); uv_poll_stop removes the dup's epoll
 * registration before the dup is closed. The file descriptor stays the
 * caller's: it must stay open until the callback ran or abort() returned.
 *
 * Built by scripts/build-native.sh (gcc, headers from /usr/include/node).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

/* Bytes sent per writable event at most before yielding to the loop. */
#define EVENT_BUDGET (16u << 20)
/* Bytes per sendfile(2) call (the kernel caps one call at about 2 GiB). */
#define CALL_MAX (1u << 30)

typedef struct transfer {
  napi_env env;
  int sock;          /* our dup of the connection's descriptor */
  int file;          /* the caller's file descriptor (not ours to close) */
  int64_t offset;
  int64_t remaining;
  int64_t sent;
  uv_poll_t poll;
  int polling;       /* uv_poll_init succeeded: the handle must be uv_close()d */
  int closed;
  int handle_done;
  int finalized;
  int in_hook;
  napi_ref on_done;
  napi_ref self_ref; /* keeps the JS object alive while the transfer runs */
  napi_async_context async;
} transfer;

static void maybe_free(transfer *t) {
  if (t->handle_done && t->finalized) free(t);
}

static void on_handle_closed(uv_handle_t *h) {
  transfer *t = (transfer *)h->data;
  t->handle_done = 1;
  maybe_free(t);
}

static void env_cleanup(void *arg);

/* Stop polling (which removes the epoll registration), close the dup, drop JS references. Idempotent. */
static void do_close(transfer *t, int may_use_js) {
  if (t->closed) return;
  t->closed = 1;
  if (t->polling) {
    uv_poll_stop(&t->poll);
    uv_close((uv_handle_t *)&t->poll, on_handle_closed);
  } else {
    t->handle_done = 1;
  }
  if (t->sock >= 0) close(t->sock);
  t->sock = -1;
  if (t->in_hook) {
    napi_remove_env_cleanup_hook(t->env, env_cleanup, t);
    t->in_hook = 0;
  }
  if (may_use_js) {
    if (t->on_done) napi_delete_reference(t->env, t->on_done);
    if (t->self_ref) napi_delete_reference(t->env, t->self_ref);
    if (t->async) napi_async_destroy(t->env, t->async);
  }
  t->on_done = t->self_ref = NULL;
  t->async = NULL;
}

static void env_cleanup(void *arg) {
  transfer *t = (transfer *)arg;
  t->in_hook = 0;
  do_close(t, 0);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  transfer *t = (transfer *)data;
  do_close(t, 0);
  t->finalized = 1;
  maybe_free(t);
}

/* The transfer ended (err 0: all bytes sent): close, then onDone(err, sent) once. */
static void finish(transfer *t, int err) {
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn = NULL, recv, argv[2], result;
  napi_async_context async = t->async;
  if (t->on_done) napi_get_reference_value(env, t->on_done, &fn);
  napi_create_int32(env, err, &argv[0]);
  napi_create_double(env, (double)t->sent, &argv[1]);
  /* Keep the async context alive for the call; release everything else first. */
  t->async = NULL;
  do_close(t, 1);
  if (fn) {
    napi_get_global(env, &recv);
    napi_status st = napi_make_callback(env, async, recv, fn, 2, argv, &result);
    if (st == napi_pending_exception) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
  }
  if (async) napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  transfer *t = (transfer *)h->data;
  (void)events;
  if (t->closed) return;
  if (status < 0) {
    /* libuv reports POLLERR as UV_EBADF: the socket's pending error says what happened. */
    int err = -status, soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(t->sock, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0) err = soerr;
    finish(t, err);
    return;
  }
  uint64_t budget = EVENT_BUDGET;
  while (t->remaining > 0 && budget > 0) {
    size_t want = t->remaining < (int64_t)CALL_MAX ? (size_t)t->remaining : CALL_MAX;
    off_t off = (off_t)t->offset;
    ssize_t n = sendfile(t->sock, t->file, &off, want);
    if (n > 0) {
      t->offset += n;
      t->remaining -= n;
      t->sent += n;
      budget = (uint64_t)n >= budget ? 0 : budget - (uint64_t)n;
      continue;
    }
    if (n == 0) {
      finish(t, ENODATA); /* the file shrank while being served */
      return;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return; /* wait for the next writable event */
    finish(t, e);
    return;
  }
  if (t->remaining == 0) finish(t, 0);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, uv_err_name(uv_translate_sys_error(err)), msg);
  return NULL;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 9007199254740991.0) || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

/*
 * new Transfer(socketFd, fileFd, offset, length, onDone)
 * Dups socketFd and starts polling the dup for writability. Throws an Error
 * whose code is the errno name when the dup or uv_poll_init fails (nothing
 * was sent then: the caller may stream instead). onDone(errno, sent) once.
 */
static napi_value ctor(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  int32_t sock, file;
  int64_t offset, length;
  napi_valuetype ft;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_get_value_int32(env, argv[1], &file) != napi_ok || sock < 0 || file < 0 ||
      !get_i64(env, argv[2], &offset) || !get_i64(env, argv[3], &length) || napi_typeof(env, argv[4], &ft) != napi_ok || ft != napi_function) {
    napi_throw_type_error(env, "EINVAL", "Transfer(socketFd, fileFd, offset, length, onDone)");
    return NULL;
  }
  int dfd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (dfd < 0) return throw_errno(env, "dup", errno);
  transfer *t = calloc(1, sizeof *t);
  if (!t) {
    close(dfd);
    napi_throw_error(env, "ENOMEM", "Transfer: out of memory");
    return NULL;
  }
  t->env = env;
  t->sock = dfd;
  t->file = file;
  t->offset = offset;
  t->remaining = length;
  napi_create_reference(env, argv[4], 1, &t->on_done);
  napi_value name;
  napi_create_string_utf8(env, "crowbar:http-sendfile", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &t->async);
  if (napi_wrap(env, self, t, finalize, NULL, NULL) != napi_ok) {
    t->finalized = 1;
    do_close(t, 1);
    maybe_free(t);
    napi_throw_error(env, NULL, "Transfer: wrap failed");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, t);
  t->in_hook = 1;
  napi_create_reference(env, self, 1, &t->self_ref);
  posix_fadvise(file, (off_t)offset, (off_t)length, POSIX_FADV_SEQUENTIAL);
  uv_loop_t *loop;
  int r = -1;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok) r = uv_poll_init(loop, &t->poll, dfd);
  if (r == 0) {
    t->polling = 1;
    t->poll.data = t;
    r = uv_poll_start(&t->poll, UV_WRITABLE, on_poll);
  }
  if (r != 0) {
    do_close(t, 1);
    return throw_errno(env, "uv_poll", r < 0 ? -r : EIO);
  }
  return self;
}

/* abort() -> bytes sent so far; stops at once, no callback follows. Idempotent. */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self, out;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || !data) return NULL;
  transfer *t = (transfer *)data;
  do_close(t, 1);
  napi_create_double(env, (double)t->sent, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  if (napi_define_class(env, "Transfer", NAPI_AUTO_LENGTH, ctor, NULL, 1, props, &cls) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "Transfer", cls);
  return exports;
}
