/* evl-types.h: shared type declarations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include <glib-object.h>
#include <gio/gio.h>

#include "evl-version-macros.h"

G_BEGIN_DECLS

typedef struct _EvlHandle EvlHandle;
typedef struct _EvlLoop EvlLoop;
typedef struct _EvlFuture EvlFuture;
typedef struct _EvlSelector EvlSelector;
typedef struct _EvlLoopPolicy EvlLoopPolicy;

/**
 * EvlCallback:
 * @user_data: (closure): the data passed when the callback was scheduled
 *
 * A callback run by an [class@Evl.Loop].
 */
typedef void (*EvlCallback) (gpointer user_data);

/**
 * EvlExceptionHandler:
 * @loop: the loop that reports the error
 * @error: (nullable): the error, if any
 * @message: (nullable): a human-readable description of the context
 * @user_data: (closure): the data given to [method@Evl.Loop.set_exception_handler]
 *
 * Called for errors that have nowhere else to go, such as a future whose
 * error was never retrieved. The counterpart of asyncio's exception handler.
 */
typedef void (*EvlExceptionHandler) (EvlLoop      *loop,
                                     const GError *error,
                                     const char   *message,
                                     gpointer      user_data);

/**
 * EvlFutureCallback:
 * @future: the future that is done
 * @user_data: (closure): the data given to [method@Evl.Future.add_done_callback]
 *
 * Called through the loop (never from inside `set_result`) once a future is done.
 */
typedef void (*EvlFutureCallback) (EvlFuture *future,
                                   gpointer   user_data);

/**
 * EvlEventFlags:
 * @EVL_EVENT_NONE: no event
 * @EVL_EVENT_READ: the file descriptor is readable (or has hung up or failed)
 * @EVL_EVENT_WRITE: the file descriptor is writable (or has failed)
 *
 * The events a selector watches for and reports, as in Python's `selectors`.
 */
typedef enum /*< flags >*/
{
  EVL_EVENT_NONE  = 0,
  EVL_EVENT_READ  = 1 << 0,
  EVL_EVENT_WRITE = 1 << 1,
} EvlEventFlags;

/**
 * EvlLoopError:
 * @EVL_LOOP_ERROR_CLOSED: the loop is closed
 * @EVL_LOOP_ERROR_RUNNING: the loop is already running (in another thread,
 *   or where a nested run is not allowed)
 * @EVL_LOOP_ERROR_NO_LOOP: there is no event loop for this thread
 * @EVL_LOOP_ERROR_NOT_SUPPORTED: the operation is not supported by this
 *   loop or platform
 * @EVL_LOOP_ERROR_CANCELLED: the future or operation was cancelled
 * @EVL_LOOP_ERROR_INVALID: invalid argument or state (bad file descriptor,
 *   unknown signal, future not done, future already done)
 * @EVL_LOOP_ERROR_FAILED: any other failure
 *
 * Errors in the `EVL_LOOP_ERROR` domain.
 */
typedef enum
{
  EVL_LOOP_ERROR_CLOSED,
  EVL_LOOP_ERROR_RUNNING,
  EVL_LOOP_ERROR_NO_LOOP,
  EVL_LOOP_ERROR_NOT_SUPPORTED,
  EVL_LOOP_ERROR_CANCELLED,
  EVL_LOOP_ERROR_INVALID,
  EVL_LOOP_ERROR_FAILED,
} EvlLoopError;

/**
 * EVL_LOOP_ERROR:
 *
 * The error domain of evloop-glib's loops, futures and policies.
 */
#define EVL_LOOP_ERROR (evl_loop_error_quark ())

EVL_AVAILABLE_IN_ALL
GQuark evl_loop_error_quark (void);

G_END_DECLS
