/*
 * vpnlab_native — the few Linux syscalls Node itself does not expose:
 * TUN devices, raw IPv4 sockets, SO_ORIGINAL_DST, and a libuv poll watcher
 * that turns a readable fd into one JS callback per datagram/packet.
 *
 * Written in C against N-API only (node_api.h + uv.h, no V8/NAN), so the
 * compiled binary keeps working across Node majors. The typed JS surface is
 * harness/native.ts; keep the two in step.
 *
 * Conventions:
 *  - every fd this module creates is O_NONBLOCK | O_CLOEXEC: the harness
 *    spawns many children and must never leak a TUN or raw socket into them,
 *    and nothing here may ever block the event loop;
 *  - syscall failures become JS Errors "<op>(<arg>): <syscall>: <strerror>"
 *    with .code (errno name, e.g. "EPERM"), .errno (negative, like Node's
 *    own errors) and .syscall;
 *  - argument mistakes become TypeErrors with .code "ERR_INVALID_ARG_VALUE"
 *    or "ERR_INVALID_ARG_TYPE", thrown before any syscall is made.
 */
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* From <linux/netfilter_ipv4.h> / <linux/netfilter_ipv6/ip6_tables.h>;
 * defined here because those headers clash with <netinet/in.h>. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

/* Largest read per callback: an IPv4 packet is at most 65535 bytes. */
#define READ_BUF_SIZE 65536
/* Packets delivered per readiness event before yielding to the rest of the
 * loop. uv_poll is level-triggered, so what is left fires again next turn;
 * this only stops a flood on one fd from starving timers and other I/O. */
#define READ_BUDGET 256

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* A failed napi_* call means a bug here or an exception already pending; in
 * both cases the right move is to return to JS immediately. */
#define NAPI_CALL(env, call)                                                   \
  do {                                                                         \
    if ((call) != napi_ok) return NULL;                                        \
  } while (0)

static void set_prop_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

/* Build (not throw) an Error with .code, .errno (if errnum) and .syscall. */
static napi_value new_error(napi_env env, const char *code, const char *msg, int errnum,
                            const char *syscall) {
  napi_value code_v, msg_v, error, errnum_v;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) != napi_ok ||
      napi_create_error(env, code_v, msg_v, &error) != napi_ok)
    return NULL;
  if (errnum && napi_create_int32(env, -errnum, &errnum_v) == napi_ok)
    napi_set_named_property(env, error, "errno", errnum_v);
  set_prop_str(env, error, "syscall", syscall);
  return error;
}

/* Error for errno `err`; `fmt` describes the operation, e.g.
 * "tunOpen(vpn): TUNSETIFF" -> "tunOpen(vpn): TUNSETIFF: Operation not permitted". */
static napi_value errno_error_v(napi_env env, int err, const char *syscall,
                               const char *fmt, va_list ap) {
  char what[256], msg[384], strbuf[128], name[64];
  vsnprintf(what, sizeof what, fmt, ap);
  /* GNU strerror_r: returns a pointer, possibly to a static string. */
  snprintf(msg, sizeof msg, "%s: %s", what, strerror_r(err, strbuf, sizeof strbuf));
  /* On Unix libuv's error codes are -errno, so its table names errnos. */
  uv_err_name_r(-err, name, sizeof name);
  return new_error(env, name, msg, err, syscall);
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  napi_value error = errno_error_v(env, err, syscall, fmt, ap);
  va_end(ap);
  if (error) napi_throw(env, error);
  return NULL;
}

static napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  napi_value error = errno_error_v(env, err, syscall, fmt, ap);
  va_end(ap);
  return error;
}

static napi_value throw_type(napi_env env, const char *code, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, code, msg);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Argument helpers: each returns 0 and throws a TypeError on bad input.     */

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
                    const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    throw_type(env, "ERR_MISSING_ARGS", "%s: expected %zu arguments, got %zu", fn, want, argc);
    return 0;
  }
  return 1;
}

static int get_int(napi_env env, napi_value v, const char *fn, const char *what, int min,
                   int max, int *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t != napi_number) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", "%s: %s must be a number", fn, what);
    return 0;
  }
  napi_get_value_double(env, v, &d);
  if (d != (double)(int)d || d < min || d > max) {
    throw_type(env, "ERR_INVALID_ARG_VALUE", "%s: %s must be an integer in %d..%d, got %g", fn,
               what, min, max, d);
    return 0;
  }
  *out = (int)d;
  return 1;
}

static int get_fd(napi_env env, napi_value v, const char *fn, int *out) {
  return get_int(env, v, fn, "fd", 0, 0x7fffffff, out);
}

static int get_buffer(napi_env env, napi_value v, const char *fn, void **data, size_t *len) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", "%s: packet must be a Buffer", fn);
    return 0;
  }
  return napi_get_buffer_info(env, v, data, len) == napi_ok;
}

/* Copies a JS string into buf (NUL-terminated). Returns its length, or -1
 * (TypeError thrown) if it is not a string; a length of cap-1 means it may
 * have been truncated, which callers treat as "too long". */
static ssize_t get_string(napi_env env, napi_value v, const char *fn, const char *what, char *buf,
                          size_t cap) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t != napi_string) {
    throw_type(env, "ERR_INVALID_ARG_TYPE", "%s: %s must be a string", fn, what);
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -1;
  return (ssize_t)len;
}

/* ------------------------------------------------------------------------ */
/* tunOpen(name): fd                                                         */

static napi_value tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char name[IFNAMSIZ + 1];
  if (!get_args(env, info, 1, argv, "tunOpen")) return NULL;
  ssize_t len = get_string(env, argv[0], "tunOpen", "name", name, sizeof name);
  if (len < 0) return NULL;
  if (len == 0 || len >= IFNAMSIZ)
    return throw_type(env, "ERR_INVALID_ARG_VALUE",
                      "tunOpen(%s): interface name must be 1..%d characters", name, IFNAMSIZ - 1);

  /* Opened in whatever network namespace this process is in: the harness
   * runs this inside a node's namespace, never the host's. */
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", "tunOpen(%s): open /dev/net/tun", name);

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* IFF_NO_PI: reads and writes are bare IP packets, no 4-byte prefix. */
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, (size_t)len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "ioctl", "tunOpen(%s): TUNSETIFF", name);
  }
  NAPI_CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* rawSocket(protocol, hdrincl): fd                                          */

static napi_value raw_socket(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int protocol, fd, one = 1;
  bool hdrincl;
  if (!get_args(env, info, 2, argv, "rawSocket")) return NULL;
  if (!get_int(env, argv[0], "rawSocket", "protocol", 0, 255, &protocol)) return NULL;
  if (napi_get_value_bool(env, argv[1], &hdrincl) != napi_ok)
    return throw_type(env, "ERR_INVALID_ARG_TYPE", "rawSocket: hdrincl must be a boolean");

  fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, errno, "socket", "rawSocket(%d): socket", protocol);
  if (hdrincl && setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt", "rawSocket(%d): IP_HDRINCL", protocol);
  }
  NAPI_CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* sendTo(fd, packet, dstIp): bytes                                          */

static napi_value send_to(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int fd;
  void *data;
  size_t len;
  char ip[64];
  if (!get_args(env, info, 3, argv, "sendTo")) return NULL;
  if (!get_fd(env, argv[0], "sendTo", &fd)) return NULL;
  if (!get_buffer(env, argv[1], "sendTo", &data, &len)) return NULL;
  ssize_t iplen = get_string(env, argv[2], "sendTo", "dstIp", ip, sizeof ip);
  if (iplen < 0) return NULL;

  struct sockaddr_in dst;
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET; /* sin_port stays 0: raw sockets ignore it */
  if (iplen >= (ssize_t)sizeof ip - 1 || inet_pton(AF_INET, ip, &dst.sin_addr) != 1)
    return throw_type(env, "ERR_INVALID_ARG_VALUE",
                      "sendTo(fd %d): invalid IPv4 address \"%s\" (expected a dotted quad like "
                      "10.0.0.1)",
                      fd, ip);

  ssize_t n;
  /* MSG_DONTWAIT: never block the loop even on an fd someone made blocking;
   * EAGAIN/ENOBUFS are thrown and the caller decides (drop or retry). */
  do n = sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof dst);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendto", "sendTo(fd %d, %s): sendto", fd, ip);
  NAPI_CALL(env, napi_create_int64(env, n, &result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* writeFd(fd, packet): bytes                                                */

static napi_value write_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd;
  void *data;
  size_t len;
  if (!get_args(env, info, 2, argv, "writeFd")) return NULL;
  if (!get_fd(env, argv[0], "writeFd", &fd)) return NULL;
  if (!get_buffer(env, argv[1], "writeFd", &data, &len)) return NULL;

  /* A TUN write is one whole packet (never partial); report what the kernel
   * took rather than looping, so a short write is visible to the caller. */
  ssize_t n;
  do n = write(fd, data, len);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "write", "writeFd(fd %d): write", fd);
  NAPI_CALL(env, napi_create_int64(env, n, &result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* originalDst(fd): { address, port }                                        */

static napi_value original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, addr_v, port_v;
  int fd;
  if (!get_args(env, info, 1, argv, "originalDst")) return NULL;
  if (!get_fd(env, argv[0], "originalDst", &fd)) return NULL;

  struct sockaddr_storage local;
  socklen_t slen = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &slen) < 0)
    return throw_errno(env, errno, "getsockname", "originalDst(fd %d): getsockname", fd);

  char text[INET6_ADDRSTRLEN];
  int port;
  struct sockaddr_in in4;
  socklen_t len4 = sizeof in4;
  memset(&in4, 0, sizeof in4);
  /* SOL_IP works for AF_INET sockets and for IPv4 connections accepted on a
   * dual-stack (AF_INET6, "::") listener — Node's default for servers. */
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &in4, &len4) == 0) {
    inet_ntop(AF_INET, &in4.sin_addr, text, sizeof text);
    port = ntohs(in4.sin_port);
  } else {
    int err = errno;
    struct sockaddr_in6 in6;
    socklen_t len6 = sizeof in6;
    memset(&in6, 0, sizeof in6);
    if (local.ss_family != AF_INET6 ||
        getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &in6, &len6) != 0)
      /* ENOENT here means no NAT'd conntrack entry: not redirected. */
      return throw_errno(env, err, "getsockopt", "originalDst(fd %d): SO_ORIGINAL_DST%s", fd,
                         err == ENOENT ? " (connection was not redirected)" : "");
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    port = ntohs(in6.sin6_port);
  }
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &addr_v));
  NAPI_CALL(env, napi_create_int32(env, port, &port_v));
  NAPI_CALL(env, napi_set_named_property(env, result, "address", addr_v));
  NAPI_CALL(env, napi_set_named_property(env, result, "port", port_v));
  return result;
}

/* ------------------------------------------------------------------------ */
/* watch(fd, onPacket, onError?): { close(), unref() }                       */

/* Lifetime: a watcher is shared by its uv_poll handle and the two JS
 * functions close/unref (which carry it as their data pointer and may
 * outlive the object they were returned in). Each holds one count in
 * `holders`; the struct is freed when the last lets go — the uv close
 * callback, or the GC finalizer of a function. So calling close() twice,
 * or after closeFd(), is safe. */
typedef struct watcher {
  uv_poll_t poll;
  napi_env env;
  int fd;
  int datagram;    /* read() == 0 is an empty datagram, not end of file */
  int closing;     /* uv_close() called: no more reads, no new callbacks */
  int teardown;    /* closed by env teardown: JS is gone, release nothing */
  int holders;
  napi_ref on_packet;
  napi_ref on_error; /* NULL if not given */
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup;
  struct watcher *next, *prev; /* live (not closing) watchers of this env */
  unsigned char *buf;
} watcher_t;

/* Per-env state (main thread or a worker): the live watchers, so that
 * closeFd() can stop watching an fd before closing it — libuv must never
 * poll a closed (or, worse, already reused) fd number. */
typedef struct {
  watcher_t *head;
} instance_t;

static instance_t *instance(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static void watcher_release(watcher_t *w) {
  if (--w->holders > 0) return;
  free(w->buf);
  free(w);
}

static void on_uv_closed(uv_handle_t *h) {
  watcher_t *w = h->data;
  if (w->teardown) {
    /* The env's teardown waits for this: tell it the handle is gone. Its
     * references die with the env. */
    napi_remove_async_cleanup_hook(w->cleanup);
  } else {
    /* Released here, not in close(): close() may run inside onPacket while
     * on_poll still needs the callbacks. */
    napi_delete_reference(w->env, w->on_packet);
    if (w->on_error) napi_delete_reference(w->env, w->on_error);
    napi_async_destroy(w->env, w->async_ctx);
  }
  watcher_release(w);
}

/* Close callback for a handle that never got as far as JS. */
static void on_uv_closed_early(uv_handle_t *h) {
  watcher_release(h->data);
}

/* Stop polling and start closing the handle; idempotent. */
static void watcher_stop(watcher_t *w, int teardown) {
  if (w->closing) return;
  w->closing = 1;
  w->teardown = teardown;
  if (w->prev) w->prev->next = w->next;
  else instance(w->env)->head = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  /* On teardown the hook stays registered until on_uv_closed removes it. */
  if (!teardown) napi_remove_async_cleanup_hook(w->cleanup);
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_uv_closed);
}

/* A worker thread (or the main env) going away with a watch still open:
 * close the handle so the loop can be closed. */
static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  watcher_stop(arg, 1);
}

static void on_function_gc(napi_env env, void *data, void *hint) {
  watcher_release(data);
}

/* Call fn(arg) as a top-level callback from the loop: napi_make_callback
 * (not napi_call_function) so async_hooks context is right and microtasks /
 * process.nextTick are drained afterwards. Returns 1 if it threw, with the
 * exception (cleared) in *exc. */
static int call_js(watcher_t *w, napi_ref fn_ref, napi_value arg, napi_value *exc) {
  napi_env env = w->env;
  napi_value fn, recv, ignored;
  bool pending = false;
  napi_get_reference_value(env, fn_ref, &fn);
  /* napi_make_callback insists on an object receiver (undefined throws). */
  napi_get_global(env, &recv);
  napi_make_callback(env, w->async_ctx, recv, fn, 1, &arg, &ignored);
  /* Judge by the pending exception, not the status: a failure without one
   * means JS can no longer run (env shutting down) — nothing to report. */
  napi_is_exception_pending(env, &pending);
  if (!pending) return 0;
  napi_get_and_clear_last_exception(env, exc);
  return 1;
}

/* An error (thrown by onPacket, or from I/O) goes to onError; with no
 * onError, or if onError itself throws, it becomes an uncaught exception
 * ('uncaughtException', else the process exits with it), as for any
 * event-loop callback. Never swallowed. */
static void report(watcher_t *w, napi_value error) {
  napi_value exc;
  if (w->on_error) {
    if (!call_js(w, w->on_error, error, &exc)) return;
    error = exc;
  }
  napi_fatal_exception(w->env, error);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  watcher_t *w = h->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value buf, exc, err;
  char msg[128];

  if (w->closing) return;
  if (status < 0) {
    napi_open_handle_scope(env, &scope);
    err = make_errno_error(env, -status, "uv_poll", "watch(fd %d): poll", w->fd);
    watcher_stop(w, 0);
    if (err) report(w, err);
    napi_close_handle_scope(env, scope);
    return;
  }

  for (int i = 0; i < READ_BUDGET && !w->closing; i++) {
    ssize_t n;
    do n = read(w->fd, w->buf, READ_BUF_SIZE);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;

    /* One scope per packet: handles from a burst must not pile up. */
    napi_open_handle_scope(env, &scope);
    if (n < 0 || (n == 0 && !w->datagram)) {
      /* A read error or end of file ends the watch (like a stream's
       * 'error'/'end'): an fd that stays readable would otherwise spin.
       * Errors are reported; EOF only to an onError that exists. */
      if (n < 0) {
        err = make_errno_error(env, errno, "read", "watch(fd %d): read", w->fd);
      } else {
        snprintf(msg, sizeof msg, "watch(fd %d): read: end of file", w->fd);
        err = w->on_error ? new_error(env, "EOF", msg, 0, "read") : NULL;
      }
      watcher_stop(w, 0);
      if (err) report(w, err);
      napi_close_handle_scope(env, scope);
      break;
    }
    int threw = napi_create_buffer_copy(env, (size_t)n, w->buf, NULL, &buf) == napi_ok &&
                call_js(w, w->on_packet, buf, &exc);
    if (threw) report(w, exc);
    napi_close_handle_scope(env, scope);
    /* After a throw, yield: level-triggered polling brings us back. */
    if (threw) break;
  }
}

static watcher_t *watcher_from(napi_env env, napi_callback_info info) {
  void *data = NULL;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  return data;
}

static napi_value watcher_close(napi_env env, napi_callback_info info) {
  watcher_stop(watcher_from(env, info), 0);
  return NULL;
}

static napi_value watcher_unref(napi_env env, napi_callback_info info) {
  watcher_t *w = watcher_from(env, info);
  if (!w->closing) uv_unref((uv_handle_t *)&w->poll);
  return NULL;
}

static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result, close_fn, unref_fn, name;
  napi_valuetype t;
  int fd, type = 0, rc, has_error_cb = 0;
  socklen_t tlen = sizeof type;
  struct stat st;
  uv_loop_t *loop;

  /* Validate everything before allocating anything. */
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "ERR_MISSING_ARGS", "watch: expected (fd, onPacket, onError?)");
  if (!get_fd(env, argv[0], "watch", &fd)) return NULL;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function)
    return throw_type(env, "ERR_INVALID_ARG_TYPE", "watch(fd %d): onPacket must be a function", fd);
  if (argc >= 3) {
    NAPI_CALL(env, napi_typeof(env, argv[2], &t));
    if (t == napi_function) has_error_cb = 1;
    else if (t != napi_undefined)
      return throw_type(env, "ERR_INVALID_ARG_TYPE", "watch(fd %d): onError must be a function", fd);
  }
  if (fstat(fd, &st) < 0) return throw_errno(env, errno, "fstat", "watch(fd %d): fstat", fd);
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  NAPI_CALL(env, napi_create_string_utf8(env, "vpnlab:watch", NAPI_AUTO_LENGTH, &name));
  /* The result object and its functions up front too, so that nothing can
   * fail once the handle is live. */
  NAPI_CALL(env, napi_create_object(env, &result));

  watcher_t *w = calloc(1, sizeof *w);
  if (w) w->buf = malloc(READ_BUF_SIZE);
  if (!w || !w->buf) {
    free(w);
    return throw_errno(env, ENOMEM, "malloc", "watch(fd %d)", fd);
  }
  w->env = env;
  w->fd = fd;
  w->datagram = S_ISSOCK(st.st_mode) && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
                type != SOCK_STREAM;

  /* EEXIST: this fd is already polled by another handle of this loop. */
  if ((rc = uv_poll_init(loop, &w->poll, fd)) < 0) {
    free(w->buf);
    free(w);
    return throw_errno(env, -rc, "uv_poll_init", "watch(fd %d): uv_poll_init", fd);
  }
  w->poll.data = w;
  if ((rc = uv_poll_start(&w->poll, UV_READABLE, on_poll)) < 0) {
    /* An initialised handle can only be freed after uv_close completes. */
    w->closing = 1;
    w->holders = 1;
    uv_close((uv_handle_t *)&w->poll, on_uv_closed_early);
    return throw_errno(env, -rc, "uv_poll_start", "watch(fd %d): uv_poll_start", fd);
  }

  /* From here on the napi calls cannot fail short of memory exhaustion
   * (all inputs were checked above). */
  w->holders = 3; /* the uv handle, close(), unref() */
  napi_create_reference(env, argv[1], 1, &w->on_packet);
  if (has_error_cb) napi_create_reference(env, argv[2], 1, &w->on_error);
  napi_async_init(env, NULL, name, &w->async_ctx);
  napi_add_async_cleanup_hook(env, on_env_teardown, w, &w->cleanup);
  instance_t *inst = instance(env);
  w->next = inst->head;
  if (inst->head) inst->head->prev = w;
  inst->head = w;

  napi_create_function(env, "close", NAPI_AUTO_LENGTH, watcher_close, w, &close_fn);
  napi_add_finalizer(env, close_fn, w, on_function_gc, NULL, NULL);
  napi_create_function(env, "unref", NAPI_AUTO_LENGTH, watcher_unref, w, &unref_fn);
  napi_add_finalizer(env, unref_fn, w, on_function_gc, NULL, NULL);
  napi_set_named_property(env, result, "close", close_fn);
  napi_set_named_property(env, result, "unref", unref_fn);
  return result;
}

/* ------------------------------------------------------------------------ */
/* closeFd(fd)                                                               */

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "closeFd")) return NULL;
  if (!get_fd(env, argv[0], "closeFd", &fd)) return NULL;

  /* Stop any watcher first: epoll must not outlive the fd number. */
  for (watcher_t *w = instance(env)->head, *next; w; w = next) {
    next = w->next;
    if (w->fd == fd) watcher_stop(w, 0);
  }
  /* On Linux the fd is released even when close() fails with EINTR, so
   * never retry (it could close a reused number); just don't report it. */
  if (close(fd) < 0 && errno != EINTR)
    return throw_errno(env, errno, "close", "closeFd(fd %d): close", fd);
  return NULL;
}

/* ------------------------------------------------------------------------ */

static void instance_free(napi_env env, void *data, void *hint) {
  free(data);
}

static napi_value init(napi_env env, napi_value exports) {
  instance_t *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, instance_free, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, NULL, "vpnlab_native: out of memory");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rawSocket", NULL, raw_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendTo", NULL, send_to, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeFd", NULL, write_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDst", NULL, original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
