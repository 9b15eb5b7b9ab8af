/* evl-pipe-win32.c: pipe HANDLEs and their transport engine on Windows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>

#include "evl-loop-private.h"   /* winsock2.h before windows.h */

#include <windows.h>

#include "evl-pipe-private.h"
#include "evl-win32-pipe-private.h"

/* On Windows the `int fd` of connect_read_pipe/connect_write_pipe is a
 * pipe HANDLE cast to int, opened for overlapped I/O (a named pipe made
 * with FILE_FLAG_OVERLAPPED, as asyncio's windows_utils.pipe() and
 * evl_win32_pipe_pair() make them). Pipes cannot be polled there, so the
 * transport moves bytes as asyncio's _ProactorReadPipeTransport and
 * _ProactorBaseWritePipeTransport do, with one engine for every loop kind:
 *
 *  - one overlapped ReadFile into @rbuf while reading is wanted, one
 *    overlapped WriteFile of the buffer (joined into one chunk) at a time;
 *  - on the selector loops each operation signals an event of its own
 *    (manual reset), watched by the loop as an internal reader on that
 *    HANDLE while the operation is in flight: the selectors wait for it
 *    next to their sockets (WaitForMultipleObjects: at most 63 HANDLEs
 *    per selector, and each pipe with an operation in flight takes one
 *    or two);
 *  - on the proactor loop the operations go to its I/O completion port
 *    through the loop's socket primitives (sock_recv_into,
 *    sock_sendall), which the IOCP backend turns into overlapped
 *    ReadFile/WriteFile on a pipe (evl-iocp-backend.c): no event, no
 *    HANDLE limit; the pipe then belongs to that port for good;
 *  - pause_reading lets the read in flight complete and holds its bytes
 *    (or the end of the stream) until resume_reading;
 *  - a write pipe keeps a read in flight too, which ends when the reader
 *    goes away (ERROR_BROKEN_PIPE), as asyncio's write pipe transport
 *    does; a pipe opened for writing only cannot be read and tells only
 *    through a failed write;
 *  - the end of the stream is ERROR_BROKEN_PIPE (or ERROR_HANDLE_EOF);
 *  - close and abort cancel what is in flight: on the selector loops
 *    with CancelIoEx, waiting for the cancellation there and then (a
 *    pipe operation ends at once when cancelled), so the HANDLE and
 *    buffers are released at once; on the proactor loop through the
 *    operations' GCancellables, the HANDLE being released once both
 *    have reported (as for sockets, evl-stream-proactor.c). */

/* ---------------------------------------------------------------------- */
/* HANDLEs */

int
evl_win32_errno (DWORD code)
{
  switch (code)
    {
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
    case ERROR_PIPE_NOT_CONNECTED:
      return EPIPE;
    case ERROR_OPERATION_ABORTED:
      return ECANCELED;
    case ERROR_INVALID_HANDLE:
      return EBADF;
    case ERROR_ACCESS_DENIED:
      return EACCES;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return ENOMEM;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_FUNCTION:
      return EINVAL;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return ENOENT;
    case ERROR_TOO_MANY_OPEN_FILES:
      return EMFILE;
    default:
      return EIO;
    }
}

typedef LONG (NTAPI *NtQueryInformationFileFunc) (HANDLE, gpointer, gpointer, ULONG, int);

gboolean
evl_win32_handle_is_overlapped (HANDLE h)
{
  static NtQueryInformationFileFunc query;
  static gsize inited;
  struct { LONG status; ULONG_PTR info; } iosb;
  ULONG mode = 0;

  if (g_once_init_enter (&inited))
    {
      HMODULE ntdll = GetModuleHandleW (L"ntdll.dll");

      if (ntdll != NULL)
        query = (NtQueryInformationFileFunc) (gpointer) GetProcAddress (ntdll, "NtQueryInformationFile");
      g_once_init_leave (&inited, 1);
    }
  if (query == NULL)
    return TRUE;
  /* 16: FileModeInformation; 0x30: FILE_SYNCHRONOUS_IO_ALERT|NONALERT */
  if (query (h, &iosb, &mode, sizeof mode, 16) < 0)
    return FALSE;
  return (mode & 0x30) == 0;
}

void
evl_pipe_close_fd (int fd)
{
  if (fd >= 0)
    CloseHandle ((HANDLE) (gintptr) fd);
}

gboolean
evl_pipe_prepare_fd (int              fd,
                     EvlStreamFlags   flags,
                     GError         **error)
{
  HANDLE h = (HANDLE) (gintptr) fd;
  DWORD type;

  if (fd <= 0 || h == INVALID_HANDLE_VALUE)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is not valid; pass an open pipe"), fd);
      return FALSE;
    }
  SetLastError (0);
  type = GetFileType (h);
  if (type == FILE_TYPE_UNKNOWN && GetLastError () != NO_ERROR)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is not valid; pass an open pipe"), fd);
      return FALSE;
    }
  if (type != FILE_TYPE_PIPE)
    g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("HANDLE %d is not a pipe; on Windows pass the HANDLE of a named pipe "
                   "opened for overlapped I/O"), fd);
  else if (!evl_win32_handle_is_overlapped (h))
    g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("Pipe HANDLE %d was opened for synchronous I/O, which would block the loop; "
                   "pass a named pipe opened with FILE_FLAG_OVERLAPPED (CreatePipe() makes "
                   "synchronous pipes)"), fd);
  else
    {
      SetHandleInformation (h, HANDLE_FLAG_INHERIT, 0);
      return TRUE;
    }
  CloseHandle (h);
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* the engine */

/* A write pipe's read that only waits for the reader to go away. */
#define PROBE_SIZE 16

typedef struct
{
  HANDLE      handle;
  OVERLAPPED  rov;
  OVERLAPPED  wov;
  DWORD       rerror;      /* ReadFile failed at once with this */
  DWORD       werror;      /* WriteFile failed at once with this */
  gboolean    rwatch;      /* the loop watches rov.hEvent */
  gboolean    wwatch;      /* the loop watches wov.hEvent */
  GBytes     *wbytes;      /* what WriteFile is sending */
  gboolean    iocp;        /* through the proactor's port */
  gsize       held_len;    /* completed while paused: bytes in rbuf */
  DWORD       held_error;  /* completed while paused: how it ended */
  guint8      probe[PROBE_SIZE];
} PipeState;

static GQuark
state_quark (void)
{
  return g_quark_from_static_string ("evl-pipe-win32-state");
}

static void
state_free (gpointer data)
{
  PipeState *st = data;

  g_clear_pointer (&st->wbytes, g_bytes_unref);
  if (st->rov.hEvent != NULL)
    CloseHandle (st->rov.hEvent);
  if (st->wov.hEvent != NULL)
    CloseHandle (st->wov.hEvent);
  g_free (st);
}

static PipeState *
get_state (EvlStreamTransport *self)
{
  PipeState *st = g_object_get_qdata (G_OBJECT (self), state_quark ());

  if (st == NULL)
    {
      st = g_new0 (PipeState, 1);
      st->handle = (HANDLE) (gintptr) self->fd;
      st->iocp = evl_loop_get_backend (self->loop)->sock_submit != NULL;
      if (!st->iocp)
        {
          st->rov.hEvent = CreateEventW (NULL, TRUE, FALSE, NULL);
          st->wov.hEvent = CreateEventW (NULL, TRUE, FALSE, NULL);
        }
      g_object_set_qdata_full (G_OBJECT (self), state_quark (), st, state_free);
    }
  return st;
}

static void
watch_unref (gpointer data)
{
  g_object_unref (data);
}

static gboolean
watch_event (EvlStreamTransport  *self,
             HANDLE               event,
             EvlCallback          callback,
             GError             **error)
{
  return evl_loop_add_internal_watch (self->loop, (int) (gintptr) event, FALSE, callback,
                                      g_object_ref (self), watch_unref, error);
}

static void
unwatch_event (EvlStreamTransport *self,
               HANDLE              event,
               gboolean           *watched)
{
  if (!*watched)
    return;
  *watched = FALSE;
  evl_loop_remove_internal_watch (self->loop, (int) (gintptr) event, FALSE);
}

/* Ends the operation of @ov in flight at once: cancelled, or completed
 * before the cancellation. */
static void
cancel_and_wait (PipeState  *st,
                 OVERLAPPED *ov)
{
  DWORD n;

  if (!CancelIoEx (st->handle, ov) && GetLastError () == ERROR_NOT_FOUND)
    {
      /* Completed already (or never started): nothing to wait for beyond
       * its result, which GetOverlappedResult returns at once. */
    }
  GetOverlappedResult (st->handle, ov, &n, TRUE);
}

static void start_read (EvlStreamTransport *self);

/* The reader of a write pipe went away (or its probe failed). */
static void
probe_ended (EvlStreamTransport *self)
{
  if (self->wbuf.size > 0)
    evl_stream_fatal_errno (self, EPIPE, TRUE);
  else
    evl_transport_abort (EVL_TRANSPORT (self));
}

static void
deliver_read (EvlStreamTransport *self,
              DWORD               err,
              gsize               n)
{
  if (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF || err == ERROR_PIPE_NOT_CONNECTED)
    evl_stream_eof_received (self);
  else if (err == ERROR_OPERATION_ABORTED)
    ;
  else if (err != NO_ERROR && err != ERROR_MORE_DATA)
    evl_stream_fatal_errno (self, evl_win32_errno (err), FALSE);
  else
    {
      /* ERROR_MORE_DATA: a message-mode pipe's message is longer than
       * the buffer; the rest comes with the next read. */
      if (n > 0)
        evl_stream_data_received (self, self->rbuf, n);
      if (evl_stream_wants_reading (self))
        start_read (self);
    }
}

/* ---------------------------------------------------------------------- */
/* the proactor loop: through its port */

static void
iocp_read_done (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  EvlStreamTransport *self = data;
  PipeState *st = get_state (self);
  GError *error = NULL;
  gssize n;

  n = evl_loop_sock_recv_into_finish (EVL_LOOP (source), result, &error);
  self->recv_busy = FALSE;

  if (self->conn_lost > 0 || self->closing || self->eof_received)
    g_clear_error (&error);
  else if (!(self->flags & EVL_STREAM_READ))
    {
      /* The probe of a write pipe. */
      if (n > 0)
        start_read (self);
      else if (n < 0 && (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
                         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ||
                         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
        ;                        /* write-only, or the loop closed */
      else
        probe_ended (self);
      g_clear_error (&error);
    }
  else if (n < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_cancellable_is_cancelled (self->read_cancel))
        {
          /* The loop closed under the operation. */
          g_clear_error (&error);
          error = evl_stream_loop_closed_error ();
        }
      evl_stream_fatal_error (self, error);
    }
  else if (self->paused)
    {
      /* Kept for resume_reading. */
      if (n > 0)
        st->held_len = n;
      else
        {
          self->held_eof = TRUE;
          st->held_error = ERROR_BROKEN_PIPE;
        }
    }
  else
    deliver_read (self, n == 0 ? ERROR_BROKEN_PIPE : NO_ERROR, n);

  evl_stream_engine_settled (self);
  g_object_unref (self);
}

static void
iocp_start_read (EvlStreamTransport *self,
                 PipeState          *st)
{
  gboolean probe = !(self->flags & EVL_STREAM_READ);

  if (g_cancellable_is_cancelled (self->read_cancel))
    return;
  if (!probe && self->rbuf == NULL)
    self->rbuf = g_malloc (EVL_STREAM_READ_SIZE);
  self->recv_busy = TRUE;
  /* A pipe reads 0 bytes only at its end (ERROR_BROKEN_PIPE). */
  evl_loop_sock_recv_into_async (self->loop, self->fd, probe ? st->probe : self->rbuf,
                                 probe ? PROBE_SIZE : EVL_STREAM_READ_SIZE, self->read_cancel,
                                 iocp_read_done, g_object_ref (self));
}

static void pipe_flush (EvlStreamTransport *self);

static void
iocp_write_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  EvlStreamTransport *self = data;

  if (evl_stream_completion_sent (self, EVL_LOOP (source), result))
    pipe_flush (self);
  evl_stream_engine_settled (self);
  g_object_unref (self);
}

static void
iocp_flush (EvlStreamTransport *self)
{
  GBytes *bytes;

  if (g_cancellable_is_cancelled (self->write_cancel))
    return;
  bytes = evl_stream_take_coalesced (self);
  self->send_len = g_bytes_get_size (bytes);
  self->send_busy = TRUE;
  evl_loop_sock_sendall_async (self->loop, self->fd, bytes, self->write_cancel,
                               iocp_write_done, g_object_ref (self));
  g_bytes_unref (bytes);
}

/* ---------------------------------------------------------------------- */
/* the selector loops: events */

static void
read_done (gpointer data)
{
  EvlStreamTransport *self = data;
  PipeState *st = get_state (self);
  DWORD n = 0, err = NO_ERROR;

  if (st->rerror != NO_ERROR)
    {
      err = st->rerror;
      st->rerror = NO_ERROR;
      ResetEvent (st->rov.hEvent);
    }
  else if (!GetOverlappedResult (st->handle, &st->rov, &n, FALSE))
    {
      err = GetLastError ();
      if (err == ERROR_IO_INCOMPLETE)
        return;
    }
  unwatch_event (self, st->rov.hEvent, &st->rwatch);
  self->recv_busy = FALSE;
  g_object_ref (self);

  if (self->conn_lost > 0 || self->closing || self->eof_received)
    ;
  else if (!(self->flags & EVL_STREAM_READ))
    {
      if (err == NO_ERROR || err == ERROR_MORE_DATA)
        start_read (self);       /* a reader that writes back: ignored */
      else if (err == ERROR_ACCESS_DENIED || err == ERROR_INVALID_FUNCTION)
        ;                        /* write-only: a failed write tells */
      else
        probe_ended (self);
    }
  else if (self->paused)
    {
      /* Kept for resume_reading. */
      if (err == NO_ERROR || err == ERROR_MORE_DATA)
        st->held_len = n;
      else
        {
          self->held_eof = TRUE;
          st->held_error = err;  /* delivered on resume */
        }
    }
  else
    deliver_read (self, err, n);

  evl_stream_engine_settled (self);
  g_object_unref (self);
}

static void
start_read (EvlStreamTransport *self)
{
  PipeState *st = get_state (self);
  gboolean probe = !(self->flags & EVL_STREAM_READ);
  GError *error = NULL;

  if (self->recv_busy || self->fd < 0)
    return;
  if (st->iocp)
    {
      iocp_start_read (self, st);
      return;
    }
  if (!probe && self->rbuf == NULL)
    self->rbuf = g_malloc (EVL_STREAM_READ_SIZE);
  st->rerror = NO_ERROR;
  memset (&st->rov, 0, G_STRUCT_OFFSET (OVERLAPPED, hEvent));
  if (!ReadFile (st->handle, probe ? st->probe : self->rbuf,
                 probe ? PROBE_SIZE : EVL_STREAM_READ_SIZE, NULL, &st->rov))
    {
      DWORD err = GetLastError ();

      if (err != ERROR_IO_PENDING)
        {
          /* Reported from the loop like a completion. */
          st->rerror = err;
          SetEvent (st->rov.hEvent);
        }
    }
  self->recv_busy = TRUE;
  if (!watch_event (self, st->rov.hEvent, read_done, &error))
    {
      if (st->rerror == NO_ERROR)
        cancel_and_wait (st, &st->rov);
      st->rerror = NO_ERROR;
      self->recv_busy = FALSE;
      evl_stream_fatal_error (self, error);
      return;
    }
  st->rwatch = TRUE;
}

static void
deliver_held (gpointer data)
{
  EvlStreamTransport *self = data;
  PipeState *st = get_state (self);
  gsize n = st->held_len;
  DWORD err = self->held_eof ? st->held_error : NO_ERROR;

  self->held_scheduled = FALSE;
  if (self->paused || self->recv_busy)
    return;
  st->held_len = 0;
  st->held_error = NO_ERROR;
  self->held_eof = FALSE;
  if (self->conn_lost > 0 || self->closing || self->eof_received)
    return;
  deliver_read (self, err, n);
}

static void
pipe_start_reading (EvlStreamTransport *self)
{
  PipeState *st = get_state (self);

  if (st->held_len > 0 || self->held_eof)
    {
      if (!self->held_scheduled)
        {
          self->held_scheduled = TRUE;
          evl_loop_call_soon_internal (self->loop, deliver_held, g_object_ref (self), g_object_unref);
        }
      return;
    }
  start_read (self);
}

static void
pipe_stop_reading (EvlStreamTransport *self,
                   gboolean            for_good)
{
  PipeState *st;

  if (!for_good)
    return;
  st = get_state (self);
  st->held_len = 0;
  st->held_error = NO_ERROR;
  self->held_eof = FALSE;
  if (!self->recv_busy)
    return;
  if (st->iocp)
    {
      /* Reports through iocp_read_done, then the release goes on. */
      g_cancellable_cancel (self->read_cancel);
      return;
    }
  if (st->rerror == NO_ERROR)
    cancel_and_wait (st, &st->rov);
  st->rerror = NO_ERROR;
  self->recv_busy = FALSE;
  unwatch_event (self, st->rov.hEvent, &st->rwatch);
}

static void
write_done (gpointer data)
{
  EvlStreamTransport *self = data;
  PipeState *st = get_state (self);
  DWORD n = 0, err = NO_ERROR;

  if (st->werror != NO_ERROR)
    {
      err = st->werror;
      st->werror = NO_ERROR;
      ResetEvent (st->wov.hEvent);
    }
  else if (!GetOverlappedResult (st->handle, &st->wov, &n, FALSE))
    {
      err = GetLastError ();
      if (err == ERROR_IO_INCOMPLETE)
        return;
    }
  unwatch_event (self, st->wov.hEvent, &st->wwatch);
  self->send_busy = FALSE;
  g_clear_pointer (&st->wbytes, g_bytes_unref);
  g_object_ref (self);

  if (self->conn_lost > 0)
    ;
  else if (err != NO_ERROR)
    evl_stream_fatal_errno (self, evl_win32_errno (err), TRUE);
  else
    {
      evl_stream_wrote (self, MIN ((gsize) n, self->wbuf.size));
      if (self->wbuf.size > 0 && self->conn_lost == 0)
        pipe_flush (self);
    }

  evl_stream_engine_settled (self);
  g_object_unref (self);
}

static void
pipe_flush (EvlStreamTransport *self)
{
  PipeState *st;
  GError *error = NULL;
  gsize len;

  if (self->send_busy || self->wbuf.size == 0 || self->fd < 0)
    return;
  st = get_state (self);
  if (st->iocp)
    {
      iocp_flush (self);
      return;
    }
  st->wbytes = evl_stream_take_coalesced (self);
  /* WriteFile takes a DWORD; the rest goes with the next write. */
  len = MIN (g_bytes_get_size (st->wbytes), (gsize) G_MAXINT32);
  self->send_len = len;
  st->werror = NO_ERROR;
  memset (&st->wov, 0, G_STRUCT_OFFSET (OVERLAPPED, hEvent));
  if (!WriteFile (st->handle, g_bytes_get_data (st->wbytes, NULL), (DWORD) len, NULL, &st->wov))
    {
      DWORD err = GetLastError ();

      if (err != ERROR_IO_PENDING)
        {
          st->werror = err;
          SetEvent (st->wov.hEvent);
        }
    }
  self->send_busy = TRUE;
  if (!watch_event (self, st->wov.hEvent, write_done, &error))
    {
      if (st->werror == NO_ERROR)
        cancel_and_wait (st, &st->wov);
      st->werror = NO_ERROR;
      self->send_busy = FALSE;
      g_clear_pointer (&st->wbytes, g_bytes_unref);
      evl_stream_fatal_error (self, error);
      return;
    }
  st->wwatch = TRUE;
}

static void
pipe_stop_writing (EvlStreamTransport *self)
{
  PipeState *st;

  if (!self->send_busy)
    return;
  st = get_state (self);
  if (st->iocp)
    {
      g_cancellable_cancel (self->write_cancel);
      return;
    }
  if (st->werror == NO_ERROR)
    cancel_and_wait (st, &st->wov);
  st->werror = NO_ERROR;
  self->send_busy = FALSE;
  unwatch_event (self, st->wov.hEvent, &st->wwatch);
  g_clear_pointer (&st->wbytes, g_bytes_unref);
}

static gboolean
pipe_idle (EvlStreamTransport *self)
{
  return !self->recv_busy && !self->send_busy;
}

static const EvlStreamEngine overlapped_engine = {
  pipe_start_reading,
  pipe_stop_reading,
  NULL,
  pipe_flush,
  pipe_stop_writing,
  pipe_idle,
};

const EvlStreamEngine *const evl_stream_pipe_engine = &overlapped_engine;
