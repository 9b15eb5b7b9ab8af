/* evl-os-private.h (Unix): the few OS primitives shared code needs, inline
 *
 * meson puts src/unix or src/win32 on the include path, so shared code
 * includes "evl-os-private.h" and never tests the platform itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

G_BEGIN_DECLS

/* Thread-local (__thread) variables are still valid while GPrivate
 * destroy notifies run at thread exit (pthread key destructors). */
#define EVL_OS_TLS_VALID_AT_THREAD_EXIT 1

/* The loop's clock: CLOCK_MONOTONIC in nanoseconds. */
static inline gint64
evl_os_monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Whether @fd names an open file description (not EBADF). */
static inline gboolean
evl_os_fd_is_open (int fd)
{
  return fd >= 0 && !(fcntl (fd, F_GETFD) < 0 && errno == EBADF);
}

/* The loop's GSource and its backend's poll fd (an epoll fd, an io_uring):
 * GLib polls unix fds itself and makes the source ready. @record is unused
 * here (see the Windows header). */
static inline gpointer
evl_os_source_add_poll_fd (GSource *source,
                           GPollFD *record,
                           int      fd)
{
  return g_source_add_unix_fd (source, fd, G_IO_IN);
}

/* Whether the loop's GSource may watch the loop's few fds in GLib itself
 * and hand GLib's findings to the selector (direct mode,
 * evl-loop-source.c): GLib polls unix fds, and tells what it found. */
#define EVL_OS_SOURCE_DIRECT 1

/* Whether the GSource of a selector loop with a poll fd must also give
 * GLib @fd itself (the Windows HANDLEs its selector's fd does not cover):
 * never here, the poll fd covers every fd. */
static inline gboolean
evl_os_source_mirrors_fd (int fd)
{
  return FALSE;
}

/* The fallback bridge, for backends without a poll fd: one unix fd each. */
static inline gpointer
evl_os_source_add_fd (GSource      *source,
                      int           fd,
                      GIOCondition  condition)
{
  return g_source_add_unix_fd (source, fd, condition);
}

static inline void
evl_os_source_modify_fd (GSource      *source,
                         gpointer      tag,
                         GIOCondition  condition)
{
  g_source_modify_unix_fd (source, tag, condition);
}

static inline void
evl_os_source_remove_fd (GSource  *source,
                         gpointer  tag)
{
  g_source_remove_unix_fd (source, tag);
}

/* A tag of a destroyed (finalized) source: GLib frees its unix fd tags. */
static inline void
evl_os_source_forget_fd (gpointer tag)
{
}

/* What GLib's last poll found on a fd added with evl_os_source_add_fd(). */
static inline GIOCondition
evl_os_source_query_fd (GSource  *source,
                        gpointer  tag)
{
  return g_source_query_unix_fd (source, tag);
}

G_END_DECLS
