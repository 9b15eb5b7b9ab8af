/* evl-test-dgram.h: a recording EvlDatagramProtocol and helpers for the
 * datagram tests (datagram, datagram-unix, datagram-win32)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-test-util.h"

G_BEGIN_DECLS

#define TEST_TYPE_DGRAM (test_dgram_get_type ())
G_DECLARE_FINAL_TYPE (TestDgram, test_dgram, TEST, DGRAM, GObject)

/* Records every call and checks asyncio's ordering rules as it goes:
 * connection_made first and once, nothing after connection_lost, lost
 * exactly once, pause/resume alternating. */
struct _TestDgram
{
  GObject               parent_instance;

  EvlDatagramTransport *transport;  /* from connection_made until connection_lost */
  GPtrArray            *data;       /* GBytes */
  GPtrArray            *senders;    /* GSocketAddress, or NULL entries */
  GPtrArray            *errors;     /* GError from error_received */
  guint                 n_made;
  guint                 n_lost;
  guint                 n_pause;
  guint                 n_resume;
  gboolean              paused;
  GError               *lost_error;
  gboolean              lost;       /* flags for evl_test_run_until_flag */
  gboolean              got_error;
  gboolean              got_expected;
  guint                 expect;     /* got_expected once data->len >= expect */
  gboolean              resumed;

  gboolean              echo;       /* send each datagram back to its sender */
};

TestDgram            *test_dgram_new          (void);

/* An EvlDatagramProtocolFactory: returns a new reference to the
 * TestDgram given as data. */
EvlDatagramProtocol  *test_dgram_factory_ref  (gpointer          data);

/* Creates an endpoint for @proto (which gets connection_made before the
 * callback runs); NULL with @error set on failure. */
EvlDatagramTransport *test_dgram_endpoint_full (EvlLoop           *loop,
                                                TestDgram         *proto,
                                                GSocketAddress    *local,
                                                GSocketAddress    *remote,
                                                EvlDatagramFlags   flags,
                                                GCancellable      *cancellable,
                                                GError           **error);
/* The same, asserting success. */
EvlDatagramTransport *test_dgram_endpoint     (EvlLoop          *loop,
                                               TestDgram        *proto,
                                               GSocketAddress   *local,
                                               GSocketAddress   *remote);

/* Closes @transport and waits for connection_lost (clean); its fd is -1
 * then. */
void                  test_dgram_close_and_wait (EvlLoop              *loop,
                                                 EvlDatagramTransport *transport,
                                                 TestDgram            *proto);

/* The loopback address of @family with @port. */
GSocketAddress       *test_dgram_loopback     (GSocketFamily     family,
                                               guint16           port);
/* Whether a UDP socket can bind the IPv6 loopback address. */
gboolean              test_dgram_ipv6_available (void);
/* A UDP port on 127.0.0.1 nothing listens on: bound, then closed. */
guint16               test_dgram_closed_port  (void);

GBytes               *test_dgram_bytes_printf (const char       *format,
                                               ...) G_GNUC_PRINTF (1, 2);
void                  test_dgram_assert_bytes (GBytes           *bytes,
                                               const char       *expected);
/* Two internet socket addresses are the same address and port. */
gboolean              test_dgram_address_equal (GSocketAddress  *a,
                                                GSocketAddress  *b);

G_END_DECLS
