/* loop-io.c: tests of EvlLoop's fd watches: add/remove_reader and
 * add/remove_writer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

/* Helpers ---------------------------------------------------------------- */

static void
write_byte (int fd)
{
  char c = 'x';

  g_assert_cmpint (write (fd, &c, 1), ==, 1);
}

static void
close_pair (int fds[2])
{
  g_assert_cmpint (close (fds[0]), ==, 0);
  g_assert_cmpint (close (fds[1]), ==, 0);
}

/* An fd watch that counts its runs and notifies, drains what it can read
 * and may remove itself or another watch. */
typedef struct
{
  EvlLoop *loop;
  int      fd;
  guint    n_ran;
  guint    n_notified;
  gsize    n_read;
  gboolean drain;          /* read what is readable */
  gboolean stop;           /* stop the loop when run */
  gboolean remove_self;    /* remove_reader / remove_writer from the callback */
  gboolean is_writer;
  int      remove_writer_fd;  /* >= 0: remove the writer of this fd */
  guint    n_notified_when_ran;
} Watch;

static void
watch_init (Watch   *w,
            EvlLoop *loop,
            int      fd)
{
  *w = (Watch) { 0 };
  w->loop = loop;
  w->fd = fd;
  w->drain = TRUE;
  w->remove_writer_fd = -1;
}

static void
watch_cb (gpointer user_data)
{
  Watch *w = user_data;

  w->n_ran++;
  w->n_notified_when_ran = w->n_notified;
  if (w->drain && !w->is_writer)
    {
      char buf[256];
      ssize_t r;

      while ((r = read (w->fd, buf, sizeof buf)) > 0)
        w->n_read += r;
    }
  if (w->remove_self)
    {
      if (w->is_writer)
        g_assert_true (evl_loop_remove_writer (w->loop, w->fd));
      else
        g_assert_true (evl_loop_remove_reader (w->loop, w->fd));
      /* The callback is still on the stack: its notify waits. */
      g_assert_cmpuint (w->n_notified, ==, 0);
    }
  if (w->remove_writer_fd >= 0)
    g_assert_true (evl_loop_remove_writer (w->loop, w->remove_writer_fd));
  if (w->stop)
    evl_loop_stop (w->loop);
}

static void
watch_notify (gpointer user_data)
{
  Watch *w = user_data;

  w->n_notified++;
}

static void
add_reader (Watch *w)
{
  GError *error = NULL;

  w->is_writer = FALSE;
  g_assert_true (evl_loop_add_reader (w->loop, w->fd, watch_cb, w, watch_notify, &error));
  g_assert_no_error (error);
}

static void
add_writer (Watch *w)
{
  GError *error = NULL;

  w->is_writer = TRUE;
  g_assert_true (evl_loop_add_writer (w->loop, w->fd, watch_cb, w, watch_notify, &error));
  g_assert_no_error (error);
}

/* Runs the loop until @w ran at least once (or 5 s passed). */
static void
run_until_ran (Watch *w)
{
  g_assert_true (evl_test_run_until_flag (w->loop, (gboolean *) &w->n_ran, 30.0));
}

/* Tests ------------------------------------------------------------------ */

static void
test_reader (void)
{
  EvlLoop *loop;
  Watch r;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&r, loop, fds[0]);
  add_reader (&r);

  /* Nothing to read: it does not fire. */
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (r.n_ran, ==, 0);

  write_byte (fds[1]);
  run_until_ran (&r);
  g_assert_cmpuint (r.n_ran, ==, 1);
  g_assert_cmpuint (r.n_read, ==, 1);

  /* Drained: quiet again. Written again: fires again (a persistent watch). */
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (r.n_ran, ==, 1);
  write_byte (fds[1]);
  write_byte (fds[1]);
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (r.n_ran, ==, 2);
  g_assert_cmpuint (r.n_read, ==, 3);

  /* Level-triggered: data left unread fires it in every iteration. */
  r.drain = FALSE;
  write_byte (fds[1]);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_cmpuint (r.n_ran, >=, 4);
  g_assert_cmpuint (r.n_notified, ==, 0);

  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  g_assert_cmpuint (r.n_notified, ==, 1);
  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);
  close_pair (fds);
}

static void
test_reader_hangup (void)
{
  EvlLoop *loop;
  Watch r;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  /* The peer closing makes the reader run (it then reads EOF). */
  watch_init (&r, loop, fds[0]);
  add_reader (&r);
  g_assert_cmpint (close (fds[1]), ==, 0);
  run_until_ran (&r);
  g_assert_cmpuint (r.n_read, ==, 0);
  g_assert_cmpint (read (fds[0], &(char) { 0 }, 1), ==, 0);

  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);
  g_assert_cmpint (close (fds[0]), ==, 0);
}

static void
test_writer (void)
{
  EvlLoop *loop;
  Watch w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&w, loop, fds[0]);
  add_writer (&w);
  run_until_ran (&w);
  evl_test_run_once (loop);
  g_assert_cmpuint (w.n_ran, >=, 2);   /* still writable */

  g_assert_true (evl_loop_remove_writer (loop, fds[0]));
  g_assert_cmpuint (w.n_notified, ==, 1);
  w.n_ran = 0;
  evl_test_run_for (loop, 0.01);
  g_assert_cmpuint (w.n_ran, ==, 0);

  evl_test_close_loop (loop);
  g_assert_cmpuint (w.n_notified, ==, 1);
  close_pair (fds);
}

static void
test_writer_full (void)
{
  EvlLoop *loop;
  Watch w, r;
  int fds[2];
  char buf[4096] = { 0 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  /* Fill the socket: the writer waits until the peer reads. */
  while (write (fds[0], buf, sizeof buf) > 0)
    ;
  g_assert_cmpint (errno, ==, EAGAIN);

  watch_init (&w, loop, fds[0]);
  add_writer (&w);
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (w.n_ran, ==, 0);

  /* The reader on the other end drains it. */
  watch_init (&r, loop, fds[1]);
  add_reader (&r);
  run_until_ran (&w);
  g_assert_cmpuint (r.n_ran, >=, 1);
  g_assert_cmpuint (r.n_read, >, 0);

  evl_test_close_loop (loop);
  g_assert_cmpuint (w.n_notified, ==, 1);
  g_assert_cmpuint (r.n_notified, ==, 1);
  close_pair (fds);
}

static void
test_reader_and_writer (void)
{
  EvlLoop *loop;
  Watch r, w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&r, loop, fds[0]);
  watch_init (&w, loop, fds[0]);
  add_reader (&r);
  add_writer (&w);
  run_until_ran (&w);
  g_assert_cmpuint (r.n_ran, ==, 0);

  write_byte (fds[1]);
  run_until_ran (&r);
  g_assert_cmpuint (r.n_read, ==, 1);

  /* Removing the writer leaves the reader. */
  g_assert_true (evl_loop_remove_writer (loop, fds[0]));
  g_assert_cmpuint (w.n_notified, ==, 1);
  g_assert_cmpuint (r.n_notified, ==, 0);
  w.n_ran = 0;
  r.n_ran = 0;
  write_byte (fds[1]);
  run_until_ran (&r);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpuint (w.n_ran, ==, 0);
  g_assert_cmpuint (r.n_read, ==, 2);

  /* And the other way round. */
  add_writer (&w);
  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  g_assert_cmpuint (r.n_notified, ==, 1);
  r.n_ran = 0;
  write_byte (fds[1]);
  run_until_ran (&w);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpuint (r.n_ran, ==, 0);

  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);
  g_assert_cmpuint (w.n_notified, ==, 2);
  close_pair (fds);
}

static void
test_replace (void)
{
  EvlLoop *loop;
  Watch first, second, w1, w2;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&first, loop, fds[0]);
  watch_init (&second, loop, fds[0]);
  add_reader (&first);
  add_reader (&second);
  /* The replaced reader's notify ran at once. */
  g_assert_cmpuint (first.n_notified, ==, 1);
  g_assert_cmpuint (second.n_notified, ==, 0);

  write_byte (fds[1]);
  run_until_ran (&second);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpuint (first.n_ran, ==, 0);
  g_assert_cmpuint (second.n_ran, ==, 1);

  /* The same for writers. */
  watch_init (&w1, loop, fds[0]);
  watch_init (&w2, loop, fds[0]);
  add_writer (&w1);
  add_writer (&w2);
  g_assert_cmpuint (w1.n_notified, ==, 1);
  run_until_ran (&w2);
  g_assert_cmpuint (w1.n_ran, ==, 0);

  /* One remove takes the replacement away; nothing is left. */
  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  g_assert_false (evl_loop_remove_reader (loop, fds[0]));
  g_assert_true (evl_loop_remove_writer (loop, fds[0]));
  g_assert_false (evl_loop_remove_writer (loop, fds[0]));

  evl_test_close_loop (loop);
  g_assert_cmpuint (first.n_notified, ==, 1);
  g_assert_cmpuint (second.n_notified, ==, 1);
  g_assert_cmpuint (w1.n_notified, ==, 1);
  g_assert_cmpuint (w2.n_notified, ==, 1);
  close_pair (fds);
}

/* A reader whose callback replaces itself: the new callback runs next time,
 * the old one's notify runs once, after its callback returned. */
typedef struct
{
  Watch  self;
  Watch *next;
} Replacer;

static void
replacer_cb (gpointer user_data)
{
  Replacer *r = user_data;
  GError *error = NULL;

  r->self.n_ran++;
  g_assert_true (evl_loop_add_reader (r->self.loop, r->self.fd, watch_cb, r->next, watch_notify, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r->self.n_notified, ==, 0);
}

static void
replacer_notify (gpointer user_data)
{
  Replacer *r = user_data;

  r->self.n_notified++;
}

static void
test_replace_in_callback (void)
{
  EvlLoop *loop;
  Replacer rep;
  Watch next;
  int fds[2];
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&rep.self, loop, fds[0]);
  watch_init (&next, loop, fds[0]);
  rep.next = &next;
  next.drain = FALSE;
  g_assert_true (evl_loop_add_reader (loop, fds[0], replacer_cb, &rep, replacer_notify, &error));
  g_assert_no_error (error);

  write_byte (fds[1]);
  run_until_ran (&next);
  g_assert_cmpuint (rep.self.n_ran, ==, 1);
  g_assert_cmpuint (rep.self.n_notified, ==, 1);

  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  g_assert_cmpuint (next.n_notified, ==, 1);
  evl_test_close_loop (loop);
  g_assert_cmpuint (rep.self.n_notified, ==, 1);
  g_assert_cmpuint (next.n_notified, ==, 1);
  close_pair (fds);
}

static void
test_remove (void)
{
  EvlLoop *loop;
  Watch r, w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  /* Nothing registered. */
  g_assert_false (evl_loop_remove_reader (loop, fds[0]));
  g_assert_false (evl_loop_remove_writer (loop, fds[0]));
  g_assert_false (evl_loop_remove_reader (loop, -1));
  g_assert_false (evl_loop_remove_writer (loop, 100000));

  watch_init (&r, loop, fds[0]);
  watch_init (&w, loop, fds[0]);
  add_reader (&r);
  add_writer (&w);
  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  g_assert_cmpuint (r.n_notified, ==, 1);
  g_assert_false (evl_loop_remove_reader (loop, fds[0]));
  g_assert_true (evl_loop_remove_writer (loop, fds[0]));
  g_assert_cmpuint (w.n_notified, ==, 1);
  g_assert_false (evl_loop_remove_writer (loop, fds[0]));

  /* Removed watches never run. */
  write_byte (fds[1]);
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (r.n_ran, ==, 0);
  g_assert_cmpuint (w.n_ran, ==, 0);

  /* Removed before the loop ran it, in the same iteration as it became
   * ready: the writer's callback is queued when the reader removes it. */
  add_reader (&r);
  add_writer (&w);
  r.remove_writer_fd = fds[0];
  run_until_ran (&r);
  g_assert_cmpuint (w.n_ran, ==, 0);
  g_assert_cmpuint (w.n_notified, ==, 2);
  r.remove_writer_fd = -1;
  g_assert_true (evl_loop_remove_reader (loop, fds[0]));

  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 2);
  g_assert_cmpuint (w.n_notified, ==, 2);
  close_pair (fds);
}

static void
test_remove_in_callback (void)
{
  EvlLoop *loop;
  Watch r, w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&r, loop, fds[0]);
  watch_init (&w, loop, fds[0]);
  r.remove_self = TRUE;
  r.drain = FALSE;   /* still readable afterwards */
  w.remove_self = TRUE;
  add_reader (&r);
  add_writer (&w);
  write_byte (fds[1]);
  run_until_ran (&r);
  run_until_ran (&w);
  evl_test_run_for (loop, 0.02);

  g_assert_cmpuint (r.n_ran, ==, 1);
  g_assert_cmpuint (w.n_ran, ==, 1);
  g_assert_cmpuint (r.n_notified, ==, 1);
  g_assert_cmpuint (w.n_notified, ==, 1);
  g_assert_false (evl_loop_remove_reader (loop, fds[0]));
  g_assert_false (evl_loop_remove_writer (loop, fds[0]));

  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);
  g_assert_cmpuint (w.n_notified, ==, 1);
  close_pair (fds);
}

/* A reader whose callback runs the loop again (a nested run, as a GTK
 * callback may do) while its fd stays readable: the reader runs again
 * inside, and when the outer call then removes it, the notify must still
 * wait for the outer call to return (it may free what the call uses). */
typedef struct
{
  EvlLoop *loop;
  int      fd;
  guint    depth;
  guint    n_ran;
  guint    n_nested;
  guint    n_notified;
  guint    n_notified_early;
} Reentrant;

static void
reentrant_cb (gpointer user_data)
{
  Reentrant *r = user_data;

  r->n_ran++;
  if (r->depth > 0)
    {
      r->n_nested++;
      return;
    }
  r->depth++;
  evl_test_run_for (r->loop, 0.01);
  r->depth--;
  g_assert_true (evl_loop_remove_reader (r->loop, r->fd));
  /* Still on the stack: too early for the notify. */
  r->n_notified_early = r->n_notified;
}

static void
reentrant_notify (gpointer user_data)
{
  Reentrant *r = user_data;

  r->n_notified++;
}

static void
test_reentrant_reader (void)
{
  EvlLoop *loop;
  Reentrant r = { 0 };
  GError *error = NULL;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  r.loop = loop;
  r.fd = fds[0];
  g_assert_true (evl_loop_add_reader (loop, fds[0], reentrant_cb, &r, reentrant_notify, &error));
  g_assert_no_error (error);
  write_byte (fds[1]);
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &r.n_ran, 30.0));
  evl_test_run_for (loop, 0.01);

  g_assert_cmpuint (r.n_nested, >=, 1);
  g_assert_cmpuint (r.n_ran, ==, r.n_nested + 1);
  g_assert_cmpuint (r.n_notified_early, ==, 0);
  g_assert_cmpuint (r.n_notified, ==, 1);

  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);
  close_pair (fds);
}

static void
never_cb (gpointer user_data)
{
  g_assert_not_reached ();
}

static void
test_invalid_fd (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  guint n_notified = 0;
  int fds[2], closed_fd;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* A number that is surely not open: one just closed. */
  evl_test_socketpair (fds);
  close_pair (fds);
  closed_fd = fds[0];

  g_assert_false (evl_loop_add_reader (loop, -1, never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 1);

  g_assert_false (evl_loop_add_writer (loop, -5, never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 2);

  g_assert_false (evl_loop_add_reader (loop, closed_fd, never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 3);

  g_assert_false (evl_loop_add_writer (loop, closed_fd, never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 4);

  g_assert_false (evl_loop_add_reader (loop, 1 << 20, never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 5);

  /* Without a GError to fill. */
  g_assert_false (evl_loop_add_reader (loop, -1, never_cb, &n_notified, evl_test_count, NULL));
  g_assert_cmpuint (n_notified, ==, 6);

  /* Nothing was registered. */
  g_assert_false (evl_loop_remove_reader (loop, closed_fd));
  g_assert_false (evl_loop_remove_writer (loop, closed_fd));

  /* The loop still works. */
  evl_test_run_for (loop, 0.001);

  evl_test_close_loop (loop);
  g_assert_cmpuint (n_notified, ==, 6);
}

/* An fd closed while it is watched must not wedge the loop. */
static void
test_closed_while_registered (void)
{
  EvlLoop *loop;
  Watch gone, other;
  int dead[2], live[2];
  guint n_timer = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (dead);
  evl_test_socketpair (live);

  watch_init (&gone, loop, dead[0]);
  gone.drain = FALSE;
  add_reader (&gone);
  watch_init (&other, loop, live[0]);
  add_reader (&other);
  close_pair (dead);

  /* Other fds and timers keep working. The closed fd's callback may run
   * (poll reports POLLNVAL, select EBADF) or not (epoll forgets it). */
  write_byte (live[1]);
  evl_loop_call_later (loop, 0.005, evl_test_count, &n_timer, NULL);
  run_until_ran (&other);
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &n_timer, 30.0));
  g_assert_cmpuint (other.n_read, ==, 1);

  write_byte (live[1]);
  run_until_ran (&other);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpuint (other.n_read, ==, 2);

  g_assert_true (evl_loop_remove_reader (loop, dead[0]));
  g_assert_cmpuint (gone.n_notified, ==, 1);
  g_assert_false (evl_loop_remove_reader (loop, dead[0]));
  gone.n_ran = 0;
  evl_test_run_for (loop, 0.01);
  g_assert_cmpuint (gone.n_ran, ==, 0);

  evl_test_close_loop (loop);
  g_assert_cmpuint (gone.n_notified, ==, 1);
  g_assert_cmpuint (other.n_notified, ==, 1);
  close_pair (live);
}

/* A new socketpair with the numbers of the old one. Returns FALSE (and
 * closes it) if the kernel gave other numbers. */
static gboolean
socketpair_like (const int old[2],
                 int       fds[2])
{
  evl_test_socketpair (fds);
  if (MIN (fds[0], fds[1]) == MIN (old[0], old[1]) && MAX (fds[0], fds[1]) == MAX (old[0], old[1]))
    {
      if (fds[0] != old[0])
        {
          int t = fds[0];

          fds[0] = fds[1];
          fds[1] = t;
        }
      return TRUE;
    }
  close_pair (fds);
  return FALSE;
}

static void
check_fd_reuse (gboolean remove_first)
{
  EvlLoop *loop;
  Watch old_r, old_w, new_r, new_w;
  int old[2], fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (old);

  watch_init (&old_r, loop, old[0]);
  watch_init (&old_w, loop, old[1]);
  add_reader (&old_r);
  add_writer (&old_w);
  write_byte (old[1]);
  run_until_ran (&old_r);
  run_until_ran (&old_w);
  if (remove_first)
    {
      g_assert_true (evl_loop_remove_reader (loop, old[0]));
      g_assert_true (evl_loop_remove_writer (loop, old[1]));
    }
  close_pair (old);

  /* Let the loop poll with the numbers closed. */
  evl_test_run_for (loop, 0.005);

  if (!socketpair_like (old, fds))
    {
      g_test_skip ("the kernel did not reuse the fd numbers");
      evl_test_close_loop (loop);
      return;
    }

  /* Watching the new files under the old numbers works: a replacement
   * watch must be registered afresh (epoll dropped the closed files). */
  watch_init (&new_r, loop, fds[0]);
  watch_init (&new_w, loop, fds[1]);
  add_reader (&new_r);
  write_byte (fds[1]);
  run_until_ran (&new_r);
  g_assert_cmpuint (new_r.n_read, ==, 1);
  add_writer (&new_w);
  run_until_ran (&new_w);

  g_assert_cmpuint (old_r.n_notified, ==, 1);
  g_assert_cmpuint (old_w.n_notified, ==, 1);

  /* And it goes on working. */
  new_r.n_ran = 0;
  write_byte (fds[1]);
  run_until_ran (&new_r);
  g_assert_cmpuint (new_r.n_read, ==, 2);

  evl_test_close_loop (loop);
  g_assert_cmpuint (new_r.n_notified, ==, 1);
  g_assert_cmpuint (new_w.n_notified, ==, 1);
  close_pair (fds);
}

static void
test_fd_reuse_after_remove (void)
{
  check_fd_reuse (TRUE);
}

static void
test_fd_reuse_replace (void)
{
  check_fd_reuse (FALSE);
}

/* A regular file: epoll refuses it, poll and select report it ready. Either
 * way the call is clean: an error with the notify run, or a reader that
 * fires; and the fd table stays consistent. */
static void
test_regular_file (void)
{
  EvlLoop *loop;
  Watch r;
  GError *error = NULL;
  char *path = NULL;
  int fd;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  fd = g_file_open_tmp ("evl-test-XXXXXX", &path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);

  watch_init (&r, loop, fd);
  r.drain = FALSE;
  if (evl_loop_add_reader (loop, fd, watch_cb, &r, watch_notify, &error))
    {
      g_assert_no_error (error);
      run_until_ran (&r);
      g_assert_true (evl_loop_remove_reader (loop, fd));
    }
  else
    {
      g_assert_nonnull (error);
      g_test_message ("add_reader on a regular file: %s", error->message);
      g_clear_error (&error);
      g_assert_false (evl_loop_remove_reader (loop, fd));
    }
  g_assert_cmpuint (r.n_notified, ==, 1);

  /* The loop still works. */
  evl_test_run_for (loop, 0.001);

  evl_test_close_loop (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);
  g_assert_cmpint (close (fd), ==, 0);
  g_unlink (path);
  g_free (path);
}

/* The loop's own fds (its wakeup descriptor, its epoll fd) cannot be
 * watched through it, or, if they can, do not break it. */
static void
test_own_fds (void)
{
  EvlLoop *loop;
  GHashTable *before = g_hash_table_new (g_direct_hash, g_direct_equal);
  GDir *dir;
  const char *name;
  GArray *own = g_array_new (FALSE, FALSE, sizeof (int));
  guint i, n_timer = 0;

  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (before, GINT_TO_POINTER (atoi (name)));
  g_dir_close (dir);

  loop = evl_test_new_loop ();
  if (loop == NULL)
    {
      g_hash_table_unref (before);
      g_array_unref (own);
      return;
    }

  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);

      if (!g_hash_table_contains (before, GINT_TO_POINTER (fd)) && fcntl (fd, F_GETFD) >= 0)
        g_array_append_val (own, fd);
    }
  g_dir_close (dir);

  for (i = 0; i < own->len; i++)
    {
      int fd = g_array_index (own, int, i);
      Watch r;
      GError *error = NULL;

      if (fcntl (fd, F_GETFD) < 0)
        continue;   /* the GDir's own fd */
      watch_init (&r, loop, fd);
      r.drain = FALSE;
      if (evl_loop_add_reader (loop, fd, watch_cb, &r, watch_notify, &error))
        {
          g_assert_no_error (error);
          evl_test_run_for (loop, 0.001);
          g_assert_true (evl_loop_remove_reader (loop, fd));
        }
      else
        {
          g_assert_nonnull (error);
          g_clear_error (&error);
          g_assert_false (evl_loop_remove_reader (loop, fd));
        }
      g_assert_cmpuint (r.n_notified, ==, 1);
    }

  /* The loop still works: timers, and posts from other threads (the
   * wakeup descriptor). */
  evl_loop_call_later (loop, 0.001, evl_test_count, &n_timer, NULL);
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &n_timer, 30.0));
  evl_handle_unref (evl_loop_call_soon_threadsafe (loop, evl_test_count, &n_timer, NULL));
  evl_test_run_once (loop);
  g_assert_cmpuint (n_timer, ==, 2);

  evl_test_close_loop (loop);
  g_hash_table_unref (before);
  g_array_unref (own);
}

#define N_PAIRS 500

static void
test_many_fds (void)
{
  EvlLoop *loop;
  static const guint chosen[] = { 0, 1, 99, 250, 251, 498, 499 };
  int (*pairs)[2];
  Watch *watches;
  gboolean is_chosen[N_PAIRS] = { 0 };
  guint i, n_ran;
  int max_fd = -1;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  watches = g_new (Watch, N_PAIRS);
  pairs = g_malloc (N_PAIRS * sizeof *pairs);

  for (i = 0; i < N_PAIRS; i++)
    {
      evl_test_socketpair (pairs[i]);
      max_fd = MAX (max_fd, MAX (pairs[i][0], pairs[i][1]));
    }
  if (g_strcmp0 (g_getenv ("EVL_SELECTOR"), "select") == 0 && max_fd >= FD_SETSIZE)
    {
      g_test_skip ("fd numbers too large for select()");
      goto out;
    }

  for (i = 0; i < N_PAIRS; i++)
    {
      watch_init (&watches[i], loop, pairs[i][0]);
      add_reader (&watches[i]);
    }
  evl_test_run_for (loop, 0.01);
  for (i = 0; i < N_PAIRS; i++)
    g_assert_cmpuint (watches[i].n_ran, ==, 0);

  for (i = 0; i < G_N_ELEMENTS (chosen); i++)
    {
      is_chosen[chosen[i]] = TRUE;
      write_byte (pairs[chosen[i]][1]);
    }
  for (i = 0; i < G_N_ELEMENTS (chosen); i++)
    run_until_ran (&watches[chosen[i]]);
  evl_test_run_for (loop, 0.01);

  n_ran = 0;
  for (i = 0; i < N_PAIRS; i++)
    {
      if (is_chosen[i])
        {
          g_assert_cmpuint (watches[i].n_ran, ==, 1);
          g_assert_cmpuint (watches[i].n_read, ==, 1);
        }
      else
        g_assert_cmpuint (watches[i].n_ran, ==, 0);
      n_ran += watches[i].n_ran;
    }
  g_assert_cmpuint (n_ran, ==, G_N_ELEMENTS (chosen));

  /* All of them at once. */
  for (i = 0; i < N_PAIRS; i++)
    write_byte (pairs[i][1]);
  for (i = 0; i < N_PAIRS; i++)
    run_until_ran (&watches[i]);
  evl_test_run_for (loop, 0.01);
  for (i = 0; i < N_PAIRS; i++)
    g_assert_cmpuint (watches[i].n_ran, ==, is_chosen[i] ? 2 : 1);

  for (i = 0; i < N_PAIRS; i += 2)
    g_assert_true (evl_loop_remove_reader (loop, pairs[i][0]));

out:
  evl_test_close_loop (loop);
  for (i = 0; i < N_PAIRS; i++)
    close_pair (pairs[i]);
  g_free (pairs);
  g_free (watches);
}

static void
test_close_with_watches (void)
{
  EvlLoop *loop;
  Watch r[4], w[4];
  int fds[4][2];
  guint n_before, i;

  n_before = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < 4; i++)
    {
      evl_test_socketpair (fds[i]);
      watch_init (&r[i], loop, fds[i][0]);
      watch_init (&w[i], loop, fds[i][1]);
      add_reader (&r[i]);
      add_writer (&w[i]);
    }
  write_byte (fds[0][1]);
  run_until_ran (&r[0]);

  g_assert_true (evl_loop_close (loop, NULL));
  for (i = 0; i < 4; i++)
    {
      g_assert_cmpuint (r[i].n_notified, ==, 1);
      g_assert_cmpuint (w[i].n_notified, ==, 1);
    }
  /* Nothing to remove any more. */
  g_assert_false (evl_loop_remove_reader (loop, fds[1][0]));
  g_assert_false (evl_loop_remove_writer (loop, fds[1][1]));
  evl_test_close_loop (loop);

  for (i = 0; i < 4; i++)
    {
      g_assert_cmpuint (r[i].n_notified, ==, 1);
      g_assert_cmpuint (w[i].n_notified, ==, 1);
      close_pair (fds[i]);
    }
  g_assert_cmpuint (evl_test_count_fds (), ==, n_before);
}

static void
test_finalize_with_watches (void)
{
  EvlLoop *loop;
  Watch r;
  int fds[2];
  guint n_before;

  n_before = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  watch_init (&r, loop, fds[0]);
  add_reader (&r);
  g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &loop);
  g_object_unref (loop);
  g_assert_null (loop);
  g_assert_cmpuint (r.n_notified, ==, 1);

  close_pair (fds);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_before);
}

static void
test_fds_cloexec (void)
{
  EvlLoop *loop;
  guint n_before;
  GDir *dir;
  const char *name;
  guint n_checked = 0;
  GHashTable *before = g_hash_table_new (g_direct_hash, g_direct_equal);

  /* Every fd the library creates is close-on-exec. */
  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (before, GINT_TO_POINTER (atoi (name)));
  g_dir_close (dir);
  n_before = evl_test_count_fds ();

  loop = evl_test_new_loop ();
  if (loop == NULL)
    {
      g_hash_table_unref (before);
      return;
    }
  g_assert_cmpuint (evl_test_count_fds (), >, n_before);

  dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);
      int flags;

      if (g_hash_table_contains (before, GINT_TO_POINTER (fd)))
        continue;
      flags = fcntl (fd, F_GETFD);
      if (flags < 0)
        continue;   /* the directory's own fd, closed by now */
      g_assert_true (flags & FD_CLOEXEC);
      n_checked++;
    }
  g_dir_close (dir);
  g_assert_cmpuint (n_checked, >, 0);

  evl_test_close_loop (loop);
  g_hash_table_unref (before);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_before);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/LoopIO/reader", test_reader);
  g_test_add_func ("/Evl/LoopIO/reader-hangup", test_reader_hangup);
  g_test_add_func ("/Evl/LoopIO/writer", test_writer);
  g_test_add_func ("/Evl/LoopIO/writer-full", test_writer_full);
  g_test_add_func ("/Evl/LoopIO/reader-and-writer", test_reader_and_writer);
  g_test_add_func ("/Evl/LoopIO/replace", test_replace);
  g_test_add_func ("/Evl/LoopIO/replace-in-callback", test_replace_in_callback);
  g_test_add_func ("/Evl/LoopIO/remove", test_remove);
  g_test_add_func ("/Evl/LoopIO/remove-in-callback", test_remove_in_callback);
  g_test_add_func ("/Evl/LoopIO/reentrant-reader", test_reentrant_reader);
  g_test_add_func ("/Evl/LoopIO/invalid-fd", test_invalid_fd);
  g_test_add_func ("/Evl/LoopIO/closed-while-registered", test_closed_while_registered);
  g_test_add_func ("/Evl/LoopIO/fd-reuse/after-remove", test_fd_reuse_after_remove);
  g_test_add_func ("/Evl/LoopIO/fd-reuse/replace", test_fd_reuse_replace);
  g_test_add_func ("/Evl/LoopIO/regular-file", test_regular_file);
  g_test_add_func ("/Evl/LoopIO/own-fds", test_own_fds);
  g_test_add_func ("/Evl/LoopIO/many-fds", test_many_fds);
  g_test_add_func ("/Evl/LoopIO/close-with-watches", test_close_with_watches);
  g_test_add_func ("/Evl/LoopIO/finalize-with-watches", test_finalize_with_watches);
  g_test_add_func ("/Evl/LoopIO/fds-cloexec", test_fds_cloexec);

  return g_test_run ();
}
