/* tracing.c - turning tracing on and off (see tracing.h).
 *
 * The hooks are installed while `tracing` is still 0, so that the tracer's
 * tables exist before any wrapper can record into them, and removed after
 * it is 0 again and before the tables go, so that no wrapper records into
 * freed tables. A wrapper that runs while `tracing` is 0 passes the call
 * straight through.
 */
#include "tracing.h"

#include "hooks.h"
#include "native_hooks.h"
#include "track_api.h"
#include "tracer.h"

int hlpy_tracing_start(int nframe, uint64_t sample_rate, int sums, int native) {
    if (hlpy_tracer_is_tracing())
        return 0;
    if (hlpy_tracer_prepare(nframe, sample_rate, sums, native == HLPY_NATIVE_WITH_FRAMES) < 0)
        return -1;
    hlpy_hooks_install(HLPY_HOOK_USER_TRACER);
    /* Blocks extensions report (NumPy's arrays): from the first start on,
     * for good. A slot that could not be patched is counted
     * (get_tracer_counters: redirect_failed); tracing goes on. */
    if (hlpy_track_api_install() < 0) {
        /* counted */
    }
    /* Exact tracing follows objects made in reused blocks, as tracemalloc
     * does; sampling does not: the callback on every object created and
     * destroyed was its whole cost on 3.14 (a float loop: 1.04x without it,
     * 1.45x with it), and a sampled block keeps the line that made it, as on
     * 3.11 and 3.12. */
    if (sample_rate == 0)
        hlpy_hooks_watch_new_objects();
    hlpy_tracer_begin();
    if (native && hlpy_native_hooks_on() < 0) {
        /* counted (get_tracer_counters: redirect_failed); the rest is traced */
    }
    return 0;
}

void hlpy_tracing_stop(void) {
    if (!hlpy_tracer_is_tracing())
        return;
    hlpy_native_hooks_off();
    hlpy_tracer_halt();
    hlpy_hooks_uninstall(HLPY_HOOK_USER_TRACER);
    hlpy_hooks_unwatch_new_objects();
    hlpy_tracer_release(); /* last: it may run Python code */
}

void hlpy_tracing_clear(void) {
    if (hlpy_tracer_clear() < 0)
        hlpy_tracing_stop();
}
