/* evl-test-protocol.h: a recording EvlProtocol and async helpers for the
 * transport, server, unix, pipe and subprocess tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-test-util.h"

G_BEGIN_DECLS

#define TEST_TYPE_PROTO (test_proto_get_type ())
G_DECLARE_FINAL_TYPE (TestProto, test_proto, TEST, PROTO, GObject)

/* Records every call and checks asyncio's ordering rules as it goes:
 * connection_made first and once, nothing after connection_lost, lost
 * exactly once, pause/resume alternating. */
struct _TestProto
{
  GObject       parent_instance;

  EvlTransport *transport;     /* from connection_made until connection_lost */
  GByteArray   *data;
  guint         n_made;
  guint         n_data;
  guint         n_eof;
  guint         n_lost;
  guint         n_pause;
  guint         n_resume;
  gboolean      paused;
  GError       *error;         /* of connection_lost */
  gboolean      made;          /* flags for evl_test_run_until_flag */
  gboolean      eof;
  gboolean      lost;
  gboolean      got_expected;  /* data->len >= expect */
  gsize         expect;

  /* behaviour */
  gboolean      keep_open;     /* eof_received's answer */
  gboolean      echo;          /* write back what arrives */
  gboolean      echo_eof;      /* write_eof when EOF arrives (with keep_open) */
  gboolean      pause_on_data; /* pause_reading after each data_received */
  gboolean      write_on_resume;
  GMainLoop    *quit_on_data;  /* quit after each data_received, if set */
};

TestProto *test_proto_new (void);

/* An EvlProtocolFactory making TestProtos configured like *@template
 * (the behaviour fields), each appended to @created. */
typedef struct
{
  TestProto  template_;
  GPtrArray *created;          /* TestProto, owned */
} TestFactory;

void        test_factory_init  (TestFactory *f);
void        test_factory_clear (TestFactory *f);
EvlProtocol *test_factory_make (gpointer     data);

/* Collects an async result. */
typedef struct
{
  EvlLoop      *loop;
  GAsyncResult *result;
  gboolean      done;
  guint         n_calls;
  /* filled by the callback for create_connection */
  guint         made_before_callback;
} TestWaiter;

void     test_waiter_init  (TestWaiter   *w,
                            EvlLoop      *loop);
void     test_waiter_cb    (GObject      *source,
                            GAsyncResult *result,
                            gpointer      data);
void     test_waiter_wait  (TestWaiter   *w);
void     test_waiter_clear (TestWaiter   *w);

/* Runs @loop until *@flag (fails the test after a generous hang guard). */
void     test_run_until    (EvlLoop      *loop,
                            gboolean     *flag);

/* Helpers that run the loop until done. */
EvlServer    *test_start_server  (EvlLoop     *loop,
                                  TestFactory *factory,
                                  const char  *host);
EvlTransport *test_connect       (EvlLoop     *loop,
                                  TestFactory *factory,
                                  const char  *host,
                                  guint16      port,
                                  TestProto  **proto);
void          test_server_close  (EvlLoop     *loop,
                                  EvlServer   *server);

/* Connects a read pipe (or a write pipe when @writing) on @fd with a
 * TestProto of @f, running @loop until done; the protocol in *@proto
 * (dropped when @proto is NULL). NULL with @error set on failure. */
EvlTransport *test_connect_pipe (EvlLoop      *loop,
                                 TestFactory  *f,
                                 int           fd,
                                 gboolean      writing,
                                 TestProto   **proto,
                                 GError      **error);

/* A GBytes of @len pseudo-random bytes (deterministic). */
GBytes  *test_pattern      (gsize         len,
                            guint         seed);

G_END_DECLS
