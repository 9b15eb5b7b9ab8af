/* evl-platform-unix.c: platform queries for Unix systems
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"
#include "evl-platform-private.h"

#include <sys/types.h>
#include <unistd.h>

#include <pthread.h>
#ifdef __linux__
# include <sys/syscall.h>
#endif

#ifdef __linux__

/* On Linux the main thread's id is the process id. This also holds for a
 * library loaded with dlopen() from another thread, where a constructor
 * would record the wrong thread. */
gboolean
evl_is_main_thread (void)
{
  /* syscall() rather than gettid(): the wrapper needs glibc 2.30. */
  return (pid_t) syscall (SYS_gettid) == getpid ();
}

#else /* !__linux__ */

/* Elsewhere, remember the thread that loaded the library: for a library
 * linked into the program, that is the thread that runs main(). */
static pthread_t evl_main_thread;

__attribute__((constructor))
static void
evl_platform_record_main_thread (void)
{
  evl_main_thread = pthread_self ();
}

gboolean
evl_is_main_thread (void)
{
  return pthread_equal (pthread_self (), evl_main_thread) != 0;
}

#endif /* __linux__ */

void
evl_platform_at_fork_child (void (*func) (void))
{
  pthread_atfork (NULL, NULL, func);
}

const char *
evl_platform_not_ported_message (void)
{
  /* Everything is ported to Unix. */
  return "";
}
