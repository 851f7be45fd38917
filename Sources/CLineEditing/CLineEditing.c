// See CLineEditing.h: libedit wrappers and the one copy of their shared state.
#include "CLineEditing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <errno.h>
#include <unistd.h>
#include <wchar.h>
#include <locale.h>
#include <limits.h>
#include <poll.h>
#include <fcntl.h>

// The state shared by the functions below: one definition each (see the header).
// The prompt text, read by the prompt callback (libedit asks for it on every redraw).
static char lcdb_prompt_text[256] = "lcdb> ";

static char *lcdb_prompt_callback(EditLine *el) {
    (void)el;
    return lcdb_prompt_text;
}

void lcdb_set_prompt(const char *text) {
    strncpy(lcdb_prompt_text, text, sizeof lcdb_prompt_text - 1);
    lcdb_prompt_text[sizeof lcdb_prompt_text - 1] = '\0';
}

// Set from the SIGINT handler; read by the character reader below.
static volatile sig_atomic_t lcdb_sigint_flag = 0;
// Self-pipe: the handler writes a byte, the reader polls stdin and the pipe,
// so a Ctrl-C wakes the reader whichever thread the signal was delivered to.
static int lcdb_sigint_pipe[2] = {-1, -1};

int lcdb_take_sigint(void) {
    int value = lcdb_sigint_flag;
    lcdb_sigint_flag = 0;
    if (lcdb_sigint_pipe[0] >= 0) {
        char drain[64];
        while (read(lcdb_sigint_pipe[0], drain, sizeof drain) > 0) {}
    }
    return value;
}

void lcdb_mark_sigint(void) {
    lcdb_sigint_flag = 1;
    if (lcdb_sigint_pipe[1] >= 0) {
        char byte = 1;
        ssize_t ignored = write(lcdb_sigint_pipe[1], &byte, 1);
        (void)ignored;
    }
}

// Installs a SIGINT handler without SA_RESTART, so a blocked read returns EINTR.
// The handler must call lcdb_mark_sigint().
void lcdb_install_sigint(void (*handler)(int)) {
    if (lcdb_sigint_pipe[0] < 0 && pipe(lcdb_sigint_pipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(lcdb_sigint_pipe[i], F_SETFL, fcntl(lcdb_sigint_pipe[i], F_GETFL) | O_NONBLOCK);
            fcntl(lcdb_sigint_pipe[i], F_SETFD, FD_CLOEXEC);
        }
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(SIGINT, &action, NULL);
    // A parent may have left SIGINT blocked (the mask is inherited across exec).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

// For batch runs: installs `handler` for SIGINT (with SA_RESETHAND, so a
// second Ctrl-C ends the process) and unblocks SIGINT, unless SIGINT is
// ignored (a background job of a non-interactive shell), which stays so.
// Returns 0 when it left SIGINT ignored.
int lcdb_install_batch_sigint(void (*handler)(int)) {
    struct sigaction previous;
    if (sigaction(SIGINT, NULL, &previous) == 0 && previous.sa_handler == SIG_IGN) return 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return 1;
}

// Reads one character for libedit, decoding UTF-8. A Ctrl-C while waiting
// ends el_gets with an error (-1), which the shell turns into "line abandoned".
static int lcdb_getc(EditLine *el, wchar_t *out) {
    (void)el;
    mbstate_t state;
    memset(&state, 0, sizeof state);
    char bytes[MB_LEN_MAX];
    size_t count = 0;
    for (;;) {
        struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {lcdb_sigint_pipe[0], POLLIN, 0}};
        int ready = poll(fds, lcdb_sigint_pipe[0] >= 0 ? 2 : 1, -1);
        if (ready < 0 && errno != EINTR) return -1;
        if (lcdb_sigint_flag) { *out = 0; return -1; }
        if (ready <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char byte;
        ssize_t n = read(STDIN_FILENO, &byte, 1);
        if (n == 1) {
            if (count < sizeof bytes) bytes[count++] = byte;
            wchar_t wc;
            mbstate_t probe = state;
            size_t used = mbrtowc(&wc, bytes, count, &probe);
            if (used == (size_t)-2) continue;      // incomplete sequence: read more
            if (used == (size_t)-1) { *out = (unsigned char)bytes[0]; return 1; } // invalid: pass the byte
            *out = wc;
            return 1;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return -1;
    }
}

// Ctrl-C typed at the prompt (libedit turns ISIG off while editing, so it is
// a key there, not a signal): empty the line, mark it abandoned, end el_gets.
static unsigned char lcdb_abandon_line(EditLine *el, int ch) {
    (void)ch;
    const LineInfo *line = el_line(el);
    el_cursor(el, (int)(line->lastchar - line->cursor));
    el_deletestr(el, (int)(line->lastchar - line->buffer));
    lcdb_sigint_flag = 1;
    return CC_NEWLINE;
}

EditLine *lcdb_el_init(const char *program) {
    setlocale(LC_CTYPE, "");
    EditLine *el = el_init(program, stdin, stdout, stderr);
    if (el == NULL) return NULL;
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, lcdb_prompt_callback);
    el_set(el, EL_GETCFN, lcdb_getc);
    el_set(el, EL_SIGNAL, 0);
    el_set(el, EL_ADDFN, "lcdb-abandon-line", "Abandon the line (Ctrl-C)", lcdb_abandon_line);
    el_set(el, EL_BIND, "^C", "lcdb-abandon-line", NULL);
    return el;
}

// Debian's libedit prints the prompt first and switches the terminal to raw
// mode only when it reads the first key (its typeahead check is compiled out
// on glibc). A key typed in between reaches a canonical terminal: Ctrl-D
// there is the line discipline's end-of-file, swallowed, and the shell then
// ignored Ctrl-D at the prompt (seen after a long interrupted statement on a
// loaded machine). Raw mode before the prompt closes that window.
void lcdb_el_raw_mode(EditLine *el) {
    el_set(el, EL_PREP_TERM, 1);
}

void lcdb_el_set_history(EditLine *el, History *hist) {
    el_set(el, EL_HIST, history, hist);
}

// Binds Tab to a completion function.
void lcdb_el_bind_completion(EditLine *el, unsigned char (*function)(EditLine *, int)) {
    el_set(el, EL_ADDFN, "lcdb-complete", "Complete the word before the cursor", function);
    el_set(el, EL_BIND, "^I", "lcdb-complete", NULL);
}

// Reads ~/.editrc-style settings (user key bindings), as other libedit programs do.
void lcdb_el_source_defaults(EditLine *el) {
    el_source(el, NULL);
}

History *lcdb_history_init(int size) {
    History *hist = history_init();
    if (hist == NULL) return NULL;
    HistEvent event;
    history(hist, &event, H_SETSIZE, size);
    history(hist, &event, H_SETUNIQUE, 1);
    return hist;
}

void lcdb_history_enter(History *hist, const char *line) {
    HistEvent event;
    history(hist, &event, H_ENTER, line);
}

int lcdb_history_load(History *hist, const char *path) {
    HistEvent event;
    return history(hist, &event, H_LOAD, path);
}

int lcdb_history_save(History *hist, const char *path) {
    HistEvent event;
    return history(hist, &event, H_SAVE, path);
}

// Completion results: CC_REFRESH / CC_REDISPLAY as unsigned char for Swift.
unsigned char lcdb_cc_refresh(void) { return CC_REFRESH; }
unsigned char lcdb_cc_redisplay(void) { return CC_REDISPLAY; }
unsigned char lcdb_cc_error(void) { return CC_ERROR; }
