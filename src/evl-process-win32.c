/* evl-process-win32.c: child processes on Windows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <stdio.h>
#include <wchar.h>

#include "evl-loop-private.h"   /* winsock2.h before windows.h */

#include <windows.h>

#include "evl-process-private.h"
#include "evl-win32-cmdline-private.h"
#include "evl-win32-pipe-private.h"

/* asyncio's Windows proactor (windows_utils.Popen with PIPE streams):
 *
 *  - each PIPE stream is a named pipe pair (evl_win32_pipe_pair): our end
 *    overlapped and not inheritable, the child's end synchronous and
 *    inheritable; DEVNULL is the NUL device; INHERIT an inheritable
 *    duplicate of our own standard HANDLE;
 *  - CreateProcessW with the command line quoted by the C runtime's rules
 *    (evl-win32-cmdline.c), the program looked up as Windows does (the
 *    program's folder, the current folder, the system folders, PATH;
 *    ".exe" appended when the name has no extension); _shell runs
 *    `%COMSPEC% /c "COMMAND"` as Python's subprocess does;
 *  - the child inherits only its three stream HANDLEs
 *    (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), not the inheritable HANDLEs
 *    other threads may hold at that moment;
 *  - its exit comes through the process HANDLE (evl-child-watch-win32.c);
 *  - SIGTERM and SIGKILL are TerminateProcess(), exit code 1, as Python's
 *    terminate() and kill() on Windows. Console control events
 *    (Ctrl+C, Ctrl+Break) can only be sent to a process group, which a
 *    child of ours is not (asyncio sends them only when the caller made
 *    one with CREATE_NEW_PROCESS_GROUP, which this API has no way to ask
 *    for): other signals fail with EVL_LOOP_ERROR_NOT_SUPPORTED. */

/* ---------------------------------------------------------------------- */
/* pipes */

#define PIPE_BUFFER_SIZE (64 * 1024)

gboolean
evl_win32_pipe_pair (gboolean   parent_reads,
                     HANDLE    *parent_end,
                     HANDLE    *child_end,
                     GError   **error)
{
  static gint counter;
  SECURITY_ATTRIBUTES inherit = { sizeof inherit, NULL, TRUE };
  OVERLAPPED ov = { 0 };
  wchar_t name[128];
  HANDLE server, client;
  DWORD err;

  /* FILE_FLAG_FIRST_PIPE_INSTANCE: the name is ours, not a squatter's. */
  _snwprintf (name, G_N_ELEMENTS (name), L"\\\\.\\pipe\\evloop-glib-%lu-%d-%08x",
              (unsigned long) GetCurrentProcessId (), g_atomic_int_add (&counter, 1),
              g_random_int ());
  name[G_N_ELEMENTS (name) - 1] = 0;
  /* Duplex, so that our write end can wait for the child's end to close
   * with a read (evl-pipe-win32.c). */
  server = CreateNamedPipeW (name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                             PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                             1, PIPE_BUFFER_SIZE, PIPE_BUFFER_SIZE, 0, NULL);
  if (server == INVALID_HANDLE_VALUE)
    goto fail;
  client = CreateFileW (name, parent_reads ? GENERIC_WRITE | FILE_READ_ATTRIBUTES
                                           : GENERIC_READ | FILE_WRITE_ATTRIBUTES,
                        0, &inherit, OPEN_EXISTING, 0, NULL);
  if (client == INVALID_HANDLE_VALUE)
    {
      err = GetLastError ();
      CloseHandle (server);
      SetLastError (err);
      goto fail;
    }
  /* The client is connected already: ERROR_PIPE_CONNECTED. */
  ov.hEvent = CreateEventW (NULL, TRUE, FALSE, NULL);
  if (!ConnectNamedPipe (server, &ov))
    {
      err = GetLastError ();
      if (err == ERROR_IO_PENDING)
        {
          DWORD n;

          if (!GetOverlappedResult (server, &ov, &n, TRUE))
            err = GetLastError ();
          else
            err = ERROR_PIPE_CONNECTED;
        }
      if (err != ERROR_PIPE_CONNECTED)
        {
          if (ov.hEvent != NULL)
            CloseHandle (ov.hEvent);
          CloseHandle (client);
          CloseHandle (server);
          SetLastError (err);
          goto fail;
        }
    }
  if (ov.hEvent != NULL)
    CloseHandle (ov.hEvent);
  *parent_end = server;
  *child_end = client;
  return TRUE;

fail:
  err = GetLastError ();
  {
    char *msg = g_win32_error_message (err);

    g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                 _("Cannot create a pipe for the child process: %s"), msg);
    g_free (msg);
  }
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* spawning */

static GSpawnError
spawn_error_from_win32 (DWORD err)
{
  switch (err)
    {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
      return G_SPAWN_ERROR_NOENT;
    case ERROR_ACCESS_DENIED:
      return G_SPAWN_ERROR_ACCES;
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
      return G_SPAWN_ERROR_NOEXEC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return G_SPAWN_ERROR_NOMEM;
    case ERROR_FILENAME_EXCED_RANGE:
      return G_SPAWN_ERROR_NAMETOOLONG;
    default:
      return G_SPAWN_ERROR_FAILED;
    }
}

/* An inheritable duplicate of our standard HANDLE @which, or NULL when
 * we have none. */
static HANDLE
inherit_std_handle (DWORD which)
{
  HANDLE h = GetStdHandle (which), dup = NULL;

  if (h == NULL || h == INVALID_HANDLE_VALUE)
    return NULL;
  if (!DuplicateHandle (GetCurrentProcess (), h, GetCurrentProcess (), &dup, 0, TRUE,
                        DUPLICATE_SAME_ACCESS))
    return NULL;
  return dup;
}

static HANDLE
open_null (gboolean for_writing)
{
  SECURITY_ATTRIBUTES inherit = { sizeof inherit, NULL, TRUE };
  HANDLE h = CreateFileW (L"NUL", for_writing ? GENERIC_WRITE : GENERIC_READ,
                          FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING, 0, NULL);

  return h == INVALID_HANDLE_VALUE ? NULL : h;
}

static wchar_t *
shell_path (void)
{
  const wchar_t *comspec = _wgetenv (L"COMSPEC");
  wchar_t system[MAX_PATH];
  UINT n;

  if (comspec != NULL && comspec[0] != 0)
    return g_memdup2 (comspec, (wcslen (comspec) + 1) * sizeof (wchar_t));
  /* Python: %SystemRoot%\System32\cmd.exe when COMSPEC is not set. */
  n = GetSystemDirectoryW (system, MAX_PATH);
  if (n == 0 || n >= MAX_PATH - 9)
    return g_memdup2 (L"cmd.exe", sizeof L"cmd.exe");
  wcscat (system, L"\\cmd.exe");
  return g_memdup2 (system, (wcslen (system) + 1) * sizeof (wchar_t));
}

gboolean
evl_process_spawn (const char * const        *argv,
                   const char                *shell_command,
                   const EvlSubprocessStdio   modes[3],
                   GPid                      *pid,
                   int                        pipe_fds[3],
                   GError                   **error)
{
  static const DWORD std_ids[3] = { STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE };
  HANDLE parent[3] = { NULL, NULL, NULL }, child[3] = { NULL, NULL, NULL };
  HANDLE inherited[3];
  STARTUPINFOEXW si;
  PROCESS_INFORMATION pi;
  LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
  wchar_t *application = NULL, *cmdline_w = NULL;
  char *cmdline = NULL;
  const char *program;
  DWORD flags = CREATE_UNICODE_ENVIRONMENT, err;
  gboolean ok = FALSE;
  guint i, n_inherited = 0;
  SIZE_T attrs_size = 0;

  for (i = 0; i < 3; i++)
    pipe_fds[i] = -1;

  if (argv != NULL)
    {
      program = argv[0];
      cmdline = evl_win32_build_command_line (argv, error);
      if (cmdline == NULL)
        return FALSE;
    }
  else
    {
      char *comspec;
      GString *s = g_string_new (NULL);

      application = shell_path ();
      comspec = g_utf16_to_utf8 ((gunichar2 *) application, -1, NULL, NULL, NULL);
      /* As Python's subprocess: '{} /c "{}"'.format (comspec, args); cmd
       * strips the outer quotes itself. */
      g_string_append_printf (s, "\"%s\" /c \"%s\"", comspec ? comspec : "cmd.exe", shell_command);
      g_free (comspec);
      cmdline = g_string_free (s, FALSE);
      program = "cmd.exe";
    }
  cmdline_w = g_utf8_to_utf16 (cmdline, -1, NULL, NULL, NULL);
  if (cmdline_w == NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_INVAL,
                   _("The command line of “%s” is not valid UTF-8"), program);
      goto out;
    }

  for (i = 0; i < 3; i++)
    {
      switch (modes[i])
        {
        case EVL_SUBPROCESS_STDIO_PIPE:
          if (!evl_win32_pipe_pair (i > 0, &parent[i], &child[i], error))
            goto out;
          break;
        case EVL_SUBPROCESS_STDIO_DEVNULL:
          child[i] = open_null (i > 0);
          break;
        default:
          child[i] = inherit_std_handle (std_ids[i]);
          break;
        }
      if (child[i] != NULL)
        inherited[n_inherited++] = child[i];
    }

  memset (&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = child[0];
  si.StartupInfo.hStdOutput = child[1];
  si.StartupInfo.hStdError = child[2];

  /* Only the three streams are inherited. */
  if (n_inherited > 0)
    {
      InitializeProcThreadAttributeList (NULL, 1, 0, &attrs_size);
      attrs = g_malloc (attrs_size);
      if (InitializeProcThreadAttributeList (attrs, 1, 0, &attrs_size) &&
          UpdateProcThreadAttribute (attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited,
                                     n_inherited * sizeof (HANDLE), NULL, NULL))
        {
          si.StartupInfo.cb = sizeof si;
          si.lpAttributeList = attrs;
          flags |= EXTENDED_STARTUPINFO_PRESENT;
        }
      else
        {
          g_free (attrs);
          attrs = NULL;
          si.StartupInfo.cb = sizeof si.StartupInfo;
        }
    }
  else
    si.StartupInfo.cb = sizeof si.StartupInfo;

  if (!CreateProcessW (application, cmdline_w, NULL, NULL, n_inherited > 0, flags, NULL, NULL,
                       &si.StartupInfo, &pi))
    {
      char *msg;

      err = GetLastError ();
      msg = g_win32_error_message (err);
      g_set_error (error, G_SPAWN_ERROR, spawn_error_from_win32 (err),
                   _("Cannot start child process “%s”: %s"), program, msg);
      g_free (msg);
      goto out;
    }
  CloseHandle (pi.hThread);
  *pid = pi.hProcess;
  for (i = 0; i < 3; i++)
    if (parent[i] != NULL)
      {
        pipe_fds[i] = (int) (gintptr) parent[i];
        parent[i] = NULL;
      }
  ok = TRUE;

out:
  if (attrs != NULL)
    {
      DeleteProcThreadAttributeList (attrs);
      g_free (attrs);
    }
  for (i = 0; i < 3; i++)
    {
      if (parent[i] != NULL)
        CloseHandle (parent[i]);
      if (child[i] != NULL)
        CloseHandle (child[i]);
    }
  g_free (cmdline);
  g_free (cmdline_w);
  g_free (application);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* signals and waiting */

gboolean
evl_process_send_signal (GPid      pid,
                         int       signum,
                         GError  **error)
{
  if (signum != SIGTERM && signum != SIGKILL)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                   _("Signal %d cannot be sent to a child process on Windows; "
                     "only SIGTERM and SIGKILL (which end it) can"), signum);
      return FALSE;
    }
  if (!TerminateProcess (pid, 1))
    {
      DWORD err = GetLastError ();
      char *msg;

      /* Exited meanwhile: as if it had been signalled. */
      if (err == ERROR_ACCESS_DENIED && WaitForSingleObject (pid, 0) == WAIT_OBJECT_0)
        return TRUE;
      msg = g_win32_error_message (err);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (evl_win32_errno (err)),
                   _("Cannot send signal %d to child process %d: %s"),
                   signum, evl_process_get_id (pid), msg);
      g_free (msg);
      return FALSE;
    }
  return TRUE;
}

void
evl_process_wait_exited (GPid pid)
{
  WaitForSingleObject (pid, INFINITE);
}

void
evl_process_kill_and_release (GPid pid)
{
  TerminateProcess (pid, 1);
  WaitForSingleObject (pid, INFINITE);
  CloseHandle (pid);
}

int
evl_process_get_id (GPid pid)
{
  return (int) GetProcessId (pid);
}
