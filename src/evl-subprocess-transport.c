/* evl-subprocess-transport.c: a child process and its pipes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-child-watch-private.h"
#include "evl-loop-private.h"
#include "evl-net-private.h"
#include "evl-operation-private.h"
#include "evl-pipe-private.h"
#include "evl-process-private.h"
#include "evl-stream-private.h"

/**
 * EvlSubprocessTransport:
 *
 * A child process started with [method@Evl.Loop.subprocess_exec_async] or
 * [method@Evl.Loop.subprocess_shell_async], asyncio's
 * `SubprocessTransport`: its pid, its pipes (each an [class@Evl.Transport]:
 * write to the child's stdin with [method@Evl.Transport.write] on
 * `get_pipe_transport (0)`), signals, and its return code once it exited.
 *
 * The child is watched with a pidfd (or a `SIGCHLD` handler on kernels
 * without pidfds) and reaped by pid, so GLib's own child watches are never
 * raced. [method@Evl.Transport.close] closes the pipes and kills the child
 * if it still runs, as asyncio does. The library keeps the transport and
 * its protocol alive until the protocol's `connection_lost`.
 *
 * On Windows, as with asyncio's proactor there: the pipes are overlapped
 * named pipes (the child's ends synchronous, as C runtimes expect), the
 * child is started with `CreateProcessW()` and inherits only its three
 * streams, its exit comes through its process `HANDLE`, and
 * terminate/kill are `TerminateProcess()` (return code 1).
 */

/* asyncio's base_subprocess.py: the pipes are stream transports whose
 * protocol (a PipeProtocol) forwards to the subprocess protocol;
 * connection_lost comes once the child was reaped and every pipe is
 * closed (_try_finish). */

/* ---------------------------------------------------------------------- */
/* the pipes' protocol */

#define EVL_TYPE_SUBPROCESS_PIPE_PROTOCOL (evl_subprocess_pipe_protocol_get_type ())
G_DECLARE_FINAL_TYPE (EvlSubprocessPipeProtocol, evl_subprocess_pipe_protocol, EVL, SUBPROCESS_PIPE_PROTOCOL, GObject)

struct _EvlSubprocessPipeProtocol
{
  GObject                 parent_instance;
  EvlSubprocessTransport *proc;     /* strong, until connection_lost */
  int                     fd;
  gboolean                disconnected;
};

struct _EvlSubprocessTransport
{
  EvlTransport                parent_instance;

  EvlLoop                    *loop;
  GPid                        pid;
  EvlChildWatch              *watch;
  EvlStreamTransport         *pipes[3];
  EvlSubprocessPipeProtocol  *pipe_protocols[3];
  int                         returncode;
  gboolean                    exited;
  gboolean                    closed;
  gboolean                    finished;      /* connection_lost scheduled */
  gboolean                    alive_ref;
  EvlLoopCloseHook            close_hook;
};

static void pipe_protocol_iface_init (EvlProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EvlSubprocessPipeProtocol, evl_subprocess_pipe_protocol, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_PROTOCOL, pipe_protocol_iface_init))

G_DEFINE_FINAL_TYPE (EvlSubprocessTransport, evl_subprocess_transport, EVL_TYPE_TRANSPORT)

static void try_finish (EvlSubprocessTransport *self);

static EvlSubprocessProtocol *
dup_protocol (EvlSubprocessTransport *self)
{
  GObject *protocol = evl_transport_get_protocol (EVL_TRANSPORT (self));

  if (protocol == NULL || !EVL_IS_SUBPROCESS_PROTOCOL (protocol))
    return NULL;
  return g_object_ref (EVL_SUBPROCESS_PROTOCOL (protocol));
}

static void
pipe_data_received (EvlProtocol *protocol,
                    GBytes      *data)
{
  EvlSubprocessPipeProtocol *pp = EVL_SUBPROCESS_PIPE_PROTOCOL (protocol);
  EvlSubprocessProtocol *sp = pp->proc != NULL ? dup_protocol (pp->proc) : NULL;

  if (sp == NULL)
    return;
  evl_subprocess_protocol_pipe_data_received (sp, pp->fd, data);
  g_object_unref (sp);
}

static void
pipe_connection_lost (EvlProtocol  *protocol,
                      const GError *error)
{
  EvlSubprocessPipeProtocol *pp = EVL_SUBPROCESS_PIPE_PROTOCOL (protocol);
  EvlSubprocessTransport *proc = g_steal_pointer (&pp->proc);
  EvlSubprocessProtocol *sp;

  pp->disconnected = TRUE;
  if (proc == NULL)
    return;
  sp = dup_protocol (proc);
  if (sp != NULL)
    {
      evl_subprocess_protocol_pipe_connection_lost (sp, pp->fd, error);
      g_object_unref (sp);
    }
  try_finish (proc);
  g_object_unref (proc);
}

static void
pipe_pause_writing (EvlProtocol *protocol)
{
  EvlSubprocessPipeProtocol *pp = EVL_SUBPROCESS_PIPE_PROTOCOL (protocol);
  EvlSubprocessProtocol *sp = pp->proc != NULL ? dup_protocol (pp->proc) : NULL;

  if (sp == NULL)
    return;
  evl_subprocess_protocol_pause_writing (sp);
  g_object_unref (sp);
}

static void
pipe_resume_writing (EvlProtocol *protocol)
{
  EvlSubprocessPipeProtocol *pp = EVL_SUBPROCESS_PIPE_PROTOCOL (protocol);
  EvlSubprocessProtocol *sp = pp->proc != NULL ? dup_protocol (pp->proc) : NULL;

  if (sp == NULL)
    return;
  evl_subprocess_protocol_resume_writing (sp);
  g_object_unref (sp);
}

static void
pipe_protocol_iface_init (EvlProtocolInterface *iface)
{
  iface->data_received = pipe_data_received;
  iface->connection_lost = pipe_connection_lost;
  iface->pause_writing = pipe_pause_writing;
  iface->resume_writing = pipe_resume_writing;
}

static void
evl_subprocess_pipe_protocol_finalize (GObject *object)
{
  EvlSubprocessPipeProtocol *pp = EVL_SUBPROCESS_PIPE_PROTOCOL (object);

  g_clear_object (&pp->proc);
  G_OBJECT_CLASS (evl_subprocess_pipe_protocol_parent_class)->finalize (object);
}

static void
evl_subprocess_pipe_protocol_class_init (EvlSubprocessPipeProtocolClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evl_subprocess_pipe_protocol_finalize;
}

static void
evl_subprocess_pipe_protocol_init (EvlSubprocessPipeProtocol *self)
{
}

/* ---------------------------------------------------------------------- */
/* the process */

static void
call_connection_lost (gpointer data)
{
  EvlSubprocessTransport *self = data;
  EvlSubprocessProtocol *sp = dup_protocol (self);

  if (sp != NULL)
    {
      evl_subprocess_protocol_connection_lost (sp, NULL);
      g_object_unref (sp);
    }
  evl_transport_set_protocol (EVL_TRANSPORT (self), NULL);
  evl_loop_remove_close_hook (self->loop, &self->close_hook);
  if (self->alive_ref)
    {
      self->alive_ref = FALSE;
      g_object_unref (self);
    }
}

static void
lost_notify (gpointer data)
{
  EvlSubprocessTransport *self = data;

  /* The loop is closed: connection_lost runs now (and once). */
  if (self->alive_ref)
    call_connection_lost (self);
  g_object_unref (self);
}

/* asyncio's _try_finish: connection_lost once the child was reaped and
 * every pipe is closed. */
static void
try_finish (EvlSubprocessTransport *self)
{
  guint i;

  if (!self->exited || self->finished)
    return;
  for (i = 0; i < 3; i++)
    if (self->pipe_protocols[i] != NULL && !self->pipe_protocols[i]->disconnected)
      return;
  self->finished = TRUE;
  evl_loop_call_soon_internal (self->loop, call_connection_lost, g_object_ref (self), lost_notify);
}

static void
child_exited (int      returncode,
              gpointer data)
{
  EvlSubprocessTransport *self = data;
  EvlSubprocessProtocol *sp;

  if (self->exited)
    return;
  self->exited = TRUE;
  self->returncode = returncode;
  g_object_ref (self);
  sp = dup_protocol (self);
  if (sp != NULL)
    {
      evl_subprocess_protocol_process_exited (sp);
      g_object_unref (sp);
    }
  try_finish (self);
  g_object_unref (self);
}

static void
subprocess_close (EvlTransport *transport)
{
  EvlSubprocessTransport *self = EVL_SUBPROCESS_TRANSPORT (transport);
  guint i;

  if (self->closed)
    return;
  self->closed = TRUE;
  g_object_ref (self);
  for (i = 0; i < 3; i++)
    if (self->pipes[i] != NULL)
      evl_transport_close (EVL_TRANSPORT (self->pipes[i]));
  if (!self->exited && self->watch != NULL && !evl_child_watch_poll (self->watch))
    evl_process_send_signal (self->pid, SIGKILL, NULL);
  g_object_unref (self);
}

static gboolean
subprocess_is_closing (EvlTransport *transport)
{
  return EVL_SUBPROCESS_TRANSPORT (transport)->closed;
}

/* The loop closes under a running child: kill it, reap it, end. */
static void
loop_closed_cb (gpointer data)
{
  EvlSubprocessTransport *self = data;

  g_object_ref (self);
  evl_loop_remove_close_hook (self->loop, &self->close_hook);
  subprocess_close (EVL_TRANSPORT (self));
  if (!self->exited && self->watch != NULL)
    {
      /* Killed with SIGKILL just now: reaping it does not wait long. */
      evl_process_wait_exited (self->pid);
      evl_child_watch_poll (self->watch);
    }
  g_object_unref (self);
}

static void
evl_subprocess_transport_finalize (GObject *object)
{
  EvlSubprocessTransport *self = EVL_SUBPROCESS_TRANSPORT (object);
  guint i;

  evl_loop_remove_close_hook (self->loop, &self->close_hook);
  g_clear_pointer (&self->watch, evl_child_watch_free);
  /* Windows: closes the process HANDLE (nothing on Unix). */
  if (self->pid != (GPid) -1)
    g_spawn_close_pid (self->pid);
  for (i = 0; i < 3; i++)
    {
      g_clear_object (&self->pipes[i]);
      g_clear_object (&self->pipe_protocols[i]);
    }
  G_OBJECT_CLASS (evl_subprocess_transport_parent_class)->finalize (object);
}

static void
evl_subprocess_transport_class_init (EvlSubprocessTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlTransportClass *transport_class = EVL_TRANSPORT_CLASS (klass);

  object_class->finalize = evl_subprocess_transport_finalize;
  transport_class->close = subprocess_close;
  transport_class->is_closing = subprocess_is_closing;
}

static void
evl_subprocess_transport_init (EvlSubprocessTransport *self)
{
  self->pid = (GPid) -1;
}

/* ---------------------------------------------------------------------- */
/* spawning */

typedef struct
{
  EvlTransport *transport;
  GObject      *protocol;
} SpawnResult;

static void
spawn_result_free (gpointer data)
{
  SpawnResult *r = data;

  g_clear_object (&r->transport);
  g_clear_object (&r->protocol);
  g_free (r);
}

static void
subprocess_spawn (EvlLoop                      *loop,
                  gpointer                      tag,
                  EvlSubprocessProtocolFactory  factory,
                  gpointer                      factory_data,
                  GDestroyNotify                factory_notify,
                  const char * const           *argv,
                  const char                   *shell_command,
                  EvlSubprocessStdio            modes[3],
                  GCancellable                 *cancellable,
                  GAsyncReadyCallback           callback,
                  gpointer                      user_data)
{
  EvlOperation *op = evl_operation_new (loop, tag, callback, user_data);
  int pipe_fds[3] = { -1, -1, -1 };
  EvlSubprocessTransport *self = NULL;
  EvlSubprocessProtocol *protocol = NULL;
  GError *error = NULL;
  SpawnResult *r;
  GPid pid;
  guint i;

  if (!evl_net_can_start (loop, cancellable, &error))
    goto out;

  if (!evl_process_spawn (argv, shell_command, modes, &pid, pipe_fds, &error))
    goto out;

  self = g_object_new (EVL_TYPE_SUBPROCESS_TRANSPORT, "loop", loop, NULL);
  self->loop = loop;
  self->pid = pid;
  self->alive_ref = TRUE;
  g_object_ref (self);
  self->watch = evl_child_watch_new (loop, pid, child_exited, self, &error);
  if (self->watch == NULL)
    {
      evl_process_kill_and_release (pid);
      self->pid = (GPid) -1;
      for (i = 0; i < 3; i++)
        evl_pipe_close_fd (pipe_fds[i]);
      self->alive_ref = FALSE;
      g_object_unref (self);
      g_clear_object (&self);
      goto out;
    }

  protocol = factory (factory_data);
  if (protocol == NULL || !EVL_IS_SUBPROCESS_PROTOCOL (protocol))
    {
      g_clear_object (&protocol);
      g_set_error_literal (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                           _("The protocol factory returned no EvlSubprocessProtocol; "
                             "return a new object that implements it"));
      /* The child is killed and reaped by the transport. */
    }
  else
    evl_transport_set_protocol (EVL_TRANSPORT (self), G_OBJECT (protocol));
  self->close_hook.func = loop_closed_cb;
  self->close_hook.data = self;
  evl_loop_add_close_hook (loop, &self->close_hook);

  for (i = 0; i < 3; i++)
    {
      EvlSubprocessPipeProtocol *pp;

      if (pipe_fds[i] < 0)
        continue;
      pp = g_object_new (EVL_TYPE_SUBPROCESS_PIPE_PROTOCOL, NULL);
      pp->proc = g_object_ref (self);
      pp->fd = i;
      self->pipe_protocols[i] = pp;
      self->pipes[i] = evl_stream_transport_new (loop, pipe_fds[i],
                                                 i == 0 ? EVL_STREAM_WRITE : EVL_STREAM_READ,
                                                 G_OBJECT (pp));
      pipe_fds[i] = -1;
    }
  for (i = 0; i < 3; i++)
    if (self->pipes[i] != NULL)
      evl_stream_transport_start (self->pipes[i]);

  if (error != NULL)
    {
      subprocess_close (EVL_TRANSPORT (self));
      g_clear_object (&self);
      goto out;
    }
  evl_subprocess_protocol_connection_made (protocol, self);

out:
  if (factory_notify != NULL)
    factory_notify (factory_data);
  if (error != NULL)
    evl_operation_return_error (op, error);
  else
    {
      r = g_new0 (SpawnResult, 1);
      r->transport = EVL_TRANSPORT (self);
      r->protocol = G_OBJECT (protocol);
      evl_operation_return_pointer (op, r, spawn_result_free);
    }
  g_object_unref (op);
}

static EvlSubprocessTransport *
spawn_finish (EvlLoop                *loop,
              GAsyncResult           *result,
              gpointer                tag,
              EvlSubprocessProtocol **protocol,
              GError                **error)
{
  SpawnResult *r;
  EvlSubprocessTransport *transport;

  if (protocol != NULL)
    *protocol = NULL;
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, tag), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  r = evl_operation_propagate_pointer (EVL_OPERATION (result), error);
  if (r == NULL)
    return NULL;
  transport = EVL_SUBPROCESS_TRANSPORT (g_steal_pointer (&r->transport));
  if (protocol != NULL)
    *protocol = EVL_SUBPROCESS_PROTOCOL (g_steal_pointer (&r->protocol));
  spawn_result_free (r);
  return transport;
}

/**
 * evl_loop_subprocess_exec_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the child's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data
 * @argv: (array zero-terminated=1) (element-type filename): the program
 *   (looked up in `PATH`) and its arguments; no shell is involved. On
 *   Windows they are joined into one command line quoted for the C
 *   runtime's parser (what the child's `argv` gets back), and the program
 *   is looked up as `CreateProcess()` does (".exe" added when it has no
 *   extension); its name must not hold a double quote
 * @stdin_mode: what the child's stdin is connected to
 * @stdout_mode: what the child's stdout is connected to
 * @stderr_mode: what the child's stderr is connected to
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the child runs
 * @user_data: data for @callback
 *
 * Starts a child process, as asyncio's `loop.subprocess_exec()`. Each
 * stream in %EVL_SUBPROCESS_STDIO_PIPE mode gets a pipe transport (see
 * [method@Evl.SubprocessTransport.get_pipe_transport]); the child's
 * output reaches the protocol's `pipe_data_received`. Every fd of ours
 * is close-on-exec: the child gets only its three streams. A program that
 * cannot be started fails with a %G_SPAWN_ERROR. Finish with
 * [method@Evl.Loop.subprocess_exec_finish].
 */
void
evl_loop_subprocess_exec_async (EvlLoop                      *loop,
                                EvlSubprocessProtocolFactory  factory,
                                gpointer                      factory_data,
                                GDestroyNotify                factory_notify,
                                const char * const           *argv,
                                EvlSubprocessStdio            stdin_mode,
                                EvlSubprocessStdio            stdout_mode,
                                EvlSubprocessStdio            stderr_mode,
                                GCancellable                 *cancellable,
                                GAsyncReadyCallback           callback,
                                gpointer                      user_data)
{
  EvlSubprocessStdio modes[3] = { stdin_mode, stdout_mode, stderr_mode };

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (argv != NULL && argv[0] != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  subprocess_spawn (loop, evl_loop_subprocess_exec_async, factory, factory_data, factory_notify,
                    argv, NULL, modes, cancellable, callback, user_data);
}

/**
 * evl_loop_subprocess_exec_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the child's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.subprocess_exec_async].
 *
 * Returns: (transfer full): the child's transport, or %NULL with @error set
 */
EvlSubprocessTransport *
evl_loop_subprocess_exec_finish (EvlLoop                *loop,
                                 GAsyncResult           *result,
                                 EvlSubprocessProtocol **protocol,
                                 GError                **error)
{
  return spawn_finish (loop, result, evl_loop_subprocess_exec_async, protocol, error);
}

/**
 * evl_loop_subprocess_shell_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the child's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data
 * @command: a command line for `/bin/sh -c`; quote what comes from
 *   elsewhere with g_shell_quote(). On Windows it runs as
 *   `cmd.exe /c "COMMAND"` (the shell the `COMSPEC` environment variable
 *   names), as Python's subprocess does
 * @stdin_mode: what the child's stdin is connected to
 * @stdout_mode: what the child's stdout is connected to
 * @stderr_mode: what the child's stderr is connected to
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the child runs
 * @user_data: data for @callback
 *
 * Runs @command through the shell, as asyncio's `loop.subprocess_shell()`;
 * otherwise as [method@Evl.Loop.subprocess_exec_async]. Finish with
 * [method@Evl.Loop.subprocess_shell_finish].
 */
void
evl_loop_subprocess_shell_async (EvlLoop                      *loop,
                                 EvlSubprocessProtocolFactory  factory,
                                 gpointer                      factory_data,
                                 GDestroyNotify                factory_notify,
                                 const char                   *command,
                                 EvlSubprocessStdio            stdin_mode,
                                 EvlSubprocessStdio            stdout_mode,
                                 EvlSubprocessStdio            stderr_mode,
                                 GCancellable                 *cancellable,
                                 GAsyncReadyCallback           callback,
                                 gpointer                      user_data)
{
  EvlSubprocessStdio modes[3] = { stdin_mode, stdout_mode, stderr_mode };

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (command != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  subprocess_spawn (loop, evl_loop_subprocess_shell_async, factory, factory_data, factory_notify,
                    NULL, command, modes, cancellable, callback, user_data);
}

/**
 * evl_loop_subprocess_shell_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the child's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.subprocess_shell_async].
 *
 * Returns: (transfer full): the child's transport, or %NULL with @error set
 */
EvlSubprocessTransport *
evl_loop_subprocess_shell_finish (EvlLoop                *loop,
                                  GAsyncResult           *result,
                                  EvlSubprocessProtocol **protocol,
                                  GError                **error)
{
  return spawn_finish (loop, result, evl_loop_subprocess_shell_async, protocol, error);
}

/* ---------------------------------------------------------------------- */
/* public API */

/**
 * evl_subprocess_transport_get_pid:
 * @self: a subprocess transport
 *
 * Gets the process id of the child, as asyncio's
 * `SubprocessTransport.get_pid()`. On Windows a #GPid is a process
 * `HANDLE`, as for GLib's spawn functions (`GetProcessId()` gives the
 * id); it is closed with the transport.
 *
 * Returns: the child's process id (Windows: its process HANDLE)
 */
GPid
evl_subprocess_transport_get_pid (EvlSubprocessTransport *self)
{
  g_return_val_if_fail (EVL_IS_SUBPROCESS_TRANSPORT (self), (GPid) -1);

  return self->pid;
}

/**
 * evl_subprocess_transport_get_pipe_transport:
 * @self: a subprocess transport
 * @fd: 0 (the child's stdin), 1 (stdout) or 2 (stderr)
 *
 * Gets the transport of one of the child's standard streams, as
 * asyncio's `SubprocessTransport.get_pipe_transport()`.
 *
 * Returns: (transfer none) (nullable): the transport of that pipe, %NULL
 *   when the stream is not a pipe
 */
EvlTransport *
evl_subprocess_transport_get_pipe_transport (EvlSubprocessTransport *self,
                                             int                     fd)
{
  g_return_val_if_fail (EVL_IS_SUBPROCESS_TRANSPORT (self), NULL);

  if (fd < 0 || fd > 2 || self->pipes[fd] == NULL)
    return NULL;
  return EVL_TRANSPORT (self->pipes[fd]);
}

/**
 * evl_subprocess_transport_has_exited:
 * @self: a subprocess transport
 *
 * Checks whether the child has exited.
 *
 * Returns: whether the child has exited (and `process_exited` was called)
 */
gboolean
evl_subprocess_transport_has_exited (EvlSubprocessTransport *self)
{
  g_return_val_if_fail (EVL_IS_SUBPROCESS_TRANSPORT (self), FALSE);

  return self->exited;
}

/**
 * evl_subprocess_transport_get_returncode:
 * @self: a subprocess transport
 *
 * The child's return code, asyncio's `get_returncode()`: its exit status,
 * or -N when signal N killed it (Windows: the exit code, 1 after
 * terminate or kill). Only meaningful once
 * [method@Evl.SubprocessTransport.has_exited] is %TRUE.
 *
 * Returns: the return code, 0 while the child runs
 */
int
evl_subprocess_transport_get_returncode (EvlSubprocessTransport *self)
{
  g_return_val_if_fail (EVL_IS_SUBPROCESS_TRANSPORT (self), 0);

  return self->exited ? self->returncode : 0;
}

/**
 * evl_subprocess_transport_send_signal:
 * @self: a subprocess transport
 * @signum: a signal number
 * @error: return location for a #GError
 *
 * Sends @signum to the child, as asyncio's `send_signal()`. On Windows
 * only `SIGTERM` and `SIGKILL` exist for a child, both
 * `TerminateProcess()` (return code 1); other signals fail with
 * %EVL_LOOP_ERROR_NOT_SUPPORTED (console control events reach only a
 * process group of its own, which a child started here is not).
 *
 * Returns: %TRUE on success; %FALSE with %G_IO_ERROR_NOT_FOUND when the
 *   child has exited already, or another error from kill()
 */
gboolean
evl_subprocess_transport_send_signal (EvlSubprocessTransport  *self,
                                      int                      signum,
                                      GError                 **error)
{
  g_return_val_if_fail (EVL_IS_SUBPROCESS_TRANSPORT (self), FALSE);

  /* Until we reap it the pid cannot be reused. */
  if (self->exited || (self->watch != NULL && evl_child_watch_poll (self->watch)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("Child process %d has exited already; there is nothing to signal"),
                   evl_process_get_id (self->pid));
      return FALSE;
    }
  return evl_process_send_signal (self->pid, signum, error);
}

/**
 * evl_subprocess_transport_terminate:
 * @self: a subprocess transport
 * @error: return location for a #GError
 *
 * Sends `SIGTERM` to the child, as asyncio's `terminate()`.
 *
 * Returns: %TRUE on success
 */
gboolean
evl_subprocess_transport_terminate (EvlSubprocessTransport  *self,
                                    GError                 **error)
{
  return evl_subprocess_transport_send_signal (self, SIGTERM, error);
}

/**
 * evl_subprocess_transport_kill:
 * @self: a subprocess transport
 * @error: return location for a #GError
 *
 * Sends `SIGKILL` to the child, as asyncio's `kill()`.
 *
 * Returns: %TRUE on success
 */
gboolean
evl_subprocess_transport_kill (EvlSubprocessTransport  *self,
                               GError                 **error)
{
  return evl_subprocess_transport_send_signal (self, SIGKILL, error);
}
