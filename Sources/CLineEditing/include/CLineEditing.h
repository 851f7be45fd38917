// lcdb's line-editing glue over libedit (Debian's libedit-dev).
//
// libedit's el_set and history are variadic, and stdin/stdout/stderr are C
// globals Swift 6 rejects, so each use is wrapped in a plain C function here.
// The state these functions share (the prompt, the Ctrl-C flag and its
// self-pipe) lives in CLineEditing.c, defined exactly once: as static
// variables in a header it was copied into every object file that inlined
// the wrappers, and the optimised build (which inlines across Swift files)
// ended up with two prompts and two Ctrl-C flags.
#ifndef LCDB_CLINEEDITING_H
#define LCDB_CLINEEDITING_H

#include <histedit.h>

void lcdb_set_prompt(const char *text);

/// Returns and clears the Ctrl-C flag, draining the self-pipe.
int lcdb_take_sigint(void);
/// Installs the SIGINT handler (no SA_RESTART) and unblocks SIGINT.
/// The handler must call lcdb_mark_sigint().
void lcdb_install_sigint(void (*handler)(int));
/// For batch runs: `handler` on the first SIGINT (the second ends the
/// process), SIGINT unblocked; nothing when SIGINT is ignored (returns 0).
int lcdb_install_batch_sigint(void (*handler)(int));
/// Async-signal-safe: sets the flag and wakes the reader.
void lcdb_mark_sigint(void);

EditLine *lcdb_el_init(const char *program);
// Puts the terminal in libedit's editing (raw) mode now, before el_gets
// prints the prompt (see CLineEditing.c).
void lcdb_el_raw_mode(EditLine *el);
void lcdb_el_set_history(EditLine *el, History *hist);
void lcdb_el_bind_completion(EditLine *el, unsigned char (*function)(EditLine *, int));
void lcdb_el_source_defaults(EditLine *el);

History *lcdb_history_init(int size);
void lcdb_history_enter(History *hist, const char *line);
int lcdb_history_load(History *hist, const char *path);
int lcdb_history_save(History *hist, const char *path);

unsigned char lcdb_cc_refresh(void);
unsigned char lcdb_cc_redisplay(void);
unsigned char lcdb_cc_error(void);

#endif
