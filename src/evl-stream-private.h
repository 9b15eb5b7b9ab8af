/* evl-stream-private.h: the stream transport of sockets and pipes, with
 * its state machine shared by a readiness engine (the selector loop) and
 * a completion engine (the proactor loop)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-loop-private.h"
#include "evl-transport-private.h"
#include "evl-write-buffer-private.h"

G_BEGIN_DECLS

/* EvlStreamTransport is asyncio's _SelectorSocketTransport,
 * _ProactorSocketTransport and the Unix pipe transports in one type. The
 * protocol calls, the write buffer, flow control and the close/abort
 * state machine are in evl-stream-transport.c; how bytes move is an
 * EvlStreamEngine:
 *
 *  - readiness (evl-stream-selector.c): a persistent internal reader on
 *    the fd, writes tried at once, the rest buffered behind a writer;
 *  - completion (evl-stream-proactor.c): a RECV kept in flight into the
 *    transport's buffer, one SEND of the buffered data at a time, through
 *    the loop's socket primitives (which the proactor hands to the ring).
 *
 * Sockets on a loop whose backend completes socket operations get the
 * completion engine; pipes get the platform's pipe engine where it has
 * one (evl_stream_pipe_engine, evl-pipe-private.h: Windows, whose pipes
 * cannot be polled, moves their bytes with overlapped ReadFile/WriteFile);
 * everything else (every fd on the selector loop, pipes on the io_uring
 * proactor, whose ring serves them poll requests) the readiness engine. */

typedef enum
{
  EVL_STREAM_SOCKET   = 1 << 0,  /* a connected stream socket */
  EVL_STREAM_READ     = 1 << 1,  /* receives (socket, read pipe) */
  EVL_STREAM_WRITE    = 1 << 2,  /* sends (socket, write pipe) */
} EvlStreamFlags;

#define EVL_TYPE_STREAM_TRANSPORT (evl_stream_transport_get_type ())

G_DECLARE_FINAL_TYPE (EvlStreamTransport, evl_stream_transport, EVL, STREAM_TRANSPORT, EvlTransport)

typedef struct _EvlStreamEngine EvlStreamEngine;

/* Size of the receive buffer (asyncio reads up to 256 KiB at a time). */
#define EVL_STREAM_READ_SIZE (64 * 1024)

struct _EvlStreamTransport
{
  EvlTransport           parent_instance;

  EvlLoop               *loop;            /* the base class holds it */
  const EvlStreamEngine *engine;
  int                    fd;              /* -1 once closed */
  EvlStreamFlags         flags;

  /* what is not yet sent (in flight included) */
  EvlWriteBuffer         wbuf;

  guint                  conn_lost;       /* asyncio's _conn_lost */
  guint                  writes_after_lost;
  gboolean               started;         /* connection_made was called */
  gboolean               closing;
  gboolean               paused;          /* pause_reading */
  gboolean               eof;             /* write_eof called */
  gboolean               eof_received;    /* reading ended */
  gboolean               released;        /* fd closed, self reference dropped */
  gboolean               alive_ref;       /* holds a reference to itself */
  EvlLoopCloseHook       close_hook;      /* tells us when the loop closes */

  /* called once after connection_lost (the server counts connections) */
  GDestroyNotify         on_lost;
  gpointer               on_lost_data;

  /* engine state */
  guint8                *rbuf;
  gboolean               reading;         /* readiness: reader installed */
  gboolean               writing;         /* readiness: writer installed */
  gboolean               recv_busy;       /* completion: RECV in flight */
  gboolean               send_busy;       /* completion: SEND in flight */
  gsize                  send_len;
  GByteArray            *held;            /* completion: received while paused */
  gboolean               held_eof;        /* completion: EOF seen while paused */
  gboolean               held_scheduled;
  gboolean               release_pending; /* lost, waiting for operations in flight */
  GCancellable          *read_cancel;
  GCancellable          *write_cancel;
};

struct _EvlStreamEngine
{
  /* Start receiving (called while reading is wanted: open, not paused,
   * no EOF yet). */
  void   (*start_reading) (EvlStreamTransport *self);
  /* Stop receiving for now (pause_reading) or for good (close, EOF kept
   * open, lost). */
  void   (*stop_reading)  (EvlStreamTransport *self,
                           gboolean            for_good);
  /* Optional: write at once while nothing is buffered; returns bytes
   * written (0 when it would block) or -errno. */
  gssize (*try_write)     (EvlStreamTransport *self,
                           const guint8       *data,
                           gsize               len);
  /* The buffer has data: make sure it is being sent. */
  void   (*flush)         (EvlStreamTransport *self);
  /* Stop sending for good (abort, write error). */
  void   (*stop_writing)  (EvlStreamTransport *self);
  /* Whether no operation is in flight that still uses the fd or rbuf. */
  gboolean (*idle)        (EvlStreamTransport *self);
};

extern const EvlStreamEngine evl_stream_readiness_engine;
extern const EvlStreamEngine evl_stream_completion_engine;

/* Creates a transport over @fd (taken: the transport closes it) that
 * calls @protocol (an EvlProtocol). Nothing happens until _start(). */
EvlStreamTransport *evl_stream_transport_new   (EvlLoop            *loop,
                                                int                 fd,
                                                EvlStreamFlags      flags,
                                                GObject            *protocol);
/* Calls connection_made and starts reading. The transport keeps itself
 * (and its protocol) alive until connection_lost. */
void     evl_stream_transport_start            (EvlStreamTransport *self);
void     evl_stream_transport_set_lost_notify  (EvlStreamTransport *self,
                                                GDestroyNotify      notify,
                                                gpointer            data);

/* For the engines (evl-stream-selector.c, evl-stream-proactor.c). */
gboolean evl_stream_wants_reading              (EvlStreamTransport *self);
void     evl_stream_data_received              (EvlStreamTransport *self,
                                                const guint8       *data,
                                                gsize               len);
void     evl_stream_eof_received               (EvlStreamTransport *self);
void     evl_stream_fatal_error                (EvlStreamTransport *self,
                                                GError             *error);
void     evl_stream_fatal_errno                (EvlStreamTransport *self,
                                                int                 errsv,
                                                gboolean            writing);
/* @n bytes of the buffer were sent. */
void     evl_stream_wrote                      (EvlStreamTransport *self,
                                                gsize               n);
/* Fills @iov with the unsent buffer; returns how many entries. */
int      evl_stream_get_iov                    (EvlStreamTransport *self,
                                                EvlOsIoVec         *iov,
                                                int                 max);
/* The buffer as one GBytes (joining the chunks), which then is the only
 * chunk. */
GBytes  *evl_stream_take_coalesced             (EvlStreamTransport *self);
/* A SEND of a completion engine ended (evl-stream-proactor.c): TRUE when
 * the engine should send what is still buffered. */
gboolean evl_stream_completion_sent            (EvlStreamTransport *self,
                                                EvlLoop            *loop,
                                                GAsyncResult       *result);
/* The error of a transport whose loop closed under it (a new GError). */
GError  *evl_stream_loop_closed_error          (void);
/* An engine's operation ended: finishes a deferred release. */
void     evl_stream_engine_settled             (EvlStreamTransport *self);

/* Socket and pipe I/O that never raises SIGPIPE: >= 0 or -errno (the
 * OS layer's calls, evl-os-sock-private.h; pipes on Windows have their
 * own engine and never come here). */
gssize   evl_stream_fd_read                    (int                 fd,
                                                gboolean            is_socket,
                                                guint8             *buffer,
                                                gsize               len);
gssize   evl_stream_fd_writev                  (int                 fd,
                                                gboolean            is_socket,
                                                const EvlOsIoVec   *iov,
                                                int                 n_iov);

G_END_DECLS
