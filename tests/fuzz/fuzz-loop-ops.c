/* fuzz-loop-ops.c: libFuzzer harness driving random sequences of loop
 * operations
 *
 * Built by `tools/evl-ci-modes fuzz-short` (clang, -fsanitize=fuzzer,
 * address,undefined) against a library built with the same sanitizers.
 * The seed corpus is tests/fuzz/corpus/.
 *
 * The first byte picks the loop kind (epoll, poll, select, proactor); every
 * following byte is an operation, some followed by argument bytes:
 * call_soon, call_later with tiny delays, call_soon_threadsafe, cancel a
 * handle, add/remove readers and writers on a small pool of socketpairs,
 * write, read, close and recreate pair ends (fds closed under watches and
 * their numbers reused), sock_recv/sock_sendall with cancellation, stop,
 * one iteration, a nested run from inside a callback, close() from a
 * callback (must fail with RUNNING), the GLib bridge (attach, iterate the
 * context), and closing and recreating the loop. Invariants checked after
 * each input: every notify ran exactly once per handle created, no
 * callback of a one-shot handle ran twice or after its notify, every async
 * operation reported exactly once, and no fd was left open.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_SLOTS 16
#define N_PAIRS 4
#define MAX_NESTING 3
#define MAX_NESTED_RUNS 16   /* per input: watches fire again and again */
#define MAX_OPS 512

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond))                                                           \
      {                                                                    \
        fprintf (stderr, "fuzz-loop-ops: invariant failed: %s (%s:%d)\n",  \
                 #cond, __FILE__, __LINE__);                               \
        abort ();                                                          \
      }                                                                    \
  } while (0)

typedef struct _State State;

/* The data of one callback: freed by its notify, which counts. */
typedef struct
{
  State    *state;
  guint     ran;
  gboolean  io;          /* an fd watch: may run many times */
  guint8    action;      /* what the callback does when it runs */
  guint8    arg;
} Cb;

typedef struct
{
  int       fds[2];      /* -1 when closed */
} Pair;

struct _State
{
  const guint8 *data;
  size_t        size;
  size_t        pos;

  EvlLoop      *loop;
  GMainContext *context;
  guint         source_id;
  guint         nesting;
  guint         nested_runs;

  EvlHandle    *slots[N_SLOTS];
  Pair          pairs[N_PAIRS];
  GCancellable *cancellables[N_PAIRS];

  guint64       created;       /* callbacks handed to the loop with a notify */
  guint64       notified;
  guint64       ops_started;   /* async operations */
  guint64       ops_reported;
  guint         n_ops;
};

static guint8
next_byte (State *s)
{
  return s->pos < s->size ? s->data[s->pos++] : 0;
}

/* ---------------------------------------------------------------------- */
/* callbacks */

static void run_action (State *s, guint8 action, guint8 arg);

static void
cb_notify (gpointer data)
{
  Cb *cb = data;

  cb->state->notified++;
  g_free (cb);
}

static void
cb_run (gpointer data)
{
  Cb *cb = data;

  cb->ran++;
  CHECK (cb->io || cb->ran == 1);
  run_action (cb->state, cb->action, cb->arg);
}

static Cb *
cb_new (State  *s,
        gboolean io,
        guint8   action,
        guint8   arg)
{
  Cb *cb = g_new0 (Cb, 1);

  cb->state = s;
  cb->io = io;
  cb->action = action;
  cb->arg = arg;
  s->created++;
  return cb;
}

static void
slot_store (State     *s,
            guint      k,
            EvlHandle *h)
{
  k %= N_SLOTS;
  g_clear_pointer (&s->slots[k], evl_handle_unref);
  s->slots[k] = h;
}

/* Stops the loop until the run it was made for has returned. stop() ends
 * the innermost run: a run nested in a callback may take the stop meant
 * for the run around it (it runs what that run's iteration had left), so
 * the stop comes again, soon, until its run has returned. */
typedef struct
{
  EvlLoop   *loop;
  EvlHandle *again;
} Stopper;

static void
stopper_cb (gpointer data)
{
  Stopper *st = data;

  evl_loop_stop (st->loop);
  g_clear_pointer (&st->again, evl_handle_unref);
  st->again = evl_handle_ref (evl_loop_call_later (st->loop, 0.0005, stopper_cb, st, NULL));
}

/* One iteration of the loop (from the outside or nested in a callback). */
static void
run_once (State *s)
{
  GError *error = NULL;
  Stopper st = { s->loop, NULL };

  if (evl_loop_is_closed (s->loop))
    return;
  st.again = evl_handle_ref (evl_loop_call_soon (s->loop, stopper_cb, &st, NULL));
  CHECK (evl_loop_run_forever (s->loop, &error));
  CHECK (error == NULL);
  evl_handle_cancel (st.again);
  evl_handle_unref (st.again);
}

/* What a callback does when it runs (an action byte of the input). */
static void
run_action (State  *s,
            guint8  action,
            guint8  arg)
{
  GError *error = NULL;

  switch (action % 6)
    {
    case 0:   /* nothing */
      break;
    case 1:   /* cancel a handle */
      if (s->slots[arg % N_SLOTS] != NULL)
        evl_handle_cancel (s->slots[arg % N_SLOTS]);
      break;
    case 2:   /* a nested run */
      if (s->nesting < MAX_NESTING && s->nested_runs < MAX_NESTED_RUNS)
        {
          s->nested_runs++;
          s->nesting++;
          run_once (s);
          s->nesting--;
        }
      break;
    case 3:   /* close() from a callback: refused */
      CHECK (!evl_loop_close (s->loop, &error));
      CHECK (g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING));
      g_clear_error (&error);
      break;
    case 4:   /* stop */
      evl_loop_stop (s->loop);
      break;
    case 5:   /* schedule another callback */
      if (s->created < 4096)
        slot_store (s, arg, evl_handle_ref (evl_loop_call_soon (s->loop, cb_run,
                                                                cb_new (s, FALSE, 0, 0),
                                                                cb_notify)));
      break;
    }
}

/* A watch callback reads or writes a little so that level-triggered
 * readiness changes, then maybe does its action. */
static void
io_read_cb (gpointer data)
{
  Cb *cb = data;
  char buf[256];
  int fd = cb->arg;

  cb->ran++;
  (void) !read (fd, buf, sizeof buf);
  if (cb->ran % 3 == 0 && cb->ran <= 9)
    run_action (cb->state, cb->action, cb->arg);
}

static void
io_write_cb (gpointer data)
{
  Cb *cb = data;
  char buf[512] = { 0 };
  int fd = cb->arg;

  cb->ran++;
  (void) !write (fd, buf, sizeof buf);
  if (cb->ran % 3 == 0 && cb->ran <= 9)
    run_action (cb->state, cb->action, cb->arg);
}

/* ---------------------------------------------------------------------- */
/* async operations */

typedef struct
{
  State *state;
  guint  reported;
} Op;

static void
op_recv_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Op *op = data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (EVL_LOOP (source), result, &error);

  CHECK ((bytes == NULL) != (error == NULL));
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_error (&error);
  CHECK (++op->reported == 1);
  op->state->ops_reported++;
  g_free (op);
}

static void
op_send_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Op *op = data;
  GError *error = NULL;

  if (!evl_loop_sock_sendall_finish (EVL_LOOP (source), result, &error))
    CHECK (error != NULL);
  g_clear_error (&error);
  CHECK (++op->reported == 1);
  op->state->ops_reported++;
  g_free (op);
}

static Op *
op_new (State *s)
{
  Op *op = g_new0 (Op, 1);

  op->state = s;
  s->ops_started++;
  return op;
}

/* ---------------------------------------------------------------------- */
/* the fds */

static guint
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  guint n = 0;

  CHECK (d != NULL);
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1;
}

static void
pair_open (Pair *p)
{
  if (p->fds[0] >= 0)
    return;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fds) < 0)
    p->fds[0] = p->fds[1] = -1;
}

/* Closes both ends, whatever watches or operations use them. */
static void
pair_close (Pair *p)
{
  int i;

  for (i = 0; i < 2; i++)
    if (p->fds[i] >= 0)
      {
        close (p->fds[i]);
        p->fds[i] = -1;
      }
}

/* ---------------------------------------------------------------------- */
/* the loop */

static EvlLoop *
loop_new (guint8 kind)
{
  EvlSelector *selector = NULL;
  EvlLoop *loop;

  switch (kind % 4)
    {
    case 0:
      selector = evl_epoll_selector_new (NULL);
      break;
    case 1:
      selector = evl_poll_selector_new ();
      break;
    case 2:
      selector = evl_select_selector_new ();
      break;
    case 3:
      loop = evl_proactor_loop_new (NULL);
      if (loop != NULL)
        return loop;
      selector = evl_poll_selector_new ();   /* no io_uring here */
      break;
    }
  CHECK (selector != NULL);
  loop = evl_selector_loop_new (selector);
  g_object_unref (selector);
  return loop;
}

static void
loop_close_and_free (State *s)
{
  GError *error = NULL;
  guint i;

  CHECK (evl_loop_close (s->loop, &error));
  CHECK (error == NULL);
  /* Every async operation has reported (cancelled at the latest). */
  CHECK (s->ops_reported == s->ops_started);
  for (i = 0; i < N_PAIRS; i++)
    g_clear_object (&s->cancellables[i]);
  s->source_id = 0;
  while (g_main_context_iteration (s->context, FALSE))
    ;
  g_object_add_weak_pointer (G_OBJECT (s->loop), (gpointer *) &s->loop);
  g_object_unref (s->loop);
  CHECK (s->loop == NULL);   /* nothing else holds it */
}

static void
do_op (State *s)
{
  guint8 op = next_byte (s);
  guint8 a = next_byte (s);
  guint8 b = next_byte (s);
  Pair *p = &s->pairs[a % N_PAIRS];
  int fd = p->fds[(a / N_PAIRS) % 2];
  GError *error = NULL;
  EvlHandle *h;

  switch (op % 20)
    {
    case 0:   /* call_soon */
      slot_store (s, a, evl_handle_ref (evl_loop_call_soon (s->loop, cb_run,
                                                            cb_new (s, FALSE, b, a + 1), cb_notify)));
      break;
    case 1:   /* call_later, 0 to ~2 ms; negative sometimes */
      slot_store (s, a, evl_handle_ref (evl_loop_call_later (s->loop, ((int) b - 16) * 1e-5, cb_run,
                                                             cb_new (s, FALSE, a, b), cb_notify)));
      break;
    case 2:   /* call_soon_threadsafe */
      h = evl_loop_call_soon_threadsafe (s->loop, cb_run, cb_new (s, FALSE, b, a), cb_notify);
      slot_store (s, a, h);
      break;
    case 3:   /* cancel */
      if (s->slots[a % N_SLOTS] != NULL)
        evl_handle_cancel (s->slots[a % N_SLOTS]);
      break;
    case 4:   /* add_reader (also on a closed number: refused, notify runs) */
      if (fd >= 0 && fd < 256)
        {
          Cb *cb = cb_new (s, TRUE, b, (guint8) fd);

          if (!evl_loop_add_reader (s->loop, fd, io_read_cb, cb, cb_notify, &error))
            g_clear_error (&error);
        }
      break;
    case 5:   /* add_writer */
      if (fd >= 0 && fd < 256)
        {
          Cb *cb = cb_new (s, TRUE, b, (guint8) fd);

          if (!evl_loop_add_writer (s->loop, fd, io_write_cb, cb, cb_notify, &error))
            g_clear_error (&error);
        }
      break;
    case 6:
      if (fd >= 0)
        evl_loop_remove_reader (s->loop, fd);
      break;
    case 7:
      if (fd >= 0)
        evl_loop_remove_writer (s->loop, fd);
      break;
    case 8:   /* write */
      if (fd >= 0)
        {
          char buf[4096] = { 0 };

          (void) !write (fd, buf, 1 + b * 16);
        }
      break;
    case 9:   /* read */
      if (fd >= 0)
        {
          char buf[4096];

          (void) !read (fd, buf, 1 + b * 16);
        }
      break;
    case 10:  /* close a pair under its watches and operations */
      pair_close (p);
      break;
    case 11:  /* (re)create a pair: numbers get reused */
      pair_open (p);
      break;
    case 12:
      evl_loop_stop (s->loop);
      break;
    case 13:
      run_once (s);
      break;
    case 14:  /* a callback that runs the loop from inside */
      slot_store (s, a, evl_handle_ref (evl_loop_call_soon (s->loop, cb_run,
                                                            cb_new (s, FALSE, 2, b), cb_notify)));
      break;
    case 15:  /* close and recreate the loop */
      loop_close_and_free (s);
      s->loop = loop_new (b);
      break;
    case 16:  /* sock_recv, cancellable */
      if (fd >= 0)
        {
          GCancellable **c = &s->cancellables[a % N_PAIRS];

          if (*c == NULL)
            *c = g_cancellable_new ();
          evl_loop_sock_recv_async (s->loop, fd, 1 + b, *c, op_recv_done, op_new (s));
        }
      break;
    case 17:  /* sock_sendall */
      if (fd >= 0)
        {
          GBytes *bytes = g_bytes_new_take (g_malloc0 (1 + b * 512), 1 + b * 512);

          evl_loop_sock_sendall_async (s->loop, fd, bytes, s->cancellables[a % N_PAIRS],
                                       op_send_done, op_new (s));
          g_bytes_unref (bytes);
        }
      break;
    case 18:  /* cancel the operations of a pair */
      if (s->cancellables[a % N_PAIRS] != NULL)
        {
          g_cancellable_cancel (s->cancellables[a % N_PAIRS]);
          g_clear_object (&s->cancellables[a % N_PAIRS]);
        }
      break;
    case 19:  /* the GLib bridge: attach once, iterate the context */
      if (s->source_id == 0)
        s->source_id = evl_loop_attach (s->loop, s->context);
      else
        g_main_context_iteration (s->context, FALSE);
      break;
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* A warning or a critical is a finding: abort(), which libFuzzer catches
 * to save the input (GLib's own fatal path raises SIGTRAP, which it does
 * not). */
static void
fatal_log_handler (const gchar    *domain,
                   GLogLevelFlags  level,
                   const gchar    *message,
                   gpointer        data)
{
  g_log_default_handler (domain, level, message, data);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  /* Writes into a socketpair whose peer is closed must not kill us. */
  signal (SIGPIPE, SIG_IGN);
  g_log_set_default_handler (fatal_log_handler, NULL);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  State s;
  guint fds_before = count_fds ();
  guint i;

  memset (&s, 0, sizeof s);
  s.data = data;
  s.size = size;
  for (i = 0; i < N_PAIRS; i++)
    s.pairs[i].fds[0] = s.pairs[i].fds[1] = -1;
  s.context = g_main_context_new ();
  s.loop = loop_new (next_byte (&s));
  for (i = 0; i < N_PAIRS; i++)
    pair_open (&s.pairs[i]);

  while (s.pos < s.size && s.n_ops++ < MAX_OPS)
    do_op (&s);
  run_once (&s);

  /* Handles may outlive the loop: drop ours after closing it. */
  loop_close_and_free (&s);
  for (i = 0; i < N_SLOTS; i++)
    g_clear_pointer (&s.slots[i], evl_handle_unref);
  CHECK (s.notified == s.created);
  for (i = 0; i < N_PAIRS; i++)
    pair_close (&s.pairs[i]);
  g_main_context_unref (s.context);
  CHECK (count_fds () == fds_before);
  return 0;
}
