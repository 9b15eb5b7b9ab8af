/* evloop-glib.h: the single public include of evloop-glib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define EVL_INSIDE
# include "evl-version-macros.h"
# include "evl-version.h"
# include "evl-types.h"
# include "evl-enums.h"
# include "evl-handle.h"
# include "evl-loop.h"
# include "evl-future.h"
# include "evl-loop-executor.h"
# include "evl-loop-resolve.h"
# include "evl-loop-wait-signal.h"
# include "evl-selector.h"
# include "evl-epoll-selector.h"
# include "evl-poll-selector.h"
# include "evl-select-selector.h"
# include "evl-selector-loop.h"
# include "evl-proactor-loop.h"
# include "evl-loop-policy.h"
# include "evl-default-loop-policy.h"
# include "evl-protocol.h"
# include "evl-transport.h"
# include "evl-server.h"
# include "evl-subprocess-protocol.h"
# include "evl-subprocess-transport.h"
# include "evl-loop-net.h"
# include "evl-datagram-protocol.h"
# include "evl-datagram-transport.h"
#undef EVL_INSIDE
