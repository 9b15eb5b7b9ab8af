/* evl-demo-echo.h: a line-based TCP echo server and client on an evloop
 * loop, with plain non-blocking sockets and add_reader/add_writer (shared
 * by the demos)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* What the demos count, for their "per second" tickers. */
typedef struct
{
  guint64 callbacks;     /* every loop callback of the demo code */
  guint64 timers;        /* call_later callbacks among them */
  guint64 bytes_echoed;  /* by the server */
  guint64 lines_echoed;  /* received back by the client */
} DemoStats;

extern DemoStats demo_stats;

/* Count a callback (and a timer callback) of the demo code. */
#define DEMO_CALLBACK() (demo_stats.callbacks++)
#define DEMO_TIMER()    (demo_stats.callbacks++, demo_stats.timers++)

typedef struct _DemoServer DemoServer;
typedef struct _DemoClient DemoClient;

/* An echo server on 127.0.0.1:@port (0: any free port). */
DemoServer *demo_server_new        (EvlLoop     *loop,
                                    guint16      port,
                                    GError     **error);
guint16     demo_server_get_port   (DemoServer  *server);
guint       demo_server_get_n_peers (DemoServer *server);
void        demo_server_free       (DemoServer  *server);

typedef void (*DemoClientFunc) (DemoClient *client,
                                const char *line,    /* NULL: connected */
                                const GError *error, /* set: failed or closed */
                                gpointer    user_data);

/* Connects to 127.0.0.1:@port without blocking; @func runs with line NULL
 * once connected, with each line received (without its newline), and with
 * @error set when the connection fails or closes. */
DemoClient *demo_client_new        (EvlLoop        *loop,
                                    guint16         port,
                                    DemoClientFunc  func,
                                    gpointer        user_data,
                                    GError        **error);
gboolean    demo_client_is_connected (DemoClient   *client);
void        demo_client_send_line  (DemoClient     *client,
                                    const char     *line);
void        demo_client_free       (DemoClient     *client);

G_END_DECLS
