/* evl-test-bridge.h: helpers of the GLib bridge tests (bridge-source.c,
 * bridge-context.c, bridge-nested.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

G_BEGIN_DECLS

/* A generous guard for "this must happen": only reached on failure. */
guint      guard_ms                  (void);

/* Closes @loop (asserting success) and drops the caller's reference. */
void       close_loop                (EvlLoop      *loop);

/* A loop of the kind under test that drives @context while it runs. */
EvlLoop   *new_context_loop          (GMainContext *context);

/* Whether the loop has a single fd for GLib (epoll, io_uring) rather than
 * mirroring every watched fd (poll, select). */
gboolean   loop_has_poll_fd          (EvlLoop      *loop);

double     wall_seconds              (void);

/* Fails the test if more than 20 % of the wall time since @wall0 was
 * spent on a CPU (since @cpu0, evl_test_cpu_time()): a generous bound
 * that only a busy loop exceeds. */
void       assert_idle               (double        cpu0,
                                      double        wall0,
                                      const char   *what);

/* A GLib-side guard: quits @ml and records that it fired. */
typedef struct
{
  GMainLoop *ml;
  gboolean   fired;
  GSource   *source;
} Guard;

void       guard_start               (Guard        *guard,
                                      GMainContext *context,
                                      GMainLoop    *ml);
/* Asserts that the guard did not fire and removes it. */
void       guard_stop                (Guard        *guard);

/* An evloop-side guard: cancels @future after guard_ms() so that
 * run_until_complete() returns instead of hanging. Stop it with
 * handle_done(). */
EvlHandle *future_guard              (EvlLoop      *loop,
                                      EvlFuture    *future);
void       handle_done               (EvlHandle    *handle);

/* Completes @future with no result (asserting success); as an EvlCallback
 * and as a GSourceFunc. */
void       complete_future           (EvlFuture    *future);
void       complete_future_cb        (gpointer      data);
gboolean   complete_future_source_cb (gpointer      data);

/* run_until_complete() under a future_guard(), asserting success. */
void       run_until_complete_ok     (EvlLoop      *loop,
                                      EvlFuture    *future);

/* Quit the GMainLoop at @data: an EvlCallback, a GSourceFunc. */
void       quit_cb                   (gpointer      data);
gboolean   quit_source_cb            (gpointer      data);

/* Sets up a fresh context, a GMainLoop on it and a loop attached to it. */
typedef struct
{
  GMainContext *context;
  GMainLoop    *ml;
  EvlLoop      *loop;
  GSource      *source;
  Guard         guard;
} Attached;

/* @drive: the loop also drives the context (its "context" property). */
void       attached_setup            (Attached     *a,
                                      gboolean      drive);
void       attached_teardown         (Attached     *a);

/* The start of every bridge test program's main(): g_test_init, the
 * watchdog; FALSE when the loop kind under test cannot be made here (then
 * only a test that says so is added). */
gboolean   bridge_test_init          (int          *argc,
                                      char       ***argv);

G_END_DECLS
