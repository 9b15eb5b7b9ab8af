/* tsan-glib.c: tell ThreadSanitizer about GLib's synchronization
 *
 * Linked into the test programs of a -Db_sanitize=thread build only.
 *
 * GLib is not built with ThreadSanitizer, and its GMutex and GCond are bare
 * futexes on Linux, not pthread mutexes that TSan intercepts: every access
 * the library protects with a GMutex (the call_soon_threadsafe queue, the
 * signal table, the executor's pool) would be reported as a race. The test
 * programs define the GLib functions the library (and GIO) call through the
 * PLT, call the real ones (dlsym RTLD_NEXT) and add the happens-before edges
 * they stand for with TSan's annotation API:
 *
 *   GMutex, GRecMutex, GRWLock    acquire after lock, release before unlock
 *   GCond                         waiting releases and re-acquires the mutex
 *   g_once_init_enter/leave       leave releases, a done enter acquires
 *   GAsyncQueue                   push releases, pop acquires
 *   GThreadPool                   push releases the item, the worker acquires
 *                                 it before the pool's function runs
 *
 * Calls inside GLib itself do not go through the PLT (GLib binds its own
 * symbols): what GLib synchronizes internally (GMainContext, GTask) stays
 * invisible, which tests/tsan.supp covers, narrowly.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <glib.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

/* The real @fn, looked up on first use (by whichever threads get there
 * first: the pointer is accessed atomically); @name is its symbol. */
#define REAL(fn, name)                                                     \
  static __typeof__ (fn) *real_slot_ = NULL;                               \
  __typeof__ (fn) *real_ = __atomic_load_n (&real_slot_, __ATOMIC_ACQUIRE); \
  if (G_UNLIKELY (real_ == NULL))                                          \
    {                                                                      \
      real_ = (__typeof__ (fn) *) dlsym (RTLD_NEXT, name);                 \
      __atomic_store_n (&real_slot_, real_, __ATOMIC_RELEASE);             \
    }                                                                      \
  g_assert (real_ != NULL)

/* GMutex */

void
g_mutex_lock (GMutex *mutex)
{
  REAL (g_mutex_lock, "g_mutex_lock");
  real_ (mutex);
  __tsan_acquire (mutex);
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (g_mutex_unlock, "g_mutex_unlock");
  __tsan_release (mutex);
  real_ (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  gboolean locked;

  REAL (g_mutex_trylock, "g_mutex_trylock");
  locked = real_ (mutex);
  if (locked)
    __tsan_acquire (mutex);
  return locked;
}

/* GRecMutex */

void
g_rec_mutex_lock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_lock, "g_rec_mutex_lock");
  real_ (mutex);
  __tsan_acquire (mutex);
}

void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_unlock, "g_rec_mutex_unlock");
  __tsan_release (mutex);
  real_ (mutex);
}

gboolean
g_rec_mutex_trylock (GRecMutex *mutex)
{
  gboolean locked;

  REAL (g_rec_mutex_trylock, "g_rec_mutex_trylock");
  locked = real_ (mutex);
  if (locked)
    __tsan_acquire (mutex);
  return locked;
}

/* GRWLock */

void
g_rw_lock_writer_lock (GRWLock *lock)
{
  REAL (g_rw_lock_writer_lock, "g_rw_lock_writer_lock");
  real_ (lock);
  __tsan_acquire (lock);
}

void
g_rw_lock_writer_unlock (GRWLock *lock)
{
  REAL (g_rw_lock_writer_unlock, "g_rw_lock_writer_unlock");
  __tsan_release (lock);
  real_ (lock);
}

void
g_rw_lock_reader_lock (GRWLock *lock)
{
  REAL (g_rw_lock_reader_lock, "g_rw_lock_reader_lock");
  real_ (lock);
  __tsan_acquire (lock);
}

void
g_rw_lock_reader_unlock (GRWLock *lock)
{
  REAL (g_rw_lock_reader_unlock, "g_rw_lock_reader_unlock");
  __tsan_release (lock);
  real_ (lock);
}

/* GCond */

void
g_cond_wait (GCond  *cond,
             GMutex *mutex)
{
  REAL (g_cond_wait, "g_cond_wait");
  __tsan_release (mutex);
  real_ (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond  *cond,
                   GMutex *mutex,
                   gint64  end_time)
{
  gboolean signalled;

  REAL (g_cond_wait_until, "g_cond_wait_until");
  __tsan_release (mutex);
  signalled = real_ (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}

/* g_once_init_enter()/leave(): the macros read the location with an
 * (instrumented) atomic load; the functions are GLib's. */

gboolean
(g_once_init_enter) (volatile void *location)
{
  gboolean enter;

  REAL ((g_once_init_enter), "g_once_init_enter");
  enter = real_ (location);
  if (!enter)
    __tsan_acquire ((void *) location);
  return enter;
}

void
(g_once_init_leave) (volatile void *location,
                     gsize          result)
{
  REAL ((g_once_init_leave), "g_once_init_leave");
  __tsan_release ((void *) location);
  real_ (location, result);
}

/* GAsyncQueue */

void
g_async_queue_push (GAsyncQueue *queue,
                    gpointer     data)
{
  REAL (g_async_queue_push, "g_async_queue_push");
  __tsan_release (queue);
  real_ (queue, data);
}

gpointer
g_async_queue_pop (GAsyncQueue *queue)
{
  gpointer data;

  REAL (g_async_queue_pop, "g_async_queue_pop");
  data = real_ (queue);
  __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_try_pop (GAsyncQueue *queue)
{
  gpointer data;

  REAL (g_async_queue_try_pop, "g_async_queue_try_pop");
  data = real_ (queue);
  __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_timeout_pop (GAsyncQueue *queue,
                           guint64      timeout)
{
  gpointer data;

  REAL (g_async_queue_timeout_pop, "g_async_queue_timeout_pop");
  data = real_ (queue, timeout);
  __tsan_acquire (queue);
  return data;
}

/* GThreadPool: the pool's function is wrapped so that the worker
 * acquires what push() released for the item. */

typedef struct
{
  GFunc    func;
  gpointer user_data;
} PoolFunc;

static void
pool_trampoline (gpointer data,
                 gpointer user_data)
{
  PoolFunc *pf = user_data;

  /* The wrapper was filled by the thread that made the pool, which may not
   * be the one whose push() started this worker (GIO's GTask pool is made
   * by the first thread that runs a task). */
  __tsan_acquire (pf);
  __tsan_acquire (data);
  pf->func (data, pf->user_data);
}

GThreadPool *
g_thread_pool_new (GFunc     func,
                   gpointer  user_data,
                   gint      max_threads,
                   gboolean  exclusive,
                   GError  **error)
{
  /* Never freed: a pool outlives its last use in the tests (GIO's are
   * process-wide). */
  PoolFunc *pf = g_new (PoolFunc, 1);

  REAL (g_thread_pool_new, "g_thread_pool_new");
  pf->func = func;
  pf->user_data = user_data;
  __tsan_release (pf);
  return real_ (pool_trampoline, pf, max_threads, exclusive, error);
}

GThreadPool *
g_thread_pool_new_full (GFunc           func,
                        gpointer        user_data,
                        GDestroyNotify  item_free_func,
                        gint            max_threads,
                        gboolean        exclusive,
                        GError        **error)
{
  PoolFunc *pf = g_new (PoolFunc, 1);

  REAL (g_thread_pool_new_full, "g_thread_pool_new_full");
  pf->func = func;
  pf->user_data = user_data;
  __tsan_release (pf);
  return real_ (pool_trampoline, pf, item_free_func, max_threads, exclusive, error);
}

gboolean
g_thread_pool_push (GThreadPool  *pool,
                    gpointer      data,
                    GError      **error)
{
  REAL (g_thread_pool_push, "g_thread_pool_push");
  __tsan_release (data);
  return real_ (pool, data, error);
}
