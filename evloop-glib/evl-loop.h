/* evl-loop.h: the abstract event loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"
#include "evl-handle.h"

G_BEGIN_DECLS

#define EVL_TYPE_LOOP (evl_loop_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (EvlLoop, evl_loop, EVL, LOOP, GObject)

/**
 * EvlLoopClass:
 * @parent_class: the parent class
 *
 * The class structure of [class@Evl.Loop]. Loop kinds are provided by
 * evloop-glib itself ([class@Evl.SelectorLoop], [class@Evl.ProactorLoop]);
 * their I/O backends plug in through an internal table.
 */
struct _EvlLoopClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer _evl_reserved[16];
};

EVL_AVAILABLE_IN_ALL
double     evl_loop_time                 (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
EvlHandle *evl_loop_call_soon            (EvlLoop      *loop,
                                          EvlCallback   callback,
                                          gpointer      user_data,
                                          GDestroyNotify notify);
EVL_AVAILABLE_IN_ALL
EvlHandle *evl_loop_call_later           (EvlLoop      *loop,
                                          double        delay,
                                          EvlCallback   callback,
                                          gpointer      user_data,
                                          GDestroyNotify notify);
EVL_AVAILABLE_IN_ALL
EvlHandle *evl_loop_call_at              (EvlLoop      *loop,
                                          double        when,
                                          EvlCallback   callback,
                                          gpointer      user_data,
                                          GDestroyNotify notify);
EVL_AVAILABLE_IN_ALL
EvlHandle *evl_loop_call_soon_threadsafe (EvlLoop      *loop,
                                          EvlCallback   callback,
                                          gpointer      user_data,
                                          GDestroyNotify notify);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_run_forever          (EvlLoop      *loop,
                                          GError      **error);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_run_until_complete   (EvlLoop      *loop,
                                          EvlFuture    *future,
                                          GError      **error);
EVL_AVAILABLE_IN_ALL
void       evl_loop_stop                 (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_is_running           (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_is_closed            (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_close                (EvlLoop      *loop,
                                          GError      **error);

EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_add_reader           (EvlLoop      *loop,
                                          int           fd,
                                          EvlCallback   callback,
                                          gpointer      user_data,
                                          GDestroyNotify notify,
                                          GError      **error);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_remove_reader        (EvlLoop      *loop,
                                          int           fd);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_add_writer           (EvlLoop      *loop,
                                          int           fd,
                                          EvlCallback   callback,
                                          gpointer      user_data,
                                          GDestroyNotify notify,
                                          GError      **error);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_remove_writer        (EvlLoop      *loop,
                                          int           fd);

EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_add_signal_handler    (EvlLoop     *loop,
                                           int          signum,
                                           EvlCallback  callback,
                                           gpointer     user_data,
                                           GDestroyNotify notify,
                                           GError     **error);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_remove_signal_handler (EvlLoop     *loop,
                                           int          signum);

EVL_AVAILABLE_IN_ALL
EvlFuture *evl_loop_create_future        (EvlLoop      *loop);

EVL_AVAILABLE_IN_ALL
void       evl_loop_set_exception_handler  (EvlLoop             *loop,
                                            EvlExceptionHandler  handler,
                                            gpointer             user_data,
                                            GDestroyNotify       notify);
EVL_AVAILABLE_IN_ALL
void       evl_loop_call_exception_handler (EvlLoop      *loop,
                                            const GError *error,
                                            const char   *message);
EVL_AVAILABLE_IN_ALL
void       evl_loop_default_exception_handler (EvlLoop      *loop,
                                               const GError *error,
                                               const char   *message);

EVL_AVAILABLE_IN_ALL
void       evl_loop_set_debug            (EvlLoop      *loop,
                                          gboolean      enabled);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_get_debug            (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
void       evl_loop_set_slow_callback_duration (EvlLoop *loop,
                                                double   seconds);
EVL_AVAILABLE_IN_ALL
double     evl_loop_get_slow_callback_duration (EvlLoop *loop);

EVL_AVAILABLE_IN_ALL
GMainContext *evl_loop_get_context       (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
GSource   *evl_loop_create_source        (EvlLoop      *loop);
EVL_AVAILABLE_IN_ALL
guint      evl_loop_attach               (EvlLoop      *loop,
                                          GMainContext *context);

/* Socket primitives (asyncio's sock_* methods), on every loop kind */
EVL_AVAILABLE_IN_ALL
void       evl_loop_sock_recv_async       (EvlLoop             *loop,
                                           int                  fd,
                                           gsize                max_bytes,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
EVL_AVAILABLE_IN_ALL
GBytes    *evl_loop_sock_recv_finish      (EvlLoop             *loop,
                                           GAsyncResult        *result,
                                           GError             **error);
EVL_AVAILABLE_IN_ALL
void       evl_loop_sock_recv_into_async  (EvlLoop             *loop,
                                           int                  fd,
                                           guint8              *buffer,
                                           gsize                count,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
EVL_AVAILABLE_IN_ALL
gssize     evl_loop_sock_recv_into_finish (EvlLoop             *loop,
                                           GAsyncResult        *result,
                                           GError             **error);
EVL_AVAILABLE_IN_ALL
void       evl_loop_sock_sendall_async    (EvlLoop             *loop,
                                           int                  fd,
                                           GBytes              *data,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_sock_sendall_finish   (EvlLoop             *loop,
                                           GAsyncResult        *result,
                                           GError             **error);
EVL_AVAILABLE_IN_ALL
void       evl_loop_sock_connect_async    (EvlLoop             *loop,
                                           int                  fd,
                                           GSocketAddress      *address,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_sock_connect_finish   (EvlLoop             *loop,
                                           GAsyncResult        *result,
                                           GError             **error);
EVL_AVAILABLE_IN_ALL
void       evl_loop_sock_accept_async     (EvlLoop             *loop,
                                           int                  fd,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
EVL_AVAILABLE_IN_ALL
int        evl_loop_sock_accept_finish    (EvlLoop             *loop,
                                           GAsyncResult        *result,
                                           GSocketAddress     **address,
                                           GError             **error);

G_END_DECLS
